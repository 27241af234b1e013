// SPDX-License-Identifier: Apache-2.0

package approval_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tailops/tailops/approval"
	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/redact"
)

// serveSocket serves e's gate on a socket in dir.
func serveSocket(t *testing.T, e *env, dir string) (path string, stop io.Closer) {
	t.Helper()
	path = filepath.Join(dir, approval.SocketName)
	ln, err := approval.ListenSocket(path)
	if err != nil {
		t.Fatalf("ListenSocket: %v", err)
	}
	stop = approval.ServeSocket(context.Background(), ln, e.gate)
	t.Cleanup(func() { stop.Close() })
	return path, stop
}

// checkAsync runs Check in the background.
func checkAsync(e *env, args any, caller *auth.Caller) <-chan approval.Outcome {
	ch := make(chan approval.Outcome, 1)
	go func() {
		o, err := e.gate.Check(context.Background(), approval.Call{Tool: "remove_container", Args: args, Caller: caller, Risk: "critical"}, nil)
		if err != nil {
			o.Message = "error: " + err.Error()
		}
		ch <- o
	}()
	return ch
}

// waitPending polls the socket until a pending request for args shows up.
func waitPending(t *testing.T, c *approval.Client, container string) approval.Request {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		rs, err := c.List(context.Background(), false)
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		for _, r := range rs {
			if a, _ := r.Arguments.(map[string]any); a["container"] == container {
				return r
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no pending request for %s", container)
	return approval.Request{}
}

// TestSocketCLI drives a running gate through the real socket, as
// `tailops approvals list|show|approve|deny` does.
func TestSocketCLI(t *testing.T) {
	e := newEnv(t, approval.Config{TwoPerson: true, Wait: 10 * time.Second})
	path, stop := serveSocket(t, e, e.dir)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket %v, %v; want a socket with mode 0600", fi.Mode(), err)
	}
	c := approval.NewClient(path)
	ctx := context.Background()

	// approve
	call := checkAsync(e, map[string]any{"container": "web", "token": "s3cret-token"}, alice)
	r := waitPending(t, c, "web")
	shown, err := c.Show(ctx, r.ID)
	if err != nil {
		t.Fatalf("Show: %v", err)
	}
	if shown.ID != r.ID || shown.Tool != "remove_container" || shown.Caller.Agent != "alice-agent" || shown.State != approval.StatePending ||
		shown.Arguments.(map[string]any)["token"] != redact.Redacted {
		t.Errorf("Show = %+v", shown)
	}
	var out bytes.Buffer
	approval.WriteRequest(&out, &shown)
	approval.WriteList(&out, []approval.Request{shown}, e.clock.Now())
	if !strings.Contains(out.String(), r.ID) || strings.Contains(out.String(), "s3cret-token") {
		t.Errorf("formatted request:\n%s", out.String())
	}
	got, err := c.Approve(ctx, r.ID, "checked with alice")
	if err != nil {
		t.Fatalf("Approve: %v", err)
	}
	if got.State != approval.StateApproved || got.Decision.Approver != "local:root(uid 0)" || got.Decision.Mechanism != approval.MechanismLocalCLI {
		t.Errorf("approved request %+v, decision %+v", got, got.Decision)
	}
	if o := <-call; !o.Allowed || o.ApprovalID != r.ID {
		t.Fatalf("call after CLI approval: %+v", o)
	}
	dec := e.findRecord(t, approval.EventDecision, r.ID)
	if dec.Decision != audit.DecisionAllowed || dec.Caller == nil || dec.Caller.Agent != "local:root(uid 0)" ||
		approvalField(dec, "mechanism") != "local-cli" || dec.Reason != "checked with alice" {
		t.Errorf("decision record %+v", dec)
	}

	// deny
	call = checkAsync(e, map[string]any{"container": "db"}, alice)
	r2 := waitPending(t, c, "db")
	if _, err := c.Deny(ctx, r2.ID, "not now"); err != nil {
		t.Fatalf("Deny: %v", err)
	}
	if o := <-call; o.Allowed || !strings.Contains(o.Message, "denied by local:root(uid 0): not now") {
		t.Fatalf("call after CLI denial: %+v", o)
	}

	// list all
	all, err := c.List(ctx, true)
	if err != nil || len(all) != 2 {
		t.Fatalf("List(all) = %d requests, %v", len(all), err)
	}

	// refusals
	self, err := e.store.Create("remove_container", argsA, &auth.Caller{Agent: "stdio:root", Method: auth.MethodStdio}, "critical", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		do   func() error
		want error
	}{
		{"unknown id", func() error { _, err := c.Approve(ctx, "0123456789abcdef", ""); return err }, approval.ErrNotFound},
		{"malformed id", func() error { _, err := c.Show(ctx, "nope"); return err }, approval.ErrNotFound},
		{"already used", func() error { _, err := c.Approve(ctx, r.ID, ""); return err }, approval.ErrNotPending},
		{"already denied", func() error { _, err := c.Deny(ctx, r2.ID, ""); return err }, approval.ErrNotPending},
		{"requester approving its own stdio call", func() error { _, err := c.Approve(ctx, self.ID, ""); return err }, approval.ErrSelfApproval},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.do(); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}

	// Closing stops the server and removes the socket.
	if err := stop.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket still there after Close: %v", err)
	}
	if _, err := c.List(ctx, false); err == nil {
		t.Error("List after Close succeeded")
	}
}

