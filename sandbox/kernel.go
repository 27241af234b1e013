// SPDX-License-Identifier: Apache-2.0

package sandbox

import (
	"fmt"
	"strings"
)

// minEnforceABI is the oldest Landlock ABI enforce mode accepts: ABI 4
// (Linux 6.7) is the first to restrict TCP bind and connect.
const minEnforceABI = 4

// newestKnownABI is the newest Landlock ABI go-landlock v0.11 knows.
const newestKnownABI = 11

// enforceError says what enforce mode is missing on this kernel and how
// to go on, or returns nil.
func enforceError(abi int, seccompOK bool, seccompWhy string) error {
	var missing []string
	switch {
	case abi == 0:
		missing = append(missing, "kernel has no Landlock (build with CONFIG_SECURITY_LANDLOCK and boot with lsm=…,landlock)")
	case abi < minEnforceABI:
		missing = append(missing, fmt.Sprintf("kernel's Landlock ABI %d cannot restrict TCP bind and connect (needs ABI %d, Linux 6.7)", abi, minEnforceABI))
	}
	if !seccompOK {
		missing = append(missing, seccompWhy)
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("%s — run with --sandbox best-effort to start without it", strings.Join(missing, "; "))
}

// kernelGaps lists what the policy asks for that a kernel with this
// Landlock ABI and seccomp support cannot enforce.
func kernelGaps(abi int, seccompOK bool, p *Policy) []string {
	var gaps []string
	if abi == 0 {
		gaps = append(gaps, "Landlock: none — no file, TCP, unix socket or signal restrictions")
	} else {
		if abi < 3 {
			gaps = append(gaps, fmt.Sprintf("file truncation is not restricted (needs Landlock ABI 3, kernel has %d)", abi))
		}
		if abi < 4 {
			gaps = append(gaps, fmt.Sprintf("TCP bind and connect are not restricted (needs Landlock ABI 4, kernel has %d)", abi))
		}
		if abi < 5 {
			gaps = append(gaps, fmt.Sprintf("ioctl on device files is not restricted by Landlock (needs ABI 5, kernel has %d); seccomp still allows only a few requests", abi))
		}
		if abi < 6 {
			gaps = append(gaps, fmt.Sprintf("abstract unix sockets and signals to processes outside the sandbox are not restricted (needs Landlock ABI 6, kernel has %d)", abi))
		}
		if abi < 9 {
			what := "any pathname unix socket can be connected to"
			if socks := socketPaths(p); len(socks) > 0 {
				what += ", not only the granted " + strings.Join(socks, ", ")
			}
			gaps = append(gaps, fmt.Sprintf("unix sockets are not restricted by Landlock (resolve_unix needs ABI 9, kernel has %d): %s", abi, what))
		}
		if abi < 10 && !p.UDPAny {
			gaps = append(gaps, fmt.Sprintf("UDP bind and send are not restricted (needs Landlock ABI 10, kernel has %d)", abi))
		}
		if abi > newestKnownABI {
			gaps = append(gaps, fmt.Sprintf("kernel's Landlock ABI %d is newer than go-landlock's newest (%d): rights added since are not used", abi, newestKnownABI))
		}
	}
	if !seccompOK {
		gaps = append(gaps, "seccomp: none — no syscall filter; exec, mount, ptrace and the like are refused only as far as Landlock refuses them, and MPTCP sockets (which Landlock does not cover) can bind any port; the server's own listeners use ListenConfig, which keeps them on plain TCP")
	}
	return gaps
}
