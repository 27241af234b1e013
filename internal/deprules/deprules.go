// SPDX-License-Identifier: Apache-2.0

// Package deprules pins which libraries TailOps' packages may link. The
// dependency tests of the packages that must stay small and easy to audit
// (sandbox, auth, netpolicy, redact) and of the tool registry (tools) call
// Check, in the style of tailscale's cmd/tailscaled/deps_test.go, through
// tailscale.com/tstest/deptest.
package deprules

import (
	"os/exec"
	"strings"
	"testing"

	"tailscale.com/tstest/deptest"
)

// Module is this module's path.
const Module = "github.com/tailops/tailops"

// library is a heavy library: why no leaf package may link it, and
// whether it is a tool domain's own (which the registry must not link
// either).
type library struct {
	why    string
	domain bool
}

// Heavy are libraries (by import path prefix) that no leaf package may
// link: a dependency test names the reason when one appears.
var Heavy = map[string]library{
	"github.com/docker/":               {"the Docker client belongs to tools/docker", true},
	"github.com/moby/":                 {"the Docker client belongs to tools/docker", true},
	"github.com/shirou/gopsutil":       {"host metrics belong to tools/host", true},
	"github.com/compose-spec/":         {"compose belongs to its toolset", true},
	"github.com/go-git/":               {"git belongs to gitsource, which the stacks toolset uses", true},
	"github.com/coreos/go-systemd":     {"systemd belongs to its toolset", true},
	"github.com/godbus/":               {"D-Bus belongs to the systemd toolset", true},
	"github.com/google/nftables":       {"the firewall belongs to its toolset", true},
	"github.com/miekg/dns":             {"DNS belongs to netpolicy and tools/diag", true},
	"github.com/prometheus/":           {"metrics belong to package metrics", true},
	"tailscale.com/":                   {"the tailnet belongs to package tailnet", true},
	"github.com/mark3labs/mcp-go":      {"the MCP protocol belongs to tools and server", false},
	"github.com/modelcontextprotocol/": {"the MCP protocol belongs to tools and server", false},
	"github.com/google/jsonschema-go":  {"schema validation belongs to tools (mcp-go brings it)", false},
}

// DomainLibraries returns the Heavy libraries that belong to a tool
// domain: the registry (package tools) links none of them, so declaring
// tools costs nothing of theirs.
func DomainLibraries() []string {
	var out []string
	for p, l := range Heavy {
		if l.domain {
			out = append(out, p)
		}
	}
	return out
}

// standard reports whether pkg is in Go's standard library: its first
// path element has no dot (vendor/golang.org/x/... is the standard
// library's own vendored copy).
func standard(pkg string) bool {
	first, _, _ := strings.Cut(pkg, "/")
	return !strings.Contains(first, ".")
}

// Check fails t when the package in the current directory links a package
// outside the standard library and allow (import path prefixes; the
// package's own path always counts as allowed), naming the reason when
// the package is Heavy.
func Check(t *testing.T, allow ...string) {
	t.Helper()
	deptest.DepChecker{
		OnDep: func(dep string) {
			t.Helper()
			if standard(dep) || hasPrefix(dep, allow) {
				return
			}
			why := "not in its allow-list"
			for p, l := range Heavy {
				if strings.HasPrefix(dep, p) {
					why = l.why
				}
			}
			t.Errorf("links %s: %s", dep, why)
		},
	}.Check(t)
}

// CheckNone fails t when the package in the current directory links a
// package whose import path starts with one of bad.
func CheckNone(t *testing.T, bad []string, why string) {
	t.Helper()
	deptest.DepChecker{
		OnDep: func(dep string) {
			t.Helper()
			if hasPrefix(dep, bad) {
				t.Errorf("links %s: %s", dep, why)
			}
		},
	}.Check(t)
}

// hasPrefix reports whether s starts with one of prefixes.
func hasPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// Deps returns, for each package matched by pattern (go list's, run in the
// current directory with tags), its dependencies (not its test's).
func Deps(t *testing.T, tags, pattern string) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-tags="+tags, "-f", "{{.ImportPath}} {{join .Deps \" \"}}", pattern).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list %s: %v\n%s", pattern, err, ee.Stderr)
		}
		t.Fatalf("go list %s: %v", pattern, err)
	}
	deps := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		deps[f[0]] = f[1:]
	}
	return deps
}
