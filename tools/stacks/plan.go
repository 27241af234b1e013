// SPDX-License-Identifier: Apache-2.0

package stacks

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/moby/moby/client"

	"github.com/tailops/tailops/gitsource"
	"github.com/tailops/tailops/tools"
)

// PlanDetail is what the approver of deploy_stack, update_stack,
// rollback_stack and remove_stack sees: exactly what will run, secrets
// redacted. The approval is bound to it (stackPlan.bind).
type PlanDetail struct {
	Action string `json:"action" jsonschema_description:"deploy, update, rollback or remove"`
	Stack  string `json:"stack"`
	Source string `json:"source,omitempty" jsonschema_description:"the compose file, or the git repository"`
	// Repo, Ref, Commit and RepoPath say where a git stack comes from.
	Repo     string `json:"repo,omitempty"`
	Ref      string `json:"ref,omitempty"`
	Commit   string `json:"commit,omitempty" jsonschema_description:"the exact commit that will be deployed"`
	RepoPath string `json:"repo_path,omitempty"`
	// ConfigHash is the SHA-256 of the resolved configuration that will
	// be deployed (the deployment's config_hash in the history).
	ConfigHash string `json:"config_hash,omitempty"`
	// Services are the services that will run, with their images.
	Services []PlanService `json:"services,omitempty"`
	// Config is the resolved configuration that will be deployed, in
	// YAML, secrets redacted.
	Config string `json:"config,omitempty"`
	// Diff is, for an update, the resolved configuration's changes since
	// the last successful deployment (- before, + after), redacted.
	Diff string `json:"diff,omitempty"`
	// RollbackTo is, for a rollback, the deployment deployed again.
	RollbackTo string `json:"rollback_to,omitempty"`
	// Containers are, for a removal, the containers removed.
	Containers []string `json:"containers,omitempty"`
	// RemoveVolumes is, for a removal, whether volumes are removed too;
	// Volumes names them.
	RemoveVolumes *bool    `json:"remove_volumes,omitempty"`
	Volumes       []string `json:"volumes,omitempty"`
}

// PlanService is a service of a plan and its image.
type PlanService struct {
	Name  string `json:"name"`
	Image string `json:"image"`
}

// stackPlan is what a deploy, update, rollback or removal will do, made
// before the approval request and run by the handler as it is: the
// project is never resolved again between the approval and the run.
type stackPlan struct {
	detail PlanDetail
	s      diskStack
	src    gitSource
	p      *types.Project // nil for a removal
	r      resolved
}

