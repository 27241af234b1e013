// SPDX-License-Identifier: Apache-2.0

package docker

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/mcptest"
	"github.com/mark3labs/mcp-go/server"

	"github.com/tailops/tailops/labtest"
	"github.com/tailops/tailops/toolstest"
)

// TestMain stops the Docker daemon the Docker tests share, if any of
// them started it.
func TestMain(m *testing.M) {
	m.Run()
	labtest.StopShared()
}

// busyboxRef is the local image most Docker tests run.
const busyboxRef = "local/busybox:latest"

var busyboxOnce sync.Once

// dockerLab is the Docker tools over the shared test daemon, called at
// their handlers (toolstest.Direct), as the server calls them once a
// call is authorized and approved: the tests need critical tools without
// an approval gate, contexts a client cannot send (a server shutdown)
// and the engine's internals.
type dockerLab struct {
	d    *labtest.Dockerd
	ts   *Toolset
	cli  *client.Client
	e    *engine
	h    *toolstest.Handlers
	logs *toolstest.LogBuffer // the tools' log, as JSON lines
}

func newDockerLab(t testing.TB) *dockerLab {
	t.Helper()
	d := labtest.Shared(t)
	busyboxOnce.Do(func() { d.BusyboxImage(t, busyboxRef) })
	return newDockerLabFor(t, d, d.Host)
}

// newDockerLabFor builds the tools against host (which may differ from
// d's, to test an unreachable daemon).
func newDockerLabFor(t testing.TB, d *labtest.Dockerd, host string) *dockerLab {
	t.Helper()
	logs := new(toolstest.LogBuffer)
	ts, err := New(Config{Host: host, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	k := &dockerLab{d: d, ts: ts, e: &ts.engine, h: toolstest.Direct(ts.Tools()), logs: logs}
	if d != nil {
		k.cli = d.Client()
	}
	return k
}

// inspect returns a container's raw inspect data from the daemon.
func (k *dockerLab) inspect(t testing.TB, ref string) container.InspectResponse {
	t.Helper()
	c, err := k.cli.ContainerInspect(context.Background(), ref)
	if err != nil {
		t.Fatalf("inspecting %s: %v", ref, err)
	}
	return c
}

// names returns the names of a list result, in order.
func containerNames(l ContainerList) []string {
	var out []string
	for _, c := range l.Containers {
		out = append(out, c.Name)
	}
	return out
}

// onlyPrefixed keeps names starting with prefix: other tests' containers
// are not this test's business.
func onlyPrefixed(names []string, prefix string) []string {
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out
}

// checkContainerLogs checks get_container_logs on the container name (id),
// which has written out1, err1, … out5, err5 alternately to stdout and
// stderr, some time apart: both streams in order, tail, each stream, the
// tail counted over both streams before the filter (as the daemon does),
// since, and timestamps. Shared by the dockerd and Podman tests.
func checkContainerLogs(t *testing.T, k *dockerLab, name, id string) {
	t.Helper()
	all := []string{"stdout:out1", "stderr:err1", "stdout:out2", "stderr:err2", "stdout:out3", "stderr:err3",
		"stdout:out4", "stderr:err4", "stdout:out5", "stderr:err5"}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	for _, tc := range []struct {
		name string
		args map[string]any
		want []string
	}{
		{"both streams in order", nil, all},
		{"tail", map[string]any{"tail": 3}, all[7:]},
		{"stdout only", map[string]any{"stream": "stdout"}, []string{"stdout:out1", "stdout:out2", "stdout:out3", "stdout:out4", "stdout:out5"}},
		{"stderr only", map[string]any{"stream": "stderr"}, []string{"stderr:err1", "stderr:err2", "stderr:err3", "stderr:err4", "stderr:err5"}},
		{"stdout tail", map[string]any{"stream": "stdout", "tail": 2}, []string{"stdout:out5"}},
		{"since duration", map[string]any{"since": "1h"}, all},
		{"since future time", map[string]any{"since": future}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := map[string]any{"container": name}
			for k, v := range tc.args {
				args[k] = v
			}
			l := toolstest.OK[ContainerLogs](t, k.h, "get_container_logs", args)
			if got := logLines(l); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if l.Truncated || l.Container != name || l.ID != id {
				t.Errorf("result: %+v", l)
			}
		})
	}
	t.Run("timestamps", func(t *testing.T) {
		l := toolstest.OK[ContainerLogs](t, k.h, "get_container_logs", map[string]any{"container": name, "timestamps": true})
		if got := logLines(l); !slices.Equal(got, all) {
			t.Fatalf("got %v", got)
		}
		for _, x := range l.Lines {
			ts, err := time.Parse(time.RFC3339Nano, x.Time)
			if err != nil || time.Since(ts) > time.Minute {
				t.Errorf("line %q: time %q (%v)", x.Text, x.Time, err)
			}
		}
	})
}

// logLines is a logs result as "stream:text" lines.
func logLines(l ContainerLogs) []string {
	var out []string
	for _, x := range l.Lines {
		out = append(out, x.Stream+":"+x.Text)
	}
	return out
}

// checkListFilters checks list_containers' filters on four containers
// named PREFIX web-1 (labels app=web, tier=front; running), web-2
// (app=web; stopped), db (app=db; running) and new (app=web; created),
// counting only names with the prefix. Shared by the dockerd and Podman
// tests.
func checkListFilters(t *testing.T, k *dockerLab, prefix string) {
	t.Helper()
	n := func(names ...string) []string {
		for i := range names {
			names[i] = prefix + names[i]
		}
		return names
	}
	for _, tc := range []struct {
		name string
		args map[string]any
		want []string
	}{
		{"running", nil, n("db", "web-1")},
		{"all", map[string]any{"all": true}, n("db", "new", "web-1", "web-2")},
		{"name", map[string]any{"name": "web"}, n("web-1")},
		{"name all", map[string]any{"name": prefix + "web", "all": true}, n("web-1", "web-2")},
		{"name is not a pattern", map[string]any{"name": prefix + ".*", "all": true}, nil},
		{"label value", map[string]any{"label": []any{"app=web"}, "all": true}, n("new", "web-1", "web-2")},
		{"labels all match", map[string]any{"label": []any{"app=web", "tier=front"}}, n("web-1")},
		{"label key", map[string]any{"label": []any{"tier"}, "all": true}, n("web-1")},
		{"status exited", map[string]any{"status": "exited"}, n("web-2")},
		{"status created", map[string]any{"status": "created"}, n("new")},
		{"status running label", map[string]any{"status": "running", "label": []any{"app=db"}}, n("db")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := toolstest.OK[ContainerList](t, k.h, "list_containers", tc.args)
			got := onlyPrefixed(containerNames(l), prefix)
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if l.Count != len(l.Containers) {
				t.Errorf("count %d for %d containers", l.Count, len(l.Containers))
			}
		})
	}
}

