// SPDX-License-Identifier: Apache-2.0

package stacks

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tailops/tailops/approval"
	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/gitsource/gittest"
	"github.com/tailops/tailops/tools"
	"github.com/tailops/tailops/toolstest"
)

// secretValue is a password passed in env: it reaches the container,
// and nothing an approver, the store, the webhook or the audit log sees.
const secretValue = "hunter2-secret"

// secretCompose is a git stack's compose file that uses DB_PASSWORD in
// its environment and, under a harmless name, in a label.
func secretCompose(level string) string {
	return "services:\n  app:\n    image: local/gitstk:v1\n    pull_policy: missing\n    command: [sleep, '3600']\n" +
		"    environment:\n      - LEVEL=" + level + "\n      - DB_PASSWORD=${DB_PASSWORD}\n    labels:\n      note: \"pw ${DB_PASSWORD}\"\n"
}

// pushCompose commits compose as deploy/compose.yaml on main and pushes
// it; it returns the commit.
func (r *gitStackRepo) pushCompose(t *testing.T, compose string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(r.work, "deploy", "compose.yaml"), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, r.work, "commit", "-qam", "compose")
	gittest.Git(t, r.work, "push", "-q", r.bare, "main")
	return gittest.Git(t, r.work, "rev-parse", "HEAD")
}

// newApprovalLab is a stacks lab over repo r whose server has the
// approval gate opts describes.
func newApprovalLab(t *testing.T, r *gitStackRepo, opts *toolstest.Options) *stacksLab {
	t.Helper()
	k := newStacksLabGit(t, false, r.gitConfig())
	k.srv = toolstest.New(t, []tools.Toolset{k.ts}, opts)
	k.c = k.srv.Client(t)
	k.tagGitImage(t)
	return k
}

// checkNoSecret fails the test if what holds secretValue.
func checkNoSecret(t *testing.T, what string, b []byte) {
	t.Helper()
	if strings.Contains(string(b), secretValue) {
		t.Errorf("%s shows the secret:\n%s", what, b)
	}
}

// checkPlan checks an approval request's plan: a git deploy of commit,
// its resolved configuration with the password redacted.
func checkPlan(t *testing.T, plan any, commit string) PlanDetail {
	t.Helper()
	b, _ := json.Marshal(plan)
	checkNoSecret(t, "the approval request's plan", b)
	var d PlanDetail
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("plan %s: %v", b, err)
	}
	if d.Action != "deploy" || d.Stack == "" || d.Commit != commit || d.RepoPath != "deploy/compose.yaml" || len(d.ConfigHash) != 64 ||
		!slices.Equal(d.Services, []PlanService{{Name: "app", Image: "local/gitstk:v1"}}) ||
		!strings.Contains(d.Config, "DB_PASSWORD: '[REDACTED]'") || !strings.Contains(d.Config, "note: pw [REDACTED]") {
		t.Errorf("plan: %s", b)
	}
	return d
}

var approvalID = regexp.MustCompile(`request ([0-9a-f]{16})`)

