// SPDX-License-Identifier: Apache-2.0

// Package systemdtest runs a real systemd for tests: systemd as PID 1 of
// its own PID, mount, network (loopback only), UTS, IPC and cgroup
// namespaces, over a read-only view of this machine's root with tmpfs on
// every place it writes, running the real dbus-daemon, polkitd and
// systemd-journald of the machine's Debian packages. Units a test needs
// are written into the bed's /etc/systemd/system; the bed's /srv is a
// directory of the test's, to put binaries in, and its /run/dbus one too,
// so that the bus socket has a plain host path.
//
// Nothing it starts touches the host: the host's root is read-only inside
// the bed (so systemd-tmpfiles and the like cannot change it, and they are
// masked anyway), or, with Options.WritableRoot, an overlay whose changes
// stay in the bed, the network namespace has only loopback, and stopping
// the bed kills its PID 1 (and with it every process in it) by PID.
// Missing components fail the test with the command that installs them.
package systemdtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Install is the command that installs what the bed needs.
const Install = "apt-get install -y systemd dbus polkitd util-linux"

// Bed is a running systemd test bed.
type Bed struct {
	// PID is the bed's systemd (its PID 1) as this process sees it.
	PID int
	// Srv is the host directory that is /srv inside the bed.
	Srv string

	dir    string
	cgroup string
	cmd    *exec.Cmd
	exited chan struct{}
}

// masked are units the bed never runs: those that write to the host's
// devices, kernel settings or files, and those it does not need.
var masked = []string{
	"systemd-tmpfiles-setup.service", "systemd-tmpfiles-setup-dev.service", "systemd-tmpfiles-clean.timer",
	"systemd-remount-fs.service", "systemd-udevd.service", "systemd-udev-trigger.service", "systemd-sysctl.service",
	"systemd-modules-load.service", "systemd-random-seed.service", "systemd-update-utmp.service",
	"systemd-machine-id-commit.service", "systemd-sysusers.service", "systemd-firstboot.service",
	"systemd-hwdb-update.service", "systemd-binfmt.service", "systemd-pstore.service", "systemd-timesyncd.service",
	"ldconfig.service", "systemd-journal-catalog-update.service", "systemd-update-done.service",
	"systemd-logind.service", "getty.target", "console-getty.service",
	"apt-daily.timer", "apt-daily-upgrade.timer", "e2scrub_all.timer", "logrotate.timer", "man-db.timer",
	"fstrim.timer", "dpkg-db-backup.timer",
}

// target is the bed's default target: the bus, polkit and the journal.
const target = `[Unit]
Description=TailOps systemd test bed
Wants=dbus.socket polkit.service systemd-journald.socket
`

// boot is run by unshare as the namespaces' first process: it builds the
// bed's root and execs systemd as PID 1 in it.
const boot = `set -e
W=$1
R=$W/root
mount -t tmpfs tmpfs "$R"
mkdir -p "$R/r"
if [ "$2" = overlay ]; then
  # The host's root as the lower layer of an overlay whose upper layer is
  # on the bed's tmpfs: writable in the bed, unchanged on the host.
  mkdir -p "$R/up" "$R/work"
  mount -t overlay -o lowerdir=/,upperdir="$R/up",workdir="$R/work" overlay "$R/r"
  mount --rbind /dev "$R/r/dev"
  mount --rbind /sys "$R/r/sys"
else
  mount --rbind / "$R/r"
  mount -o remount,bind,ro "$R/r"
fi
for d in run tmp var/tmp var/log/journal var/lib/systemd etc/systemd/system etc/polkit-1/rules.d srv; do
  [ -d "$R/r/$d" ] || { echo "the bed needs $d to exist on the host" >&2; exit 1; }
  mount -t tmpfs -o mode=755 tmpfs "$R/r/$d"
done
chmod 1777 "$R/r/tmp" "$R/r/var/tmp"
mount -t proc proc "$R/r/proc"
mount -t cgroup2 cgroup2 "$R/r/sys/fs/cgroup"
mount --bind "$W/srv" "$R/r/srv"
mkdir -p "$R/r/run/dbus"
mount --bind "$W/dbus" "$R/r/run/dbus"
cp -a "$W/units/." "$R/r/etc/systemd/system/"
ip link set lo up 2>/dev/null || true
cd "$R/r"
exec chroot . /usr/bin/env -i container=tailops-systemdtest PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  /lib/systemd/systemd --system --unit=tailops-testbed.target --show-status=no
`

