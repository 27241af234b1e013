// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tools"
)

// TestConfirmReadFileWithGoSDK: with --confirm read_file, the official Go
// SDK client's user is asked, with the path shown, before read_file (high
// risk, read-only) reads a file: a yes returns the file, a decline or a
// client without an elicitation handler refuses the call (nothing read),
// a tool not named (tail_file, also high risk) is not asked about, and
// the audit log says confirmed, declined or unavailable.
func TestConfirmReadFileWithGoSDK(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "notes.txt"), []byte("the secret plan\n"), 0o644)
	s := startServer(t, "--file-root", root, "--confirm", "read_file")
	tok := s.token(t, "confirmer", auth.ScopeFileRead)
	for _, tc := range []struct {
		name     string
		answer   *sdk.ElicitResult // nil: no elicitation handler
		tool     string
		wantText string
		wantRec  string
	}{
		{"accept", &sdk.ElicitResult{Action: "accept", Content: map[string]any{"confirm": true}}, "read_file", "the secret plan", "confirmed"},
		{"decline", &sdk.ElicitResult{Action: "decline"}, "read_file", "did not confirm", "declined"},
		{"no-handler", nil, "read_file", "remove it from confirm", "unavailable"},
		{"not-named", &sdk.ElicitResult{Action: "decline"}, "tail_file", "the secret plan", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var asked []string
			opts := &sdk.ClientOptions{}
			if tc.answer != nil {
				opts.ElicitationHandler = func(_ context.Context, req *sdk.ElicitRequest) (*sdk.ElicitResult, error) {
					asked = append(asked, req.Params.Message)
					return tc.answer, nil
				}
			}
			c := sdk.NewClient(&sdk.Implementation{Name: "go-sdk-confirm", Version: "1"}, opts)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cs, err := c.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: s.URL + "/mcp",
				HTTPClient: &http.Client{Transport: bearer{tok, http.DefaultTransport}}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer cs.Close()
			res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: tc.tool, Arguments: map[string]any{"path": filepath.Join(root, "notes.txt")}})
			if err != nil {
				t.Fatal(err)
			}
			var text string
			for _, c := range res.Content {
				if tx, ok := c.(*sdk.TextContent); ok {
					text += tx.Text
				}
			}
			if !strings.Contains(text, tc.wantText) || res.IsError != (tc.wantRec != "" && tc.wantRec != "confirmed") {
				t.Errorf("result %q (error %v), want %q", text, res.IsError, tc.wantText)
			}
			if tc.tool == "read_file" && tc.answer != nil && (len(asked) != 1 || !strings.Contains(asked[0], "notes.txt") || !strings.Contains(asked[0], "read_file")) {
				t.Errorf("asked %q, want once, naming read_file and the path", asked)
			}
			if tc.tool != "read_file" && len(asked) != 0 {
				t.Errorf("asked %q about a tool not in --confirm", asked)
			}
			var got string
			for _, r := range s.toolRecords(t) {
				if r["tool"] == tc.tool && r["event"] == "tool_call" {
					got, _ = r["confirmation"].(string)
				}
			}
			if got != tc.wantRec {
				t.Errorf("last %s record's confirmation %q, want %q", tc.tool, got, tc.wantRec)
			}
		})
	}
}

