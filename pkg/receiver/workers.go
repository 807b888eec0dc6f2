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

import (
	"context"
	"fmt"
)

func (l *Receiver) work(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case w := <-l.queue:
			l.metrics.queue.Dec()
			if w.Origin.Interface == "" && w.Origin.IfIndex > 0 {
				w.Origin.Interface = l.names.name(w.Origin.IfIndex)
			}
			l.handle(ctx, w)
		}
	}
}

func (l *Receiver) handle(ctx context.Context, w Wake) {
	defer func() {
		if p := recover(); p != nil {
			l.metrics.errors[stageHandler].Inc()
			l.log.Error(fmt.Errorf("panic: %v", p), "Wake handler panicked", "target", w.Target.String())
		}
	}()
	if err := l.handler.HandleWake(ctx, w); err != nil {
		l.metrics.errors[stageHandler].Inc()
		l.log.Error(err, "Wake handler failed", "target", w.Target.String(), "protocol", w.Origin.Protocol.String())
	}
}
