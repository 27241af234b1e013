// SPDX-License-Identifier: Apache-2.0

package main

import (
	"testing"

	"tailscale.com/tstest/deptest"
	"tailscale.com/util/set"
)

// TestReleaseDeps: a release build links no test code: not the test
// harnesses, not the sandbox probe tool; a build with the test-only tags
// links the probe. (The mcp-go client is linked: a fleet entry node
// forwards calls with it, through HTTP clients that follow no redirect,
// which is what GO-2026-6911 is about: fleet.TestMemberRedirectRefused.)
func TestReleaseDeps(t *testing.T) {
	t.Parallel()
	deptest.DepChecker{BadDeps: map[string]string{
		"github.com/tailops/tailops/toolstest":         "the tool test harness is for tests",
		"github.com/tailops/tailops/labtest":           "the lab (dockerd, tailnet) is for tests",
		"github.com/tailops/tailops/tools/probe":       "sandbox_probe exists only in test builds (tailops_testtools)",
		"github.com/tailops/tailops/internal/deprules": "dependency rules are for tests",
	}}.Check(t)
	deptest.DepChecker{Tags: "tailops_testtools,tailops_nocheck",
		WantDeps: set.Of("github.com/tailops/tailops/tools/probe")}.Check(t)
}
