// SPDX-License-Identifier: Apache-2.0

package sandbox

import (
	"fmt"
	"io"
	"os"
	"os/exec"
)

// checkTargetEnv, set to "1", turns a process of any binary that links
// this package into Check's signal target, before main runs: it waits
// until its standard input closes, then exits.
const checkTargetEnv = "TAILOPS_SANDBOX_CHECK_TARGET"

func init() {
	if os.Getenv(checkTargetEnv) != "1" {
		return
	}
	io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// signalTarget is a process started before the restriction, so outside
// the sandbox's Landlock domain: a signal to it must be refused. PID 1
// cannot serve, since in a container the check itself is PID 1.
type signalTarget struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// startSignalTarget starts this same binary as a signal target.
func startSignalTarget() (*signalTarget, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("starting the signal target: %w", err)
	}
	cmd := exec.Command(exe)
	// No Pdeathsig: it follows the forking thread, which may end first.
	// The target ends when its standard input closes, with this process.
	cmd.Env = []string{checkTargetEnv + "=1"}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("starting the signal target: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the signal target %s: %w", exe, err)
	}
	return &signalTarget{cmd: cmd, stdin: stdin}, nil
}

// pid is the target's process id.
func (t *signalTarget) pid() int { return t.cmd.Process.Pid }

// stop closes the target's standard input, which ends it, and waits.
func (t *signalTarget) stop() {
	t.stdin.Close()
	t.cmd.Wait()
}