// TestSocketRefusesOtherUsers connects from a child process running as
// another uid: the socket's mode stops it, and when the mode is opened up
// on purpose, the SO_PEERCRED check does.
func TestSocketRefusesOtherUsers(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("this test starts processes as another uid and must run as root")
	}
	dir, err := os.MkdirTemp("", "approval-sock-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "approval.test")
	copyExecutable(t, bin)
	e := newEnv(t, approval.Config{TwoPerson: true, Wait: time.Millisecond})
	path, _ := serveSocket(t, e, dir)

	tests := []struct {
		name    string
		uid     uint32
		mode    os.FileMode
		wantErr string // "" for success
	}{
		{"root", 0, 0o600, ""},
		{"other uid, socket mode 0600", 65534, 0o600, "connect: permission denied"},
		{"other uid, socket opened up", 65534, 0o666, "permission denied: uid 65534 may not manage approvals"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.Chmod(path, tc.mode); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin)
			cmd.Env = []string{childSocketEnv + "=" + path}
			cmd.Dir = "/"
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: tc.uid, Gid: tc.uid}}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("child: %v: %s", err, stderr.String())
				}
				return
			}
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(stderr.String(), tc.wantErr) {
				t.Fatalf("child: %v: %q; want exit 3 with %q", err, stderr.String(), tc.wantErr)
			}
		})
	}
}

// copyExecutable copies the running test binary to dst, mode 0755, so
// that another uid can run it.
func copyExecutable(t *testing.T, dst string) {
	t.Helper()
	src, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestListenSocket(t *testing.T) {
	t.Run("replaces a stale socket", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), approval.SocketName)
		stale, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		stale.(*net.UnixListener).SetUnlinkOnClose(false)
		stale.Close()
		ln, err := approval.ListenSocket(path)
		if err != nil {
			t.Fatalf("ListenSocket over a stale socket: %v", err)
		}
		ln.Close()
		if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Close left the socket: %v", err)
		}
	})
	t.Run("refuses a live socket", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), approval.SocketName)
		ln, err := approval.ListenSocket(path)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		if ln2, err := approval.ListenSocket(path); err == nil || !strings.Contains(err.Error(), "in use") {
			if ln2 != nil {
				ln2.Close()
			}
			t.Fatalf("second ListenSocket: %v, want in use", err)
		}
	})
	t.Run("refuses a file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), approval.SocketName)
		os.WriteFile(path, nil, 0o600)
		if _, err := approval.ListenSocket(path); err == nil || !strings.Contains(err.Error(), "not a socket") {
			t.Fatalf("ListenSocket over a file: %v", err)
		}
	})
	t.Run("leaves no temporary directory", func(t *testing.T) {
		dir := t.TempDir()
		ln, err := approval.ListenSocket(filepath.Join(dir, approval.SocketName))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ents, _ := os.ReadDir(dir)
		if len(ents) != 1 {
			t.Errorf("directory holds %v", ents)
		}
	})
}

// TestLocalSelfApprovalByUID: the requester of a stdio call cannot
// approve it on the host even when a name cannot be looked up (the
// sandbox hides /etc/passwd): the approver's uid is matched against the
// uid in the requester's agent and against this process's own user,
// which a stdio server's caller is.
func TestLocalSelfApprovalByUID(t *testing.T) {
	e := newEnv(t, approval.Config{TwoPerson: true, Wait: time.Millisecond})
	other := os.Getuid() + 4242
	tests := []struct {
		name  string
		agent string
		user  approval.LocalUser
		want  error
	}{
		{"this process's user, no name", "stdio:alice", approval.LocalUser{UID: os.Getuid()}, approval.ErrSelfApproval},
		{"the uid the agent names", fmt.Sprintf("stdio:%d", other), approval.LocalUser{UID: other}, approval.ErrSelfApproval},
		{"the name the agent names", "stdio:alice", approval.LocalUser{UID: other, Name: "alice"}, approval.ErrSelfApproval},
		{"another user", "stdio:alice", approval.LocalUser{UID: other, Name: "bob"}, nil},
		{"another user without a name", "stdio:alice", approval.LocalUser{UID: other}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := e.store.Create("remove_container", map[string]any{"container": tc.name}, &auth.Caller{Agent: tc.agent, Method: auth.MethodStdio}, "critical", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.gate.DecideLocal(context.Background(), r.ID, true, "", tc.user); !errors.Is(err, tc.want) && (tc.want != nil || err != nil) {
				t.Errorf("DecideLocal = %v, want %v", err, tc.want)
			}
		})
	}
}
