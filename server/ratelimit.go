// SPDX-License-Identifier: Apache-2.0

package server

import (
	"context"
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/tailops/tailops/auth"
)

// Rate limits per caller. Every tool call consumes one token from its
// caller's default bucket and, when the tool's scope has an override, one
// from the caller's bucket of that scope too; a call either bucket cannot
// pay for is refused and consumes from neither. Callers are keyed by
// their authenticated identity (rateKey), never by anything a request
// says of itself.

// Rate limit bounds.
const (
	// DefaultMaxRateCallers is how many callers' buckets are kept when
	// RateLimits.MaxCallers is 0.
	DefaultMaxRateCallers = 10000
	// maxRateNumber is the largest count or burst ParseRate accepts.
	maxRateNumber = 1_000_000
)

// Rate is a token-bucket limit: Events per Per on average, at most Burst
// at once. The zero Rate means no limit.
type Rate struct {
	Events int
	Per    time.Duration
	Burst  int
}

// ParseRate parses a limit: "N/s", "N/m" or "N/h", optionally followed by
// ",burst=B" (B defaults to N); "off" and "" are the zero Rate (no limit).
// N and B are whole numbers from 1 to 1000000.
func ParseRate(s string) (Rate, error) {
	if s == "" || s == "off" {
		return Rate{}, nil
	}
	spec, burst, hasBurst := strings.Cut(s, ",")
	count, unit, ok := strings.Cut(spec, "/")
	if !ok {
		return Rate{}, fmt.Errorf("rate limit %q: want N/s, N/m or N/h, optionally with ,burst=B (or off)", s)
	}
	n, err := rateNumber(count)
	if err != nil {
		return Rate{}, fmt.Errorf("rate limit %q: the count: %w", s, err)
	}
	r := Rate{Events: n, Burst: n}
	switch unit {
	case "s":
		r.Per = time.Second
	case "m":
		r.Per = time.Minute
	case "h":
		r.Per = time.Hour
	default:
		return Rate{}, fmt.Errorf("rate limit %q: unit %q: want s, m or h", s, unit)
	}
	if hasBurst {
		b, ok := strings.CutPrefix(burst, "burst=")
		if !ok {
			return Rate{}, fmt.Errorf("rate limit %q: after the comma, want burst=B", s)
		}
		if r.Burst, err = rateNumber(b); err != nil {
			return Rate{}, fmt.Errorf("rate limit %q: the burst: %w", s, err)
		}
	}
	return r, nil
}