// checkStartStopRestart drives the running container name (id) through
// stop, start and restart, twice where the second call changes nothing,
// and checks each result and the engine's own state. Shared by the
// dockerd and Podman tests.
func checkStartStopRestart(t *testing.T, k *dockerLab, name, id string) {
	t.Helper()
	started := func() string { return k.inspect(t, id).State.StartedAt }
	first := started()
	for _, tc := range []struct {
		tool    string
		args    map[string]any
		state   string
		changed bool
	}{
		{"stop_container", map[string]any{"timeout": 5}, "exited", true},
		{"stop_container", nil, "exited", false},
		{"start_container", nil, "running", true},
		{"start_container", nil, "running", false},
		{"restart_container", map[string]any{"timeout": 1}, "running", true},
		{"stop_container", map[string]any{"timeout": 0}, "exited", true},
		{"restart_container", nil, "running", true},
	} {
		args := map[string]any{"container": name}
		for k, v := range tc.args {
			args[k] = v
		}
		a := toolstest.OK[ContainerAction](t, k.h, tc.tool, args)
		if a.State != tc.state || a.Changed != tc.changed || a.ID != id || a.Container != name {
			t.Errorf("%s %v: %+v, want state %s changed %v", tc.tool, tc.args, a, tc.state, tc.changed)
		}
		if got := string(k.inspect(t, id).State.Status); got != tc.state {
			t.Errorf("%s: the engine says %s", tc.tool, got)
		}
	}
	if started() == first {
		t.Error("the container was never started again")
	}
}

