// SPDX-License-Identifier: Apache-2.0

// Package toolstest starts a real TailOps server in-process, with the
// toolsets a test chooses, and hands back real MCP clients: the one test
// harness of the tool packages (modelled on tailscale/setec's setectest
// and kubernetes-mcp-server's internal/test). A call goes the way a
// client's call goes in production — HTTP, bearer token, the choke point,
// input validation, the audit log — so a tool test also proves the tool
// is declared well enough to be served.
package toolstest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/approval"
	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/resources"
	"github.com/tailops/tailops/server"
	"github.com/tailops/tailops/tools"
)

// Options configure a Server. A nil *Options is ready for use.
type Options struct {
	// Logger receives the server's and the toolsets' log lines; nil
	// discards them.
	Logger *slog.Logger
	// Gate decides calls that need approval; nil refuses them all,
	// unless Approve is set.
	Gate *approval.Gate
	// Approve, when Gate is nil, gives the server a gate whose webhook
	// approves every call that needs approval, so that a test reaches
	// what a critical tool, or a call approval guards, then does.
	Approve bool
	// Webhook, when Gate is nil, gives the server a gate whose webhook
	// is this handler (on loopback): it sees the signed requests and
	// decides them.
	Webhook http.Handler
	// TwoPerson, when Gate is nil, gives the server a two-person gate
	// (Server.Gate) that waits TwoPersonWait for a decision; a test
	// decides with the gate's Approve and Deny, as another caller.
	TwoPerson bool
	// Known are tools the server knows but does not serve (disabled).
	Known []tools.Spec
}

// TwoPersonWait is how long the gate of Options.TwoPerson waits for a
// decision before the call returns pending.
const TwoPersonWait = 200 * time.Millisecond

// Server is a TailOps server serving a test's toolsets over HTTP on
// loopback, with its own audit log and shared secret.
type Server struct {
	// URL is the MCP endpoint (.../mcp).
	URL string
	// AuditLog is the audit log's path.
	AuditLog string
	// Server is the running server.
	Server *server.Server
	// Gate is the server's approval gate, nil when it has none.
	Gate *approval.Gate

	secret    []byte
	specs     map[string]tools.Spec
	storePath string
}

