// SPDX-License-Identifier: Apache-2.0

package approval

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/redact"
)

// Gate defaults.
const (
	// DefaultWait is Config.Wait when 0.
	DefaultWait = 60 * time.Second
	// DefaultTTL is Config.TTL when 0.
	DefaultTTL = 15 * time.Minute
	// DefaultProgressEvery is Config.ProgressEvery when 0.
	DefaultProgressEvery = 5 * time.Second
	// sweepEvery is how often Run expires requests.
	sweepEvery = 30 * time.Second
)

// Audit events the Gate writes.
const (
	// EventRequest: a request was created, pending (Decision "pending").
	EventRequest audit.Event = "approval_request"
	// EventDecision: a request was approved ("allowed") or denied.
	EventDecision audit.Event = "approval_decision"
	// EventRefused: someone who may not decide a request tried to.
	EventRefused audit.Event = "approval_refused"
	// EventExpired: a pending or approved request expired unused.
	EventExpired audit.Event = "approval_expired"
)

// DecisionPending is the audit Decision of EventRequest records.
const DecisionPending = "pending"

// Config configures a Gate.
type Config struct {
	// Store keeps the requests; required when Webhook is set or TwoPerson
	// is true, ignored otherwise. Its clock is the Gate's clock.
	Store *Store
	// Webhook decides requests when not nil.
	Webhook *Webhook
	// TwoPerson enables two-person approval (Approve, Deny, the socket).
	// Webhook and TwoPerson are mutually exclusive; with neither, calls
	// needing approval are refused.
	TwoPerson bool
	// Wait is how long Check waits for a two-person decision before it
	// returns a pending outcome; 0 means DefaultWait. It is capped by the
	// request's expiry.
	Wait time.Duration
	// TTL is how long a request may be decided, and an approval used,
	// after it was created; 0 means DefaultTTL.
	TTL time.Duration
	// Extra names tools that need approval although they are not
	// critical (the configuration's approval list).
	Extra []string
	// Audit writes audit records (normally (*audit.Log).Write); required.
	// A request or decision whose record cannot be written does not
	// happen.
	Audit func(context.Context, *audit.Record) error
	// Logger receives warnings; nil means slog.Default().
	Logger *slog.Logger
	// ProgressEvery is how often Check reports progress while it waits;
	// 0 means DefaultProgressEvery.
	ProgressEvery time.Duration
}

// Gate decides whether calls that need approval may run. Its methods are
// safe for concurrent use.
type Gate struct {
	store         *Store
	webhook       *Webhook
	twoPerson     bool
	wait          time.Duration
	ttl           time.Duration
	extra         []string
	audit         func(context.Context, *audit.Record) error
	logger        *slog.Logger
	progressEvery time.Duration
}

// NewGate returns a Gate for c.
func NewGate(c Config) (*Gate, error) {
	g := &Gate{store: c.Store, webhook: c.Webhook, twoPerson: c.TwoPerson, wait: c.Wait, ttl: c.TTL,
		extra: slices.Clone(c.Extra), audit: c.Audit, logger: c.Logger, progressEvery: c.ProgressEvery}
	switch {
	case c.Audit == nil:
		return nil, errors.New("configuring approvals: no audit writer")
	case c.Webhook != nil && c.TwoPerson:
		return nil, errors.New("configuring approvals: a webhook and two-person approval are mutually exclusive")
	case (c.Webhook != nil || c.TwoPerson) && c.Store == nil:
		return nil, errors.New("configuring approvals: no store")
	case c.Webhook != nil && (c.Webhook.URL == "" || len(c.Webhook.Secret) == 0):
		return nil, errors.New("configuring approvals: the webhook needs a URL and a secret")
	case c.Wait < 0 || c.TTL < 0 || c.ProgressEvery < 0:
		return nil, errors.New("configuring approvals: negative duration")
	}
	if g.wait == 0 {
		g.wait = DefaultWait
	}
	if g.ttl == 0 {
		g.ttl = DefaultTTL
	}
	if g.progressEvery == 0 {
		g.progressEvery = DefaultProgressEvery
	}
	if g.logger == nil {
		g.logger = slog.Default()
	}
	return g, nil
}

// Mechanism returns the configured mechanism: MechanismWebhook,
// MechanismTwoPerson, or "" for none (a nil Gate has none, so its Check
// refuses every call).
func (g *Gate) Mechanism() Mechanism {
	switch {
	case g == nil:
		return ""
	case g.webhook != nil:
		return MechanismWebhook
	case g.twoPerson:
		return MechanismTwoPerson
	}
	return ""
}

