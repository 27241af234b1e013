// SPDX-License-Identifier: Apache-2.0

package sandbox

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// TestComputeNetlinkAndCapabilities: the netlink protocols seccomp lets
// through and the capabilities Apply keeps are exactly what the tools
// and the server declare, and explain shows them.
func TestComputeNetlinkAndCapabilities(t *testing.T) {
	netlinkAlts := func(p *Policy) [][]ArgCmp {
		s, _ := findSyscall(p, "socket")
		var out [][]ArgCmp
		for _, alt := range s.When {
			if slices.Contains(alt, ArgCmp{Arg: 0, Op: CmpEqual, Value: linuxAFNetlink}) {
				out = append(out, alt)
			}
		}
		return out
	}
	tests := []struct {
		name      string
		specs     []Grant
		cfg       Config
		netlink   []string
		alts      [][]ArgCmp
		caps      capSet
		explain   []string
		noExplain []string
	}{{
		name:    "nothing declared: no netlink at all, every capability dropped",
		specs:   []Grant{grant("health_check", Needs{})},
		explain: []string{"netlink:       none (seccomp refuses every netlink socket)", "keep           none: every capability is dropped", "this process:"},
	}, {
		name: "a tool's and the server's protocol: one rule, both reasons",
		specs: []Grant{grant("get_network_status", Needs{Netlink: []string{"NETLINK_ROUTE"}}),
			grant("health_check", Needs{})},
		cfg:     Config{Netlink: []Need{{Name: "NETLINK_ROUTE", Why: "tailnet (tsnet): the engine's interface monitor"}}},
		netlink: []string{"NETLINK_ROUTE"},
		alts:    [][]ArgCmp{{{Arg: 0, Op: CmpEqual, Value: linuxAFNetlink}, {Arg: 2, Op: CmpEqual, Value: 0}}},
		explain: []string{"netlink:       NETLINK_ROUTE (tool get_network_status; tailnet (tsnet): the engine's interface monitor) only",
			"netlink only NETLINK_ROUTE (0)", "or arg0 == 16 && arg2 == 0"},
		noExplain: []string{"NETLINK_SOCK_DIAG"},
	}, {
		name: "two protocols, and the capabilities tools and server declare",
		specs: []Grant{grant("files", Needs{Capabilities: []string{"CAP_DAC_READ_SEARCH"}}),
			grant("conns", Needs{Netlink: []string{"NETLINK_SOCK_DIAG", "NETLINK_ROUTE"}})},
		cfg:     Config{Capabilities: []Need{{Name: "CAP_NET_BIND_SERVICE", Why: "config: test"}}},
		netlink: []string{"NETLINK_ROUTE", "NETLINK_SOCK_DIAG"},
		alts: [][]ArgCmp{{{Arg: 0, Op: CmpEqual, Value: linuxAFNetlink}, {Arg: 2, Op: CmpEqual, Value: 0}},
			{{Arg: 0, Op: CmpEqual, Value: linuxAFNetlink}, {Arg: 2, Op: CmpEqual, Value: 4}}},
		caps:    1<<capDACReadSearch | 1<<10,
		explain: []string{"keep CAP_DAC_READ_SEARCH", "(if the process has it; tool files)", "keep CAP_NET_BIND_SERVICE", "(if the process has it; config: test)"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.StateDir = t.TempDir()
			p, err := Compute(tt.specs, tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, r := range p.Netlink {
				names = append(names, r.Name)
			}
			if !slices.Equal(names, tt.netlink) {
				t.Errorf("netlink = %v, want %v", names, tt.netlink)
			}
			if got := netlinkAlts(p); !slices.EqualFunc(got, tt.alts, slices.Equal) {
				t.Errorf("socket's netlink alternatives = %v, want %v", got, tt.alts)
			}
			if got := p.keptCaps(); got != tt.caps {
				t.Errorf("kept capabilities = %s, want %s", got, tt.caps)
			}
			var b bytes.Buffer
			if err := p.Explain(&b); err != nil {
				t.Fatal(err)
			}
			for _, want := range tt.explain {
				if !strings.Contains(b.String(), want) {
					t.Errorf("explain lacks %q:\n%s", want, b.String())
				}
			}
			for _, not := range tt.noExplain {
				if strings.Contains(b.String(), not) {
					t.Errorf("explain mentions %q:\n%s", not, b.String())
				}
			}
		})
	}
}

func TestComputeRefusesUnknownNames(t *testing.T) {
	for _, tc := range []struct {
		specs []Grant
		cfg   Config
		want  string
	}{
		{specs: []Grant{grant("typo", Needs{Netlink: []string{"NETLINK_RUOTE"}})}, want: `tool typo declares unknown netlink protocol "NETLINK_RUOTE"`},
		{specs: []Grant{grant("typo", Needs{Capabilities: []string{"CAP_DAC_READSEARCH"}})}, want: `tool typo declares unknown capability "CAP_DAC_READSEARCH"`},
		{cfg: Config{Netlink: []Need{{Name: "route", Why: "server"}}}, want: `server declares unknown netlink protocol "route"`},
		{cfg: Config{Capabilities: []Need{{Name: "dac_read_search", Why: "server"}}}, want: `server declares unknown capability "dac_read_search"`},
	} {
		if _, err := Compute(tc.specs, tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}