// TestDeployApprovalShowsWhatRuns: the approval request of a git deploy
// carries the resolved configuration (secrets redacted) and the commit,
// through the webhook and two-person approval, and the approval is
// bound to them: after a push, the repeated call needs a new approval
// instead of deploying the new commit, and what deploys is what was
// approved. The password passed in env reaches the container and none of
// the request, the store file, the webhook's body or the audit log.
func TestDeployApprovalShowsWhatRuns(t *testing.T) {
	t.Run("webhook", func(t *testing.T) {
		r := newGitStackRepo(t)
		head := r.pushCompose(t, secretCompose("1"))
		var (
			mu     sync.Mutex
			bodies [][]byte
		)
		// The webhook approves, but the branch moves while it decides:
		// what runs is what it approved, not the new commit.
		var moved string
		k := newApprovalLab(t, r, &toolstest.Options{Webhook: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			b, _ := io.ReadAll(req.Body)
			mu.Lock()
			bodies = append(bodies, b)
			moved = r.pushCompose(t, secretCompose("2"))
			mu.Unlock()
			io.WriteString(w, `{"approved": true, "approver": "ops"}`)
		})})
		const name = "apprwebhook"
		k.cleanup(t, name)
		dep := toolstest.OK[DeployResult](t, k.c, "deploy_stack", map[string]any{"name": name, "repo": r.url, "ref": "main",
			"path": "deploy/compose.yaml", "env": map[string]any{"DB_PASSWORD": secretValue}})
		mu.Lock()
		defer mu.Unlock()
		if len(bodies) != 1 {
			t.Fatalf("the webhook got %d requests, want 1", len(bodies))
		}
		checkNoSecret(t, "the webhook's body", bodies[0])
		var req approval.Request
		if err := json.Unmarshal(bodies[0], &req); err != nil {
			t.Fatal(err)
		}
		plan := checkPlan(t, req.Plan, head)
		if dep.Commit != head || dep.ConfigHash != plan.ConfigHash || moved == head {
			t.Errorf("deployed %s (config %s), approved %s (config %s), the branch moved to %s", dep.Commit, dep.ConfigHash, head, plan.ConfigHash, moved)
		}
		checkSecretOnlyInContainer(t, k, name, dep)
		if ins, err := k.d.Client().ContainerInspect(context.Background(), name+"-app-1"); err != nil || !slices.Contains(ins.Config.Env, "LEVEL=1") {
			t.Errorf("the container does not run the approved configuration (LEVEL=1): %v", err)
		}
	})

	t.Run("two-person", func(t *testing.T) {
		r := newGitStackRepo(t)
		first := r.pushCompose(t, secretCompose("1"))
		k := newApprovalLab(t, r, &toolstest.Options{TwoPerson: true})
		const name = "apprtwo"
		k.cleanup(t, name)
		args := map[string]any{"name": name, "repo": r.url, "ref": "main", "path": "deploy/compose.yaml",
			"env": map[string]any{"DB_PASSWORD": secretValue}}
		ctx := context.Background()
		pending := func() approval.Request { t.Helper(); return k.pendingDeploy(t, args) }
		req1 := pending()
		checkPlan(t, req1.Plan, first)
		var out strings.Builder
		if err := approval.WriteRequest(&out, &req1); err != nil {
			t.Fatal(err)
		}
		if s := out.String(); !strings.Contains(s, "will run:") || !strings.Contains(s, "commit: \""+first+"\"") ||
			!strings.Contains(s, "      DB_PASSWORD: '[REDACTED]'") || strings.Contains(s, secretValue) {
			t.Errorf("tailops approvals show:\n%s", s)
		}
		if _, err := k.srv.Gate.Approve(ctx, req1.ID, approver, "looks right"); err != nil {
			t.Fatal(err)
		}

		// The branch moves after the approval: the same call is another
		// plan, and needs its own approval; nothing runs meanwhile.
		second := r.pushCompose(t, secretCompose("2"))
		req2 := pending()
		if req2.ID == req1.ID || req2.Digest == req1.Digest {
			t.Fatalf("the call after the push reused request %s", req1.ID)
		}
		plan2 := checkPlan(t, req2.Plan, second)
		if cs, nets, vols := k.projectResources(t, name); len(cs)+len(nets)+len(vols) != 0 {
			t.Fatalf("the new commit ran on the old approval: %v %v %v", cs, nets, vols)
		}
		if _, err := k.srv.Gate.Approve(ctx, req2.ID, approver, ""); err != nil {
			t.Fatal(err)
		}
		dep := toolstest.OK[DeployResult](t, k.c, "deploy_stack", args)
		if dep.Commit != second || dep.ConfigHash != plan2.ConfigHash {
			t.Errorf("deployed %s (config %s), approved %s (config %s)", dep.Commit, dep.ConfigHash, second, plan2.ConfigHash)
		}
		if d := k.lastDeployment(t, name); d.Commit != second || d.ConfigHash != plan2.ConfigHash {
			t.Errorf("history: %+v", d)
		}
		if got, err := k.srv.Gate.List(ctx, approver, true); err != nil || len(got) != 2 ||
			got[0].State != approval.StateApproved || got[1].State != approval.StateUsed {
			t.Errorf("requests: %+v %v; want the first approved (unused) and the second used", got, err)
		}
		b, err := os.ReadFile(k.srv.StorePath())
		if err != nil {
			t.Fatal(err)
		}
		checkNoSecret(t, "the approval store", b)
		if !strings.Contains(string(b), first) || !strings.Contains(string(b), second) {
			t.Errorf("the store does not keep the plans' commits")
		}
		checkSecretOnlyInContainer(t, k, name, dep)
	})
}