// NeedsApproval reports whether a call of toolName needs approval: it is
// critical, or in Config.Extra.
func (g *Gate) NeedsApproval(toolName string, critical bool) bool {
	return critical || slices.Contains(g.extra, toolName)
}

// Call is a tool call that needs approval.
type Call struct {
	// Tool is the tool's name.
	Tool string
	// Args are the exact arguments the tool will run with.
	Args any
	// Plan is what the call will run, for the approver to see (the
	// tool's approval plan: tools.Plan.Detail); the request keeps, sends
	// and audits a redacted copy. nil when the tool plans nothing.
	Plan any
	// Bind is a digest of exactly what will run (tools.Plan.Bind), bound
	// into the request's digest with the arguments (BoundDigest): an
	// approval of one plan never lets another run. Empty binds the
	// arguments only.
	Bind string
	// Caller is the authenticated caller; a nil Caller is refused.
	Caller *auth.Caller
	// Risk is the tool's risk level.
	Risk string
	// RequestID is the id of the call's tool_call audit record, copied
	// into the Gate's records; may be empty.
	RequestID string
}

// Outcome is what Check decided.
type Outcome struct {
	// Allowed is true when the call may run, once: an approval bound to
	// it was consumed.
	Allowed bool
	// Pending is true when a request is waiting for a two-person decision;
	// repeating the same call after approval runs it.
	Pending bool
	// ApprovalID is the request's id; "" when none was made (no mechanism,
	// no caller).
	ApprovalID string
	// Message tells the caller why the call did not run; "" when Allowed.
	Message string
	// Request is the request as Check last saw it; nil when ApprovalID is
	// "".
	Request *Request
}

// HiddenSyntaxMessage is the refusal of a call that cannot be put to a
// person (who: an approver, the user) because redacting a secret in its
// argument at where (redact.HidesSyntax) would hide command syntax too:
// they could not see what runs.
func HiddenSyntaxMessage(tool, where, who string) string {
	if where == "" {
		where = "(the arguments)"
	}
	return fmt.Sprintf("call refused: %s cannot be put to %s: redacting a secret in argument %s would also hide the command syntax "+
		"after it (;, |, &, $(…), a redirection or a new line), so they could not see what runs. Pass the secret another way "+
		"(an environment variable or a file the command reads) and call again", tool, who, where)
}

// AuditRef is what the tool's own audit record carries in
// audit.Record.Approval: the request's id, state, mechanism and approver;
// nil when no request was made.
func (o Outcome) AuditRef() any {
	if o.Request == nil {
		return nil
	}
	ref := map[string]any{"id": o.Request.ID, "state": string(o.Request.State), "digest": o.Request.Digest}
	if d := o.Request.Decision; d != nil {
		ref["mechanism"] = string(d.Mechanism)
		ref["approver"] = d.Approver
		ref["wait_ns"] = d.Wait.Nanoseconds()
	}
	return ref
}

// ProgressFunc receives progress while Check waits for a decision:
// elapsed and total wait, and a message for people. Check calls it on
// the goroutine that called Check, first when the wait starts, then every
// Config.ProgressEvery, never after Check returned.
type ProgressFunc func(elapsed, total time.Duration, message string)

// NoMechanismMessage is the refusal when no approval mechanism is
// configured; %s is the tool's name.
const NoMechanismMessage = "approval required: %s needs approval and no approval mechanism is configured; " +
	"start tailops with --approval-webhook URL and --approval-webhook-secret-file FILE, " +
	"or with --approval-two-person (approve with `tailops approvals approve ID` or the approve_request tool)"

