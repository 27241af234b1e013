// SPDX-License-Identifier: Apache-2.0

// Package labtest runs real infrastructure for tests: a Docker daemon in
// a network namespace of its own, with its own data root, exec root and
// socket, local images made from busybox-static, and a local registry;
// an offline tailnet (testcontrol, DERP and STUN on loopback, tsnet nodes,
// a real tailscaled) inside a loopback-only namespace (tailnet*.go); the
// appliance image's rootfs and a dialer into a namespace (appliance.go,
// netns.go).
//
// Nothing it starts touches the host network: dockerd, its containers
// and the registry live in a namespace created for the test and deleted
// afterwards. Missing components fail the test with the command that
// installs them; nothing is skipped.
//
// A test binary shares one daemon through Shared, and stops it in
// TestMain:
//
//	func TestMain(m *testing.M) {
//		m.Run()
//		labtest.StopShared()
//	}
package labtest

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/client"
)

// Install is the command that installs everything labtest needs.
const Install = "apt-get install -y docker.io containerd runc busybox-static docker-registry"

// Dockerd is a Docker daemon running in a network namespace of its own.
// Its methods are safe for use by one test at a time.
type Dockerd struct {
	// Host is the daemon's address as DOCKER_HOST takes it:
	// unix:///…/docker.sock.
	Host string
	// NetNS is the name of the daemon's network namespace.
	NetNS string
	// Dir holds the daemon's data root, exec root, socket and logs.
	Dir string

	mu       sync.Mutex
	cmd      *exec.Cmd     // the running dockerd, or nil
	exited   chan struct{} // closed when cmd has exited
	cli      *client.Client
	registry *Registry
}

var nsSeq atomic.Int64

// requirement is a program labtest runs and the package that provides it.
type requirement struct{ bin, pkg string }

// requirements are the programs StartDockerd runs.
var requirements = []requirement{
	{"ip", "iproute2"},
	{"dockerd", "docker.io"},
	{"docker", "docker.io"},
	{"containerd", "containerd"},
	{"runc", "runc"},
	{"cgroupfs-mount", "cgroupfs-mount (a dependency of docker.io)"},
	{"busybox", "busybox-static"},
}

// Check reports what is missing to run a Docker daemon, as an error that
// says how to install it, or nil.
func Check() error {
	return checkRequirements(requirements, Install, "it creates network namespaces and runs dockerd")
}

// checkRequirements checks that this process is root (rootWhy says why
// that is needed) and that reqs and a static busybox are installed; the
// error names what is missing and the install command.
func checkRequirements(reqs []requirement, install, rootWhy string) error {
	if os.Geteuid() != 0 {
		return errors.New("labtest needs root: " + rootWhy)
	}
	var missing []string
	for _, r := range reqs {
		if _, err := exec.LookPath(r.bin); err != nil {
			missing = append(missing, fmt.Sprintf("%s (package %s)", r.bin, r.pkg))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s; install with: %s", strings.Join(missing, ", "), install)
	}
	if err := checkStatic(busyboxPath()); err != nil {
		return fmt.Errorf("%w; install busybox-static: %s", err, install)
	}
	return nil
}

func busyboxPath() string {
	p, err := exec.LookPath("busybox")
	if err != nil {
		return "/bin/busybox"
	}
	return p
}

// checkStatic reports an error unless path is a statically linked ELF
// binary, which is what an image without a libc needs.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked", path)
		}
	}
	return nil
}

// StartDockerd starts a daemon for one test and stops it, deleting its
// namespace and files, when the test ends. A missing component fails the
// test.
func StartDockerd(t testing.TB) *Dockerd {
	t.Helper()
	return forTest(t, NewDockerd)
}

var shared struct {
	once sync.Once
	d    *Dockerd
	err  error
}

// Shared returns the test binary's shared daemon, starting it on first
// use. Tests that use it must leave it as they found it (remove their
// containers) and must not run in parallel with StopDaemon. TestMain
// stops it with StopShared.
func Shared(t testing.TB) *Dockerd {
	t.Helper()
	shared.once.Do(func() { shared.d, shared.err = NewDockerd() })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.d
}

// StopShared stops the shared daemon if one was started, and deletes its
// namespace and files. Errors go to standard error: it runs after the
// tests, where nothing else can report them.
func StopShared() {
	if shared.d != nil {
		if err := shared.d.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "labtest:", err)
		}
	}
}

