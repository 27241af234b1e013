// SPDX-License-Identifier: Apache-2.0

package approval

import (
	"errors"
	"fmt"
	"net"
	"syscall"
)

// peerUID returns the uid of the process at the other end of c, a unix
// socket connection, from SO_PEERCRED (the peer's credentials when it
// connected).
func peerUID(c net.Conn) (int, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return -1, errors.New("reading peer credentials: not a unix socket")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return -1, fmt.Errorf("reading peer credentials: %w", err)
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return -1, fmt.Errorf("reading peer credentials: %w", err)
	}
	if cerr != nil {
		return -1, fmt.Errorf("reading peer credentials: %w", cerr)
	}
	return int(cred.Uid), nil
}
