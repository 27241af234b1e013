// SPDX-License-Identifier: Apache-2.0

package server

import (
	"context"
	"errors"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/tailops/tailops/approval"
	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/metrics"
	"github.com/tailops/tailops/redact"
	"github.com/tailops/tailops/tools"
)

// auditRefusal is the tool error of a call refused because its audit
// record cannot be written.
const auditRefusal = "call refused: the audit log cannot be written, and TailOps runs nothing unaudited; " +
	"check the disk holding the audit log and the server's log (calls run again by themselves once it can be written)"

// visibleTools is the tool filter: a caller sees, and may call, only the
// tools the choke point allows it.
func (s *Server) visibleTools(ctx context.Context, ts []mcp.Tool) []mcp.Tool {
	c := auth.CallerFrom(ctx)
	out := ts[:0:0]
	for _, t := range ts {
		if s.decide(c, KindTool, t.Name).Allowed {
			out = append(out, t)
		}
	}
	return out
}

// auditUnknownTool records requests that mcp-go refuses before any
// handler runs: calls of unknown, disabled or hidden tools, reads of
// resources no view or resource serves, gets of unknown prompts.
func (s *Server) auditUnknownTool(ctx context.Context, _ any, method mcp.MCPMethod, msg any, err error) {
	var (
		kind       Kind
		name, what string
		args       any
	)
	switch req := msg.(type) {
	case *mcp.CallToolRequest:
		if method != mcp.MethodToolsCall || !errors.Is(err, mcpserver.ErrToolNotFound) {
			return
		}
		kind, name, args, what = KindTool, req.Params.Name, req.GetRawArguments(), "tool not available"
	case *mcp.ReadResourceRequest:
		if method != mcp.MethodResourcesRead || !errors.Is(err, mcpserver.ErrResourceNotFound) {
			return
		}
		kind, name, what = KindResource, req.Params.URI, "no resource has this URI"
	case *mcp.GetPromptRequest:
		if method != mcp.MethodPromptsGet || !errors.Is(err, mcpserver.ErrPromptNotFound) {
			return
		}
		kind, name, what = KindPrompt, req.Params.Name, "no prompt has this name"
	default:
		return
	}
	c := auth.CallerFrom(ctx)
	v := s.decide(c, kind, name)
	if v.Allowed { // mcp-go knows every tool, resource and prompt the choke point allows
		v = verdict{Reason: what}
	}
	s.write(ctx, request(kind, name, args, c, v))
}

// withCallable gives a tool's handler the check of which other tools c
// may call (tools.Callable).
func (s *Server) withCallable(ctx context.Context, c *auth.Caller) context.Context {
	return tools.WithCallable(ctx, func(tool string) (bool, string) {
		v := s.decide(c, KindTool, tool)
		return v.Allowed, v.Reason
	})
}

