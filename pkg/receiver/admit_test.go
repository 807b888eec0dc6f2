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
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

type admitHarness struct {
	t     *testing.T
	a     *admitter
	queue chan Wake
	now   int64
}

func newAdmitHarness(t *testing.T, cfg Config, queueLen int) *admitHarness {
	cfg.Ports = []uint16{9}
	cfg = cfg.WithDefaults()
	return &admitHarness{t: t, a: newAdmitter(cfg, 0), queue: make(chan Wake, queueLen), now: int64(time.Hour)}
}

func (h *admitHarness) advance(d time.Duration) { h.now += int64(d) }

func (h *admitHarness) offer(target wol.MAC, src string, pw ...byte) verdict {
	w := Wake{Packet: wol.Packet{Target: target}}
	w.PasswordLen = uint8(copy(w.Password[:], pw))
	return h.a.admit(h.now, &w, sourceKey{ip: netip.MustParseAddr(src)}, h.queue)
}

func (h *admitHarness) want(got, want verdict, what string) {
	h.t.Helper()
	if got != want {
		h.t.Fatalf("%s: verdict %d, want %d", what, got, want)
	}
}

func TestAdmitDedupe(t *testing.T) {
	h := newAdmitHarness(t, Config{DedupeWindow: 5 * time.Second}, 100)
	a, b := testMAC(1), testMAC(2)
	h.want(h.offer(a, "10.0.0.1"), verdictAccepted, "first")
	h.want(h.offer(a, "10.0.0.2"), verdictDuplicate, "same target, other source")
	h.want(h.offer(b, "10.0.0.1"), verdictAccepted, "other target")
	h.want(h.offer(a, "10.0.0.1", 1, 2, 3, 4), verdictAccepted, "same target, a password")
	h.want(h.offer(a, "10.0.0.1", 1, 2, 3, 4), verdictDuplicate, "same target and password")
	h.advance(4999 * time.Millisecond)
	h.want(h.offer(a, "10.0.0.1"), verdictDuplicate, "within the window")
	h.advance(time.Millisecond)
	h.want(h.offer(a, "10.0.0.1"), verdictAccepted, "window passed")
	h.want(h.offer(a, "10.0.0.1"), verdictDuplicate, "window restarted")
	if len(h.queue) != 4 {
		t.Fatalf("queued %d wakes, want 4", len(h.queue))
	}
}

func TestAdmitGlobalLimit(t *testing.T) {
	h := newAdmitHarness(t, Config{GlobalLimit: Limit{Rate: 2, Burst: 3}}, 100)
	for i := range 3 {
		h.want(h.offer(testMAC(i), "10.0.0."+string(rune('1'+i))), verdictAccepted, "burst")
	}
	h.want(h.offer(testMAC(10), "10.0.0.9"), verdictRateGlobal, "burst exhausted")
	h.advance(499 * time.Millisecond)
	h.want(h.offer(testMAC(10), "10.0.0.9"), verdictRateGlobal, "token not yet earned")
	h.advance(time.Millisecond)
	h.want(h.offer(testMAC(10), "10.0.0.9"), verdictAccepted, "one token earned at 2/s")
	h.want(h.offer(testMAC(11), "10.0.0.9"), verdictRateGlobal, "and spent")
}

func TestAdmitSourceLimit(t *testing.T) {
	h := newAdmitHarness(t, Config{SourceLimit: Limit{Rate: 1, Burst: 2}}, 100)
	h.want(h.offer(testMAC(1), "10.0.0.1"), verdictAccepted, "1st")
	h.want(h.offer(testMAC(2), "10.0.0.1"), verdictAccepted, "2nd")
	h.want(h.offer(testMAC(3), "10.0.0.1"), verdictRateSource, "3rd from the same source")
	h.want(h.offer(testMAC(3), "10.0.0.2"), verdictAccepted, "another source")
	h.want(h.offer(testMAC(2), "10.0.0.1"), verdictDuplicate, "duplicates do not count against the limit")
	h.advance(time.Second)
	h.want(h.offer(testMAC(4), "10.0.0.1"), verdictAccepted, "refilled")
}

// A wake refused because the queue is full leaves no trace: its retry is
// neither a duplicate nor charged twice against the limits.
func TestAdmitQueueFull(t *testing.T) {
	h := newAdmitHarness(t, Config{GlobalLimit: Limit{Rate: 0.001, Burst: 2}}, 1)
	h.want(h.offer(testMAC(1), "10.0.0.1"), verdictAccepted, "first")
	h.want(h.offer(testMAC(2), "10.0.0.1"), verdictQueueFull, "queue full")
	<-h.queue
	h.want(h.offer(testMAC(2), "10.0.0.1"), verdictAccepted, "retry after the queue drained")
	<-h.queue
	h.want(h.offer(testMAC(3), "10.0.0.1"), verdictRateGlobal, "two tokens spent, not three")
}

func TestAdmitSourceTableBound(t *testing.T) {
	h := newAdmitHarness(t, Config{MaxSources: 2, SourceLimit: Limit{Rate: 10, Burst: 1}}, 100)
	h.want(h.offer(testMAC(1), "10.0.0.1"), verdictAccepted, "source 1")
	h.want(h.offer(testMAC(2), "10.0.0.2"), verdictAccepted, "source 2")
	h.want(h.offer(testMAC(3), "10.0.0.3"), verdictRateSource, "table full of active sources")
	h.advance(50 * time.Millisecond)
	h.want(h.offer(testMAC(3), "10.0.0.3"), verdictRateSource, "sweep throttled")
	h.advance(100 * time.Millisecond) // buckets refilled after 100ms at 10/s
	h.want(h.offer(testMAC(3), "10.0.0.3"), verdictAccepted, "idle sources evicted")
	if len(h.a.sources) > 2 {
		t.Fatalf("%d sources in a table of 2", len(h.a.sources))
	}
}

func TestAdmitForgetsOldTargets(t *testing.T) {
	h := newAdmitHarness(t, Config{DedupeWindow: time.Second, GlobalLimit: Limit{Rate: 1e9, Burst: 1 << 30},
		SourceLimit: Limit{Rate: 1e9, Burst: 1 << 30}}, 10*minSeenSweep)
	for i := range minSeenSweep - 1 {
		h.offer(testMAC(i), "10.0.0.1")
	}
	h.advance(time.Second)
	h.offer(testMAC(minSeenSweep), "10.0.0.1") // reaches the sweep threshold
	if len(h.a.seen) != 1 {
		t.Fatalf("%d targets remembered after the window, want 1", len(h.a.seen))
	}
}

// Check and record are one critical section: of many concurrent offers of
// the same target exactly one is admitted.
func TestAdmitConcurrentSameTarget(t *testing.T) {
	h := newAdmitHarness(t, Config{}, 100)
	var wg sync.WaitGroup
	results := make(chan verdict, 64)
	for i := range 64 {
		wg.Go(func() {
			w := Wake{Packet: wol.Packet{Target: testMAC(1)}}
			results <- h.a.admit(h.now, &w, sourceKey{mac: testMAC(i)}, h.queue)
		})
	}
	wg.Wait()
	close(results)
	accepted := 0
	for v := range results {
		if v == verdictAccepted {
			accepted++
		}
	}
	if accepted != 1 || len(h.queue) != 1 {
		t.Fatalf("%d accepted, %d queued; want 1", accepted, len(h.queue))
	}
}
