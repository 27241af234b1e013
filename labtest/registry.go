// SPDX-License-Identifier: Apache-2.0

package labtest

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"
)

// Registry is Debian's docker-registry (Docker Distribution) serving
// plain HTTP on the loopback of the daemon's namespace. The daemon trusts
// it without TLS because 127.0.0.0/8 registries are insecure by default.
type Registry struct {
	// Addr is host:port as image references name it, 127.0.0.1:5000.
	Addr string

	d      *Dockerd
	cmd    *exec.Cmd
	exited chan struct{}
}

const registryConfig = `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`

// StartRegistry starts the daemon's registry, once; later calls return
// the same one. It stops when the daemon is closed.
func (d *Dockerd) StartRegistry(t testing.TB) *Registry {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.registry != nil {
		return d.registry
	}
	if _, err := exec.LookPath("docker-registry"); err != nil {
		t.Fatalf("docker-registry is missing (package docker-registry); install with: %s", Install)
	}
	r := &Registry{Addr: "127.0.0.1:5000", d: d, exited: make(chan struct{})}
	cfg := filepath.Join(d.Dir, "registry.yml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, registryConfig, filepath.Join(d.Dir, "registry"), r.Addr), 0o644); err != nil {
		t.Fatalf("writing registry configuration: %v", err)
	}
	logf, err := os.Create(filepath.Join(d.Dir, "registry.log"))
	if err != nil {
		t.Fatalf("creating registry log: %v", err)
	}
	defer logf.Close()
	r.cmd = exec.Command("ip", "netns", "exec", d.NetNS, "docker-registry", "serve", cfg)
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGTERM}
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("starting docker-registry: %v", err)
	}
	go func() { r.cmd.Wait(); close(r.exited) }()
	d.registry = r
	// The registry listens inside the namespace, out of this process's
	// reach: probe it from there.
	for deadline := time.Now().Add(30 * time.Second); ; {
		probe := exec.Command("ip", "netns", "exec", d.NetNS, busyboxPath(), "wget", "-q", "-O", "/dev/null", "http://"+r.Addr+"/v2/")
		if probe.Run() == nil {
			return r
		}
		select {
		case <-r.exited:
			b, _ := os.ReadFile(filepath.Join(d.Dir, "registry.log"))
			t.Fatalf("docker-registry exited while starting: %s", b)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("docker-registry did not answer within 30 s")
		}
	}
}

// Push tags the local image local as Addr/repoTag, pushes it, and
// returns the registry reference.
func (r *Registry) Push(t testing.TB, local, repoTag string) string {
	t.Helper()
	ref := r.Addr + "/" + repoTag
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.d.cli.ImageTag(ctx, local, ref); err != nil {
		t.Fatalf("tagging %s as %s: %v", local, ref, err)
	}
	// The registry has no authentication; the header must still be sent.
	rc, err := r.d.cli.ImagePush(ctx, ref, image.PushOptions{RegistryAuth: base64.URLEncoding.EncodeToString([]byte("{}"))})
	if err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	if err := drainMessages(rc); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	return ref
}

func (r *Registry) stop() error {
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
		return nil
	case <-time.After(10 * time.Second):
		r.cmd.Process.Kill()
		<-r.exited
		return errors.New("docker-registry did not stop within 10 s of SIGTERM and was killed")
	}
}
