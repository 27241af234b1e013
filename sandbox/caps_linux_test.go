// SPDX-License-Identifier: Apache-2.0

package sandbox

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
	"kernel.org/pub/linux/libs/security/libcap/psx"
)

// setAllThreads sets every thread's effective, permitted and
// inheritable sets (for the tests' starting points).
func setAllThreads(t *testing.T, eff, prm, inh capSet) {
	t.Helper()
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	for i, shift := range []uint{0, 32} {
		data[i].Effective, data[i].Permitted, data[i].Inheritable = uint32(eff>>shift), uint32(prm>>shift), uint32(inh>>shift)
	}
	if _, _, e := psx.Syscall3(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		t.Fatalf("capset: %v", e)
	}
}

// TestApplyDropsCapabilities starts as root with a capability in the
// inheritable and ambient sets too, on every thread, and applies a policy
// that keeps CAP_DAC_READ_SEARCH: afterwards every thread (one locked
// before, one created after) shows exactly that capability in its
// effective, permitted and bounding sets and nothing inheritable or
// ambient, and reading another user's 0600 file still works there.
// Without CAP_SETPCAP in effect the bounding set cannot shrink: Apply
// says so in a note and still drops the rest.
func TestApplyDropsCapabilities(t *testing.T) {
	for _, tc := range []struct {
		name      string
		noSetPCAP bool
	}{{name: "root"}, {name: "without CAP_SETPCAP in effect", noSetPCAP: true}} {
		t.Run(tc.name, func(t *testing.T) {
			if !inChild(t) {
				runInChild(t, "SANDBOX_TEST_DIR="+t.TempDir())
				return
			}
			if os.Geteuid() != 0 {
				t.Fatal("needs root")
			}
			state, _, _ := stateDirs(t, os.Getenv("SANDBOX_TEST_DIR"))
			others := filepath.Join(state, "others")
			if err := os.WriteFile(others, []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(others, othersUID, othersUID); err != nil {
				t.Fatal(err)
			}
			cur, err := ownCapState()
			if err != nil {
				t.Fatal(err)
			}
			const bind = 1 << 10 // CAP_NET_BIND_SERVICE
			eff := cur.Eff
			if tc.noSetPCAP {
				eff &^= 1 << capSetPCAP
			}
			setAllThreads(t, eff, cur.Prm, bind)
			if _, _, e := psx.Syscall6(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, 10, 0, 0, 0); e != 0 {
				t.Fatalf("raising an ambient capability: %v", e)
			}
			pre := startWorker("pre-locked")
			defer pre.stop()
			before, _ := readThreads()
			for _, th := range before {
				if th.Caps.Amb != bind || th.Caps.Inh != bind {
					t.Fatalf("thread %d before Apply: %s; want CAP_NET_BIND_SERVICE inheritable and ambient", th.TID, th.Caps)
				}
			}

			specs := []Grant{grant("files", Needs{Capabilities: []string{"CAP_DAC_READ_SEARCH"}})}
			_, rep := applyForTest(t, specs, Config{StateDir: state})
			want := capState{Prm: 1 << capDACReadSearch, Eff: 1 << capDACReadSearch, Bnd: 1 << capDACReadSearch}
			if tc.noSetPCAP {
				want.Bnd = cur.Bnd
				if len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], "bounding set left as it is") {
					t.Errorf("notes %q, want one saying the bounding set was left", rep.Notes)
				}
			}
			if rep.Capabilities != "CAP_DAC_READ_SEARCH" {
				t.Errorf("report's capabilities %q", rep.Capabilities)
			}
			fresh := startWorker("fresh-locked")
			defer fresh.stop()
			ts, err := readThreads()
			if err != nil {
				t.Fatal(err)
			}
			for _, th := range ts {
				if th.Caps != want {
					t.Errorf("thread %d: %s, want %s", th.TID, th.Caps, want)
				}
			}
			t.Logf("%d threads, each %s", len(ts), want)
			for _, w := range []*worker{pre, fresh} {
				w.run(func() {
					if _, err := os.ReadFile(others); err != nil {
						t.Errorf("%s: reading another user's file with CAP_DAC_READ_SEARCH kept: %v", w.label(), err)
					}
					if c, err := ownCapState(); err != nil || c != want {
						t.Errorf("%s: capget says %s (%v), want %s", w.label(), c, err, want)
					}
				})
			}
		})
	}
}

// TestApplyWithoutCapabilities: a process that has none (an unprivileged
// user, or a container with --cap-drop ALL) applies the sandbox, and the
// report and the threads say none.
func TestApplyWithoutCapabilities(t *testing.T) {
	if !inChild(t) {
		runInChild(t, "SANDBOX_TEST_DIR="+t.TempDir())
		return
	}
	state, _, _ := stateDirs(t, os.Getenv("SANDBOX_TEST_DIR"))
	// Drop everything, the bounding set included, first.
	for i := range 64 {
		if _, _, e := psx.Syscall3(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(i), 0); e != 0 && e != syscall.EINVAL {
			t.Fatalf("dropping %d from the bounding set: %v", i, e)
		}
	}
	setAllThreads(t, 0, 0, 0)
	_, rep := applyForTest(t, []Grant{grant("files", Needs{Capabilities: []string{"CAP_DAC_READ_SEARCH"}})}, Config{StateDir: state})
	if rep.Capabilities != "none" || len(rep.Notes) != 0 {
		t.Errorf("report: capabilities %q, notes %q; want none and no note", rep.Capabilities, rep.Notes)
	}
	ts, _ := readThreads()
	for _, th := range ts {
		if th.Caps != (capState{}) {
			t.Errorf("thread %d: %s", th.TID, th.Caps)
		}
	}
}
