// SPDX-License-Identifier: Apache-2.0

//go:build !linux

package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// errUnsupported is wrapped by Apply and Check: the sandbox cannot exist
// at all here.
var errUnsupported = errors.New("sandbox needs Linux (Landlock and seccomp)")

// Supported reports no Landlock and no seccomp: both are Linux's.
func Supported() (landlockABI int, seccomp bool) { return 0, false }

// Apply does nothing in off mode and fails otherwise: the sandbox needs
// Linux.
func Apply(p *Policy) (*Report, error) {
	rep := &Report{Mode: p.Mode, Skipped: []string{"everything: " + errUnsupported.Error()}}
	if p.Mode == ModeOff {
		return rep, nil
	}
	if p.Mode == ModeBestEffort {
		rep.NotEnforced = kernelGaps(0, false, p)
		return rep, nil
	}
	return rep, fmt.Errorf("applying sandbox: %w — run with --sandbox best-effort to start without it", errUnsupported)
}

// Check fails: there is nothing to check without Linux.
func Check(ctx context.Context, p *Policy, w io.Writer) (bool, error) {
	return false, fmt.Errorf("checking sandbox: %w", errUnsupported)
}

// syscallKnown accepts every name; no filter is ever loaded here.
func syscallKnown(string) bool { return true }

// currentCaps reports nothing: capabilities are Linux's.
func currentCaps() string { return "unknown (not Linux)" }

// NoNewTCPListeners does nothing in off and best-effort modes and fails
// otherwise: the sandbox needs Linux.
func NoNewTCPListeners(mode Mode) ([]string, error) {
	if mode == ModeEnforce {
		return nil, fmt.Errorf("refusing new TCP listeners: %w", errUnsupported)
	}
	return []string{"everything: " + errUnsupported.Error()}, nil
}
