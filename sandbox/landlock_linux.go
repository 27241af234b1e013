// SPDX-License-Identifier: Apache-2.0

package sandbox

import (
	"fmt"
	"os"
	"slices"

	"github.com/landlock-lsm/go-landlock/landlock"
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
)

// landlockPresets are go-landlock's configurations, index i for ABI i+1.
// Each handles every right its ABI knows, so anything not granted by a
// rule is refused.
var landlockPresets = []landlock.Config{
	landlock.V1, landlock.V2, landlock.V3, landlock.V4, landlock.V5, landlock.V6,
	landlock.V7, landlock.V8, landlock.V9, landlock.V10, landlock.V11,
}

// kernelLandlockABI returns the kernel's Landlock ABI as go-landlock uses it:
// 0 without Landlock, and 5 for ABI 6+ kernels without the fix for the
// signal scoping bug (erratum 2), as go-landlock does.
func kernelLandlockABI() int {
	v, err := ll.LandlockGetABIVersion()
	if err != nil || v < 1 {
		return 0
	}
	if v >= 6 {
		errata, err := ll.LandlockGetErrata()
		if err != nil || errata&0x2 == 0 {
			v = 5
		}
	}
	return v
}

// landlockConfig returns the preset for abi, capped at the newest one
// go-landlock knows.
func landlockConfig(abi int) landlock.Config {
	return landlockPresets[min(abi, len(landlockPresets))-1]
}

// Rights per Access, for directories and for other files. Landlock
// refuses directory-only rights on a file rule.
const (
	readDirRights   = ll.AccessFSReadFile | ll.AccessFSReadDir
	readFileRights  = ll.AccessFSReadFile
	writeDirRights  = ll.AccessFSWriteFile | ll.AccessFSTruncate | ll.AccessFSMakeReg | ll.AccessFSMakeDir | ll.AccessFSRemoveFile | ll.AccessFSRemoveDir | ll.AccessFSRefer
	writeFileRights = ll.AccessFSWriteFile | ll.AccessFSTruncate
	execRights      = ll.AccessFSExecute
	connectRights   = ll.AccessFSResolveUnix
)

func fsRights(a Access, dir bool) landlock.AccessFSSet {
	var r landlock.AccessFSSet
	if a&AccessRead != 0 {
		r |= readFileRights
		if dir {
			r |= readDirRights
		}
	}
	if a&AccessWrite != 0 {
		r |= writeFileRights
		if dir {
			r |= writeDirRights
		}
	}
	if a&AccessExec != 0 {
		r |= execRights
	}
	if a&AccessConnect != 0 {
		r |= connectRights
	}
	return r
}

// restrictLandlock restricts all threads of the process to p. Paths that
// were missing at Compute but exist now (a state directory created in
// between) get their rules; it returns what it had to leave out: paths
// that vanished since Compute.
func restrictLandlock(p *Policy, abi int, bestEffort bool) (skipped []string, err error) {
	cfg := landlockConfig(abi)
	if p.ConnectAny {
		cfg.HandledAccessNet &^= ll.AccessNetConnectTCP
	}
	if p.UDPAny {
		cfg.HandledAccessNet &^= ll.AccessNetBindUDP | ll.AccessNetConnectSendUDP
	}
	var rules []landlock.Rule
	for i, r := range slices.Concat(p.Paths, p.Missing) {
		fi, err := os.Stat(r.Path)
		if err != nil {
			if i < len(p.Paths) { // vanished since Compute
				skipped = append(skipped, fmt.Sprintf("path %s: %v", r.Path, err))
			}
			continue // still missing: explain says so
		}
		rights := fsRights(r.Access, fi.IsDir()) & cfg.HandledAccessFS
		if rights == 0 {
			continue // a right this ABI does not handle: listed in the kernel gaps
		}
		rules = append(rules, landlock.PathAccess(rights, r.Path))
	}
	if cfg.HandledAccessNet&ll.AccessNetBindTCP != 0 {
		for _, port := range p.Bind {
			rules = append(rules, landlock.BindTCP(port.Port))
		}
	}
	if cfg.HandledAccessNet&ll.AccessNetConnectTCP != 0 {
		for _, port := range p.Connect {
			rules = append(rules, landlock.ConnectTCP(port.Port))
		}
	}
	if p.DNS && cfg.HandledAccessNet&ll.AccessNetConnectSendUDP != 0 && cfg.HandledAccessNet&ll.AccessNetBindUDP != 0 {
		// Sending a datagram binds an unbound UDP socket to an ephemeral
		// port, which Landlock checks as a bind to port 0.
		rules = append(rules, landlock.BindUDP(0), landlock.ConnectSendUDP(53))
	}
	if bestEffort {
		cfg = cfg.BestEffort()
	}
	if err := cfg.Restrict(rules...); err != nil {
		return skipped, fmt.Errorf("restricting with landlock %v: %w", cfg, err)
	}
	return skipped, nil
}
