// SPDX-License-Identifier: Apache-2.0

package docker

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/redact"
	"github.com/tailops/tailops/tools"
	"github.com/tailops/tailops/toolstest"
)

// create runs `docker create ARGS…` and removes the container when the
// test ends.
func (k *dockerLab) create(t testing.TB, args ...string) string {
	t.Helper()
	id := k.d.Docker(t, append([]string{"create"}, args...)...)
	t.Cleanup(func() { k.d.Remove(id) })
	return id
}

func TestDockerToolDeclarations(t *testing.T) {
	t.Parallel()
	ts, err := New(Config{Host: "unix:///nonexistent.sock"})
	if err != nil {
		t.Fatal(err)
	}
	specs := map[string]tools.Spec{}
	for _, s := range ts.Tools() {
		specs[s.Name()] = s
	}
	for _, tc := range []struct {
		name                                         string
		scope                                        auth.Scope
		risk                                         tools.Risk
		readOnly, destructive, idempotent, openWorld bool
	}{
		{"list_containers", auth.ScopeContainerRead, tools.RiskLow, true, false, true, false},
		{"inspect_container", auth.ScopeContainerRead, tools.RiskModerate, true, false, true, false},
		{"get_container_logs", auth.ScopeContainerRead, tools.RiskModerate, true, false, true, false},
		{"get_container_stats", auth.ScopeContainerRead, tools.RiskLow, true, false, true, false},
		{"list_images", auth.ScopeContainerRead, tools.RiskLow, true, false, true, false},
		{"list_networks", auth.ScopeContainerRead, tools.RiskLow, true, false, true, false},
		{"list_volumes", auth.ScopeContainerRead, tools.RiskLow, true, false, true, false},
		{"start_container", auth.ScopeContainerWrite, tools.RiskHigh, false, false, true, false},
		{"stop_container", auth.ScopeContainerWrite, tools.RiskHigh, false, true, true, false},
		{"restart_container", auth.ScopeContainerWrite, tools.RiskHigh, false, true, false, false},
		{"update_container", auth.ScopeContainerAdmin, tools.RiskCritical, false, true, false, true},
		{"remove_container", auth.ScopeContainerAdmin, tools.RiskCritical, false, true, false, false},
		{"pull_image", auth.ScopeDockerAdmin, tools.RiskCritical, false, false, true, true},
		{"exec_in_container", auth.ScopeContainerAdmin, tools.RiskCritical, false, true, false, false},
		{"check_image_updates", auth.ScopeContainerRead, tools.RiskLow, true, false, true, true},
	} {
		s, ok := specs[tc.name]
		if !ok {
			t.Errorf("%s: not declared", tc.name)
			continue
		}
		a := s.Tool.Annotations
		if err := s.Validate(); err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		got := []bool{*a.ReadOnlyHint, *a.DestructiveHint, *a.IdempotentHint, *a.OpenWorldHint}
		want := []bool{tc.readOnly, tc.destructive, tc.idempotent, tc.openWorld}
		if s.Scope != tc.scope || s.Risk != tc.risk || !slices.Equal(got, want) || !slices.Equal(s.Needs.Sockets, []string{"/nonexistent.sock"}) {
			t.Errorf("%s: scope %s risk %s hints %v sockets %v; want %s %s %v the endpoint's", tc.name, s.Scope, s.Risk, got, s.Needs.Sockets, tc.scope, tc.risk, want)
		}
		if s.NeedsApproval() != (tc.risk == tools.RiskCritical) {
			t.Errorf("%s: NeedsApproval = %v", tc.name, s.NeedsApproval())
		}
	}
	if len(specs) != 15 {
		t.Errorf("%d Docker tools, want 15", len(specs))
	}
}

