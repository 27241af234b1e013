// SPDX-License-Identifier: Apache-2.0

package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/tailops/tailops/approval"
	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/redact"
)

// Confirmation in the client: the user, asked by their MCP client through
// elicitation, says yes to one exact call. It guards against the model
// acting on its own; approval (a webhook, a second person) guards against
// a stolen token. On protocol revisions before 2026-07-28 the server
// sends elicitation/create on the call's session and waits for the
// answer; on 2026-07-28 it answers input_required with the elicitation,
// and the client retries the call with the answer and the request state
// the server issued (bound to the caller, the tool and the arguments,
// used once). A client that cannot elicit is refused: nothing runs.

// confirmID is the key of the elicitation in an input_required result.
const confirmID = "confirm"

// confirmTTL is how long the user has to answer: how long a call waits
// for the answer to elicitation/create, and how long a 2026-07-28 client
// has to retry with it.
const confirmTTL = 10 * time.Minute

// maxPendingConfirms bounds the request states kept for 2026-07-28
// clients; past it the oldest is dropped (its retry is asked again).
const maxPendingConfirms = 1024

// confirmSchema is what the client asks the user: one explicit yes.
var confirmSchema = map[string]any{
	"type": "object",
	"properties": map[string]any{
		"confirm": map[string]any{"type": "boolean", "title": "Run it",
			"description": "true runs exactly this call; anything else refuses it"},
	},
	"required": []string{"confirm"},
}

// confirmOutcome is what asking gave: a result to return as is (the
// input_required of 2026-07-28), or the confirmation and, when refused,
// why.
type confirmOutcome struct {
	ask    *mcp.CallToolResult
	status audit.Confirmation
	reason string
}

// pendingConfirm is a request state issued to a 2026-07-28 client.
type pendingConfirm struct {
	binding string
	expires time.Time
}

// confirms are the request states issued and not yet answered.
type confirms struct {
	mu      sync.Mutex
	pending map[string]pendingConfirm
	order   []string
}

// issue returns a fresh request state for binding.
func (p *confirms) issue(binding string, now time.Time) string {
	b := make([]byte, 16)
	rand.Read(b)
	state := hex.EncodeToString(b)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pending == nil {
		p.pending = map[string]pendingConfirm{}
	}
	for len(p.order) > 0 && (len(p.pending) >= maxPendingConfirms || now.After(p.pending[p.order[0]].expires)) {
		delete(p.pending, p.order[0])
		p.order = p.order[1:]
	}
	p.pending[state] = pendingConfirm{binding: binding, expires: now.Add(confirmTTL)}
	p.order = append(p.order, state)
	return state
}

// take consumes state and reports whether it was issued for binding and
// is still live.
func (p *confirms) take(state, binding string, now time.Time) bool {
	if state == "" {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	pc, ok := p.pending[state]
	if !ok || pc.binding != binding {
		return false // a state for another call stays for that call
	}
	delete(p.pending, state)
	return now.Before(pc.expires)
}

// redeemedKey is the context key of a call that carried a request state
// this server issued for it (see redeem).
type redeemedKey struct{}

// redeemed is a request state taken by redeem and what it was bound to.
type redeemed struct{ state, binding string }

// redeem takes the request state a 2026-07-28 call carries when this
// server issued it for this very call (caller, tool, arguments) of a tool
// in confirm and it is still live, and marks ctx so that askConfirmation
// reads the answer. Such a call is the second half of one confirmed call,
// whose first half (the call answered input_required) was charged to the
// caller's rate limits: the caller charges it only when redeem is false.
// A made-up, replayed, expired or other call's state redeems nothing.
func (s *Server) redeem(ctx context.Context, c *auth.Caller, name, state string, args any) (context.Context, bool) {
	if state == "" || !s.confirm[name] && !s.confirmLowered {
		return ctx, false
	}
	binding := confirmBinding(c, name, args)
	if !s.confirms.take(state, binding, time.Now()) {
		return ctx, false
	}
	return context.WithValue(ctx, redeemedKey{}, redeemed{state: state, binding: binding}), true
}

// redeemedFor reports whether redeem took state, bound to binding, for
// ctx's call.
func redeemedFor(ctx context.Context, state, binding string) bool {
	r, ok := ctx.Value(redeemedKey{}).(redeemed)
	return ok && state != "" && r.state == state && r.binding == binding
}

// confirmBinding ties a request state to the caller, the tool and the
// exact arguments.
func confirmBinding(c *auth.Caller, name string, args any) string {
	h := sha256.New()
	if c != nil {
		fmt.Fprintf(h, "%q %q %q\n", c.Agent, c.TokenID, c.Method)
	}
	fmt.Fprintf(h, "%q\n", name)
	if raw, ok := args.(json.RawMessage); ok {
		// As sent, the keys keep the client's order: decoded, they are
		// encoded sorted, as the edge's decoded arguments are. Numbers
		// keep their text, so that no two integers past 2^53 bind alike.
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) == nil {
			args = v
		}
	}
	json.NewEncoder(h).Encode(args) // map keys sorted: the same arguments give the same bytes
	return hex.EncodeToString(h.Sum(nil))
}

