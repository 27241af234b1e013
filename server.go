// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/tailops/tailops/approval"
	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tailnet"
	"github.com/tailops/tailops/tools"
)

// Limits on what a request may carry.
const (
	maxAuthHeader = 8 << 10 // bytes of Authorization header accepted
	maxBody       = 4 << 20 // bytes of a JSON-RPC request body
)

// app is the running server: the enabled tools, how callers are verified,
// and where calls are audited.
type app struct {
	log        *slog.Logger
	verifier   *auth.Verifier
	audit      *audit.Log
	all        []tools.Spec          // every tool TailOps knows, enabled or not
	enabled    map[string]*toolEntry // the tools this server offers
	mcp        *server.MCPServer
	resource   string   // this server's resource URL (JWT audience), or ""
	authServer []string // authorization servers for RFC 9728 metadata
	warning    string   // shown on /readyz, e.g. when the sandbox is off
	// liveWarnings, when set, returns warnings that come and go (a failed
	// config reload), shown on /readyz after warning.
	liveWarnings func() []string

	tailnet       *tailnet.Identifier // nil when --tailnet off
	authMode      tailnet.AuthMode
	allowLoopback bool
	hosts         map[string]bool // Host header values accepted besides loopback; nil: mcp-go's own localhost check

	gate *approval.Gate // decides calls that need approval

	sessions *sessions // the MCP sessions of protocol revisions before 2026-07-28
	calls    calls     // the tool calls in flight, for shutdown
}

// toolEntry is an enabled tool with its argument validator, compiled on
// the tool's first call so start-up does not pay for every schema (the
// tests compile them all: tools.TestEveryToolIsDeclaredConsistently).
type toolEntry struct {
	spec tools.Spec
	once sync.Once
	v    *tools.InputValidator
	verr error
}

// check validates a call's arguments against the tool's input schema.
func (e *toolEntry) check(args any) error {
	e.once.Do(func() { e.v, e.verr = tools.NewInputValidator(&e.spec) })
	if e.verr != nil {
		return fmt.Errorf("compiling the input schema: %w", e.verr)
	}
	return e.v.Check(args)
}

// appConfig is what newApp needs; nil fields are errors except where noted.
type appConfig struct {
	Logger     *slog.Logger
	Verifier   *auth.Verifier // nil for stdio-only servers
	Audit      *audit.Log
	All        []tools.Spec
	Enabled    []tools.Spec
	Resource   string
	AuthServer []string
	Version    string
	// Tailnet identifies tailnet callers; nil when --tailnet off, and
	// then AuthMode and AllowLoopback are ignored.
	Tailnet       *tailnet.Identifier
	AuthMode      tailnet.AuthMode
	AllowLoopback bool
	// Hosts are the names and addresses clients may put in the Host
	// header besides loopback ones (the node's tailnet names and
	// addresses); with a tailnet they replace mcp-go's check, which
	// refuses every tailnet name on connections tailscaled forwards over
	// loopback.
	Hosts []string
	// Gate decides calls that need approval; nil refuses them all.
	Gate *approval.Gate
	// Sessions bound the MCP sessions; zero fields take the defaults.
	Sessions sessionLimits
}

