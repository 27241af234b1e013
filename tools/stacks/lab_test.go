// SPDX-License-Identifier: Apache-2.0

package stacks

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/docker/compose/v5/pkg/api"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/mcptest"
	"github.com/mark3labs/mcp-go/server"
	"github.com/moby/moby/client"

	"github.com/tailops/tailops/gitsource"
	"github.com/tailops/tailops/labtest"
	"github.com/tailops/tailops/tools"
	"github.com/tailops/tailops/toolstest"
)

// TestMain moves the test binary into a network namespace with only
// loopback (the git servers of git_test.go listen there; dockerd has a
// namespace of its own and is reached over its unix socket), and stops
// the Docker daemon the stacks tests share, if one of them started it.
func TestMain(m *testing.M) {
	labtest.ReexecInLoopbackNetNS()
	code := m.Run()
	labtest.StopShared()
	os.Exit(code)
}

var busyboxOnce sync.Once

// stacksLab is the stacks tools over the shared test daemon, with a stack
// root and a state directory of the test's own, served by a real server
// (approving every critical call unless deny).
type stacksLab struct {
	d     *labtest.Dockerd
	root  string
	state string
	ts    *Toolset
	srv   *toolstest.Server
	c     *toolstest.Client
}

func newStacksLab(t *testing.T, approve bool) *stacksLab {
	t.Helper()
	return newStacksLabGit(t, approve, gitsource.Config{})
}

// newStacksLabGit is newStacksLab with git sources configured by git.
func newStacksLabGit(t *testing.T, approve bool, git gitsource.Config) *stacksLab {
	t.Helper()
	d := labtest.Shared(t)
	busyboxOnce.Do(func() { d.BusyboxImage(t, "local/busybox:latest") })
	k := &stacksLab{d: d, root: t.TempDir(), state: t.TempDir()}
	var err error
	k.ts, err = New(Config{Host: d.Host, StackRoots: []string{k.root}, StateDir: k.state, Git: git})
	if err != nil {
		t.Fatal(err)
	}
	k.srv = toolstest.New(t, []tools.Toolset{k.ts}, &toolstest.Options{Approve: approve})
	k.c = k.srv.Client(t)
	return k
}

