// SPDX-License-Identifier: Apache-2.0

package stacks

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tailops/tailops/labtest"
	"github.com/tailops/tailops/tools"
	"github.com/tailops/tailops/toolstest"
)

// podmanStack is a stack of two services on Podman: the image as Podman
// names an imported one (localhost/...), with a tag other than latest so
// that pull_policy missing does not pull (there is no registry to
// reach), a named volume and a variable. The command exits at once on
// SIGTERM (a shell as PID 1 ignores it, and --init would need catatonit,
// which podman only recommends).
const podmanStack = `services:
  web:
    image: localhost/local/podstk:v1
    pull_policy: missing
    command: ["sh", "-c", "echo web-up; trap 'exit 0' TERM; sleep 600 & wait"]
    environment: ["LEVEL=${LEVEL:-1}"]
    volumes: ["data:/data"]
  worker:
    image: localhost/local/podstk:v1
    pull_policy: missing
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"]
volumes:
  data: {}
`

// TestPodmanStack runs the stacks tools, Docker Compose in-process,
// against Podman 4.3's Docker-compatible API (a rootful podman system
// service in a network namespace of its own, labtest.StartPodman): a
// stack from a stack root is deployed, listed, read, updated with a
// changed variable, restarted, its logs read, and removed with its
// volumes, and the podman CLI sees what compose made.
func TestPodmanStack(t *testing.T) {
	p := labtest.StartPodman(t) // fails (never skips) when podman is missing
	p.BusyboxImage(t, "local/podstk:v1")
	root, state := t.TempDir(), t.TempDir()
	const name = "podstack"
	writeStack(t, root, name, podmanStack, "")
	ts, err := New(Config{Host: p.Host, StackRoots: []string{root}, StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	srv := toolstest.New(t, []tools.Toolset{ts}, &toolstest.Options{Approve: true})
	c := srv.Client(t)
	// ps lists the project's containers as the podman CLI sees them:
	// name and whether it runs.
	ps := func() []string {
		out := p.Podman(t, "ps", "-a", "--filter", "label=com.docker.compose.project="+name, "--format", "{{.Names}} {{.Status}}")
		out = regexp.MustCompile(`(?m) Up .*$`).ReplaceAllString(out, " running")
		lines := strings.Split(out, "\n")
		slices.Sort(lines)
		return slices.DeleteFunc(lines, func(s string) bool { return s == "" })
	}

	dep := toolstest.OK[DeployResult](t, c, "deploy_stack", map[string]any{"name": name})
	if !slices.Equal(dep.Services, []string{"web", "worker"}) || dep.Deployment == "" {
		t.Fatalf("deploy_stack on Podman: %+v", dep)
	}
	if got := ps(); !slices.Equal(got, []string{"podstack-web-1 running", "podstack-worker-1 running"}) {
		t.Fatalf("podman ps after the deploy: %q", got)
	}

	list := toolstest.OK[StackList](t, c, "list_stacks", nil)
	i := slices.IndexFunc(list.Stacks, func(s StackSummary) bool { return s.Name == name })
	if i < 0 || !list.Stacks[i].Managed || list.Stacks[i].Running != 2 {
		t.Errorf("list_stacks on Podman: %+v", list.Stacks)
	}
	st := toolstest.OK[StackStatus](t, c, "get_stack_status", map[string]any{"name": name})
	if len(st.Services) != 2 || len(st.Services[0].Containers) != 1 || st.Services[0].Containers[0].State != "running" ||
		st.Services[0].Containers[0].ImageID == "" || len(st.Volumes) != 1 || len(st.Networks) != 1 || !st.Managed {
		t.Errorf("get_stack_status on Podman: %+v", st)
	}
	web := st.Services[0].Containers[0].ID

	up := toolstest.OK[UpdateResult](t, c, "update_stack", map[string]any{"name": name, "env": map[string]any{"LEVEL": "2"}})
	if !up.Changed || up.RolledBack != "" || !strings.Contains(up.Diff, "LEVEL") {
		t.Fatalf("update_stack on Podman: %+v", up)
	}
	st = toolstest.OK[StackStatus](t, c, "get_stack_status", map[string]any{"name": name})
	if len(st.Services) != 2 || st.Services[0].Containers[0].ID == web || st.Services[0].Containers[0].State != "running" {
		t.Errorf("after the update, web is %+v; want a new container running (was %s)", st.Services[0].Containers, web)
	}
	if env := p.Podman(t, "inspect", "--format", "{{.Config.Env}}", name+"-web-1"); !strings.Contains(env, "LEVEL=2") {
		t.Errorf("web's environment after the update: %s", env)
	}

	// restart_stack restarts both containers in place; get_stack_logs
	// reads Podman's logs of both starts.
	if r := toolstest.OK[ActionResult](t, c, "restart_stack", map[string]any{"name": name}); !r.Done {
		t.Errorf("restart_stack on Podman: %+v", r)
	}
	toolstest.WaitFor(t, "web's two starts in get_stack_logs", func() bool {
		logs := toolstest.OK[StackLogs](t, c, "get_stack_logs", map[string]any{"name": name})
		n := 0
		for _, l := range logs.Lines {
			if l.Service == "web" && l.Stream == "stdout" && l.Text == "web-up" {
				n++
			}
		}
		return n == 2
	})

	rm := toolstest.OK[RemoveResult](t, c, "remove_stack", map[string]any{"name": name, "volumes": true})
	if rm.Containers != 2 || !rm.VolumesRemoved {
		t.Errorf("remove_stack on Podman: %+v", rm)
	}
	if got := ps(); len(got) != 0 {
		t.Errorf("containers left after remove_stack: %q", got)
	}
	if vols := p.Podman(t, "volume", "ls", "-q", "--filter", "label=com.docker.compose.project="+name); vols != "" {
		t.Errorf("volumes left after remove_stack with volumes: %q", vols)
	}
	h := toolstest.OK[StackHistory](t, c, "get_stack_history", map[string]any{"name": name})
	var actions []string
	for _, d := range h.Deployments {
		actions = append(actions, d.Action+" "+d.Result)
	}
	if !slices.Equal(actions, []string{"deploy ok", "update ok", "remove ok"}) {
		t.Errorf("history on Podman: %q", actions)
	}
	if _, err := os.Stat(filepath.Join(state, "stacks", name+".json")); err != nil {
		t.Errorf("history file: %v", err)
	}
}

// TestPodmanHealthCheckNeverRuns: Podman runs health checks from systemd
// timers, and a podman system service outside systemd (as here) has
// none, so a container's health stays "starting" and compose's wait
// for it can only time out. deploy_stack must then say exactly that,
// naming the service, and the history must record the deploy as
// failed; the containers run.
func TestPodmanHealthCheckNeverRuns(t *testing.T) {
	p := labtest.StartPodman(t)
	p.BusyboxImage(t, "local/podstk:v1")
	defer func(d time.Duration) { waitTimeout = d }(waitTimeout)
	waitTimeout = 5 * time.Second
	root := t.TempDir()
	const name = "podhealth"
	writeStack(t, root, name, strings.Replace(podmanStack, "    environment:",
		"    healthcheck: {test: [CMD, 'true'], interval: 1s}\n    environment:", 1), "")
	ts, err := New(Config{Host: p.Host, StackRoots: []string{root}, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	c := toolstest.New(t, []tools.Toolset{ts}, &toolstest.Options{Approve: true}).Client(t)
	text := toolstest.Err(t, c, "deploy_stack", map[string]any{"name": name})
	for _, want := range []string{"not healthy after 5s", "the engine is Podman", "health checks of web never ran", "systemd timers"} {
		if !strings.Contains(text, want) {
			t.Errorf("deploy_stack of a stack with a health check on Podman without systemd: %q, want %q in it", text, want)
		}
	}
	h := toolstest.OK[StackHistory](t, c, "get_stack_history", map[string]any{"name": name})
	if len(h.Deployments) != 1 || h.Deployments[0].Result != "failed" || !strings.Contains(h.Deployments[0].Error, "systemd timers") {
		t.Errorf("history: %+v", h.Deployments)
	}
	// Podman: its container list does not give the health in the status
	// text ("Up 9 seconds", where dockerd says "(health: starting)"), so
	// get_stack_status reports none; both containers run.
	st := toolstest.OK[StackStatus](t, c, "get_stack_status", map[string]any{"name": name})
	if len(st.Services) != 2 || st.Services[0].Containers[0].Health != "" || st.Services[0].Containers[0].State != "running" ||
		st.Services[1].Containers[0].State != "running" {
		t.Errorf("get_stack_status: %+v", st.Services)
	}
}