// TestDockerErrorMessages checks how client errors become tool errors,
// including a connection lost mid-call, which is hard to time against a
// real daemon.
func TestDockerErrorMessages(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, host string
		err        error
		want       string
	}{
		{"socket permission", "", &net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("connect", syscall.EACCES)},
			"Docker daemon not reachable at unix:///run/x.sock: permission denied (listing containers failed): the user TailOps runs as needs access to the socket"},
		{"tcp refused by the sandbox", "tcp://docker.lan:2376", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.EACCES)},
			"at tcp://docker.lan:2376: permission denied (listing containers failed): the kernel sandbox lets the Docker tools connect only to DOCKER_HOST's port"},
		{"credentials in the address", "tcp://admin:hunter2@docker.lan:2376", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)},
			"Docker daemon not reachable at tcp://…@docker.lan:2376: is dockerd running?"},
		{"refused", "", &net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)},
			"Docker daemon not reachable at unix:///run/x.sock: is dockerd running? (listing containers failed)"},
		{"no socket", "", &net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("connect", syscall.ENOENT)},
			"Docker daemon not reachable at unix:///run/x.sock: is dockerd running?"},
		{"reset mid-call", "", &net.OpError{Op: "read", Net: "unix", Err: os.NewSyscallError("read", syscall.ECONNRESET)},
			"Docker daemon not reachable at unix:///run/x.sock: the connection was lost while listing containers"},
		{"eof mid-body", "", fmt.Errorf("decoding: %w", io.ErrUnexpectedEOF),
			"the connection was lost while listing containers; is dockerd restarting?"},
		{"daemon error", "", errors.New("Error response from daemon: conflict: unable to remove"), "listing containers: conflict: unable to remove"},
		{"cancelled", "", context.Canceled, "listing containers: context canceled"},
	} {
		e := &engine{cfg: Config{Host: cmp.Or(tc.host, "unix:///run/x.sock")}}
		got := e.fail(tc.err, "listing containers").Error()
		if !strings.Contains(got, tc.want) || strings.Contains(got, "hunter2") {
			t.Errorf("%s: %q, want it to contain %q (and no password)", tc.name, got, tc.want)
		}
	}
}

func TestDockerDaemonDownIsAToolError(t *testing.T) {
	t.Parallel()
	k := newDockerLabFor(t, nil, "unix://"+t.TempDir()+"/docker.sock")
	for _, tc := range []struct {
		tool string
		args map[string]any
	}{
		{"list_containers", nil},
		{"inspect_container", map[string]any{"container": "web"}},
		{"list_images", nil},
		{"stop_container", map[string]any{"container": "web"}},
		{"pull_image", map[string]any{"image": "busybox"}},
	} {
		msg := toolstest.Err(t, k.h, tc.tool, tc.args)
		if !strings.HasPrefix(msg, "Docker daemon not reachable at unix:///") || !strings.Contains(msg, "is dockerd running?") {
			t.Errorf("%s: %q", tc.tool, msg)
		}
	}
}

func TestDockerListContainers(t *testing.T) {
	k := newDockerLab(t)
	k.d.Run(t, "--name", "lc-web-1", "--init", "--label", "app=web", "--label", "tier=front",
		"--label", "note=quote \" and\nnewline", "-p", "127.0.0.1:18081:80", busyboxRef, "sleep", "600")
	web2 := k.d.Run(t, "--name", "lc-web-2", "--init", "--label", "app=web", busyboxRef, "sleep", "600")
	k.d.Run(t, "--name", "lc-db", "--init", "--label", "app=db", busyboxRef, "sleep", "600")
	k.create(t, "--name", "lc-new", "--label", "app=web", busyboxRef)
	k.d.Docker(t, "stop", "-t", "1", web2)

	checkListFilters(t, k, "lc-")

	checkListSummary(t, k, "lc-web-1", busyboxRef, []string{"bridge"}, "note", "quote \" and\nnewline")

	for _, tc := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"status": "sleeping"}, `invalid argument "status"`},
		{map[string]any{"label": []any{"=x"}}, `invalid argument "label"`},
		{map[string]any{"all": "yes"}, `invalid argument "all"`},
	} {
		if msg := toolstest.Err(t, k.h, "list_containers", tc.args); !strings.Contains(msg, tc.want) {
			t.Errorf("%v: %q, want %q", tc.args, msg, tc.want)
		}
	}
}

