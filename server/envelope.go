// SPDX-License-Identifier: Apache-2.0

package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/auth"
)

// envelope is what the HTTP edge reads of a JSON-RPC request before mcp-go
// handles it: the method, the id, and for tools/call the tool's name. It
// is decoded once per request (readEnvelope); the arguments stay raw and
// are decoded only for the audit record of a refusal.
type envelope struct {
	// ok is false when the body is not one JSON-RPC object (a parse
	// error mcp-go answers, or a batch).
	ok     bool
	ID     json.RawMessage `json:"id"`
	Method mcp.MCPMethod   `json:"method"`
	Params struct {
		Name string `json:"name"` // tools/call, prompts/get
		URI  string `json:"uri"`  // resources/read, resources/subscribe
		// Notifications is what a 2026-07-28 subscriptions/listen opts in to.
		Notifications struct {
			ResourceSubscriptions []string `json:"resourceSubscriptions"`
		} `json:"notifications"`
		Arguments json.RawMessage `json:"arguments"`
		Meta      meta            `json:"_meta"`
		// RequestState is what a 2026-07-28 tools/call retried with an
		// answer carries back (see redeem).
		RequestState string `json:"requestState"`
		// Task is a task-augmented tools/call's task, undecoded: nil when
		// the request has none (see taskTable.check).
		Task json.RawMessage `json:"task"`
	} `json:"params"`
}

// meta is a request's _meta with its values left undecoded: the edge reads
// only the protocol version, and mcp-go decodes the whole of it again.
// (mcp.Meta would decode every value, the client's capabilities and
// information included, on every request.) raw keeps the bytes, for the
// one case that must decode them all (protocolVersion).
type meta struct {
	fields map[string]json.RawMessage
	raw    []byte
}

// UnmarshalJSON keeps _meta's members undecoded, and a copy of its bytes.
func (m *meta) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &m.fields); err != nil {
		return err
	}
	m.raw = bytes.Clone(b)
	return nil
}

// protocolVersion is the protocol version _meta names, as mcp-go reads it:
// "" when it names none or it is not a string, and "" too when a modern
// version is named but the whole of _meta does not decode as mcp.Meta —
// mcp-go then serves the request as one of the era before 2026-07-28, and
// the edge must not take it for a modern one (whose subscriptions and
// sessions it checks otherwise).
func (m meta) protocolVersion() string {
	var v string
	if raw, ok := m.fields[mcp.MetaKeyProtocolVersion]; !ok || json.Unmarshal(raw, &v) != nil {
		return ""
	}
	if mcp.IsModernProtocol(v) {
		var whole mcp.Meta
		if json.Unmarshal(m.raw, &whole) != nil {
			return ""
		}
	}
	return v
}

// envelopeKey is the context key of a request's envelope.
type envelopeKey struct{}

// envelopeFrom returns the request's envelope; nil for a request that is
// not a POST.
func envelopeFrom(ctx context.Context) *envelope {
	e, _ := ctx.Value(envelopeKey{}).(*envelope)
	return e
}

// readEnvelope reads a POST's body (at most maxBody bytes; 413 past it),
// puts it back for mcp-go, and decodes its envelope into the context.
func (s *Server) readEnvelope(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		body, err := readBody(w, r)
		if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
			http.Error(w, fmt.Sprintf("request body larger than %d bytes", maxBody), http.StatusRequestEntityTooLarge)
			return
		} else if err != nil {
			http.Error(w, "reading the request body: "+err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		e := &envelope{}
		err = json.Unmarshal(body, e)
		e.ok = err == nil
		if !e.ok {
			if method, id, gated := gatedMethod(body); gated {
				// The edge's gates are the only check of these methods: one
				// that cannot read a request must not let it through to
				// mcp-go, which ignores a field it does not need.
				rpcErrorStatus(w, http.StatusBadRequest, id, mcp.INVALID_PARAMS, fmt.Sprintf("invalid %s request: %v", method, err))
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), envelopeKey{}, e)))
	})
}

// gatedMethods are the methods whose only check is at the edge, on the
// decoded envelope: a cancellation (modernCancel) and a subscription
// (subscribeGate).
var gatedMethods = []mcp.MCPMethod{mcp.MethodNotificationCancelled, mcp.MethodResourcesSubscribe,
	mcp.MethodResourcesUnsubscribe, mcp.MethodSubscriptionsListen}

// gatedMethod reads only the method and id of a request body, and
// reports whether the method is one of gatedMethods.
func gatedMethod(body []byte) (method string, id json.RawMessage, gated bool) {
	method, id = methodOf(body)
	return method, id, slices.Contains(gatedMethods, mcp.MCPMethod(method))
}

// methodOf reads only a JSON-RPC message's method and id, for a message
// whose whole decoding failed; "" when even they cannot be read.
func methodOf(body []byte) (method string, id json.RawMessage) {
	var head struct {
		Method string          `json:"method"`
		ID     json.RawMessage `json:"id"`
	}
	if json.Unmarshal(body, &head) != nil {
		return "", nil
	}
	return head.Method, head.ID
}

// readBody reads r's body, at most maxBody bytes. A body of announced
// length is read into one buffer of that size (net/http stops the body at
// Content-Length), sparing io.ReadAll's growing copies on every call.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, maxBody)
	if n := r.ContentLength; n >= 0 && n <= maxBody {
		b := make([]byte, n)
		if _, err := io.ReadFull(body, b); err != nil {
			return nil, err
		}
		return b, nil
	}
	return io.ReadAll(body)
}

// arguments decodes the raw arguments of a refused call for its audit
// record.
func (e *envelope) arguments() any {
	if len(e.Params.Arguments) == 0 {
		return nil
	}
	var args any
	if err := json.Unmarshal(e.Params.Arguments, &args); err != nil {
		// Cannot happen: it parsed as part of the body. Record that,
		// never the raw bytes (not redacted).
		return fmt.Sprintf("(arguments not decodable: %T)", err)
	}
	return args
}

// named is what a tools/call, prompts/get or resources/read names; ok is
// false for any other request.
func (e *envelope) named() (kind Kind, name string, ok bool) {
	if e == nil || !e.ok {
		return "", "", false
	}
	switch e.Method {
	case mcp.MethodToolsCall:
		return KindTool, e.Params.Name, true
	case mcp.MethodPromptsGet:
		return KindPrompt, e.Params.Name, true
	case mcp.MethodResourcesRead:
		return KindResource, e.Params.URI, true
	}
	return "", "", false
}

// scopeGate answers a tools/call, prompts/get or resources/read that the
// caller's scopes do not allow with 403 insufficient_scope naming the
// scope, before MCP handling, and records the refusal. Other refusals
// (unknown and disabled names) are answered by MCP.
func (s *Server) scopeGate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e := envelopeFrom(r.Context())
		kind, name, ok := e.named()
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		c := auth.CallerFrom(r.Context())
		if v := s.decide(c, kind, name); v.Missing != "" {
			var args any
			if kind != KindResource {
				args = e.arguments()
			}
			s.write(r.Context(), request(kind, name, args, c, v))
			s.challenge(w, http.StatusForbidden, "insufficient_scope", v.Reason, v.Missing)
			return
		}
		next.ServeHTTP(w, r)
	})
}
