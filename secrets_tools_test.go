// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tools"
)

// TestScanSecretsUsesTheFileRootsAndDenyList: the server gives
// scan_secrets the file tools' roots and their deny-list (built-in and
// file_deny): credentials in deny-listed files are not read, and only
// security:scan (or admin) may call it, not readonly. No planted secret
// reaches the result, the audit log or the server log.
func TestScanSecretsUsesTheFileRootsAndDenyList(t *testing.T) {
	root := t.TempDir()
	const token = "ghp_R7x2Kq9LmN4vB8zT1wY6cP3sD5fG0hJ2kL9m"
	for name, body := range map[string]string{
		"app/config.yml":    "github_token: " + token + "\n",
		"app/.env":          "GITHUB_TOKEN=" + token + "\n",
		".ssh/notes.txt":    "GITHUB_TOKEN=" + token + "\n",
		"app/dump.sqlite":   "GITHUB_TOKEN=" + token + "\n",
		"app/readme.txt":    "nothing here\n",
		"app/old/README.md": "nothing here either\n",
	} {
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(body), 0o644)
	}
	cfg := filepath.Join(t.TempDir(), "config.hujson")
	os.WriteFile(cfg, []byte(`{"file_deny": ["*.sqlite"]}`), 0o600)
	s := startServer(t, "--file-root", root, "--config", cfg)
	text, isErr := callText(t, sdkSession(t, s.URL, s.token(t, "scanner", auth.ScopeSecurityScan)), "scan_secrets", nil)
	if isErr || strings.Count(text, `"rule": "github-pat"`) != 1 || !strings.Contains(text, filepath.Join(root, "app/config.yml")) || !strings.Contains(text, `"denied": 3`) {
		t.Errorf("scan_secrets: want one finding, in app/config.yml, and 3 denied (.env, .ssh, *.sqlite): %s", text)
	}
	ro := sdkSession(t, s.URL, s.token(t, "reader", auth.ScopeReadonly))
	if res, err := ro.CallTool(context.Background(), &sdk.CallToolParams{Name: "scan_secrets"}); err == nil || !strings.Contains(err.Error(), "Forbidden") {
		t.Errorf("readonly called scan_secrets: %v, %+v", err, res)
	}
	audit, _ := os.ReadFile(s.AuditLog)
	for what, text := range map[string]string{"result": text, "audit log": string(audit), "server log": s.Logs.String()} {
		if strings.Contains(text, token[4:]) {
			t.Errorf("the %s holds the planted token", what)
		}
	}
}

// TestFileRootsOfScanSecrets: the roots checked for exposing host
// secrets (the start-up warning) are the file roots whenever a tool
// reading them is enabled: scan_secrets alone counts, as Landlock grants
// it the roots too.
func TestFileRootsOfScanSecrets(t *testing.T) {
	c := &config{FileRoots: []string{"/srv/x"}, env: environ{}}
	l := c.toolsets(nil, nil, nil)
	only := func(names ...string) []tools.Spec {
		var out []tools.Spec
		for _, s := range l.specs() {
			if slices.Contains(names, s.Name()) {
				out = append(out, s)
			}
		}
		return out
	}
	for _, tc := range []struct {
		on   []string
		want []string
	}{
		{[]string{"scan_secrets"}, []string{"/srv/x"}},
		{[]string{"read_file"}, []string{"/srv/x"}},
		{[]string{"health_check"}, nil},
	} {
		if got := l.fileRoots(only(tc.on...)); !slices.Equal(got, tc.want) {
			t.Errorf("with %v enabled: roots %v, want %v", tc.on, got, tc.want)
		}
	}
}
