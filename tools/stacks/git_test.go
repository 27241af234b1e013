// SPDX-License-Identifier: Apache-2.0

package stacks

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tailops/tailops/gitsource"
	"github.com/tailops/tailops/gitsource/gittest"
	"github.com/tailops/tailops/toolstest"
)

// gitStackRepo is a stack's repository served by git http-backend on
// loopback: commit first (LEVEL=1) and second (LEVEL=2, main's tip),
// the compose file at deploy/compose.yaml with a bind mount of the
// checkout's conf directory.
type gitStackRepo struct {
	work, bare, url string
	srv             *gittest.HTTPServer
	first, second   string
}

// gitCompose is the stack's compose file at a LEVEL.
func gitCompose(level string) string {
	return "services:\n  app:\n    image: local/gitstk:v1\n    pull_policy: missing\n    command: [sleep, '3600']\n" +
		"    environment: [LEVEL=" + level + "]\n    volumes: [\"../conf:/conf:ro\"]\n"
}

func newGitStackRepo(t *testing.T) *gitStackRepo {
	t.Helper()
	base := t.TempDir()
	r := &gitStackRepo{work: filepath.Join(base, "work"), bare: filepath.Join(base, "srv", "stack.git")}
	gittest.Git(t, base, "init", "-q", "-b", "main", r.work)
	r.commit(t, "1")
	r.first = gittest.Git(t, r.work, "rev-parse", "HEAD")
	r.commit(t, "2")
	r.second = gittest.Git(t, r.work, "rev-parse", "HEAD")
	gittest.Git(t, base, "clone", "-q", "--bare", r.work, r.bare)
	r.srv = gittest.ServeHTTP(t, filepath.Dir(r.bare), false)
	r.url = r.srv.URL + "/git/stack.git"
	return r
}