// Check decides whether call may run. In order:
//
//  1. With no mechanism, or no caller, the call is refused.
//  2. An approved, unused, unexpired request for the same tool, argument
//     digest (keyed, under the store's key, with call.Bind bound in:
//     BoundDigest) and caller is consumed: Allowed.
//  3. Otherwise Check reuses the pending request for the same call
//     (two-person) or creates one, audited as EventRequest, and asks the
//     mechanism: the webhook synchronously (bounded by its timeout), or
//     two-person by waiting up to Config.Wait for a decision, reporting
//     progress. An approval is consumed at once: Allowed. A denial, or a
//     wait that ends undecided (Pending), returns a Message for the caller.
//
// The error is non-nil only when the store or the audit log failed; the
// call must then not run. Outcome.Message is then empty.
func (g *Gate) Check(ctx context.Context, call Call, progress ProgressFunc) (Outcome, error) {
	if g.Mechanism() == "" {
		return Outcome{Message: fmt.Sprintf(NoMechanismMessage, call.Tool)}, nil
	}
	if call.Caller == nil || call.Caller.Agent == "" {
		return Outcome{Message: "approval required: " + call.Tool + " needs approval, and the caller is not identified"}, nil
	}
	if where, hides := redact.HidesSyntax(call.Args); hides {
		return Outcome{Message: HiddenSyntaxMessage(call.Tool, where, "an approver")}, nil
	}
	if where, hides := redact.HidesSyntaxInLines(call.Plan); hides {
		return Outcome{Message: HiddenSyntaxMessage(call.Tool, "(the plan) "+where, "an approver")}, nil
	}
	g.sweep(ctx)
	digest, err := BoundDigest(g.store.key, call.Tool, call.Args, call.Bind)
	if err != nil {
		return Outcome{Message: "approval required: " + call.Tool + ": the arguments cannot be bound to an approval"}, nil
	}
	b := Binding{Tool: call.Tool, Digest: digest, CallerKey: CallerKey(call.Caller)}
	if r, err := g.store.Consume(b); err == nil {
		return allowed(r), nil
	} else if !errors.Is(err, ErrNoApproval) {
		return Outcome{}, err
	}

	r, err := g.create(ctx, call)
	if errors.Is(err, ErrTooManyPending) {
		return Outcome{Message: "approval required: " + call.Tool + ": " + err.Error()}, nil
	}
	if err != nil {
		return Outcome{}, err
	}
	if g.webhook != nil {
		return g.askWebhook(ctx, r, progress)
	}
	return g.awaitPerson(ctx, r, progress)
}

func allowed(r Request) Outcome {
	return Outcome{Allowed: true, ApprovalID: r.ID, Request: &r}
}

// create makes, audits and stores a request for call; with two-person
// approval it returns the pending request for the same call instead, if
// there is one.
func (g *Gate) create(ctx context.Context, call Call) (Request, error) {
	r, err := g.store.newRequest(call, g.ttl)
	if err != nil {
		return Request{}, err
	}
	made, audited := r, false
	r, reused, err := g.store.add(r, g.twoPerson, func(r Request) error {
		rec := &audit.Record{Event: EventRequest, RequestID: call.RequestID, Tool: call.Tool, Arguments: call.Args,
			Detail: r.Plan, Caller: call.Caller, Risk: call.Risk, Decision: DecisionPending,
			Reason: "approval requested from " + string(g.Mechanism()),
			Approval: map[string]any{"id": r.ID, "state": string(r.State), "digest": r.Digest,
				"mechanism": string(g.Mechanism()), "created": r.Created, "expires": r.Expires}}
		if err := g.audit(ctx, rec); err != nil {
			return fmt.Errorf("auditing approval request: %w", err)
		}
		audited = true
		return nil
	})
	if err != nil {
		if audited {
			// The log says the request is pending; it is not: say so.
			rec := &audit.Record{Event: EventExpired, RequestID: call.RequestID, Tool: call.Tool, Caller: call.Caller, Risk: call.Risk,
				Decision: audit.DecisionDenied, Reason: "dropped undecided: the request could not be stored (" + err.Error() + "), so it can never be approved",
				Approval: map[string]any{"id": made.ID, "state": string(StateExpired), "dropped": true}}
			if aerr := g.audit(ctx, rec); aerr != nil {
				err = errors.Join(err, fmt.Errorf("auditing the dropped approval request: %w", aerr))
			}
		}
		return Request{}, err
	}
	if !reused {
		g.logger.Info("approval requested", slog.String("approval_id", r.ID), slog.String("tool", r.Tool),
			slog.String("requester", r.Requester()), slog.String("mechanism", string(g.Mechanism())))
	}
	return r, nil
}

