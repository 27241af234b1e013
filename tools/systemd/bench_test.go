// SPDX-License-Identifier: Apache-2.0

package systemd_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/tailops/tailops/internal/systemdtest"
	"github.com/tailops/tailops/tools/systemd"
	"github.com/tailops/tailops/toolstest"
)

// BenchmarkListServices compares list_services (the whole handler: one
// ListUnitsByPatterns call, then UnitFileState, MemoryCurrent and
// NRestarts of every service, pipelined; JSON result) with `systemctl
// list-units --all -o json` run in the same test bed against the same
// systemd, with 50 extra running services. Run (as root) with
//
//	go test -run '^$' -bench ListServices -count 1 ./tools/systemd
func BenchmarkListServices(b *testing.B) {
	bed := systemdtest.Start(b)
	const n = 50
	names := make([]string, n)
	for i := range n {
		names[i] = fmt.Sprintf("bench-%02d.service", i)
		bed.WriteUnitNoReload(b, names[i], "[Service]\nExecStart=/bin/sleep infinity\n")
	}
	bed.Run(b, "systemctl", "daemon-reload")
	bed.Run(b, append([]string{"systemctl", "start"}, names...)...)
	ts, err := systemd.New(systemd.Config{BusAddress: bed.BusAddress()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ts.Close() })
	h := toolstest.Direct(ts.Tools())
	b.Run("tailops", func(b *testing.B) {
		for b.Loop() {
			res := toolstest.Call(b, h, "list_services", nil)
			if res.IsError {
				b.Fatalf("list_services: %s", toolstest.Text(res))
			}
			if c := res.StructuredContent.(systemd.ServiceList).Count; c < n {
				b.Fatalf("listed %d services, want at least %d", c, n)
			}
		}
	})
	for name, args := range map[string][]string{
		"systemctl_all":          {"systemctl", "list-units", "--all", "-o", "json"},
		"systemctl_all_services": {"systemctl", "list-units", "--all", "--type=service", "-o", "json"},
	} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				out, err := bed.Command(context.Background(), args...).Output()
				if err != nil {
					b.Fatalf("%s: %v", strings.Join(args, " "), err)
				}
				if c := strings.Count(string(out), `"unit":"bench-`); c != n {
					b.Fatalf("systemctl listed %d bench services, want %d", c, n)
				}
			}
		})
	}
}