// authorizeAndAudit wraps every tool handler: it asks the choke point,
// validates arguments, has the user confirm a call of a tool named in
// Config.Confirm (see confirm.go), has the tool plan a call that needs approval
// (Spec.ApprovalPlan), passes the approval gate, runs the tool, and
// writes one durable audit record before the result is returned. A tool
// that is not read-only also gets a durable started record (same request
// id) before it acts. If the audit log cannot be written, nothing runs
// and no result is returned. Every call is tracked for shutdown (see
// drain), which refuses new ones.
func (s *Server) authorizeAndAudit(next mcpserver.ToolHandlerFunc) mcpserver.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		start := time.Now()
		c := auth.CallerFrom(ctx)
		name, args := req.Params.Name, req.GetRawArguments()
		ctx, call, accepting := s.calls.begin(ctx, c)
		defer s.calls.end(call)
		v := s.decide(c, KindTool, name)
		if v.Allowed && !accepting {
			v = verdict{Reason: "the server is shutting down; call again once it is back", entry: v.entry}
		}
		rec := request(KindTool, name, args, c, v)
		// refuse records rec (a refusal) and answers msg.
		refuse := func(rec *audit.Record, msg string) (*mcp.CallToolResult, error) {
			if err := s.write(ctx, rec); err != nil {
				return mcp.NewToolResultError(auditRefusal), nil
			}
			return mcp.NewToolResultError(msg), nil
		}
		if !v.Allowed {
			return refuse(rec, v.Reason)
		}
		e := v.entry
		// Over HTTP, rateGate has charged the call already (and answered
		// 429 when over the limit); over stdio it is charged here. The
		// retry that answers a confirmation this server asked is not
		// charged again: its first half was (see redeem).
		if !charged(ctx) {
			var answering bool
			ctx, answering = s.redeem(ctx, c, name, req.Params.RequestState, args)
			if !answering {
				if refused := s.limits.take(c, e.scope); refused != nil {
					return refuse(deny(rec, refused.reason(), nil), refused.reason())
				}
			}
		}
		// On a fleet entry node, a call for another member goes there: the
		// member checks the arguments, asks for confirmation and approval,
		// and records the call itself; this node records the forward.
		if s.fleet != nil {
			node, err := takeNode(&req)
			if err != nil {
				return refuse(deny(rec, "invalid arguments: "+err.Error(), nil), err.Error())
			}
			args = req.GetRawArguments()
			rec.Arguments = args
			if !s.fleet.Self(ctx, node) {
				return s.forward(ctx, call, e, rec, start, node, req)
			}
		}
		// Invalid arguments never create approval requests, and are a
		// refusal like any other: nothing runs.
		if verr := e.check(args); verr != nil {
			return refuse(deny(rec, "invalid arguments: "+verr.Error(), nil), verr.Error())
		}
		// A read-only call is checked without a stat of the log file: if
		// the file was removed or replaced, its record's commit finds out
		// and the result does not leave; any other call's started record
		// would, but it is asked for approval first, so it is checked now.
		healthy := s.audit.Healthy
		if e.spec.ReadOnly() {
			healthy = s.audit.Usable
		}
		if err := healthy(); err != nil {
			s.log.Error("refusing tool call: audit log unavailable", "tool", name, "error", err)
			s.metrics.ToolCall(name, metrics.DecisionDenied, metrics.ResultDenied, 0) // no record can say so
			return mcp.NewToolResultError(auditRefusal), nil
		}
		// The record carries the call's effective risk: the declared one,
		// unless the toolset's configuration lowers it for these arguments.
		rec.Risk = e.spec.CallRisk(req.GetArguments()).String()
		// The user confirms in the client before anyone is asked to
		// approve: a call its own user declines never reaches an approver.
		// Only the client's answer to the server's question confirms;
		// arguments cannot.
		if s.confirm[name] || s.confirmLowered && e.spec.Risk == tools.RiskCritical && rec.Risk == tools.RiskHigh.String() {
			co := s.askConfirmation(ctx, e, c, req)
			if co.ask != nil {
				return co.ask, nil // 2026-07-28: the client retries with the answer
			}
			rec.Confirmation = co.status
			if revoked(ctx) { // stopped waiting for the user: see stopRevoked
				return refuse(deny(rec, revokedWaiting, nil), revokedWaiting)
			}
			if co.status != audit.ConfirmConfirmed {
				return refuse(deny(rec, co.reason, nil), co.reason)
			}
		}
		if s.needsApproval(e, req.GetArguments()) {
			// The tool's plan (what will run) is shown to the approver and
			// bound into the approval; the handler then runs it. A call
			// that cannot be planned failed: no request is made. Without a
			// mechanism nothing is planned: the gate refuses the call.
			ac := approval.Call{Tool: name, Args: args, Caller: c, Risk: rec.Risk, RequestID: rec.RequestID}
			if e.spec.ApprovalPlan != nil && s.gate.Mechanism() != "" {
				plan, err := e.spec.ApprovalPlan(ctx, args)
				if err != nil && revoked(ctx) {
					return refuse(deny(rec, revokedWaiting, nil), revokedWaiting)
				}
				if err != nil {
					// Plans quote configuration (a compose error, a git
					// server's message): the rules of tool errors.
					msg := redact.Text(err.Error())
					failed := *rec
					outcome(&failed, mcp.NewToolResultError(msg), nil, time.Since(start))
					return refuse(&failed, msg)
				}
				ac.Plan, ac.Bind = plan.Detail, plan.Bind
				ctx = tools.WithPlan(ctx, &plan)
			}
			waitStart := time.Now()
			o, err := s.gate.Check(ctx, ac, tools.ProgressFrom(ctx).ApprovalWait())
			s.metrics.ApprovalWait(metrics.ApprovalOutcomeOf(o, err), time.Since(waitStart))
			if revoked(ctx) { // stopped waiting: see stopRevoked
				return refuse(deny(rec, revokedWaiting, nil), revokedWaiting)
			}
			if err != nil {
				s.log.Error("recording approval request", "tool", name, "error", err)
				const msg = "call refused: the approval request could not be recorded"
				return refuse(deny(rec, msg, nil), msg)
			}
			if !o.Allowed {
				return refuse(deny(rec, o.Message, o.AuditRef()), o.Message)
			}
			rec.Approval = o.AuditRef()
		}
		// A token revoked while the call waited (for its approval, or its
		// user's confirmation) no longer acts: revocation is checked on
		// every request, and this one began before it.
		if s.tokenRevoked(c) {
			return refuse(deny(rec, revokedWaiting, rec.Approval), revokedWaiting)
		}
		if !e.spec.ReadOnly() {
			started := *rec
			started.Event = audit.EventToolCallStarted
			if err := s.write(ctx, &started); err != nil {
				s.log.Error("the started record could not be written; the call does not run", "tool", name)
				return mcp.NewToolResultError(auditRefusal), nil
			}
		}
		s.calls.allowed(call, rec, start)
		// The tool may write records of its own as part of the call (a
		// stack's deployments): same request id, tool, caller and risk.
		ctx = tools.WithAudit(ctx, func(ctx context.Context, r *audit.Record) error {
			r.RequestID, r.Tool, r.Caller, r.Risk = rec.RequestID, rec.Tool, rec.Caller, rec.Risk
			return s.write(ctx, r)
		})
		res, err := next(s.withCallable(ctx, c), req)
		if !s.calls.claim(call) { // shutdown gave up on it and recorded it
			return mcp.NewToolResultError(interrupted), nil
		}
		if revoked(ctx) {
			return s.finishRevoked(ctx, rec, start, res, err)
		}
		if err == nil {
			res = s.linkResult(ctx, e, c, req.GetArguments(), res)
		}
		return s.finish(ctx, e, rec, start, res, err)
	}
}

