// SPDX-License-Identifier: Apache-2.0

package sandbox

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestCheck runs Check as root on two policies: one that keeps no
// capability and allows no netlink protocol, and one whose tools declare
// NETLINK_ROUTE and CAP_DAC_READ_SEARCH: each declared one works, every
// other netlink protocol is refused, and every thread keeps exactly the
// declared capability (reading another user's 0600 file then works, and
// fails without it).
func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name  string
		needs Needs
		want  []string
	}{
		{name: "nothing declared", want: []string{
			"socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)  refused  refused",
			"CapInh 0 CapPrm 0 CapEff 0 CapBnd 0 CapAmb 0  CapInh 0 CapPrm 0 CapEff 0 CapBnd 0 CapAmb 0",
			"needs CAP_DAC_READ_SEARCH)  refused  refused",
		}},
		{name: "netlink and a capability declared",
			needs: Needs{Netlink: []string{"NETLINK_ROUTE"}, Capabilities: []string{"CAP_DAC_READ_SEARCH"}},
			want: []string{
				"socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)  allowed  allowed",
				"CapInh 0 CapPrm 4 CapEff 4 CapBnd 4 CapAmb 0  CapInh 0 CapPrm 4 CapEff 4 CapBnd 4 CapAmb 0",
				"needs CAP_DAC_READ_SEARCH)  allowed  allowed",
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !inChild(t) {
				out := runInChild(t, "SANDBOX_TEST_DIR="+t.TempDir())
				want := append([]string{
					"sandbox check passed",
					"read /etc/shadow", "exec /bin/sh", "ptrace(PTRACE_PEEKUSER)", "mount tmpfs", "unshare(CLONE_NEWUTS)",
					"(net.Listen, MPTCP default)", "(ListenConfig, plain TCP)", "(raw MPTCP socket)", "(not an allowed port)",
					"pre-locked tid", "fresh-locked tid", "thread status",
					"(a process outside the sandbox)  refused  refused  EPERM",
				}, tc.want...)
				for _, undeclared := range []string{"NETLINK_AUDIT", "NETLINK_KOBJECT_UEVENT", "NETLINK_NETFILTER", "NETLINK_SOCK_DIAG"} {
					want = append(want, "socket(AF_NETLINK, SOCK_RAW, "+undeclared+")  refused  refused  EPERM")
				}
				for _, w := range want {
					if !strings.Contains(squeeze(out), w) {
						t.Errorf("check output lacks %q", w)
					}
				}
				return
			}
			if os.Geteuid() != 0 {
				t.Fatal("the capability rows need root")
			}
			state, _, _ := stateDirs(t, os.Getenv("SANDBOX_TEST_DIR"))
			port := freePort(t)
			specs := []Grant{grant("system_info", Needs{Read: []string{"/proc"}}), grant("declared", tc.needs)}
			p, err := Compute(specs, Config{StateDir: state, BindPorts: []uint16{port}, ConnectPorts: []uint16{port}})
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			ok, err := Check(t.Context(), p, &out)
			t.Logf("check output:\n%s", out.String())
			if err != nil || !ok {
				t.Fatalf("Check = %v, %v; want ok", ok, err)
			}
			if strings.Contains(out.String(), "FAIL") {
				t.Errorf("a row failed although Check returned ok")
			}
		})
	}
}

// squeeze collapses runs of spaces, so that table rows can be matched
// whatever the column widths.
func squeeze(s string) string {
	return regexp.MustCompile(` {2,}`).ReplaceAllString(s, "  ")
}

// TestCheckDetectsFailure runs Check on a policy in off mode: nothing is
// applied, so the attacks succeed, and Check must say so.
func TestCheckDetectsFailure(t *testing.T) {
	if !inChild(t) {
		runInChild(t, "SANDBOX_TEST_DIR="+t.TempDir())
		return
	}
	state, _, _ := stateDirs(t, os.Getenv("SANDBOX_TEST_DIR"))
	p, err := Compute(nil, Config{Mode: ModeOff, StateDir: state, BindPorts: []uint16{freePort(t)}})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	ok, err := Check(t.Context(), p, &out)
	t.Logf("check output:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	if ok {
		t.Fatal("Check passed with the sandbox off")
	}
	for _, want := range []string{"sandbox check FAILED", "FAIL"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("check output lacks %q", want)
		}
	}
}
