// SPDX-License-Identifier: Apache-2.0

package labtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/client"
	"golang.org/x/sys/unix"
)

// PodmanInstall is the command that installs what StartPodman needs.
const PodmanInstall = "apt-get install -y podman busybox-static iproute2"

// Podman is a rootful `podman system service` (Podman's Docker-compatible
// API) in a network namespace of its own, with private storage, state,
// configuration and socket under Dir. Use it from one test at a time.
type Podman struct {
	// Host is the API socket as DOCKER_HOST takes it: unix:///…/podman.sock.
	Host string
	// NetNS is the name of the service's network namespace.
	NetNS string
	// Dir holds the configuration, storage, state, socket and log.
	Dir string

	cmd      *exec.Cmd     // the running service, or nil
	exited   chan struct{} // closed when cmd has exited
	cli      *client.Client
	registry *Registry // started by StartRegistry, or nil
}

// podmanRequirements are the programs StartPodman runs, with their
// packages (netavark sets up the default bridge network inside the
// namespace).
var podmanRequirements = []requirement{
	{"ip", "iproute2"},
	{"podman", "podman"},
	{"conmon", "conmon (a dependency of podman)"},
	{"runc", "runc (a dependency of podman)"},
	{"/usr/lib/podman/netavark", "netavark (a dependency of podman)"},
	{"cgroupfs-mount", "cgroupfs-mount"},
	{"busybox", "busybox-static"},
}

// CheckPodman reports what is missing to run StartPodman, as an error
// that says how to install it, or nil.
func CheckPodman() error {
	return checkRequirements(podmanRequirements, PodmanInstall, "it creates network namespaces and runs a rootful podman service")
}

// StartPodman starts a podman service for one test and stops it,
// deleting its namespace and files, when the test ends. A missing
// component fails the test.
func StartPodman(t testing.TB) *Podman {
	t.Helper()
	return forTest(t, NewPodman)
}

// NewPodman creates a network namespace and starts a podman service in
// it. The caller must Close it.
func NewPodman() (*Podman, error) {
	dir, netns, err := prepare(CheckPodman, "labtest-podman-")
	if err != nil {
		return nil, err
	}
	p := &Podman{Dir: dir, NetNS: netns, Host: "unix://" + filepath.Join(dir, "podman.sock")}
	if err := p.setup(); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// podmanConfig returns containers.conf, storage.conf and
// registries.conf for a service whose files live under dir.
func podmanConfig(dir string) map[string]string {
	// Rootful podman gives containers nofile and nproc limits of 1048576
	// unless told otherwise, which fails (EPERM) where the hard limits are
	// lower; stay within what this process has.
	limit := func(res int, most uint64) uint64 {
		var r unix.Rlimit
		if unix.Getrlimit(res, &r) == nil && r.Max < most {
			return r.Max
		}
		return most
	}
	pidMax := uint64(32768)
	if b, err := os.ReadFile("/proc/sys/kernel/pid_max"); err == nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil {
			pidMax = n
		}
	}
	nofile, nproc := limit(unix.RLIMIT_NOFILE, 1<<20), limit(unix.RLIMIT_NPROC, pidMax)
	q := strconv.Quote
	return map[string]string{
		"containers.conf": fmt.Sprintf(`[containers]
default_ulimits = ["nofile=%d:%d", "nproc=%d:%d"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
lock_type = "file"
runtime = "runc"
tmp_dir = %s
volume_path = %s
[network]
network_config_dir = %s
`, nofile, nofile, nproc, nproc, q(filepath.Join(dir, "tmp")), q(filepath.Join(dir, "volumes")), q(filepath.Join(dir, "networks"))),
		"storage.conf": fmt.Sprintf("[storage]\ndriver = \"overlay\"\ngraphroot = %s\nrunroot = %s\n",
			q(filepath.Join(dir, "root")), q(filepath.Join(dir, "run"))),
		// No registry is searched: short names resolve only locally. The
		// one registry there may be is StartRegistry's, plain HTTP.
		"registries.conf": "unqualified-search-registries = []\nshort-name-mode = \"disabled\"\n\n" +
			"[[registry]]\nlocation = " + q(registryAddr) + "\ninsecure = true\n",
	}
}

