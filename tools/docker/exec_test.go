// SPDX-License-Identifier: Apache-2.0

package docker

import (
	"context"
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/labtest"
	"github.com/tailops/tailops/tools"
	"github.com/tailops/tailops/toolstest"
)

// TestDockerExecInContainer runs argvs in a real container: output and
// exit codes, no shell implied, the output cap, the timeout (the process
// still running is reported with its PID), redaction, and refusals before
// anything runs.
func TestDockerExecInContainer(t *testing.T) {
	k := newDockerLab(t)
	k.d.Run(t, "--name", "ex-web", "--init", busyboxRef, "sleep", "600")
	stopped := k.create(t, "--name", "ex-stopped", busyboxRef, "true")

	for _, tc := range []struct {
		name            string
		args            map[string]any
		exit            int
		stdout, stderr  string
		truncated, slow bool
	}{
		{"echo", map[string]any{"argv": []string{"echo", "hello"}}, 0, "hello\n", "", false, false},
		{"exit code and stderr", map[string]any{"argv": []string{"sh", "-c", "echo oops >&2; exit 3"}}, 3, "", "oops\n", false, false},
		{"no shell implied", map[string]any{"argv": []string{"echo", "$HOME;", "ls", "|", "x"}}, 0, "$HOME; ls | x\n", "", false, false},
		{"redacted", map[string]any{"argv": []string{"echo", "password=hunter2"}}, 0, "password=[REDACTED]\n", "", false, false},
		{"capped", map[string]any{"argv": []string{"sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' a"}}, 0, strings.Repeat("a", maxExecOutput), "", true, false},
		// The runtime's own answer: exit code 126, its message on stdout.
		{"no such program", map[string]any{"argv": []string{"/no/such/program"}}, 126, "", "", false, false},
		{"timeout", map[string]any{"argv": []string{"sleep", "30"}, "timeout": 1}, -1, "", "", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.args["container"] = "ex-web"
			r := toolstest.OK[ExecResult](t, k.h, "exec_in_container", tc.args)
			if tc.exit == 126 {
				if r.ExitCode != 126 || !strings.Contains(r.Stdout, "no such file") {
					t.Errorf("exit %d, stdout %q: want the runtime's 126 and its message", r.ExitCode, r.Stdout)
				}
				return
			}
			if r.ExitCode != tc.exit || r.Stdout != tc.stdout || r.Stderr != tc.stderr || r.Truncated != tc.truncated || r.TimedOut != tc.slow {
				t.Errorf("exit %d, stdout %.60q (%d bytes), stderr %q, truncated %v, timed out %v", r.ExitCode, r.Stdout, len(r.Stdout), r.Stderr, r.Truncated, r.TimedOut)
			}
			if tc.slow && r.PID <= 0 {
				t.Errorf("a process still running has no PID: %+v", r)
			}
		})
	}

	// Timed out while it still writes: the output read so far is returned
	// whole, read only once the copy has stopped (go test -race caught
	// the buffers read while the copy still grew them).
	r := toolstest.OK[ExecResult](t, k.h, "exec_in_container", map[string]any{"container": "ex-web",
		"argv": []string{"sh", "-c", "while :; do echo x; done"}, "timeout": 1})
	if !r.TimedOut || r.PID <= 0 || !strings.HasPrefix(r.Stdout, "x\nx\n") || strings.Trim(r.Stdout, "x\n") != "" {
		t.Errorf("timed out while writing: timed out %v, PID %d, stdout %.40q (%d bytes)", r.TimedOut, r.PID, r.Stdout, len(r.Stdout))
	}
	toolstest.OK[ExecResult](t, k.h, "exec_in_container", map[string]any{"container": "ex-web", "argv": []string{"pkill", "sh"}})

	for _, tc := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"container": "ex-web", "argv": []string{}}, `invalid argument "argv"`},
		{map[string]any{"container": "ex-web", "argv": []string{""}}, "the program (the first element) is empty"},
		{map[string]any{"container": "ex-web", "argv": []string{"echo", "a\x00b"}}, "without NUL"},
		{map[string]any{"container": "ex-web", "argv": make([]string, 65)}, "1 to 64 elements"},
		{map[string]any{"container": "ex-web", "argv": []string{"true"}, "timeout": 601}, `invalid argument "timeout"`},
		{map[string]any{"container": "ex-web", "argv": "echo hi"}, `invalid argument "argv"`},
		{map[string]any{"container": stopped, "argv": []string{"true"}}, "is not running"},
		{map[string]any{"container": "ex-none", "argv": []string{"true"}}, `no container matches "ex-none"`},
	} {
		msg := toolstest.Err(t, k.h, "exec_in_container", tc.args)
		if !strings.Contains(strings.ToLower(msg), strings.ToLower(tc.want)) {
			t.Errorf("%v: %q, want %q", tc.args, msg, tc.want)
		}
	}
}

