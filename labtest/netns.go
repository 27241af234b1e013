// SPDX-License-Identifier: Apache-2.0

package labtest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

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
	// The thread is switched into the namespace and back; until it is back
	// no other goroutine may run on it, and if it cannot get back it must
	// never run another goroutine again (see the unlock below).
	runtime.LockOSThread()
	back, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("opening this thread's network namespace: %w", err)
	}
	defer unix.Close(back)
	target, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("opening network namespace %s: %w", path, err)
	}
	defer unix.Close(target)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("entering network namespace %s: %w", path, err)
	}
	// The dialer never resolves names here (addresses only), so no
	// resolver goroutine runs on another thread in the wrong namespace;
	// a name would fail rather than be looked up outside.
	host, _, err := net.SplitHostPort(addr)
	if err == nil && net.ParseIP(host) == nil {
		err = fmt.Errorf("dialing %s in %s: only IP addresses, not names", addr, path)
	}
	var conn net.Conn
	if err == nil {
		d := net.Dialer{Timeout: 10 * time.Second}
		conn, err = d.DialContext(ctx, network, addr)
	}
	if serr := unix.Setns(back, unix.CLONE_NEWNET); serr != nil {
		// Leave the thread locked to this goroutine: the runtime ends a
		// thread whose goroutine exits while locked, so no other
		// goroutine ever runs in the wrong namespace.
		if conn != nil {
			conn.Close()
		}
		return nil, fmt.Errorf("returning from network namespace %s: %w", path, serr)
	}
	runtime.UnlockOSThread()
	return conn, err
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
