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
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gpillon/kubevirt-wol/pkg/wol"
)

// verdict is the outcome of the admission step.
type verdict uint8

const (
	verdictAccepted verdict = iota
	verdictDuplicate
	verdictRateSource
	verdictRateGlobal
	verdictQueueFull
)

// dedupeKey identifies "the same wake": the target and the password, packed
// into 16 bytes (cheap to hash). The password is part of the key so that a
// packet with a wrong SecureOn password cannot suppress the right one sent a
// moment later.
type dedupeKey struct{ hi, lo uint64 }

func keyOf(p *wol.Packet) dedupeKey {
	t, pw := p.Target, p.Password
	return dedupeKey{
		hi: uint64(t[0])<<56 | uint64(t[1])<<48 | uint64(t[2])<<40 | uint64(t[3])<<32 |
			uint64(t[4])<<24 | uint64(t[5])<<16 | uint64(p.PasswordLen)<<8 | uint64(pw[0]),
		lo: uint64(pw[1])<<32 | uint64(pw[2])<<24 | uint64(pw[3])<<16 | uint64(pw[4])<<8 | uint64(pw[5]),
	}
}

// sourceKey identifies a sender: its IP address (UDP, port ignored) or its
// MAC address (raw frames).
type sourceKey struct {
	ip  netip.Addr
	mac wol.MAC
}

// tokenBucket is a rate limiter state; the owner holds the lock.
type tokenBucket struct {
	tokens float64
	last   int64 // monotonic nanoseconds
}

func newBucket(now int64, l Limit) tokenBucket {
	return tokenBucket{tokens: float64(l.Burst), last: now}
}

// refill adds the tokens earned since the last call, up to the burst.
func (b *tokenBucket) refill(now int64, l Limit) {
	if now > b.last {
		b.tokens = min(float64(l.Burst), b.tokens+float64(now-b.last)*l.Rate/float64(time.Second))
		b.last = now
	}
}

// sourceSweepInterval throttles scans of a full source table.
const sourceSweepInterval = int64(100 * time.Millisecond)

// admitter performs duplicate suppression, rate limiting and queueing as a
// single critical section: of two packets for the same target arriving on
// two sockets at once, exactly one is queued, and a packet refused by a rate
// limit or a full queue leaves no trace, so a retry is not taken for a
// duplicate.
type admitter struct {
	window      int64
	sourceLimit Limit
	globalLimit Limit
	maxSources  int
	queued      prometheus.Gauge // queue length, may be nil

	mu              sync.Mutex
	seen            map[dedupeKey]int64
	nextSeenSweep   int
	global          tokenBucket
	sources         map[sourceKey]tokenBucket
	lastSourceSweep int64
}

const minSeenSweep = 1024

func newAdmitter(cfg Config, now int64) *admitter {
	return &admitter{
		window:        int64(cfg.DedupeWindow),
		sourceLimit:   cfg.SourceLimit,
		globalLimit:   cfg.GlobalLimit,
		maxSources:    cfg.MaxSources,
		seen:          make(map[dedupeKey]int64),
		nextSeenSweep: minSeenSweep,
		global:        newBucket(now, cfg.GlobalLimit),
		sources:       make(map[sourceKey]tokenBucket),
	}
}

// admit decides the fate of w, received at now (monotonic nanoseconds) from
// src, and on success puts it into queue without blocking.
func (a *admitter) admit(now int64, w *Wake, src sourceKey, queue chan<- Wake) verdict {
	key := keyOf(&w.Packet)

	a.mu.Lock()
	defer a.mu.Unlock()

	if t, ok := a.seen[key]; ok && now-t < a.window {
		return verdictDuplicate
	}
	a.global.refill(now, a.globalLimit)
	if a.global.tokens < 1 {
		return verdictRateGlobal
	}
	sb, known := a.sources[src]
	if known {
		sb.refill(now, a.sourceLimit)
	} else {
		if len(a.sources) >= a.maxSources && !a.sweepSources(now) {
			return verdictRateSource
		}
		sb = newBucket(now, a.sourceLimit)
	}
	if sb.tokens < 1 {
		a.sources[src] = sb
		return verdictRateSource
	}
	if a.queued != nil {
		a.queued.Inc() // before the send, so that a worker's Dec never comes first
	}
	select {
	case queue <- *w:
	default:
		if a.queued != nil {
			a.queued.Dec()
		}
		if known {
			a.sources[src] = sb
		}
		return verdictQueueFull
	}
	a.global.tokens--
	sb.tokens--
	a.sources[src] = sb
	a.seen[key] = now
	if len(a.seen) >= a.nextSeenSweep {
		a.sweepSeen(now)
	}
	return verdictAccepted
}

// sweepSeen forgets targets whose window has passed.
func (a *admitter) sweepSeen(now int64) {
	for k, t := range a.seen {
		if now-t >= a.window {
			delete(a.seen, k)
		}
	}
	a.nextSeenSweep = max(2*len(a.seen), minSeenSweep)
}

// sweepSources evicts sources whose bucket has refilled completely (they are
// indistinguishable from a new source) and reports whether there is room.
// Scans are throttled so that a full table of active sources cannot make
// every packet pay for one.
func (a *admitter) sweepSources(now int64) bool {
	if now-a.lastSourceSweep < sourceSweepInterval && a.lastSourceSweep != 0 {
		return false
	}
	a.lastSourceSweep = now
	for k, b := range a.sources {
		b.refill(now, a.sourceLimit)
		if b.tokens >= float64(a.sourceLimit.Burst) {
			delete(a.sources, k)
		}
	}
	return len(a.sources) < a.maxSources
}