// TestDockerExecNeedsApproval: exec_in_container is critical; its
// approval request shows the argv the approver lets run and the container
// the name resolved to, and binds that container: one recreated under
// the name since is not the one the approved call acts on.
func TestDockerExecNeedsApproval(t *testing.T) {
	k := newDockerLab(t)
	k.d.Run(t, "--name", "ap-web", "--init", busyboxRef, "sleep", "600")
	id := k.inspect(t, "ap-web").ID
	sp := k.h.Spec(t, "exec_in_container")
	if sp.Risk != tools.RiskCritical || !sp.NeedsApproval() {
		t.Errorf("exec_in_container: risk %v, want critical", sp.Risk)
	}
	c := toolstest.New(t, []tools.Toolset{k.ts}, nil).Client(t)
	msg := toolstest.Err(t, c, "exec_in_container", map[string]any{"container": "ap-web", "argv": []string{"rm", "-rf", "/data"}})
	if !strings.Contains(msg, "approval required") {
		t.Errorf("without an approval gate: %q, want refused", msg)
	}
	// With two-person approval, the request an approver lists shows the
	// argv, element by element, and the container by name and id.
	srv := toolstest.New(t, []tools.Toolset{k.ts}, &toolstest.Options{TwoPerson: true})
	args := map[string]any{"container": "ap-web", "argv": []string{"rm", "-rf", "/data"}}
	if msg := toolstest.Err(t, srv.Client(t), "exec_in_container", args); !strings.Contains(msg, "approval pending") {
		t.Fatalf("with two-person approval: %q, want pending", msg)
	}
	approver := &auth.Caller{Agent: "second-person", Scopes: []auth.Scope{auth.ScopeApprovalsGrant}}
	rs, err := srv.Gate.List(context.Background(), approver, false)
	if err != nil || len(rs) != 1 {
		t.Fatalf("pending requests: %+v %v", rs, err)
	}
	shown, _ := json.Marshal(rs[0].Arguments)
	plan, _ := json.Marshal(rs[0].Plan)
	if !strings.Contains(string(shown), `"argv":["rm","-rf","/data"]`) || rs[0].Tool != "exec_in_container" ||
		!strings.Contains(string(plan), `"container":"ap-web"`) || !strings.Contains(string(plan), id) {
		t.Errorf("the approval request shows %s, plan %s", shown, plan)
	}
	// The name now names another container: the call approved for the
	// first one fails, and runs nothing in the second.
	k.d.Docker(t, "rm", "-f", "ap-web")
	k.d.Run(t, "--name", "ap-web", "--init", busyboxRef, "sleep", "600")
	ctx := tools.WithPlan(context.Background(), &tools.Plan{Value: id})
	_, err = k.e.execInContainer(ctx, ExecArgs{Container: "ap-web", Argv: []string{"touch", "/ran"}})
	if err == nil || !strings.Contains(err.Error(), "no longer there") {
		t.Errorf("the approved container was replaced: %v, want a refusal", err)
	}
	if r := toolstest.OK[ExecResult](t, k.h, "exec_in_container", map[string]any{"container": "ap-web", "argv": []string{"ls", "/ran"}}); r.ExitCode == 0 {
		t.Error("the command ran in the container that replaced the approved one")
	}
}