// NewDockerd creates a network namespace and starts a daemon in it. The
// caller must Close it.
func NewDockerd() (*Dockerd, error) {
	// A short directory: containerd's socket under the exec root must fit
	// in a unix socket path (108 bytes).
	dir, netns, err := prepare(Check, "labtest-")
	if err != nil {
		return nil, err
	}
	d := &Dockerd{Dir: dir, NetNS: netns, Host: "unix://" + filepath.Join(dir, "docker.sock")}
	if err := d.setup(); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

func (d *Dockerd) setup() error {
	if err := os.WriteFile(filepath.Join(d.Dir, "daemon.json"), []byte("{}\n"), 0o644); err != nil {
		return fmt.Errorf("writing daemon configuration: %w", err)
	}
	if err := addNetNS(&d.NetNS); err != nil {
		return err
	}
	cli, err := client.NewClientWithOpts(client.WithHost(d.Host), client.WithAPIVersionNegotiation())
	if err != nil {
		return fmt.Errorf("creating Docker client: %w", err)
	}
	d.cli = cli
	return d.StartDaemon()
}

// Client returns a Docker client for the daemon.
func (d *Dockerd) Client() *client.Client { return d.cli }

// cgroupScript mounts the cgroup hierarchies dockerd needs: `ip netns
// exec` gives the command a fresh /sys without them. The mounts live in
// that command's private mount namespace and vanish with it.
const cgroupScript = `cgroupfs-mount && mkdir -p /sys/fs/cgroup/systemd /sys/fs/cgroup/unified &&
mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd && mount -t cgroup2 none /sys/fs/cgroup/unified && `

// StartDaemon starts dockerd in the namespace and waits until it answers.
// The data root is kept across StopDaemon and StartDaemon, so images,
// networks, volumes and stopped containers survive a restart.
func (d *Dockerd) StartDaemon() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd != nil {
		return errors.New("dockerd is already running")
	}
	q := func(p string) string { return strconv.Quote(filepath.Join(d.Dir, p)) }
	script := cgroupScript + "exec dockerd --config-file " + q("daemon.json") +
		" --data-root " + q("root") + " --exec-root " + q("exec") + " --pidfile " + q("dockerd.pid") +
		" -H " + strconv.Quote(d.Host) + " --shutdown-timeout 3 --log-level warn"
	cmd, exited, err := startDaemon(d.NetNS, "", nil, script, filepath.Join(d.Dir, "dockerd.log"), "dockerd", d.cli)
	if err != nil {
		return err
	}
	d.cmd, d.exited = cmd, exited
	return nil
}

// StopDaemon stops dockerd (SIGTERM to its PID, SIGKILL after 30 s) and
// waits for it to exit. Running containers are stopped with it.
func (d *Dockerd) StopDaemon() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stopLocked()
}

func (d *Dockerd) stopLocked() error {
	if d.cmd == nil {
		return nil
	}
	cmd, exited := d.cmd, d.exited
	d.cmd = nil
	return stopDaemon(cmd, exited, "dockerd")
}

// Close stops the registry and the daemon, ends any process the daemon
// left in the namespace, deletes the namespace and removes the files.
func (d *Dockerd) Close() error {
	var errs []error
	if d.registry != nil {
		errs = append(errs, d.registry.stop())
	}
	errs = append(errs, d.StopDaemon())
	if d.cli != nil {
		d.cli.Close()
	}
	errs = append(errs, removeNamespace(d.NetNS, d.Dir))
	return errors.Join(errs...)
}

// endNamespacePIDs ends what dockerd started in its namespace and left
// behind (containerd, shims, docker-proxy): SIGTERM, then SIGKILL.
func endNamespacePIDs(ns string) error {
	for i := 0; i < 50; i++ {
		pids := namespacePIDs(ns)
		if len(pids) == 0 {
			return nil
		}
		sig := syscall.SIGTERM
		if i >= 30 {
			sig = syscall.SIGKILL
		}
		for _, pid := range pids {
			syscall.Kill(pid, sig)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("processes %v still run in network namespace %s", namespacePIDs(ns), ns)
}

func namespacePIDs(ns string) []int {
	out, _ := exec.Command("ip", "netns", "pids", ns).Output()
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// sweepStale deletes namespaces left by labtest runs whose test binary no
// longer exists (killed before its cleanup ran) and that hold no process.
func sweepStale() {
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		rest, ok := strings.CutPrefix(name, "labtest-")
		if !ok {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid == os.Getpid() || syscall.Kill(pid, 0) == nil || len(namespacePIDs(name)) > 0 {
			continue
		}
		exec.Command("ip", "netns", "delete", name).Run()
	}
}

// Docker runs the docker CLI against the daemon and returns its trimmed
// standard output; a failure fails the test with the CLI's output.
func (d *Dockerd) Docker(t testing.TB, args ...string) string {
	t.Helper()
	out, err := d.DockerCmd(args...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("docker %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
	}
	return strings.TrimSpace(string(out))
}

// DockerCmd returns the command that runs the docker CLI against the
// daemon, with a configuration directory of the daemon's own so the
// user's ~/.docker is neither read nor written.
func (d *Dockerd) DockerCmd(args ...string) *exec.Cmd {
	cmd := exec.Command("docker", append([]string{"-H", d.Host}, args...)...)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+filepath.Join(d.Dir, "cli"))
	return cmd
}

// Run runs `docker run -d ARGS…` and returns the new container's id. The
// container is removed (forcibly) when the test ends.
func (d *Dockerd) Run(t testing.TB, args ...string) string {
	t.Helper()
	id := d.Docker(t, append([]string{"run", "-d"}, args...)...)
	t.Cleanup(func() { d.Remove(id) })
	return id
}

// Remove removes a container by name or id, forcibly, with its anonymous
// volumes; a container already gone is not an error.
func (d *Dockerd) Remove(ref string) {
	d.DockerCmd("rm", "-f", "-v", ref).Run()
}
