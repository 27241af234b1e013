// SPDX-License-Identifier: Apache-2.0

// Package approval gates tool calls that need a person's approval: critical
// tools, and the tools an operator lists in the configuration.
//
// # Model
//
// A call that needs approval becomes a Request bound to the exact call: the
// tool, a keyed Digest of its exact arguments, and the caller (CallerKey:
// token agent, token id and Tailscale login). Nothing the model sends
// counts as approval; only a Decision recorded by a configured mechanism
// does:
//
//   - a Webhook, which receives the signed request and answers
//     synchronously, or
//   - two-person approval: a second identity with scope approvals:grant
//     decides through the Gate's Approve and Deny (the MCP tools), or
//     root or the service user decides on the host through the unix
//     socket served by ServeSocket (the `tailops approvals` command, via
//     Client).
//
// An approved request is single-use: the Gate consumes it for the first
// call with the same tool, digest and caller before it expires, and never
// for another. Requests are kept in a Store file in the state directory, so
// pending and approved requests survive a restart; requests past their
// expiry become expired, never approved.
//
// # Digest
//
// The digest is written to the audit log and the store and shown to
// approvers, while the arguments are shown redacted. It is therefore keyed
// (HMAC-SHA256, see Digest): without the key, which never leaves the
// server, nobody can test guesses of a redacted argument, such as a short
// password, against it. The key is a random file next to the store, so it
// is the same after a restart (see KeyFileSuffix). Digests start with
// DigestPrefix. The store file records a short id of the key its requests
// were made under (the first 8 bytes of HMAC-SHA256(key, "tailops approval
// key id"), in hex), so that a key file that was deleted or replaced is
// detected. A request that can never match a call, because it was stored
// with the unkeyed digest of earlier versions or made under a key that was
// since replaced or lost, is dropped when the store is opened, and audited
// once as expired, with the reason, if it was still pending or approved.
//
// # Audit
//
// The Gate writes EventRequest when it creates a request, EventDecision
// when a mechanism decides one, EventRefused when someone may not decide
// one, and EventExpired when one expires. The tool's own record references
// the request through Outcome.AuditRef.
package approval

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tailops/tailops/auth"
)

// State is where a Request is in its life.
type State string

// Request states. Pending is the only state a decision may change (to
// Approved or Denied); Approved becomes Used when a call consumes it;
// Pending and Approved become Expired at the request's expiry. Denied,
// Used and Expired are final.
const (
	StatePending  State = "pending"
	StateApproved State = "approved"
	StateDenied   State = "denied"
	StateExpired  State = "expired"
	StateUsed     State = "used"
)

// valid reports whether s is one of the request states.
func (s State) valid() bool {
	switch s {
	case StatePending, StateApproved, StateDenied, StateExpired, StateUsed:
		return true
	}
	return false
}

// Mechanism names what decided a request.
type Mechanism string

// Decision mechanisms.
const (
	// MechanismWebhook is the configured approval webhook.
	MechanismWebhook Mechanism = "webhook"
	// MechanismTwoPerson is a second MCP caller with approvals:grant.
	MechanismTwoPerson Mechanism = "two-person"
	// MechanismLocalCLI is root or the service user on the host, through
	// the approvals socket.
	MechanismLocalCLI Mechanism = "local-cli"
)

// Decision is how a request was decided.
type Decision struct {
	// Approved is true for an approval, false for a denial.
	Approved bool `json:"approved"`
	// Reason is the approver's reason, or why the request was denied
	// automatically (webhook failures).
	Reason string `json:"reason,omitempty"`
	// Approver names who decided: "<agent> (<tailscale login>)" for
	// two-person, "local:<user>(uid N)" for local-cli, and the webhook's
	// "approver" (or "webhook" when it named none) for the webhook.
	Approver string `json:"approver"`
	// Mechanism is what decided.
	Mechanism Mechanism `json:"mechanism"`
	// At is when the decision was recorded.
	At time.Time `json:"at"`
	// Wait is how long the request waited for it (At - Created).
	Wait time.Duration `json:"wait_ns"`
}