// commit writes the compose file at level and commits it.
func (r *gitStackRepo) commit(t *testing.T, level string) {
	t.Helper()
	for name, content := range map[string]string{"deploy/compose.yaml": gitCompose(level), "conf/app.conf": "level " + level + "\n"} {
		p := filepath.Join(r.work, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gittest.Git(t, r.work, "add", ".")
	gittest.Git(t, r.work, "commit", "-qm", "level "+level)
}

// push commits level on main and pushes it to the served repository.
func (r *gitStackRepo) push(t *testing.T, level string) string {
	t.Helper()
	r.commit(t, level)
	gittest.Git(t, r.work, "push", "-q", r.bare, "main")
	return gittest.Git(t, r.work, "rev-parse", "HEAD")
}

// gitConfig allows the repository's server.
func (r *gitStackRepo) gitConfig() gitsource.Config {
	return gitsource.Config{Hosts: []string{r.srv.HostPort()}, AllowHTTP: true, Timeout: time.Minute}
}

// newGitLab is a lab with git sources on a fresh repository, the git
// stack's image tagged, and stack name's resources removed at the end.
func newGitLab(t *testing.T, name string) (*gitStackRepo, *stacksLab) {
	t.Helper()
	r := newGitStackRepo(t)
	k := newStacksLabGit(t, true, r.gitConfig())
	k.tagGitImage(t)
	k.cleanup(t, name)
	return r, k
}

// tagGitImage tags busybox as the git stack's image: a tag other than
// latest, so that pull_policy missing does not pull (there is no
// registry to reach).
func (k *stacksLab) tagGitImage(t *testing.T) {
	t.Helper()
	k.d.Docker(t, "tag", "local/busybox:latest", "local/gitstk:v1")
	t.Cleanup(func() { k.d.DockerCmd("rmi", "local/gitstk:v1").Run() })
}

// lastDeployment is the newest entry of name's history, as
// get_stack_history returns it.
func (k *stacksLab) lastDeployment(t *testing.T, name string) Deployment {
	t.Helper()
	h := toolstest.OK[StackHistory](t, k.c, "get_stack_history", map[string]any{"name": name})
	if len(h.Deployments) == 0 {
		t.Fatalf("%s has no history", name)
	}
	return h.Deployments[len(h.Deployments)-1]
}

// TestDeployFromGit deploys a stack from a git server at a branch and
// at a commit no branch names: the checkout is under the state
// directory, the history and list_stacks name the repository and the
// commit, and the checkout's directory is the stack's own for bind
// mounts.
func TestDeployFromGit(t *testing.T) {
	r := newGitStackRepo(t)
	k := newStacksLabGit(t, true, r.gitConfig())
	k.tagGitImage(t)
	for _, tc := range []struct {
		name, ref, commit, level string
	}{
		{"gitbranch", "main", r.second, "2"},
		{"gitcommit", r.first, r.first, "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k.cleanup(t, tc.name)
			dep := toolstest.OK[DeployResult](t, k.c, "deploy_stack",
				map[string]any{"name": tc.name, "repo": r.url, "ref": tc.ref, "path": "deploy/compose.yaml"})
			checkout := filepath.Join(k.state, "stacks", tc.name, "git", tc.commit)
			if dep.Commit != tc.commit || dep.Repo != r.url || dep.Path != filepath.Join(checkout, "deploy", "compose.yaml") {
				t.Fatalf("deploy_stack: %+v; want commit %s from %s", dep, tc.commit, checkout)
			}
			d := k.lastDeployment(t, tc.name)
			if d.Action != "deploy" || d.Result != "ok" || d.Commit != tc.commit || d.Repo != r.url || d.Ref != tc.ref || d.Source != r.url {
				t.Errorf("history: %+v", d)
			}
			ins, err := k.d.Client().ContainerInspect(context.Background(), tc.name+"-app-1")
			if err != nil {
				t.Fatal(err)
			}
			if env := strings.Join(ins.Config.Env, " "); !strings.Contains(env, "LEVEL="+tc.level) || !ins.State.Running {
				t.Errorf("container: env %s, running %v", env, ins.State.Running)
			}
			if len(ins.Mounts) != 1 || ins.Mounts[0].Source != filepath.Join(checkout, "conf") {
				t.Errorf("mounts: %+v, want %s/conf", ins.Mounts, checkout)
			}
			list := toolstest.OK[StackList](t, k.c, "list_stacks", nil)
			i := slices.IndexFunc(list.Stacks, func(s StackSummary) bool { return s.Name == tc.name })
			if i < 0 || !list.Stacks[i].Managed || list.Stacks[i].Source != "git" || list.Stacks[i].Repo != r.url {
				t.Errorf("list_stacks: %+v", list.Stacks)
			}
		})
	}
}

// TestGitDeployLeavesExternalProjects: deploy_stack from git under the
// name of a compose project TailOps does not manage is refused before
// anything is fetched into use or created: that project's container
// stays, and the name does not become a managed stack.
func TestGitDeployLeavesExternalProjects(t *testing.T) {
	const name = "gitoutsider"
	r, k := newGitLab(t, name)
	k.d.Run(t, "--name", name+"-app-1", "--label", "com.docker.compose.project="+name, "--label", "com.docker.compose.service=app",
		"--label", "com.docker.compose.oneoff=False", "--label", "com.docker.compose.project.working_dir=/opt/elsewhere", "local/busybox:latest", "sleep", "3600")
	msg := toolstest.Err(t, k.c, "deploy_stack", map[string]any{"name": name, "repo": r.url, "ref": "main", "path": "deploy/compose.yaml"})
	if !strings.Contains(msg, "TailOps does not manage") || strings.Contains(msg, "/opt/elsewhere") {
		t.Errorf("deploy_stack over an external project: %s (want it refused, without the other project's host directory)", msg)
	}
	ins, err := k.d.Client().ContainerInspect(context.Background(), name+"-app-1")
	if err != nil || !ins.State.Running || ins.Config.Labels["com.docker.compose.project.working_dir"] != "/opt/elsewhere" {
		t.Errorf("the external project's container after the refusal: %v %+v", err, ins.State)
	}
	list := toolstest.OK[StackList](t, k.c, "list_stacks", nil)
	if i := slices.IndexFunc(list.Stacks, func(s StackSummary) bool { return s.Name == name }); i < 0 || list.Stacks[i].Managed {
		t.Errorf("list_stacks: %+v", list.Stacks)
	}
}

// TestUpdateFromGitAfterPush: get_stack_status says the remote has not
// moved, then (after a push) that it has, and to which commit;
// update_stack fetches the new commit, shows the diff and records it.
func TestUpdateFromGitAfterPush(t *testing.T) {
	const name = "gitupdate"
	r, k := newGitLab(t, name)
	toolstest.OK[DeployResult](t, k.c, "deploy_stack", map[string]any{"name": name, "repo": r.url, "path": "deploy/compose.yaml"})
	st := toolstest.OK[StackStatus](t, k.c, "get_stack_status", map[string]any{"name": name})
	if st.Commit != r.second || st.RemoteMoved || st.RemoteCommit != r.second || st.Repo != r.url || st.Note != "" || !st.Managed {
		t.Fatalf("get_stack_status before the push: %+v", st)
	}

	third := r.push(t, "3")
	st = toolstest.OK[StackStatus](t, k.c, "get_stack_status", map[string]any{"name": name})
	if st.Commit != r.second || !st.RemoteMoved || st.RemoteCommit != third {
		t.Fatalf("get_stack_status after the push: %+v; want moved to %s", st, third)
	}

	up := toolstest.OK[UpdateResult](t, k.c, "update_stack", map[string]any{"name": name})
	added := slices.ContainsFunc(strings.Split(up.Diff, "\n"), func(l string) bool {
		return strings.HasPrefix(l, "+ ") && strings.Contains(l, "LEVEL") && strings.Contains(l, "3")
	})
	if up.Commit != third || !up.Changed || !added || up.RolledBack != "" {
		t.Errorf("update_stack: %+v", up)
	}
	if d := k.lastDeployment(t, name); d.Action != "update" || d.Result != "ok" || d.Commit != third || d.Ref != "refs/heads/main" {
		t.Errorf("history after the update: %+v", d)
	}
	st = toolstest.OK[StackStatus](t, k.c, "get_stack_status", map[string]any{"name": name})
	if st.Commit != third || st.RemoteMoved {
		t.Errorf("get_stack_status after the update: %+v", st)
	}
}

// TestGitSourceRefusals: a git source refused is refused before
// anything is fetched or created: no checkout directory, no request to
// the server.
func TestGitSourceRefusals(t *testing.T) {
	r := newGitStackRepo(t)
	for _, tc := range []struct {
		name  string
		hosts []string
		args  DeployArgs
		want  string
	}{
		{"no git hosts", nil, DeployArgs{Repo: r.url}, "--git-host"},
		{"host off the allow-list", []string{"git.example.invalid"}, DeployArgs{Repo: r.url}, "git_hosts"},
		{"path with ..", nil, DeployArgs{Repo: r.url, Path: "../../etc/compose.yaml"}, "must be relative and inside the repository"},
		{"path with .. inside", nil, DeployArgs{Repo: r.url, Path: "deploy/../../x.yaml"}, "inside the repository"},
		{"absolute path", nil, DeployArgs{Repo: r.url, Path: "/etc/compose.yaml"}, "inside the repository"},
		{"path in .git", nil, DeployArgs{Repo: r.url, Path: ".git/config"}, "not in .git"},
		{"name with ../", nil, DeployArgs{Name: "../x", Repo: r.url}, "name"},
		{"ref without repo", nil, DeployArgs{Ref: "main"}, "ref and path go with repo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := r.gitConfig()
			if tc.hosts != nil || tc.name == "no git hosts" {
				cfg.Hosts = tc.hosts
			}
			state := t.TempDir()
			ts, err := New(Config{StateDir: state, Git: cfg})
			if err != nil {
				t.Fatal(err)
			}
			if tc.args.Name == "" {
				tc.args.Name = "refused"
			}
			before := r.srv.Hits.Load()
			_, err = ts.deployStack(context.Background(), tc.args)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("deploy_stack %+v: %v; want an error with %q", tc.args, err, tc.want)
			}
			if n := r.srv.Hits.Load() - before; n != 0 {
				t.Errorf("the git server got %d requests", n)
			}
			if _, err := os.Stat(filepath.Join(state, "stacks", "refused")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a checkout directory was created: %v", err)
			}
		})
	}
}

