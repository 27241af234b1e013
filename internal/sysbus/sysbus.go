// SPDX-License-Identifier: Apache-2.0

// Package sysbus is what the toolsets that talk D-Bus on the system bus
// (systemd, PackageKit) share: the bus address's socket, an authenticated
// connection, and errors a person can act on.
package sysbus

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/godbus/dbus/v5"
)

// DefaultAddress is the system bus at its usual socket.
const DefaultAddress = "unix:path=/run/dbus/system_bus_socket"

// SocketPath returns the unix socket path of a D-Bus address of the form
// unix:path=PATH (the only form the sandbox can grant).
func SocketPath(addr string) (string, error) {
	rest, ok := strings.CutPrefix(addr, "unix:path=")
	if !ok || rest == "" || strings.ContainsAny(rest, ",;") || !strings.HasPrefix(rest, "/") {
		return "", fmt.Errorf("DBUS_SYSTEM_BUS_ADDRESS: want unix:path=/absolute/path/to/socket")
	}
	return rest, nil
}

// Dial opens one authenticated connection to the bus at addr, as the
// process's uid (EXTERNAL, no user name lookup). Its errors are the bus
// library's (Unreachable describes them).
func Dial(addr string) (*dbus.Conn, error) {
	c, err := dbus.Dial(addr)
	if err != nil {
		return nil, err
	}
	if err := c.Auth([]dbus.Auth{dbus.AuthExternal(strconv.Itoa(os.Getuid()))}); err != nil {
		c.Close()
		return nil, err
	}
	if err := c.Hello(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// ErrUnreachable is the cause of every error Unreachable returns.
var ErrUnreachable = errors.New("the system bus is not reachable")

// Unreachable describes a failure to connect to the bus at addr, with
// what to check.
func Unreachable(addr string, err error) error {
	hint := "is dbus running?"
	switch {
	case errors.Is(err, syscall.ENOENT):
		hint = "the socket does not exist; in a container, mount the host's /run/dbus/system_bus_socket"
	case errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM):
		hint = "permission denied on the socket"
	case errors.Is(err, io.EOF):
		hint = "the bus closed the connection (it refused to authenticate this uid)"
	}
	return fmt.Errorf("%w at %s: %s (%v)", ErrUnreachable, addr, hint, err)
}

// ErrorStrings returns the strings of a D-Bus error's body: its message.
func ErrorStrings(body []any) []string {
	var out []string
	for _, b := range body {
		if s, ok := b.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
