// SPDX-License-Identifier: Apache-2.0

package server

import (
	"context"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/tailops/tailops/audit"
)

// Confirmation through a fleet entry node. A member that confirms a tool
// in the client answers a forwarded call input_required, with a request
// state it bound to the original caller, the tool and the arguments (see
// confirm.go). A caller on 2026-07-28 gets that result unchanged and
// retries through the entry node, which forwards its answers and the
// member's request state. A caller on an earlier revision cannot retry:
// the entry node asks it on its session with elicitation/create and, on
// an explicit yes only, sends the member the retry itself; anything else
// refuses the call, and nothing is sent. Either way the member checks the
// answer against the state it issued, so a state is good only for its
// own member, caller and call.

// forwardConfirmed forwards req to node and relays the member's question
// to the caller. It returns the result to give the caller (an
// input_required one for a 2026-07-28 caller to answer; a tool error
// when the forward failed) and, with the user's answer, the refusal when
// the entry node asked and the user did not say yes (result nil).
func (s *Server) forwardConfirmed(ctx context.Context, e *entry, node string, req mcp.CallToolRequest) (*mcp.CallToolResult, confirmOutcome) {
	args := req.GetRawArguments()
	if info := mcpserver.RequestProtocolInfoFromContext(ctx); info != nil && info.Modern {
		caps := mcp.ClientCapabilities{}
		if info.ClientCapabilities != nil {
			caps.Elicitation = info.ClientCapabilities.Elicitation
		}
		res, err := s.fleet.Call(ctx, node, e.name, args, caps, req.Params.MultiRoundTripParams)
		if err != nil {
			return forwardError(err), confirmOutcome{}
		}
		return res, relayedAnswer(e.name, req.Params.MultiRoundTripParams)
	}
	// An earlier revision: a client cannot retry, and its own
	// inputResponses and requestState, if any, are not forwarded.
	caps := mcp.ClientCapabilities{Elicitation: sessionElicitation(ctx)}
	res, err := s.fleet.Call(ctx, node, e.name, args, caps, mcp.MultiRoundTripParams{})
	if err != nil {
		return forwardError(err), confirmOutcome{}
	}
	if !res.NeedsInput() {
		return res, confirmOutcome{}
	}
	answer, co := s.askForMember(ctx, e, node, args, res)
	if co.status != audit.ConfirmConfirmed {
		return nil, co
	}
	if res, err = s.fleet.Call(ctx, node, e.name, args, caps, answer); err != nil {
		return forwardError(err), co
	}
	if res.NeedsInput() { // never to a client that cannot retry
		return nil, confirmOutcome{status: co.status, reason: fmt.Sprintf(
			"call refused: %s asked again for input after the user confirmed %s (its question expired?); nothing ran there, call again", node, e.name)}
	}
	return res, co
}

// relayedAnswer is the confirmation a 2026-07-28 caller's retry carries
// to the member, for the entry node's record: empty for a call that is
// no retry (the member decides whether the answer is good).
func relayedAnswer(name string, rt mcp.MultiRoundTripParams) confirmOutcome {
	if rt.RequestState == "" && len(rt.InputResponses) == 0 {
		return confirmOutcome{}
	}
	return confirmOutcome{status: answered(name, mcpserver.ElicitationResponse(rt.InputResponses, confirmID)).status}
}

// askForMember asks the caller's user, on its session, to confirm the
// call of e with args that node asked about in asked. On a yes it
// returns the retry for the member: a yes of the entry node's making
// (never the client's own words) and the member's request state.
func (s *Server) askForMember(ctx context.Context, e *entry, node string, args any, asked *mcp.CallToolResult) (mcp.MultiRoundTripParams, confirmOutcome) {
	if q, ok := asked.InputRequests[confirmID]; !ok || len(asked.InputRequests) != 1 || q.Method != mcp.MethodElicitationCreate {
		return mcp.MultiRoundTripParams{}, confirmOutcome{status: audit.ConfirmUnavailable, reason: fmt.Sprintf(
			"call refused: %s asks for input about %s that this entry node cannot relay to a client on a protocol revision before 2026-07-28; nothing ran there", node, e.name)}
	}
	if co, hides := hiddenPayload(e.name, args); hides {
		return mcp.MultiRoundTripParams{}, co
	}
	co := s.elicitSession(ctx, e.name, confirmParams(e, args, node))
	if co.status != audit.ConfirmConfirmed {
		return mcp.MultiRoundTripParams{}, co
	}
	yes := mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{
		Action: mcp.ElicitationResponseActionAccept, Content: map[string]any{"confirm": true}}}
	return mcp.MultiRoundTripParams{
		InputResponses: mcp.InputResponses{confirmID: mcp.NewElicitationInputResponse(yes)},
		RequestState:   asked.RequestState,
	}, co
}
