// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// threadCaps returns every thread of pid's capability sets, one line per
// thread: "CapInh … CapPrm … CapEff … CapBnd … CapAmb …".
func threadCaps(t *testing.T, pid int) map[string]string {
	t.Helper()
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if len(tasks) < 2 {
		t.Fatalf("only %d threads found for pid %d", len(tasks), pid)
	}
	out := map[string]string{}
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread ended
		}
		var sets []string
		for _, k := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
			sets = append(sets, k+" "+statusField(string(b), k))
		}
		out[f] = strings.Join(sets, " ")
	}
	return out
}

// TestServeAsRootKeepsOnlyDeclaredCapabilities starts the real binary as
// root (with every capability, as the tests run) and checks every thread
// of the running server: with the file tools enabled it keeps only
// CAP_DAC_READ_SEARCH (bit 2) in its effective, permitted and bounding
// sets, and read_file can still read another user's 0600 file under a
// root; with tools that declare none it keeps nothing at all. Inheritable
// and ambient sets are empty either way, and sandbox explain says which
// capability is kept.
func TestServeAsRootKeepsOnlyDeclaredCapabilities(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root: the point is a server started as root")
	}
	root := t.TempDir()
	secret := filepath.Join(root, "postgres.log")
	if err := os.WriteFile(secret, []byte("another user's log line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(secret, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"file tools", []string{"--file-root", root, "--tools", "read_file,get_network_status"},
			"CapInh 0000000000000000 CapPrm 0000000000000004 CapEff 0000000000000004 CapBnd 0000000000000004 CapAmb 0000000000000000"},
		{"no capability declared", []string{"--tools", "health_check,get_network_status"},
			"CapInh 0000000000000000 CapPrm 0000000000000000 CapEff 0000000000000000 CapBnd 0000000000000000 CapAmb 0000000000000000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := runBinary(t, binPath, tc.args...)
			for f, got := range threadCaps(t, p.Cmd.Process.Pid) {
				if got != tc.want {
					t.Errorf("%s: %s\nwant %s", f, got, tc.want)
				}
			}
			cs := sdkSession(t, p.URL, p.token(t, "admin"))
			// NETLINK_ROUTE, declared by this tool, still opens.
			if text, isErr := callText(t, cs, "get_network_status", nil); isErr || !strings.Contains(text, `"lo"`) {
				t.Errorf("get_network_status under the sandbox: %s", text)
			}
			if strings.Contains(tc.name, "file") {
				if text, isErr := callText(t, cs, "read_file", map[string]any{"path": secret}); isErr || !strings.Contains(text, "another user's log line") {
					t.Errorf("read_file of another user's 0600 file as root with CAP_DAC_READ_SEARCH kept: %s", text)
				}
			}
			if !p.waitLog("sandbox applied") {
				t.Errorf("no sandbox report in the log:\n%s", p.Stderr)
			}
		})
	}
	out, stderr, code := tailops(t, nil, "sandbox", "explain", "--state-dir", t.TempDir(), "--file-root", root)
	if code != 0 || !regexp.MustCompile(`keep CAP_DAC_READ_SEARCH +\(if the process has it; tool list_directory`).MatchString(out) ||
		!regexp.MustCompile(`this process: +uid 0, effective`).MatchString(out) {
		t.Errorf("explain does not show the capability kept (exit %d, %s):\n%s", code, stderr, out)
	}
}
