// SPDX-License-Identifier: Apache-2.0

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/tailops/tailops/sandbox"
	"github.com/tailops/tailops/tools"
)

// allTools is every tool of every toolset, as serve builds them with file
// roots roots (none: the default) and an empty environment (no HOST_*
// prefixes, no DOCKER_HOST: the defaults), whatever the machine's, as
// docToolsets does.
func allTools(roots ...string) []tools.Spec {
	c := &config{FileRoots: roots, env: environ{}}
	return c.toolsets(nil, nil, nil).specs()
}

func TestEveryToolIsDeclaredConsistently(t *testing.T) {
	all := allTools()
	if len(all) == 0 {
		t.Fatal("no tools")
	}
	seen := map[string]bool{}
	for i := range all {
		s := &all[i]
		if seen[s.Name()] {
			t.Errorf("tool %s declared twice", s.Name())
		}
		seen[s.Name()] = true
		if s.Tool.Annotations.Title == "" {
			t.Errorf("tool %s has no title", s.Name())
		}
		if err := s.Validate(); err != nil {
			t.Error(err)
		}
		if _, err := tools.NewInputValidator(s); err != nil {
			t.Error(err)
		}
	}
}

// TestToolSnapshots keeps each tool's MCP definition (schemas, annotations,
// description) in testdata/toolsnaps, with what it may do: its scope,
// risk, approval and sandbox needs (as the default configuration resolves
// them, read from no environment), so any change to what clients see or
// to a tool's privilege is deliberate and shows in review. Regenerate
// with UPDATE_TOOLSNAPS=1.
func TestToolSnapshots(t *testing.T) {
	if n := reflect.TypeFor[sandbox.Needs]().NumField(); n != 10 {
		t.Fatalf("sandbox.Needs has %d fields; needsSnapshot shows 10: add the new ones", n)
	}
	all := allTools()
	for _, s := range all {
		got, err := json.MarshalIndent(snapshot(&s), "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", "toolsnaps", s.Name()+".json")
		if os.Getenv("UPDATE_TOOLSNAPS") != "" {
			os.MkdirAll(filepath.Dir(path), 0o755)
			if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: no snapshot (run with UPDATE_TOOLSNAPS=1): %v", s.Name(), err)
			continue
		}
		if string(want) != string(got)+"\n" {
			t.Errorf("%s: definition changed; review and run with UPDATE_TOOLSNAPS=1\n got: %s", s.Name(), got)
		}
	}
	// A snapshot of a tool the registry no longer declares is stale.
	snaps, _ := filepath.Glob(filepath.Join("testdata", "toolsnaps", "*.json"))
	for _, f := range snaps {
		if name := filepath.Base(f[:len(f)-len(".json")]); !slices.Contains(tools.Names(all), name) {
			t.Errorf("%s: a snapshot of a tool the registry does not declare", f)
		}
	}
}

// snapshot is a tool's snapshot: its MCP definition as clients see it,
// and beside it its scope, risk, approval (as the README's table says it)
// and sandbox needs.
func snapshot(s *tools.Spec) any {
	b, _ := json.Marshal(s.Tool)
	var m map[string]any
	json.Unmarshal(b, &m)
	m["scope"] = s.Scope
	m["risk"] = s.Risk
	m["approval"] = approvalDoc(s)
	m["needs"] = needsSnapshot(s.Needs)
	return m
}

// needsSnapshot is what a tool needs from the sandbox, each list sorted
// and the empty ones left out.
func needsSnapshot(n sandbox.Needs) map[string]any {
	m := map[string]any{}
	for k, v := range map[string][]string{"read": n.Read, "write": n.Write, "sockets": n.Sockets, "exec": n.Exec,
		"syscalls": n.Syscalls, "netlink": n.Netlink, "capabilities": n.Capabilities} {
		if len(v) > 0 {
			m[k] = slices.Sorted(slices.Values(v))
		}
	}
	if len(n.TCPPorts) > 0 {
		m["tcpPorts"] = slices.Sorted(slices.Values(n.TCPPorts))
	}
	if n.AnyTCPPort {
		m["anyTCPPort"] = true
	}
	if n.DNS {
		m["dns"] = true
	}
	return m
}

