// SPDX-License-Identifier: Apache-2.0

// Package server is TailOps' MCP server: the HTTP edge (authentication,
// tailnet identity, Origin and Host checks, MCP sessions), the stdio
// transport, and the one authorize-and-audit choke point every request
// passes (see decide and the record builders in decide.go): listing,
// the HTTP pre-check and the call paths of tools, prompts and resources
// all ask the same decision function, and every audit record of a
// request is built in one place.
//
// Package main owns the configuration, the startup order and the kernel
// sandbox; it hands a Server everything already opened (Config).
package server

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/tailops/tailops/approval"
	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/metrics"
	"github.com/tailops/tailops/tailnet"
	"github.com/tailops/tailops/tools"
)

// Limits on what a request may carry.
const (
	maxAuthHeader = 8 << 10 // bytes of Authorization header accepted
	maxBody       = 4 << 20 // bytes of a JSON-RPC request body
	// listCacheTTL is how long a client may reuse a list result.
	listCacheTTL = time.Minute
)

// Config is what a Server serves and with what. Audit and Enabled are
// required; every other zero value is documented.
type Config struct {
	// Logger receives the server's log lines; nil means slog.Default().
	Logger *slog.Logger
	// Version is the server's version, announced to MCP clients.
	Version string
	// Audit is the audit log every request is recorded in.
	Audit *audit.Log
	// Verifier verifies bearer tokens; nil for a stdio-only server.
	Verifier *auth.Verifier
	// Known are every tool this build offers, enabled or not, so that a
	// call of a disabled tool is refused as such; nil means Enabled.
	Known []tools.Spec
	// Enabled are the tools this server serves.
	Enabled []tools.Spec
	// Prompts and Resources are the prompts and resources this server
	// serves; nil means none (and then the server does not announce the
	// capability).
	Prompts   []tools.PromptSpec
	Resources []tools.ResourceSpec
	// Views serve read-only tools' results as resources; those whose tool
	// is not enabled are left out.
	Views []tools.ResourceView
	// Completions complete prompt arguments (tools.PromptSpec.Complete
	// names them by kind) and resource templates' variables
	// (tools.ResourceView.Complete); nil means none, and then the server
	// does not announce the capability.
	Completions []tools.Completion
	// Gate decides calls that need approval; nil refuses them all.
	Gate *approval.Gate
	// Confirm names the tools whose calls the user must confirm in the
	// client (elicitation) before they run; nil means none.
	Confirm []string
	// ConfirmLowered has the user also confirm a call of a critical tool
	// that its arguments lower to high (Spec.RiskFor): it waits for no
	// approval. confirm's default sets it.
	ConfirmLowered bool
	// Resource is this server's resource URL (the JWT audience, RFC 9728
	// resource); empty means none.
	Resource string
	// AuthServers are the OAuth authorization servers announced in RFC
	// 9728 metadata; empty means no metadata is served.
	AuthServers []string
	// Tailnet identifies tailnet callers; nil when there is no tailnet,
	// and then AuthMode, AllowLoopback and Hosts are ignored.
	Tailnet *tailnet.Identifier
	// AuthMode says where a tailnet caller's scopes come from; empty
	// means tailnet.AuthToken.
	AuthMode tailnet.AuthMode
	// AllowLoopback lets loopback callers that are not tailnet peers in,
	// by token.
	AllowLoopback bool
	// Hosts are the names and addresses clients may put in the Host
	// header besides loopback ones (the node's tailnet names and
	// addresses); with a tailnet they replace mcp-go's check, which
	// refuses every tailnet name on connections tailscaled forwards over
	// loopback.
	Hosts []string
	// Sessions bound the MCP sessions; zero fields take the defaults.
	Sessions SessionLimits
	// ShutdownTimeout is how long calls in flight may run once Serve's
	// context is done before they are cancelled; 0 means
	// DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// Warnings are shown on /readyz for as long as the server runs (the
	// sandbox is off, a file root exposes host secrets...); nil means none.
	Warnings []string
	// LiveWarnings, when set, returns warnings that come and go (a failed
	// config reload), shown on /readyz after Warnings.
	LiveWarnings func() []string
	// RateLimits limit each caller's tool calls; the zero value limits
	// nothing.
	RateLimits RateLimits
	// Metrics counts calls, decisions and approval waits, and is served
	// at /metrics to callers with the metrics:read scope; nil means no
	// metrics and no /metrics.
	Metrics *metrics.Metrics
	// Watchers report changes of what resource views show, by the name a
	// view's Watch gives; nil means no view can be subscribed to.
	Watchers map[string]tools.Watcher
	// Fleet, when set, makes this server a fleet entry node: every tool
	// takes the node argument (NodeArg), and a call for another member is
	// forwarded to it; nil means no fleet.
	Fleet Forwarder
	// InlineMax is the most text, in bytes, a result of a tool whose view
	// can link it carries inline; a larger one is a resource link (see
	// links.go). 0 means results are never linked.
	InlineMax int
}

