// SPDX-License-Identifier: Apache-2.0

package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/metrics"
)

// The choke point. Whatever path a request takes — tools/list, the HTTP
// pre-check of a tools/call, the call itself — whether the caller may use
// what it names is decided by decide alone, and every audit record of a
// request is built by request or refusal below (setec's checkAndLog is the
// model). Nothing else compares scopes or fills audit.Record by hand.

// Kind is what a request names: a tool, a prompt or a resource.
type Kind string

// Kinds.
const (
	KindTool     Kind = "tool"
	KindPrompt   Kind = "prompt"
	KindResource Kind = "resource"
	// KindCompletion is a completion/complete of a prompt's argument; it
	// is decided as the prompt, and recorded as a completion.
	KindCompletion Kind = "completion"
	// KindResourceCompletion is a completion/complete of a resource
	// template's variable; it is decided as the template's tool, and
	// recorded as a completion naming the template.
	KindResourceCompletion Kind = "resource_completion"
)

// verdict is the decision on a request.
type verdict struct {
	// Allowed is true when the caller may use the entry.
	Allowed bool
	// Reason says why not, in words for the caller and the audit log.
	Reason string
	// Missing is the scope the caller lacks, when that is the reason.
	Missing auth.Scope
	// entry is what the request names; nil when this server does not
	// serve it.
	entry *entry
}

// decide is the one authorization decision: whether c may use the kind
// named name on this server.
func (s *Server) decide(c *auth.Caller, kind Kind, name string) verdict {
	k := entryKey{kind, name}
	e := s.entries[k]
	if kind == KindResource && e == nil {
		if v, ok := s.decideView(c, name); ok {
			return v
		}
	}
	switch {
	case e == nil && s.known[k]:
		return verdict{Reason: fmt.Sprintf("%s %s is disabled on this server", kind, name)}
	case e == nil:
		return verdict{Reason: fmt.Sprintf("unknown %s %s", kind, name)}
	case !c.Allows(e.scope):
		return verdict{Reason: fmt.Sprintf("insufficient scope: %s requires %s", name, e.scope), Missing: e.scope, entry: e}
	}
	if e.prompt != nil {
		// A prompt is a workflow over tools: it is the caller's only when
		// every tool it uses is.
		for _, tool := range e.prompt.Uses {
			if v := s.decide(c, KindTool, tool); !v.Allowed {
				return verdict{Reason: fmt.Sprintf("prompt %s uses tool %s: %s", name, tool, v.Reason), Missing: v.Missing, entry: e}
			}
		}
	}
	return verdict{Allowed: true, entry: e}
}

// eventOf is the audit event of a request for kind.
func eventOf(kind Kind) audit.Event {
	switch kind {
	case KindPrompt:
		return audit.EventPromptGet
	case KindResource:
		return audit.EventResourceRead
	case KindCompletion, KindResourceCompletion:
		return audit.EventCompletion
	}
	return audit.EventToolCall
}

// request builds the audit record of a request for kind/name with
// arguments args by c, decided by v: a refusal is complete (decision,
// reason, result denied); an allowed request gets its outcome from
// outcome once it has one.
func request(kind Kind, name string, args any, c *auth.Caller, v verdict) *audit.Record {
	rec := &audit.Record{Event: eventOf(kind), RequestID: newRequestID(), Arguments: args, Caller: c}
	switch kind {
	case KindTool:
		rec.Tool = name
	case KindPrompt, KindCompletion:
		rec.Prompt = name
	case KindResource, KindResourceCompletion:
		rec.Resource = name
	}
	if v.entry != nil {
		rec.Risk = v.entry.risk.String()
	}
	if v.Allowed {
		rec.Decision = audit.DecisionAllowed
		return rec
	}
	rec.Decision, rec.Reason, rec.Result = audit.DecisionDenied, v.Reason, audit.ResultDenied
	return rec
}

// refusal builds the record of a request refused before it named
// anything: a failed authentication (audit.EventAuthDenied), a refused
// session (audit.EventSessionDenied).
func refusal(ev audit.Event, c *auth.Caller, reason string) *audit.Record {
	return &audit.Record{Event: ev, RequestID: newRequestID(), Caller: c, Decision: audit.DecisionDenied,
		Reason: reason, Result: audit.ResultDenied}
}

// lifecycle builds a record of the server's own: start, stop.
func lifecycle(ev audit.Event, reason string) *audit.Record {
	return &audit.Record{Event: ev, Decision: audit.DecisionAllowed, Result: audit.ResultSuccess, Reason: reason}
}

// deny returns a copy of an allowed request's record, refused for reason
// (an invalid argument, a declined approval): the request id stays.
func deny(rec *audit.Record, reason string, approvalRef any) *audit.Record {
	r := *rec
	r.Decision, r.Reason, r.Result = audit.DecisionDenied, reason, audit.ResultDenied
	if approvalRef != nil {
		r.Approval = approvalRef
	}
	return &r
}

// write writes rec durably; a failure is logged and returned, and the
// caller must then withhold what the record was for.
func (s *Server) write(ctx context.Context, rec *audit.Record) error {
	if rec.Event == audit.EventToolCall {
		s.metrics.ToolCall(rec.Tool, metrics.Decision(rec.Decision), metrics.Result(rec.Result), time.Duration(rec.DurationNS))
	}
	if err := s.audit.Write(ctx, rec); err != nil {
		s.log.Error("writing audit record", slog.String("event", string(rec.Event)), slog.String("tool", rec.Tool), slog.Any("error", err))
		return err
	}
	return nil
}

// newRequestID returns a random id for a request's records.
func newRequestID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}
