// SPDX-License-Identifier: Apache-2.0

package tools_test

import (
	"strings"
	"testing"

	"github.com/tailops/tailops/internal/deprules"
)

// TestDeps: the registry links no domain library (Docker, gopsutil,
// compose, git, systemd, nftables, DNS, metrics, the tailnet): declaring
// and selecting tools costs nothing of theirs.
func TestDeps(t *testing.T) {
	deprules.CheckNone(t, deprules.DomainLibraries(), "a domain library belongs to its toolset package under tools/")
}

// TestToolsetsAreIndependent: no toolset package imports another (with or
// without the test-only tags): what two domains share belongs in tools,
// or in a package of its own.
func TestToolsetsAreIndependent(t *testing.T) {
	prefix := deprules.Module + "/tools/"
	for _, tags := range []string{"", "tailops_testtools,tailops_nocheck"} {
		deps := deprules.Deps(t, tags, "./...")
		if len(deps) < 6 {
			t.Fatalf("go list ./... in tools (tags %q) found %d packages, want the registry and every toolset", tags, len(deps))
		}
		for pkg, d := range deps {
			for _, dep := range d {
				if strings.HasPrefix(dep, prefix) && dep != pkg {
					t.Errorf("%s imports %s (tags %q): toolsets must not depend on each other", pkg, dep, tags)
				}
			}
		}
		if _, ok := deps[prefix+"probe"]; tags != "" && !ok {
			t.Errorf("tags %q: tools/probe not listed", tags)
		}
	}
}
