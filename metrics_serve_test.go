// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tailops/tailops/auth"
)

// scrape GETs url with tok (none when empty) and returns the status and
// body.
func scrape(t *testing.T, url, tok string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// wantSeries fails unless the exposition body has every line of want.
func wantSeries(t *testing.T, body string, want ...string) {
	t.Helper()
	lines := strings.Split(body, "\n")
	for _, w := range want {
		found := false
		for _, l := range lines {
			if l == w {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no line %q in the scrape:\n%s", w, body)
		}
	}
}

// TestServerMetrics: the server wires its metrics: a tool call is counted
// as audited, the audit log's health and the sandbox state are exported,
// /metrics needs metrics:read, and a refused scrape is audited.
func TestServerMetrics(t *testing.T) {
	s := startServer(t)
	cs := sdkSession(t, s.URL, s.token(t, "agent", auth.ScopeReadonly))
	if _, isErr := callText(t, cs, "health_check", nil); isErr {
		t.Fatal("health_check failed")
	}
	// A session of an older protocol revision (the SDK's needs none), and
	// a call its scopes do not allow, refused with 403 before any session
	// or tool code runs.
	ro := s.token(t, "old-client", auth.ScopeReadonly)
	sid, _ := s.initialize(t, ro, "2025-06-18")
	if resp := s.rpc(t, ro, sid, map[string]any{"jsonrpc": "2.0", "id": 2, "method": "tools/call",
		"params": map[string]any{"name": "restart_container", "arguments": map[string]any{"container": "x"}}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("restart_container with readonly: %s, want 403", resp.Status)
	}
	code, body := scrape(t, s.URL+"/metrics", s.token(t, "prom", auth.ScopeMetricsRead))
	if code != http.StatusOK {
		t.Fatalf("scrape with metrics:read: %d\n%s", code, body)
	}
	wantSeries(t, body,
		`tailops_tool_calls_total{decision="allowed",result="success",tool="health_check"} 1`,
		`tailops_tool_calls_total{decision="denied",result="denied",tool="restart_container"} 1`,
		`tailops_tool_calls_total{decision="allowed",result="success",tool="list_containers"} 0`,
		`tailops_audit_log_healthy 1`,
		`tailops_sandbox_info{landlock="false",mode="off",seccomp="false"} 1`,
		`tailops_sessions_open 1`,
	)
	if !strings.Contains(body, "\ntailops_audit_write_duration_seconds_count ") || strings.Contains(body, "\ntailops_audit_write_duration_seconds_count 0\n") {
		t.Errorf("no audit write observed:\n%s", body)
	}
	code, _ = scrape(t, s.URL+"/metrics", s.token(t, "agent", auth.ScopeReadonly))
	if code != http.StatusForbidden {
		t.Errorf("scrape with readonly: %d, want 403", code)
	}
	var refused bool
	for _, r := range s.toolRecords(t) {
		if r["event"] == "auth_denied" && strings.Contains(r["reason"].(string), "/metrics") {
			refused = true
		}
	}
	if !refused {
		t.Errorf("the refused scrape was not audited: %v", s.toolRecords(t))
	}
}

// TestMetricsListen: --metrics-listen (or the config key metrics_listen)
// opens a listener of its own that serves /metrics without a token and
// nothing else.
func TestMetricsListen(t *testing.T) {
	cfgFile := filepath.Join(t.TempDir(), "tailops.hujson")
	if err := os.WriteFile(cfgFile, []byte(`{"metrics_listen": "127.0.0.1:0"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
	}{
		{"flag", []string{"--metrics-listen", "127.0.0.1:0"}},
		{"config file", []string{"--config", cfgFile}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t, tt.args...)
			if s.in.metricsLn.ln == nil {
				t.Fatal("no metrics listener")
			}
			m := s.in.metricsLn.url
			code, body := scrape(t, m+"/metrics", "")
			if code != http.StatusOK || !strings.Contains(body, "tailops_build_info{") {
				t.Fatalf("scrape without a token: %d\n%s", code, body)
			}
			if code, _ := scrape(t, m+"/mcp", ""); code != http.StatusNotFound {
				t.Errorf("/mcp on the metrics listener: %d, want 404", code)
			}
			if !strings.Contains(s.Logs.String(), "serving metrics") {
				t.Errorf("the log does not say where metrics are served:\n%s", s.Logs)
			}
		})
	}
}

// TestMetricsListenRefusesBadAddresses: a bad --metrics-listen stops the
// start with a message naming where it came from.
func TestMetricsListenRefusesBadAddresses(t *testing.T) {
	cfgFile := filepath.Join(t.TempDir(), "tailops.hujson")
	if err := os.WriteFile(cfgFile, []byte(`{"metrics_listen": "9470"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--metrics-listen", "localhost"}, `--metrics-listen "localhost": want host:port`},
		{[]string{"--metrics-listen", "127.0.0.1:http"}, `--metrics-listen "127.0.0.1:http": the port must be a number`},
		{[]string{"--config", cfgFile}, `key "metrics_listen"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			args := append([]string{"--listen", "127.0.0.1:0", "--state-dir", t.TempDir(), "--sandbox", "off"}, tt.args...)
			in, err := setup(context.Background(), args, io.Discard)
			if err == nil {
				in.close()
				t.Fatal("setup succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestMetricsUnderTheSandbox: the real binary with the kernel sandbox
// enforced and --metrics-listen: the listener's port is granted, the
// process collector reads what it was granted, and the sandbox state is
// exported as applied.
func TestMetricsUnderTheSandbox(t *testing.T) {
	m := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	p := runBinary(t, binPath, "--metrics-listen", m)
	code, body := scrape(t, "http://"+m+"/metrics", "")
	if code != http.StatusOK {
		t.Fatalf("scrape: %d\n%s\nserver log:\n%s", code, body, p.Stderr)
	}
	wantSeries(t, body, `tailops_sandbox_info{landlock="true",mode="enforce",seccomp="true"} 1`, `tailops_sandbox_rules_skipped 0`)
	for _, series := range []string{"\nprocess_open_fds ", "\nprocess_resident_memory_bytes ", "\nprocess_max_fds "} {
		if !strings.Contains(body, series) {
			t.Errorf("no %s under the sandbox:\n%s", strings.TrimSpace(series), body)
		}
	}
	if strings.Contains(p.Stderr.String(), "level=ERROR") {
		t.Errorf("the collector failed under the sandbox:\n%s", p.Stderr)
	}
}

// TestMetricsExposureWarning: a --metrics-listen on every interface is
// warned about at start; one naming a host is not.
func TestMetricsExposureWarning(t *testing.T) {
	for addr, warn := range map[string]bool{
		"0.0.0.0:9470": true, ":9470": true, "[::]:9470": true, "[0:0::0]:9470": true,
		"127.0.0.1:9470": false, "[::1]:9470": false, "100.64.1.2:9470": false, "monitoring.lan:9470": false,
	} {
		if got := metricsExposure(addr); (got != "") != warn {
			t.Errorf("%s: warning %q, want one: %v", addr, got, warn)
		}
	}
}
