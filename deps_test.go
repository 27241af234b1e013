// SPDX-License-Identifier: Apache-2.0

package main

import (
	"testing"

	"tailscale.com/tstest/deptest"
	"tailscale.com/util/set"
)

// TestReleaseDeps: a release build links no test code: not the test
// harnesses, not the mcp-go client (GO-2026-6911 in
// .ci/govulncheck-accepted.txt is accepted because of this), not the
// sandbox probe tool; a build with the test-only tags links the probe.
func TestReleaseDeps(t *testing.T) {
	t.Parallel()
	deptest.DepChecker{BadDeps: map[string]string{
		"github.com/tailops/tailops/toolstest":         "the tool test harness is for tests",
		"github.com/tailops/tailops/labtest":           "the lab (dockerd, tailnet) is for tests",
		"github.com/tailops/tailops/tools/probe":       "sandbox_probe exists only in test builds (tailops_testtools)",
		"github.com/tailops/tailops/internal/deprules": "dependency rules are for tests",
		"github.com/mark3labs/mcp-go/client":           "TailOps serves MCP; a client is for tests (GO-2026-6911)",
		"github.com/mark3labs/mcp-go/client/transport": "TailOps serves MCP; a client is for tests (GO-2026-6911)",
	}}.Check(t)
	deptest.DepChecker{Tags: "tailops_testtools,tailops_nocheck",
		WantDeps: set.Of("github.com/tailops/tailops/tools/probe")}.Check(t)
}
