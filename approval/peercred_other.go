// SPDX-License-Identifier: Apache-2.0

//go:build !linux

package approval

import (
	"errors"
	"net"
)

// peerUID refuses every peer: SO_PEERCRED is Linux-only.
func peerUID(net.Conn) (int, error) {
	return -1, errors.New("reading peer credentials: not supported on this system")
}
