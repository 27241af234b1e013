// SPDX-License-Identifier: Apache-2.0

package firewall

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/nftables"

	"github.com/tailops/tailops/tools"
)

// FuzzCompile feeds add_firewall_rule's arguments, as a client would send
// them, to the validator and compiler: every input is either refused
// (an argument error or a refusal) or compiled into expressions that
// render completely, and a drop or reject rule always skips the tailnet
// interface and never names a protected port.
func FuzzCompile(f *testing.F) {
	// The seeds are in testdata/fuzz/FuzzCompile.
	p := Protections{Interfaces: []string{"tailscale0"}, TCPPorts: []uint16{8443}, UDPPorts: []uint16{41641}}
	f.Fuzz(func(t *testing.T, doc string) {
		var in AddRuleArgs
		if json.Unmarshal([]byte(doc), &in) != nil {
			return
		}
		chain, exprs, err := Compile(p, in)
		if err != nil {
			var ae *tools.ArgError
			var re *RefusedError
			if !errors.As(err, &ae) && !errors.As(err, &re) {
				t.Fatalf("error of another kind: %T %v", err, err)
			}
			return
		}
		if chain != "input" && chain != "forward" && chain != "output" {
			t.Fatalf("compiled into chain %q", chain)
		}
		text, other, counter := renderRule(nftables.TableFamilyINet, exprs)
		if len(other) > 0 || counter == nil {
			t.Fatalf("a compiled rule does not render: %s %+v", text, other)
		}
		if in.Verdict != "accept" {
			if !strings.Contains(text, `!= "tailscale0"`) {
				t.Fatalf("a %s rule does not skip the tailnet interface: %s", in.Verdict, text)
			}
			for _, port := range []string{"dport 8443", "dport 41641", "sport 8443", "sport 41641"} {
				if strings.Contains(text, port+" ") {
					t.Fatalf("a %s rule names protected %s: %s", in.Verdict, port, text)
				}
			}
		}
	})
}
