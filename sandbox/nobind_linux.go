// SPDX-License-Identifier: Apache-2.0

package sandbox

import (
	"fmt"
	"net"

	"github.com/landlock-lsm/go-landlock/landlock"
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
)

// NoNewTCPListeners makes every thread of the process unable to bind a
// TCP port from now on, irreversibly: a Landlock layer that handles TCP
// bind and grants it nowhere, and a seccomp filter that refuses Multipath
// TCP sockets, which Landlock does not cover. Listeners already open keep
// working, and Apply stacks on top.
//
// The server calls it in tsnet mode once its own listeners are open and
// before the Tailscale engine starts: the build has no peer API server
// (which would listen on 0.0.0.0), and any other host listener a later
// engine might open fails instead of appearing on the host.
//
// In off mode it does nothing. In enforce mode it fails, changing
// nothing, when the kernel lacks Landlock ABI 4 or seccomp; in
// best-effort mode it applies what it can and returns what it left out.
func NoNewTCPListeners(mode Mode) (missing []string, err error) {
	if mode == ModeOff {
		return []string{"everything: sandbox is off"}, nil
	}
	abi := kernelLandlockABI()
	scOK, scWhy := seccompSupport()
	if mode != ModeBestEffort {
		if err := enforceError(abi, scOK, scWhy); err != nil {
			return nil, fmt.Errorf("refusing new TCP listeners: %w", err)
		}
	}
	// The first wildcard listen probes the IP stack by binding TCP
	// sockets (net/ipsock_posix.go); probe it while that still works.
	if c, err := net.ListenPacket("udp", ":0"); err == nil {
		c.Close()
	}
	if abi >= 4 {
		cfg, err := landlock.NewConfig(landlock.AccessNetSet(ll.AccessNetBindTCP))
		if err == nil {
			err = cfg.Restrict()
		}
		if err != nil && mode != ModeBestEffort {
			return nil, fmt.Errorf("refusing new TCP listeners: Landlock: %w", err)
		}
		if err != nil {
			missing = append(missing, "Landlock: "+err.Error())
		}
	} else {
		missing = append(missing, fmt.Sprintf("Landlock: TCP bind needs ABI 4, kernel has %d", abi))
	}
	if !scOK {
		return append(missing, "seccomp: "+scWhy), nil
	}
	if err := loadMPTCPFilter(); err != nil {
		if mode != ModeBestEffort {
			return nil, fmt.Errorf("refusing new TCP listeners: %w", err)
		}
		missing = append(missing, "seccomp: "+err.Error())
	}
	return missing, nil
}
