// SPDX-License-Identifier: Apache-2.0

package stacks

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/compose/v5/pkg/api"
)

// fakeEngine serves the little of the Docker API the plans ask for (a
// ping, the container list) on a unix socket, listing cs; it returns the
// DOCKER_HOST to reach it.
func fakeEngine(t *testing.T, cs ...map[string]any) string {
	t.Helper()
	// A short path: a unix socket's is limited to about 100 bytes.
	dir, err := os.MkdirTemp("", "eng")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "d.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	if cs == nil {
		cs = []map[string]any{}
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", "1.47")
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/_ping"):
			w.Write([]byte("OK"))
		case strings.HasSuffix(r.URL.Path, "/containers/json"):
			json.NewEncoder(w).Encode(cs)
		default:
			http.NotFound(w, r)
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "unix://" + sock
}

// projectContainer is a running container of compose project name,
// created in working directory wd.
func projectContainer(name, wd string) map[string]any {
	return map[string]any{"Id": "c0ffee", "Names": []string{"/" + name + "-app-1"}, "State": "running",
		"Labels": map[string]string{api.ProjectLabel: name, api.ServiceLabel: "app", api.OneoffLabel: "False", api.WorkingDirLabel: wd}}
}

// TestUpdateAndRollbackRefuseExternalProject: update_stack and
// rollback_stack, like deploy_stack, refuse to plan over a compose
// project of the stack's name that runs from another directory (compose
// would recreate or remove its containers, and the stack would then count
// as managed); over the stack's own project they plan.
func TestUpdateAndRollbackRefuseExternalProject(t *testing.T) {
	const compose = "services:\n  app:\n    image: local/busybox:latest\n"
	for _, tc := range []struct {
		name     string
		wd       func(dir string) string
		external bool
	}{
		{"external", func(string) string { return "/home/alice/web" }, true},
		{"own", func(dir string) string { return dir }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			dir := writeStack(t, root, "web", compose, "")
			ts, err := New(Config{StackRoots: []string{root}, StateDir: t.TempDir(), Host: fakeEngine(t, projectContainer("web", tc.wd(dir)))})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			d, err := ts.hist.add(ctx, "web", Deployment{Action: "deploy", Result: "ok", Source: filepath.Join(dir, "compose.yaml"), Config: compose, WorkingDir: dir})
			if err != nil {
				t.Fatal(err)
			}
			_, derr := ts.planDeploy(ctx, DeployArgs{Name: "web"})
			_, uerr := ts.planUpdate(ctx, UpdateArgs{Name: "web"})
			_, rerr := ts.planRollback(ctx, RollbackArgs{Name: "web", Deployment: d.ID})
			for what, err := range map[string]error{"deploy_stack": derr, "update_stack": uerr, "rollback_stack": rerr} {
				switch {
				case tc.external && (err == nil || !strings.Contains(err.Error(), "external")):
					t.Errorf("%s plans over an external project of the same name: %v", what, err)
				case !tc.external && err != nil:
					t.Errorf("%s refuses the stack's own project: %v", what, err)
				}
			}
		})
	}
}

// TestFailedRemoveKeepsGitStackManaged: a remove_stack that failed
// leaves the git stack running and managed (its last good deployment
// still the one from git); only a successful removal ends it.
func TestFailedRemoveKeepsGitStackManaged(t *testing.T) {
	ts, err := New(Config{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	commit := strings.Repeat("a", 40)
	ts.hist.add(ctx, "g", Deployment{Action: "deploy", Result: "ok", Repo: "https://git.lan/x.git", Commit: commit, Config: "services: {}\n"})
	ts.hist.add(ctx, "g", Deployment{Action: "remove", Result: "failed", Error: "removing stack g: boom"})
	if _, d, ok, err := ts.gitDeployed("g"); err != nil || !ok || d.Commit != commit {
		t.Errorf("after a failed remove_stack: deployed from git %v (%v, %v); want commit %s", ok, d.Commit, err, commit)
	}
	ts.hist.add(ctx, "g", Deployment{Action: "remove", Result: "ok"})
	if _, _, ok, err := ts.gitDeployed("g"); err != nil || ok {
		t.Errorf("after a successful remove_stack the stack is still deployed from git (%v)", err)
	}
}