// askWebhook has the webhook decide r, reporting progress while it waits.
func (g *Gate) askWebhook(ctx context.Context, r Request, progress ProgressFunc) (Outcome, error) {
	done := make(chan Verdict, 1)
	go func() { done <- g.webhook.Decide(ctx, &r) }()
	total := g.webhook.Timeout
	if total <= 0 {
		total = DefaultWebhookTimeout
	}
	start := time.Now()
	report(progress, 0, total, fmt.Sprintf("waiting for the approval webhook to decide request %s", r.ID))
	tick := time.NewTicker(g.progressEvery)
	defer tick.Stop()
	var v Verdict
wait:
	for {
		select {
		case v = <-done:
			break wait
		case <-tick.C:
			report(progress, time.Since(start), total,
				fmt.Sprintf("waiting for the approval webhook to decide request %s (%s)", r.ID, time.Since(start).Round(time.Second)))
		}
	}
	d, err := g.decide(ctx, r.ID, v.Approved, v.Reason, Approver{Mechanism: MechanismWebhook, Name: v.Approver})
	if errors.Is(err, ErrSelfApproval) {
		// The webhook named the requester as approver: deny.
		d, err = g.decide(ctx, r.ID, false, "webhook: the approver it named is the requester", Approver{Mechanism: MechanismWebhook})
	}
	if err != nil {
		if errors.Is(err, ErrExpired) || errors.Is(err, ErrNotPending) || errors.Is(err, ErrNotFound) {
			return refused(d, fmt.Sprintf("approval request %s: %v", r.ID, err)), nil
		}
		return Outcome{}, err
	}
	return g.afterDecision(d)
}

// afterDecision turns a decided request into an outcome, consuming an
// approval.
func (g *Gate) afterDecision(d Request) (Outcome, error) {
	switch d.State {
	case StateApproved:
		u, err := g.store.ConsumeID(d.ID, d.Binding())
		if errors.Is(err, ErrNoApproval) {
			cur, gerr := g.store.Get(d.ID)
			if gerr == nil {
				d = cur
			}
			return refused(d, fmt.Sprintf("approval request %s is %s (another identical call used it, or it expired); repeat the call to request approval again", d.ID, d.State)), nil
		}
		if err != nil {
			return Outcome{}, err
		}
		return allowed(u), nil
	case StateDenied:
		msg := fmt.Sprintf("approval denied: request %s was denied by %s", d.ID, d.Decision.Approver)
		if d.Decision.Reason != "" {
			msg += ": " + d.Decision.Reason
		}
		return refused(d, msg), nil
	}
	return refused(d, fmt.Sprintf("approval request %s is %s; repeat the call to request approval again", d.ID, d.State)), nil
}

func refused(r Request, msg string) Outcome {
	o := Outcome{ApprovalID: r.ID, Message: msg}
	if r.ID != "" {
		o.Request = &r
	}
	return o
}

// PendingMessage is the message of a pending outcome; %[1]s is the
// request's id.
const PendingMessage = "approval pending: request %[1]s; approve with `tailops approvals approve %[1]s` on the host " +
	"or the approve_request tool; then repeat the call"

// awaitPerson waits up to g.wait for a two-person decision on r.
func (g *Gate) awaitPerson(ctx context.Context, r Request, progress ProgressFunc) (Outcome, error) {
	total := min(g.wait, r.Expires.Sub(g.store.Now()))
	start := time.Now()
	deadline := time.NewTimer(max(total, 0))
	defer deadline.Stop()
	tick := time.NewTicker(g.progressEvery)
	defer tick.Stop()
	report(progress, 0, total, fmt.Sprintf("waiting for approval of request %s (up to %s)", r.ID, total.Round(time.Second)))
	pending := func() Outcome {
		o := Outcome{Pending: true, ApprovalID: r.ID, Message: fmt.Sprintf(PendingMessage, r.ID)}
		o.Request = &r
		return o
	}
	for {
		ch := g.store.changes()
		cur, err := g.store.Get(r.ID)
		if err != nil {
			return Outcome{}, err
		}
		r = cur
		if r.State != StatePending {
			if r.State == StateExpired {
				g.sweep(ctx)
			}
			return g.afterDecision(r)
		}
		select {
		case <-ch:
		case <-tick.C:
			el := time.Since(start)
			report(progress, el, total, fmt.Sprintf("waiting for approval of request %s (%s of %s)", r.ID,
				el.Round(time.Second), total.Round(time.Second)))
		case <-deadline.C:
			return pending(), nil
		case <-ctx.Done():
			return pending(), nil
		}
	}
}

func report(p ProgressFunc, elapsed, total time.Duration, msg string) {
	if p != nil {
		p(elapsed, total, msg)
	}
}

