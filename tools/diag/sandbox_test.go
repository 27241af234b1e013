// SPDX-License-Identifier: Apache-2.0

package diag_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/netpolicy/policytest"
	"github.com/tailops/tailops/sandbox"
	"github.com/tailops/tailops/tools"
	"github.com/tailops/tailops/tools/diag"
)

// diagSandboxEnv carries ping_group_range to the child that runs under
// the sandbox.
const diagSandboxEnv = "TAILOPS_DIAG_SANDBOX_PING_GROUPS"

// TestDiagToolsUnderSandbox applies the sandbox TailOps computes for the
// diagnostics tools (Landlock and seccomp, enforced) and runs each tool
// under it, in a network namespace of the test's own whose loopback is
// the target: ICMP datagram sockets and UDP with IP_RECVERR pass the
// seccomp filter. With ping_group_range closed, ping_host cannot fall
// back to a raw socket (seccomp refuses it even to root) and says so.
func TestDiagToolsUnderSandbox(t *testing.T) {
	if groups := os.Getenv(diagSandboxEnv); groups != "" {
		diagSandboxChild(t, groups)
		return
	}
	t.Parallel() // the namespace is this process's own, and the child alone is sandboxed
	ns := fmt.Sprintf("tailops-diag-%d-sandbox", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("creating network namespace: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	if out, err := exec.Command("ip", "-n", ns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, groups := range []string{"0 2147483647", "1 0"} {
		// Set from outside, in the namespace: the sandboxed child cannot.
		if out, err := exec.Command("ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv4.ping_group_range="+groups).CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, os.Args[0],
			"-test.run", "^TestDiagToolsUnderSandbox$", "-test.v", "-test.count=1", "-test.timeout=100s")
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "GOCOVERDIR=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, diagSandboxEnv+"="+groups)
		out, err := cmd.CombinedOutput()
		cancel()
		t.Logf("ping_group_range %q, under the sandbox:\n%s", groups, out)
		if err != nil || !strings.Contains(string(out), "--- PASS: TestDiagToolsUnderSandbox") {
			t.Fatalf("child failed: %v", err)
		}
	}
}

func diagSandboxChild(t *testing.T, groups string) {
	self, _ := os.Readlink("/proc/self/ns/net")
	if b, _ := os.ReadFile("/proc/sys/net/ipv4/ping_group_range"); strings.Join(strings.Fields(string(b)), " ") != groups {
		t.Fatalf("not in the test's namespace (%s): ping_group_range is %q", self, b)
	}
	// Servers first: Landlock would refuse binding their ports later.
	dns := policytest.StartDNS(t, "127.0.0.1", policytest.Zone(t, "www.test. 60 IN A 127.0.0.1", "1.0.0.127.in-addr.arpa. 60 IN PTR www.test."))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "sandboxed") }))
	port := ln.Addr().(*net.TCPAddr).Port

	ts, err := diag.New(diag.Config{Allow: []string{"127.0.0.1/32"}, Resolver: dns.Addr})
	if err != nil {
		t.Fatal(err)
	}
	specs := ts.Tools()
	pol, err := sandbox.Compute(tools.Grants(specs), sandbox.Config{Mode: sandbox.ModeEnforce})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := sandbox.Apply(pol)
	if err != nil {
		t.Fatalf("applying the sandbox: %v", err)
	}
	if !rep.Landlock || !rep.Seccomp {
		t.Fatalf("sandbox not fully applied: %+v", rep)
	}
	byName := map[string]tools.Spec{}
	for _, s := range specs {
		byName[s.Name()] = s
	}
	call := func(tool string, args map[string]any) (map[string]any, string) {
		t.Helper()
		res, err := byName[tool].Handler(context.Background(), mcp.CallToolRequest{Params: mcp.CallToolParams{Name: tool, Arguments: args}})
		if err != nil {
			t.Fatalf("%s: %v", tool, err)
		}
		text := ""
		if tc, ok := res.Content[0].(mcp.TextContent); ok {
			text = tc.Text
		}
		if res.IsError {
			return nil, text
		}
		b, _ := json.Marshal(res.StructuredContent)
		var out map[string]any
		json.Unmarshal(b, &out)
		return out, ""
	}

	if groups == "1 0" {
		_, e := call("ping_host", map[string]any{"host": "127.0.0.1", "count": 1})
		for _, want := range []string{"neither kind is allowed", "net.ipv4.ping_group_range (now \"1 0\")", "operation not permitted", "TailOps' sandbox refuses them"} {
			if !strings.Contains(e, want) {
				t.Errorf("ping without ICMP sockets: %q; want %q", e, want)
			}
		}
		return
	}
	if out, e := call("ping_host", map[string]any{"host": "127.0.0.1", "count": 2, "interval_ms": 200}); e != "" || out["method"] != "icmp-datagram" || out["received"] != 2.0 {
		t.Errorf("ping: %v %s", out, e)
	}
	if out, e := call("traceroute", map[string]any{"host": "www.test", "max_hops": 3}); e != "" || out["reached"] != true {
		t.Errorf("traceroute: %v %s", out, e)
	}
	if out, e := call("test_port_connectivity", map[string]any{"host": "127.0.0.1", "ports": []any{port}}); e != "" || out["open"] != 1.0 {
		t.Errorf("ports: %v %s", out, e)
	}
	if out, e := call("dns_lookup", map[string]any{"name": "www.test"}); e != "" || out["rcode"] != "NOERROR" {
		t.Errorf("dns_lookup: %v %s", out, e)
	}
	if out, e := call("http_request_test", map[string]any{"url": fmt.Sprintf("http://www.test:%d/", port)}); e != "" || out["body"] != "sandboxed" {
		t.Errorf("http_request_test: %v %s", out, e)
	}
	if _, e := call("check_ssl_certificate", map[string]any{"host": "127.0.0.1", "port": port, "timeout_ms": 2000}); !strings.Contains(e, "TLS handshake") {
		t.Errorf("check_ssl_certificate against plain HTTP: %s", e)
	}
	if _, e := call("http_request_test", map[string]any{"url": fmt.Sprintf("http://127.0.0.2:%d/", port)}); !strings.Contains(e, "refused by policy: 127.0.0.2 is loopback") {
		t.Errorf("refusal under the sandbox: %s", e)
	}
}
