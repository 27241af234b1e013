// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/labtest"
	"github.com/tailops/tailops/server"
)

// tailops runs the built binary and returns stdout, stderr and exit code.
func tailops(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	return runCmd(t, binPath, env, args...)
}

// runCmd runs bin with args and env added to this process's environment,
// and returns its stdout, stderr and exit code.
func runCmd(t *testing.T, bin string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func TestConfigRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o600)
		return p
	}
	for _, tc := range []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"unknown key", []string{"--config", write("a.hujson", `{"tols": ["health_check"]}`)}, nil, `unknown key "tols"`},
		{"unknown tool in file", []string{"--config", write("b.hujson", `{"tools": ["rm_rf"]}`)}, nil, `unknown tool "rm_rf"`},
		{"unknown tool flag", []string{"--disable-tools", "nope"}, nil, `unknown tool "nope" (known: `},
		{"unknown tool needing approval", []string{"--config", write("d.hujson", `{"approval": ["rm_rf"]}`)}, nil, `key "approval": unknown tool "rm_rf" (known: `},
		{"bad stdio scope", []string{"--stdio-scopes", "root"}, nil, `unknown scope "root"`},
		{"bad scope in file", []string{"--config", write("c.hujson", `{"stdio_scopes": ["sudo"]}`)}, nil, `"stdio_scopes": unknown scope "sudo"`},
		{"bad env twin", nil, []string{"TAILOPS_READ_ONLY=maybe"}, "TAILOPS_READ_ONLY"},
		{"relative file root", []string{"--file-root", "logs"}, nil, `--file-root "logs": must be an absolute path`},
		{"bad deny pattern", []string{"--config", write("e.hujson", `{"file_deny": ["[unclosed"]}`)}, nil, `e.hujson: key "file_deny": `},
		{"relative file root in the config file", []string{"--config", write("r.hujson", `{"file_roots": ["logs"]}`)}, nil, `r.hujson: key "file_roots": "logs": must be an absolute path`},
		{"relative journal dir", []string{"--journal-dir", "journal"}, nil, `--journal-dir "journal": must be an absolute path`},
		{"relative journal dir in the config file", []string{"--config", write("j.hujson", `{"journal_dirs": ["journal"]}`)}, nil, `j.hujson: key "journal_dirs": "journal": must be an absolute path`},
		{"relative vuln data", []string{"--vuln-data", "tracker.json"}, nil, `check_vulnerabilities: vulnerability data "tracker.json": want an http or https URL, or an absolute file path`},
		{"bad vuln data allow entry in the config file", []string{"--config", write("v.hujson", `{"vuln_data_allow": ["not a host!"]}`)}, nil, `vulnerability data allow-list: `},
		{"unknown flag", []string{"--bogus"}, nil, "flag provided but not defined: -bogus"},
		{"bad rate limit", []string{"--rate-limit", "20/d"}, nil, `--rate-limit: rate limit "20/d": unit "d": want s, m or h`},
		{"bad rate limit env twin", nil, []string{"TAILOPS_RATE_LIMIT=20/s,burst=0"}, `--rate-limit: rate limit "20/s,burst=0": the burst`},
		{"bad rate limit in the config file", []string{"--config", write("l.hujson", `{"rate_limit": "fast"}`)}, nil, `l.hujson: key "rate_limit": rate limit "fast"`},
		{"unknown scope in rate_limits", []string{"--config", write("m.hujson", `{"rate_limits": {"root": "1/s"}}`)}, nil, `m.hujson: key "rate_limits": unknown scope "root"`},
		{"jwks file and url", []string{"--jwks-file", write("k.json", `{"keys": []}`), "--jwks-url", "https://idp.example.ts.net/.well-known/jwks.json"}, nil,
			"--jwks-file and --jwks-url are mutually exclusive"},
		{"jwks url over plain http", []string{"--jwks-url", "http://idp.example.ts.net/.well-known/jwks.json"}, nil,
			"--jwks-url: http://idp.example.ts.net/.well-known/jwks.json: want https (http only to a loopback host)"},
		{"jwks url in the config file over plain http", []string{"--config", write("w.hujson", `{"jwks_url": "http://10.0.0.1/jwks"}`)}, nil,
			`w.hujson: key "jwks_url": http://10.0.0.1/jwks: want https`},
		{"jwks url in the config file with --jwks-file", []string{"--jwks-file", write("k2.json", `{"keys": []}`), "--config", write("x.hujson", `{"jwks_url": "https://idp.example.com/jwks"}`)}, nil,
			`--jwks-file and config file ` + dir + `/x.hujson: key "jwks_url" are mutually exclusive`},
		{"bad rate in rate_limits", []string{"--config", write("n.hujson", `{"rate_limits": {"admin": "1/s,burst=x"}}`)}, nil, `n.hujson: key "rate_limits": scope admin: rate limit "1/s,burst=x": the burst`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"serve", "--state-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--sandbox", "off"}, tc.args...)
			_, stderr, code := tailops(t, tc.env, args...)
			if code == 0 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q, want it to contain %q", code, stderr, tc.want)
			}
		})
	}
}

