// SPDX-License-Identifier: Apache-2.0

package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/redact"
)

// Record is one audit event: one line of the log. Write fills Seq, Prev,
// Time (when zero) and Event (when empty), and stores redacted copies of
// Arguments, Detail, Approval and the text fields a caller can fill, these
// cut to MaxRecordedText (recordedText) and Arguments to
// MaxRecordedArguments.
type Record struct {
	// Seq numbers records from 1; it continues across rotations and restarts.
	Seq uint64 `json:"seq"`
	// Time is when the event happened; filled by Write if zero and always
	// written as UTC RFC 3339 with nanoseconds.
	Time time.Time `json:"time"`
	// Event is the kind of record; EventToolCall when empty.
	Event Event `json:"event"`
	// RequestID is the MCP request's id.
	RequestID string `json:"request_id,omitempty"`
	// Tool is the tool's name.
	Tool string `json:"tool,omitempty"`
	// Prompt is the prompt's name, for EventPromptGet and EventCompletion.
	Prompt string `json:"prompt,omitempty"`
	// Resource is the resource's URI, for EventResourceRead.
	Resource string `json:"resource,omitempty"`
	// Node is the fleet member a forwarded call went to, for
	// EventToolCallForwarded.
	Node string `json:"node,omitempty"`
	// Arguments are the tool call's arguments; the log holds a redacted copy (redact.Value).
	Arguments any `json:"arguments,omitempty"`
	// Detail is what the event is about beyond the arguments: the plan an
	// approval request shows, a stack's deployment; the log holds a
	// redacted copy (redact.Value).
	Detail any `json:"detail,omitempty"`
	// Caller is who made the call; when nil, Write uses auth.CallerFrom(ctx).
	Caller *auth.Caller `json:"caller,omitempty"`
	// Risk is the tool's risk level.
	Risk string `json:"risk,omitempty"`
	// Decision is DecisionAllowed or DecisionDenied.
	Decision Decision `json:"decision,omitempty"`
	// Reason explains the decision.
	Reason string `json:"reason,omitempty"`
	// Approval is reserved for approvals; null until they exist.
	Approval any `json:"approval"`
	// Confirmation is the user's answer when the call needed their
	// confirmation in the client (ConfirmConfirmed, ConfirmDeclined or
	// ConfirmUnavailable); empty when it did not.
	Confirmation Confirmation `json:"confirmation,omitempty"`
	// Result is ResultSuccess, ResultError or ResultDenied.
	Result Result `json:"result,omitempty"`
	// Error is the tool's error message, if any.
	Error string `json:"error,omitempty"`
	// DurationNS is how long the call took, in nanoseconds.
	DurationNS int64 `json:"duration_ns"`
	// Prev is the hex SHA-256 of the previous record's line (without its
	// newline); 64 zeros for the very first record.
	Prev string `json:"prev"`
}

// Event is the kind of an audit record.
type Event string

// Decision is whether what a record describes was allowed.
type Decision string

// Result is how what a record describes ended.
type Result string

// Confirmation is the outcome of asking the user, in the client, to
// confirm a tool call.
type Confirmation string

// Confirmation values.
const (
	// ConfirmConfirmed: the user answered yes; the call went on.
	ConfirmConfirmed Confirmation = "confirmed"
	// ConfirmDeclined: the user declined, cancelled or did not say yes.
	ConfirmDeclined Confirmation = "declined"
	// ConfirmUnavailable: the client cannot ask its user; the call was
	// refused.
	ConfirmUnavailable Confirmation = "unavailable"
)

// Event names. Packages that write records of their own define their
// events as Event constants too (approval.EventRequest...).
const (
	// EventToolCall is a tool call's outcome (or its refusal), whatever it
	// was: one per call.
	EventToolCall Event = "tool_call"
	// EventToolCallStarted is written, durably, before a tool that is not
	// read-only acts; the call's EventToolCall record carries the same
	// RequestID. A started record without its outcome is a call the server
	// did not see finish (it was killed, or the log failed meanwhile).
	EventToolCallStarted Event = "tool_call_started"
	// EventToolCallForwarded is a tool call a fleet entry node forwarded
	// to the member in Node, with the member's outcome; the member
	// records the call itself.
	EventToolCallForwarded Event = "tool_call_forwarded"
	// EventServerStart is written when a server starts serving.
	EventServerStart Event = "server_start"
	// EventServerStop is written when a server has stopped serving, after
	// every call's outcome, just before it closes the log.
	EventServerStop Event = "server_stop"
	// EventLogRepaired is written by Open after it completed or cut off a
	// last line torn by an interrupted write; Reason says what it did.
	EventLogRepaired Event = "log_repaired"
	// EventLogRecovered is the first record written after the log was
	// unavailable and recovered; Reason says for how long and how many
	// records could not be written, Error why it failed.
	EventLogRecovered Event = "log_recovered"
	// EventConfigReload is a reload of the config file's revocations
	// (SIGHUP or a change): Result is ResultSuccess or ResultError, and
	// with an error the previous revocations stay in force.
	EventConfigReload Event = "config_reload"
	// EventJWKSFetch is a fetch of the --jwks-url key set, after the
	// start, that failed (Result ResultError: the last good set stays in
	// use) or changed the keys in use (ResultSuccess; Reason names the
	// kids added and removed).
	EventJWKSFetch Event = "jwks_fetch"
	// EventAuthDenied is a request refused before it reached MCP: no or a
	// bad token, an unknown tailnet peer, a foreign Origin or Host.
	EventAuthDenied Event = "auth_denied"
	// EventSessionDenied is a refused MCP session: initialize past a cap,
	// or another caller's session id presented.
	EventSessionDenied Event = "session_denied"
	// EventPromptGet is a prompts/get, whatever its outcome.
	EventPromptGet Event = "prompt_get"
	// EventResourceSubscribe is a resources/subscribe, whatever its
	// outcome.
	EventResourceSubscribe Event = "resource_subscribe"
	// EventResourceRead is a resources/read, whatever its outcome.
	EventResourceRead Event = "resource_read"
	// EventCompletion is a completion/complete request for a prompt's
	// argument (Prompt names the prompt).
	EventCompletion Event = "completion"
)

