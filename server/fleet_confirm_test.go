// SPDX-License-Identifier: Apache-2.0

package server

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
)

// askingMember is a Forwarder whose one member, "nas", confirms every
// call in the client as a TailOps member does: a call that can elicit is
// answered input_required with a request state bound to the caller; a
// retry with that state and a yes runs; one that cannot elicit is
// refused.
type askingMember struct {
	mu    sync.Mutex
	calls []mcp.MultiRoundTripParams // the answers each call carried
	ran   atomic.Int32
}

func (m *askingMember) Self(_ context.Context, node string) bool { return node == "" }

func (m *askingMember) Call(ctx context.Context, _, tool string, _ any, caps mcp.ClientCapabilities, answer mcp.MultiRoundTripParams) (*mcp.CallToolResult, error) {
	m.mu.Lock()
	m.calls = append(m.calls, answer)
	m.mu.Unlock()
	state := "state-of-" + auth.CallerFrom(ctx).Agent
	switch {
	case caps.Elicitation == nil:
		return mcp.NewToolResultError("member: this client does not declare the elicitation capability"), nil
	case answer.RequestState == "":
		return mcpserver.NewInputRequestBuilder(state).Elicit(confirmID, mcp.ElicitationParams{
			Mode: mcp.ElicitationModeForm, Message: "the member asks about " + tool, RequestedSchema: confirmSchema}).ToolResult(), nil
	case answer.RequestState == state && answered(tool, mcpserver.ElicitationResponse(answer.InputResponses, confirmID)).status == audit.ConfirmConfirmed:
		m.ran.Add(1)
		return mcp.NewToolResultText("ran on the member"), nil
	}
	return mcp.NewToolResultError("member: the user did not confirm " + tool), nil
}

// answers returns the answers each call to the member carried.
func (m *askingMember) answers() []mcp.MultiRoundTripParams {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]mcp.MultiRoundTripParams(nil), m.calls...)
}

