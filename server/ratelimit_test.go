// SPDX-License-Identifier: Apache-2.0

package server

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/auth"
)

func TestParseRate(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Rate
		err  string
	}{
		{"20/s", Rate{20, time.Second, 20}, ""},
		{"100/m", Rate{100, time.Minute, 100}, ""},
		{"5/h", Rate{5, time.Hour, 5}, ""},
		{"20/s,burst=40", Rate{20, time.Second, 40}, ""},
		{"1/h,burst=1", Rate{1, time.Hour, 1}, ""},
		{"off", Rate{}, ""},
		{"", Rate{}, ""},
		{"20", Rate{}, "want N/s, N/m or N/h"},
		{"20/d", Rate{}, `unit "d": want s, m or h`},
		{"20/sec", Rate{}, `unit "sec"`},
		{"0/s", Rate{}, `the count: "0" is not a whole number from 1 to 1000000`},
		{"-1/s", Rate{}, "the count"},
		{"+1/s", Rate{}, "the count"},
		{" 1/s", Rate{}, "the count"},
		{"1.5/s", Rate{}, "the count"},
		{"1000001/s", Rate{}, "the count"},
		{"99999999999999999999/s", Rate{}, "the count"},
		{"20/s,burst=0", Rate{}, "the burst"},
		{"20/s,burst=", Rate{}, "the burst"},
		{"20/s,bursts=4", Rate{}, "want burst=B"},
		{"20/s,burst=4,burst=5", Rate{}, "the burst"},
		{"20/s, burst=4", Rate{}, "want burst=B"},
		{"OFF", Rate{}, "want N/s"},
	} {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRate(tt.in)
			switch {
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("ParseRate(%q) = %v, %v; want error containing %q", tt.in, got, err, tt.err)
			case tt.err == "" && err != nil:
				t.Fatalf("ParseRate(%q): %v", tt.in, err)
			case got != tt.want:
				t.Fatalf("ParseRate(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseScopeRates(t *testing.T) {
	got, err := ParseScopeRates(map[string]string{"admin": "1/s,burst=2", "readonly": "off"})
	if err != nil || len(got) != 1 || got[auth.ScopeAdmin] != (Rate{1, time.Second, 2}) {
		t.Errorf("ParseScopeRates = %v, %v", got, err)
	}
	if _, err := ParseScopeRates(map[string]string{"root": "1/s"}); err == nil || !strings.Contains(err.Error(), `unknown scope "root"`) {
		t.Errorf("unknown scope: %v", err)
	}
	if _, err := ParseScopeRates(map[string]string{"admin": "1/week"}); err == nil || !strings.Contains(err.Error(), "scope admin: rate limit") {
		t.Errorf("bad rate: %v", err)
	}
}

// FuzzParseRateLimit: ParseRate never panics, and what it accepts it
// prints back in a form it parses to the same Rate.
func FuzzParseRateLimit(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRate(s)
		if err != nil {
			return
		}
		if !r.Off() && (r.Events < 1 || r.Burst < 1 || r.Per <= 0) {
			t.Fatalf("ParseRate(%q) = %+v: not a usable limit", s, r)
		}
		back, err := ParseRate(r.String())
		if err != nil || back != r {
			t.Fatalf("ParseRate(%q) = %+v, prints as %q, which parses to %+v, %v", s, r, r.String(), back, err)
		}
	})
}

// fakeClock is a clock a test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// lastResponse records the status and Retry-After of the last HTTP
// response a client got.
type lastResponse struct {
	mu         sync.Mutex
	status     int
	retryAfter string
}

func (l *lastResponse) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && r.Method == http.MethodPost {
		l.mu.Lock()
		l.status, l.retryAfter = res.StatusCode, res.Header.Get("Retry-After")
		l.mu.Unlock()
	}
	return res, err
}

func (l *lastResponse) get() (int, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.status, l.retryAfter
}