// bind is the digest of what the plan runs, which the approval is bound
// to: the action, the resolved configuration's hash (interpolation done:
// a changed .env or variable changes it), the commit and where it came
// from, and for a removal the containers and the volumes flag.
func (sp *stackPlan) bind() string {
	d := sp.detail
	b, _ := json.Marshal([]any{d.Action, d.Stack, d.Source, d.Repo, d.Commit, d.RepoPath, sp.r.hash, d.RollbackTo, d.Containers, d.RemoveVolumes})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// newPlan is the plan of action on stack s, deploying p, loaded with the
// call's variables call (none for a rollback).
func newPlan(action string, s diskStack, src gitSource, p *types.Project, call map[string]string) (*stackPlan, error) {
	r, err := resolveFor(p, secretVars{owner: ownerEnv(s, src.repo != ""), call: call})
	if err != nil {
		return nil, err
	}
	sp := &stackPlan{s: s, src: src, p: p, r: r}
	sp.detail = PlanDetail{Action: action, Stack: s.name, Source: s.file, ConfigHash: r.hash, Config: r.redacted}
	if src.repo != "" {
		sp.detail.Source = gitsource.Redact(src.repo)
		sp.detail.Repo, sp.detail.Ref, sp.detail.Commit, sp.detail.RepoPath = gitsource.Redact(src.repo), src.ref, src.res.Commit, src.path
	}
	for _, name := range p.ServiceNames() {
		sp.detail.Services = append(sp.detail.Services, PlanService{Name: name, Image: p.Services[name].Image})
	}
	return sp, nil
}

// approvalPlan adapts a planner to TypedSpec.ApprovalPlan.
func approvalPlan[In any](plan func(context.Context, In) (*stackPlan, error)) func(context.Context, In) (tools.Plan, error) {
	return func(ctx context.Context, in In) (tools.Plan, error) {
		sp, err := plan(ctx, in)
		if err != nil {
			return tools.Plan{}, err
		}
		return tools.Plan{Detail: sp.detail, Bind: sp.bind(), Value: sp}, nil
	}
}

// planned returns the plan the call was approved with, or plans it now
// when the call did not wait for approval (a handler called directly).
func planned[In any](ctx context.Context, in In, plan func(context.Context, In) (*stackPlan, error)) (*stackPlan, error) {
	if p, ok := tools.PlanFrom(ctx); ok {
		if sp, ok := p.Value.(*stackPlan); ok {
			return sp, nil
		}
	}
	return plan(ctx, in)
}

// planDeploy fetches or finds the stack, loads and checks it: nothing is
// created on the engine.
func (t *Toolset) planDeploy(ctx context.Context, in DeployArgs) (*stackPlan, error) {
	var (
		s   diskStack
		src gitSource
		p   *types.Project
		err error
	)
	switch {
	case in.Repo != "":
		s, src, p, err = t.prepareGit(ctx, in.Name, in.Repo, in.Ref, in.Path, in.Env)
	case in.Ref != "" || in.Path != "":
		err = tools.ArgErrorf("repo", "ref and path go with repo (a git source); a stack root's stack is deployed by name only")
	default:
		s, p, err = t.prepare(ctx, in.Name, in.Env)
	}
	if err != nil {
		return nil, err
	}
	if err := t.notExternal(ctx, in.Name, s); err != nil {
		return nil, err
	}
	if err := t.ownResources(ctx, in.Name, p); err != nil {
		return nil, err
	}
	return newPlan("deploy", s, src, p, in.Env)
}

// notExternal refuses to deploy, update or roll back stack s over a
// compose project of the same name that TailOps does not manage: one
// with containers created elsewhere (compose's working_dir label neither
// s's directory nor one of the stack's checkouts). Compose would recreate
// or remove them, and the stack would then count as managed, its volumes
// removable.
func (t *Toolset) notExternal(ctx context.Context, name string, s diskStack) error {
	byProject, err := t.projectContainers(ctx, name)
	if err != nil {
		return err
	}
	for _, c := range byProject[name] {
		wd := c.Labels[api.WorkingDirLabel]
		if wd != "" && (filepath.Clean(wd) == s.dir || t.inGitDir(name, []string{wd})) {
			continue
		}
		return tools.ArgErrorf("name", "a compose project named %s runs on the engine from another directory, which TailOps does not manage (external: status and logs only): "+
			"give the stack another name, or remove that project with the tool that made it", name)
	}
	return nil
}

// ownResources refuses a volume or network of p that the engine already
// holds for another compose project (by compose's project label), or for
// none, unless stack name's policy lists it (external_volumes,
// external_networks): compose names a volume or network STACK_KEY, so
// stack web's volume app_data is web_app_data, as stack web_app's data
// is; and stack web may name its network web_app_default, stack
// web_app's default network, where its private services listen. External
// ones were checked by the policy.
func (t *Toolset) ownResources(ctx context.Context, name string, p *types.Project) error {
	pol := t.cfg.Policies[name]
	var vols, nets []string
	for _, key := range sortedKeys(p.Volumes) {
		if v := p.Volumes[key]; !bool(v.External) && !slices.Contains(pol.ExternalVolumes, v.Name) {
			vols = append(vols, v.Name)
		}
	}
	for _, key := range sortedKeys(p.Networks) {
		if n := p.Networks[key]; !bool(n.External) && !slices.Contains(pol.ExternalNetworks, n.Name) {
			nets = append(nets, n.Name)
		}
	}
	if len(vols) == 0 && len(nets) == 0 {
		return nil
	}
	cli, err := t.eng.client()
	if err != nil {
		return err
	}
	if len(vols) > 0 {
		list, err := cli.VolumeList(ctx, client.VolumeListOptions{Filters: nameFilters(vols)})
		if err != nil {
			return fmt.Errorf("listing the volumes of stack %s: %w", name, err)
		}
		for _, v := range list.Items {
			if err := checkOwner("volume", "external_volumes", name, vols, v.Name, v.Labels); err != nil {
				return err
			}
		}
	}
	if len(nets) > 0 {
		list, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: nameFilters(nets)})
		if err != nil {
			return fmt.Errorf("listing the networks of stack %s: %w", name, err)
		}
		for _, n := range list.Items {
			if err := checkOwner("network", "external_networks", name, nets, n.Name, n.Labels); err != nil {
				return err
			}
		}
	}
	return nil
}

// nameFilters filters an engine list by names (the filter matches
// substrings: see checkOwner).
func nameFilters(names []string) client.Filters {
	f := make(client.Filters)
	for _, n := range names {
		f.Add("name", n)
	}
	return f
}

