// SPDX-License-Identifier: Apache-2.0

package packages

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/tools"
	"github.com/tailops/tailops/toolstest"
)

// vulnSandboxEnv marks the child that runs check_vulnerabilities under
// the sandbox, and holds the apt lists directory it reads.
const vulnSandboxEnv = "TAILOPS_VULN_SANDBOX_CHILD"

// TestCheckVulnerabilitiesUnderSandbox applies the sandbox TailOps
// computes for the packages tools (Landlock and seccomp, enforced) in a
// child process and runs check_vulnerabilities under it twice: fetching
// the tracker's data from a loopback server (the TCP port its needs
// declare) and reading it from a file; a server on another port is out
// of reach of the kernel's rules as well as the policy's.
func TestCheckVulnerabilitiesUnderSandbox(t *testing.T) {
	if lists := os.Getenv(vulnSandboxEnv); lists != "" {
		vulnSandboxChild(t, lists)
		return
	}
	t.Parallel()
	toolstest.RunSandboxed(t, "TestCheckVulnerabilitiesUnderSandbox", vulnSandboxEnv, fixture(t, nil))
}

func vulnSandboxChild(t *testing.T, lists string) {
	data, err := os.ReadFile("testdata/tracker.json")
	if err != nil {
		t.Fatal(err)
	}
	// Servers first: Landlock would refuse binding their ports later.
	serve := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(data) }))
		return "http://" + ln.Addr().String() + "/json"
	}
	url, other := serve(), serve()
	file, _ := filepath.Abs("testdata/tracker.json")
	status, _ := filepath.Abs("testdata/status")
	var specs []tools.Spec
	byName := map[string]tools.Spec{}
	for name, cfg := range map[string]Config{
		"url":   {VulnData: url, VulnAllow: []string{"127.0.0.1/32"}},
		"file":  {VulnData: file},
		"other": {VulnData: other, VulnAllow: []string{"127.0.0.1/32"}},
	} {
		cfg.Status, cfg.Lists, cfg.Release = status, lists, "bookworm"
		ts, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range ts.Tools() {
			if s.Name() == "check_vulnerabilities" {
				byName[name] = s
				if name != "other" { // its port is not granted: that is the point
					specs = append(specs, s)
				}
			}
		}
	}
	toolstest.ApplySandbox(t, specs)
	call := func(name string) (VulnResult, string) {
		res, err := byName[name].Handler(context.Background(), mcp.CallToolRequest{Params: mcp.CallToolParams{Name: "check_vulnerabilities"}})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if res.IsError {
			return VulnResult{}, res.Content[0].(mcp.TextContent).Text
		}
		b, _ := json.Marshal(res.StructuredContent)
		var out VulnResult
		json.Unmarshal(b, &out)
		return out, ""
	}
	for _, name := range []string{"url", "file"} {
		if r, e := call(name); e != "" || r.Affected != 8 {
			t.Errorf("%s under the sandbox: %+v %s", name, r, e)
		}
	}
	if _, e := call("other"); !strings.Contains(e, "permission denied") {
		t.Errorf("a port the sandbox does not grant: %q, want permission denied", e)
	}
}