// checkRemoveContainer checks remove_container on a running container
// (refused without force, then forced) and a stopped one (with volumes),
// then that a second removal says no container matches. Shared by the
// dockerd and Podman tests.
func checkRemoveContainer(t *testing.T, k *dockerLab, running, runningID, stopped, stoppedID string) {
	t.Helper()
	msg := toolstest.Err(t, k.h, "remove_container", map[string]any{"container": running})
	if want := fmt.Sprintf("container %q is running: stop it first, or pass force: true to kill and remove it", running); msg != want {
		t.Errorf("running without force: %q", msg)
	}
	if !k.inspect(t, runningID).State.Running {
		t.Error("refused removal stopped the container")
	}
	for _, tc := range []struct {
		args       map[string]any
		id         string
		wasRunning bool
	}{
		{map[string]any{"container": running, "force": true}, runningID, true},
		{map[string]any{"container": stopped, "volumes": true}, stoppedID, false},
	} {
		r := toolstest.OK[RemoveResult](t, k.h, "remove_container", tc.args)
		if !r.Removed || r.ID != tc.id || r.WasRunning != tc.wasRunning {
			t.Errorf("%v: %+v", tc.args, r)
		}
		if _, err := k.cli.ContainerInspect(context.Background(), tc.id); err == nil {
			t.Errorf("%v: container still exists", tc.args)
		}
	}
	if msg := toolstest.Err(t, k.h, "remove_container", map[string]any{"container": running, "force": true}); msg != fmt.Sprintf("no container matches %q", running) {
		t.Errorf("removed twice: %q", msg)
	}
}

// pullClient serves the lab's pull_image through a real MCP client that
// records progress notifications. call makes one pull (with a progress
// token unless token is nil). The server is mcp-go's bare one, not
// toolstest's: TailOps' approval gate reports progress of its own, and
// these notifications must be the pull's alone.
func pullClient(t *testing.T, k *dockerLab) (call func(image string, token any) *mcp.CallToolResult, notes *toolstest.ProgressNotes) {
	t.Helper()
	spec := k.h.Spec(t, "pull_image")
	srv, err := mcptest.NewServer(t, server.ServerTool{Tool: spec.Tool, Handler: spec.Handler})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	notes = toolstest.RecordProgress(srv.Client())
	call = func(image string, token any) *mcp.CallToolResult {
		var req mcp.CallToolRequest
		req.Params.Name = "pull_image"
		req.Params.Arguments = map[string]any{"image": image}
		if token != nil {
			req.Params.Meta = &mcp.Meta{ProgressToken: token}
		}
		res, err := srv.Client().CallTool(context.Background(), req)
		if err != nil {
			t.Fatalf("pull_image %s: %v", image, err)
		}
		return res
	}
	return call, notes
}

// checkPullProgress waits for the notification that ends a pull (its
// message the result's status) and checks them all: at least a start,
// some layer progress and the end; every one with the token; progress
// rising; the last at its total; and at least one message layer accepts.
// It returns the notifications.
func checkPullProgress(t *testing.T, notes *toolstest.ProgressNotes, token, status string, layer func(msg string) bool) []map[string]any {
	t.Helper()
	// Notifications travel apart from the response: wait for the last one.
	toolstest.WaitFor(t, "the final progress notification", func() bool {
		n := notes.Get()
		return len(n) > 0 && n[len(n)-1]["message"] == status
	})
	got := notes.Get()
	if len(got) < 3 {
		t.Errorf("%d progress notifications, want the start, layer progress and the end: %v", len(got), got)
		return got
	}
	last := -1.0
	for i, n := range got {
		p, _ := n["progress"].(float64)
		if n["progressToken"] != token || p <= last && i > 0 {
			t.Errorf("notification %d: %v (previous progress %v)", i, n, last)
		}
		last = p
	}
	if end := got[len(got)-1]; end["progress"] != end["total"] {
		t.Errorf("final notification %v: progress is not total", end)
	}
	if !slices.ContainsFunc(got, func(n map[string]any) bool { msg, _ := n["message"].(string); return layer(msg) }) {
		t.Errorf("no layer progress among %v", got)
	}
	return got
}

