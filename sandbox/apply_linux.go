// SPDX-License-Identifier: Apache-2.0

package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// applied guards against a second Apply: the first one's seccomp filter
// already refuses the Landlock syscalls.
var applied atomic.Bool

// Supported returns the kernel's Landlock ABI (0 without Landlock) and
// whether seccomp filters can be loaded on all threads. After Apply both
// read as unsupported, since the filter refuses the probes.
func Supported() (landlockABI int, seccomp bool) {
	ok, _ := seccompSupport()
	return kernelLandlockABI(), ok
}

// Apply restricts every thread of the process to p, irreversibly: it
// drops every capability p does not keep (from all five sets), applies
// Landlock, then the seccomp filter, then checks that every thread shows
// Seccomp: 2, NoNewPrivs: 1 and the capabilities kept. In enforce mode it fails
// before changing anything when the kernel lacks Landlock ABI 4 or
// seccomp, and fails when any step fails; the process may then be partly
// restricted and should exit. In best-effort mode it applies what it can
// and lists the rest in Report.Skipped. In off mode it does nothing.
func Apply(p *Policy) (*Report, error) {
	start := time.Now()
	rep := &Report{Mode: p.Mode}
	if p.Mode == ModeOff {
		rep.Skipped = []string{"everything: sandbox is off"}
		return rep, nil
	}
	if applied.Load() {
		return rep, errors.New("applying sandbox: already applied once in this process")
	}
	enforce := p.Mode != ModeBestEffort
	abi := kernelLandlockABI()
	scOK, scWhy := seccompSupport()
	rep.LandlockABI = abi
	if enforce {
		// Nothing has changed yet: the caller may retry in best-effort mode.
		if err := enforceError(abi, scOK, scWhy); err != nil {
			return rep, fmt.Errorf("applying sandbox: %w", err)
		}
	}
	if !applied.CompareAndSwap(false, true) {
		return rep, errors.New("applying sandbox: already applied once in this process")
	}

	// Capabilities first: neither capset nor PR_CAPBSET_DROP is on the
	// seccomp allow-list, and Landlock needs none of them.
	want, note, err := dropCapabilities(p.keptCaps())
	switch {
	case err != nil && enforce:
		return rep, fmt.Errorf("dropping capabilities: %w", err)
	case err != nil:
		rep.Skipped = append(rep.Skipped, "capabilities: "+err.Error())
	default:
		rep.caps = &want
		rep.Capabilities = want.Eff.String()
		if note != "" {
			rep.Notes = append(rep.Notes, note)
		}
	}

	if abi > 0 {
		skipped, err := restrictLandlock(p, abi, !enforce)
		rep.Skipped = append(rep.Skipped, skipped...)
		switch {
		case err != nil && enforce:
			return rep, fmt.Errorf("applying landlock rules: %w", err)
		case err != nil:
			rep.Skipped = append(rep.Skipped, "Landlock: "+err.Error())
		default:
			rep.Landlock = true
		}
	} else {
		rep.Skipped = append(rep.Skipped, "Landlock: kernel has none")
	}

	if scOK {
		err := loadSeccomp(p)
		switch {
		case err != nil && enforce:
			return rep, fmt.Errorf("applying seccomp filter: %w", err)
		case err != nil:
			rep.Skipped = append(rep.Skipped, "seccomp: "+err.Error())
		default:
			rep.Seccomp = true
		}
	} else {
		rep.Skipped = append(rep.Skipped, "seccomp: "+scWhy)
	}

	if rep.Seccomp || rep.caps != nil {
		n, err := verifyThreads(rep.Seccomp, rep.caps)
		switch {
		case err != nil && enforce:
			return rep, fmt.Errorf("verifying threads: %w", err)
		case err != nil:
			rep.Skipped = append(rep.Skipped, "verifying threads: "+err.Error())
		default:
			rep.Threads = n
		}
	}
	seccompApplied := rep.Seccomp
	landlockABIApplied := abi
	if !rep.Landlock {
		landlockABIApplied = 0
	}
	rep.NotEnforced = kernelGaps(landlockABIApplied, seccompApplied, p)
	rep.Duration = time.Since(start)
	return rep, nil
}

// threadStatus is the sandbox state of one thread.
type threadStatus struct {
	TID        int
	Seccomp    string
	NoNewPrivs string
	Caps       capState
}

// readThreads reads every thread's Seccomp, NoNewPrivs and capability
// sets from /proc/self/task/*/status.
func readThreads() ([]threadStatus, error) {
	dir := "/proc/self/task"
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("listing threads: %w", err)
	}
	var out []threadStatus
	for _, e := range entries {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name(), "status"))
		if errors.Is(err, os.ErrNotExist) {
			continue // the thread ended meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("reading thread %d status: %w", tid, err)
		}
		st := threadStatus{TID: tid}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, _ := strings.Cut(sc.Text(), ":")
			switch k {
			case "Seccomp":
				st.Seccomp = strings.TrimSpace(v)
			case "NoNewPrivs":
				st.NoNewPrivs = strings.TrimSpace(v)
			default:
				if _, err := st.Caps.parseCapField(k, v); err != nil {
					f.Close()
					return nil, fmt.Errorf("reading thread %d status: %w", tid, err)
				}
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("reading thread %d status: %w", tid, err)
		}
		out = append(out, st)
	}
	if len(out) == 0 {
		return nil, errors.New("listing threads: none found")
	}
	return out, nil
}

// verifyThreads checks that every thread is in seccomp filter mode with
// no_new_privs (when seccomp is set) and shows exactly the capability
// sets in caps (when not nil), and returns how many threads it checked.
func verifyThreads(seccomp bool, caps *capState) (int, error) {
	ts, err := readThreads()
	if err != nil {
		return 0, err
	}
	var bad []string
	for _, t := range ts {
		if seccomp && (t.Seccomp != "2" || t.NoNewPrivs != "1") {
			bad = append(bad, fmt.Sprintf("thread %d: Seccomp %q NoNewPrivs %q", t.TID, t.Seccomp, t.NoNewPrivs))
		}
		if caps == nil {
			continue
		}
		if err := checkCaps(t.Caps, *caps); err != nil {
			bad = append(bad, fmt.Sprintf("thread %d: %v", t.TID, err))
		}
	}
	if len(bad) > 0 {
		return 0, fmt.Errorf("threads not restricted: %s", strings.Join(bad, "; "))
	}
	return len(ts), nil
}