// Server is a running TailOps MCP server. Its methods are safe for
// concurrent use.
type Server struct {
	log      *slog.Logger
	verifier *auth.Verifier
	audit    *audit.Log
	mcp      *mcpserver.MCPServer
	gate     *approval.Gate
	// tasks is the tasks' table, nil when no enabled tool runs as a task.
	tasks *taskTable

	// entries are what the server serves, by kind and name; known are
	// what this build offers, enabled or not.
	entries map[entryKey]*entry
	known   map[entryKey]bool

	resource     string
	authServers  []string
	warnings     []string
	liveWarnings func() []string

	tailnet       *tailnet.Identifier
	authMode      tailnet.AuthMode
	allowLoopback bool
	hosts         map[string]bool // Host header values accepted besides loopback; nil: mcp-go's own localhost check

	metrics         *metrics.Metrics // nil: none
	limits          *limiters        // nil: no rate limits
	refusals        *refusalBudgets  // bound the records of requests refused before a caller is known
	sessions        *sessions        // the MCP sessions of protocol revisions before 2026-07-28
	calls           calls            // the tool calls in flight, for shutdown
	shutdownTimeout time.Duration
	completions     map[string]tools.Completion // by kind; nil: none
	confirm         map[string]bool             // tools the user confirms in the client
	confirmLowered  bool                        // also a critical tool's call lowered to high (Config.ConfirmLowered)
	confirms        confirms                    // request states issued to 2026-07-28 clients
	views           []*view                     // the resource views served
	links           map[string]*view            // by tool: the view that links its large results
	linked          linkGrants                  // links confirmed calls returned
	inlineMax       int
	subs            subscriptions // resources/subscribe state
	fleet           Forwarder     // nil: not a fleet entry node
	version         string

	// bodyTimeout and idleTimeout bound, on Serve's connections, how long
	// a request's body may take to arrive and how long a keep-alive
	// connection may idle (DefaultBodyTimeout, DefaultIdleTimeout).
	bodyTimeout, idleTimeout time.Duration
}

// entry is one thing the server serves (a tool, for now), as the choke
// point needs it.
type entry struct {
	kind  Kind
	name  string
	scope auth.Scope
	risk  tools.Risk
	spec  *tools.Spec // for tools
	// prompt is the declaration, for prompts: its Uses gate it, its
	// Complete names what completes its arguments.
	prompt *tools.PromptSpec

	// The input validator, compiled on the tool's first call so start-up
	// does not pay for every schema (the tests compile them all:
	// tools.TestEveryToolIsDeclaredConsistently).
	once sync.Once
	v    *tools.InputValidator
	verr error
}

// entryKey names an entry.
type entryKey struct {
	kind Kind
	name string
}

// check validates a call's arguments against the tool's input schema.
func (e *entry) check(args any) error {
	e.once.Do(func() { e.v, e.verr = tools.NewInputValidator(e.spec) })
	if e.verr != nil {
		return fmt.Errorf("compiling the input schema: %w", e.verr)
	}
	return e.v.Check(args)
}