// Approve approves the pending request id on behalf of the MCP caller
// approver, who needs scope approvals:grant and must be another identity
// than the requester (by token agent and by Tailscale login). The
// decision, or the refusal, is audited. Errors wrap ErrNotFound,
// ErrExpired, ErrNotPending, ErrNoGrantScope, ErrSelfApproval or
// ErrTwoPersonDisabled; their text may be shown to the caller.
func (g *Gate) Approve(ctx context.Context, id string, approver *auth.Caller, reason string) (Request, error) {
	return g.decidePerson(ctx, id, true, reason, Approver{Mechanism: MechanismTwoPerson, Caller: approver})
}

// Deny denies the pending request id on behalf of approver, under the same
// rules as Approve.
func (g *Gate) Deny(ctx context.Context, id string, approver *auth.Caller, reason string) (Request, error) {
	return g.decidePerson(ctx, id, false, reason, Approver{Mechanism: MechanismTwoPerson, Caller: approver})
}

// DecideLocal approves or denies the request id on behalf of a host user
// (MechanismLocalCLI); the socket server calls it after checking the
// peer's uid.
func (g *Gate) DecideLocal(ctx context.Context, id string, approved bool, reason string, user LocalUser) (Request, error) {
	return g.decidePerson(ctx, id, approved, reason, Approver{Mechanism: MechanismLocalCLI, Local: &user})
}

func (g *Gate) decidePerson(ctx context.Context, id string, approved bool, reason string, by Approver) (Request, error) {
	if !g.twoPerson {
		return Request{}, ErrTwoPersonDisabled
	}
	if !validID(id) {
		return Request{}, fmt.Errorf("%w: %q is not a request id", ErrNotFound, truncate(id, 40))
	}
	g.sweep(ctx)
	return g.decide(ctx, id, approved, truncate(reason, 1000), by)
}

// decide records a decision with its audit record; a refusal by policy is
// audited as EventRefused.
func (g *Gate) decide(ctx context.Context, id string, approved bool, reason string, by Approver) (Request, error) {
	recorded := false
	r, err := g.store.decide(id, approved, reason, by, func(r Request) error {
		if err := g.auditDecision(ctx, r, by); err != nil {
			return err
		}
		recorded = true
		return nil
	})
	if err != nil && recorded {
		// The log holds the decision; the store does not: say so.
		rec := &audit.Record{Event: EventRefused, Tool: r.Tool, Caller: actor(by), Decision: audit.DecisionDenied,
			Reason:   "the decision could not be stored (" + err.Error() + "); the request stays " + string(r.State),
			Approval: map[string]any{"id": id, "mechanism": string(by.Mechanism), "approver": by.identity(), "approve": approved, "requester": r.Requester()}}
		if aerr := g.audit(ctx, rec); aerr != nil {
			return r, errors.Join(err, fmt.Errorf("auditing the unstored approval decision: %w", aerr))
		}
		return r, err
	}
	if err != nil && (errors.Is(err, ErrSelfApproval) || errors.Is(err, ErrNoGrantScope) ||
		errors.Is(err, ErrNotPending) || errors.Is(err, ErrExpired)) {
		g.logger.Warn("approval decision refused", slog.String("approval_id", id), slog.String("approver", by.identity()),
			slog.String("mechanism", string(by.Mechanism)), slog.Any("error", err))
		rec := &audit.Record{Event: EventRefused, Tool: r.Tool, Caller: actor(by), Decision: audit.DecisionDenied,
			Reason: err.Error(), Approval: map[string]any{"id": id, "mechanism": string(by.Mechanism),
				"approver": by.identity(), "approve": approved, "requester": r.Requester()}}
		if aerr := g.audit(ctx, rec); aerr != nil {
			return r, fmt.Errorf("auditing refused approval decision: %w", aerr)
		}
		return r, err
	}
	if err != nil {
		return r, err
	}
	g.logger.Info("approval decided", slog.String("approval_id", id), slog.Bool("approved", approved),
		slog.String("approver", r.Decision.Approver), slog.String("mechanism", string(by.Mechanism)),
		slog.Duration("wait", r.Decision.Wait))
	return r, nil
}

// auditDecision writes the EventDecision record for r.
func (g *Gate) auditDecision(ctx context.Context, r Request, by Approver) error {
	d := r.Decision
	dec := audit.DecisionDenied
	if d.Approved {
		dec = audit.DecisionAllowed
	}
	rec := &audit.Record{Event: EventDecision, Tool: r.Tool, Arguments: r.Arguments, Caller: actor(by), Risk: r.Risk,
		Decision: dec, Reason: d.Reason, DurationNS: d.Wait.Nanoseconds(),
		Approval: map[string]any{"id": r.ID, "state": string(r.State), "digest": r.Digest, "mechanism": string(d.Mechanism),
			"approver": d.Approver, "requester": r.Requester(), "wait_ns": d.Wait.Nanoseconds(), "expires": r.Expires}}
	if err := g.audit(ctx, rec); err != nil {
		return fmt.Errorf("auditing approval decision: %w", err)
	}
	return nil
}

