// SPDX-License-Identifier: Apache-2.0

package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/tailops/tailops/redact"
	"github.com/tailops/tailops/tools"
)

// Bounds of exec_in_container.
const (
	maxArgv       = 64
	maxArgBytes   = 4096
	maxExecOutput = 1 << 20 // bytes kept of stdout and of stderr, each
)

// ExecArgs is exec_in_container's input.
type ExecArgs struct {
	Container string   `json:"container" jsonschema_description:"container name or id"`
	Argv      []string `json:"argv" jsonschema_description:"the program and its arguments, run as given: no shell is implied (use [\"sh\", \"-c\", \"…\"] for one)"`
	Timeout   *int     `json:"timeout,omitempty" jsonschema_description:"seconds to wait for it, 1 to 600 (default 30)"`
}

// ExecResult is exec_in_container's output.
type ExecResult struct {
	Container string   `json:"container"`
	Argv      []string `json:"argv"`
	ExitCode  int      `json:"exit_code" jsonschema_description:"its exit code; -1 when it was still running at the timeout"`
	Stdout    string   `json:"stdout" jsonschema_description:"standard output, secrets redacted"`
	Stderr    string   `json:"stderr" jsonschema_description:"standard error, secrets redacted"`
	Truncated bool     `json:"truncated" jsonschema_description:"output past 1 MiB per stream was dropped"`
	TimedOut  bool     `json:"timed_out" jsonschema_description:"the timeout came first: the process may still be running in the container"`
	PID       int      `json:"pid,omitempty" jsonschema_description:"the process's PID on the host, when it was still running at the timeout"`
	Duration  string   `json:"duration"`
}

// cappedBuffer keeps the first max bytes written to it and counts the
// rest.
type cappedBuffer struct {
	bytes.Buffer
	max     int
	dropped bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room < len(p) {
		b.dropped = true
		b.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.Buffer.Write(p)
}

// checkArgv checks exec_in_container's argv.
func checkArgv(argv []string) error {
	if len(argv) == 0 || len(argv) > maxArgv {
		return tools.ArgErrorf("argv", "must have 1 to %d elements, got %d", maxArgv, len(argv))
	}
	if argv[0] == "" {
		return tools.ArgErrorf("argv", "the program (the first element) is empty")
	}
	for i, a := range argv {
		if len(a) > maxArgBytes || strings.ContainsRune(a, 0) {
			return tools.ArgErrorf("argv", "element %d must be at most %d bytes, without NUL", i, maxArgBytes)
		}
	}
	return nil
}

// execInContainer runs argv in a running container through the Engine
// API's exec, without a terminal or stdin, and returns its exit code and
// output. At the timeout it stops waiting: the Engine API cannot end an
// exec'd process, so the result says it may still run, with its PID.
func (e *engine) execInContainer(ctx context.Context, in ExecArgs) (ExecResult, error) {
	if err := checkArgv(in.Argv); err != nil {
		return ExecResult{}, err
	}
	timeout, err := tools.IntArg("timeout", in.Timeout, 30, 1, 600)
	if err != nil {
		return ExecResult{}, err
	}
	cli, err := e.client()
	if err != nil {
		return ExecResult{}, err
	}
	c, err := e.target(ctx, cli, in.Container)
	if err != nil {
		return ExecResult{}, err
	}
	if err := e.changeable(c); err != nil {
		return ExecResult{}, err
	}
	name := strings.TrimPrefix(c.Name, "/")
	if c.State == nil || !c.State.Running {
		return ExecResult{}, fmt.Errorf("container %s is not running: start it first (start_container)", name)
	}
	e.log.Info("docker exec", slog.String("container", name), slog.String("program", in.Argv[0]), slog.Int("args", len(in.Argv)-1))
	start := time.Now()
	created, err := cli.ContainerExecCreate(ctx, c.ID, container.ExecOptions{Cmd: in.Argv, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return ExecResult{}, e.fail(err, "creating the exec in "+name)
	}
	att, err := cli.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{})
	if err != nil {
		return ExecResult{}, e.fail(err, "starting the exec in "+name)
	}
	defer att.Close()
	stdout, stderr := &cappedBuffer{max: maxExecOutput}, &cappedBuffer{max: maxExecOutput}
	copied := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(stdout, stderr, att.Reader)
		copied <- err
	}()
	res := ExecResult{Container: name, Argv: in.Argv, ExitCode: -1}
	wait := time.NewTimer(time.Duration(timeout) * time.Second)
	defer wait.Stop()
	select {
	case err := <-copied:
		if err != nil && !errors.Is(err, context.Canceled) {
			return ExecResult{}, e.fail(err, "reading the output of the exec in "+name)
		}
	case <-wait.C:
		res.TimedOut = true
	case <-ctx.Done():
		return ExecResult{}, fmt.Errorf("exec in %s: %w; the process may still be running in the container", name, ctx.Err())
	}
	if res.TimedOut {
		// Closing the connection ends the copy; the buffers are read only
		// once it has returned.
		att.Close()
		<-copied
	}
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	ins, err := cli.ContainerExecInspect(ictx, created.ID)
	if err != nil {
		return ExecResult{}, e.fail(err, "reading the exit code of the exec in "+name)
	}
	if ins.Running {
		res.TimedOut, res.PID = true, ins.Pid
	} else {
		res.ExitCode = ins.ExitCode
	}
	res.Stdout, res.Stderr = redact.Text(stdout.String()), redact.Text(stderr.String())
	res.Truncated = stdout.dropped || stderr.dropped
	res.Duration = time.Since(start).Round(time.Millisecond).String()
	return res, nil
}

// execText renders exec_in_container's result for people.
func execText(r ExecResult) string {
	var b strings.Builder
	switch {
	case r.TimedOut:
		fmt.Fprintf(&b, "%s: still running after the timeout (pid %d on the host)\n", strings.Join(r.Argv, " "), r.PID)
	default:
		fmt.Fprintf(&b, "%s: exit code %d in %s\n", strings.Join(r.Argv, " "), r.ExitCode, r.Duration)
	}
	if r.Stdout != "" {
		fmt.Fprintf(&b, "--- stdout\n%s", r.Stdout)
		if !strings.HasSuffix(r.Stdout, "\n") {
			b.WriteByte('\n')
		}
	}
	if r.Stderr != "" {
		fmt.Fprintf(&b, "--- stderr\n%s", r.Stderr)
		if !strings.HasSuffix(r.Stderr, "\n") {
			b.WriteByte('\n')
		}
	}
	if r.Truncated {
		b.WriteString("(output past 1 MiB per stream dropped)\n")
	}
	return b.String()
}