// keptField is one item of a container's configuration that
// update_container must carry to the new container.
type keptField struct {
	name string
	get  func(container.InspectResponse) any
}

// keptFields are the items both dockerd and Podman report the same way;
// each engine's test adds its own.
var keptFields = []keptField{
	{"name", func(c container.InspectResponse) any { return c.Name }},
	{"image reference", func(c container.InspectResponse) any { return c.Config.Image }},
	{"cmd", func(c container.InspectResponse) any { return c.Config.Cmd }},
	{"entrypoint", func(c container.InspectResponse) any { return c.Config.Entrypoint }},
	{"user", func(c container.InspectResponse) any { return c.Config.User }},
	{"working dir", func(c container.InspectResponse) any { return c.Config.WorkingDir }},
	{"labels", func(c container.InspectResponse) any { return c.Config.Labels }},
	{"stop timeout", func(c container.InspectResponse) any { return c.Config.StopTimeout }},
	{"binds", func(c container.InspectResponse) any { return c.HostConfig.Binds }},
	{"mounts", keptMounts},
	{"port bindings", func(c container.InspectResponse) any { return c.HostConfig.PortBindings }},
	{"restart policy", func(c container.InspectResponse) any { return c.HostConfig.RestartPolicy }},
	{"memory", func(c container.InspectResponse) any { return []int64{c.HostConfig.Memory, c.HostConfig.MemorySwap} }},
	{"cpus", func(c container.InspectResponse) any { return c.HostConfig.NanoCPUs }},
	{"cap add", func(c container.InspectResponse) any { return c.HostConfig.CapAdd }},
	{"cap drop", func(c container.InspectResponse) any { return c.HostConfig.CapDrop }},
	{"devices", func(c container.InspectResponse) any { return c.HostConfig.Devices }},
}

// keptMounts is a container's mounts, sorted by destination.
func keptMounts(c container.InspectResponse) any {
	type mountKey struct {
		Type, Name, Source, Destination string
		RW                              bool
	}
	var out []mountKey
	for _, m := range c.Mounts {
		out = append(out, mountKey{string(m.Type), m.Name, m.Source, m.Destination, m.RW})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Destination < out[j].Destination })
	return out
}

// checkKept reports each field that differs between the old and the new
// container.
func checkKept(t *testing.T, old, cur container.InspectResponse, fields []keptField) {
	t.Helper()
	for _, f := range fields {
		if o, n := f.get(old), f.get(cur); !reflect.DeepEqual(o, n) {
			t.Errorf("%s changed:\n old %#v\n new %#v", f.name, o, n)
		}
	}
}

// checkPullRefused checks pull_image's refusals through call: bad
// references name the argument; an image the registry at addr lacks is a
// tool error naming it and containing engineWords (the engine's own
// words, such as "manifest unknown"; empty for none).
func checkPullRefused(t *testing.T, call func(image string, token any) *mcp.CallToolResult, addr, engineWords string) {
	t.Helper()
	absent := addr + "/pull/absent:v1"
	cases := []struct{ image, want string }{
		{"Upper/Case", `invalid argument "image"`},
		{"", `invalid argument "image"`},
		{absent, "pulling " + absent + ": "},
	}
	if engineWords != "" {
		cases = append(cases, struct{ image, want string }{absent, engineWords})
	}
	for _, tc := range cases {
		res := call(tc.image, nil)
		if !res.IsError || !strings.Contains(toolstest.Text(res), tc.want) {
			t.Errorf("%q: %s, want an error containing %q", tc.image, toolstest.Text(res), tc.want)
		}
	}
}

