// SPDX-License-Identifier: Apache-2.0

//go:build tailops_testtools

package tools

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"syscall"

	"github.com/tailops/tailops/auth"
)

// ProbeResult is sandbox_probe's output: what each forbidden action got.
type ProbeResult struct {
	Attempts map[string]string `json:"attempts" jsonschema_description:"attempt → ok or the errno it got"`
}

// testTools adds sandbox_probe, a tool that tries what the sandbox must
// refuse from inside a handler. It exists only in binaries built with the
// tailops_testtools tag, for the end-to-end sandbox tests.
func testTools(d *Deps) []Spec {
	return []Spec{TypedSpec[NoArgs, ProbeResult]{
		Name: "sandbox_probe", Title: "Sandbox probe (test builds only)",
		Description: "Tries forbidden actions from a tool handler and reports what the kernel answered. Test builds only.",
		Scope:       auth.ScopeSystemRead, Risk: RiskLow, Hints: ReadHints,
		Run: func(ctx context.Context, _ NoArgs) (ProbeResult, error) {
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