// Decision values.
const (
	DecisionAllowed Decision = "allowed"
	DecisionDenied  Decision = "denied"
)

// Result values.
const (
	ResultSuccess Result = "success"
	ResultError   Result = "error"
	ResultDenied  Result = "denied"
)

// genesis is Prev of the very first record.
var genesis = strings.Repeat("0", 64)

// The encoding of a Record with Seq 0 and Prev "" starts and ends with
// these; encode relies on it to splice in the real values under the lock.
const (
	bodyPrefix = `{"seq":0`
	bodySuffix = `"prev":""}`
)

// MaxRecordedArguments bounds the arguments a record holds, as encoded
// JSON: larger ones (a client may send up to the HTTP edge's 4 MiB) are
// shortened (shorten) before they are redacted and stored, so that no
// caller fills the log's disk, or spends its CPU on their redaction, with
// a few calls, while the record still says what the call was for.
const MaxRecordedArguments = 64 << 10

// recordedArguments returns a record's arguments as stored: redacted and,
// over MaxRecordedArguments, shortened.
func recordedArguments(a any) any {
	var b []byte
	switch x := a.(type) {
	case json.RawMessage: // as a client sends them
		if len(x) <= MaxRecordedArguments {
			return redact.Value(a)
		}
		b = x
	case map[string]any, []any, string:
		b, _ = json.Marshal(x)
		if len(b) <= MaxRecordedArguments {
			return redact.Value(a)
		}
	default:
		return redact.Value(a)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Sprintf("[%d bytes of arguments that are not JSON, not recorded]", len(b))
	}
	// Shorter and shorter, until it fits: white space is gone already.
	for _, l := range []shortening{{4096, 256, 256, 8}, {256, 32, 32, 4}, {64, 8, 8, 2}} {
		short := redact.Value(l.shorten(v, 0))
		if e, err := json.Marshal(short); err == nil && len(e) <= MaxRecordedArguments {
			return short
		}
	}
	return fmt.Sprintf("[%d bytes of arguments, too many parts to record]", len(b))
}

// MaxRecordedText bounds each text field of a record that a caller can
// fill (Tool, Prompt, Resource, Node, RequestID, Reason, Error), in bytes:
// longer ones are cut like a long argument string, so that no caller
// fills the log's disk with a few calls naming a huge tool, URI or
// prompt (a client may send up to the HTTP edge's 4 MiB), while the
// record still shows how the text began.
const MaxRecordedText = 4 << 10

// textShortening cuts a record's text field to MaxRecordedText.
var textShortening = shortening{str: MaxRecordedText}

// recordedText returns a record's text field as stored: redacted and,
// over MaxRecordedText, cut on a rune boundary (redacted first with some
// text after the cut, as an argument string is) with a note of its length.
func recordedText(s string) string {
	return redact.Text(textShortening.shorten(s, 0).(string))
}