// cgroup2Root returns where this machine's cgroup v2 hierarchy is
// mounted: /sys/fs/cgroup (unified) or /sys/fs/cgroup/unified (hybrid).
func cgroup2Root() (string, error) {
	for _, p := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		var st syscall.Statfs_t
		if syscall.Statfs(p, &st) == nil && st.Type == 0x63677270 { // CGROUP2_SUPER_MAGIC
			return p, nil
		}
	}
	return "", errors.New("no cgroup2 hierarchy at /sys/fs/cgroup or /sys/fs/cgroup/unified")
}

// Options are a bed's options; the zero value is the bed Start boots.
type Options struct {
	// WritableRoot makes the bed's root an overlay of the host's root with
	// an upper layer of its own (tmpfs): what runs in the bed may change
	// any file (dpkg installing a package, say), and the host sees none of
	// it. Else the host's root is read-only in the bed.
	WritableRoot bool
}

// Start boots a bed and stops it when the test ends. It fails the test
// when a component is missing or systemd does not reach a running state
// with the bus and polkit up within 30 seconds.
func Start(t testing.TB) *Bed {
	t.Helper()
	return StartWith(t, Options{})
}

// StartWith boots a bed as Start does, with options.
func StartWith(t testing.TB, o Options) *Bed {
	t.Helper()
	for _, p := range []string{"/lib/systemd/systemd", "/usr/bin/dbus-daemon", "/usr/lib/polkit-1/polkitd", "/usr/bin/unshare", "/usr/bin/nsenter"} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("the systemd test bed needs %s: %s", p, Install)
		}
	}
	cgRoot, err := cgroup2Root()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "systemdtest-")
	if err != nil {
		t.Fatal(err)
	}
	b := &Bed{dir: dir, Srv: filepath.Join(dir, "srv"), exited: make(chan struct{})}
	b.cgroup = filepath.Join(cgRoot, filepath.Base(dir))
	t.Cleanup(func() {
		if err := b.stop(); err != nil {
			t.Error(err)
		}
	})
	for _, d := range []string{"root", "srv", "units", "dbus"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	units := filepath.Join(dir, "units")
	for _, u := range masked {
		if err := os.Symlink("/dev/null", filepath.Join(units, u)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(units, "tailops-testbed.target"), []byte(target), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "boot.sh"), []byte(boot), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(b.cgroup, 0o755); err != nil {
		t.Fatalf("creating the bed's cgroup: %v", err)
	}
	logf, err := os.Create(filepath.Join(dir, "console.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	// The shell joins the bed's cgroup, then becomes unshare, whose child
	// becomes systemd: PID 1 of the new namespaces, with that cgroup as
	// the root of its cgroup namespace.
	root := "ro"
	if o.WritableRoot {
		root = "overlay"
	}
	b.cmd = exec.Command("/bin/sh", "-c", `echo $$ > "$1/cgroup.procs" && exec unshare --pid --fork --kill-child --mount --net --uts --ipc --cgroup --propagation private /bin/sh "$2/boot.sh" "$2" "$3"`,
		"sh", b.cgroup, dir, root)
	b.cmd.Stdout, b.cmd.Stderr = logf, logf
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { b.cmd.Wait(); close(b.exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b.PID == 0 {
			b.PID = childPID(b.cmd.Process.Pid)
		}
		if b.PID != 0 {
			out, _ := b.Command(context.Background(), "systemctl", "is-system-running").Output()
			state := strings.TrimSpace(string(out))
			if state == "running" || state == "degraded" {
				if _, err := os.Stat(b.Path("/run/dbus/system_bus_socket")); err == nil {
					break
				}
			}
		}
		select {
		case <-b.exited:
			t.Fatalf("the systemd test bed exited: %s", tail(filepath.Join(dir, "console.log")))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the systemd test bed did not come up in 30s: %s", tail(filepath.Join(dir, "console.log")))
		}
	}
	// polkit is started by its unit; wait until it owns its name.
	b.WaitActive(t, "polkit.service")
	return b
}

// childPID returns the first child of pid (unshare's: systemd), or 0.
func childPID(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(f[0])
	if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", n)); strings.TrimSpace(string(comm)) != "systemd" {
		return 0
	}
	return n
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Path is the host path of path inside the bed.
func (b *Bed) Path(path string) string {
	return fmt.Sprintf("/proc/%d/root%s", b.PID, path)
}

// BusAddress is the bed's system bus as this process reaches it: the
// bed's /run/dbus is a directory of the host's (a path through
// /proc/PID/root would not do: a sandboxed process may not follow it).
func (b *Bed) BusAddress() string {
	return "unix:path=" + filepath.Join(b.dir, "dbus", "system_bus_socket")
}

// JournalDirs are the bed's journal directories as this process reads
// them.
func (b *Bed) JournalDirs() []string {
	return []string{b.Path("/var/log/journal"), b.Path("/run/log/journal")}
}

// Command returns a command run inside the bed's namespaces and root, as
// root.
func (b *Bed) Command(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "nsenter", append([]string{"-t", strconv.Itoa(b.PID), "-a", "-r", "-w", "--"}, args...)...)
}

// CommandAs returns a command run inside the bed as uid and gid.
func (b *Bed) CommandAs(ctx context.Context, uid, gid int, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "nsenter", append([]string{"-t", strconv.Itoa(b.PID), "-a", "-r", "-w",
		"-S", strconv.Itoa(uid), "-G", strconv.Itoa(gid), "--"}, args...)...)
}

// Run runs a command in the bed as root and returns its output; an error
// fails the test.
func (b *Bed) Run(t testing.TB, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	cmd := b.Command(t.Context(), args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s in the bed: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// WriteUnit writes a unit file into the bed's /etc/systemd/system and
// reloads systemd.
func (b *Bed) WriteUnit(t testing.TB, name, content string) {
	t.Helper()
	b.WriteUnitNoReload(t, name, content)
	b.Run(t, "systemctl", "daemon-reload")
}

// WriteUnitNoReload writes a unit file as WriteUnit does, without the
// reload: for many units, reloaded once.
func (b *Bed) WriteUnitNoReload(t testing.TB, name, content string) {
	t.Helper()
	if err := os.WriteFile(b.Path("/etc/systemd/system/"+name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// SetPolkitRule installs rule as /etc/polkit-1/rules.d/50-tailops.rules in
// the bed ("" removes it) and waits until polkit has read the rules again.
func (b *Bed) SetPolkitRule(t testing.TB, rule string) {
	t.Helper()
	p := b.Path("/etc/polkit-1/rules.d/50-tailops.rules")
	if rule == "" {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	} else if err := os.WriteFile(p, []byte(rule), 0o644); err != nil {
		t.Fatal(err)
	}
	// polkitd reloads its rules on a change of the directory; a restart
	// makes the change certain and observable.
	b.Run(t, "systemctl", "restart", "polkit.service")
	b.WaitActive(t, "polkit.service")
}

// WaitActive waits up to 10 seconds for a unit to be active.
func (b *Bed) WaitActive(t testing.TB, unit string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _ := b.Command(t.Context(), "systemctl", "is-active", unit).Output()
		if strings.TrimSpace(string(out)) == "active" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is not active in the bed after 10s: %s", unit, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop kills the bed's PID 1 by its PID (the kernel then kills every
// process in its PID namespace), waits for unshare, and removes the bed's
// cgroups and directory.
func (b *Bed) stop() error {
	if b.cmd != nil && b.cmd.Process != nil {
		if b.PID != 0 {
			syscall.Kill(b.PID, syscall.SIGKILL)
		}
		select {
		case <-b.exited:
		case <-time.After(10 * time.Second):
			b.cmd.Process.Kill()
			<-b.exited
		}
	}
	var errs []error
	if b.cgroup != "" {
		// Depth first: systemd's own cgroups, then the bed's.
		var dirs []string
		filepath.WalkDir(b.cgroup, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			var err error
			for range 50 { // the last processes may take a moment to be reaped
				if err = os.Remove(dirs[i]); err == nil || os.IsNotExist(err) {
					err = nil
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("removing the bed's cgroup: %w", err))
			}
		}
	}
	if err := os.RemoveAll(b.dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// InstallSelf copies the running test binary into the bed's /srv as name
// (once per bed) and returns its path inside the bed, for a helper
// process: the test binary run in the bed with -test.run naming a test
// that serves requests (StartHelper).
func (b *Bed) InstallSelf(t testing.TB, name string) string {
	t.Helper()
	dst := filepath.Join(b.Srv, name)
	if _, err := os.Stat(dst); err == nil {
		return "/srv/" + name
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	return "/srv/" + name
}

// Helper is a process in the bed that answers each line it reads with one
// line: a test's code run where the bed's polkit sees it.
type Helper struct {
	in  io.Writer
	out *bufio.Scanner
}

// StartHelper starts cmd (a command into the bed: Command, CommandAs, or
// systemd-run --pipe) as a Helper; its stdin is closed and it is waited
// for when the test ends.
func StartHelper(t testing.TB, cmd *exec.Cmd) *Helper {
	t.Helper()
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); cmd.Wait() })
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	return &Helper{in: in, out: sc}
}

// Ask sends line to the helper and returns its answer; the helper's exit
// fails the test.
func (h *Helper) Ask(t testing.TB, line string) string {
	t.Helper()
	fmt.Fprintf(h.in, "%s\n", line)
	if !h.out.Scan() {
		t.Fatalf("the helper exited: %v", h.out.Err())
	}
	return h.out.Text()
}