// Request is one approval request, bound to one exact call.
type Request struct {
	// ID identifies the request: 16 lower-case hex digits.
	ID string `json:"id"`
	// Tool is the tool's name.
	Tool string `json:"tool"`
	// Arguments is a redacted copy of the call's arguments, for display.
	Arguments any `json:"arguments"`
	// Plan is a redacted copy of what the call will run, as the tool's
	// approval plan describes it (a deploy's resolved compose
	// configuration and commit); nil for tools that plan nothing. The
	// digest binds the plan's binding too (Call.Bind).
	Plan any `json:"plan,omitempty"`
	// Digest is Digest(key, Tool, exact arguments) under the store's key:
	// DigestPrefix and 64 hex digits. It is empty in the requests
	// Store.Expire reports for requests dropped at open because they had
	// the unkeyed digest of an earlier version (Dropped is DroppedUnkeyed),
	// so that digest is not written again.
	Digest string `json:"digest"`
	// Caller is a copy of the requester.
	Caller auth.Caller `json:"caller"`
	// CallerKey is CallerKey(&Caller): what "the same caller" means.
	CallerKey string `json:"caller_key"`
	// Risk is the tool's risk level.
	Risk string `json:"risk,omitempty"`
	// Created is when the request was made.
	Created time.Time `json:"created"`
	// Expires is when it stops being decidable or usable.
	Expires time.Time `json:"expires"`
	// State is the request's state.
	State State `json:"state"`
	// Decision is set once the request was approved or denied.
	Decision *Decision `json:"decision,omitempty"`
	// Used is when an approved request was consumed by a call.
	Used time.Time `json:"used,omitzero"`
	// Dropped is set only in the requests Store.Expire reports for
	// requests OpenStore dropped from the store because they can never
	// match a call, and says why. It is never stored nor sent.
	Dropped DropReason `json:"-"`
}

// DropReason is why OpenStore dropped a request: a phrase completing
// "the request was ...".
type DropReason string

// Why requests are dropped when the store is opened.
const (
	// DroppedUnkeyed: the request's digest is the unkeyed one of an
	// earlier version.
	DroppedUnkeyed DropReason = "made with the unkeyed argument digest of an earlier version"
	// DroppedKeyReplaced: the request was made under a digest key that
	// was since replaced or lost (the key file was deleted or changed).
	DroppedKeyReplaced DropReason = "made under an argument digest key that was since replaced or lost"
	// DroppedCallerKey: the request was made by a tagged node before
	// approvals were bound to a tagged node's id (its caller key is the
	// earlier one).
	DroppedCallerKey DropReason = "made by a tagged node before approvals were bound to its node id"
)

// Binding is what an approval is bound to: one tool, one argument digest,
// one caller.
type Binding struct {
	// Tool is the tool's name.
	Tool string
	// Digest is Digest(key, Tool, arguments) under the store's key
	// (Store.Digest).
	Digest string
	// CallerKey is CallerKey(caller).
	CallerKey string
}

// Binding returns the request's binding.
func (r *Request) Binding() Binding {
	return Binding{Tool: r.Tool, Digest: r.Digest, CallerKey: r.CallerKey}
}

// Requester names the requester for people: "<agent> (<tailscale login>)",
// or just the agent without a tailnet identity.
func (r *Request) Requester() string { return identity(&r.Caller) }

// clone returns a deep enough copy of r that changing the copy's state,
// decision or caller does not change r. Arguments are never mutated, so
// they are shared.
func (r *Request) clone() Request {
	c := *r
	c.Caller = cloneCaller(&r.Caller)
	if r.Decision != nil {
		d := *r.Decision
		c.Decision = &d
	}
	return c
}

func cloneCaller(c *auth.Caller) auth.Caller {
	out := *c
	out.Scopes = append([]auth.Scope(nil), c.Scopes...)
	if c.Tailscale != nil {
		ts := *c.Tailscale
		ts.Tags = append([]string(nil), c.Tailscale.Tags...)
		ts.Addresses = append([]string(nil), c.Tailscale.Addresses...)
		out.Tailscale = &ts
	}
	return out
}

// DigestPrefix starts every argument digest and names its construction,
// so that a digest in any other format, such as the plain hex SHA-256 that
// earlier versions stored, is recognised as stale and never equals a
// current one.
const DigestPrefix = "hmac-sha256:"

// DigestKeySize is the size in bytes of the key Digest needs (a Store
// creates one of this size).
const DigestKeySize = 32

// Digest returns DigestPrefix followed by the hex HMAC-SHA256, under key,
// of the canonical JSON encoding of the array [tool, args]: object keys
// sorted, no insignificant space, no HTML escaping, and numbers written as
// in the input (args may be a json.RawMessage, whose numbers are kept
// digit for digit, or decoded values such as map[string]any). Under one
// key, two calls have the same digest exactly when they name the same tool
// with arguments that decode to the same JSON value, so the digest binds
// an approval to the exact call. Because it is keyed, the digest in the
// audit log or shown to an approver reveals nothing about redacted
// arguments to anyone without the key: guesses cannot be checked against
// it. It fails for a key shorter than DigestKeySize and for arguments
// JSON cannot encode.
func Digest(key []byte, tool string, args any) (string, error) {
	return digest(key, []any{tool, args})
}

// BoundDigest is Digest with what the call will run bound in too: with
// bind "" it is Digest(key, tool, args); otherwise the HMAC covers the
// canonical JSON array [tool, args, bind], which no call without a bind
// can have. A tool's approval plan gives bind (a hash of the resolved
// configuration it will deploy, and its commit), so that an approval
// given for one plan never lets another run.
func BoundDigest(key []byte, tool string, args any, bind string) (string, error) {
	if bind == "" {
		return Digest(key, tool, args)
	}
	return digest(key, []any{tool, args, bind})
}