func newApp(c appConfig) (*app, error) {
	a := &app{log: c.Logger, verifier: c.Verifier, audit: c.Audit, all: c.All, enabled: map[string]*toolEntry{},
		resource: c.Resource, authServer: c.AuthServer, tailnet: c.Tailnet, authMode: c.AuthMode, allowLoopback: c.AllowLoopback,
		gate: c.Gate, sessions: newSessions(c.Sessions)}
	if a.authMode == "" {
		a.authMode = tailnet.AuthToken
	}
	if c.Tailnet != nil {
		a.hosts = map[string]bool{}
		for _, h := range c.Hosts {
			a.hosts[strings.ToLower(strings.TrimSuffix(h, "."))] = true
		}
		if u, err := url.Parse(c.Resource); err == nil && u.Hostname() != "" {
			a.hosts[strings.ToLower(u.Hostname())] = true
		}
	}
	hooks := &server.Hooks{}
	hooks.AddOnError(a.auditUnknownTool)
	a.mcp = server.NewMCPServer("tailops", c.Version,
		server.WithToolCapabilities(false),
		server.WithInstructions("TailOps operates a homelab host. Tools are filtered by your token's scopes; every call is audited."),
		server.WithToolFilter(a.visibleTools),
		server.WithHooks(hooks),
		server.WithToolHandlerMiddleware(tools.ProgressMiddleware), // before the gate: it and the tool share the reporter
		server.WithToolHandlerMiddleware(a.authorizeAndAudit),
		server.WithRecovery(),
	)
	for i := range c.Enabled {
		s := c.Enabled[i]
		if err := s.Validate(); err != nil {
			return nil, err
		}
		if _, dup := a.enabled[s.Name()]; dup {
			return nil, fmt.Errorf("tool %s declared twice", s.Name())
		}
		a.enabled[s.Name()] = &toolEntry{spec: s}
		a.mcp.AddTool(s.Tool, s.Handler)
	}
	return a, nil
}

// visibleTools is the tool filter: a caller sees, and may call, only the
// tools its scopes allow.
func (a *app) visibleTools(ctx context.Context, ts []mcp.Tool) []mcp.Tool {
	c := auth.CallerFrom(ctx)
	out := ts[:0:0]
	for _, t := range ts {
		if e := a.enabled[t.Name]; e != nil && c.Allows(e.spec.Scope) {
			out = append(out, t)
		}
	}
	return out
}

// denial says why caller may not call the tool named name, or "" when it may.
func (a *app) denial(c *auth.Caller, name string) (reason string, scope auth.Scope) {
	e := a.enabled[name]
	switch {
	case e == nil && a.known(name):
		return "tool " + name + " is disabled on this server", ""
	case e == nil:
		return "unknown tool " + name, ""
	case !c.Allows(e.spec.Scope):
		return "insufficient scope: " + name + " requires " + string(e.spec.Scope), e.spec.Scope
	}
	return "", ""
}

func (a *app) known(name string) bool {
	for i := range a.all {
		if a.all[i].Name() == name {
			return true
		}
	}
	return false
}

// auditUnknownTool records calls that mcp-go refuses before any handler
// runs: unknown tools, disabled tools, and tools the filter hides.
func (a *app) auditUnknownTool(ctx context.Context, _ any, method mcp.MCPMethod, msg any, err error) {
	req, ok := msg.(*mcp.CallToolRequest)
	if method != mcp.MethodToolsCall || !ok || !errors.Is(err, server.ErrToolNotFound) {
		return
	}
	c := auth.CallerFrom(ctx)
	reason, _ := a.denial(c, req.Params.Name)
	if reason == "" {
		reason = "tool not available"
	}
	a.writeDenied(ctx, c, req.Params.Name, req.GetRawArguments(), "", reason)
}

func (a *app) writeDenied(ctx context.Context, c *auth.Caller, tool string, args any, risk, reason string) error {
	return a.writeDeniedRef(ctx, c, tool, args, risk, reason, nil)
}

// writeDeniedRef is writeDenied with a reference to an approval request.
func (a *app) writeDeniedRef(ctx context.Context, c *auth.Caller, tool string, args any, risk, reason string, approvalRef any) error {
	rec := &audit.Record{Event: audit.EventToolCall, RequestID: newRequestID(), Tool: tool, Arguments: args, Caller: c,
		Risk: risk, Decision: audit.DecisionDenied, Reason: reason, Result: audit.ResultDenied, Approval: approvalRef}
	if err := a.audit.Write(ctx, rec); err != nil {
		a.log.Error("writing audit record", "error", err)
		return err
	}
	return nil
}

