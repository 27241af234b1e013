// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/labtest"
	"github.com/tailops/tailops/toolstest"
)

// binPath is the tailops binary built once for tests that run it as a
// separate process (CLI, stdio, sandbox); probePath is the same built with
// the test-only tags: the sandbox_probe tool, and the file tools' own path
// checks compiled out (to prove Landlock alone holds).
var binPath, probePath string

func TestMain(m *testing.M) {
	// The tailnet tests start Tailscale nodes: the whole test binary runs
	// in a network namespace with only loopback (it re-executes itself
	// under unshare -n here, and exits with that run's status).
	// Headscale (headscale_test.go) is built inside the namespace, from
	// modules fetched now, while the module proxy can be reached; this
	// does nothing once its binary is cached.
	if err := labtest.FetchHeadscale(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	labtest.ReexecInLoopbackNetNS()
	// The servers the tests start (in-process and the binary, which
	// inherits the environment) confirm nothing unless a test says
	// otherwise: their clients cannot elicit, and --confirm's default
	// would refuse every high-risk call. The confirmation tests pass
	// --confirm (confirm_test.go), and TestConfigConfirm the default.
	os.Setenv("TAILOPS_CONFIRM", "none")
	// A fuzzing run (`go test -fuzz`, and each of its workers) calls
	// only its fuzz target, which needs no binary: building two for every
	// worker made .ci/fuzz.sh take minutes per target here.
	if slices.ContainsFunc(os.Args[1:], func(a string) bool {
		return strings.HasPrefix(a, "-test.fuzz=") || strings.HasPrefix(a, "-test.fuzzworker")
	}) {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "tailops-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Both builds leave out the Tailscale features the release leaves out
	// (tailscale.tags), as the test binary itself does (.ci/test.sh).
	tags, err := labtest.TailscaleTags()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "tailops")
	build := exec.Command("go", "build", "-tags", tags, "-o", binPath, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building tailops for tests:", err)
		os.Exit(1)
	}
	probePath = filepath.Join(dir, "tailops-probe")
	build = exec.Command("go", "build", "-tags", tags+",tailops_testtools,tailops_nocheck", "-o", probePath, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the probe build for tests:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer = toolstest.LogBuffer

// testServer is a running in-process server on a loopback port.
type testServer struct {
	URL      string // base URL, e.g. http://127.0.0.1:PORT
	StateDir string
	AuditLog string
	Secret   []byte
	Logs     *syncBuffer
	in       *instance
}

// startServer runs `tailops serve` in-process with the sandbox off (it is
// irreversible; the sandbox is tested on the binary), debug logging (so
// tests can check that no secret reaches even debug logs) and extra args.
func startServer(t *testing.T, extra ...string) *testServer {
	t.Helper()
	return startInProcess(t, append([]string{"--log-level", "debug"}, extra...)...)
}

// startInProcess is startServer for any testing.TB: `serve` in-process
// with the sandbox off, on a loopback port, at the debug log level.
func startInProcess(tb testing.TB, extra ...string) *testServer {
	tb.Helper()
	state := tb.TempDir()
	args := append([]string{"--listen", "127.0.0.1:0", "--state-dir", state, "--sandbox", "off"}, extra...)
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	in, err := setup(ctx, args, logs)
	if err != nil {
		cancel()
		tb.Fatalf("setup: %v\nlogs:\n%s", err, logs)
	}
	done := make(chan error, 1)
	go func() { done <- in.serve(ctx, nil, nil) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("serve: %v", err)
		}
		in.close()
	})
	secret, err := in.cfg.loadSecret(false)
	if err != nil {
		tb.Fatal(err)
	}
	s := &testServer{StateDir: state, AuditLog: in.cfg.AuditLog, Secret: secret, Logs: logs, in: in}
	if in.ln != nil {
		s.URL = "http://" + in.ln.Addr().String()
	}
	return s
}

// token mints an HMAC token for agent with scopes.
func (s *testServer) token(t *testing.T, agent string, scopes ...auth.Scope) string {
	t.Helper()
	tok, err := auth.MintHMAC(s.Secret, auth.Claims{Agent: agent, Scopes: scopes, Expiry: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// auditRecords returns the audit log's records as generic maps.
func (s *testServer) auditRecords(t *testing.T) []map[string]any {
	t.Helper()
	return readAuditLog(t, s.AuditLog)
}

// readAuditLog returns the records of the audit log at path.
func readAuditLog(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// toolRecords returns the audit records of tool calls (and refusals),
// leaving out server_start.
func (s *testServer) toolRecords(t *testing.T) []map[string]any {
	var out []map[string]any
	for _, r := range s.auditRecords(t) {
		if r["event"] != "server_start" {
			out = append(out, r)
		}
	}
	return out
}

// mcpRequest is a request to base+"/mcp" as MCP clients send it, with a
// bearer token and a session id (each left out when empty) and msg, when
// not nil, as its JSON body.
func mcpRequest(t *testing.T, method, base, tok, sid string, msg any) *http.Request {
	t.Helper()
	var body io.Reader
	if msg != nil {
		b, _ := json.Marshal(msg)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+"/mcp", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if sid != "" {
		req.Header.Set("Mcp-Session-Id", sid)
	}
	return req
}

// rpc posts one JSON-RPC message to /mcp with the given token (none when
// empty) and returns the response.
func (s *testServer) rpc(t *testing.T, tok, sessionID string, msg any) *http.Response {
	t.Helper()
	resp, err := http.DefaultClient.Do(mcpRequest(t, "POST", s.URL, tok, sessionID, msg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// initialize opens an MCP session with raw HTTP and returns its id.
func (s *testServer) initialize(t *testing.T, tok, protocol string) (string, map[string]any) {
	t.Helper()
	resp := s.rpc(t, tok, "", map[string]any{"jsonrpc": "2.0", "id": 1, "method": "initialize",
		"params": map[string]any{"protocolVersion": protocol, "capabilities": map[string]any{},
			"clientInfo": map[string]any{"name": "raw-test", "version": "1"}}})
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("initialize: %s %s", resp.Status, b)
	}
	res := decodeRPC(t, resp)
	sid := resp.Header.Get("Mcp-Session-Id")
	s.rpc(t, tok, sid, map[string]any{"jsonrpc": "2.0", "method": "notifications/initialized"})
	return sid, res
}

// decodeRPC reads a JSON-RPC response sent as JSON or as one SSE event.
func decodeRPC(t *testing.T, resp *http.Response) map[string]any {
	t.Helper()
	b, _ := io.ReadAll(resp.Body)
	b = rpcBody(resp, b)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decoding %q: %v", b, err)
	}
	return m
}

// rpcBody is the JSON-RPC message of a response body b: b itself, or
// the data of its last SSE event.
func rpcBody(resp *http.Response, b []byte) []byte {
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		for _, line := range strings.Split(string(b), "\n") {
			if d, ok := strings.CutPrefix(line, "data: "); ok {
				b = []byte(d)
			}
		}
	}
	return b
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// writeJWKS writes public keys as a JWKS file, kid "rsa" and "ec".
func writeJWKS(t *testing.T, path string, rsaPub *rsa.PublicKey, ecPub *ecdsa.PublicKey) {
	t.Helper()
	ks := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: rsaPub, KeyID: "rsa", Algorithm: "RS256", Use: "sig"},
		{Key: ecPub, KeyID: "ec", Algorithm: "ES256", Use: "sig"},
	}}
	b, err := json.Marshal(ks)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
