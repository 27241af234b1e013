// SPDX-License-Identifier: Apache-2.0

package server

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tailnet"
)

// Bounds on the records of requests refused before a caller is known
// (auditAuthFailure). Each such refusal was a durable record of ~440
// bytes, so one source sending them as fast as it could filled the disk
// of the audit log (about 2 GB an hour), and a full audit log refuses
// every call. Past its budget, a source's refusals are counted and
// summarised instead of recorded one by one.
const (
	// refusalRecordRate is how many refusals a second a source gets
	// recorded one by one, after its burst: far more than a
	// misconfigured client retries, far less than a flood (about 3 GB a
	// day at most per source).
	refusalRecordRate = 20
	// refusalRecordBurst is how many refusals in a row a source gets
	// recorded one by one before refusalRecordRate applies.
	refusalRecordBurst = 100
	// refusalSummaryEvery is how often the refusals not recorded one by
	// one are summarised, one record per source: soon enough to see a
	// flood while it lasts.
	refusalSummaryEvery = 10 * time.Second
	// maxRefusalSources bounds how many sources' budgets are kept, as
	// DefaultMaxRateCallers bounds the rate limits' callers; past it, new
	// sources share one budget (otherSources).
	maxRefusalSources = DefaultMaxRateCallers
	// otherSources is the source of the refusals of sources beyond
	// maxRefusalSources.
	otherSources = "other sources"
)

// refusalSummaryReason starts the reason of a summary record.
const refusalSummaryReason = "summary of refused requests not recorded one by one"

// refusalBudgets are each source's budget of refusal records and the
// refusals counted past it. The zero value is not ready: see
// newRefusalBudgets.
type refusalBudgets struct {
	max int

	mu      sync.Mutex
	sources map[string]*refusalSource
}

// refusalSource is one source's budget and its refusals not recorded
// since the last summary.
type refusalSource struct {
	budget *rate.Limiter
	seen   time.Time // the last refusal, recorded or not

	unrecorded  int
	first, last time.Time    // of the unrecorded refusals
	reason      string       // the last unrecorded refusal's
	caller      *auth.Caller // the last unrecorded refusal's
}

// newRefusalBudgets returns budgets for at most max sources (and
// otherSources).
func newRefusalBudgets(max int) *refusalBudgets {
	return &refusalBudgets{max: max, sources: map[string]*refusalSource{}}
}

// refusalKey is the source of a refused request: the tailnet node (by its
// stable id) when peer is known, else the remote IP without the port.
func refusalKey(remoteAddr string, peer *tailnet.Peer) string {
	if peer != nil && peer.Identity.NodeID != "" {
		return "node " + peer.Identity.NodeID
	}
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return "ip " + host
	}
	return "ip " + remoteAddr
}

// admit reports whether a refusal from key, by c for reason, gets a
// record of its own; if not, it is counted for the next summary.
func (b *refusalBudgets) admit(key string, c *auth.Caller, reason string, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	src := b.sources[key]
	if src == nil {
		if len(b.sources) >= b.max {
			key, c = otherSources, &auth.Caller{Agent: "unauthenticated"}
		}
		if src = b.sources[key]; src == nil {
			src = &refusalSource{budget: rate.NewLimiter(refusalRecordRate, refusalRecordBurst)}
			b.sources[key] = src
		}
	}
	src.seen = now
	if src.budget.AllowN(now, 1) {
		return true
	}
	if src.unrecorded == 0 {
		src.first = now
	}
	src.unrecorded++
	src.last, src.reason, src.caller = now, reason, c
	return false
}

// summaries returns a record per source of its refusals counted since
// the last call, and forgets the sources whose budget is full again.
func (b *refusalBudgets) summaries(now time.Time) []*audit.Record {
	b.mu.Lock()
	defer b.mu.Unlock()
	var recs []*audit.Record
	for key, src := range b.sources {
		if src.unrecorded > 0 {
			recs = append(recs, src.summary(key))
			src.unrecorded = 0
		}
	}
	full := refusalRecordBurst * time.Second / refusalRecordRate // an idle budget refills in this long
	maps.DeleteFunc(b.sources, func(_ string, src *refusalSource) bool { return now.Sub(src.seen) >= full })
	return recs
}

// summary is the record of src's unrecorded refusals, as source key.
func (src *refusalSource) summary(key string) *audit.Record {
	reason := fmt.Sprintf("%s: %d refused requests from %s between %s and %s (past %d a second after a burst of %d); the last: %s",
		refusalSummaryReason, src.unrecorded, key, src.first.UTC().Format(time.RFC3339Nano), src.last.UTC().Format(time.RFC3339Nano),
		refusalRecordRate, refusalRecordBurst, src.reason)
	rec := refusal(audit.EventAuthDenied, src.caller, reason)
	rec.Detail = map[string]any{"summary": true, "source": key, "unrecorded": src.unrecorded,
		"first": src.first.UTC().Format(time.RFC3339Nano), "last": src.last.UTC().Format(time.RFC3339Nano), "last_reason": src.reason}
	return rec
}

// auditAuthFailure records a refused HTTP request, within its source's
// budget (refusalBudgets). Only the request's shape is recorded, never
// its Authorization header; peer, when the tailnet knows the caller, adds
// its identity.
func (s *Server) auditAuthFailure(r *http.Request, reason string, peer *tailnet.Peer) {
	c := &auth.Caller{Agent: "unauthenticated", RemoteAddr: r.RemoteAddr}
	if peer != nil {
		id := peer.Identity
		c.Agent, c.Tailscale = peer.Name(), &id
	}
	if s.refusals.admit(refusalKey(r.RemoteAddr, peer), c, reason, time.Now()) {
		s.write(r.Context(), refusal(audit.EventAuthDenied, c, reason))
	}
}

// flushRefusals writes the summaries of the refusals counted so far.
func (s *Server) flushRefusals(ctx context.Context) {
	for _, rec := range s.refusals.summaries(time.Now()) {
		s.write(ctx, rec)
	}
}

// summariseRefusals flushes the refusals counted every interval until ctx
// is done (Stop writes the rest).
func (s *Server) summariseRefusals(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.flushRefusals(context.WithoutCancel(ctx))
		}
	}
}