func TestDockerInspectContainer(t *testing.T) {
	k := newDockerLab(t)
	id := k.d.Run(t, "--name", "ic-app", "--init", "-e", "FOO=bar", "-e", "DB_PASSWORD=hunter2", "-e", "API_TOKEN=t0k",
		"--label", "app=web", "-p", "127.0.0.1:18082:80", "--restart", "on-failure:3", "-m", "32m", "--cap-drop", "CHOWN",
		"--health-cmd", "true", "--health-interval", "1s", "-w", "/tmp", "-u", "nobody", busyboxRef, "sleep", "600")
	for _, ref := range []string{"ic-app", "/ic-app", id, id[:10]} {
		d := toolstest.OK[ContainerDetails](t, k.h, "inspect_container", map[string]any{"container": ref})
		if d.ID != id || d.Name != "ic-app" {
			t.Fatalf("%s: resolved to %s %s", ref, d.ID, d.Name)
		}
	}
	d := toolstest.OK[ContainerDetails](t, k.h, "inspect_container", map[string]any{"container": "ic-app"})
	for _, want := range []string{"FOO=bar", "DB_PASSWORD=" + redact.Redacted, "API_TOKEN=" + redact.Redacted} {
		if !slices.Contains(d.Env, want) {
			t.Errorf("env %v lacks %s", d.Env, want)
		}
	}
	if b, _ := json.Marshal(d); strings.Contains(string(b), "hunter2") || strings.Contains(string(b), "t0k") {
		t.Errorf("a secret value is in the result: %s", b)
	}
	switch {
	case d.Image != busyboxRef, !d.State.Running, d.State.Status != "running":
		t.Errorf("image/state: %+v", d)
	case d.Labels["app"] != "web", d.User != "nobody", d.WorkingDir != "/tmp", !slices.Equal(d.Cmd, []string{"sleep", "600"}):
		t.Errorf("config: %+v", d)
	case d.Restart != RestartPolicy{Name: "on-failure", MaximumRetryCount: 3}:
		t.Errorf("restart policy: %+v", d.Restart)
	case d.Resources.MemoryBytes != 32<<20, !slices.Equal(d.CapDrop, []string{"CAP_CHOWN"}) && !slices.Equal(d.CapDrop, []string{"CHOWN"}):
		t.Errorf("resources/caps: %+v %v", d.Resources, d.CapDrop)
	case d.Healthcheck == nil || d.Healthcheck.Interval != "1s":
		t.Errorf("healthcheck: %+v", d.Healthcheck)
	case len(d.Ports) != 1 || d.Ports[0].Public != 18082 || d.Ports[0].HostIP != "127.0.0.1":
		t.Errorf("ports: %+v", d.Ports)
	case len(d.Networks) != 1 || d.Networks[0].Network != "bridge" || d.Networks[0].IPAddress == "":
		t.Errorf("networks: %+v", d.Networks)
	case d.LogConfig.Type != "json-file":
		t.Errorf("log config: %+v", d.LogConfig)
	}
}

func TestDockerUnknownAndAmbiguousContainers(t *testing.T) {
	k := newDockerLab(t)
	if msg := toolstest.Err(t, k.h, "inspect_container", map[string]any{"container": "no-such-thing"}); msg != `no container matches "no-such-thing"` {
		t.Errorf("unknown: %q", msg)
	}
	for _, bad := range []string{"../containers/json", "a b", "", "x?all=1"} {
		if msg := toolstest.Err(t, k.h, "inspect_container", map[string]any{"container": bad}); !strings.Contains(msg, `invalid argument "container"`) {
			t.Errorf("%q: %q", bad, msg)
		}
	}
	checkIDPrefixes(t, k, "amb", func(name string) string { return k.create(t, "--name", name, busyboxRef) }, "stop_container")
}