// New returns a Server for c. It validates every enabled tool's
// declaration and opens nothing.
func New(c Config) (*Server, error) {
	if c.Audit == nil {
		return nil, fmt.Errorf("configuring the server: no audit log")
	}
	s := &Server{log: cmp.Or(c.Logger, slog.Default()), verifier: c.Verifier, audit: c.Audit, gate: c.Gate,
		entries: map[entryKey]*entry{}, known: map[entryKey]bool{},
		resource: c.Resource, authServers: c.AuthServers, warnings: c.Warnings, liveWarnings: c.LiveWarnings,
		tailnet: c.Tailnet, authMode: cmp.Or(c.AuthMode, tailnet.AuthToken), allowLoopback: c.AllowLoopback,
		sessions: newSessions(c.Sessions), shutdownTimeout: cmp.Or(c.ShutdownTimeout, DefaultShutdownTimeout), metrics: c.Metrics,
		bodyTimeout: DefaultBodyTimeout, idleTimeout: DefaultIdleTimeout,
		limits: newLimiters(c.RateLimits), refusals: newRefusalBudgets(maxRefusalSources), confirm: map[string]bool{}, confirmLowered: c.ConfirmLowered, fleet: c.Fleet, version: c.Version,
		links: map[string]*view{}, inlineMax: c.InlineMax}
	for _, n := range c.Confirm {
		s.confirm[n] = true
	}
	s.metrics.SetSessionsOpen(s.OpenSessions)
	if s.verifier != nil {
		s.verifier.OnRevocations(s.stopRevoked)
	}
	if c.Tailnet != nil {
		s.hosts = map[string]bool{}
		for _, h := range c.Hosts {
			s.hosts[strings.ToLower(strings.TrimSuffix(h, "."))] = true
		}
		if u, err := url.Parse(c.Resource); err == nil && u.Hostname() != "" {
			s.hosts[strings.ToLower(u.Hostname())] = true
		}
	}
	hooks := &mcpserver.Hooks{}
	hooks.AddOnError(s.auditUnknownTool)
	hooks.AddOnRequestInitialization(s.stdioSubscribeGate)
	hooks.AddAfterListPrompts(s.filterPrompts)
	hooks.AddAfterListResources(s.filterResources)
	hooks.AddAfterListResourceTemplates(s.filterTemplates)
	s.subs = subscriptions{watchers: c.Watchers, session: map[string]map[string]subscription{}, send: map[string]func(string) error{}, running: map[string]context.CancelFunc{}}
	hooks.AddAfterSubscribe(s.subscribed)
	hooks.AddBeforeSubscriptionsListen(s.listening)
	hooks.AddAfterUnsubscribe(s.unsubscribed)
	hooks.AddOnUnregisterSession(s.sessionEnded)
	var opts []mcpserver.ServerOption
	if slices.ContainsFunc(c.Enabled, func(sp tools.Spec) bool { return sp.Task() }) {
		s.tasks = newTaskTable()
		opts = s.tasks.options(hooks) // first: its middleware is the outermost
	}
	opts = append(opts,
		mcpserver.WithToolCapabilities(false),
		mcpserver.WithInstructions("TailOps operates a homelab host. Tools are filtered by your token's scopes; every call is audited."),
		mcpserver.WithToolFilter(s.visibleTools),
		mcpserver.WithHooks(hooks),
		mcpserver.WithToolHandlerMiddleware(tools.ProgressMiddleware), // before the gate: it and the tool share the reporter
		mcpserver.WithToolHandlerMiddleware(s.authorizeAndAudit),
		mcpserver.WithRecovery(),
		mcpserver.WithResourceRecovery(),
	)
	// On 2026-07-28, list results carry caching hints: what a caller may
	// list changes only when the server restarts (a reload changes
	// revocations, which refuse calls), so a minute; and lists are the
	// caller's own (filtered by its scopes), so private. Reads are live
	// (mcp-go's default: 0, private).
	for _, m := range []mcp.MCPMethod{mcp.MethodToolsList, mcp.MethodPromptsList, mcp.MethodResourcesList, mcp.MethodResourcesTemplatesList} {
		opts = append(opts, mcpserver.WithMethodCacheHints(m, listCacheTTL.Milliseconds(), mcp.CacheScopePrivate))
	}
	if len(c.Prompts) > 0 {
		opts = append(opts, mcpserver.WithPromptCapabilities(false))
	}
	if (len(c.Prompts) > 0 || len(c.Views) > 0) && len(c.Completions) > 0 {
		s.completions = map[string]tools.Completion{}
		for _, cp := range c.Completions {
			if _, dup := s.completions[cp.Kind]; dup || cp.Kind == "" || cp.Tool == "" || cp.Values == nil {
				return nil, fmt.Errorf("completion %q: declared twice, or without a tool or values", cp.Kind)
			}
			s.completions[cp.Kind] = cp
		}
		opts = append(opts, mcpserver.WithCompletions(), mcpserver.WithPromptCompletionProvider(promptCompleter{s}),
			mcpserver.WithResourceCompletionProvider(resourceCompleter{s}))
	}
	if len(c.Resources) > 0 || len(c.Views) > 0 {
		// subscribe is declared only when a view can be watched.
		subscribe := slices.ContainsFunc(c.Views, func(v tools.ResourceView) bool { return v.Watch != "" && c.Watchers[v.Watch] != nil })
		opts = append(opts, mcpserver.WithResourceCapabilities(subscribe, false))
	}
	if icon, ok := tools.Icon("tailops"); ok {
		opts = append(opts, mcpserver.WithIcons(icon))
	}
	s.mcp = mcpserver.NewMCPServer("tailops", c.Version, opts...)
	known := c.Known
	if known == nil {
		known = c.Enabled
	}
	for i := range known {
		s.known[entryKey{KindTool, known[i].Name()}] = true
	}
	for i := range c.Enabled {
		spec := &c.Enabled[i]
		if err := spec.Validate(); err != nil {
			return nil, err
		}
		if err := s.register(&entry{kind: KindTool, name: spec.Name(), scope: spec.Scope, risk: spec.Risk, spec: spec}); err != nil {
			return nil, err
		}
		tool := spec.Tool
		if s.fleet != nil {
			var err error
			if tool, err = withNodeArg(tool); err != nil {
				return nil, err
			}
		}
		s.mcp.AddTool(tool, spec.Handler)
	}
	if err := s.addPrompts(c.Prompts); err != nil {
		return nil, err
	}
	if err := s.addResources(c.Resources); err != nil {
		return nil, err
	}
	if err := s.addViews(c.Views); err != nil {
		return nil, err
	}
	return s, nil
}