func TestEnvironmentTwinsAndConfigFile(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.hujson")
	os.WriteFile(cfg, []byte(`{
		// only two tools, from the file
		"tools": ["health_check", "get_system_status"],
	}`), 0o600)
	t.Setenv("TAILOPS_CONFIG", cfg)
	t.Setenv("TAILOPS_READ_ONLY", "true")
	s := startServer(t)
	if !s.in.cfg.ReadOnly || len(s.in.srv.Tools()) != 2 {
		t.Errorf("read-only %v, %d tools; want the env twin and the file applied", s.in.cfg.ReadOnly, len(s.in.srv.Tools()))
	}
}

// TestConfigPrecedence: one setting given in several places takes the
// flag's value, else the environment's, else the config file's.
func TestConfigPrecedence(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.hujson")
	os.WriteFile(cfg, []byte(`{"tools": ["health_check"]}`), 0o600)
	for _, tc := range []struct {
		name string
		env  string   // TAILOPS_TOOLS
		args []string // flags
		want []string
	}{
		{"file only (an empty variable is unset)", "", nil, []string{"health_check"}},
		{"environment over file", "get_system_status", nil, []string{"get_system_status"}},
		{"flag over environment and file", "get_system_status", []string{"--tools", "get_top_processes"}, []string{"get_top_processes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("TAILOPS_CONFIG", cfg)
			t.Setenv("TAILOPS_TOOLS", tc.env)
			s := startServer(t, tc.args...)
			if got := slices.Sorted(slices.Values(s.in.srv.Tools())); !slices.Equal(got, tc.want) {
				t.Errorf("enabled %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFirstStartCreatesSecretAndMintedTokenWorks(t *testing.T) {
	s := startServer(t)
	fi, err := os.Stat(filepath.Join(s.StateDir, "secret"))
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != 32 {
		t.Fatalf("secret file: %v %v", fi, err)
	}
	if !strings.Contains(s.Logs.String(), "tailops token mint --state-dir "+s.StateDir) {
		t.Errorf("the log does not say how to mint a token:\n%s", s.Logs)
	}
	out, stderr, code := tailops(t, nil, "token", "mint", "--state-dir", s.StateDir, "--agent", "cli", "--scopes", "container:write,system:read", "--ttl", "10m")
	if code != 0 {
		t.Fatalf("mint: %d %s", code, stderr)
	}
	tok := strings.TrimSpace(out)
	if strings.Count(out, "\n") != 1 || tok == "" {
		t.Fatalf("mint printed %q, want one token line", out)
	}
	cs := sdkSession(t, s.URL, tok)
	res, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "get_system_status"})
	if err != nil || res.IsError {
		t.Fatalf("calling with minted token: %v %+v", err, res)
	}
	out, _, code = tailops(t, nil, "token", "inspect", "--state-dir", s.StateDir, tok)
	var ins struct {
		Verifies bool
		Caller   auth.Caller
	}
	if err := json.Unmarshal([]byte(out), &ins); err != nil || code != 0 || !ins.Verifies || ins.Caller.Agent != "cli" {
		t.Errorf("inspect: exit %d %s", code, out)
	}
	// "-" reads the token from standard input, out of the process list.
	stdinInspect := exec.Command(binPath, "token", "inspect", "--state-dir", s.StateDir, "-")
	stdinInspect.Stdin = strings.NewReader(tok + "\n")
	if b, err := stdinInspect.Output(); err != nil || !strings.Contains(string(b), `"verifies": true`) || !strings.Contains(string(b), `"agent": "cli"`) {
		t.Errorf("inspect - (token on standard input): %v %s", err, b)
	}
	out, _, code = tailops(t, nil, "token", "inspect", "--state-dir", t.TempDir(), tok)
	if code != 1 || !strings.Contains(out, `"verifies": false`) {
		t.Errorf("inspect without the secret: exit %d %s", code, out)
	}
	for _, bad := range [][]string{{"--agent", "x", "--scopes", "root"}, {"--scopes", "readonly"}, {"--agent", "x", "--scopes", "readonly", "--ttl", "-1h"}} {
		_, stderr, code := tailops(t, nil, append([]string{"token", "mint", "--state-dir", s.StateDir}, bad...)...)
		if code == 0 || stderr == "" {
			t.Errorf("mint %v: exit %d", bad, code)
		}
	}
}

func TestAuditVerifyCommand(t *testing.T) {
	s := startServer(t)
	cs := sdkSession(t, s.URL, s.token(t, "v", auth.ScopeReadonly))
	for range 3 {
		cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "health_check"})
	}
	out, _, code := tailops(t, nil, "audit", "verify", s.AuditLog)
	if code != 0 || !strings.Contains(out, "ok: 4 records") {
		t.Fatalf("intact log: exit %d %q", code, out)
	}
	b, _ := os.ReadFile(s.AuditLog)
	os.WriteFile(s.AuditLog, bytes.Replace(b, []byte(`"agent":"v"`), []byte(`"agent":"w"`), 1), 0o600)
	out, _, code = tailops(t, nil, "audit", "verify", s.AuditLog)
	if code != 1 || !strings.Contains(out, "BROKEN") {
		t.Errorf("edited log: exit %d %q", code, out)
	}
}

func TestVersionListsModules(t *testing.T) {
	out, _, code := tailops(t, nil, "version")
	for _, want := range []string{"tailops ", "go1.", "github.com/mark3labs/mcp-go", "github.com/golang-jwt/jwt/v5", "CGO_ENABLED="} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("version output lacks %q:\n%s", want, out)
		}
	}
}