// authorizeAndAudit wraps every tool handler: it checks scope and
// approval, validates arguments, runs the tool, and writes one durable
// audit record before the result is returned. A tool that is not read-only
// also gets a durable started record (same request id) before it acts. If
// the audit log cannot be written, nothing runs and no result is returned.
// Every call is tracked for shutdown (see drain), which refuses new ones.
func (a *app) authorizeAndAudit(next server.ToolHandlerFunc) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		start := time.Now()
		c := auth.CallerFrom(ctx)
		name, args := req.Params.Name, req.GetRawArguments()
		e := a.enabled[name]
		if e == nil {
			return mcp.NewToolResultError("unknown tool " + name), nil
		}
		ctx, call, accepting := a.calls.begin(ctx)
		defer a.calls.end(call)
		risk := e.spec.Risk.String()
		// deny records a refusal with its reason and answers msg.
		deny := func(reason, msg string) (*mcp.CallToolResult, error) {
			if err := a.writeDenied(ctx, c, name, args, risk, reason); err != nil {
				return mcp.NewToolResultError(auditRefusal), nil
			}
			return mcp.NewToolResultError(msg), nil
		}
		refuse := func(reason string) (*mcp.CallToolResult, error) { return deny(reason, reason) }
		if !accepting {
			return refuse("the server is shutting down; call again once it is back")
		}
		if reason, _ := a.denial(c, name); reason != "" {
			return refuse(reason)
		}
		// Invalid arguments never create approval requests, and are a
		// refusal like any other: nothing runs.
		if verr := e.check(args); verr != nil {
			return deny("invalid arguments: "+verr.Error(), verr.Error())
		}
		if err := a.audit.Healthy(); err != nil {
			a.log.Error("refusing tool call: audit log unavailable", "tool", name, "error", err)
			return mcp.NewToolResultError(auditRefusal), nil
		}
		rec := &audit.Record{Event: audit.EventToolCall, RequestID: newRequestID(), Tool: name, Arguments: args, Caller: c,
			Risk: risk, Decision: audit.DecisionAllowed}
		if a.needsApproval(e, req.GetArguments()) {
			o, err := a.gate.Check(ctx, approval.Call{Tool: name, Args: args, Caller: c, Risk: risk, RequestID: rec.RequestID},
				tools.ProgressFrom(ctx).ApprovalWait())
			if err != nil {
				a.log.Error("recording approval request", "tool", name, "error", err)
				return mcp.NewToolResultError("call refused: the approval request could not be recorded"), nil
			}
			if !o.Allowed {
				if err := a.writeDeniedRef(ctx, c, name, args, risk, o.Message, o.AuditRef()); err != nil {
					return mcp.NewToolResultError(auditRefusal), nil
				}
				return mcp.NewToolResultError(o.Message), nil
			}
			rec.Approval = o.AuditRef()
		}
		if !e.spec.ReadOnly() {
			started := *rec
			started.Event = audit.EventToolCallStarted
			if err := a.audit.Write(ctx, &started); err != nil {
				a.log.Error("writing the started record; the call does not run", "tool", name, "error", err)
				return mcp.NewToolResultError(auditRefusal), nil
			}
		}
		a.calls.allowed(call, rec, start)
		res, err := next(ctx, req)
		if !a.calls.claim(call) { // shutdown gave up on it and recorded it
			return mcp.NewToolResultError(interrupted), nil
		}
		return a.finish(ctx, e, rec, start, res, err)
	}
}

// needsApproval reports whether a call must pass the approval gate: the
// tool's declaration says so for these arguments (critical, or its
// ApprovalFor: an http_request_test whose URL is not on the diagnostics
// allow-list), or the configuration's approval list names the tool.
func (a *app) needsApproval(e *toolEntry, args any) bool {
	if e.spec.CallNeedsApproval(args) {
		return true
	}
	return a.gate != nil && a.gate.NeedsApproval(e.spec.Name(), false)
}