// digest is the keyed digest of call, an array whose second element is
// the arguments.
func digest(key []byte, call []any) (string, error) {
	if len(key) < DigestKeySize {
		return "", fmt.Errorf("computing argument digest: the key is %d bytes, want at least %d", len(key), DigestKeySize)
	}
	v, err := canonicalValue(call[1])
	if err != nil {
		return "", fmt.Errorf("computing argument digest: %w", err)
	}
	call = append([]any{call[0], v}, call[2:]...)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(call); err != nil {
		return "", fmt.Errorf("computing argument digest: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
	return DigestPrefix + hex.EncodeToString(mac.Sum(nil)), nil
}

// keyedDigest reports whether d is in Digest's format: DigestPrefix and 64
// lower-case hex digits.
func keyedDigest(d string) bool {
	h, ok := strings.CutPrefix(d, DigestPrefix)
	return ok && isLowerHex(h, 64)
}

// unkeyedDigest reports whether d is in the format of earlier versions,
// the plain hex SHA-256 of the canonical call: such a request is stale.
func unkeyedDigest(d string) bool { return isLowerHex(d, 64) }

// isLowerHex reports whether s is n lower-case hex digits.
func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// canonicalValue returns v as JSON decodes it with numbers kept as
// json.Number, so that encoding it sorts object keys and writes numbers
// as they were.
func canonicalValue(v any) (any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}

// CallerKey returns what binds an approval to its caller: the token's
// agent, the token's id and the Tailscale login name (each possibly
// empty), and for a tagged node its stable node id, quoted so that no two
// different callers share a key. A repeated call must come from the same
// token of the same agent and, on a tailnet, from the same Tailscale
// login; tagged nodes all share the login "tagged-devices" and their name
// passes to the next node given it, so one of them must be the same node.
func CallerKey(c *auth.Caller) string {
	k := legacyCallerKey(c)
	if c != nil && c.Tailscale != nil && len(c.Tailscale.Tags) > 0 {
		k += fmt.Sprintf(" node=%q", c.Tailscale.NodeID)
	}
	return k
}

// legacyCallerKey is CallerKey before tagged nodes were bound by their node
// id: a stored request whose key is this one is dropped at open
// (DroppedCallerKey), never matched.
func legacyCallerKey(c *auth.Caller) string {
	if c == nil {
		return ""
	}
	return fmt.Sprintf("agent=%q token=%q tailscale=%q", c.Agent, c.TokenID, tailscaleLogin(c))
}

func tailscaleLogin(c *auth.Caller) string {
	if c == nil || c.Tailscale == nil {
		return ""
	}
	return c.Tailscale.LoginName
}

// identity names a caller for people and for the audit log.
func identity(c *auth.Caller) string {
	if l := tailscaleLogin(c); l != "" {
		return c.Agent + " (" + l + ")"
	}
	return c.Agent
}

// sameIdentity reports whether a and b may be the same person: the same
// token agent, or the same Tailscale login (case-insensitive). Tagged
// tailnet nodes all share the login "tagged-devices", so two of them count
// as one person; that errs towards refusing an approval.
func sameIdentity(a, b *auth.Caller) bool {
	if strings.EqualFold(a.Agent, b.Agent) {
		return true
	}
	la, lb := tailscaleLogin(a), tailscaleLogin(b)
	return la != "" && lb != "" && strings.EqualFold(la, lb)
}

// newID returns a fresh request id.
func newID() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating request id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// validID reports whether id looks like a request id, so that ids from
// the socket or MCP arguments never reach a path or a log unchecked.
func validID(id string) bool { return isLowerHex(id, 16) }

// Errors returned by Store, Gate and Client. Their text is safe to show to
// callers.
var (
	// ErrNotFound means no request has the id.
	ErrNotFound = errors.New("no such approval request")
	// ErrNotPending means the request was already decided or used.
	ErrNotPending = errors.New("approval request is not pending")
	// ErrExpired means the request expired before the decision.
	ErrExpired = errors.New("approval request expired")
	// ErrSelfApproval means the approver is, or may be, the requester.
	ErrSelfApproval = errors.New("the approver is the requester; approval needs a second person")
	// ErrNoGrantScope means an MCP caller lacks scope approvals:grant.
	ErrNoGrantScope = errors.New("deciding approval requests requires scope " + string(auth.ScopeApprovalsGrant))
	// ErrNoApproval means no approved, unused, unexpired request matches.
	ErrNoApproval = errors.New("no approval for this call")
	// ErrTooManyPending means the store holds StoreOptions.MaxPending
	// pending requests already.
	ErrTooManyPending = errors.New("too many pending approval requests")
	// ErrTwoPersonDisabled means a decision was attempted (Approve, Deny,
	// the socket) on a Gate without two-person approval.
	ErrTwoPersonDisabled = errors.New("two-person approval is not enabled on this server")
	// ErrClosed means the Store was closed.
	ErrClosed = errors.New("approval store closed")
)