// TestConfigConfirm: --confirm, its environment twin and the config key
// confirm name tools; default (also when unset) is every high-risk tool,
// derived from the declarations, and no critical one; none is none; an
// unknown name, or none with anything else, stops the start.
func TestConfigConfirm(t *testing.T) {
	t.Setenv("TAILOPS_CONFIRM", "") // TestMain's none
	def := startServer(t).in.cfg.confirm
	var want []string
	for _, sp := range startServer(t).in.toolsets.specs() {
		if sp.Risk == tools.RiskHigh {
			want = append(want, sp.Name())
		}
		if sp.Risk == tools.RiskCritical && slices.Contains(def, sp.Name()) {
			t.Errorf("default confirms the critical %s", sp.Name())
		}
	}
	// A critical tool's call that its arguments lower to high is
	// confirmed by default, call by call (server.TestLoweredCallIsConfirmed).
	if !startServer(t).in.cfg.confirmLowered || startServer(t, "--confirm", "read_file").in.cfg.confirmLowered {
		t.Error("default does not set confirmLowered, or a list of names does")
	}
	slices.Sort(want)
	if !slices.Equal(def, want) || !slices.Contains(def, "read_file") || !slices.Contains(def, "restart_container") {
		t.Errorf("default: %v, want the high-risk tools %v", def, want)
	}
	if got := startServer(t, "--confirm", "none").in.cfg.confirm; len(got) != 0 {
		t.Errorf("none: %v", got)
	}
	if got := startServer(t, "--confirm", "read_file,http_request_test", "--confirm", "remove_container").in.cfg.confirm; !slices.Equal(got, []string{"http_request_test", "read_file", "remove_container"}) {
		t.Errorf("names: %v", got)
	}
	cfg := filepath.Join(t.TempDir(), "config.hujson")
	os.WriteFile(cfg, []byte(`{"confirm": ["default", "remove_container"]}`), 0o600)
	t.Setenv("TAILOPS_CONFIG", cfg)
	if got := startServer(t).in.cfg.confirm; !slices.Contains(got, "remove_container") || !slices.Contains(got, "read_file") {
		t.Errorf("config key: %v", got)
	}
	t.Setenv("TAILOPS_CONFIRM", "search_files")
	if got := startServer(t).in.cfg.confirm; !slices.Equal(got, []string{"search_files"}) {
		t.Errorf("environment over the config key: %v", got)
	}
	t.Setenv("TAILOPS_CONFIG", "")
	t.Setenv("TAILOPS_CONFIRM", "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--confirm", "read_fil"}, `--confirm: unknown tool "read_fil"`},
		{[]string{"--confirm", "none,read_file"}, `--confirm: "none" cannot be combined`},
	} {
		_, err := setup(context.Background(), append([]string{"--listen", "127.0.0.1:0", "--state-dir", t.TempDir(), "--sandbox", "off"}, tc.args...), &syncBuffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestConfirmDefaultOverStdio: the binary, over stdio with --confirm left
// unset (its default), asks the official Go SDK client's user before
// read_file (high risk) runs, and refuses it for a client that cannot
// ask; the audit log says confirmed, then unavailable.
func TestConfirmDefaultOverStdio(t *testing.T) {
	root, state := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(root, "notes.txt"), []byte("the secret plan\n"), 0o644)
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "TAILOPS_CONFIRM=") })
	for _, tc := range []struct {
		name    string
		handler bool
		want    string
	}{
		{"asks", true, "the secret plan"},
		{"cannot-ask", false, "remove it from confirm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var asked int
			opts := &sdk.ClientOptions{}
			if tc.handler {
				opts.ElicitationHandler = func(context.Context, *sdk.ElicitRequest) (*sdk.ElicitResult, error) {
					asked++
					return &sdk.ElicitResult{Action: "accept", Content: map[string]any{"confirm": true}}, nil
				}
			}
			cmd := exec.Command(binPath, "serve", "--stdio", "--state-dir", state, "--sandbox", "off", "--stdio-scopes", "file:read", "--file-root", root)
			cmd.Env = env
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cs, err := sdk.NewClient(&sdk.Implementation{Name: "stdio-confirm", Version: "1"}, opts).Connect(ctx, &sdk.CommandTransport{Command: cmd}, nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: "read_file", Arguments: map[string]any{"path": filepath.Join(root, "notes.txt")}})
			cs.Close()
			if err != nil {
				t.Fatal(err)
			}
			txt, _ := res.Content[0].(*sdk.TextContent)
			if txt == nil || !strings.Contains(txt.Text, tc.want) || res.IsError == tc.handler || asked != map[bool]int{true: 1}[tc.handler] {
				t.Errorf("result %+v (error %v), asked %d times; want %q", res.Content, res.IsError, asked, tc.want)
			}
		})
	}
	b, _ := os.ReadFile(filepath.Join(state, "audit", "audit.log"))
	if !strings.Contains(string(b), `"confirmation":"confirmed"`) || !strings.Contains(string(b), `"confirmation":"unavailable"`) {
		t.Errorf("the audit log lacks the outcomes:\n%s", b)
	}
}