// rateNumber parses a count or burst: decimal digits only, 1 to
// maxRateNumber.
func rateNumber(s string) (int, error) {
	if s == "" || strings.Trim(s, "0123456789") != "" || len(s) > 7 {
		return 0, fmt.Errorf("%q is not a whole number from 1 to %d", s, maxRateNumber)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxRateNumber {
		return 0, fmt.Errorf("%q is not a whole number from 1 to %d", s, maxRateNumber)
	}
	return n, nil
}

// ParseScopeRates parses the per-scope limits of the config file (scope
// name to ParseRate syntax), refusing unknown scopes.
func ParseScopeRates(m map[string]string) (map[auth.Scope]Rate, error) {
	out := map[auth.Scope]Rate{}
	for _, name := range slices.Sorted(maps.Keys(m)) {
		sc := auth.Scope(name)
		if !sc.Valid() {
			return nil, fmt.Errorf("unknown scope %q", name)
		}
		r, err := ParseRate(m[name])
		if err != nil {
			return nil, fmt.Errorf("scope %s: %w", name, err)
		}
		if !r.Off() {
			out[sc] = r
		}
	}
	return out, nil
}

// String is r in ParseRate's syntax.
func (r Rate) String() string {
	if r.Off() {
		return "off"
	}
	unit := map[time.Duration]string{time.Second: "s", time.Minute: "m", time.Hour: "h"}[r.Per]
	if unit == "" {
		unit = r.Per.String()
	}
	return fmt.Sprintf("%d/%s,burst=%d", r.Events, unit, r.Burst)
}

// Off reports whether r is no limit.
func (r Rate) Off() bool { return r.Events == 0 }

// limit is r as rate.Limiter takes it.
func (r Rate) limit() rate.Limit { return rate.Limit(float64(r.Events) / r.Per.Seconds()) }

// refill is how long an empty bucket of r takes to fill: a bucket idle that
// long is the same as a new one.
func (r Rate) refill() time.Duration {
	if r.Off() {
		return 0
	}
	return time.Duration(math.Ceil(float64(r.Burst) / float64(r.limit()) * float64(time.Second)))
}

// RateLimits are the limits on each caller's tool calls. The zero value
// limits nothing.
type RateLimits struct {
	// Default is the limit on all of a caller's tool calls; zero: none.
	Default Rate
	// Scopes are further limits on the calls of tools that require a
	// scope, on top of Default.
	Scopes map[auth.Scope]Rate
	// MaxCallers bounds how many callers' buckets are kept; 0 means
	// DefaultMaxRateCallers. Past it, the least recently used is dropped.
	MaxCallers int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// limiters holds each caller's buckets. A caller's buckets are dropped
// once idle long enough to be full again (so dropping them gives nothing
// away), when the map is swept; the map never holds more than max
// callers.
type limiters struct {
	limits RateLimits
	now    func() time.Time
	max    int
	idle   time.Duration // how long the slowest bucket takes to fill

	mu        sync.Mutex
	callers   map[string]*callerBuckets
	lastSweep time.Time
}

// callerBuckets are one caller's buckets and when it last called.
type callerBuckets struct {
	last    time.Time
	def     *rate.Limiter
	byScope map[auth.Scope]*rate.Limiter
}

// newLimiters returns the limiters of l; nil when l limits nothing.
func newLimiters(l RateLimits) *limiters {
	if l.Default.Off() && len(l.Scopes) == 0 {
		return nil
	}
	lim := &limiters{limits: l, now: l.Now, max: l.MaxCallers, callers: map[string]*callerBuckets{}}
	if lim.now == nil {
		lim.now = time.Now
	}
	if lim.max <= 0 {
		lim.max = DefaultMaxRateCallers
	}
	lim.idle = l.Default.refill()
	for _, r := range l.Scopes {
		lim.idle = max(lim.idle, r.refill())
	}
	return lim
}

// rateKey is who c's calls are counted against: its tailnet node (by its
// stable id, which a rename does not change) for a caller with a tailnet
// grant and no token, else its token (its id; the agent for tokens
// without one, and the user for stdio). Only what authentication
// established is used.
func rateKey(c *auth.Caller) string {
	if c == nil {
		return "nobody"
	}
	if c.Method == auth.MethodTailscale && c.Tailscale != nil {
		if c.Tailscale.NodeID != "" {
			return "node " + c.Tailscale.NodeID
		}
		return "node name " + c.Tailscale.NodeName
	}
	if c.TokenID != "" {
		return "token " + c.TokenID
	}
	return "agent " + string(c.Method) + " " + c.Agent
}

// rateRefusal is a call refused by a limit.
type rateRefusal struct {
	// limit names the limit the call exceeded.
	limit string
	// retry is how long until the call would be allowed.
	retry time.Duration
}

// retryAfter is retry in whole seconds, rounded up (Retry-After).
func (r *rateRefusal) retryAfter() int { return int(math.Ceil(r.retry.Seconds())) }

// reason is the refusal in words, for the caller and the audit record.
func (r *rateRefusal) reason() string {
	return fmt.Sprintf("rate limited: this caller exceeded %s; retry in %ds", r.limit, r.retryAfter())
}

// take takes one token for a call by c of a tool requiring scope from
// each bucket that applies; nil if the call may go ahead. A refused call
// takes nothing.
func (l *limiters) take(c *auth.Caller, scope auth.Scope) *rateRefusal {
	if l == nil {
		return nil
	}
	now := l.now()
	key := rateKey(c)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	cb := l.callers[key]
	if cb == nil {
		if len(l.callers) >= l.max {
			l.dropOldest()
		}
		cb = &callerBuckets{byScope: map[auth.Scope]*rate.Limiter{}}
		if !l.limits.Default.Off() {
			cb.def = rate.NewLimiter(l.limits.Default.limit(), l.limits.Default.Burst)
		}
		l.callers[key] = cb
	}
	cb.last = now
	type held struct {
		name string
		res  *rate.Reservation
	}
	var taken []held
	if cb.def != nil {
		taken = append(taken, held{"the default limit " + l.limits.Default.String() + " (--rate-limit)", cb.def.ReserveN(now, 1)})
	}
	if r, ok := l.limits.Scopes[scope]; ok && !r.Off() {
		lim := cb.byScope[scope]
		if lim == nil {
			lim = rate.NewLimiter(r.limit(), r.Burst)
			cb.byScope[scope] = lim
		}
		taken = append(taken, held{fmt.Sprintf("the %s limit %s (rate_limits)", scope, r), lim.ReserveN(now, 1)})
	}
	var refused *rateRefusal
	for _, h := range taken {
		if d := h.res.DelayFrom(now); d > 0 && (refused == nil || d > refused.retry) {
			refused = &rateRefusal{limit: h.name, retry: d}
		}
	}
	if refused != nil {
		for _, h := range slices.Backward(taken) {
			h.res.CancelAt(now)
		}
	}
	return refused
}

// sweep drops the callers idle long enough for their buckets to be full,
// at most once per idle period (or minute, if shorter).
func (l *limiters) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < min(l.idle, time.Minute) {
		return
	}
	l.lastSweep = now
	maps.DeleteFunc(l.callers, func(_ string, cb *callerBuckets) bool { return now.Sub(cb.last) >= l.idle })
}

// dropOldest drops the least recently used caller's buckets, making room
// for a new caller when max are held. (That caller starts afresh if it
// calls again: a bound on memory is worth more than its burst.)
func (l *limiters) dropOldest() {
	var oldest string
	var at time.Time
	for k, cb := range l.callers {
		if oldest == "" || cb.last.Before(at) {
			oldest, at = k, cb.last
		}
	}
	delete(l.callers, oldest)
}

// held is how many callers' buckets are kept.
func (l *limiters) held() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.callers)
}