// TestCheckoutOfSameCommitIsFetchedAgain: a checkout of the commit
// already on disk is not reused as it is: what a container with the
// checkout bind-mounted changed there (the compose file, a planted .env
// link to a host file) is not what a later deploy of "commit X" loads.
// With no container running from it, the fresh fetch replaces it; while
// the stack's containers run from it, it is kept only as long as it is
// still the commit (empty directories aside), and a changed one refuses
// the plan.
func TestCheckoutOfSameCommitIsFetchedAgain(t *testing.T) {
	r := newGitStackRepo(t)
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "host.env"), []byte("HOSTSECRET=topsecret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, running := range []bool{false, true} {
		t.Run(map[bool]string{false: "unused", true: "running"}[running], func(t *testing.T) {
			state := t.TempDir()
			var cs []map[string]any
			if running {
				cs = append(cs, projectContainer("reuse", filepath.Join(state, "stacks", "reuse", "git", r.second, "deploy")))
			}
			ts, err := New(Config{StateDir: state, Git: r.gitConfig(), Host: fakeEngine(t, cs...)})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			s, src, p1, err := ts.prepareGit(ctx, "reuse", r.url, "main", "deploy/compose.yaml", nil)
			if err != nil {
				t.Fatal(err)
			}
			orig, err := os.ReadFile(s.file)
			if err != nil {
				t.Fatal(err)
			}
			dotEnv := filepath.Join(filepath.Dir(s.file), ".env")
			tamper := func() {
				t.Helper()
				if err := os.WriteFile(s.file, []byte("services:\n  app:\n    image: local/gitstk:v1\n    environment: ['STOLEN=${HOSTSECRET}']\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(filepath.Join(outside, "host.env"), dotEnv); err != nil {
					t.Fatal(err)
				}
			}
			tamper()
			s2, src2, p2, err := ts.prepareGit(ctx, "reuse", r.url, "main", "deploy/compose.yaml", nil)
			if running {
				if err == nil || !strings.Contains(err.Error(), "no longer the commit") {
					t.Fatalf("a changed checkout the stack runs from: %v; want refused", err)
				}
				// Put back as the commit has it, it is used again, as it
				// is: an empty directory (a bind mount's source Docker
				// made) besides does not count.
				before, _ := os.Stat(filepath.Dir(s.file))
				if err := os.WriteFile(s.file, orig, 0o644); err != nil {
					t.Fatal(err)
				}
				os.Remove(dotEnv)
				if err := os.Mkdir(filepath.Join(filepath.Dir(s.file), "data"), 0o755); err != nil {
					t.Fatal(err)
				}
				s2, src2, p2, err = ts.prepareGit(ctx, "reuse", r.url, "main", "deploy/compose.yaml", nil)
				if err != nil {
					t.Fatal(err)
				}
				if after, err := os.Stat(filepath.Dir(s.file)); err != nil || !os.SameFile(before, after) {
					t.Errorf("the checkout the stack runs from was replaced (%v)", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			b1, _ := p1.MarshalYAML()
			b2, _ := p2.MarshalYAML()
			if src.res.Commit != src2.res.Commit || s.file != s2.file || string(b1) != string(b2) {
				t.Errorf("commit %s then %s (%s, %s), the second configuration:\n%s", src.res.Commit, src2.res.Commit, s.file, s2.file, b2)
			}
			if _, err := os.Lstat(dotEnv); err == nil {
				t.Errorf("the planted .env is still in the checkout")
			}
			if ents, _ := os.ReadDir(filepath.Join(state, "stacks", "reuse", "git")); len(ents) != 1 {
				t.Errorf("the checkouts' directory holds %d entries, want the one checkout", len(ents))
			}
		})
	}
}
