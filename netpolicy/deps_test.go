// SPDX-License-Identifier: Apache-2.0

package netpolicy_test

import (
	"testing"

	"github.com/tailops/tailops/internal/deprules"
)

// TestDeps: the destination policy links its DNS library and nothing
// heavy: no tool, tailnet, Docker or MCP code; the Go project's own x/
// repositories come with it.
func TestDeps(t *testing.T) {
	deprules.Check(t, "github.com/miekg/dns", "golang.org/x/") // x/net, x/sys, x/text through miekg/dns
}