// approver is the second person of two-person approval.
var approver = &auth.Caller{Agent: "second-person", Method: auth.MethodHMAC, Scopes: []auth.Scope{auth.ScopeApprovalsGrant}}

// pendingDeploy asks for a deploy, which must wait for approval, and
// returns its request, as an approver lists it.
func (k *stacksLab) pendingDeploy(t *testing.T, args map[string]any) approval.Request {
	t.Helper()
	msg := toolstest.Err(t, k.c, "deploy_stack", args)
	m := approvalID.FindStringSubmatch(msg)
	if !strings.Contains(msg, "approval pending") || m == nil {
		t.Fatalf("deploy_stack: %s; want approval pending", msg)
	}
	rs, err := k.srv.Gate.List(context.Background(), approver, true)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(rs, func(r approval.Request) bool { return r.ID == m[1] })
	if i < 0 {
		t.Fatalf("request %s not listed: %+v", m[1], rs)
	}
	return rs[i]
}

// TestDeployApprovalBoundToDotEnv: a stack root's .env that changes
// after the approval makes the repeated deploy another plan, which
// needs its own approval; what runs is the approved configuration.
func TestDeployApprovalBoundToDotEnv(t *testing.T) {
	k := newStacksLab(t, false)
	k.srv = toolstest.New(t, []tools.Toolset{k.ts}, &toolstest.Options{TwoPerson: true})
	k.c = k.srv.Client(t)
	const name = "apprdotenv"
	k.cleanup(t, name)
	compose := "services:\n  app:\n    image: local/busybox:latest\n    command: [sleep, '3600']\n    environment:\n      - GREETING=${GREETING}\n"
	writeStack(t, k.root, name, compose, "GREETING=approved\n")
	args := map[string]any{"name": name}
	ctx := context.Background()
	req1 := k.pendingDeploy(t, args)
	if _, err := k.srv.Gate.Approve(ctx, req1.ID, approver, ""); err != nil {
		t.Fatal(err)
	}
	writeStack(t, k.root, name, compose, "GREETING=changed-after-approval\n")
	req2 := k.pendingDeploy(t, args)
	b, _ := json.Marshal(req2.Plan)
	if req2.ID == req1.ID || !strings.Contains(string(b), "changed-after-approval") {
		t.Fatalf("after the .env changed: request %s (first %s), plan %s", req2.ID, req1.ID, b)
	}
	if cs, _, _ := k.projectResources(t, name); len(cs) != 0 {
		t.Fatalf("the changed .env ran on the old approval: %v", cs)
	}
	// Back to the approved .env: the first approval runs it.
	writeStack(t, k.root, name, compose, "GREETING=approved\n")
	toolstest.OK[DeployResult](t, k.c, "deploy_stack", args)
	ins, err := k.d.Client().ContainerInspect(ctx, name+"-app-1")
	if err != nil || !slices.Contains(ins.Config.Env, "GREETING=approved") {
		t.Errorf("the container does not run the approved configuration: %v", err)
	}
}

// checkSecretOnlyInContainer: the password reached the container (so
// there was something to leak), and neither the result nor the audit
// log shows it; the audit log's approval request shows the plan.
func checkSecretOnlyInContainer(t *testing.T, k *stacksLab, name string, dep DeployResult) {
	t.Helper()
	ins, err := k.d.Client().ContainerInspect(context.Background(), name+"-app-1")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(ins.Config.Env, "DB_PASSWORD="+secretValue) {
		t.Errorf("the container's environment lacks the password: %v", ins.Config.Env)
	}
	checkNoSecret(t, "deploy_stack's result", []byte(dep.Config))
	b, err := os.ReadFile(k.srv.AuditLog)
	if err != nil {
		t.Fatal(err)
	}
	checkNoSecret(t, "the audit log", b)
	var planned bool
	for _, rec := range k.srv.Records(t) {
		if rec["event"] == string(approval.EventRequest) && rec["tool"] == "deploy_stack" {
			d, _ := rec["detail"].(map[string]any)
			planned = d["commit"] == dep.Commit || planned
		}
	}
	if !planned {
		t.Errorf("no approval_request record in the audit log shows the plan of commit %s", dep.Commit)
	}
}

