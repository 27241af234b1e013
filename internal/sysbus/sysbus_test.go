// SPDX-License-Identifier: Apache-2.0

package sysbus

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestSocketPath: only unix:path= with an absolute path and nothing after
// it is a socket the sandbox can grant.
func TestSocketPath(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ addr, want string }{
		{DefaultAddress, "/run/dbus/system_bus_socket"},
		{"unix:path=/host/run/dbus/system_bus_socket", "/host/run/dbus/system_bus_socket"},
		{"unix:path=relative", ""},
		{"unix:path=", ""},
		{"unix:path=/a,guid=1", ""},
		{"unix:path=/a;unix:path=/b", ""},
		{"unix:abstract=/a", ""},
		{"tcp:host=127.0.0.1,port=1", ""},
		{"", ""},
	} {
		got, err := SocketPath(c.addr)
		if got != c.want || (err == nil) != (c.want != "") {
			t.Errorf("SocketPath(%q) = %q, %v; want %q", c.addr, got, err, c.want)
		}
	}
}

// TestUnreachable: a socket that does not exist is an ErrUnreachable
// naming the address and what to mount.
func TestUnreachable(t *testing.T) {
	t.Parallel()
	addr := "unix:path=" + filepath.Join(t.TempDir(), "none")
	_, err := Dial(addr)
	if err == nil {
		t.Fatal("dialled a socket that does not exist")
	}
	err = Unreachable(addr, err)
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "mount the host's") {
		t.Errorf("Unreachable: %v", err)
	}
}

// FuzzSocketPath: whatever DBUS_SYSTEM_BUS_ADDRESS holds, a path returned
// is absolute and the address is exactly unix:path= and that path.
func FuzzSocketPath(f *testing.F) {
	for _, s := range []string{DefaultAddress, "unix:path=/a,b", "unix:path=", "tcp:host=x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		p, err := SocketPath(addr)
		if err != nil {
			return
		}
		if !filepath.IsAbs(p) || addr != "unix:path="+p || strings.ContainsAny(p, ",;") {
			t.Fatalf("SocketPath(%q) = %q", addr, p)
		}
	})
}
