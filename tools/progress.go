// SPDX-License-Identifier: Apache-2.0

package tools

import (
	"context"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/tailops/tailops/approval"
	"github.com/tailops/tailops/redact"
)

// Progress reports one tool call's progress to the client that made it,
// as MCP notifications/progress, when the request carries a progress
// token. There is one per call, shared by everything that reports on the
// call's behalf: the approval gate while the call waits for a decision
// (ApprovalWait), then the tool (ProgressFrom). Each of them reports in
// its own stage, counting from 0 as it likes; Progress places each stage
// after everything sent before it and never sends a value lower than or
// equal to one it sent, as MCP requires. A nil *Progress reports nothing.
type Progress struct {
	ctx   context.Context
	srv   *server.MCPServer
	token mcp.ProgressToken

	mu     sync.Mutex
	sent   bool
	last   float64   // the last progress value sent
	lastAt time.Time // when it was sent
	base   float64   // added to the current stage's values
}

// progressEvery is the least time between two reports that are not final.
const progressEvery = 100 * time.Millisecond

// NewProgress returns the reporter for the call req, which ctx (the
// handler's) carries to the MCP session that made it; nil when the request
// carries no progress token or ctx no MCP server.
func NewProgress(ctx context.Context, req mcp.CallToolRequest) *Progress {
	m := req.Params.Meta
	if m == nil || m.ProgressToken == nil {
		return nil
	}
	srv := server.ServerFromContext(ctx)
	if srv == nil {
		return nil
	}
	return &Progress{ctx: ctx, srv: srv, token: m.ProgressToken}
}

type progressKey struct{}

// WithProgress returns a copy of ctx that carries p.
func WithProgress(ctx context.Context, p *Progress) context.Context {
	return context.WithValue(ctx, progressKey{}, p)
}

// ProgressFrom returns the call's reporter ctx carries; nil (which reports
// nothing) when there is none.
func ProgressFrom(ctx context.Context) *Progress {
	p, _ := ctx.Value(progressKey{}).(*Progress)
	return p
}

// ProgressMiddleware gives every tool call its reporter before anything
// else handles it, so the approval gate and the tool share it. Install it
// outside the middleware that runs the approval gate.
func ProgressMiddleware(next server.ToolHandlerFunc) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		ctx, _ = callProgress(ctx, req)
		return next(ctx, req)
	}
}

// callProgress returns ctx carrying the call's reporter, and the reporter:
// the one ctx carries already, else a new one for req (a handler run
// without ProgressMiddleware).
func callProgress(ctx context.Context, req mcp.CallToolRequest) (context.Context, *Progress) {
	if _, ok := ctx.Value(progressKey{}).(*Progress); ok {
		return ctx, ProgressFrom(ctx)
	}
	p := NewProgress(ctx, req)
	return WithProgress(ctx, p), p
}

// Stage starts a new stage of the call: later reports count from just
// above the last value sent, so the stage may count from 0 again.
func (p *Progress) Stage() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sent {
		p.base = p.last + 1
	}
}

// Report sends done of total (total 0: unknown) for the current stage,
// with a message for people, redacted. A report that would not increase the
// progress is dropped, and so is one that comes within progressEvery of
// the last unless it is final.
func (p *Progress) Report(done, total float64, msg string, final bool) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	v := p.base + done
	if p.sent && (v <= p.last || (!final && time.Since(p.lastAt) < progressEvery)) {
		return
	}
	// A message may quote a daemon's or compose's error, which the
	// result redacts; so is the message.
	params := map[string]any{"progressToken": p.token, "progress": v, "message": redact.Text(msg)}
	if total > 0 {
		params["total"] = p.base + total
	}
	// A client that went away cannot be told; the work goes on.
	_ = p.srv.SendNotificationToClient(p.ctx, "notifications/progress", params)
	p.sent, p.last, p.lastAt = true, v, time.Now()
}

// ApprovalWait starts a stage for the approval gate's wait and returns
// what the gate reports it through: seconds waited of the seconds it may
// wait. Nil when p is.
func (p *Progress) ApprovalWait() approval.ProgressFunc {
	if p == nil {
		return nil
	}
	p.Stage()
	return func(elapsed, total time.Duration, msg string) {
		p.Report(elapsed.Seconds(), total.Seconds(), msg, true)
	}
}