// TestStackPlanErrorMakesNoRequest: a deploy refused while it is planned
// (its policy, an unknown stack) is a tool error, audited, and no
// approval request is made.
func TestStackPlanErrorMakesNoRequest(t *testing.T) {
	k := newStacksLab(t, false)
	k.srv = toolstest.New(t, []tools.Toolset{k.ts}, &toolstest.Options{TwoPerson: true})
	k.c = k.srv.Client(t)
	writeStack(t, k.root, "planrefused", "services:\n  app:\n    image: local/busybox:latest\n    privileged: true\n", "")
	for _, tc := range []struct{ name, want string }{
		{"planrefused", "service app: privileged"},
		{"nosuchstack", "no stack \"nosuchstack\""},
	} {
		if msg := toolstest.Err(t, k.c, "deploy_stack", map[string]any{"name": tc.name}); !strings.Contains(msg, tc.want) {
			t.Errorf("deploy_stack %s: %s, want %q", tc.name, msg, tc.want)
		}
	}
	admin := &auth.Caller{Agent: "admin", Scopes: []auth.Scope{auth.ScopeApprovalsGrant}}
	if rs, err := k.srv.Gate.List(context.Background(), admin, true); err != nil || len(rs) != 0 {
		t.Errorf("approval requests: %+v %v; want none", rs, err)
	}
	var failed int
	for _, rec := range k.srv.Records(t) {
		if rec["event"] == string(approval.EventRequest) {
			t.Errorf("approval request audited: %v", rec)
		}
		if rec["event"] == string(audit.EventToolCall) && rec["tool"] == "deploy_stack" && rec["result"] == string(audit.ResultError) {
			failed++
		}
	}
	if failed != 2 {
		t.Errorf("%d failed deploy_stack calls audited, want 2", failed)
	}
}

// TestStackHistoryInAuditLog: every history entry (a deploy, and an
// update that failed and rolled back) is in the audit log too, as a
// stack_deployment record of the call, written before its result; the
// log verifies.
func TestStackHistoryInAuditLog(t *testing.T) {
	k := newStacksLab(t, true)
	const name = "auditstack"
	k.cleanup(t, name)
	k.d.Docker(t, "tag", "local/busybox:latest", "local/auditstk:v1")
	t.Cleanup(func() { k.d.DockerCmd("rmi", "local/auditstk:v1").Run() })
	base := "services:\n  app:\n    image: local/auditstk:v1\n    pull_policy: missing\n    restart: \"no\"\n"
	writeStack(t, k.root, name, base+"    command: [sleep, '3600']\n", "")
	toolstest.OK[DeployResult](t, k.c, "deploy_stack", map[string]any{"name": name})
	writeStack(t, k.root, name, base+"    command: [\"false\"]\n", "")
	if msg := toolstest.Err(t, k.c, "update_stack", map[string]any{"name": name}); !strings.Contains(msg, "rolled back") {
		t.Fatalf("update_stack: %s", msg)
	}
	h := toolstest.OK[StackHistory](t, k.c, "get_stack_history", map[string]any{"name": name})

	recs := k.srv.Records(t)
	var got []Deployment
	for i, rec := range recs {
		if rec["event"] != string(EventDeployment) {
			continue
		}
		b, _ := json.Marshal(rec["detail"])
		var d deploymentDetail
		if err := json.Unmarshal(b, &d); err != nil || d.Stack != name {
			t.Fatalf("stack_deployment detail %s: %v", b, err)
		}
		got = append(got, d.Deployment)
		wantResult := map[string]string{"ok": "success"}[d.Result]
		if wantResult == "" {
			wantResult = "error"
		}
		if rec["result"] != wantResult || rec["tool"] != d.Action+"_stack" {
			t.Errorf("record %v for %+v", rec, d)
		}
		// The call's own record follows, with the same request id.
		j := slices.IndexFunc(recs[i+1:], func(r map[string]any) bool {
			return r["event"] == string(audit.EventToolCall) && r["request_id"] == rec["request_id"]
		})
		if rec["request_id"] == nil || j < 0 {
			t.Errorf("stack_deployment %v: no tool_call record after it with its request id", rec)
		}
	}
	if len(got) != len(h.Deployments) || len(got) != 2 {
		t.Fatalf("audit log: %+v\nhistory: %+v", got, h.Deployments)
	}
	for i, d := range h.Deployments {
		if got[i] != d {
			t.Errorf("entry %d: audit log %+v, history %+v", i, got[i], d)
		}
	}
	if got[1].Action != "update" || got[1].Result != "rolled_back" || got[1].Error == "" {
		t.Errorf("the failed update: %+v", got[1])
	}
	if n, problem, err := audit.Verify(k.srv.AuditLog); err != nil || problem != nil || n < 6 {
		t.Errorf("audit verify: %d records, %v, %v", n, problem, err)
	}
}

