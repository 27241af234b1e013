// SPDX-License-Identifier: Apache-2.0

package sandbox

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/tailops/tailops/tools"
)

func TestCheck(t *testing.T) {
	if !inChild(t) {
		out := runInChild(t, "SANDBOX_TEST_DIR="+t.TempDir())
		for _, want := range []string{
			"sandbox check passed",
			"read /etc/shadow", "exec /bin/sh", "ptrace(PTRACE_PEEKUSER)", "mount tmpfs", "unshare(CLONE_NEWUTS)",
			"(net.Listen, MPTCP default)", "(ListenConfig, plain TCP)", "(raw MPTCP socket)", "(not an allowed port)",
			"pre-locked tid", "fresh-locked tid", "thread status",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("check output lacks %q", want)
			}
		}
		return
	}
	state, _, _ := stateDirs(t, os.Getenv("SANDBOX_TEST_DIR"))
	port := freePort(t)
	specs := []tools.Spec{spec("system_info", tools.Needs{ReadPaths: []string{"/proc"}})}
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
