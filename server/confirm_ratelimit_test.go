// SPDX-License-Identifier: Apache-2.0

package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
)

// TestConfirmedCallIsChargedOnce: a call the user confirms counts once
// against its caller's rate limit — on 2026-07-28 (input_required, then
// the retry with the answer), on a revision with sessions (elicitation/
// create) and over stdio — so a burst of two allows exactly two confirmed
// calls, and the third is refused as rate limited and does not run. A
// declined call counts once too.
func TestConfirmedCallIsChargedOnce(t *testing.T) {
	yes := accept(map[string]any{"confirm": true})
	no := &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{Action: mcp.ElicitationResponseActionDecline}}
	for _, tc := range []struct {
		name          string
		stdio, legacy bool
		answers       []*mcp.ElicitationResult // one call each
		wantRuns      int32
	}{
		{"http-modern", false, false, []*mcp.ElicitationResult{yes, yes}, 2},
		{"http-legacy", false, true, []*mcp.ElicitationResult{yes, yes}, 2},
		{"stdio-modern", true, false, []*mcp.ElicitationResult{yes, yes}, 2},
		{"stdio-legacy", true, true, []*mcp.ElicitationResult{yes, yes}, 2},
		{"http-modern-declined-counts-once", false, false, []*mcp.ElicitationResult{no, yes}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
			cs, ran := confirmServerLimited(t, RateLimits{Default: Rate{1, time.Hour, 2}, Now: clock.Now}, "wipe")
			el := &elicitor{}
			c := cs.confirmClient(t, tc.stdio, tc.legacy, el)
			for i, answer := range tc.answers {
				el.mu.Lock()
				el.answer = answer
				el.mu.Unlock()
				res, err := callWipe(t, c, "wipe", map[string]any{"target": "/srv/" + string(rune('a'+i))})
				if err != nil {
					t.Fatalf("call %d (within the burst of 2): %v", i+1, err)
				}
				if wantRun := answer == yes; res.IsError == wantRun || strings.Contains(resultText(res), "rate limited") {
					t.Fatalf("call %d (within the burst of 2): %q (error %v)", i+1, resultText(res), res.IsError)
				}
			}
			if n := ran["wipe"].Load(); n != tc.wantRuns {
				t.Fatalf("wipe ran %d times, want %d", n, tc.wantRuns)
			}
			asked := len(el.questions())
			// The burst is spent: the next call is refused before anyone
			// is asked (HTTP: 429; stdio: a tool error).
			el.mu.Lock()
			el.answer = yes
			el.mu.Unlock()
			res, err := callWipe(t, c, "wipe", map[string]any{"target": "/srv/z"})
			if tc.stdio {
				if err != nil || !res.IsError || !strings.Contains(resultText(res), "rate limited") {
					t.Errorf("third call: %v %v, want a rate-limited tool error", res, err)
				}
			} else if err == nil {
				t.Errorf("third call: %q, want it refused with 429", resultText(res))
			}
			if n := ran["wipe"].Load(); n != tc.wantRuns {
				t.Errorf("the rate-limited call ran: wipe ran %d times", n)
			}
			if n := len(el.questions()); n != asked {
				t.Errorf("the rate-limited call asked the user (%d questions, then %d)", asked, n)
			}
			var confirmed, limited int
			for _, r := range readAuditLog(t, cs.logPath) {
				reason, _ := r["reason"].(string)
				switch {
				case r["event"] != "tool_call":
				case r["confirmation"] == string(audit.ConfirmConfirmed) && r["result"] == string(audit.ResultSuccess):
					confirmed++
				case strings.HasPrefix(reason, "rate limited: this caller exceeded the default limit 1/h,burst=2"):
					limited++
				}
			}
			if confirmed != int(tc.wantRuns) || limited != 1 {
				t.Errorf("audit log: %d confirmed calls, %d rate-limited; want %d and 1", confirmed, limited, tc.wantRuns)
			}
		})
	}
}