// checkListSummary checks list_containers' entry for the running container
// name: image, state, status, full id, networks, the label key=value, and
// its one port 127.0.0.1:18081->80/tcp.
func checkListSummary(t *testing.T, k *dockerLab, name, image string, networks []string, key, value string) {
	t.Helper()
	l := toolstest.OK[ContainerList](t, k.h, "list_containers", map[string]any{"name": name})
	if len(l.Containers) != 1 {
		t.Fatalf("%d containers named %s", len(l.Containers), name)
	}
	c := l.Containers[0]
	if c.Image != image || c.State != "running" || !strings.HasPrefix(c.Status, "Up") || len(c.ID) != 64 ||
		!slices.Equal(c.Networks, networks) || c.Labels[key] != value {
		t.Errorf("summary: %+v", c)
	}
	if len(c.Ports) != 1 || c.Ports[0] != (PortSummary{Private: 80, Protocol: "tcp", HostIP: "127.0.0.1", Public: 18081}) {
		t.Errorf("ports: %+v", c.Ports)
	}
}

// checkIDPrefixes creates containers named name-0, name-1, … with create
// until two ids share their first character; that one-character prefix
// must be refused as ambiguous by each of tools, naming how many
// containers match and what to do, and a unique 12-character prefix must
// resolve to its container.
func checkIDPrefixes(t *testing.T, k *dockerLab, name string, create func(name string) string, tools ...string) {
	t.Helper()
	byFirst := map[byte][]string{}
	var prefix string
	for i := 0; prefix == ""; i++ { // at most 17 containers
		id := create(fmt.Sprintf("%s-%d", name, i))
		byFirst[id[0]] = append(byFirst[id[0]], id)
		if len(byFirst[id[0]]) == 2 {
			prefix = id[:1]
		}
	}
	n := 0
	for _, c := range toolstest.OK[ContainerList](t, k.h, "list_containers", map[string]any{"all": true}).Containers {
		if strings.HasPrefix(c.ID, prefix) {
			n++
		}
	}
	want := regexp.MustCompile(fmt.Sprintf(`^"%s" matches %d containers: [0-9a-f]{12} \("[^"]+"\), .*; use a longer id or the full name$`, prefix, n))
	for _, tool := range tools {
		if msg := toolstest.Err(t, k.h, tool, map[string]any{"container": prefix}); !want.MatchString(msg) {
			t.Errorf("%s ambiguous: %q, want %s", tool, msg, want)
		}
	}
	id := byFirst[prefix[0]][0]
	if d := toolstest.OK[ContainerDetails](t, k.h, "inspect_container", map[string]any{"container": id[:12]}); d.ID != id {
		t.Errorf("prefix %s resolved to %s", id[:12], d.ID)
	}
}

// checkUpdatedContainer runs commands in the container update_container
// made (through exec, a shell command line in it) and checks that it runs
// the new image (version 2) with the old one's volumes, bind mount, user
// and working directory.
func checkUpdatedContainer(t *testing.T, exec func(cmd string) string) {
	t.Helper()
	for _, tc := range []struct{ cmd, want string }{
		{"cat /etc/version", "2"},
		{"cat /data/anon/file", "keep"},
		{"cat /data/named/file", "named"},
		{"cat /data/bind/config", "bound"},
		{"id -u", "65534"},
		{"pwd", "/tmp"},
	} {
		if got := exec(tc.cmd); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.cmd, got, tc.want)
		}
	}
}

// checkBusyStats checks get_container_stats for the running container
// name (id), a busy loop held to half a CPU and 64 MiB with at least
// minPIDs processes.
func checkBusyStats(t *testing.T, k *dockerLab, name, id string, minPIDs uint64) {
	t.Helper()
	s := toolstest.OK[ContainerStats](t, k.h, "get_container_stats", map[string]any{"container": name})
	switch {
	case s.ID != id || s.Container != name:
		t.Errorf("identity: %+v", s)
	case s.CPUPercent < 10 || s.CPUPercent > 80:
		t.Errorf("cpu %.2f%% for a busy loop limited to half a CPU", s.CPUPercent)
	case s.Memory.Limit != 64<<20 || s.Memory.Usage == 0 || s.Memory.Percent <= 0:
		t.Errorf("memory: %+v", s.Memory)
	case s.PIDs < minPIDs:
		t.Errorf("pids %d, want at least %d", s.PIDs, minPIDs)
	case s.OnlineCPUs == 0 || s.Read == "" || s.CPUPercentOver != "500ms":
		t.Errorf("sample: %+v", s)
	}
}