func TestDockerContainerLogs(t *testing.T) {
	k := newDockerLab(t)
	// The daemon reads the two streams from separate pipes, so only lines
	// written some time apart keep their order across streams.
	id := k.d.Run(t, "--name", "lg-both", "--init", busyboxRef, "sh", "-c",
		`for i in 1 2 3 4 5; do echo out$i; sleep 0.05; echo err$i >&2; sleep 0.05; done; sleep 600`)
	toolstest.WaitFor(t, "ten log lines", func() bool {
		out, _ := k.d.DockerCmd("logs", id).CombinedOutput()
		return strings.Contains(string(out), "err5")
	})
	checkContainerLogs(t, k, "lg-both", id)
	t.Run("text", func(t *testing.T) {
		res := toolstest.Call(t, k.h, "get_container_logs", map[string]any{"container": "lg-both", "tail": 1})
		if text := toolstest.Text(res); text != "stderr | err5\n" {
			t.Errorf("text rendering: %q", text)
		}
	})

	t.Run("byte cap keeps the newest lines", func(t *testing.T) {
		k.d.Run(t, "--name", "lg-long", "--init", busyboxRef, "sh", "-c",
			`i=0; while [ $i -lt 50 ]; do i=$((i+1)); printf 'line%03d %0100d\n' $i 0; done; sleep 600`)
		toolstest.WaitFor(t, "fifty lines", func() bool { return strings.Contains(k.d.Docker(t, "logs", "lg-long"), "line050") })
		l := toolstest.OK[ContainerLogs](t, k.h, "get_container_logs", map[string]any{"container": "lg-long", "max_bytes": 1024})
		size := 0
		for _, x := range l.Lines {
			size += len(x.Text)
		}
		if !l.Truncated || size > 1024 || len(l.Lines) != 1024/108 || !strings.HasPrefix(l.Lines[len(l.Lines)-1].Text, "line050 ") {
			t.Errorf("truncated %v, %d lines, %d bytes, last %q", l.Truncated, len(l.Lines), size, l.Lines[len(l.Lines)-1].Text)
		}
	})

	t.Run("tty", func(t *testing.T) {
		k.d.Run(t, "--name", "lg-tty", "-t", "--init", busyboxRef, "sh", "-c", "echo hi; echo there >&2; sleep 600")
		toolstest.WaitFor(t, "tty output", func() bool { return strings.Contains(k.d.Docker(t, "logs", "lg-tty"), "there") })
		l := toolstest.OK[ContainerLogs](t, k.h, "get_container_logs", map[string]any{"container": "lg-tty"})
		if got := logLines(l); !slices.Equal(got, []string{"stdout:hi", "stdout:there"}) {
			t.Errorf("got %q", got)
		}
	})

	for _, tc := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"container": "lg-both", "tail": 0}, `invalid argument "tail"`},
		{map[string]any{"container": "lg-both", "since": "yesterday"}, `invalid argument "since"`},
		{map[string]any{"container": "lg-both", "max_bytes": 10}, `invalid argument "max_bytes"`},
		{map[string]any{"container": "lg-both", "stream": "stdin"}, `invalid argument "stream"`},
		{map[string]any{"container": "lg-none"}, `no container matches "lg-none"`},
	} {
		if msg := toolstest.Err(t, k.h, "get_container_logs", tc.args); !strings.Contains(msg, tc.want) {
			t.Errorf("%v: %q, want %q", tc.args, msg, tc.want)
		}
	}
}

func TestDockerContainerStats(t *testing.T) {
	k := newDockerLab(t)
	id := k.d.Run(t, "--name", "st-busy", "--init", "-m", "64m", "--cpus", "0.5", busyboxRef, "sh", "-c", "while :; do :; done")
	checkBusyStats(t, k, "st-busy", id, 2) // tini and sh
	k.d.Docker(t, "stop", "-t", "0", id)
	if msg := toolstest.Err(t, k.h, "get_container_stats", map[string]any{"container": "st-busy"}); msg != `container "st-busy" is exited: only running containers have resource usage` {
		t.Errorf("stopped: %q", msg)
	}
}