// confirmMessage describes the exact action to the user, with secrets
// redacted; node names the fleet member it runs on (empty: this node).
func confirmMessage(e *entry, args any, node string) string {
	title := e.name
	if a := e.spec.Tool.Annotations.Title; a != "" {
		title = a
	}
	shown, err := json.Marshal(redact.Value(args))
	if err != nil || string(shown) == "null" {
		shown = []byte("{}")
	}
	// Shown, not acted on: a bidirectional override would reorder what the
	// user reads, a zero-width space hide where a word ends.
	shown = approval.EscapeInvisible(shown)
	where := ""
	if node != "" {
		where = fmt.Sprintf(" on fleet member %q", node)
	}
	return fmt.Sprintf("TailOps asks you to confirm a %s-risk action the assistant wants to take%s:\n%s (%s)\narguments: %s\nAnswer yes only if you want exactly this to run.",
		e.risk, where, title, e.name, shown)
}

// unavailable is the refusal of a client that cannot ask its user.
func unavailable(name, why string) confirmOutcome {
	return confirmOutcome{status: audit.ConfirmUnavailable, reason: fmt.Sprintf(
		"call refused: %s needs the user's confirmation in the client (setting confirm / --confirm), and %s; "+
			"use a client that supports elicitation (form mode), or, if this tool need not be confirmed, remove it from confirm", name, why)}
}

// hiddenPayload refuses to ask the user about a call whose redacted
// arguments, as the question shows them, would hide command syntax
// (redact.HidesSyntax): they could not see what runs.
func hiddenPayload(name string, args any) (confirmOutcome, bool) {
	where, hides := redact.HidesSyntax(args)
	if !hides {
		return confirmOutcome{}, false
	}
	return confirmOutcome{status: audit.ConfirmUnavailable, reason: approval.HiddenSyntaxMessage(name, where, "the user")}, true
}

// askConfirmation asks the caller's user to confirm the call (see above).
func (s *Server) askConfirmation(ctx context.Context, e *entry, c *auth.Caller, req mcp.CallToolRequest) confirmOutcome {
	args := req.GetRawArguments()
	if co, hides := hiddenPayload(e.name, args); hides {
		return co
	}
	params := confirmParams(e, args, "")
	if info := mcpserver.RequestProtocolInfoFromContext(ctx); info != nil && info.Modern {
		if info.ClientCapabilities == nil || info.ClientCapabilities.Elicitation == nil {
			return unavailable(e.name, "this client does not declare the elicitation capability")
		}
		binding, now := confirmBinding(c, e.name, args), time.Now()
		if !redeemedFor(ctx, req.Params.RequestState, binding) && !s.confirms.take(req.Params.RequestState, binding, now) {
			// No answer to a question this server asked about this very
			// call: ask (whatever inputResponses the request carries).
			state := s.confirms.issue(binding, now)
			return confirmOutcome{ask: mcpserver.NewInputRequestBuilder(state).Elicit(confirmID, params).ToolResult()}
		}
		return answered(e.name, mcpserver.ElicitationResponse(req.Params.InputResponses, confirmID))
	}
	return s.elicitSession(ctx, e.name, params)
}

// confirmParams is the elicitation that asks the user to confirm a call
// of e with args on node (empty: this node).
func confirmParams(e *entry, args any, node string) mcp.ElicitationParams {
	return mcp.ElicitationParams{Mode: mcp.ElicitationModeForm, Message: confirmMessage(e, args, node), RequestedSchema: confirmSchema}
}

// sessionElicitation returns the elicitation capability the client of
// ctx's session declared when it initialized; nil without one.
func sessionElicitation(ctx context.Context) *mcp.ElicitationCapability {
	ci, ok := mcpserver.ClientSessionFromContext(ctx).(mcpserver.SessionWithClientInfo)
	if !ok || ci == nil {
		return nil
	}
	return ci.GetClientCapabilities().Elicitation
}

// elicitSession asks the user of ctx's session (a protocol revision
// before 2026-07-28) to confirm a call of name with elicitation/create,
// and reads the answer.
func (s *Server) elicitSession(ctx context.Context, name string, params mcp.ElicitationParams) confirmOutcome {
	if sessionElicitation(ctx) == nil {
		return unavailable(name, "this client did not declare the elicitation capability when it initialized its session")
	}
	ctx, cancel := context.WithTimeout(ctx, confirmTTL) // no answer in time is no yes
	defer cancel()
	res, err := s.mcp.RequestElicitation(ctx, mcp.ElicitationRequest{
		Request: mcp.Request{Method: string(mcp.MethodElicitationCreate)}, Params: params})
	if err != nil {
		s.log.Warn("asking the user to confirm a call", "tool", name, "error", err)
		return unavailable(name, "asking the client failed ("+err.Error()+")")
	}
	return answered(name, res)
}

// answered reads the user's answer: only accept with confirm true says yes.
func answered(name string, res *mcp.ElicitationResult) confirmOutcome {
	if res == nil {
		return confirmOutcome{status: audit.ConfirmDeclined, reason: "call refused: the client sent no answer to the confirmation of " + name}
	}
	if res.Action == mcp.ElicitationResponseActionAccept {
		if m, ok := res.Content.(map[string]any); ok && m["confirm"] == true {
			return confirmOutcome{status: audit.ConfirmConfirmed}
		}
	}
	return confirmOutcome{status: audit.ConfirmDeclined, reason: fmt.Sprintf(
		"call refused: the user did not confirm %s (answer %q); nothing ran", name, res.Action)}
}