// New starts a server with sets, opening those that open something
// (tools.Opener) and closing them (tools.Closer) when the test ends. It
// serves the sets' prompts, resources and completions, and TailOps'
// resource views (resources.All) of their tools, as the real server does.
func New(t testing.TB, sets []tools.Toolset, opts *Options) *Server {
	t.Helper()
	if opts == nil {
		opts = &Options{}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	for _, ts := range sets {
		if o, ok := ts.(tools.Opener); ok {
			if err := o.Open(context.Background()); err != nil {
				t.Fatalf("opening toolset %s: %v", ts.Name(), err)
			}
		}
		if c, ok := ts.(tools.Closer); ok {
			t.Cleanup(func() { c.Close() })
		}
	}
	s := &Server{AuditLog: filepath.Join(t.TempDir(), "audit.log"), secret: make([]byte, 32), specs: map[string]tools.Spec{}}
	rand.Read(s.secret)
	l, err := audit.Open(s.AuditLog, &audit.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	gate := opts.Gate
	if gate == nil && (opts.Webhook != nil || opts.TwoPerson || opts.Approve) {
		s.storePath = filepath.Join(t.TempDir(), "approvals.json")
	}
	switch {
	case gate != nil:
	case opts.Webhook != nil:
		gate = webhookGate(t, l, log, s.storePath, opts.Webhook)
	case opts.TwoPerson:
		gate = twoPersonGate(t, l, log, s.storePath)
	case opts.Approve:
		gate = approvingGate(t, l, log, s.storePath)
	}
	s.Gate = gate
	v, err := auth.NewVerifier(auth.Config{Secret: s.secret})
	if err != nil {
		t.Fatal(err)
	}
	enabled := tools.Specs(sets)
	for _, sp := range enabled {
		s.specs[sp.Name()] = sp
	}
	s.Server, err = server.New(server.Config{Logger: log, Version: "test", Audit: l, Verifier: v,
		Known: append(append([]tools.Spec(nil), enabled...), opts.Known...), Enabled: enabled,
		Prompts: tools.Prompts(sets), Resources: tools.Resources(sets), Views: resources.All(), Completions: tools.Completions(sets), Gate: gate})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Server.Handler())
	t.Cleanup(hs.Close)
	s.URL = hs.URL + "/mcp"
	return s
}

// approvingGate is a gate whose webhook, on loopback, approves every
// request; its records go to l.
func approvingGate(t testing.TB, l *audit.Log, log *slog.Logger, store string) *approval.Gate {
	t.Helper()
	return webhookGate(t, l, log, store, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"approved": true, "reason": "toolstest approves every call", "approver": "toolstest-webhook"}`)
	}))
}

// webhookGate is a gate whose webhook, on loopback, is h (secret
// "toolstest"); its store is the file store, its records go to l.
func webhookGate(t testing.TB, l *audit.Log, log *slog.Logger, store string, h http.Handler) *approval.Gate {
	t.Helper()
	wh := httptest.NewServer(h)
	t.Cleanup(wh.Close)
	g, err := approval.NewGate(approval.Config{Store: openStore(t, store, log), Audit: l.Write, Logger: log,
		Webhook: &approval.Webhook{URL: wh.URL, Secret: []byte("toolstest"), Client: wh.Client(), Logger: log}})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// twoPersonGate is a two-person gate that waits TwoPersonWait; its store
// is the file store, its records go to l.
func twoPersonGate(t testing.TB, l *audit.Log, log *slog.Logger, store string) *approval.Gate {
	t.Helper()
	g, err := approval.NewGate(approval.Config{Store: openStore(t, store, log), Audit: l.Write, Logger: log,
		TwoPerson: true, Wait: TwoPersonWait})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// openStore opens the approval store file path, closed when the test
// ends.
func openStore(t testing.TB, path string, log *slog.Logger) *approval.Store {
	t.Helper()
	store, err := approval.OpenStore(path, &approval.StoreOptions{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

// StorePath is the path of the approval store file of a gate the
// server made (Options.Webhook, TwoPerson, Approve); "" otherwise.
func (s *Server) StorePath() string { return s.storePath }

// Token mints a bearer token for scopes, valid for an hour.
func (s *Server) Token(t testing.TB, scopes ...auth.Scope) string {
	t.Helper()
	tok, err := auth.MintHMAC(s.secret, auth.Claims{Agent: "toolstest", Scopes: scopes, Expiry: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Client is an initialized MCP client of a Server (mark3labs/mcp-go,
// streamable HTTP).
type Client struct {
	*client.Client
	srv *Server
}

// Client returns a Client with a token of scopes; it is closed when the
// test ends. With no scopes it gets admin, which allows every tool.
func (s *Server) Client(t testing.TB, scopes ...auth.Scope) *Client {
	t.Helper()
	if len(scopes) == 0 {
		scopes = []auth.Scope{auth.ScopeAdmin}
	}
	c, err := client.NewStreamableHttpClient(s.URL, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + s.Token(t, scopes...)}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Initialize(context.Background(), mcp.InitializeRequest{}); err != nil {
		t.Fatalf("initializing an MCP client: %v", err)
	}
	return &Client{Client: c, srv: s}
}

func (c *Client) callTool(t testing.TB, ctx context.Context, tool string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	req := mcp.CallToolRequest{}
	req.Params.Name, req.Params.Arguments = tool, args
	res, err := c.CallTool(ctx, req)
	if err != nil {
		t.Fatalf("%s %v: %v", tool, args, err)
	}
	return res
}

func (c *Client) spec(t testing.TB, tool string) tools.Spec {
	t.Helper()
	sp, ok := c.srv.specs[tool]
	if !ok {
		t.Fatalf("no tool %s on the test server", tool)
	}
	return sp
}

// Caller calls tools for a test: a *Client through a real server, or
// *Handlers straight to the tools' handlers.
type Caller interface {
	callTool(t testing.TB, ctx context.Context, tool string, args map[string]any) *mcp.CallToolResult
	spec(t testing.TB, tool string) tools.Spec
}

// Call calls tool with args through c and returns the result; a protocol
// error fails the test (a tool error is a result).
func Call(t testing.TB, c Caller, tool string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	return c.callTool(t, context.Background(), tool, args)
}

// CallCtx is Call with a context.
func CallCtx(t testing.TB, ctx context.Context, c Caller, tool string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	return c.callTool(t, ctx, tool, args)
}

// OK calls tool, which must succeed, checks its structured result
// against the tool's output schema and decodes it.
func OK[T any](t testing.TB, c Caller, tool string, args map[string]any) T {
	t.Helper()
	return Decode[T](t, c, tool, Call(t, c, tool, args))
}

// Decode checks that res, a result of tool called through c, succeeded
// and matches the tool's output schema, and decodes its structured
// content.
func Decode[T any](t testing.TB, c Caller, tool string, res *mcp.CallToolResult) T {
	t.Helper()
	if res.IsError {
		t.Fatalf("%s: unexpected error: %s", tool, Text(res))
	}
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	sp := c.spec(t, tool)
	CheckOutputSchema(t, sp, b)
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("decoding %s result: %v", tool, err)
	}
	return out
}

// Err calls tool, which must fail with a tool error, and returns its text.
func Err(t testing.TB, c Caller, tool string, args map[string]any) string {
	t.Helper()
	return ErrCtx(t, context.Background(), c, tool, args)
}

// ErrCtx is Err with a context.
func ErrCtx(t testing.TB, ctx context.Context, c Caller, tool string, args map[string]any) string {
	t.Helper()
	res := c.callTool(t, ctx, tool, args)
	if !res.IsError {
		t.Fatalf("%s %v: succeeded, want an error: %s", tool, args, Text(res))
	}
	return Text(res)
}

// Text returns the text of a result's first text content, or "".
func Text(r *mcp.CallToolResult) string {
	for _, c := range r.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			return tc.Text
		}
	}
	return ""
}

var schemas sync.Map // tool name → *jsonschema.Resolved

// CheckOutputSchema fails the test unless doc matches sp's output schema.
func CheckOutputSchema(t testing.TB, sp tools.Spec, doc []byte) {
	t.Helper()
	v, ok := schemas.Load(sp.Name())
	if !ok {
		raw, err := json.Marshal(sp.Tool.OutputSchema)
		if err != nil {
			t.Fatal(err)
		}
		if len(sp.Tool.RawOutputSchema) > 0 {
			raw = sp.Tool.RawOutputSchema
		}
		var sd jsonschema.Schema
		if err := json.Unmarshal(raw, &sd); err != nil {
			t.Fatal(err)
		}
		rs, err := sd.Resolve(nil)
		if err != nil {
			t.Fatalf("compiling %s output schema: %v", sp.Name(), err)
		}
		v, _ = schemas.LoadOrStore(sp.Name(), rs)
	}
	var inst any
	if err := json.Unmarshal(doc, &inst); err != nil {
		t.Fatal(err)
	}
	if err := v.(*jsonschema.Resolved).Validate(inst); err != nil {
		t.Fatalf("%s result does not match its output schema: %v\n%s", sp.Name(), err, doc)
	}
}

// Records returns the audit log's records, decoded.
func (s *Server) Records(t testing.TB) []map[string]any {
	t.Helper()
	f, err := os.Open(s.AuditLog)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// WriteFile writes content to path for a test, making its directory.
func WriteFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