// runeCut returns the largest n ≤ max at which s can be cut between runes.
func runeCut(s string, n int) int {
	if n >= len(s) {
		return len(s)
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return n
}

// shortening bounds each part of a value: strings to str bytes, arrays to
// elems elements, objects to keys keys, nesting to depth levels; what
// is cut says so in the value's place.
type shortening struct{ str, elems, keys, depth int }

func (l shortening) shorten(v any, depth int) any {
	switch x := v.(type) {
	case string:
		if len(x) <= l.str {
			return x
		}
		// Redacted with some text after the cut, so that a secret across
		// it is seen whole by the rules, then cut.
		red := redact.Text(x[:runeCut(x, l.str+256)])
		return red[:runeCut(red, l.str)] + fmt.Sprintf("…[%d bytes in all, the rest not recorded]", len(x))
	case []any:
		if depth >= l.depth {
			return fmt.Sprintf("[an array of %d elements, nested too deep to record]", len(x))
		}
		out := make([]any, 0, min(len(x), l.elems)+1)
		for _, e := range x[:min(len(x), l.elems)] {
			out = append(out, l.shorten(e, depth+1))
		}
		if len(x) > l.elems {
			out = append(out, fmt.Sprintf("[%d more elements not recorded]", len(x)-l.elems))
		}
		return out
	case map[string]any:
		if depth >= l.depth {
			return fmt.Sprintf("[an object of %d keys, nested too deep to record]", len(x))
		}
		keys := slices.Sorted(maps.Keys(x))
		out := make(map[string]any, min(len(keys), l.keys)+1)
		for _, k := range keys[:min(len(keys), l.keys)] {
			out[l.shorten(k, depth+1).(string)] = l.shorten(x[k], depth+1)
		}
		if len(keys) > l.keys {
			out["…"] = fmt.Sprintf("[%d more keys not recorded]", len(keys)-l.keys)
		}
		return out
	}
	return v
}

// encodeBody returns the JSON of r with Seq 0 and Prev "", with secrets
// redacted. It is the expensive part of Write and runs outside the lock.
// The body lives in a pooled buffer: release gives it back, once the
// body is no longer read (spliceLine copies it into the line).
func encodeBody(r *Record, caller *auth.Caller) (body []byte, release func(), err error) {
	w := *r
	w.Seq = 0
	w.Prev = ""
	w.Time = r.Time.UTC()
	w.Caller = caller
	w.Arguments = recordedArguments(r.Arguments)
	w.Detail = redact.Value(r.Detail)
	w.Approval = redact.Value(r.Approval)
	w.RequestID = recordedText(r.RequestID)
	w.Reason = recordedText(r.Reason)
	w.Error = recordedText(r.Error)
	w.Resource = recordedText(r.Resource) // a URI may carry credentials
	// The client names these too: an unknown tool's or prompt's name, a
	// fleet node argument.
	w.Tool = recordedText(r.Tool)
	w.Prompt = recordedText(r.Prompt)
	w.Node = recordedText(r.Node)
	b := bodyBuffers.Get().(*bodyBuffer)
	release = func() {
		if b.buf.Cap() <= maxPooledBody {
			b.buf.Reset()
			bodyBuffers.Put(b)
		}
	}
	if err := b.enc.Encode(&w); err != nil {
		release()
		return nil, nil, err
	}
	body = bytes.TrimSuffix(b.buf.Bytes(), []byte("\n"))
	if !bytes.HasPrefix(body, []byte(bodyPrefix+",")) || !bytes.HasSuffix(body, []byte(","+bodySuffix)) {
		err := fmt.Errorf("unexpected record encoding %.40q", body)
		release()
		return nil, nil, err
	}
	return body, release, nil
}

// bodyBuffer is a buffer of encodeBody's with its encoder.
type bodyBuffer struct {
	buf bytes.Buffer
	enc *json.Encoder
}

// maxPooledBody is the largest buffer bodyBuffers keeps: a record with a
// large argument or detail does not pin its buffer.
const maxPooledBody = 64 << 10

// bodyBuffers are encodeBody's buffers, reused across records.
var bodyBuffers = sync.Pool{New: func() any {
	b := new(bodyBuffer)
	b.enc = json.NewEncoder(&b.buf)
	// No HTML escaping: operators grep for "&&" and "<", not "\u0026".
	b.enc.SetEscapeHTML(false)
	return b
}}

// spliceLine turns a body from encodeBody into the record's line (without
// newline) with the given seq and previous hash.
func spliceLine(body []byte, seq uint64, prev [sha256.Size]byte) []byte {
	mid := body[len(bodyPrefix) : len(body)-len(bodySuffix)]
	line := make([]byte, 0, len(body)+20+2*sha256.Size+1)
	line = append(line, `{"seq":`...)
	line = strconv.AppendUint(line, seq, 10)
	line = append(line, mid...)
	line = append(line, `"prev":"`...)
	line = hex.AppendEncode(line, prev[:])
	line = append(line, `"}`...)
	return line
}

// link is what a record contributes to the chain: its seq and the hash of
// its line.
type link struct {
	seq  uint64
	hash [sha256.Size]byte
}

// hexHash is the hash as written in Prev and the head file.
func (k link) hexHash() string { return hex.EncodeToString(k.hash[:]) }

// chainFields are the fields Open and Verify read from a line.
type chainFields struct {
	Seq  *uint64 `json:"seq"`
	Prev *string `json:"prev"`
}

// parseLink decodes the chain fields of a line. reason is empty when the
// line is a well-formed record.
func parseLink(line []byte) (seq uint64, prev string, reason string) {
	if !json.Valid(line) {
		return 0, "", "not valid JSON"
	}
	var f chainFields
	if err := json.Unmarshal(line, &f); err != nil {
		return 0, "", fmt.Sprintf("not an audit record (%v)", err)
	}
	if f.Seq == nil || f.Prev == nil {
		return 0, "", "not an audit record (no seq or prev)"
	}
	if *f.Seq == 0 {
		return 0, "", "not an audit record (seq 0)"
	}
	return *f.Seq, *f.Prev, ""
}
