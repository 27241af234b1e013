// SPDX-License-Identifier: Apache-2.0

package firewall_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/labtest"
	"github.com/tailops/tailops/tools"
	"github.com/tailops/tailops/tools/firewall"
	"github.com/tailops/tailops/toolstest"
)

// noCapEnv makes the test binary, re-run without CAP_NET_ADMIN, call
// get_firewall_rules once and print what it answered.
const noCapEnv = "TAILOPS_FIREWALL_NOCAP_CHILD"

// TestMain moves the whole test binary into a network namespace of its
// own (unshare -n), with its own, empty nftables ruleset: nothing these
// tests add, by nft, iptables-nft or the tools, reaches the machine's own
// firewall. ReexecInLoopbackNetNS returns only in the new namespace, and
// only after checking that it has nothing but loopback.
func TestMain(m *testing.M) {
	labtest.ReexecInLoopbackNetNS()
	if os.Getenv(noCapEnv) == "1" {
		ts, _ := firewall.New(firewall.Config{})
		res, err := ts.Tools()[0].Handler(context.Background(), mcp.CallToolRequest{})
		if err != nil {
			fmt.Println("protocol error:", err)
			os.Exit(1)
		}
		fmt.Printf("isError=%v %s\n", res.IsError, toolstest.Text(res))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// run runs a command of the test's set-up (nft, iptables-nft) in the
// test's namespace.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// reset empties the namespace's ruleset.
func reset(t *testing.T) {
	t.Helper()
	run(t, "nft", "flush", "ruleset")
	t.Cleanup(func() { exec.Command("nft", "flush", "ruleset").Run() })
}

// newServer serves the firewall tools, protecting tailscale0, TCP 8443 and
// UDP 41641, approving every critical call.
func newServer(t *testing.T) *toolstest.Server {
	t.Helper()
	ts, err := firewall.New(firewall.Config{ProtectedTCPPorts: []uint16{8443}})
	if err != nil {
		t.Fatal(err)
	}
	return toolstest.New(t, []tools.Toolset{ts}, &toolstest.Options{Approve: true})
}

// ruleTexts returns "family table/chain: text" for every rule.
func ruleTexts(rs firewall.Ruleset) []string {
	var out []string
	for _, tb := range rs.Tables {
		for _, c := range tb.Chains {
			for _, r := range c.Rules {
				out = append(out, fmt.Sprintf("%s %s/%s: %s", tb.Family, tb.Name, c.Name, r.Text))
			}
		}
	}
	return out
}

// TestGetFirewallRulesShowsNftAndIptablesRules: rules made by nft and by
// iptables-nft are both read, with chains' hooks and policies, counters,
// set lookups, and what cannot be rendered named.
func TestGetFirewallRulesShowsNftAndIptablesRules(t *testing.T) {
	reset(t)
	run(t, "nft", "-f", "-", "-c") // nft works at all
	nftScript := `
table inet filt {
	set allowed { type ipv4_addr; }
	chain input {
		type filter hook input priority 0; policy drop;
		iifname "lo" accept
		ip saddr 10.1.0.0/16 tcp dport 22 counter accept
		iifname "eth9" ip6 daddr 2001:db8::1 udp sport 53 accept
		ct state established,related accept
		ip saddr @allowed accept
		tcp dport 8000-8100 drop
		tcp dport { 80, 443 } accept
		meta l4proto icmp jump other
		ip saddr 10.9.9.9 meta mark set 0x1
		tcp option maxseg size 1400 accept
	}
	chain other {
		oifname "lo" counter return
	}
}
`
	cmd := exec.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(nftScript)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft -f: %v\n%s", err, out)
	}
	run(t, "iptables-nft", "-A", "INPUT", "-s", "192.0.2.0/24", "-p", "tcp", "--dport", "443", "-j", "ACCEPT")
	run(t, "iptables-nft", "-A", "INPUT", "-m", "conntrack", "--ctstate", "INVALID", "-j", "DROP")
	run(t, "iptables-nft", "-A", "INPUT", "-p", "udp", "-m", "multiport", "--dports", "1000,2000", "-j", "REJECT")
	run(t, "iptables-nft", "-P", "FORWARD", "DROP")

	s := newServer(t)
	c := s.Client(t, auth.ScopeSecurityRead)
	rs := toolstest.OK[firewall.Ruleset](t, c, "get_firewall_rules", nil)
	got := strings.Join(ruleTexts(rs), "\n")
	t.Logf("rendered:\n%s", got)
	b, _ := json.Marshal(rs)
	t.Logf("%s", b)
	for _, want := range []string{
		`inet filt/input: iifname "lo" accept`,
		"inet filt/input: meta nfproto ipv4 ip saddr 10.1.0.0/16 meta l4proto tcp tcp dport 22 counter packets 0 bytes 0 accept",
		`inet filt/input: iifname "eth9" meta nfproto ipv6 ip6 daddr 2001:db8::1 meta l4proto udp udp sport 53 accept`,
		"inet filt/input: ct state established,related accept",
		"inet filt/input: meta nfproto ipv4 ip saddr @allowed accept",
		"inet filt/input: meta l4proto tcp tcp dport 8000-8100 drop",
		"inet filt/input: meta nfproto ipv4 ip saddr 10.9.9.9 meta mark set 1",
		"inet filt/input: meta l4proto tcp tcp dport @__set0 (anonymous set) accept",
		"inet filt/input: meta l4proto icmp jump other",
		`inet filt/other: oifname "lo" counter packets 0 bytes 0 return`,
		"ip filter/INPUT: meta l4proto tcp ip saddr 192.0.2.0/24 tcp dport 443 counter packets 0 bytes 0 accept",
		`ip filter/INPUT: xt match "conntrack" counter packets 0 bytes 0 drop`,
		`ip filter/INPUT: meta l4proto udp xt match "multiport" counter packets 0 bytes 0 xt target "REJECT"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no rule %q", want)
		}
	}
	// A TCP option is not rendered: named in the text and detailed.
	var optRule *firewall.Rule
	for _, tb := range rs.Tables {
		for _, ch := range tb.Chains {
			switch {
			case tb.Name == "filt" && ch.Name == "input":
				if ch.Hook != "input" || ch.Policy != "drop" || ch.Priority == nil || *ch.Priority != 0 || ch.Type != "filter" {
					t.Errorf("chain inet filt input: %+v", ch)
				}
				for i, r := range ch.Rules {
					if strings.Contains(r.Text, "[exthdr]") {
						optRule = &ch.Rules[i]
					}
				}
			case tb.Name == "filter" && ch.Name == "FORWARD":
				if ch.Policy != "drop" || ch.Hook != "forward" {
					t.Errorf("iptables' FORWARD chain: %+v", ch)
				}
			case tb.Name == "filt" && ch.Name == "other":
				if ch.Hook != "" || ch.Policy != "" {
					t.Errorf("a regular chain shows a hook or policy: %+v", ch)
				}
			}
		}
		if tb.Name == "filt" && (len(tb.Sets) != 1 || tb.Sets[0].Name != "allowed" || tb.Sets[0].KeyType != "ipv4_addr") {
			t.Errorf("sets of inet filt: %+v", tb.Sets)
		}
	}
	if optRule == nil || len(optRule.Unrendered) == 0 || optRule.Unrendered[0].Kind != "exthdr" || !strings.Contains(optRule.Unrendered[0].Detail, "Type:2") ||
		!strings.HasSuffix(optRule.Text, " accept") {
		t.Errorf("tcp option maxseg is not named as unrendered: %+v", optRule)
	}
	if rs.Rules != rs.Listed || rs.Truncated || rs.Rules != 14 {
		t.Errorf("counted %d rules, listed %d, truncated %v; want 14, all", rs.Rules, rs.Listed, rs.Truncated)
	}
	// Bounded: max_rules cuts, and says so.
	cut := toolstest.OK[firewall.Ruleset](t, c, "get_firewall_rules", map[string]any{"max_rules": 3})
	if cut.Listed != 3 || !cut.Truncated || cut.Rules != 14 {
		t.Errorf("max_rules 3: listed %d of %d, truncated %v", cut.Listed, cut.Rules, cut.Truncated)
	}
	one := toolstest.OK[firewall.Ruleset](t, c, "get_firewall_rules", map[string]any{"table": "ip filter"})
	if len(one.Tables) != 1 || one.Tables[0].Name != "filter" {
		t.Errorf("table ip filter: %+v", one.Tables)
	}
	if msg := toolstest.Err(t, c, "get_firewall_rules", map[string]any{"table": "nope"}); !strings.Contains(msg, `no table "nope"`) {
		t.Errorf("unknown table: %s", msg)
	}
}

// TestAddDeleteRoundTrip adds rules through the server (approved), sees
// them in get_firewall_rules and in nft's own listing, deletes them by id
// and by handle, and leaves every other table as it was.
func TestAddDeleteRoundTrip(t *testing.T) {
	reset(t)
	run(t, "nft", "add", "table", "ip", "other")
	run(t, "nft", "add", "chain", "ip", "other", "c", "{ type filter hook input priority 10; policy accept; }")
	run(t, "nft", "add", "rule", "ip", "other", "c", "tcp", "dport", "9", "drop")
	before := run(t, "nft", "list", "table", "ip", "other")

	s := newServer(t)
	c := s.Client(t, auth.ScopeSecurityWrite)
	add := toolstest.OK[firewall.AddRuleResult](t, c, "add_firewall_rule", map[string]any{
		"chain": "input", "protocol": "tcp", "dport": "2222", "source": "10.0.0.0/8", "verdict": "drop", "note": "no ssh from lab",
	})
	wantText := `meta nfproto ipv4 iifname != "tailscale0" ip saddr 10.0.0.0/8 meta l4proto tcp tcp dport 2222 counter packets 0 bytes 0 drop`
	if add.Table != "inet tailops" || add.Chain != "input" || add.Handle == 0 || len(add.ID) != 12 || add.Text != wantText {
		t.Errorf("add: %+v\nwant text %s", add, wantText)
	}
	add2 := toolstest.OK[firewall.AddRuleResult](t, c, "add_firewall_rule", map[string]any{
		"chain": "output", "protocol": "udp", "dport": "5000-5100", "destination": "2001:db8::/32", "out_interface": "eth0",
		"ct_state": []string{"new"}, "verdict": "reject",
	})
	add3 := toolstest.OK[firewall.AddRuleResult](t, c, "add_firewall_rule", map[string]any{
		"chain": "input", "in_interface": "eth0", "ct_state": []string{"established", "related"}, "verdict": "accept",
	})
	// nft itself sees them, with the comment and TailOps' base chains.
	own := run(t, "nft", "list", "table", "inet", "tailops")
	for _, want := range []string{
		"type filter hook input priority filter; policy accept;", "type filter hook forward priority filter; policy accept;",
		"type filter hook output priority filter; policy accept;",
		`ip saddr 10.0.0.0/8 tcp dport 2222 counter packets 0 bytes 0 drop comment "tailops:` + add.ID + ` no ssh from lab"`,
		// Narrowed by its destination: no exclusion of Tailscale's port
		// (TestRefusals has the rules that get one).
		`oifname != "tailscale0" oifname "eth0" ip6 daddr 2001:db8::/32 udp dport 5000-5100 ct state new counter packets 0 bytes 0 reject`,
		`iifname "eth0" ct state established,related counter packets 0 bytes 0 accept comment "tailops:` + add3.ID + `"`,
	} {
		if !strings.Contains(own, want) {
			t.Errorf("nft list table inet tailops lacks %q:\n%s", want, own)
		}
	}
	// get_firewall_rules marks the table and the rules' ids.
	rs := toolstest.OK[firewall.Ruleset](t, c, "get_firewall_rules", map[string]any{"table": "inet tailops"})
	ids := map[string]uint64{}
	for _, tb := range rs.Tables {
		if !tb.TailOps {
			t.Errorf("table %s %s not marked as TailOps'", tb.Family, tb.Name)
		}
		for _, ch := range tb.Chains {
			for _, r := range ch.Rules {
				ids[r.ID] = r.Handle
			}
		}
	}
	if ids[add.ID] != add.Handle || ids[add2.ID] != add2.Handle || ids[add3.ID] != add3.Handle {
		t.Errorf("ids listed %v; added %+v %+v %+v", ids, add, add2, add3)
	}
	// Delete by id, by handle, by both.
	del := toolstest.OK[firewall.DeleteRuleResult](t, c, "delete_firewall_rule", map[string]any{"id": add.ID})
	if del.Handle != add.Handle || del.Chain != "input" || del.Deleted != wantText {
		t.Errorf("delete by id: %+v", del)
	}
	toolstest.OK[firewall.DeleteRuleResult](t, c, "delete_firewall_rule", map[string]any{"handle": add2.Handle})
	if msg := toolstest.Err(t, c, "delete_firewall_rule", map[string]any{"handle": add3.Handle, "id": add.ID}); !strings.Contains(msg, "no rule with handle") {
		t.Errorf("handle and id of different rules: %s", msg)
	}
	toolstest.OK[firewall.DeleteRuleResult](t, c, "delete_firewall_rule", map[string]any{"handle": add3.Handle, "id": add3.ID})
	if msg := toolstest.Err(t, c, "delete_firewall_rule", map[string]any{"id": add.ID}); !strings.Contains(msg, "no rule with id") {
		t.Errorf("deleting twice: %s", msg)
	}
	own = run(t, "nft", "list", "table", "inet", "tailops")
	if strings.Contains(own, "tailops:") {
		t.Errorf("rules left after deleting them all:\n%s", own)
	}
	// The other table's rule has a handle too; TailOps never deletes it.
	otherRS := toolstest.OK[firewall.Ruleset](t, c, "get_firewall_rules", map[string]any{"table": "ip other"})
	h := otherRS.Tables[0].Chains[0].Rules[0].Handle
	if msg := toolstest.Err(t, c, "delete_firewall_rule", map[string]any{"handle": h}); !strings.Contains(msg, "TailOps deletes only its own rules") {
		t.Errorf("deleting another table's handle: %s", msg)
	}
	if after := run(t, "nft", "list", "table", "ip", "other"); after != before {
		t.Errorf("table ip other changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	// Both were critical: the audit log shows approval for each.
	approved := 0
	for _, r := range s.Records(t) {
		if r["tool"] == "add_firewall_rule" || r["tool"] == "delete_firewall_rule" {
			if r["approval"] != nil {
				approved++
			}
		}
	}
	if approved == 0 {
		t.Errorf("no approval recorded for the critical calls")
	}
}

// TestAddKeepsAPolicySetByHand: the owner sets policy drop on TailOps'
// forward chain by hand; adding a rule keeps it (declaring the base
// chains again used to reset it to accept), and creates a chain removed
// by hand.
func TestAddKeepsAPolicySetByHand(t *testing.T) {
	reset(t)
	c := newServer(t).Client(t, auth.ScopeSecurityWrite)
	toolstest.OK[firewall.AddRuleResult](t, c, "add_firewall_rule", map[string]any{"chain": "input", "protocol": "tcp", "dport": "2222", "verdict": "drop"})
	run(t, "nft", "chain", "inet", "tailops", "forward", "{ policy drop; }")
	run(t, "nft", "delete", "chain", "inet", "tailops", "output")
	toolstest.OK[firewall.AddRuleResult](t, c, "add_firewall_rule", map[string]any{"chain": "output", "protocol": "tcp", "dport": "2323", "verdict": "drop"})
	own := run(t, "nft", "list", "table", "inet", "tailops")
	for _, want := range []string{"type filter hook forward priority filter; policy drop;", "type filter hook output priority filter; policy accept;", "tcp dport 2323"} {
		if !strings.Contains(own, want) {
			t.Errorf("after adding a rule, nft list table inet tailops lacks %q:\n%s", want, own)
		}
	}
}

// TestRefusals: every rule that would edit another table, cut the
// tailnet or TailOps' own ports, or is malformed, is refused through the
// server, and nothing is added.
func TestRefusals(t *testing.T) {
	reset(t)
	s := newServer(t)
	c := s.Client(t, auth.ScopeSecurityWrite)
	tests := []struct {
		name string
		tool string
		args map[string]any
		want string
	}{
		{"other table on add", "add_firewall_rule", map[string]any{"table": "ip filter", "chain": "input", "verdict": "accept"}, "TailOps edits only its own table"},
		{"other table on delete", "delete_firewall_rule", map[string]any{"table": "inet firewalld", "handle": 3}, "TailOps edits only its own table"},
		{"drop on the tailnet interface", "add_firewall_rule", map[string]any{"chain": "input", "in_interface": "tailscale0", "verdict": "drop"}, "tailnet interface"},
		{"reject out of the tailnet interface", "add_firewall_rule", map[string]any{"chain": "output", "out_interface": "tailscale0", "protocol": "tcp", "dport": "80", "verdict": "reject"}, "tailnet interface"},
		{"own listener port", "add_firewall_rule", map[string]any{"chain": "input", "protocol": "tcp", "dport": "8000-9000", "verdict": "drop"}, "TCP port 8443, TailOps' own listener"},
		{"own listener port by source port", "add_firewall_rule", map[string]any{"chain": "output", "protocol": "tcp", "sport": "8443", "verdict": "reject"}, "TCP port 8443"},
		{"tailscale port", "add_firewall_rule", map[string]any{"chain": "input", "protocol": "udp", "dport": "41641", "verdict": "drop"}, "UDP port 41641, Tailscale's"},
		{"everything", "add_firewall_rule", map[string]any{"chain": "input", "verdict": "drop"}, "would drop all TCP and UDP traffic"},
		{"all of udp on an interface", "add_firewall_rule", map[string]any{"chain": "input", "protocol": "udp", "in_interface": "eth0", "verdict": "drop"}, "UDP port 41641"},
		{"everything from anywhere", "add_firewall_rule", map[string]any{"chain": "input", "source": "0.0.0.0/0", "verdict": "drop"}, "would drop all TCP and UDP traffic"},
		{"everything from anywhere, ip6", "add_firewall_rule", map[string]any{"chain": "input", "family": "ip6", "source": "::/0", "verdict": "drop"}, "would drop all TCP and UDP traffic"},
		{"everything from half the internet", "add_firewall_rule", map[string]any{"chain": "input", "source": "0.0.0.0/1", "verdict": "reject"}, "would reject all TCP and UDP traffic"},
		{"everything to this host's address", "add_firewall_rule", map[string]any{"chain": "input", "destination": "192.0.2.10", "verdict": "drop"}, "would drop all TCP and UDP traffic"},
		// Found in review: the tailnet's own servers, in any mode.
		{"out to every host's 443", "add_firewall_rule", map[string]any{"chain": "output", "protocol": "tcp", "dport": "443", "verdict": "drop"}, "TCP port 443 of every host"},
		{"in from every host's 443", "add_firewall_rule", map[string]any{"chain": "input", "protocol": "tcp", "sport": "443", "verdict": "drop"}, "TCP port 443 of every host"},
		{"out to STUN", "add_firewall_rule", map[string]any{"chain": "output", "protocol": "udp", "dport": "3000-4000", "verdict": "reject"}, "UDP port 3478 of every host"},
		{"no chain", "add_firewall_rule", map[string]any{"verdict": "accept"}, "chain"},
		{"bad verdict", "add_firewall_rule", map[string]any{"chain": "input", "verdict": "masquerade"}, "verdict"},
		{"bad address", "add_firewall_rule", map[string]any{"chain": "input", "source": "10.0.0.300", "verdict": "accept"}, "not an IP address or CIDR"},
		{"mixed families", "add_firewall_rule", map[string]any{"chain": "input", "source": "10.0.0.1", "destination": "::1", "verdict": "accept"}, "not an address of family ip"},
		{"ports without protocol", "add_firewall_rule", map[string]any{"chain": "input", "dport": "22", "verdict": "accept"}, "ports need protocol tcp or udp"},
		{"bad port", "add_firewall_rule", map[string]any{"chain": "input", "protocol": "tcp", "dport": "0", "verdict": "accept"}, "not a port"},
		{"empty range", "add_firewall_rule", map[string]any{"chain": "input", "protocol": "tcp", "dport": "90-80", "verdict": "accept"}, "empty range"},
		{"bad interface", "add_firewall_rule", map[string]any{"chain": "input", "in_interface": "eth0;flush", "verdict": "accept"}, "not allowed in an interface name"},
		{"in_interface on output", "add_firewall_rule", map[string]any{"chain": "output", "in_interface": "eth0", "verdict": "accept"}, "no input interface"},
		{"bad ct state", "add_firewall_rule", map[string]any{"chain": "input", "ct_state": []string{"bogus"}, "verdict": "accept"}, "not a conntrack state"},
		{"icmp in ip6", "add_firewall_rule", map[string]any{"chain": "input", "family": "ip6", "protocol": "icmp", "verdict": "accept"}, "icmpv6"},
		{"quote in note", "add_firewall_rule", map[string]any{"chain": "input", "verdict": "accept", "note": `x" drop`}, "note"},
		{"no handle nor id", "delete_firewall_rule", map[string]any{}, "handle or its id"},
		{"no table yet", "delete_firewall_rule", map[string]any{"handle": 5}, "TailOps has added no rule"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if msg := toolstest.Err(t, c, tt.tool, tt.args); !strings.Contains(msg, tt.want) {
				t.Errorf("%s %v: %s; want %q", tt.tool, tt.args, msg, tt.want)
			}
		})
	}
	if out := run(t, "nft", "list", "ruleset"); strings.TrimSpace(out) != "" {
		t.Errorf("a refused rule left something:\n%s", out)
	}
	// What is allowed: drop invalid packets; a drop narrowed to an address;
	// 443 of one host.
	for _, args := range []map[string]any{
		{"chain": "input", "ct_state": []string{"invalid"}, "verdict": "drop"},
		{"chain": "input", "source": "198.51.100.7", "verdict": "drop"},
		{"chain": "output", "protocol": "tcp", "dport": "443", "destination": "198.51.100.7", "verdict": "drop"},
	} {
		toolstest.OK[firewall.AddRuleResult](t, c, "add_firewall_rule", args)
	}
	// A drop of the other end's ports is allowed, but never drops
	// Tailscale's own packets: a peer's WireGuard packets come from any
	// port to 41641 and go from 41641 to any port (found in review: these
	// rules dropped them).
	for _, tc := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"chain": "output", "protocol": "udp", "dport": "4000-41640", "verdict": "drop"}, "udp dport 4000-41640 udp sport != 41641"},
		{map[string]any{"chain": "input", "protocol": "udp", "sport": "41642-65535", "verdict": "drop"}, "udp sport 41642-65535 udp dport != 41641"},
	} {
		r := toolstest.OK[firewall.AddRuleResult](t, c, "add_firewall_rule", tc.args)
		if !strings.Contains(r.Text, tc.want) {
			t.Errorf("%v: %s, want it to hold %q", tc.args, r.Text, tc.want)
		}
	}
	if out := run(t, "nft", "list", "table", "inet", "tailops"); !strings.Contains(out, "udp sport != 41641") || !strings.Contains(out, "udp dport != 41641") {
		t.Errorf("nft does not list the exclusions:\n%s", out)
	}
}

// TestMissingCapabilityIsActionable re-runs the test binary with
// CAP_NET_ADMIN dropped from its bounding and inheritable sets (setpriv):
// netlink answers EPERM, and get_firewall_rules turns it into an error
// that says what to do.
func TestMissingCapabilityIsActionable(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("setpriv", "--inh-caps=-net_admin", "--bounding-set=-net_admin", "--", self)
	cmd.Env = append(os.Environ(), noCapEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the child without CAP_NET_ADMIN: %v\n%s", err, out)
	}
	for _, want := range []string{"isError=true", "operation not permitted", "CAP_NET_ADMIN", "--cap-add NET_ADMIN", "AmbientCapabilities"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("answer without CAP_NET_ADMIN lacks %q:\n%s", want, out)
		}
	}
}
