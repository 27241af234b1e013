// SPDX-License-Identifier: Apache-2.0

package packages

import (
	"context"
	"os/exec"
	"testing"

	"github.com/tailops/tailops/tools"
	"github.com/tailops/tailops/toolstest"
)

// BenchmarkCheckUpdates compares check_updates with apt list
// --upgradable on this machine's dpkg database and apt lists, side by
// side in one run: the computation itself (the status file and every
// list parsed, as on the first call and after any input changes), the
// tool's handler (its answer kept while the inputs keep their identity:
// the inputs' identity is checked on every call), the same call through
// the in-process MCP server and a real client, and apt (a process per
// call).
//
//	go test -tags "$(bash .ci/ts-tags.sh)" -timeout 40m -run '^$' -bench CheckUpdates -benchtime 10x -benchmem -count 2 ./tools/packages
func BenchmarkCheckUpdates(b *testing.B) {
	ts, err := New(Config{Status: StatusFile, Lists: ListsDir})
	if err != nil {
		b.Fatal(err)
	}
	limit := 5000
	b.Run("tailops_compute", func(b *testing.B) {
		for b.Loop() {
			if _, err := ts.computePending(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("tailops_handler", func(b *testing.B) {
		// The first call (untimed: b.Loop starts the clock) computes.
		if _, err := ts.checkUpdates(context.Background(), CheckArgs{Limit: &limit}); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := ts.checkUpdates(context.Background(), CheckArgs{Limit: &limit}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("tailops_mcp", func(b *testing.B) {
		cl := toolstest.New(b, []tools.Toolset{ts}, nil).Client(b, "system:read")
		for b.Loop() {
			toolstest.OK[CheckResult](b, cl, "check_updates", map[string]any{"limit": limit})
		}
	})
	b.Run("apt_list_upgradable", func(b *testing.B) {
		for b.Loop() {
			if err := exec.Command("apt", "list", "--upgradable").Run(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