// finish writes the call's audit record, durably, before the result is
// returned; without the record, the result is withheld.
func (a *app) finish(ctx context.Context, e *toolEntry, rec *audit.Record, start time.Time, res *mcp.CallToolResult, err error) (*mcp.CallToolResult, error) {
	name := e.spec.Name()
	rec.DurationNS = time.Since(start).Nanoseconds()
	switch {
	case err != nil:
		rec.Result, rec.Error = "error", err.Error()
	case res != nil && res.IsError:
		rec.Result, rec.Error = "error", resultText(res)
	default:
		rec.Result = "success"
	}
	if werr := a.audit.Write(ctx, rec); werr != nil {
		a.log.Error("writing audit record", "tool", name, "error", werr)
		msg := "the result is withheld: its audit record could not be written"
		if !e.spec.ReadOnly() {
			msg = "the call ran (its start is in the audit log), but its result record could not be written; the result is withheld, and no further calls run until the audit log can be written again"
		}
		return mcp.NewToolResultError(msg), nil
	}
	return res, err
}

func resultText(r *mcp.CallToolResult) string {
	for _, c := range r.Content {
		if t, ok := c.(mcp.TextContent); ok {
			return t.Text
		}
	}
	return "tool error"
}

func newRequestID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// handler is the HTTP side: /mcp behind bearer authentication, health
// endpoints, and RFC 9728 metadata when an authorization server is set.
func (a *app) handler() http.Handler {
	mux := http.NewServeMux()
	opts := []server.StreamableHTTPOption{server.WithEndpointPath("/mcp"),
		server.WithSessionIdManagerResolver(a.sessions), server.WithSessionIdleTTL(a.sessions.limits.IdleTimeout),
		// A ping on a session's open event stream keeps it from idling out.
		server.WithHeartbeatInterval(a.sessions.limits.IdleTimeout / 2), server.WithStreamableHTTPLogger(a.log)}
	if a.hosts != nil {
		opts = append(opts, server.WithDisableLocalhostProtection(true)) // checkHost does it
	}
	mcpHTTP := server.NewStreamableHTTPServer(a.mcp, opts...)
	h := a.checkOrigin(a.authenticate(a.sessionGate(a.scopeGate(mcpHTTP))))
	if a.hosts != nil {
		h = a.checkHost(h)
	}
	mux.Handle("/mcp", h)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", a.ready)
	if len(a.authServer) > 0 && a.resource != "" {
		meta := server.NewProtectedResourceMetadataHandler(server.ProtectedResourceMetadataConfig{
			Resource: a.resource, AuthorizationServers: a.authServer, BearerMethodsSupported: []string{"header"},
			ScopesSupported: scopeNames(auth.Known()), ResourceName: "TailOps",
		})
		mux.Handle("GET "+server.WellKnownProtectedResourcePath, meta)
		if u, err := url.Parse(a.resource); err == nil && u.Path != "" && u.Path != "/" {
			mux.Handle("GET "+server.WellKnownProtectedResourcePath+u.Path, meta)
		}
	}
	return mux
}

func scopeNames(ss []auth.Scope) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return out
}

func (a *app) ready(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := a.audit.Healthy(); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "not ready: audit log unavailable\n")
		return
	}
	io.WriteString(w, "ready\n")
	if a.warning != "" {
		io.WriteString(w, "WARNING: "+a.warning+"\n")
	}
	if a.liveWarnings != nil {
		for _, s := range a.liveWarnings() {
			io.WriteString(w, "WARNING: "+s+"\n")
		}
	}
}

// resourceMetadataURL is where RFC 9728 metadata is served, or "".
func (a *app) resourceMetadataURL() string {
	if len(a.authServer) == 0 || a.resource == "" {
		return ""
	}
	u, err := url.Parse(a.resource)
	if err != nil {
		return ""
	}
	p := u.Path
	if p == "/" {
		p = ""
	}
	return u.Scheme + "://" + u.Host + server.WellKnownProtectedResourcePath + p
}

