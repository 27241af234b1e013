// SPDX-License-Identifier: Apache-2.0

package server

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tools"
)

// DefaultShutdownTimeout is how long calls in flight may run at shutdown
// before they are cancelled. It lets an update_container with its default
// timeout finish or roll back by itself: the old container's stop (10 s by
// default), 60 s for the new one to become healthy, and its rollback.
const DefaultShutdownTimeout = 90 * time.Second

// CleanupGrace is how long calls cancelled at shutdown get to return: the
// cleanup tools promise to bound (update_container's rollback), and a
// margin for writing their result records.
const CleanupGrace = tools.CleanupTimeout + 5*time.Second

// interrupted is the error of a call that had not returned when the server
// stopped.
const interrupted = "interrupted: the server stopped before the call returned, even after it was cancelled; what it did may be incomplete"

// calls tracks the tool calls in flight, so that shutdown can stop taking
// new ones, wait for those running, cancel them, and record the outcome of
// any that never return. The zero value is ready.
type calls struct {
	mu      sync.Mutex
	closing bool
	running map[*call]struct{}
	changed chan struct{} // closed (and replaced) when a call ends
	stop    chan struct{} // closed when shutdown cancels the calls; see tools.WithShutdown
	stats   drainStats
}

// call is one tool call in flight.
type call struct {
	cancel context.CancelCauseFunc
	// caller made the call; a call whose token is revoked while it
	// runs is stopped (stopRevoked).
	caller  *auth.Caller
	revoked bool // stopRevoked cancelled it
	// rec is the call's audit record once it was allowed to run; its
	// outcome is added to it by whoever claims it.
	rec     *audit.Record
	start   time.Time
	claimed bool
}

// drainStats counts what shutdown did with the calls in flight.
type drainStats struct {
	inFlight, cancelled, interrupted int
}

func (cs *calls) init() {
	if cs.running == nil {
		cs.running = map[*call]struct{}{}
		cs.changed = make(chan struct{})
		cs.stop = make(chan struct{})
	}
}

// begin registers a call. The context it returns is cancelled when the
// call ends or shutdown cancels it, and carries the shutdown channel for
// tools. accepting is false once shutdown has begun: the call must then be
// refused (it is registered all the same, so its refusal is written before
// the audit log closes).
func (cs *calls) begin(ctx context.Context, caller *auth.Caller) (_ context.Context, c *call, accepting bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.init()
	ctx, cancel := context.WithCancelCause(ctx)
	c = &call{cancel: cancel, caller: caller}
	cs.running[c] = struct{}{}
	return tools.WithShutdown(ctx, cs.stop), c, !cs.closing
}

// allowed records that the call runs, with the record its outcome goes
// into.
func (cs *calls) allowed(c *call, rec *audit.Record, start time.Time) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	c.rec, c.start = rec, start
}

// claim reports whether the caller is the one to write the call's outcome:
// the call's own handler when it returns, or shutdown when it gave up on
// it. Only the first claim succeeds.
func (cs *calls) claim(c *call) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if c.claimed {
		return false
	}
	c.claimed = true
	return true
}

// end unregisters a call.
func (cs *calls) end(c *call) {
	c.cancel(nil)
	cs.mu.Lock()
	defer cs.mu.Unlock()
	delete(cs.running, c)
	close(cs.changed)
	cs.changed = make(chan struct{})
}

// wait waits up to d for every call to end and reports whether they did.
func (cs *calls) wait(d time.Duration) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		cs.mu.Lock()
		n, changed := len(cs.running), cs.changed
		cs.mu.Unlock()
		if n == 0 {
			return true
		}
		select {
		case <-changed:
		case <-deadline.C:
			return false
		}
	}
}

// drain is shutdown's part for tool calls: it stops taking new ones, waits
// up to timeout for those in flight, then cancels those still running
// (their context, and tools.WithShutdown's channel: update_container rolls
// back) and waits up to grace (CleanupGrace) for them. A call that still
// has not returned gets its outcome recorded now, as interrupted, so that
// no call is left in the audit log without one. Only then may the log be
// closed.
func (s *Server) drain(timeout, grace time.Duration) {
	cs := &s.calls
	cs.mu.Lock()
	cs.init()
	cs.closing = true
	n := len(cs.running)
	cs.stats.inFlight = n
	cs.mu.Unlock()
	if n > 0 {
		s.log.Info("shutting down: waiting for calls in flight", slog.Int("calls", n), slog.Duration("timeout", timeout))
	}
	if cs.wait(timeout) {
		return
	}
	cs.mu.Lock()
	n = len(cs.running)
	cs.stats.cancelled = n
	close(cs.stop)
	for c := range cs.running {
		c.cancel(nil)
	}
	cs.mu.Unlock()
	s.log.Warn("shutting down: cancelling calls still running after the shutdown timeout",
		slog.Int("calls", n), slog.Duration("grace", grace))
	if cs.wait(grace) {
		return
	}
	var left []*call
	cs.mu.Lock()
	for c := range cs.running {
		if c.rec != nil && !c.claimed {
			c.claimed = true
			left = append(left, c)
		}
	}
	cs.stats.interrupted = len(left)
	cs.mu.Unlock()
	for _, c := range left {
		rec := *c.rec
		rec.Result, rec.Error, rec.DurationNS = audit.ResultError, interrupted, time.Since(c.start).Nanoseconds()
		s.log.Error("shutting down: a call did not return", slog.String("tool", rec.Tool), slog.String("request_id", rec.RequestID))
		s.write(context.Background(), &rec)
	}
}

// Stop writes the summary of the refusals not yet summarised, then the
// server_stop record, with what shutdown did with the calls in flight:
// the last record before the audit log is closed. Call it once Serve or
// ServeStdio has returned.
func (s *Server) Stop() {
	s.flushRefusals(context.Background())
	s.calls.mu.Lock()
	st := s.calls.stats
	s.calls.mu.Unlock()
	s.write(context.Background(), lifecycle(audit.EventServerStop, fmt.Sprintf(
		"tailops stopped; calls in flight at shutdown: %d, cancelled after the shutdown timeout: %d, interrupted: %d",
		st.inFlight, st.cancelled, st.interrupted)))
}

// Start writes the server_start record; reason says what is served. A
// server that cannot write it must not serve.
func (s *Server) Start(ctx context.Context, reason string) error {
	return s.write(ctx, lifecycle(audit.EventServerStart, reason))
}
