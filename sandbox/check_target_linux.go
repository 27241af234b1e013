// SPDX-License-Identifier: Apache-2.0

package sandbox

import (
	"fmt"
	"io"
	"os"
	"os/exec"
)

// checkTargetArg0, as the whole command line (argv[0], no arguments),
// turns a process of any binary that links this package into Check's
// signal target, before main runs: it waits until its standard input
// closes, then exits. The marker is the command line, not an environment
// variable, so that nothing inherits it: a child of the server, or a
// server whose environment happens to hold the variable, is never turned
// into a target.
const checkTargetArg0 = "tailops-sandbox-check-target"

func init() {
	if len(os.Args) != 1 || os.Args[0] != checkTargetArg0 {
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
	cmd.Args = []string{checkTargetArg0}
	// No Pdeathsig: it follows the forking thread, which may end first.
	// The target ends when its standard input closes, with this process.
	cmd.Env = []string{}
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