// challenge writes a 401 or 403 with a WWW-Authenticate header (RFC 6750)
// and a JSON body; the description never contains the token.
func (a *app) challenge(w http.ResponseWriter, status int, code, desc string, scope auth.Scope) {
	params := []string{fmt.Sprintf("error=%q", code), fmt.Sprintf("error_description=%q", desc)}
	if scope != "" {
		params = append(params, fmt.Sprintf("scope=%q", string(scope)))
	}
	if m := a.resourceMetadataURL(); m != "" {
		params = append(params, fmt.Sprintf("resource_metadata=%q", m))
	}
	w.Header().Set("WWW-Authenticate", "Bearer "+strings.Join(params, ", "))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// authenticate decides who the caller is and puts it in the request
// context. Without a tailnet it verifies the bearer token (accepted only
// in the Authorization header). With one, the remote address goes through
// WhoIs first: a peer the tailnet does not know is refused with 403
// (loopback only gets through with --allow-loopback, and then by token
// alone), and the auth mode says whether scopes come from the token, the
// tailnet policy, or both. Identity never comes from a request header.
func (a *app) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		remote := r.RemoteAddr
		if len(r.Header.Values("Authorization")) > 1 {
			// Ambiguous: a proxy in front may act on the other one.
			reason := "two Authorization headers: send one, Authorization: Bearer <token>"
			a.auditAuthFailure(r, reason, nil)
			a.challenge(w, http.StatusBadRequest, "invalid_request", reason, "")
			return
		}
		if q := r.URL.Query(); q.Has("access_token") || q.Has("token") {
			a.auditAuthFailure(r, "token in URL query refused", nil)
			a.challenge(w, http.StatusUnauthorized, "invalid_request", "tokens are accepted only in the Authorization header", "")
			return
		}
		mode := tailnet.AuthToken
		var peer *tailnet.Peer
		if a.tailnet != nil {
			p, err := a.tailnet.Identify(r.Context(), remote)
			switch {
			case err == nil:
				peer, mode = p, a.authMode
			case errors.Is(err, tailnet.ErrUnknownPeer) && a.allowLoopback && tailnet.IsLoopback(remote):
				// --allow-loopback: a local caller, by token alone.
			case errors.Is(err, tailnet.ErrUnknownPeer):
				reason := "unknown tailnet peer " + remote
				if tailnet.IsLoopback(remote) {
					reason = "loopback caller " + remote + " refused: not a tailnet peer (start with --allow-loopback to let local callers in by token)"
				}
				a.auditAuthFailure(r, reason, nil)
				a.forbid(w, "access_denied", reason)
				return
			default:
				a.log.Error("identifying tailnet caller", slog.String("remote_addr", remote), slog.Any("error", err))
				a.auditAuthFailure(r, "tailnet identity lookup failed", nil)
				a.forbid(w, "access_denied", "tailnet identity lookup failed")
				return
			}
			if peer != nil {
				if reason := peer.Refusal(mode); reason != "" {
					a.auditAuthFailure(r, reason, peer)
					a.forbid(w, "access_denied", reason)
					return
				}
			}
		}
		var tok *auth.Caller
		if mode != tailnet.AuthTailscale {
			var reason string
			if tok, reason = a.verifyBearer(r); tok == nil {
				a.auditAuthFailure(r, reason, peer)
				a.challenge(w, http.StatusUnauthorized, "invalid_token", reason, "")
				return
			}
		}
		caller := tailnet.Caller(mode, peer, tok)
		caller.RemoteAddr = remote
		next.ServeHTTP(w, r.WithContext(auth.WithCaller(r.Context(), caller)))
	})
}

