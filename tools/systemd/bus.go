// SPDX-License-Identifier: Apache-2.0

package systemd

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	sd "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"

	"github.com/tailops/tailops/internal/sysbus"
)

// DefaultBusAddress is the system bus, where systemd answers.
const DefaultBusAddress = sysbus.DefaultAddress

// bus holds the connections to the system bus, made on first use (after
// the sandbox is on) and made again after the bus went away.
type bus struct {
	addr string

	mu   sync.Mutex
	conn *sd.Conn   // go-systemd's typed API, jobs
	raw  *dbus.Conn // pipelined property reads
	self string     // TailOps's own unit, "" when it has none
}

// dial opens one authenticated connection to the bus, as the process's
// uid (EXTERNAL, no user name lookup). It outlives the call that made it:
// no call's context is tied to it.
func (b *bus) dial() (*dbus.Conn, error) { return sysbus.Dial(b.addr) }

// get returns the connections, connecting when there are none or the
// old ones are closed.
func (b *bus) get(ctx context.Context) (*sd.Conn, *dbus.Conn, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conn != nil && b.conn.Connected() && b.raw.Connected() {
		return b.conn, b.raw, nil
	}
	b.closeLocked()
	conn, err := sd.NewConnection(b.dial)
	if err != nil {
		return nil, nil, b.unreachable(err)
	}
	raw, err := b.dial()
	if err != nil {
		conn.Close()
		return nil, nil, b.unreachable(err)
	}
	// Not the call's own context: its cancellation must not leave the
	// guard unset; and an error is no answer, so nothing is cached.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	self, err := selfUnit(sctx, conn, raw)
	if err != nil {
		conn.Close()
		raw.Close()
		return nil, nil, fmt.Errorf("finding the unit TailOps runs in, which its tools never change: %w", err)
	}
	b.conn, b.raw, b.self = conn, raw, self
	return b.conn, b.raw, nil
}

// selfUnit returns the unit TailOps runs in, which its tools never change:
// the unit of the PID the bus sees for this connection (the bus
// translates it across PID namespaces; os.Getpid in a container would name
// another process of the host), nothing a caller sets. "" outside any
// unit, or when the bus cannot see this process (then it cannot be one of
// that systemd's units either). GetUnitByPID is never asked about PID 0:
// systemd 252's PID 1 dies answering that for a caller whose PID the bus
// cannot see (found by the test bed).
func selfUnit(ctx context.Context, conn *sd.Conn, raw *dbus.Conn) (string, error) {
	names := raw.Names()
	if len(names) == 0 {
		return "", errors.New("the bus gave this connection no name")
	}
	var pid uint32
	if err := raw.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.GetConnectionUnixProcessID", 0, names[0]).Store(&pid); err != nil {
		return "", fmt.Errorf("asking the bus for this process's PID: %w", err)
	}
	if pid == 0 {
		return "", nil
	}
	name, err := conn.GetUnitNameByPID(ctx, pid)
	var de dbus.Error
	switch {
	case errors.As(err, &de) && de.Name == "org.freedesktop.systemd1.NoUnitForPID":
		return "", nil
	case err != nil:
		return "", fmt.Errorf("asking systemd for the unit of PID %d: %w", pid, err)
	}
	return name, nil
}

// selfUnit returns TailOps's own unit, as found on connecting.
func (b *bus) selfUnit() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.self
}

func (b *bus) closeLocked() {
	if b.conn != nil {
		b.conn.Close()
	}
	if b.raw != nil {
		b.raw.Close()
	}
	b.conn, b.raw = nil, nil
}

// close closes the connections.
func (b *bus) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closeLocked()
}

// ErrBusUnreachable is the cause of every tool error that comes from not
// reaching the system bus.
var ErrBusUnreachable = sysbus.ErrUnreachable

// unreachable describes a failure to connect to the bus.
func (b *bus) unreachable(err error) error { return sysbus.Unreachable(b.addr, err) }