// Handler is the HTTP side: /mcp behind authentication, the health
// endpoints, and RFC 9728 metadata when an authorization server is set.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	opts := []mcpserver.StreamableHTTPOption{mcpserver.WithEndpointPath("/mcp"),
		mcpserver.WithSessionIdManagerResolver(s.sessions), mcpserver.WithSessionIdleTTL(s.sessions.limits.IdleTimeout),
		// A ping on a session's open event stream keeps it from idling out.
		mcpserver.WithHeartbeatInterval(s.sessions.limits.IdleTimeout / 2), mcpserver.WithStreamableHTTPLogger(s.log)}
	if s.hosts != nil {
		opts = append(opts, mcpserver.WithDisableLocalhostProtection(true)) // checkHost does it
	}
	mcpHTTP := mcpserver.NewStreamableHTTPServer(s.mcp, opts...)
	h := s.checkOrigin(s.authenticate(s.readEnvelope(s.sessionGate(s.scopeGate(s.subscribeGate(s.rateGate(s.taskStatusFilter(mcpHTTP))))))))
	if s.hosts != nil {
		h = s.checkHost(h)
	}
	mux.Handle("/mcp", h)
	if s.metrics != nil {
		// The same gates as /mcp, then the metrics:read scope; a refused
		// scrape is audited like any refused request.
		m := s.checkOrigin(s.authenticate(metrics.Guard(s.metrics.Handler(), s.refuseScrape)))
		if s.hosts != nil {
			m = s.checkHost(m)
		}
		mux.Handle("GET "+metrics.Path, m)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set(tailnet.VersionHeader, cmp.Or(s.version, "unknown")) // how a fleet entry node knows TailOps
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", s.ready)
	if len(s.authServers) > 0 && s.resource != "" {
		meta := mcpserver.NewProtectedResourceMetadataHandler(mcpserver.ProtectedResourceMetadataConfig{
			Resource: s.resource, AuthorizationServers: s.authServers, BearerMethodsSupported: []string{"header"},
			ScopesSupported: scopeNames(auth.Known()), ResourceName: "TailOps",
		})
		mux.Handle("GET "+mcpserver.WellKnownProtectedResourcePath, meta)
		if u, err := url.Parse(s.resource); err == nil && u.Path != "" && u.Path != "/" {
			mux.Handle("GET "+mcpserver.WellKnownProtectedResourcePath+u.Path, meta)
		}
	}
	return mux
}

// Tools returns the names of the tools the server serves, in no
// particular order.
func (s *Server) Tools() []string {
	var out []string
	for k := range s.entries {
		if k.kind == KindTool {
			out = append(out, k.name)
		}
	}
	return out
}

func scopeNames(ss []auth.Scope) []string {
	out := make([]string, len(ss))
	for i, sc := range ss {
		out[i] = string(sc)
	}
	return out
}

// ready is /readyz: 503 while the audit log cannot be written, else
// "ready" and the warnings.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := s.audit.Healthy(); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "not ready: audit log unavailable\n")
		return
	}
	io.WriteString(w, "ready\n")
	for _, m := range s.warnings {
		io.WriteString(w, "WARNING: "+m+"\n")
	}
	if s.liveWarnings != nil {
		for _, m := range s.liveWarnings() {
			io.WriteString(w, "WARNING: "+m+"\n")
		}
	}
}

// resultText is the text of a tool result, for its audit record.
func resultText(r *mcp.CallToolResult) string {
	for _, c := range r.Content {
		if t, ok := c.(mcp.TextContent); ok {
			return t.Text
		}
	}
	return "tool error"
}

// refuseScrape answers a /metrics request without the metrics:read scope
// (metrics.Guard decides) and records the refusal.
func (s *Server) refuseScrape(w http.ResponseWriter, r *http.Request, why metrics.Refusal) {
	s.write(r.Context(), refusal(audit.EventAuthDenied, auth.CallerFrom(r.Context()), "GET "+metrics.Path+": "+why.Description))
	s.challenge(w, why.Status, why.Code, why.Description, why.Scope)
}