// checkHost refuses a request whose Host header is neither a loopback
// name nor one of the tailnet node's names and addresses: DNS rebinding
// protection for tailnet modes, where a browser on a tailnet device would
// otherwise carry its user's tailnet identity to the server for any page
// that rebinds its own name to the node's address.
func (a *app) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if a.ownHost(host) {
			next.ServeHTTP(w, r)
			return
		}
		reason := fmt.Sprintf("Host header %q is not a name or address of this server (DNS rebinding protection)", r.Host)
		a.auditAuthFailure(r, reason, nil)
		a.forbid(w, "invalid_request", reason)
	})
}

// verifyBearer verifies the request's bearer token; on failure it
// returns nil and why.
func (a *app) verifyBearer(r *http.Request) (*auth.Caller, string) {
	h := r.Header.Get("Authorization")
	switch scheme, tok, _ := strings.Cut(h, " "); {
	case h == "":
		return nil, "missing token: send it as Authorization: Bearer <token>"
	case len(h) > maxAuthHeader:
		return nil, "Authorization header too long"
	case !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "":
		return nil, "Authorization scheme is not Bearer"
	default:
		c, err := a.verifier.Verify(strings.TrimSpace(tok))
		if err != nil {
			return nil, "invalid token: " + err.Error()
		}
		return c, ""
	}
}

// forbid writes a 403 with a JSON body for a caller the tailnet layer
// refuses.
func (a *app) forbid(w http.ResponseWriter, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusForbidden)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// auditAuthFailure records a refused request. Only the request's shape
// is recorded, never its Authorization header; peer, when the tailnet
// knows the caller, adds its identity.
func (a *app) auditAuthFailure(r *http.Request, reason string, peer *tailnet.Peer) {
	c := &auth.Caller{Agent: "unauthenticated", RemoteAddr: r.RemoteAddr}
	if peer != nil {
		id := peer.Identity
		c.Agent, c.Tailscale = peer.Name(), &id
	}
	rec := &audit.Record{Event: "auth_denied", RequestID: newRequestID(), Decision: "denied", Reason: reason,
		Result: "denied", Caller: c}
	if err := a.audit.Write(r.Context(), rec); err != nil {
		a.log.Error("writing audit record", "error", err)
	}
}

// bufferBody reads r's body (at most maxBody bytes) and puts it back
// for the next handler; when it is too large, it answers 413 and
// returns false.
func bufferBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		return nil, false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, true
}

// scopeGate answers a tools/call for a tool the caller's scopes do not
// allow with 403 insufficient_scope naming the scope, before MCP handling.
// auditRefusal is the tool error of a call refused because its audit
// record cannot be written.
const auditRefusal = "call refused: the audit log cannot be written, and TailOps runs nothing unaudited; " +
	"check the disk holding the audit log and the server's log (calls run again by themselves once it can be written)"

func (a *app) scopeGate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		body, ok := bufferBody(w, r)
		if !ok {
			return
		}
		var msg struct {
			Method string `json:"method"`
			Params struct {
				Name      string          `json:"name"`
				Arguments json.RawMessage `json:"arguments"` // decoded only for a denial's audit record
			} `json:"params"`
		}
		if json.Unmarshal(body, &msg) == nil && msg.Method == string(mcp.MethodToolsCall) {
			c := auth.CallerFrom(r.Context())
			if reason, scope := a.denial(c, msg.Params.Name); scope != "" {
				risk := a.enabled[msg.Params.Name].spec.Risk.String()
				var args any
				if len(msg.Params.Arguments) > 0 {
					if err := json.Unmarshal(msg.Params.Arguments, &args); err != nil {
						// Cannot happen: it parsed as part of body.
						// Record that, never the raw bytes (not redacted).
						args = fmt.Sprintf("(arguments not decodable: %T)", err)
					}
				}
				a.writeDenied(r.Context(), c, msg.Params.Name, args, risk, reason)
				a.challenge(w, http.StatusForbidden, "insufficient_scope", reason, scope)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