// TestOldCheckoutsDeleted: a git stack's checkouts that no history entry
// names (a plan never approved, an interrupted fetch, a deployment that
// fell off the history) are deleted once unused for an hour; those the
// history names stay, after remove_stack too, and rollback_stack deploys
// one of them after the removal.
func TestOldCheckoutsDeleted(t *testing.T) {
	const name = "gitprune"
	r, k := newGitLab(t, name)
	gitDir := filepath.Join(k.state, "stacks", name, "git")
	deploy := func(ref string) DeployResult {
		return toolstest.OK[DeployResult](t, k.c, "deploy_stack", map[string]any{"name": name, "repo": r.url, "ref": ref, "path": "deploy/compose.yaml"})
	}
	old := time.Now().Add(-2 * time.Hour)
	orphan := func(dir string, age time.Time) {
		if err := os.MkdirAll(filepath.Join(gitDir, dir, "deploy"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(filepath.Join(gitDir, dir), age, age); err != nil {
			t.Fatal(err)
		}
	}
	checkouts := func() []string {
		es, err := os.ReadDir(gitDir)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range es {
			out = append(out, e.Name())
		}
		slices.Sort(out)
		return out
	}
	want := func(what string, names ...string) {
		t.Helper()
		slices.Sort(names)
		if got := checkouts(); !slices.Equal(got, names) {
			t.Errorf("%s: checkouts %v, want %v", what, got, names)
		}
	}

	deploy(r.first)
	waiting := strings.Repeat("cd", 20)
	orphan(strings.Repeat("ab", 20), old) // a plan never approved, long ago
	orphan(".fetch-123", old)             // a fetch cut short
	orphan(waiting, time.Now())           // a plan waiting for approval
	second := deploy("main")
	want("after two deploys", r.first, r.second, waiting)

	// The first deployment falls off the history: its checkout goes at
	// the next change, remove_stack; the second's stays for rollback.
	hist := filepath.Join(k.state, "stacks", name+".json")
	var ds []Deployment
	b, err := os.ReadFile(hist)
	if err == nil {
		err = json.Unmarshal(b, &ds)
	}
	if err != nil || len(ds) != 2 {
		t.Fatalf("history: %v %+v", err, ds)
	}
	b, _ = json.Marshal(ds[1:])
	if err := os.WriteFile(hist, b, 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(filepath.Join(gitDir, r.first), old, old)
	os.Chtimes(filepath.Join(gitDir, r.second), old, old)
	toolstest.OK[RemoveResult](t, k.c, "remove_stack", map[string]any{"name": name})
	want("after remove_stack", r.second, waiting)

	rb := toolstest.OK[DeployResult](t, k.c, "rollback_stack", map[string]any{"name": name, "deployment": second.Deployment})
	if rb.Commit != r.second {
		t.Errorf("rollback_stack after remove_stack: %+v", rb)
	}
	if cs, _, _ := k.projectResources(t, name); len(cs) != 1 {
		t.Errorf("after the rollback: containers %v", cs)
	}
}