// TestConfigRateLimits: --rate-limit's environment twin wins over the
// config file's rate_limit, and rate_limits adds per-scope limits; with
// neither, nothing is limited.
func TestConfigRateLimits(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.hujson")
	os.WriteFile(cfg, []byte(`{"rate_limit": "5/h", "rate_limits": {"admin": "1/m,burst=2", "readonly": "off"}}`), 0o600)
	t.Setenv("TAILOPS_CONFIG", cfg)
	t.Setenv("TAILOPS_RATE_LIMIT", "20/s,burst=40")
	s := startServer(t)
	want := server.RateLimits{Default: server.Rate{Events: 20, Per: time.Second, Burst: 40},
		Scopes: map[auth.Scope]server.Rate{auth.ScopeAdmin: {Events: 1, Per: time.Minute, Burst: 2}}}
	if got := s.in.cfg.rateLimits; !reflect.DeepEqual(got, want) {
		t.Errorf("rate limits %+v, want %+v", got, want)
	}
	t.Setenv("TAILOPS_CONFIG", "")
	t.Setenv("TAILOPS_RATE_LIMIT", "")
	if got := startServer(t).in.cfg.rateLimits; !got.Default.Off() || len(got.Scopes) != 0 {
		t.Errorf("unset: rate limits %+v, want none", got)
	}
}

// TestStdioRateLimit: over stdio, a call past --rate-limit is a tool
// error naming the limit and when to retry, and is audited.
func TestStdioRateLimit(t *testing.T) {
	state := t.TempDir()
	c := sdk.NewClient(&sdk.Implementation{Name: "stdio-test", Version: "1"}, nil)
	cmd := exec.Command(binPath, "serve", "--stdio", "--state-dir", state, "--sandbox", "off", "--stdio-scopes", "network:read", "--rate-limit", "1/h,burst=1")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cs, err := c.Connect(ctx, &sdk.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "get_network_status"}); err != nil || res.IsError {
		t.Fatal(err, res)
	}
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "get_network_status"})
	if err != nil {
		t.Fatal(err)
	}
	want := "rate limited: this caller exceeded the default limit 1/h,burst=1 (--rate-limit); retry in 3600s"
	if txt, _ := res.Content[0].(*sdk.TextContent); !res.IsError || txt == nil || txt.Text != want {
		t.Errorf("second call: %+v, want the tool error %q", res.Content, want)
	}
	cs.Close()
	b, _ := os.ReadFile(filepath.Join(state, "audit", "audit.log"))
	if !strings.Contains(string(b), `"reason":"`+want+`"`) {
		t.Errorf("the rate-limited call is not audited:\n%s", b)
	}
}