// rateChargedKey marks a context whose call the HTTP edge has already
// charged to its caller's buckets.
type rateChargedKey struct{}

// charged reports whether the HTTP edge has charged ctx's call.
func charged(ctx context.Context) bool { return ctx.Value(rateChargedKey{}) != nil }

// rateGate answers a tools/call over its caller's limits with 429 Too
// Many Requests and Retry-After (seconds, rounded up) before MCP
// handling, and records the refusal; a call it lets through is marked
// charged, so authorizeAndAudit does not charge it again. Calls the
// choke point refuses anyway are not charged, nor is the retry that
// answers a confirmation (see redeem).
func (s *Server) rateGate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e := envelopeFrom(r.Context())
		kind, name, ok := e.named()
		if s.limits == nil || !ok || kind != KindTool {
			next.ServeHTTP(w, r)
			return
		}
		c := auth.CallerFrom(r.Context())
		v := s.decide(c, kind, name)
		if !v.Allowed {
			next.ServeHTTP(w, r)
			return
		}
		// The retry that answers a confirmation this server asked is
		// the same call: charged once, when it was asked. (Only such a
		// retry has its arguments decoded here.)
		if e.Params.RequestState != "" {
			args := e.arguments()
			if s.fleet != nil {
				args = withoutNode(args) // the question was asked about the call without it
			}
			if ctx, answering := s.redeem(r.Context(), c, name, e.Params.RequestState, args); answering {
				next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, rateChargedKey{}, true)))
				return
			}
		}
		if refused := s.limits.take(c, v.entry.scope); refused != nil {
			s.write(r.Context(), request(kind, name, e.arguments(), c, verdict{Reason: refused.reason(), entry: v.entry}))
			w.Header().Set("Retry-After", strconv.Itoa(refused.retryAfter()))
			http.Error(w, refused.reason(), http.StatusTooManyRequests)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), rateChargedKey{}, true)))
	})
}
