// SPDX-License-Identifier: Apache-2.0

package firewall_test

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tools"
	"github.com/tailops/tailops/tools/firewall"
	"github.com/tailops/tailops/toolstest"
)

// benchRules is how many rules BenchmarkGetFirewallRules loads.
const benchRules = 400

// BenchmarkGetFirewallRules compares get_firewall_rules (the handler:
// netlink dumps, rendering, the JSON result and its text; and the same
// through the MCP server) with `nft -j list ruleset`, on one ruleset of
// 400 rules in 4 chains, in the test binary's own network namespace. Run
// with
//
//	go test -run '^$' -bench GetFirewallRules -benchtime 200x ./tools/firewall
func BenchmarkGetFirewallRules(b *testing.B) {
	if out, err := exec.Command("nft", "flush", "ruleset").CombinedOutput(); err != nil {
		b.Fatalf("nft flush ruleset: %v: %s", err, out)
	}
	b.Cleanup(func() { exec.Command("nft", "flush", "ruleset").Run() })
	var sb strings.Builder
	sb.WriteString("table inet bench {\n\tset allowed { type ipv4_addr; }\n")
	for c, hook := range []string{"input", "forward", "output", "other"} {
		if hook == "other" {
			sb.WriteString("\tchain other {\n")
		} else {
			fmt.Fprintf(&sb, "\tchain %s {\n\t\ttype filter hook %s priority 0; policy accept;\n", hook, hook)
		}
		for i := range benchRules / 4 {
			switch i % 5 {
			case 0:
				fmt.Fprintf(&sb, "\t\tip saddr 10.%d.%d.0/24 tcp dport %d counter accept\n", c, i, 1000+i)
			case 1:
				fmt.Fprintf(&sb, "\t\tiifname \"eth%d\" ip6 daddr 2001:db8::%x udp sport %d drop\n", i%8, i, 2000+i)
			case 2:
				fmt.Fprintf(&sb, "\t\tct state established,related tcp dport %d-%d counter accept\n", 3000+i, 3100+i)
			case 3:
				fmt.Fprintf(&sb, "\t\tip saddr @allowed meta l4proto udp counter reject\n")
			default:
				fmt.Fprintf(&sb, "\t\toifname \"wg%d\" tcp dport { %d, %d } accept\n", i%4, 4000+i, 5000+i)
			}
		}
		sb.WriteString("\t}\n")
	}
	sb.WriteString("}\n")
	cmd := exec.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(sb.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("nft -f: %v: %s", err, out)
	}
	ts, err := firewall.New(firewall.Config{})
	if err != nil {
		b.Fatal(err)
	}
	spec := ts.Tools()[0]
	b.Run("tailops_handler", func(b *testing.B) {
		for b.Loop() {
			res, err := spec.Handler(context.Background(), mcp.CallToolRequest{})
			if err != nil || res.IsError {
				b.Fatalf("get_firewall_rules: %v %s", err, toolstest.Text(res))
			}
			if rs := res.StructuredContent.(firewall.Ruleset); rs.Listed != benchRules {
				b.Fatalf("listed %d rules, want %d", rs.Listed, benchRules)
			}
		}
	})
	b.Run("tailops_mcp", func(b *testing.B) {
		c := toolstest.New(b, []tools.Toolset{ts}, nil).Client(b, auth.ScopeSecurityRead)
		b.ResetTimer()
		for b.Loop() {
			if rs := toolstest.OK[firewall.Ruleset](b, c, "get_firewall_rules", nil); rs.Listed != benchRules {
				b.Fatalf("listed %d rules, want %d", rs.Listed, benchRules)
			}
		}
	})
	b.Run("nft_json", func(b *testing.B) {
		for b.Loop() {
			out, err := exec.Command("nft", "-j", "list", "ruleset").Output()
			if err != nil {
				b.Fatalf("nft -j list ruleset: %v", err)
			}
			if n := strings.Count(string(out), `"rule":`); n != benchRules {
				b.Fatalf("nft listed %d rules, want %d", n, benchRules)
			}
		}
	})
}
