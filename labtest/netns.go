// SPDX-License-Identifier: Apache-2.0

package labtest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// NewNetNS makes a network namespace with its loopback up, deleted when
// the test ends, and returns its name (labtest-PID-N, swept as stale if
// the test binary is killed first).
func NewNetNS(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("labtest-%d-%d", os.Getpid(), nsSeq.Add(1))
	if err := addNetNS(&name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "delete", name).Run() })
	return name
}

// IP runs ip(8) with args, failing the test with its output.
func IP(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// NetNSDialer returns a DialContext that opens its sockets inside the
// named network namespace (/run/netns/NAME, as `ip netns add` creates
// it) and leaves the rest of the process where it is. Only the socket is
// created there: once it exists it belongs to that namespace whatever
// thread later uses it, so the calling thread switches in for the
// socket(2) and connect(2) and straight back.
func NetNSDialer(name string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	path := filepath.Join("/run/netns", name)
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return dialInNetNS(ctx, path, network, addr)
	}
}

// dialInNetNS dials addr from inside the network namespace at path.
func dialInNetNS(ctx context.Context, path, network, addr string) (net.Conn, error) {
	var conn net.Conn
	err := inNetNS(path, func() error {
		// The dialer never resolves names here (addresses only), so no
		// resolver goroutine runs on another thread in the wrong
		// namespace; a name would fail rather than be looked up outside.
		host, _, err := net.SplitHostPort(addr)
		if err == nil && net.ParseIP(host) == nil {
			return fmt.Errorf("dialing %s in %s: only IP addresses, not names", addr, path)
		}
		d := net.Dialer{Timeout: 10 * time.Second}
		conn, err = d.DialContext(ctx, network, addr)
		return err
	})
	if err != nil && conn != nil {
		conn.Close()
		conn = nil
	}
	return conn, err
}

// InNetNS runs f on a thread inside the named network namespace
// (/run/netns/NAME): the sockets f opens belong to that namespace, and
// it lists that namespace's interfaces. f must not start goroutines
// that open sockets, nor resolve names.
func InNetNS(name string, f func() error) error {
	return inNetNS(filepath.Join("/run/netns", name), f)
}

// inNetNS runs f inside the network namespace at path.
func inNetNS(path string, f func() error) error {
	// The thread is switched into the namespace and back; until it is back
	// no other goroutine may run on it, and if it cannot get back it must
	// never run another goroutine again (see the unlock below).
	runtime.LockOSThread()
	back, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("opening this thread's network namespace: %w", err)
	}
	defer unix.Close(back)
	target, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("opening network namespace %s: %w", path, err)
	}
	defer unix.Close(target)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("entering network namespace %s: %w", path, err)
	}
	err = f()
	if serr := unix.Setns(back, unix.CLONE_NEWNET); serr != nil {
		// Leave the thread locked to this goroutine: the runtime ends a
		// thread whose goroutine exits while locked, so no other
		// goroutine ever runs in the wrong namespace.
		return fmt.Errorf("returning from network namespace %s: %w (and %v)", path, serr, err)
	}
	runtime.UnlockOSThread()
	return err
}

// HTTPTransport returns an HTTP transport whose connections are made in
// the daemon's network namespace: it reaches servers that listen on that
// namespace's loopback, such as a container run with --network host.
func (d *Dockerd) HTTPTransport() *http.Transport {
	return &http.Transport{
		DialContext:         NetNSDialer(d.NetNS),
		Proxy:               nil, // never a proxy from the environment
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
	}
}