func TestDockerImagesNetworksVolumes(t *testing.T) {
	k := newDockerLab(t)
	k.d.Docker(t, "network", "create", "--subnet", "172.31.251.0/24", "--gateway", "172.31.251.1", "--label", "team=ops", "inv-net")
	t.Cleanup(func() { k.d.DockerCmd("network", "rm", "inv-net").Run() })
	k.d.Docker(t, "volume", "create", "--label", "backup=daily", "inv-vol")
	t.Cleanup(func() { k.d.DockerCmd("volume", "rm", "inv-vol").Run() })

	imgs := toolstest.OK[ImageList](t, k.h, "list_images", map[string]any{"reference": "local/busybox"})
	if imgs.Count != 1 || !slices.Equal(imgs.Images[0].Tags, []string{busyboxRef}) || imgs.Images[0].SizeBytes < 500_000 ||
		!strings.HasPrefix(imgs.Images[0].ID, "sha256:") || imgs.Images[0].Dangling {
		t.Errorf("images: %+v", imgs)
	}
	if all := toolstest.OK[ImageList](t, k.h, "list_images", nil); all.Count < 1 {
		t.Errorf("no images without a filter")
	}
	if none := toolstest.OK[ImageList](t, k.h, "list_images", map[string]any{"reference": "nothing/here"}); none.Count != 0 {
		t.Errorf("filter matched %+v", none)
	}

	nets := toolstest.OK[NetworkList](t, k.h, "list_networks", nil)
	var names []string
	var inv *NetworkSummary
	for i, n := range nets.Networks {
		names = append(names, n.Name)
		if n.Name == "inv-net" {
			inv = &nets.Networks[i]
		}
	}
	for _, want := range []string{"bridge", "host", "none", "inv-net"} {
		if !slices.Contains(names, want) {
			t.Errorf("networks %v lack %s", names, want)
		}
	}
	if inv == nil || inv.Driver != "bridge" || inv.Labels["team"] != "ops" ||
		!slices.Equal(inv.Subnets, []Subnet{{Subnet: "172.31.251.0/24", Gateway: "172.31.251.1"}}) {
		t.Errorf("inv-net: %+v", inv)
	}

	vols := toolstest.OK[VolumeList](t, k.h, "list_volumes", nil)
	found := false
	for _, v := range vols.Volumes {
		if v.Name == "inv-vol" {
			found = v.Driver == "local" && v.Labels["backup"] == "daily" && strings.HasPrefix(v.Mountpoint, k.d.Dir) && v.Created != ""
			if !found {
				t.Errorf("inv-vol: %+v", v)
			}
		}
	}
	if !found {
		t.Errorf("volumes %+v lack inv-vol", vols)
	}
}

func TestDockerStartStopRestart(t *testing.T) {
	k := newDockerLab(t)
	id := k.d.Run(t, "--name", "ssr-app", "--init", busyboxRef, "sleep", "600")
	checkStartStopRestart(t, k, "ssr-app", id)
	if msg := toolstest.Err(t, k.h, "stop_container", map[string]any{"container": "ssr-app", "timeout": 601}); !strings.Contains(msg, `invalid argument "timeout"`) {
		t.Errorf("timeout 601: %q", msg)
	}
	// Names are data: they reach the log only as attribute values.
	var rec map[string]any
	for _, line := range strings.Split(strings.TrimSpace(k.logs.String()), "\n") {
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		if rec["container"] != "ssr-app" || !strings.HasPrefix(rec["msg"].(string), "docker ") {
			t.Errorf("log record %v", rec)
		}
	}
}

func TestDockerRemoveContainer(t *testing.T) {
	k := newDockerLab(t)
	run := k.d.Run(t, "--name", "rm-running", "--init", busyboxRef, "sleep", "600")
	stopped := k.create(t, "--name", "rm-stopped", busyboxRef)

	checkRemoveContainer(t, k, "rm-running", run, "rm-stopped", stopped)
}