// checkOwner refuses the engine's volume or network (kind) res, with
// labels, if it is one of names, stack's, and compose's project label
// says another project's or none's; key is the policy key that would
// allow it.
func checkOwner(kind, key, stack string, names []string, res string, labels map[string]string) error {
	if !slices.Contains(names, res) { // the name filter matches substrings
		return nil
	}
	owner := labels[api.ProjectLabel]
	if owner == stack {
		return nil
	}
	if owner == "" {
		owner = "no compose project"
	}
	return &PolicyError{Service: kind + " " + res, Key: "name", Reason: fmt.Sprintf(
		"the engine's %s %s belongs to %s, not to stack %s (a name STACK_… may be another project's: compose names stack web's app_data as it names stack web_app's data): "+
			"rename the %s (its key, or its name:), or have the owner list it in the stack's policy %s", kind, res, owner, stack, kind, key)}
}

// planUpdate re-resolves the stack (a git stack is fetched again) and
// shows the diff against the last successful deployment.
func (t *Toolset) planUpdate(ctx context.Context, in UpdateArgs) (*stackPlan, error) {
	if err := checkName(in.Name); err != nil {
		return nil, err
	}
	_, gd, isGit, err := t.gitDeployed(in.Name)
	if err != nil {
		return nil, err
	}
	var (
		s   diskStack
		src gitSource
		p   *types.Project
	)
	switch {
	case isGit:
		s, src, p, err = t.prepareGit(ctx, in.Name, gd.Repo, cmp.Or(in.Ref, gd.Ref), gd.RepoPath, in.Env)
	case in.Ref != "":
		err = tools.ArgErrorf("ref", "ref is for a stack deployed from git; %s is not (its last good deployment is not from git)", in.Name)
	default:
		s, p, err = t.prepare(ctx, in.Name, in.Env)
	}
	if err != nil {
		return nil, err
	}
	if err := t.notExternal(ctx, in.Name, s); err != nil {
		return nil, err
	}
	if err := t.ownResources(ctx, in.Name, p); err != nil {
		return nil, err
	}
	sp, err := newPlan("update", s, src, p, in.Env)
	if err != nil {
		return nil, err
	}
	if prev, ok, err := t.lastGood(in.Name); err == nil && ok {
		sp.detail.Diff = t.diffSince(ctx, s, prev, sp.r)
	}
	return sp, nil
}

// planRollback loads an earlier deployment's configuration from the
// history and checks it against the stack's policy as it is now.
func (t *Toolset) planRollback(ctx context.Context, in RollbackArgs) (*stackPlan, error) {
	if err := checkName(in.Name); err != nil {
		return nil, err
	}
	ds, err := t.hist.list(in.Name)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(ds, func(d Deployment) bool { return d.ID == in.Deployment })
	if i < 0 || ds[i].Config == "" {
		return nil, tools.ArgErrorf("deployment", "no deployment %q with a configuration in the history of %s (get_stack_history lists them)", in.Deployment, in.Name)
	}
	target := ds[i]
	s := t.stackOf(in.Name, target)
	var src gitSource
	if target.Repo == "" {
		var ok bool
		s, ok, err = findStack(t.cfg.StackRoots, in.Name)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("no stack %q in the stack roots", in.Name)
		}
	} else {
		src = gitSource{repo: target.Repo, ref: target.Ref, path: target.RepoPath, res: gitsource.Result{Commit: target.Commit}}
	}
	if err := t.notExternal(ctx, in.Name, s); err != nil {
		return nil, err
	}
	p, err := t.fromHistory(ctx, s, target)
	if err != nil {
		return nil, err
	}
	if err := t.ownResources(ctx, in.Name, p); err != nil {
		return nil, err
	}
	sp, err := newPlan("rollback", s, src, p, nil)
	if err != nil {
		return nil, err
	}
	sp.detail.RollbackTo = target.ID
	return sp, nil
}

// planRemove names what a removal removes: the project's containers,
// and with volumes its volumes.
func (t *Toolset) planRemove(ctx context.Context, in RemoveArgs) (*stackPlan, error) {
	s, cs, err := t.managedProject(ctx, in.Name)
	if err != nil {
		return nil, err
	}
	sp := &stackPlan{s: s, detail: PlanDetail{Action: "remove", Stack: in.Name, Source: s.file, RemoveVolumes: &in.Volumes}}
	for _, c := range cs {
		sp.detail.Containers = append(sp.detail.Containers, strings.TrimPrefix(firstName(c.Names), "/"))
	}
	slices.Sort(sp.detail.Containers)
	if in.Volumes {
		cli, err := t.eng.client()
		if err != nil {
			return nil, err
		}
		f := make(client.Filters).Add("label", api.ProjectLabel+"="+in.Name)
		vols, err := cli.VolumeList(ctx, client.VolumeListOptions{Filters: f})
		if err != nil {
			return nil, fmt.Errorf("listing the volumes of stack %s: %w", in.Name, err)
		}
		for _, v := range vols.Items {
			sp.detail.Volumes = append(sp.detail.Volumes, v.Name)
		}
		slices.Sort(sp.detail.Volumes)
	}
	return sp, nil
}