// limitedClient is an HTTP client of cs with a fresh token (its own
// bucket) of scopes, recording its last response.
func (cs *chokeServer) limitedClient(t *testing.T, agent string, scopes ...auth.Scope) (*client.Client, *lastResponse) {
	t.Helper()
	tok, err := auth.MintHMAC(cs.secret, auth.Claims{Agent: agent, Scopes: scopes, Expiry: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	rec := &lastResponse{}
	c, err := client.NewStreamableHttpClient(cs.url, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + tok}),
		transport.WithHTTPBasicClient(&http.Client{Transport: rec}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Initialize(t.Context(), mcp.InitializeRequest{}); err != nil {
		t.Fatal(err)
	}
	return c, rec
}

// TestRateLimitsPerCallerOverHTTP: through a real server, each token has
// its own buckets; past the burst a call is answered 429 with
// Retry-After (seconds, rounded up) and audited as rate limited; a tool
// whose scope has an override is held to both limits, and a refused call
// consumes from neither; the bucket refills with the (injected) clock.
func TestRateLimitsPerCallerOverHTTP(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	cs := startChokeServerLimited(t, RateLimits{Default: Rate{2, time.Hour, 2},
		Scopes: map[auth.Scope]Rate{auth.ScopeAdmin: {1, 7 * time.Minute, 1}}, Now: clock.Now})
	type step struct {
		tool       string
		status     int    // of the call's HTTP response
		retryAfter string // its Retry-After
		advance    time.Duration
	}
	ok := func(tool string) step { return step{tool: tool, status: http.StatusOK} }
	limited := func(tool, retry string) step {
		return step{tool: tool, status: http.StatusTooManyRequests, retryAfter: retry}
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		// 2/h: one token per 30 minutes.
		{"burst then 429", []step{ok("see"), ok("see"), limited("see", "1800"), limited("see", "1800")}},
		{"a second token has its own bucket", []step{ok("see"), ok("see"), limited("see", "1800")}},
		{"the bucket refills", []step{ok("see"), ok("see"), limited("see", "1800"),
			{advance: 29*time.Minute + 59*time.Second + 500*time.Millisecond}, limited("see", "1"), // 0.5s rounds up
			{advance: time.Second}, ok("see"), limited("see", "1800")}},
		// The admin override (1 per 7 minutes) binds first; the refused
		// call takes nothing from the default bucket, so see still has one.
		{"per-scope override", []step{ok("admin_see"), limited("admin_see", "420"), ok("see"), limited("see", "1800")}},
		// When both buckets are empty, the later time is the one given.
		{"both limits", []step{ok("admin_see"), ok("see"), limited("admin_see", "1800")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, rec := cs.limitedClient(t, "rl-"+strings.ReplaceAll(tc.name, " ", "-"), auth.ScopeAdmin)
			for i, st := range tc.steps {
				if st.tool == "" {
					clock.advance(st.advance)
					continue
				}
				req := mcp.CallToolRequest{}
				req.Params.Name = st.tool
				res, err := c.CallTool(t.Context(), req)
				status, retry := rec.get()
				if status != st.status || retry != st.retryAfter {
					t.Fatalf("step %d (%s): HTTP %d Retry-After %q, want %d %q (res %v, err %v)", i, st.tool, status, retry, st.status, st.retryAfter, res, err)
				}
				if st.status == http.StatusOK && (err != nil || res.IsError) {
					t.Fatalf("step %d (%s): %v %v", i, st.tool, res, err)
				}
				if st.status != http.StatusOK && err == nil {
					t.Fatalf("step %d (%s): a 429 came back as a result: %v", i, st.tool, res)
				}
			}
		})
	}
	// Every 429 left a record that says so.
	var limitedRecs int
	for _, r := range readAuditLog(t, cs.logPath) {
		reason, _ := r["reason"].(string)
		if r["event"] == "tool_call" && r["decision"] == "denied" && strings.HasPrefix(reason, "rate limited: this caller exceeded ") {
			caller, _ := r["caller"].(map[string]any)
			if agent, _ := caller["agent"].(string); r["result"] != "denied" || !strings.HasPrefix(agent, "rl-") {
				t.Errorf("rate-limit record incomplete: %+v", r)
			}
			limitedRecs++
		}
	}
	if limitedRecs != 9 {
		t.Errorf("%d rate-limited records, want 9 (one per 429)", limitedRecs)
	}
}

// TestRateLimitOverStdio: over stdio a call past the limit is a tool
// error that names the limit and when to retry, audited as rate limited.
func TestRateLimitOverStdio(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	cs := startChokeServerLimited(t, RateLimits{Default: Rate{1, time.Minute, 1}, Now: clock.Now})
	c := cs.client(t, true, "stdio:rl", auth.ScopeReadonly)
	call := func() *mcp.CallToolResult {
		req := mcp.CallToolRequest{}
		req.Params.Name = "see"
		res, err := c.CallTool(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := call(); res.IsError {
		t.Fatalf("first call: %v", res.Content)
	}
	res := call()
	want := "rate limited: this caller exceeded the default limit 1/m,burst=1 (--rate-limit); retry in 60s"
	if !res.IsError || resultText(res) != want {
		t.Fatalf("second call: %v, want the tool error %q", res.Content, want)
	}
	found := false
	for _, r := range readAuditLog(t, cs.logPath) {
		caller, _ := r["caller"].(map[string]any)
		found = found || (r["event"] == "tool_call" && r["decision"] == "denied" && r["reason"] == want && caller["agent"] == "stdio:rl")
	}
	if !found {
		t.Error("no audit record of the rate-limited stdio call")
	}
	clock.advance(time.Minute)
	if res := call(); res.IsError {
		t.Fatalf("call after a minute: %v", res.Content)
	}
}

// TestRateLimitersStayBounded: with many distinct callers the buckets
// kept never pass MaxCallers, and callers idle long enough for their
// buckets to be full again are swept.
func TestRateLimitersStayBounded(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	l := newLimiters(RateLimits{Default: Rate{10, time.Second, 20}, Scopes: map[auth.Scope]Rate{auth.ScopeAdmin: {1, time.Second, 5}},
		MaxCallers: 100, Now: clock.Now})
	caller := func(i int) *auth.Caller {
		return &auth.Caller{Agent: "a", TokenID: fmt.Sprint("jti-", i), Method: auth.MethodHMAC}
	}
	for i := range 10_000 {
		if r := l.take(caller(i), auth.ScopeAdmin); r != nil {
			t.Fatalf("caller %d refused: %s", i, r.reason())
		}
		if n := l.held(); n > 100 {
			t.Fatalf("after %d callers, %d are held; the bound is 100", i+1, n)
		}
		clock.advance(time.Millisecond)
	}
	// The slowest bucket (admin: 5 at 1/s) is full after 5s; a call then
	// sweeps everyone idle that long.
	clock.advance(5 * time.Second)
	l.take(caller(-1), auth.ScopeReadonly)
	if n := l.held(); n != 1 {
		t.Errorf("after 5s idle, %d callers held, want 1 (the new one)", n)
	}
	// A tailnet-grant caller is keyed by its node's stable id, not by
	// anything else: renaming the node (tailscale set --hostname) is no
	// fresh bucket.
	node := func(agent, name string) *auth.Caller {
		return &auth.Caller{Agent: agent, Method: auth.MethodTailscale, Tailscale: &auth.TailscaleIdentity{NodeID: "n1", NodeName: name}}
	}
	if rateKey(node("alice", "laptop")) != rateKey(node("bob", "laptop")) {
		t.Error("two callers on one tailnet node have different keys")
	}
	if rateKey(node("laptop", "laptop")) != rateKey(node("laptop-2", "laptop-2")) {
		t.Error("a renamed tailnet node has a new key")
	}
}
