// SPDX-License-Identifier: Apache-2.0

//go:build tailops_testtools

// Package probe is the toolset of sandbox_probe, a tool that tries from
// inside a handler what the sandbox must refuse. It exists only in
// binaries built with the tailops_testtools tag, for the end-to-end
// sandbox tests; without the tag the package has no files.
package probe

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"syscall"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tools"
)

// ProbeResult is sandbox_probe's output: what each forbidden action got.
type ProbeResult struct {
	Attempts map[string]string `json:"attempts" jsonschema_description:"attempt → ok or the errno it got"`
}

// Toolset is the probe toolset.
type Toolset struct{ specs []tools.Spec }

var _ tools.Toolset = (*Toolset)(nil)

// New declares sandbox_probe. It has nothing to configure; the error is
// always nil.
func New() (*Toolset, error) { return &Toolset{specs: declare()}, nil }

// Name returns "probe".
func (t *Toolset) Name() string { return "probe" }

// Tools returns sandbox_probe.
func (t *Toolset) Tools() []tools.Spec { return slices.Clone(t.specs) }

// declare declares sandbox_probe.
func declare() []tools.Spec {
	return []tools.Spec{tools.TypedSpec[tools.NoArgs, ProbeResult]{
		Name: "sandbox_probe", Title: "Sandbox probe (test builds only)",
		Description: "Tries forbidden actions from a tool handler and reports what the kernel answered. Test builds only.",
		Scope:       auth.ScopeSystemRead, Risk: tools.RiskLow, Hints: tools.ReadHints,
		Run: func(ctx context.Context, _ tools.NoArgs) (ProbeResult, error) {
			res := ProbeResult{Attempts: map[string]string{}}
			outcome := func(err error) string {
				var errno syscall.Errno
				switch {
				case err == nil:
					return "ok"
				case errors.As(err, &errno):
					return errnoName(errno)
				default:
					return err.Error()
				}
			}
			done := make(chan struct{})
			go func() { // a fresh OS thread, locked, as an attacker would use
				defer close(done)
				runtime.LockOSThread()
				res.Attempts["exec /bin/sh"] = outcome(exec.Command("/bin/sh", "-c", "true").Run())
				_, err := os.ReadFile("/etc/shadow")
				res.Attempts["read /etc/shadow"] = outcome(err)
				_, _, e := syscall.RawSyscall(syscall.SYS_PTRACE, syscall.PTRACE_ATTACH, 1, 0)
				res.Attempts["ptrace pid 1"] = outcome(errOrNil(e))
				res.Attempts["mount tmpfs"] = outcome(syscall.Mount("none", "/tmp", "tmpfs", 0, ""))
				res.Attempts["unshare user ns"] = outcome(syscall.Unshare(syscall.CLONE_NEWUSER))
			}()
			<-done
			return res, nil
		},
	}.Spec()}
}

func errOrNil(e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

func errnoName(e syscall.Errno) string {
	switch e {
	case syscall.EPERM:
		return "EPERM"
	case syscall.EACCES:
		return "EACCES"
	case syscall.ENOSYS:
		return "ENOSYS"
	}
	return e.Error()
}
