// SPDX-License-Identifier: Apache-2.0

package sandbox

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestNoNewTCPListeners: after NoNewTCPListeners no thread can listen on
// another TCP port — not with Go's default (Multipath TCP first), not
// over plain TCP, not with a raw MPTCP socket, not on an ephemeral port —
// as the tsnet engine's peer API would on 0.0.0.0; a listener opened
// before keeps serving, and outbound TCP, UDP and netlink still work (the
// engine needs them). Apply still stacks on top. In off mode nothing
// changes.
func TestNoNewTCPListeners(t *testing.T) {
	for _, mode := range []Mode{ModeEnforce, ModeOff} {
		t.Run(string(mode), func(t *testing.T) {
			if !inChild(t) {
				runInChild(t, "SANDBOX_TEST_DIR="+t.TempDir())
				return
			}
			before, err := ListenConfig().Listen(t.Context(), "tcp4", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer before.Close()
			acceptAndClose(before)
			other := strconv.Itoa(int(freePort(t)))
			pre := startWorker("pre-locked")
			defer pre.stop()

			missing, err := NoNewTCPListeners(mode)
			if err != nil {
				t.Fatal(err)
			}
			if mode == ModeOff {
				if len(missing) == 0 {
					t.Error("off mode reports nothing left out")
				}
				ln, err := net.Listen("tcp4", "0.0.0.0:0")
				if err != nil {
					t.Fatalf("off mode: listening: %v", err)
				}
				ln.Close()
				return
			}
			if len(missing) > 0 {
				t.Fatalf("enforce mode left out %q", missing)
			}
			fresh := startWorker("fresh-locked")
			defer fresh.stop()
			for _, w := range []*worker{pre, fresh} {
				w.run(func() {
					for _, addr := range []string{"0.0.0.0:" + other, "127.0.0.1:0"} {
						ln, err := net.Listen("tcp4", addr) // MPTCP first, then TCP
						closeListener(ln)
						wantErrno(t, w.label()+": net.Listen "+addr, err, syscall.EACCES)
						ln, err = ListenConfig().Listen(t.Context(), "tcp", addr)
						closeListener(ln)
						wantErrno(t, w.label()+": plain TCP listen "+addr, err, syscall.EACCES)
					}
					port, _ := strconv.Atoi(other)
					wantErrno(t, w.label()+": raw MPTCP socket", bindRaw(unix.IPPROTO_MPTCP, port), syscall.EPERM)
					// SCTP and SMC, which Landlock's TCP rules do not cover
					// either, are refused before the kernel is asked.
					for _, proto := range []int{unix.IPPROTO_SCTP, 256} {
						fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, proto)
						if err == nil {
							unix.Close(fd)
						}
						wantErrno(t, fmt.Sprintf("%s: stream socket of protocol %d", w.label(), proto), err, syscall.EPERM)
					}
					if err := dial(t.Context(), before.Addr().String()); err != nil {
						t.Errorf("%s: connecting to the listener opened before: %v", w.label(), err)
					}
					u, err := net.ListenPacket("udp4", "127.0.0.1:0")
					if err != nil {
						t.Errorf("%s: UDP: %v", w.label(), err)
					} else {
						u.Close()
					}
					fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
					if err != nil {
						t.Errorf("%s: netlink: %v", w.label(), err)
					} else {
						unix.Close(fd)
					}
				})
			}
			state, _, _ := stateDirs(t, os.Getenv("SANDBOX_TEST_DIR"))
			applyForTest(t, nil, Config{StateDir: state})
			assertThreadsConfined(t)
		})
	}
}