func (p *Podman) setup() error {
	for name, text := range podmanConfig(p.Dir) {
		if err := os.WriteFile(filepath.Join(p.Dir, name), []byte(text), 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
	}
	for _, sub := range []string{"tmp", "volumes", "networks"} {
		if err := os.MkdirAll(filepath.Join(p.Dir, sub), 0o700); err != nil {
			return err
		}
	}
	if err := addNetNS(&p.NetNS); err != nil {
		return err
	}
	cli, err := client.NewClientWithOpts(client.WithHost(p.Host), client.WithAPIVersionNegotiation())
	if err != nil {
		return fmt.Errorf("creating Docker client: %w", err)
	}
	p.cli = cli
	return p.start()
}

// env is the environment of the service and of the podman CLI: this
// instance's configuration only, never the host's.
func (p *Podman) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		// Set at all (even empty), these make podman a remote client.
		if !strings.HasPrefix(kv, "CONTAINER_HOST=") && !strings.HasPrefix(kv, "CONTAINER_CONNECTION=") {
			env = append(env, kv)
		}
	}
	return append(env,
		"CONTAINERS_CONF="+filepath.Join(p.Dir, "containers.conf"),
		"CONTAINERS_STORAGE_CONF="+filepath.Join(p.Dir, "storage.conf"),
		"CONTAINERS_REGISTRIES_CONF="+filepath.Join(p.Dir, "registries.conf"),
		"TMPDIR="+filepath.Join(p.Dir, "tmp"))
}

// start runs the service in the namespace (cgroups mounted as for
// dockerd) and waits until the API answers.
func (p *Podman) start() error {
	q := func(s string) string { return strconv.Quote(filepath.Join(p.Dir, s)) }
	script := cgroupScript + "exec podman --root " + q("root") + " --runroot " + q("run") + " --tmpdir " + q("tmp") +
		" --volumepath " + q("volumes") + " --network-config-dir " + q("networks") +
		" --cgroup-manager cgroupfs --events-backend file --storage-driver overlay --log-level warn" +
		" system service --time=0 " + strconv.Quote(p.Host)
	cmd, exited, err := startDaemon(p.NetNS, p.Dir, p.env(), script, filepath.Join(p.Dir, "podman.log"), "podman system service", p.cli)
	if err != nil {
		return err
	}
	p.cmd, p.exited = cmd, exited
	return nil
}

// Client returns a Docker client for the service's compatible API.
func (p *Podman) Client() *client.Client { return p.cli }

// StartRegistry starts a registry (Debian's docker-registry, plain HTTP
// on 127.0.0.1:5000 inside the service's namespace, marked insecure in
// this instance's registries.conf), once; later calls return the same
// one. Its Push uses the podman CLI. It stops when the service is closed.
// A missing docker-registry fails the test.
func (p *Podman) StartRegistry(t testing.TB) *Registry {
	t.Helper()
	if p.registry != nil {
		return p.registry
	}
	if _, err := exec.LookPath("docker-registry"); err != nil {
		t.Fatal("docker-registry is missing (package docker-registry); install with: apt-get install -y docker-registry")
	}
	r, err := startRegistry(p.NetNS, p.Dir, p.pushImage)
	if err != nil {
		t.Fatal(err)
	}
	p.registry = r
	return r
}