// TestForwardRelaysConfirmation: a forwarded call its member asks about
// runs there only after the user's explicit yes. A 2026-07-28 client gets
// the member's own question and retries through the entry node, which
// forwards the answer and the member's state; on an earlier revision the
// entry node asks on the client's session, naming the member, and on a
// yes alone sends the member the retry (a decline sends nothing more). A
// client that cannot elicit is refused by the member. The entry node's
// forward record says what the user answered.
func TestForwardRelaysConfirmation(t *testing.T) {
	yes := accept(map[string]any{"confirm": true})
	decline := &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{Action: mcp.ElicitationResponseActionDecline}}
	for _, tc := range []struct {
		name        string
		legacy      bool
		answer      *mcp.ElicitationResult // nil: no elicitation capability
		wantRun     bool
		wantAsked   string // in the question the user saw
		wantCalls   int    // requests the member got
		wantConfirm audit.Confirmation
		wantResult  audit.Result
	}{
		{"modern-yes", false, yes, true, "the member asks about wipe", 2, audit.ConfirmConfirmed, audit.ResultSuccess},
		{"modern-no", false, decline, false, "the member asks about wipe", 2, audit.ConfirmDeclined, audit.ResultError},
		{"modern-cannot-ask", false, nil, false, "", 1, "", audit.ResultError},
		{"legacy-yes", true, yes, true, `on fleet member "nas"`, 2, audit.ConfirmConfirmed, audit.ResultSuccess},
		{"legacy-no", true, decline, false, `on fleet member "nas"`, 1, audit.ConfirmDeclined, audit.ResultDenied},
		{"legacy-accept-without-yes", true, accept(map[string]any{"confirm": false}), false, "wipe", 1, audit.ConfirmDeclined, audit.ResultDenied},
		{"legacy-cannot-ask", true, nil, false, "", 1, "", audit.ResultError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			member := &askingMember{}
			cs := serveChoke(t, Config{Enabled: wipeSpecs(map[string]*atomic.Int32{"wipe": {}, "wipe_too": {}}), Fleet: member})
			var el *elicitor
			if tc.answer != nil {
				el = &elicitor{answer: tc.answer}
			}
			c := cs.confirmClient(t, false, tc.legacy, el)
			res, err := callWipe(t, c, "wipe", map[string]any{"target": "/srv/data", "node": "nas"})
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			if ran := member.ran.Load() == 1; ran != tc.wantRun || res.IsError == tc.wantRun {
				t.Errorf("ran on the member: %v, result %q (error %v); want run: %v", ran, resultText(res), res.IsError, tc.wantRun)
			}
			if el != nil {
				if qs := el.questions(); len(qs) != 1 || !strings.Contains(qs[0].Message, tc.wantAsked) {
					t.Errorf("the user was asked %+v, want once, with %q", qs, tc.wantAsked)
				}
			}
			calls := member.answers()
			if len(calls) != tc.wantCalls {
				t.Fatalf("the member got %d requests, want %d", len(calls), tc.wantCalls)
			}
			if len(calls[0].InputResponses) != 0 || calls[0].RequestState != "" {
				t.Errorf("the first request carried an answer: %+v", calls[0])
			}
			if tc.wantCalls == 2 && calls[1].RequestState != "state-of-confirmer" {
				t.Errorf("the retry carried state %q, want the member's", calls[1].RequestState)
			}
			rec := findRecord(readAuditLog(t, cs.logPath), audit.EventToolCallForwarded, "wipe", "")
			if rec == nil {
				t.Fatal("no forward record")
			}
			if rec["confirmation"] != nilIfEmpty(string(tc.wantConfirm)) || rec["result"] != string(tc.wantResult) || rec["node"] != "nas" {
				t.Errorf("forward record: %v, want confirmation %q, result %s", rec, tc.wantConfirm, tc.wantResult)
			}
			if n := len(findRecords(readAuditLog(t, cs.logPath), audit.EventToolCallForwarded)); n != 1 {
				t.Errorf("%d forward records, want one per call", n)
			}
		})
	}
}

// nilIfEmpty is s as a decoded record holds it: absent (nil) when empty.
func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// findRecords returns recs' records of event.
func findRecords(recs []map[string]any, event audit.Event) []map[string]any {
	var out []map[string]any
	for _, r := range recs {
		if r["event"] == string(event) {
			out = append(out, r)
		}
	}
	return out
}

// TestAskForMemberRelaysOnlyAConfirmation: a member's input_required that
// is not the one confirmation question TailOps asks (another id, several
// questions, sampling) is not relayed to a client on an earlier revision:
// the call is refused, and the user is not asked.
func TestAskForMemberRelaysOnlyAConfirmation(t *testing.T) {
	s := &Server{}
	e := &entry{name: "wipe"}
	el := mcp.NewElicitationInputRequest(mcp.ElicitationParams{Message: "?"})
	for name, reqs := range map[string]mcp.InputRequests{
		"another id":     {"other": el},
		"two questions":  {confirmID: el, "other": el},
		"sampling":       {confirmID: mcp.NewSamplingInputRequest(mcp.CreateMessageParams{})},
		"no question":    {},
		"roots, no form": {confirmID: mcp.NewRootsInputRequest()},
	} {
		asked := &mcp.CallToolResult{Result: mcp.Result{ResultType: mcp.ResultTypeInputRequired},
			MultiRoundTripResult: mcp.MultiRoundTripResult{InputRequests: reqs, RequestState: "st"}}
		answer, co := s.askForMember(context.Background(), e, "nas", nil, asked)
		if co.status != audit.ConfirmUnavailable || !strings.Contains(co.reason, "cannot relay") || answer.RequestState != "" || answer.InputResponses != nil {
			t.Errorf("%s: %+v %+v, want refused with nothing to send", name, co, answer)
		}
	}
}