// TestConfirmationRetryCannotDodgeTheLimit: only the retry that carries
// a request state this server issued for this very call, still pending,
// goes uncharged. A made-up state, a state replayed after use, and a
// state issued for other arguments are charged like any call, so they
// hit the limit (429) after the burst; the genuine state still confirms
// its own call uncharged.
func TestConfirmationRetryCannotDodgeTheLimit(t *testing.T) {
	yes := map[string]any{confirmID: map[string]any{"action": "accept", "content": map[string]any{"confirm": true}}}
	harmless, data := map[string]any{"target": "/tmp/harmless"}, map[string]any{"target": "/srv/data"}
	for _, tc := range []struct {
		name string
		// retry is the arguments and state the attacker re-sends; the
		// first call (asking about harmless) issued issued.
		retry func(issued string) (map[string]any, string)
		// wantGenuine is whether the genuine retry still runs afterwards
		// (uncharged, with the limit spent).
		wantGenuine bool
	}{
		{"made-up state", func(string) (map[string]any, string) { return harmless, "0123456789abcdef0123456789abcdef" }, true},
		{"state of other arguments", func(issued string) (map[string]any, string) { return data, issued }, true},
		{"replayed state", func(issued string) (map[string]any, string) { return harmless, issued }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
			cs, ran := confirmServerLimited(t, RateLimits{Default: Rate{1, time.Hour, 2}, Now: clock.Now}, "wipe")
			tok := cs.token(t)
			status, first := modernPost(t, cs, tok, harmless, nil, "") // charged: 1 of 2
			issued, _ := first["requestState"].(string)
			if status != http.StatusOK || first["resultType"] != "input_required" || issued == "" {
				t.Fatalf("first call: %d %v, want input_required with a request state", status, first)
			}
			if tc.name == "replayed state" { // use it: uncharged, runs once
				if _, got := modernPost(t, cs, tok, harmless, yes, issued); got == nil || got["isError"] == true || ran["wipe"].Load() != 1 {
					t.Fatalf("the genuine retry: %v, ran %d", got, ran["wipe"].Load())
				}
			}
			args, state := tc.retry(issued)
			status, got := modernPost(t, cs, tok, args, yes, state) // charged: 2 of 2
			if status != http.StatusOK || got["resultType"] != "input_required" {
				t.Fatalf("forged retry within the burst: %d %v, want asked again", status, got)
			}
			if status, got := modernPost(t, cs, tok, args, yes, state); status != http.StatusTooManyRequests {
				t.Fatalf("forged retry past the burst: %d %v, want 429", status, got)
			}
			runs := ran["wipe"].Load()
			status, got = modernPost(t, cs, tok, harmless, yes, issued)
			switch {
			case tc.wantGenuine && (status != http.StatusOK || got["isError"] == true || ran["wipe"].Load() != runs+1):
				t.Errorf("the genuine retry with the limit spent: %d %v, want it to run uncharged", status, got)
			case !tc.wantGenuine && (status != http.StatusTooManyRequests || ran["wipe"].Load() != runs):
				t.Errorf("the used state again with the limit spent: %d %v, want 429", status, got)
			}
		})
	}
}

// selfNamed is a Forwarder (a stand-in for the fleet: no member is ever
// called) for which "entry" names this node.
type selfNamed struct{}

func (selfNamed) Self(_ context.Context, node string) bool { return node == "" || node == "entry" }

func (selfNamed) Call(context.Context, string, string, any, mcp.ClientCapabilities, mcp.MultiRoundTripParams) (*mcp.CallToolResult, error) {
	return nil, errors.New("selfNamed forwards nothing")
}

// TestConfirmedCallNamingThisNodeIsChargedOnce: on a fleet entry node, a
// confirmed call whose node argument names the entry node itself counts
// once, as any confirmed call does: the retry that answers the question
// is the same call, node argument and all.
func TestConfirmedCallNamingThisNodeIsChargedOnce(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	ran := map[string]*atomic.Int32{"wipe": {}, "wipe_too": {}}
	cs := serveChoke(t, Config{Enabled: wipeSpecs(ran), Confirm: []string{"wipe"}, Fleet: selfNamed{},
		RateLimits: RateLimits{Default: Rate{1, time.Hour, 2}, Now: clock.Now}})
	el := &elicitor{answer: accept(map[string]any{"confirm": true})}
	c := cs.confirmClient(t, false, false, el)
	for i := range 2 {
		res, err := callWipe(t, c, "wipe", map[string]any{"target": "/srv/" + string(rune('a'+i)), NodeArg: "entry"})
		if err != nil {
			t.Fatalf("call %d (within the burst of 2): %v", i+1, err)
		}
		if res.IsError {
			t.Fatalf("call %d (within the burst of 2): %s", i+1, resultText(res))
		}
	}
	if n := ran["wipe"].Load(); n != 2 {
		t.Fatalf("wipe ran %d times, want 2", n)
	}
}

// TestConfirmBindingIgnoresKeyOrder: a confirmation is bound to the
// arguments, not to the order the client wrote their keys in: the
// arguments as sent (the choke point's) and as the edge decoded them
// (the rate gate's, keys sorted) bind alike, so a JavaScript client's
// confirmed retry, its keys in insertion order, is not charged again.
func TestConfirmBindingIgnoresKeyOrder(t *testing.T) {
	c := &auth.Caller{Agent: "bot", TokenID: "t1", Method: auth.MethodHMAC}
	raw := confirmBinding(c, "wipe", json.RawMessage(`{"target": "/srv/a", "force": true}`))
	decoded := confirmBinding(c, "wipe", map[string]any{"force": true, "target": "/srv/a"})
	if raw != decoded {
		t.Errorf("the same arguments bind differently as sent (%s) and decoded (%s)", raw, decoded)
	}
	if other := confirmBinding(c, "wipe", json.RawMessage(`{"target": "/srv/b", "force": true}`)); other == raw {
		t.Error("other arguments bind alike")
	}
	if confirmBinding(c, "wipe", json.RawMessage(`{"n": 9007199254740992}`)) == confirmBinding(c, "wipe", json.RawMessage(`{"n": 9007199254740993}`)) {
		t.Error("two integers past 2^53 bind alike")
	}
}
