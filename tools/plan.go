// SPDX-License-Identifier: Apache-2.0

package tools

import (
	"context"

	"github.com/tailops/tailops/audit"
)

// Plan is what a call that waits for approval will do, made by the tool's
// Spec.ApprovalPlan before the approval request, so that the approver sees
// what will run and the approval is bound to it.
type Plan struct {
	// Detail is what the approver sees besides the arguments (a deploy's
	// resolved compose configuration and commit); it is redacted again
	// (redact.Value) before it is stored, sent or written anywhere, but
	// should hold no secret in the first place.
	Detail any
	// Bind is a digest of exactly what will run (a resolved
	// configuration's hash and commit): folded into the approval's
	// argument digest, so that an approval of one plan never runs another.
	// Empty binds the arguments only.
	Bind string
	// Value is the tool's own: the handler gets the plan back (PlanFrom)
	// and runs Value rather than planning again. Never shown.
	Value any
}

type planKey struct{}

// WithPlan returns ctx carrying p, the plan the call was approved with.
func WithPlan(ctx context.Context, p *Plan) context.Context {
	return context.WithValue(ctx, planKey{}, p)
}

// PlanFrom returns the plan the call was approved with, if the server made
// one (the call needed approval and the tool has an ApprovalPlan); a
// handler without one plans itself.
func PlanFrom(ctx context.Context) (*Plan, bool) {
	p, ok := ctx.Value(planKey{}).(*Plan)
	return p, ok && p != nil
}

// AuditFunc writes an audit record on behalf of the call in progress.
type AuditFunc func(ctx context.Context, rec *audit.Record) error

type auditKey struct{}

// WithAudit returns ctx carrying the server's recorder for the call in
// progress (the server sets it for every tool call; it fills the record's
// request id, tool, caller and risk from the call).
func WithAudit(ctx context.Context, f AuditFunc) context.Context {
	return context.WithValue(ctx, auditKey{}, f)
}

// Audit writes rec to the audit log, durably, through the recorder ctx
// carries, as part of the call in progress (same request id as its
// tool_call record). A tool records there what its caller must find in
// the audit log besides the call itself (a stack's deployments); an
// error means the record is not in the log, and the tool must say so.
// Without a recorder (a handler called outside a server, as some tests
// do) nothing is written and the error is nil.
func Audit(ctx context.Context, rec *audit.Record) error {
	f, ok := ctx.Value(auditKey{}).(AuditFunc)
	if !ok || f == nil {
		return nil
	}
	return f(ctx, rec)
}