func TestStdioServesLocalUserWithStdioScopes(t *testing.T) {
	state := t.TempDir()
	c := sdk.NewClient(&sdk.Implementation{Name: "stdio-test", Version: "1"}, nil)
	cmd := exec.Command(binPath, "serve", "--stdio", "--state-dir", state, "--sandbox", "off", "--stdio-scopes", "network:read")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cs, err := c.Connect(ctx, &sdk.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatal(err)
	}
	lt, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := toolNames(lt.Tools); len(got) != 4 || !contains(got, "get_network_status") || contains(got, "get_system_status") {
		t.Errorf("stdio with network:read sees %v", got)
	}
	res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "get_network_status"})
	if err != nil || res.IsError {
		t.Fatal(err, res)
	}
	cs.Close()
	b, _ := os.ReadFile(filepath.Join(state, "audit", "audit.log"))
	if !strings.Contains(string(b), `"agent":"stdio:`) || !strings.Contains(string(b), `"auth_method":"stdio"`) {
		t.Errorf("stdio call not audited as stdio:<user>:\n%s", b)
	}
	if _, err := os.Stat(filepath.Join(state, "secret")); err == nil {
		t.Error("stdio mode created a shared secret it does not use")
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func TestRevocationTakesEffectWithoutRestart(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.hujson")
	os.WriteFile(cfg, []byte(`{}`), 0o600)
	s := startServer(t, "--config", cfg)
	tok := s.token(t, "soon-revoked", auth.ScopeReadonly)
	if resp := s.rpc(t, tok, "", map[string]any{"jsonrpc": "2.0", "id": 1, "method": "ping"}); resp.StatusCode == 401 {
		t.Fatal("token refused before revocation")
	}
	os.WriteFile(cfg, []byte(`{"revoked": {"agents": ["soon-revoked"]}}`), 0o600)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp := s.rpc(t, tok, "", map[string]any{"jsonrpc": "2.0", "id": 1, "method": "ping"})
		if resp.StatusCode == 401 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("revocation not picked up within 10s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestUnwritableAuditLogRefusesCalls fills a small tmpfs holding the audit
// log: calls are then refused, nothing runs unaudited, and /readyz fails.
func TestUnwritableAuditLogRefusesCalls(t *testing.T) {
	mnt := labtest.Tmpfs(t, "256k")
	s := startServer(t, "--audit-log", filepath.Join(mnt, "audit.log"))
	cs := sdkSession(t, s.URL, s.token(t, "filler", auth.ScopeReadonly))
	ctx := context.Background()
	if res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "health_check"}); err != nil || res.IsError {
		t.Fatalf("first call: %v %+v", err, res)
	}
	// Fill the file system, then call until the audit log cannot grow.
	f, _ := os.Create(filepath.Join(mnt, "filler"))
	f.Write(make([]byte, 512<<10))
	f.Close()
	var ran, refused int
	for i := 0; i < 200 && refused < 3; i++ {
		res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "get_system_status"})
		if err != nil {
			t.Fatal(err)
		}
		text := res.Content[0].(*sdk.TextContent).Text
		switch {
		case res.IsError && strings.Contains(text, "audit"):
			refused++
			if res.StructuredContent != nil {
				t.Error("a refused call returned a result")
			}
		case refused > 0:
			t.Fatalf("a call ran after the audit log failed: %s", text)
		default:
			ran++
		}
	}
	if refused < 3 {
		t.Fatalf("the audit disk is full but calls still run (%d ran)", ran)
	}
	// Every call that returned a result has its durable record.
	var audited int
	for _, r := range s.toolRecords(t) {
		if r["tool"] == "get_system_status" && r["result"] == "success" {
			audited++
		}
	}
	if audited != ran {
		t.Errorf("%d calls returned results but %d were audited", ran, audited)
	}
	r, err := httpGet(s.URL + "/readyz")
	if err != nil || r != 503 {
		t.Errorf("/readyz = %d %v, want 503", r, err)
	}
}

func httpGet(url string) (int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func httpGetBody(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// TestTokenMintTakesNoTokenFromTheEnvironment: token mint's --agent,
// --scopes and --ttl come from its command line only; their TAILOPS_*
// twins are refused, naming the flag, and nothing is printed.
func TestTokenMintTakesNoTokenFromTheEnvironment(t *testing.T) {
	state := t.TempDir()
	if err := os.WriteFile(filepath.Join(state, "secret"), []byte("mint-test-shared-secret-0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := tailops(t, nil, "token", "mint", "--state-dir", state, "--agent", "a", "--scopes", "readonly"); code != 0 {
		t.Fatalf("mint: %d %s", code, stderr)
	}
	for _, tc := range []struct {
		env  string
		args []string
		flag string
	}{
		{"TAILOPS_SCOPES=admin", []string{"--agent", "a"}, "--scopes"},
		{"TAILOPS_AGENT=someone", []string{"--scopes", "readonly"}, "--agent"},
		{"TAILOPS_TTL=8760h", []string{"--agent", "a", "--scopes", "readonly"}, "--ttl"},
	} {
		out, stderr, code := tailops(t, []string{tc.env}, append([]string{"token", "mint", "--state-dir", state}, tc.args...)...)
		if code == 0 || out != "" || !strings.Contains(stderr, tc.flag+" must be given on the command line") {
			t.Errorf("%s: exit %d, out %q, stderr %q", tc.env, code, out, stderr)
		}
	}
}