// TestSandboxPolicyFromRegistry derives the policy from every tool: every
// declared syscall must be known and none always-denied, the declared
// paths (file roots included) and sockets must show up for their tools,
// and the whole registry asks for two netlink protocols (Go's
// net.Interfaces, for get_network_status; nftables, for the firewall
// tools) and two capabilities (CAP_DAC_READ_SEARCH, for the file tools;
// CAP_NET_ADMIN, for the firewall tools), and nothing more.
func TestSandboxPolicyFromRegistry(t *testing.T) {
	roots := t.TempDir()
	all := allTools(roots)
	p, err := sandbox.Compute(tools.Grants(all), sandbox.Config{StateDir: t.TempDir(), BindPorts: []uint16{8443}})
	if err != nil {
		t.Fatal(err)
	}
	var who []string
	for _, s := range all {
		who = append(who, "tool "+s.Name())
	}
	if !slices.Equal(p.Grantees, who) {
		t.Errorf("Grantees = %v, want %v", p.Grantees, who)
	}
	rule := func(path string) (sandbox.PathRule, bool) {
		for _, rules := range [][]sandbox.PathRule{p.Paths, p.Missing, p.Unreachable} {
			for _, r := range rules {
				if r.Path == path {
					return r, true
				}
			}
		}
		return sandbox.PathRule{}, false
	}
	for _, s := range all {
		for _, rp := range append(slices.Clone(s.Needs.Read), s.Needs.Sockets...) {
			if r, ok := rule(rp); !ok || !slices.Contains(r.Why, "tool "+s.Name()) {
				t.Errorf("tool %s: %s neither granted to it nor noted missing: %+v", s.Name(), rp, r)
			}
		}
		for _, c := range s.Needs.Syscalls {
			if !slices.ContainsFunc(p.Syscalls, func(r sandbox.SyscallRule) bool { return r.Name == c }) {
				t.Errorf("tool %s: syscall %s not allowed", s.Name(), c)
			}
		}
		readsRoots := slices.Contains(s.Needs.Read, roots)
		if got := slices.Contains(s.Needs.Capabilities, "CAP_DAC_READ_SEARCH"); got != readsRoots {
			t.Errorf("tool %s: CAP_DAC_READ_SEARCH declared %v, reads the file roots %v", s.Name(), got, readsRoots)
		}
	}
	if r, ok := rule(roots); !ok || len(r.Why) != 6 || !slices.Contains(r.Why, "tool scan_secrets") {
		t.Errorf("the file roots are granted to %+v, want the five file tools and scan_secrets", r)
	}
	firewallTools := []string{"tool get_firewall_rules", "tool add_firewall_rule", "tool delete_firewall_rule"}
	if len(p.Netlink) != 2 || p.Netlink[0].Name != "NETLINK_ROUTE" || !slices.Equal(p.Netlink[0].Why, []string{"tool get_network_status"}) ||
		p.Netlink[1].Name != "NETLINK_NETFILTER" || !slices.Equal(p.Netlink[1].Why, firewallTools) {
		t.Errorf("netlink = %+v, want NETLINK_ROUTE for get_network_status and NETLINK_NETFILTER for the firewall tools only", p.Netlink)
	}
	if len(p.Capabilities) != 2 || p.Capabilities[0].Name != "CAP_DAC_READ_SEARCH" ||
		p.Capabilities[1].Name != "CAP_NET_ADMIN" || !slices.Equal(p.Capabilities[1].Why, firewallTools) {
		t.Errorf("capabilities kept = %+v, want CAP_DAC_READ_SEARCH and CAP_NET_ADMIN for the firewall tools only", p.Capabilities)
	}
}

// TestInventoryPartsNameDeclaredTools: every get_inventory part that
// repeats a listing names a tool the registry declares (a renamed tool
// would leave the part unavailable to every caller).
func TestInventoryPartsNameDeclaredTools(t *testing.T) {
	sets := docToolsets()
	declared := map[string]bool{}
	for _, ts := range sets {
		for _, s := range ts.Tools() {
			declared[s.Name()] = true
		}
	}
	parts := tools.InventoryParts(sets)
	named := 0
	for _, p := range parts {
		if p.Tool == "" {
			continue
		}
		named++
		if !declared[p.Tool] {
			t.Errorf("inventory part %s repeats %s, which no toolset declares", p.Name, p.Tool)
		}
	}
	if named < 5 {
		t.Errorf("%d parts name the tool they repeat, want at least 5 (of %d)", named, len(parts))
	}
}