// projectResources returns the names of the containers, networks and
// volumes that carry compose's label for project name.
func (k *stacksLab) projectResources(t *testing.T, name string) (cs, nets, vols []string) {
	t.Helper()
	ctx := context.Background()
	f := filters.NewArgs(filters.Arg("label", "com.docker.compose.project="+name))
	list, err := k.d.Client().ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range list {
		cs = append(cs, strings.TrimPrefix(c.Names[0], "/"))
	}
	nl, err := k.d.Client().NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nl {
		nets = append(nets, n.Name)
	}
	vl, err := k.d.Client().VolumeList(ctx, volume.ListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vl.Volumes {
		vols = append(vols, v.Name)
	}
	slices.Sort(cs)
	return cs, nets, vols
}

// cleanup removes project name's containers, networks and volumes when
// the test ends, whatever it left.
func (k *stacksLab) cleanup(t *testing.T, name string) {
	t.Cleanup(func() {
		cs, nets, vols := k.projectResources(t, name)
		for _, c := range cs {
			k.d.Remove(c)
		}
		for _, n := range nets {
			k.d.Client().NetworkRemove(context.Background(), n)
		}
		for _, v := range vols {
			k.d.Client().VolumeRemove(context.Background(), v, true)
		}
	})
}

// twoServices is a stack of two services that print numbered lines, one
// on stdout and one on stderr, a named volume and the process
// environment probe.
const twoServices = `services:
  web:
    image: local/busybox:latest
    command: ["sh", "-c", "i=0; while true; do echo web-$$i; i=$$((i+1)); sleep 0.1; done"]
    environment:
      - PROBE=${TAILOPS_STACKS_PROBE:-absent}
      - TAILOPS_STACKS_PROBE
      - GREETING=${GREETING}
    volumes: ["data:/data", "./conf:/conf:ro"]
  worker:
    image: local/busybox:latest
    command: ["sh", "-c", "i=0; while true; do echo worker-$$i >&2; i=$$((i+1)); sleep 0.1; done"]
volumes:
  data: {}
`

// TestDeployStatusLogsRemove deploys a two-service stack from a stack
// root through a real server and dockerd, then reads it back and removes
// it, first keeping and then removing its volumes.
func TestDeployStatusLogsRemove(t *testing.T) {
	t.Setenv("TAILOPS_STACKS_PROBE", "leaked-from-the-server")
	k := newStacksLab(t, true)
	const name = "labstack"
	k.cleanup(t, name)
	dir := writeStack(t, k.root, name, twoServices, "GREETING=hello-from-dotenv\n")
	os.Mkdir(filepath.Join(dir, "conf"), 0o755)

	dep := toolstest.OK[DeployResult](t, k.c, "deploy_stack", map[string]any{"name": name})
	if dep.Deployment == "" || len(dep.ConfigHash) != 64 || !slices.Equal(dep.Services, []string{"web", "worker"}) {
		t.Fatalf("deploy result: %+v", dep)
	}
	cs, nets, vols := k.projectResources(t, name)
	if !slices.Equal(cs, []string{"labstack-web-1", "labstack-worker-1"}) || len(nets) != 1 || len(vols) != 1 {
		t.Fatalf("after deploy: containers %v, networks %v, volumes %v (all with compose's project label)", cs, nets, vols)
	}

	// The server's environment reached neither interpolation nor the
	// container; the stack's .env did.
	ins, err := k.d.Client().ContainerInspect(context.Background(), "labstack-web-1")
	if err != nil {
		t.Fatal(err)
	}
	env := strings.Join(ins.Config.Env, "\n")
	if strings.Contains(env, "leaked-from-the-server") || !strings.Contains(env, "PROBE=absent") || !strings.Contains(env, "GREETING=hello-from-dotenv") {
		t.Errorf("container environment:\n%s", env)
	}
	if ins.Config.Labels["com.docker.compose.service"] != "web" || ins.Config.Labels["com.docker.compose.project.working_dir"] != dir {
		t.Errorf("compose labels: %v", ins.Config.Labels)
	}

	list := toolstest.OK[StackList](t, k.c, "list_stacks", nil)
	i := slices.IndexFunc(list.Stacks, func(s StackSummary) bool { return s.Name == name })
	if i < 0 || !list.Stacks[i].Managed || list.Stacks[i].Path != filepath.Join(dir, "compose.yaml") || list.Stacks[i].Running != 2 {
		t.Errorf("list_stacks: %+v", list)
	}

	st := toolstest.OK[StackStatus](t, k.c, "get_stack_status", map[string]any{"name": name})
	if len(st.Services) != 2 || st.Services[0].Name != "web" || st.Services[0].Containers[0].State != "running" ||
		st.Services[0].Containers[0].ImageID == "" || !slices.Equal(st.Networks, nets) || !slices.Equal(st.Volumes, vols) || !st.Managed {
		t.Errorf("get_stack_status: %+v", st)
	}

	var logs StackLogs
	toolstest.WaitFor(t, "lines from both services", func() bool {
		logs = toolstest.OK[StackLogs](t, k.c, "get_stack_logs", map[string]any{"name": name, "tail": 20})
		return slices.ContainsFunc(logs.Lines, func(l LogLine) bool { return l.Service == "web" }) &&
			slices.ContainsFunc(logs.Lines, func(l LogLine) bool { return l.Service == "worker" && l.Stream == "stderr" })
	})
	if len(logs.Lines) > 20 || !slices.IsSortedFunc(logs.Lines, func(a, b LogLine) int { return strings.Compare(a.Time, b.Time) }) {
		t.Errorf("logs not merged by time within tail: %+v", logs.Lines)
	}
	small := toolstest.OK[StackLogs](t, k.c, "get_stack_logs", map[string]any{"name": name, "tail": 50, "max_bytes": 1024})
	size := 0
	for _, l := range small.Lines {
		size += len(l.Text)
	}
	if size > 1024 {
		t.Errorf("max_bytes 1024: %d bytes", size)
	}

	toolstest.OK[ActionResult](t, k.c, "restart_stack", map[string]any{"name": name})

	// Remove, keeping the volume.
	rm := toolstest.OK[RemoveResult](t, k.c, "remove_stack", map[string]any{"name": name})
	cs, nets, vols = k.projectResources(t, name)
	if rm.Containers != 2 || len(cs) != 0 || len(nets) != 0 || len(vols) != 1 {
		t.Fatalf("after remove: %+v; containers %v, networks %v, volumes %v", rm, cs, nets, vols)
	}
	// Again, removing the volume.
	toolstest.OK[DeployResult](t, k.c, "deploy_stack", map[string]any{"name": name, "env": map[string]any{"GREETING": "from-call"}})
	rm = toolstest.OK[RemoveResult](t, k.c, "remove_stack", map[string]any{"name": name, "volumes": true})
	if cs, nets, vols = k.projectResources(t, name); !rm.VolumesRemoved || len(cs)+len(nets)+len(vols) != 0 {
		t.Fatalf("after remove with volumes: containers %v, networks %v, volumes %v", cs, nets, vols)
	}

	// The history: two deploys and two removals, who and what, kept in
	// the state directory, mode 0600.
	h := toolstest.OK[StackHistory](t, k.c, "get_stack_history", map[string]any{"name": name})
	var actions []string
	for _, d := range h.Deployments {
		actions = append(actions, d.Action+":"+d.Result)
		if d.Caller != "toolstest" || d.Time == "" || d.ID == "" || d.Config != "" {
			t.Errorf("history entry %+v", d)
		}
	}
	if !slices.Equal(actions, []string{"deploy:ok", "remove:ok", "deploy:ok", "remove:ok"}) || h.Deployments[0].ConfigHash != dep.ConfigHash {
		t.Errorf("history: %+v", h)
	}
	fi, err := os.Stat(filepath.Join(k.state, "stacks", name+".json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("history file: %v %v", fi, err)
	}
	b, _ := os.ReadFile(filepath.Join(k.state, "stacks", name+".json"))
	var kept []Deployment
	if err := json.Unmarshal(b, &kept); err != nil || !strings.Contains(kept[2].Config, "from-call") {
		t.Errorf("the history keeps the resolved configuration for rollback: %v", err)
	}
}

// TestDeployRefusedCreatesNothing: a deploy the approver does not
// approve, or the policy refuses, leaves nothing on the engine and
// nothing in the history.
func TestDeployRefusedCreatesNothing(t *testing.T) {
	for _, tc := range []struct {
		name, compose, want string
		approve             bool
	}{
		{"denied", "services:\n  app:\n    image: local/busybox:latest\n    command: [sleep, '3600']\n", "approval", false},
		{"policy", "services:\n  app:\n    image: local/busybox:latest\n    privileged: true\n", "service app: privileged", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := newStacksLab(t, tc.approve)
			name := "refused" + tc.name
			k.cleanup(t, name)
			writeStack(t, k.root, name, tc.compose, "")
			if msg := toolstest.Err(t, k.c, "deploy_stack", map[string]any{"name": name}); !strings.Contains(msg, tc.want) {
				t.Fatalf("deploy_stack: %s, want %q", msg, tc.want)
			}
			if cs, nets, vols := k.projectResources(t, name); len(cs)+len(nets)+len(vols) != 0 {
				t.Errorf("created: containers %v, networks %v, volumes %v", cs, nets, vols)
			}
			if _, err := os.Stat(filepath.Join(k.state, "stacks", name+".json")); !os.IsNotExist(err) {
				t.Errorf("history written for a deploy that did not happen: %v", err)
			}
		})
	}
}

// TestAnotherStacksVolumeIsRefused: compose names stack vweb's volume
// app_data vweb_app_data, as it names stack vweb_app's volume data; the
// engine's volume of that name belongs to vweb_app (compose's project
// label), so deploying vweb is refused before anything is created, unless
// the owner lists the volume in vweb's external_volumes.
func TestAnotherStacksVolumeIsRefused(t *testing.T) {
	k := newStacksLab(t, true)
	k.cleanup(t, "vweb")
	cli, err := k.ts.eng.client()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.VolumeCreate(t.Context(), client.VolumeCreateOptions{Name: "vweb_app_data", Labels: map[string]string{api.ProjectLabel: "vweb_app"}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cli.VolumeRemove(context.Background(), "vweb_app_data", client.VolumeRemoveOptions{Force: true})
	})
	writeStack(t, k.root, "vweb", "services:\n  app:\n    image: local/busybox:latest\n    command: [sleep, '3600']\n    volumes: [app_data:/loot]\nvolumes:\n  app_data: {}\n", "")
	if msg := toolstest.Err(t, k.c, "deploy_stack", map[string]any{"name": "vweb"}); !strings.Contains(msg, "belongs to vweb_app") {
		t.Fatalf("deploy_stack over stack vweb_app's volume: %s, want it refused naming the owner", msg)
	}
	if cs, _, _ := k.projectResources(t, "vweb"); len(cs) != 0 {
		t.Errorf("created containers %v", cs)
	}
	ts, err := New(Config{Host: k.d.Host, StackRoots: []string{k.root}, StateDir: t.TempDir(), Policies: map[string]Policy{"vweb": {ExternalVolumes: []string{"vweb_app_data"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.planDeploy(t.Context(), DeployArgs{Name: "vweb"}); err != nil {
		t.Errorf("with vweb_app_data in the owner's external_volumes: %v", err)
	}
}

// TestAnotherStacksNetworkIsRefused: a stack may name its network
// <stack>_…, and nweb_app_default is also stack nweb_app's default
// network (compose's project label nweb_app); a network created outside
// compose has no project label. Joining either would reach services only
// reachable there, so deploying is refused before anything is created,
// unless the owner lists the network in the stack's external_networks.
func TestAnotherStacksNetworkIsRefused(t *testing.T) {
	k := newStacksLab(t, true)
	cli, err := k.ts.eng.client()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		stack, network string
		labels         map[string]string
		compose        string
		owner          string
	}{
		{"nweb", "nweb_app_default", map[string]string{api.ProjectLabel: "nweb_app", api.NetworkLabel: "default"},
			"networks:\n  default:\n    name: nweb_app_default\n", "belongs to nweb_app"},
		{"nlan", "nlan_lan", nil, "    networks: [lan]\nnetworks:\n  lan: {}\n", "belongs to no compose project"},
	} {
		t.Run(tc.stack, func(t *testing.T) {
			if _, err := cli.NetworkCreate(t.Context(), tc.network, client.NetworkCreateOptions{Labels: tc.labels}); err != nil {
				t.Fatal(err)
			}
			// After the stack's containers are gone (cleanups run last
			// first).
			t.Cleanup(func() { cli.NetworkRemove(context.Background(), tc.network, client.NetworkRemoveOptions{}) })
			k.cleanup(t, tc.stack)
			compose := "services:\n  app:\n    image: local/busybox:latest\n    command: [sleep, '3600']\n" + tc.compose
			writeStack(t, k.root, tc.stack, compose, "")
			if msg := toolstest.Err(t, k.c, "deploy_stack", map[string]any{"name": tc.stack}); !strings.Contains(msg, tc.owner) || !strings.Contains(msg, "external_networks") {
				t.Fatalf("deploy_stack over network %s: %s, want it refused naming the owner (%s) and external_networks", tc.network, msg, tc.owner)
			}
			if cs, _, _ := k.projectResources(t, tc.stack); len(cs) != 0 {
				t.Errorf("created containers %v", cs)
			}
			ts, err := New(Config{Host: k.d.Host, StackRoots: []string{k.root}, StateDir: t.TempDir(), Policies: map[string]Policy{tc.stack: {ExternalNetworks: []string{tc.network}}}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ts.planDeploy(t.Context(), DeployArgs{Name: tc.stack}); err != nil {
				t.Errorf("with %s in the owner's external_networks: %v", tc.network, err)
			}
		})
	}
}

// TestNetworkModeJoinsOnlyListedNetwork: compose hands a network_mode
// naming a network to the engine, which joins it as networks would; so
// network_mode: nmode_victim is refused before anything is created, and
// with the network in the owner's external_networks the service is on
// it.
func TestNetworkModeJoinsOnlyListedNetwork(t *testing.T) {
	k := newStacksLab(t, true)
	cli, err := k.ts.eng.client()
	if err != nil {
		t.Fatal(err)
	}
	const victim = "nmode_victim"
	if _, err := cli.NetworkCreate(t.Context(), victim, client.NetworkCreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.NetworkRemove(context.Background(), victim, client.NetworkRemoveOptions{}) })
	k.cleanup(t, "nmode")
	writeStack(t, k.root, "nmode", "services:\n  app:\n    image: local/busybox:latest\n    command: [sleep, '3600']\n    network_mode: "+victim+"\n", "")
	if msg := toolstest.Err(t, k.c, "deploy_stack", map[string]any{"name": "nmode"}); !strings.Contains(msg, "network_mode") || !strings.Contains(msg, "external_networks") {
		t.Fatalf("deploy_stack with network_mode %s: %s, want it refused naming network_mode and external_networks", victim, msg)
	}
	if cs, _, _ := k.projectResources(t, "nmode"); len(cs) != 0 {
		t.Errorf("created containers %v", cs)
	}
	ts, err := New(Config{Host: k.d.Host, StackRoots: []string{k.root}, StateDir: t.TempDir(), Policies: map[string]Policy{"nmode": {ExternalNetworks: []string{victim}}}})
	if err != nil {
		t.Fatal(err)
	}
	c := toolstest.New(t, []tools.Toolset{ts}, &toolstest.Options{Approve: true}).Client(t)
	toolstest.OK[DeployResult](t, c, "deploy_stack", map[string]any{"name": "nmode"})
	n, err := cli.NetworkInspect(t.Context(), victim, client.NetworkInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var on []string
	for _, e := range n.Network.Containers {
		on = append(on, e.Name)
	}
	if !slices.Contains(on, "nmode-app-1") {
		t.Errorf("with %s in the owner's external_networks, the network holds %v, want nmode-app-1", victim, on)
	}
}

// TestExternalProjectsAreReadOnly: a compose project that no stack root
// holds is listed as external, readable, and not removed.
func TestExternalProjectsAreReadOnly(t *testing.T) {
	k := newStacksLab(t, true)
	k.cleanup(t, "outsider")
	k.d.Run(t, "--name", "outsider-app-1", "--label", "com.docker.compose.project=outsider", "--label", "com.docker.compose.service=app",
		"--label", "com.docker.compose.oneoff=False", "local/busybox:latest", "sleep", "3600")
	list := toolstest.OK[StackList](t, k.c, "list_stacks", nil)
	i := slices.IndexFunc(list.Stacks, func(s StackSummary) bool { return s.Name == "outsider" })
	if i < 0 || list.Stacks[i].Managed || list.Stacks[i].Source != "external" {
		t.Fatalf("list_stacks: %+v", list)
	}
	st := toolstest.OK[StackStatus](t, k.c, "get_stack_status", map[string]any{"name": "outsider"})
	if st.Managed || len(st.Services) != 1 || st.Services[0].Name != "app" {
		t.Errorf("get_stack_status: %+v", st)
	}
	// A stack root's stack of the same name does not make another
	// directory's project managed.
	writeStack(t, k.root, "outsider", "services:\n  app:\n    image: local/busybox:latest\n", "")
	list = toolstest.OK[StackList](t, k.c, "list_stacks", nil)
	var sources []string
	for _, s := range list.Stacks {
		if s.Name == "outsider" {
			sources = append(sources, s.Source)
		}
	}
	if !slices.Equal(sources, []string{"external"}) {
		t.Errorf("list_stacks with a stack root's namesake: %v", sources)
	}
	for _, tool := range []string{"remove_stack", "restart_stack", "deploy_stack"} {
		if msg := toolstest.Err(t, k.c, tool, map[string]any{"name": "outsider"}); !strings.Contains(msg, "external") {
			t.Errorf("%s of an external project: %s", tool, msg)
		}
	}
	if cs, _, _ := k.projectResources(t, "outsider"); len(cs) != 1 {
		t.Errorf("the external project's container is gone: %v", cs)
	}
	// A name with ../ never reaches the engine nor the file system.
	for _, tool := range []string{"deploy_stack", "get_stack_status", "get_stack_history", "remove_stack"} {
		if msg := toolstest.Err(t, k.c, tool, map[string]any{"name": "../outsider"}); !strings.Contains(msg, "compose project name") {
			t.Errorf("%s with ../: %s", tool, msg)
		}
	}
}

// TestPullStackImages pulls a stack's image from a registry on the
// engine's loopback, reporting progress, and creates nothing.
func TestPullStackImages(t *testing.T) {
	k := newStacksLab(t, true)
	reg := k.d.StartRegistry(t)
	ref := reg.Push(t, "local/busybox:latest", "stacks/busybox:1")
	k.d.RemoveImage(t, ref)
	t.Cleanup(func() { k.d.DockerCmd("rmi", ref).Run() })
	writeStack(t, k.root, "pulled", "services:\n  app:\n    image: "+ref+"\n", "")
	// mcp-go's bare server, as the Docker tools' pull test: the
	// notifications must be the pull's alone.
	spec := toolstest.Direct(k.ts.Tools()).Spec(t, "pull_stack_images")
	srv, err := mcptest.NewServer(t, server.ServerTool{Tool: spec.Tool, Handler: spec.Handler})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	notes := toolstest.RecordProgress(srv.Client())
	req := mcp.CallToolRequest{}
	req.Params.Name = "pull_stack_images"
	req.Params.Arguments = map[string]any{"name": "pulled"}
	req.Params.Meta = &mcp.Meta{ProgressToken: "p1"}
	res, err := srv.Client().CallTool(context.Background(), req)
	if err != nil || res.IsError {
		t.Fatalf("pull_stack_images: %v %s", err, toolstest.Text(res))
	}
	if _, err := k.d.Client().ImageInspect(context.Background(), ref); err != nil {
		t.Errorf("the image was not pulled: %v", err)
	}
	if cs, nets, vols := k.projectResources(t, "pulled"); len(cs)+len(nets)+len(vols) != 0 {
		t.Errorf("pull created: %v %v %v", cs, nets, vols)
	}
	toolstest.WaitFor(t, "the final progress notification", func() bool {
		n := notes.Get()
		return len(n) > 0 && n[len(n)-1]["message"] == "pull finished"
	})
	last := -1.0
	for _, n := range notes.Get() {
		p, _ := n["progress"].(float64)
		if n["progressToken"] != "p1" || p <= last {
			t.Errorf("progress %v after %v", n, last)
		}
		last = p
	}
}

// TestUpdateRollsBackAndRollback: update_stack shows the diff and
// recreates what changed; a failing update puts the last good deployment
// back and says so; rollback_stack deploys an earlier deployment again.
func TestUpdateRollsBackAndRollback(t *testing.T) {
	k := newStacksLab(t, true)
	const name = "updstack"
	k.cleanup(t, name)
	k.d.Docker(t, "tag", "local/busybox:latest", "local/stk:v1")
	t.Cleanup(func() { k.d.DockerCmd("rmi", "local/stk:v1").Run() })
	base := "services:\n  app:\n    image: local/stk:v1\n    pull_policy: missing\n    restart: \"no\"\n"
	writeStack(t, k.root, name, base+"    command: [sleep, '3600']\n", "")
	first := toolstest.OK[DeployResult](t, k.c, "deploy_stack", map[string]any{"name": name})
	envOf := func() string {
		ins, err := k.d.Client().ContainerInspect(context.Background(), name+"-app-1")
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(ins.Config.Env, " ") + " running=" + map[bool]string{true: "yes", false: "no"}[ins.State.Running]
	}

	writeStack(t, k.root, name, base+"    command: [sleep, '3600']\n    environment: [LEVEL=2]\n", "")
	up := toolstest.OK[UpdateResult](t, k.c, "update_stack", map[string]any{"name": name})
	if !up.Changed || !strings.Contains(up.Diff, "LEVEL") || up.RolledBack != "" {
		t.Errorf("update_stack: %+v", up)
	}
	if e := envOf(); !strings.Contains(e, "LEVEL=2") || !strings.Contains(e, "running=yes") {
		t.Errorf("after the update: %s", e)
	}

	// A command that exits: the update fails, the last good deployment
	// (LEVEL=2) runs again.
	writeStack(t, k.root, name, base+"    command: [\"false\"]\n    environment: [LEVEL=3]\n", "")
	msg := toolstest.Err(t, k.c, "update_stack", map[string]any{"name": name})
	if !strings.Contains(msg, "rolled back to deployment "+up.Deployment) {
		t.Errorf("failed update_stack: %s", msg)
	}
	if e := envOf(); !strings.Contains(e, "LEVEL=2") || !strings.Contains(e, "running=yes") {
		t.Errorf("after the rollback: %s", e)
	}

	rb := toolstest.OK[DeployResult](t, k.c, "rollback_stack", map[string]any{"name": name, "deployment": first.Deployment})
	if rb.ConfigHash != first.ConfigHash {
		t.Errorf("rollback_stack: hash %s, want the first deployment's %s", rb.ConfigHash, first.ConfigHash)
	}
	if e := envOf(); strings.Contains(e, "LEVEL") || !strings.Contains(e, "running=yes") {
		t.Errorf("after rollback_stack: %s", e)
	}
	if msg := toolstest.Err(t, k.c, "rollback_stack", map[string]any{"name": name, "deployment": "nope"}); !strings.Contains(msg, "no deployment") {
		t.Errorf("rollback to an unknown deployment: %s", msg)
	}
	h := toolstest.OK[StackHistory](t, k.c, "get_stack_history", map[string]any{"name": name})
	var actions []string
	for _, d := range h.Deployments {
		actions = append(actions, d.Action+":"+d.Result)
	}
	if !slices.Equal(actions, []string{"deploy:ok", "update:ok", "update:rolled_back", "rollback:ok"}) {
		t.Errorf("history: %v", actions)
	}
}

// TestStackHoldingTheServerIsLeftAlone: a stack that holds the container
// this server runs in (Config.Self) is not deployed over, restarted or
// removed from here, and its containers keep running.
func TestStackHoldingTheServerIsLeftAlone(t *testing.T) {
	k := newStacksLab(t, true)
	const name = "selfstack"
	k.cleanup(t, name)
	writeStack(t, k.root, name, "services:\n  app:\n    image: local/busybox:latest\n    command: [sleep, \"3600\"]\n", "")
	toolstest.OK[DeployResult](t, k.c, "deploy_stack", map[string]any{"name": name})
	ins, err := k.d.Client().ContainerInspect(context.Background(), name+"-app-1")
	if err != nil {
		t.Fatal(err)
	}
	k.ts.cfg.Self = ins.ID
	for _, tool := range []string{"restart_stack", "remove_stack", "deploy_stack"} {
		if msg := toolstest.Err(t, k.c, tool, map[string]any{"name": name}); !strings.Contains(msg, "holds the container this TailOps server runs in") {
			t.Errorf("%s of the stack holding the server: %s", tool, msg)
		}
	}
	if after, err := k.d.Client().ContainerInspect(context.Background(), name+"-app-1"); err != nil || after.ID != ins.ID || !after.State.Running {
		t.Errorf("the server's container after the refusals: %v %+v", err, after.State)
	}
}