// forward sends a call for another fleet member there and records the
// forward (audit.EventToolCallForwarded, with the member in Node) before
// the member's result goes back. A member's question to the user is
// relayed (see forwardConfirmed); a call the user did not confirm is
// recorded as refused.
func (s *Server) forward(ctx context.Context, call *call, e *entry, rec *audit.Record, start time.Time, node string, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	rec.Event, rec.Node = audit.EventToolCallForwarded, node
	if why := forwardable(rec.Caller, node); why != "" {
		if err := s.write(ctx, deny(rec, why, nil)); err != nil {
			return mcp.NewToolResultError(auditRefusal), nil
		}
		return mcp.NewToolResultError(why), nil
	}
	if err := s.audit.Healthy(); err != nil {
		return mcp.NewToolResultError(auditRefusal), nil
	}
	s.calls.allowed(call, rec, start)
	res, co := s.forwardConfirmed(ctx, e, node, req)
	rec.Confirmation = co.status
	if !s.calls.claim(call) {
		return mcp.NewToolResultError(interrupted), nil
	}
	if revoked(ctx) {
		return s.finishRevoked(ctx, rec, start, res, nil)
	}
	switch {
	case res != nil && res.NeedsInput():
		return res, nil // 2026-07-28: the caller retries with the answer
	case co.reason != "":
		if err := s.write(ctx, deny(rec, co.reason, nil)); err != nil {
			return mcp.NewToolResultError(auditRefusal), nil
		}
		return mcp.NewToolResultError(co.reason), nil
	}
	return s.finish(ctx, e, rec, start, res, nil)
}

// needsApproval reports whether a call must pass the approval gate: the
// tool's declaration says so for these arguments (critical, or its
// ApprovalFor: an http_request_test whose URL is not on the diagnostics
// allow-list), or the configuration's approval list names the tool.
func (s *Server) needsApproval(e *entry, args any) bool {
	if e.spec.CallNeedsApproval(args) {
		return true
	}
	return s.gate != nil && s.gate.NeedsApproval(e.name, false)
}

// finish writes the call's audit record, durably, before the result is
// returned; without the record, the result is withheld.
func (s *Server) finish(ctx context.Context, e *entry, rec *audit.Record, start time.Time, res *mcp.CallToolResult, err error) (*mcp.CallToolResult, error) {
	outcome(rec, res, err, time.Since(start))
	if werr := s.write(ctx, rec); werr != nil {
		msg := "the result is withheld: the audit log cannot be written, and TailOps returns nothing unaudited; " +
			"check the disk holding the audit log and the server's log (calls run again by themselves once it can be written)"
		if !e.spec.ReadOnly() {
			msg = "the call ran (its start is in the audit log), but its result record could not be written; the result is withheld, and no further calls run until the audit log can be written again"
		}
		return mcp.NewToolResultError(msg), nil
	}
	return res, err
}

// outcome adds a call's outcome to its record.
func outcome(rec *audit.Record, res *mcp.CallToolResult, err error, d time.Duration) {
	rec.DurationNS = d.Nanoseconds()
	switch {
	case err != nil:
		rec.Result, rec.Error = audit.ResultError, err.Error()
	case res != nil && res.IsError:
		rec.Result, rec.Error = audit.ResultError, resultText(res)
	default:
		rec.Result = audit.ResultSuccess
	}
}