// actor is the audit record's Caller for a decision: the MCP approver, or
// a caller standing for the host user or the webhook.
func actor(by Approver) *auth.Caller {
	switch by.Mechanism {
	case MechanismTwoPerson:
		if by.Caller != nil {
			return by.Caller
		}
	case MechanismLocalCLI, MechanismWebhook:
		return &auth.Caller{Agent: by.identity(), Method: auth.Method(by.Mechanism)}
	}
	return &auth.Caller{Agent: "unknown"}
}

// List returns the pending requests (all requests when all is true) for
// caller, who needs scope approvals:grant.
func (g *Gate) List(ctx context.Context, caller *auth.Caller, all bool) ([]Request, error) {
	if !caller.Allows(auth.ScopeApprovalsGrant) {
		return nil, ErrNoGrantScope
	}
	return g.list(ctx, all)
}

func (g *Gate) list(ctx context.Context, all bool) ([]Request, error) {
	if g.store == nil {
		return []Request{}, nil
	}
	g.sweep(ctx)
	return g.store.List(all)
}

// Get returns the request id for caller, who needs scope approvals:grant.
func (g *Gate) Get(ctx context.Context, caller *auth.Caller, id string) (Request, error) {
	if !caller.Allows(auth.ScopeApprovalsGrant) {
		return Request{}, ErrNoGrantScope
	}
	return g.get(ctx, id)
}

func (g *Gate) get(ctx context.Context, id string) (Request, error) {
	if g.store == nil {
		return Request{}, ErrNotFound
	}
	g.sweep(ctx)
	return g.store.Get(id)
}

// Sweep expires due requests and audits every request that expired since
// the last sweep (EventExpired), including those the Store expired when
// it was opened and the pending or approved ones it dropped then because
// they could never match a call (Request.Dropped): their record's reason
// says why, and it has no expiry, nor a digest if theirs was unkeyed.
// A request whose record cannot be written is tried again at the next
// sweep. Check, Approve, Deny, List and Get sweep too; Run sweeps
// periodically.
func (g *Gate) Sweep(ctx context.Context) error {
	if g.store == nil {
		return nil
	}
	exp, err := g.store.Expire()
	if err != nil {
		return err
	}
	var errs []error
	var unaudited []Request // tried again at the next sweep
	defer func() {
		if len(unaudited) > 0 {
			g.store.Requeue(unaudited)
		}
	}()
	for _, r := range exp {
		state := "undecided"
		if r.Decision != nil && r.Decision.Approved {
			state = "approved but unused"
		}
		reason := "expired " + state
		ref := map[string]any{"id": r.ID, "state": string(StateExpired)}
		if keyedDigest(r.Digest) {
			ref["digest"] = r.Digest
		}
		if r.Dropped != "" {
			// Dropped by OpenStore, maybe before its expiry: the record
			// says why, and gives no expiry.
			reason = "dropped " + state + " when the approval store was opened: " + string(r.Dropped) +
				", so it can never match a call"
			ref["dropped"] = true
		} else {
			ref["expires"] = r.Expires
		}
		rec := &audit.Record{Event: EventExpired, Tool: r.Tool, Caller: &r.Caller, Risk: r.Risk,
			Decision: audit.DecisionDenied, Reason: reason, Approval: ref}
		if err := g.audit(ctx, rec); err != nil {
			errs = append(errs, fmt.Errorf("auditing expiry of approval request %s: %w", r.ID, err))
			unaudited = append(unaudited, r)
			continue
		}
		g.logger.Info("approval request expired", slog.String("approval_id", r.ID), slog.String("tool", r.Tool),
			slog.String("reason", reason))
	}
	return errors.Join(errs...)
}

// sweep is Sweep with errors logged.
func (g *Gate) sweep(ctx context.Context) {
	if err := g.Sweep(ctx); err != nil {
		g.logger.Error("sweeping approval requests", slog.Any("error", err))
	}
}

// Run sweeps every 30 seconds until ctx is done, then returns nil.
func (g *Gate) Run(ctx context.Context) error {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		g.sweep(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
