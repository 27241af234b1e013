// SPDX-License-Identifier: Apache-2.0

package labtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/client"
)

// addNetNS creates the network namespace name with its loopback up. On
// an error *name is cleared when the namespace was not created (it is not
// ours to delete).
func addNetNS(name *string) error {
	if out, err := exec.Command("ip", "netns", "add", *name).CombinedOutput(); err != nil {
		*name = ""
		return fmt.Errorf("creating network namespace: %v: %s", err, out)
	}
	if out, err := exec.Command("ip", "netns", "exec", *name, "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		return fmt.Errorf("bringing up loopback in %s: %v: %s", *name, err, out)
	}
	return nil
}

// prepare checks what a daemon needs (check), removes namespaces left by
// dead test processes, and makes a directory (prefix) for the daemon's
// files; it returns the directory and a fresh namespace name.
func prepare(check func() error, prefix string) (dir, netns string, err error) {
	if err := check(); err != nil {
		return "", "", err
	}
	sweepStale()
	if dir, err = os.MkdirTemp("", prefix); err != nil {
		return "", "", fmt.Errorf("creating daemon directory: %w", err)
	}
	return dir, fmt.Sprintf("labtest-%d-%d", os.Getpid(), nsSeq.Add(1)), nil
}

// forTest starts something with start for one test and closes it when the
// test ends; a failure to start fails the test.
func forTest[T io.Closer](t testing.TB, start func() (T, error)) T {
	t.Helper()
	v, err := start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := v.Close(); err != nil {
			t.Error(err)
		}
	})
	return v
}

// startDaemon runs an API daemon (dockerd, the podman service): script
// under sh in the network namespace netns, in dir with env (empty: this
// process's), its output appended to logPath. It runs in its own session,
// so a terminal's signals do not reach it, and gets SIGTERM if the test
// binary dies, so it never outlives the test. It waits up to 60 s for cli
// to answer a ping; what names the daemon in errors, which end with the
// log's tail. exited is closed when the process has exited.
func startDaemon(netns, dir string, env []string, script, logPath, what string, cli *client.Client) (cmd *exec.Cmd, exited chan struct{}, err error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("opening %s log: %w", what, err)
	}
	defer logf.Close()
	cmd = exec.Command("ip", "netns", "exec", netns, "sh", "-c", script)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("starting %s: %w", what, err)
	}
	exited = make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := cli.Ping(ctx)
		cancel()
		if err == nil {
			return cmd, exited, nil
		}
		select {
		case <-exited:
			return nil, nil, fmt.Errorf("%s exited while starting (%v); its log:\n%s", what, cmd.ProcessState, tailFile(logPath))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stopDaemon(cmd, exited, what)
			return nil, nil, fmt.Errorf("%s did not answer within 60 s: %v; its log:\n%s", what, err, tailFile(logPath))
		}
	}
}

// tailFile returns the last 4000 bytes of the file at path (a daemon's
// log), or what there is.
func tailFile(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// stopDaemon stops a daemon startDaemon started: SIGTERM (`ip netns exec`
// and `sh -c` both exec, so the PID is the daemon's), then SIGKILL after
// 30 s; it returns once the process has exited.
func stopDaemon(cmd *exec.Cmd, exited chan struct{}, what string) error {
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		return nil
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-exited
		return fmt.Errorf("%s did not stop within 30 s of SIGTERM and was killed", what)
	}
}

// removeNamespace ends what is left running in the network namespace
// netns, deletes it, and removes the daemon's directory dir; empty names
// are skipped.
func removeNamespace(netns, dir string) error {
	var errs []error
	if netns != "" {
		errs = append(errs, endNamespacePIDs(netns))
		if out, err := exec.Command("ip", "netns", "delete", netns).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("deleting network namespace %s: %v: %s", netns, err, out))
		}
	}
	if dir != "" {
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, fmt.Errorf("removing daemon directory: %w", err))
		}
	}
	return errors.Join(errs...)
}
