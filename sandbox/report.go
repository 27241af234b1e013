// SPDX-License-Identifier: Apache-2.0

package sandbox

import (
	"fmt"
	"time"
)

// Report says what Apply did.
type Report struct {
	// Mode is the mode the policy was applied in.
	Mode Mode
	// LandlockABI is the kernel's Landlock ABI (0: none).
	LandlockABI int
	// Landlock and Seccomp report whether each was applied.
	Landlock bool
	Seccomp  bool
	// Threads is how many threads were verified to show Seccomp: 2 and
	// NoNewPrivs: 1 after applying (0 when seccomp was not applied).
	Threads int
	// Skipped lists what was left out: in best-effort mode what the
	// kernel lacks, in every mode paths that vanished since Compute.
	Skipped []string
	// NotEnforced lists parts of the policy this kernel's Landlock ABI
	// cannot enforce but enforce mode accepts (unix sockets below ABI 9,
	// UDP below ABI 10...), as explain shows them.
	NotEnforced []string
	// Capabilities are the capabilities every thread kept ("none" when
	// it holds none); empty when dropping them was skipped.
	Capabilities string
	// Notes are remarks on what was applied, such as a capability
	// bounding set this process may not change.
	Notes []string
	// Duration is how long applying took.
	Duration time.Duration

	// caps is what every thread's capability sets must be, when the drop ran.
	caps *capState
}

// String summarizes the report on one line, for the server's log.
func (r *Report) String() string {
	return fmt.Sprintf("sandbox %s: landlock=%v (ABI %d) seccomp=%v capabilities=%q threads=%d skipped=%d not-enforced=%d in %v",
		r.Mode, r.Landlock, r.LandlockABI, r.Seccomp, r.Capabilities, r.Threads, len(r.Skipped), len(r.NotEnforced), r.Duration)
}

// BelowEnforce lists what enforce mode requires that a sandbox applied in
// best-effort mode lacks: Landlock applied at ABI 4 or later (below it
// TCP bind and connect are not restricted, though nothing was skipped)
// and the seccomp filter applied. It is empty in any other mode, and
// when nothing is missing. It names no path: /readyz may show it.
func (r *Report) BelowEnforce() []string {
	if r.Mode != ModeBestEffort {
		return nil
	}
	var out []string
	switch {
	case r.LandlockABI == 0:
		out = append(out, "the kernel has no Landlock")
	case !r.Landlock:
		out = append(out, "Landlock was not applied")
	case r.LandlockABI < minEnforceABI:
		out = append(out, fmt.Sprintf("the kernel's Landlock ABI %d is below the %d enforce requires: TCP bind and connect are not restricted",
			r.LandlockABI, minEnforceABI))
	}
	if !r.Seccomp {
		out = append(out, "no seccomp filter")
	}
	return out
}