// pushImage tags local as ref and pushes it with the podman CLI.
func (p *Podman) pushImage(ctx context.Context, local, ref string) error {
	for _, args := range [][]string{{"tag", local, ref}, {"push", "--quiet", "--tls-verify=false", ref}} {
		if out, err := p.podmanCmd(ctx, args...).CombinedOutput(); err != nil {
			return fmt.Errorf("podman %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// Close removes every container (so podman deletes their network
// namespaces under /run/netns), stops the registry and the service
// (SIGTERM to its PID, SIGKILL after 30 s), ends what it left in the
// namespace, deletes the namespace and removes the files.
func (p *Podman) Close() error {
	var errs []error
	if p.registry != nil {
		errs = append(errs, p.registry.stop())
		p.registry = nil
	}
	if p.cmd != nil {
		if out, err := p.PodmanCmd("rm", "--all", "--force", "--time", "0").CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("removing podman containers: %v: %s", err, out))
		}
		cmd, exited := p.cmd, p.exited
		p.cmd = nil
		errs = append(errs, stopDaemon(cmd, exited, "podman system service"))
	}
	if p.cli != nil {
		p.cli.Close()
	}
	errs = append(errs, removeNamespace(p.NetNS, p.Dir))
	return errors.Join(errs...)
}

// logTail returns the end of the service's log, for error messages.
func (p *Podman) logTail() string { return tailFile(filepath.Join(p.Dir, "podman.log")) }

// PodmanCmd returns the command that runs the podman CLI as a client of
// the service (podman --remote), with this instance's configuration.
func (p *Podman) PodmanCmd(args ...string) *exec.Cmd {
	return p.podmanCmd(context.Background(), args...)
}

// podmanCmd is PodmanCmd, killed when ctx is done.
func (p *Podman) podmanCmd(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "podman", append([]string{"--remote", "--url", p.Host}, args...)...)
	cmd.Dir, cmd.Env = p.Dir, p.env()
	return cmd
}

// Podman runs the podman CLI against the service and returns its trimmed
// standard output; a failure fails the test with the CLI's output.
func (p *Podman) Podman(t testing.TB, args ...string) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := p.PodmanCmd(args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("podman %s: %v\n%s%s\nservice log:\n%s", strings.Join(args, " "), err, out, stderr.Bytes(), p.logTail())
	}
	return strings.TrimSpace(string(out))
}

// Run runs `podman run -d ARGS…` and returns the new container's id; the
// container is removed (forcibly) when the test ends.
func (p *Podman) Run(t testing.TB, args ...string) string {
	t.Helper()
	id := p.Podman(t, append([]string{"run", "-d"}, args...)...)
	t.Cleanup(func() { p.Remove(id) })
	return id
}

// Create runs `podman create ARGS…` and returns the new container's id;
// the container is removed when the test ends.
func (p *Podman) Create(t testing.TB, args ...string) string {
	t.Helper()
	id := p.Podman(t, append([]string{"create"}, args...)...)
	t.Cleanup(func() { p.Remove(id) })
	return id
}

// Remove removes a container by name or id, forcibly, with its anonymous
// volumes; a container already gone is not an error.
func (p *Podman) Remove(ref string) {
	p.PodmanCmd("rm", "--force", "--volumes", "--time", "0", ref).Run()
}

// BusyboxImage imports (podman import) a busybox image tagged name, with
// CMD /bin/sh and any further Dockerfile instructions in changes, and
// returns its id. Podman stores a name without a registry under
// localhost/, so local/busybox:latest becomes localhost/local/busybox:latest.
func (p *Podman) BusyboxImage(t testing.TB, name string, changes ...string) string {
	t.Helper()
	return p.Image(t, ImageSpec{Name: name, Busybox: true, Changes: append([]string{`CMD ["/bin/sh"]`}, changes...)})
}

// Image imports (podman import) the image spec describes and returns its
// id; a name without a registry goes under localhost/, as for
// BusyboxImage.
func (p *Podman) Image(t testing.TB, spec ImageSpec) string {
	t.Helper()
	var tarball bytes.Buffer
	if err := writeRootfs(&tarball, spec); err != nil {
		t.Fatal(err)
	}
	args := []string{"import", "--quiet"}
	for _, c := range spec.Changes {
		args = append(args, "--change", c)
	}
	cmd := p.PodmanCmd(append(args, "-", spec.Name)...)
	cmd.Stdin = &tarball
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("podman import %s: %v\n%s", spec.Name, err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ins, err := p.cli.ImageInspect(ctx, spec.Name)
	if err != nil {
		t.Fatalf("inspecting imported %s: %v", spec.Name, err)
	}
	return ins.ID
}

// RemoveImage removes an image reference (podman rmi: untagging it, and
// deleting the image when no other tag holds it); a missing one is not
// an error.
func (p *Podman) RemoveImage(t testing.TB, ref string) {
	t.Helper()
	out, err := p.PodmanCmd("rmi", "--ignore", ref).CombinedOutput()
	if err != nil {
		t.Fatalf("podman rmi %s: %v\n%s", ref, err, out)
	}
}
