/*
Copyright 2026 The kubevirt-wol Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package receiver

import "time"

// readFailed counts and logs a receive error, then waits with a growing
// delay so that a persistent error cannot spin. It returns false if the
// listener stops meanwhile.
func (l *Receiver) readFailed(b Binding, err error, delay *time.Duration) bool {
	l.metrics.errors[stageRead].Inc()
	l.log.Error(err, "Receiving packets failed", "protocol", b.Protocol.String(), "port", b.Port,
		"interface", b.Interface)
	*delay = min(max(2**delay, 10*time.Millisecond), time.Second)
	t := time.NewTimer(*delay)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-l.stop:
		return false
	}
}

// offer runs the admission step for a valid packet received at now; w is
// filled by a reader and copied into the queue, so no buffer is shared with
// a worker.
func (l *Receiver) offer(w *Wake, src sourceKey, now time.Time) {
	w.Origin.ReceivedAt = now
	v := l.adm.admit(int64(now.Sub(l.epoch)), w, src, l.queue)
	l.metrics.verdict(w.Origin.Protocol, v)
	if v == verdictAccepted {
		if log := l.log.V(1); log.Enabled() {
			log.Info("Wake queued", "target", w.Target.String(), "protocol", w.Origin.Protocol.String(),
				"port", w.Origin.Port, "source", w.Origin.Source.String(), "sourceMAC", w.Origin.SourceMAC.String())
		}
	}
}