// TestDockerCheckImageUpdates compares running containers' images with a
// local registry: up to date, then an update once the tag moves; a local
// image, a pinned digest, one stack's containers, and a registry that no
// longer answers, which marks its containers and fails nothing else.
func TestDockerCheckImageUpdates(t *testing.T) {
	d := labtest.StartDockerd(t)
	k := newDockerLabFor(t, d, d.Host)
	d.BusyboxImage(t, busyboxRef)
	reg := d.StartRegistry(t)
	d.Image(t, labtest.ImageSpec{Name: "local/iu:v1", Busybox: true, Files: map[string]string{"/etc/v": "1"}})
	ref := reg.Push(t, "local/iu:v1", "iu/app:latest")
	d.RemoveImage(t, ref)
	d.Docker(t, "pull", ref)
	pinned := d.Docker(t, "image", "inspect", "--format", "{{index .RepoDigests 0}}", ref)
	d.Run(t, "--name", "iu-app", "--init", "--label", composeProjectLabel+"=shop", ref, "sleep", "600")
	d.Run(t, "--name", "iu-pinned", "--init", pinned, "sleep", "600")
	d.Run(t, "--name", "iu-local", "--init", busyboxRef, "sleep", "600")

	status := func(r ImageUpdates) map[string]string {
		m := map[string]string{}
		for _, u := range r.Images {
			m[u.Container] = u.Status
			if u.Status == UpdateError {
				m[u.Container] += ": " + u.Detail
			}
		}
		return m
	}
	r := toolstest.OK[ImageUpdates](t, k.h, "check_image_updates", nil)
	want := map[string]string{"iu-app": UpdateCurrent, "iu-pinned": UpdatePinned, "iu-local": UpdateLocal}
	if got := status(r); !maps.Equal(got, want) || r.Checked != 3 || r.Available != 0 {
		t.Fatalf("first check: %v (checked %d, available %d), want %v", got, r.Checked, r.Available, want)
	}

	// get_inventory's containers part shows what the check found.
	inv, err := k.ts.InventoryParts()[0].Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range inv.(Summary).Containers {
		if w, ok := want[c.Name]; ok && (c.Update != w || c.Checked == "") {
			t.Errorf("inventory: %s update %q checked %q, want %q", c.Name, c.Update, c.Checked, w)
		}
	}

	// The tag moves in the registry: the running container is behind.
	d.Image(t, labtest.ImageSpec{Name: "local/iu:v2", Busybox: true, Files: map[string]string{"/etc/v": "2"}})
	reg.Push(t, "local/iu:v2", "iu/app:latest")
	r = toolstest.OK[ImageUpdates](t, k.h, "check_image_updates", map[string]any{"stack": "shop"})
	if len(r.Images) != 1 || r.Images[0].Status != UpdateAvailable || r.Images[0].Local == r.Images[0].Remote || r.Available != 1 {
		t.Errorf("after the tag moved, stack shop: %+v", r)
	}
	if r := toolstest.OK[ImageUpdates](t, k.h, "check_image_updates", map[string]any{"container": "iu-local"}); len(r.Images) != 1 || r.Images[0].Status != UpdateLocal {
		t.Errorf("container iu-local: %+v", r)
	}

	reg.Stop(t)
	r = toolstest.OK[ImageUpdates](t, k.h, "check_image_updates", nil)
	got := status(r)
	if !strings.HasPrefix(got["iu-app"], UpdateError+": ") || got["iu-pinned"] != UpdatePinned || got["iu-local"] != UpdateLocal {
		t.Errorf("registry gone: %v, want iu-app in error and the others as before", got)
	}

	for _, tc := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"stack": "../etc"}, `invalid argument "stack"`},
		{map[string]any{"stack": "nosuchstack"}, "no running container matches nosuchstack"},
		{map[string]any{"container": "iu-none"}, `no container matches "iu-none"`},
	} {
		if msg := toolstest.Err(t, k.h, "check_image_updates", tc.args); !strings.Contains(msg, tc.want) {
			t.Errorf("%v: %q, want %q", tc.args, msg, tc.want)
		}
	}
}
