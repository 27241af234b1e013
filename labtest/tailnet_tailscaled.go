// SPDX-License-Identifier: Apache-2.0

package labtest

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"tailscale.com/client/local"
	"tailscale.com/ipn"
	"tailscale.com/types/key"
	"tailscale.com/types/opt"
	"tailscale.com/types/preftype"
)

// Tailscaled is a host tailscaled daemon of a test Tailnet, built from
// tailscale.com/cmd/tailscaled at the version in go.mod and run in
// userspace-networking mode (no TUN device) with its state and socket in
// a directory of its own. Connections to its tailnet addresses are
// forwarded by its netstack to the same port on 127.0.0.1, and LocalAPI
// WhoIs knows them by the local port (as for any host in that mode).
type Tailscaled struct {
	// Dir holds the state and the socket.
	Dir string
	// Socket is the LocalAPI socket, what --tailscaled-socket takes.
	Socket string
	// LC is a LocalAPI client on Socket.
	LC *local.Client
	// Hostname, Key, IPv4 and IPv6 identify the node.
	Hostname   string
	Key        key.NodePublic
	IPv4, IPv6 netip.Addr

	cmd  *exec.Cmd
	logs *syncBuf
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Logs returns what the daemon wrote so far.
func (d *Tailscaled) Logs() string { return d.logs.String() }

// TailscaledBinary returns the path of a tailscaled binary built from
// the tailscale.com version this module requires. It is built once
// into the user cache directory (keyed by that version and the Go
// version) and reused, since a cold build takes minutes on two cores.
func TailscaledBinary(t testing.TB) string {
	t.Helper()
	tailscaledBuild.once.Do(func() { tailscaledBuild.path, tailscaledBuild.err = buildTailscaled() })
	if tailscaledBuild.err != nil {
		t.Fatal(tailscaledBuild.err)
	}
	return tailscaledBuild.path
}

func buildTailscaled() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "tailscale.com").Output()
	version := strings.TrimSpace(string(out))
	if err != nil || version == "" {
		return "", fmt.Errorf("building tailscaled: finding the tailscale.com version in go.mod (go list -m tailscale.com): %v", err)
	}
	return cachedBinary("tailscaled-"+version, func(tmp string) error {
		// Built within this module (the tests' working directory), so
		// that go.mod pins tailscaled's dependencies too.
		cmd := exec.Command("go", "build", "-o", tmp, "tailscale.com/cmd/tailscaled")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build tailscale.com/cmd/tailscaled: %v\n%s", err, out)
		}
		return nil
	})
}

// cachedBinary returns the path of the binary name (suffixed with the Go
// version and architecture) in the user cache directory, first building
// it with build, into a temporary path then renamed, if it is not there.
func cachedBinary(name string, build func(tmp string) error) (string, error) {
	bin, err := cachedPath(name)
	if err != nil {
		return "", fmt.Errorf("building %s: %w", name, err)
	}
	if isExecutable(bin) {
		return bin, nil
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", fmt.Errorf("building %s: %w", name, err)
	}
	tmp := fmt.Sprintf("%s.tmp%d", bin, os.Getpid())
	if err := build(tmp); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("building %s: %w", name, err)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", fmt.Errorf("building %s: %w", name, err)
	}
	return bin, nil
}

// cachedPath is where cachedBinary keeps the binary name.
func cachedPath(name string) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(cache, "tailops-labtest", fmt.Sprintf("%s-%s-%s", name, runtime.Version(), runtime.GOARCH)), nil
}

// isExecutable reports whether path is an executable regular file.
func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// Tailscaled starts a tailscaled joined to the tailnet as hostname with
// tags, waits until it is running, and stops it when the test ends.
// It joins through the LocalAPI, as `tailscale up --login-server` does
// (the tailscale CLI would pull in modules this one does not require).
func (tn *Tailnet) Tailscaled(t testing.TB, hostname string, tags ...string) *Tailscaled {
	t.Helper()
	RequireNodeSandbox(t)
	bin := TailscaledBinary(t)
	// A short path: the socket's must fit in 108 bytes.
	dir, err := os.MkdirTemp("", "tsd-")
	if err != nil {
		t.Fatal(err)
	}
	d := &Tailscaled{Dir: dir, Socket: filepath.Join(dir, "tailscaled.sock"), Hostname: hostname, logs: &syncBuf{}}
	d.cmd = exec.Command(bin, "--tun=userspace-networking", "--statedir="+dir, "--socket="+d.Socket,
		"--port=0", "--no-logs-no-support")
	d.cmd.Env = append(os.Environ(), TailnetEnv...)
	d.cmd.Stdout, d.cmd.Stderr = d.logs, d.logs
	if err := d.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		t.Fatalf("starting tailscaled: %v", err)
	}
	exited := make(chan struct{})
	go func() { d.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			d.cmd.Process.Kill()
			<-exited
		}
		os.RemoveAll(dir)
	})
	d.LC = &local.Client{Socket: d.Socket, UseSocketOnly: true}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("tailscaled %s: %s\nlogs:\n%s", hostname, fmt.Sprintf(format, args...), d.Logs())
	}
	for {
		if _, err := d.LC.Status(ctx); err == nil {
			break
		}
		select {
		case <-exited:
			fail("exited")
		case <-ctx.Done():
			fail("LocalAPI not answering: %v", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	prefs := ipn.NewPrefs()
	prefs.ControlURL = tn.ControlURL
	prefs.WantRunning = true
	prefs.Hostname = hostname
	prefs.AdvertiseTags = tags
	prefs.CorpDNS = false // --accept-dns=false: leave the host's resolver alone
	prefs.NetfilterMode = preftype.NetfilterOff
	prefs.AutoUpdate.Check = false
	prefs.AutoUpdate.Apply = opt.NewBool(false)
	if err := d.LC.Start(ctx, ipn.Options{UpdatePrefs: prefs, AuthKey: tn.Control.RequireAuthKey}); err != nil {
		fail("starting: %v", err)
	}
	loginStarted := false
	for {
		st, err := d.LC.Status(ctx)
		if err != nil {
			fail("status: %v", err)
		}
		if st.BackendState == ipn.Running.String() && len(st.TailscaleIPs) > 0 && st.Self != nil {
			d.Key = st.Self.PublicKey
			for _, a := range st.TailscaleIPs {
				if a.Is4() {
					d.IPv4 = a
				} else {
					d.IPv6 = a
				}
			}
			return d
		}
		if st.BackendState == ipn.NeedsLogin.String() && !loginStarted {
			loginStarted = true
			if err := d.LC.StartLoginInteractive(ctx); err != nil {
				fail("logging in: %v", err)
			}
		}
		select {
		case <-exited:
			fail("exited")
		case <-ctx.Done():
			fail("not running (state %s): %v", st.BackendState, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
