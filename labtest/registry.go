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
// plain HTTP on the loopback of an engine's namespace (a Dockerd's or a
// Podman's). Dockerd trusts it without TLS because 127.0.0.0/8
// registries are insecure by default; a Podman instance's registries.conf
// marks it insecure.
type Registry struct {
	// Addr is host:port as image references name it, 127.0.0.1:5000.
	Addr string

	// push tags the engine's local image as ref and pushes it.
	push   func(ctx context.Context, local, ref string) error
	cmd    *exec.Cmd
	exited chan struct{}
}

// registryAddr is where every registry listens, inside its namespace.
const registryAddr = "127.0.0.1:5000"

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
	r, err := startRegistry(d.NetNS, d.Dir, d.pushImage)
	if err != nil {
		t.Fatal(err)
	}
	d.registry = r
	return r
}

// pushImage tags local as ref and pushes it through the Engine API.
func (d *Dockerd) pushImage(ctx context.Context, local, ref string) error {
	if err := d.cli.ImageTag(ctx, local, ref); err != nil {
		return fmt.Errorf("tagging %s as %s: %w", local, ref, err)
	}
	// The registry has no authentication; the header must still be sent.
	rc, err := d.cli.ImagePush(ctx, ref, image.PushOptions{RegistryAuth: base64.URLEncoding.EncodeToString([]byte("{}"))})
	if err != nil {
		return fmt.Errorf("pushing %s: %w", ref, err)
	}
	if err := drainMessages(rc); err != nil {
		return fmt.Errorf("pushing %s: %w", ref, err)
	}
	return nil
}

// startRegistry runs docker-registry in the network namespace netns, with
// its configuration, storage and log under dir, and waits until it
// answers; push is how Push puts an engine's image into it. On an error
// the registry is not running.
func startRegistry(netns, dir string, push func(ctx context.Context, local, ref string) error) (*Registry, error) {
	r := &Registry{Addr: registryAddr, push: push, exited: make(chan struct{})}
	cfg := filepath.Join(dir, "registry.yml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, registryConfig, filepath.Join(dir, "registry"), r.Addr), 0o644); err != nil {
		return nil, fmt.Errorf("writing registry configuration: %w", err)
	}
	logPath := filepath.Join(dir, "registry.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("creating registry log: %w", err)
	}
	defer logf.Close()
	r.cmd = exec.Command("ip", "netns", "exec", netns, "docker-registry", "serve", cfg)
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGTERM}
	if err := r.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting docker-registry: %w", err)
	}
	go func() { r.cmd.Wait(); close(r.exited) }()
	// The registry listens inside the namespace, out of this process's
	// reach: probe it from there.
	for deadline := time.Now().Add(30 * time.Second); ; {
		probe := exec.Command("ip", "netns", "exec", netns, busyboxPath(), "wget", "-q", "-O", "/dev/null", "http://"+r.Addr+"/v2/")
		if probe.Run() == nil {
			return r, nil
		}
		select {
		case <-r.exited:
			return nil, fmt.Errorf("docker-registry exited while starting: %s", tailFile(logPath))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			r.stop()
			return nil, errors.New("docker-registry did not answer within 30 s")
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
	if err := r.push(ctx, local, ref); err != nil {
		t.Fatal(err)
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

// Stop stops the registry, so that tests see a registry that does not
// answer; a later StartRegistry of its daemon does not start it again.
func (r *Registry) Stop(t testing.TB) {
	t.Helper()
	if err := r.stop(); err != nil {
		t.Error(err)
	}
}