// TestDockerDaemonRestart stops the shared daemon under the tools and
// starts it again: the same tools (same client) must report the outage
// clearly and work again afterwards, with nothing restarted on our side.
func TestDockerDaemonRestart(t *testing.T) {
	k := newDockerLab(t)
	k.create(t, "--name", "dr-app", "--init", busyboxRef, "sleep", "600")
	k.d.Run(t, "--name", "dr-busy", "--init", busyboxRef, "sleep", "600")
	toolstest.OK[ContainerDetails](t, k.h, "inspect_container", map[string]any{"container": "dr-app"})
	// get_container_stats takes two samples apart; the daemon goes away
	// between them (it serves while it shuts down, so give it time).
	k.e.statsInterval = 4 * time.Second
	statsErr := make(chan string, 1)
	stats := k.h.Spec(t, "get_container_stats")
	go func() {
		res, err := stats.Handler(context.Background(),
			mcp.CallToolRequest{Params: mcp.CallToolParams{Name: "get_container_stats", Arguments: map[string]any{"container": "dr-busy"}}})
		switch {
		case err != nil:
			statsErr <- "Go error: " + err.Error()
		case !res.IsError:
			statsErr <- "no error"
		default:
			statsErr <- toolstest.Text(res)
		}
	}()
	time.Sleep(150 * time.Millisecond)
	if err := k.d.StopDaemon(); err != nil {
		t.Fatal(err)
	}
	if msg := <-statsErr; !strings.HasPrefix(msg, "Docker daemon not reachable at "+k.d.Host+": ") {
		t.Errorf("daemon stopped mid-call: %q", msg)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			k.d.StartDaemon()
		}
	})
	for _, tc := range []struct {
		tool string
		args map[string]any
	}{
		{"list_containers", nil},
		{"inspect_container", map[string]any{"container": "dr-app"}},
		{"start_container", map[string]any{"container": "dr-app"}},
		{"list_volumes", nil},
	} {
		msg := toolstest.Err(t, k.h, tc.tool, tc.args)
		want := "Docker daemon not reachable at " + k.d.Host + ": is dockerd running?"
		if !strings.HasPrefix(msg, want) {
			t.Errorf("%s while down: %q, want %q…", tc.tool, msg, want)
		}
	}
	if err := k.d.StartDaemon(); err != nil {
		t.Fatal(err)
	}
	restarted = true
	d := toolstest.OK[ContainerDetails](t, k.h, "inspect_container", map[string]any{"container": "dr-app"})
	if d.Name != "dr-app" {
		t.Errorf("after restart: %+v", d)
	}
	a := toolstest.OK[ContainerAction](t, k.h, "start_container", map[string]any{"container": "dr-app"})
	if a.State != "running" {
		t.Errorf("start after restart: %+v", a)
	}
	k.d.Docker(t, "rm", "-f", "dr-app")
}

// TestContainerRefAndImagePattern: what may reach the Docker API as a
// container reference or an image pattern, lengths included.
func TestContainerRefAndImagePattern(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 255)
	for _, tc := range []struct {
		ref  string
		want bool
	}{
		{"web", true}, {"/web", true}, {"a", true}, {"0123abcdef", true}, {"my_app.v2-1", true},
		{long, true}, {"/" + long, true},
		{long + "a", false}, {"", false}, {"/", false}, {"-web", false}, {"_web", false},
		{"web;rm -rf", false}, {"../etc", false}, {"web name", false}, {"web\n", false}, {"//web", false},
	} {
		if got := isContainerRef(tc.ref); got != tc.want {
			t.Errorf("isContainerRef(%q) = %v, want %v", tc.ref, got, tc.want)
		}
	}
	for _, tc := range []struct {
		pattern string
		want    bool
	}{
		{"nginx", true}, {"nginx:1.*", true}, {"registry.local:5000/team/app@sha256:abc", true}, {"app:[0-9]?", true},
		{long, true}, {long + "a", false}, {"", false}, {"nginx latest", false}, {"nginx\x00", false}, {"a|b", false},
	} {
		if got := isImagePattern(tc.pattern); got != tc.want {
			t.Errorf("isImagePattern(%q) = %v, want %v", tc.pattern, got, tc.want)
		}
	}
}
