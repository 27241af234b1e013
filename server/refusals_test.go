// SPDX-License-Identifier: Apache-2.0

package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tailnet"
	"github.com/tailops/tailops/tools"
)

// TestRefusalFloodIsSummarised: 1,000 tokenless requests from one source
// (from ever new ports) are all refused alike, but only its budget's
// worth get records of their own; the rest are counted in summaries,
// written by a flush or at Stop, and the two add up to 1,000. Another
// source's refusals meanwhile are all recorded one by one.
func TestRefusalFloodIsSummarised(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flush func(s *Server)
		stop  bool // the summaries must precede server_stop, the last record
	}{
		{"flushed", func(s *Server) { s.flushRefusals(context.Background()) }, false},
		{"at Stop", (*Server).Stop, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := serveChoke(t, Config{Enabled: []tools.Spec{readTool("see", auth.ScopeReadonly)}})
			h := cs.srv.Handler()
			const flood, every = 1000, 100
			start := time.Now()
			want := refuse(t, h, "192.0.2.1:1024")
			for i := 1; i < flood; i++ {
				if got := refuse(t, h, "192.0.2.1:"+strconv.Itoa(1024+i)); got != want {
					t.Fatalf("refusal %d answered %q, want %q like the first", i, got, want)
				}
				if i%every == 0 {
					refuse(t, h, "192.0.2.2:4000")
				}
			}
			elapsed := time.Since(start)
			tc.flush(cs.srv)
			recs := readAuditLog(t, cs.logPath)
			one, summarised := refusalCounts(recs, "192.0.2.1", "ip 192.0.2.1")
			if most := refusalRecordBurst + int(refusalRecordRate*elapsed.Seconds()) + 1; one > most {
				t.Errorf("%d refusals in %s got %d records of their own, want at most %d", flood, elapsed, one, most)
			}
			if one+summarised != flood {
				t.Errorf("%d records of their own and %d summarised, want %d in all", one, summarised, flood)
			}
			if one, summarised := refusalCounts(recs, "192.0.2.2", "ip 192.0.2.2"); one != flood/every-1 || summarised != 0 {
				t.Errorf("the other source: %d records of their own and %d summarised, want %d and 0", one, summarised, flood/every-1)
			}
			if last := recs[len(recs)-1]["event"]; tc.stop && last != string(audit.EventServerStop) {
				t.Errorf("the last record is %s, want %s after the summaries", last, audit.EventServerStop)
			}
		})
	}
}

// TestRefusalsAreSummarisedWhileServing: the summaries are written every
// interval, with no further request to prompt them.
func TestRefusalsAreSummarisedWhileServing(t *testing.T) {
	cs := serveChoke(t, Config{Enabled: []tools.Spec{readTool("see", auth.ScopeReadonly)}})
	h := cs.srv.Handler()
	const flood = refusalRecordBurst + 50
	for range flood {
		refuse(t, h, "192.0.2.1:1024")
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go cs.srv.summariseRefusals(ctx, 10*time.Millisecond)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if one, summarised := refusalCounts(readAuditLog(t, cs.logPath), "192.0.2.1", "ip 192.0.2.1"); one+summarised == flood {
			return
		}
	}
	t.Fatal("no summary was written within 5 s")
}

// TestRefusalKey: a refusal's source is its tailnet node when known,
// else its IP, whatever the port.
func TestRefusalKey(t *testing.T) {
	node := &tailnet.Peer{Identity: auth.TailscaleIdentity{NodeID: "nStable", NodeName: "laptop"}}
	for _, tc := range []struct {
		name, remote string
		peer         *tailnet.Peer
		want         string
	}{
		{"IPv4", "192.0.2.1:1234", nil, "ip 192.0.2.1"},
		{"IPv6", "[fd7a:115c:a1e0::1]:80", nil, "ip fd7a:115c:a1e0::1"},
		{"no port", "pipe", nil, "ip pipe"},
		{"tailnet node", "100.64.0.1:1234", node, "node nStable"},
		{"node without an id", "100.64.0.1:1234", &tailnet.Peer{}, "ip 100.64.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := refusalKey(tc.remote, tc.peer); got != tc.want {
				t.Errorf("refusalKey(%q) = %q, want %q", tc.remote, got, tc.want)
			}
		})
	}
}

// TestRefusalSourcesAreBounded: past max sources, new ones share one
// budget, summarised as otherSources; sources idle long enough for a
// full budget are forgotten at the next summary.
func TestRefusalSourcesAreBounded(t *testing.T) {
	b := newRefusalBudgets(2)
	now := time.Now()
	c := &auth.Caller{Agent: "unauthenticated"}
	b.admit("ip a", c, "no token", now)
	b.admit("ip b", c, "no token", now)
	const n = refusalRecordBurst + 30
	recorded := 0
	for i := range n {
		if b.admit("ip new"+strconv.Itoa(i), c, "no token", now) {
			recorded++
		}
	}
	if len(b.sources) != 3 || b.sources[otherSources] == nil {
		t.Fatalf("%d sources held, want a, b and %q", len(b.sources), otherSources)
	}
	recs := b.summaries(now.Add(time.Minute))
	if len(recs) != 1 {
		t.Fatalf("%d summaries, want 1", len(recs))
	}
	d := recs[0].Detail.(map[string]any)
	if d["source"] != otherSources || d["unrecorded"].(int)+recorded != n {
		t.Errorf("summary %v with %d recorded, want %q summing to %d", d, recorded, otherSources, n)
	}
	if len(b.sources) != 0 {
		t.Errorf("%d sources held after a minute idle, want 0", len(b.sources))
	}
}

// refuse sends a tokenless request to h from remote and returns its
// status and body.
func refuse(t *testing.T, h http.Handler, remote string) string {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(`{}`))
	r.RemoteAddr = remote
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("a tokenless request answered %d, want 401", w.Code)
	}
	body, _ := io.ReadAll(w.Body)
	return strconv.Itoa(w.Code) + " " + w.Header().Get("WWW-Authenticate") + " " + string(body)
}

// refusalCounts counts the auth_denied records of their own from ip and
// the refusals the summaries of source counted.
func refusalCounts(recs []map[string]any, ip, source string) (one, summarised int) {
	for _, r := range recs {
		if r["event"] != string(audit.EventAuthDenied) {
			continue
		}
		if d, ok := r["detail"].(map[string]any); ok && d["summary"] == true {
			if d["source"] == source {
				summarised += int(d["unrecorded"].(float64))
			}
			continue
		}
		caller, _ := r["caller"].(map[string]any)
		if host, _, _ := net.SplitHostPort(fmt.Sprint(caller["remote_addr"])); host == ip {
			one++
		}
	}
	return one, summarised
}
