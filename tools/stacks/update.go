// SPDX-License-Identifier: Apache-2.0

package stacks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/tailops/tailops/redact"
)

// UpdateArgs is update_stack's input.
type UpdateArgs struct {
	Name string            `json:"name" jsonschema_description:"the stack name"`
	Ref  string            `json:"ref,omitempty" jsonschema_description:"for a git stack: the branch, tag or commit to update to (default: the ref it was deployed from)"`
	Env  map[string]string `json:"env,omitempty" jsonschema_description:"variables for ${VAR} in the compose file, over the stack's .env"`
}

// UpdateResult is update_stack's output.
type UpdateResult struct {
	Name       string `json:"name"`
	Deployment string `json:"deployment" jsonschema_description:"the history entry's id"`
	Changed    bool   `json:"changed" jsonschema_description:"whether the resolved configuration differs from the last successful deployment's"`
	Diff       string `json:"diff" jsonschema_description:"the resolved configuration's changes since the last successful deployment (- before, + after), secrets redacted"`
	ConfigHash string `json:"config_hash"`
	RolledBack string `json:"rolled_back_to,omitempty" jsonschema_description:"when the update failed: the deployment it rolled back to"`
	Repo       string `json:"repo,omitempty" jsonschema_description:"for a git stack: the repository"`
	Commit     string `json:"commit,omitempty" jsonschema_description:"for a git stack: the commit fetched and deployed"`
}

// RollbackArgs is rollback_stack's input.
type RollbackArgs struct {
	Name       string `json:"name" jsonschema_description:"the stack name"`
	Deployment string `json:"deployment" jsonschema_description:"a deployment id from get_stack_history"`
}

// lastGood returns the newest successful deploy, update or rollback in
// name's history, if any, since the last successful removal: a removal
// that failed left the stack running (compose may have removed part of
// it), still managed as what was deployed last.
func (t *Toolset) lastGood(name string) (Deployment, bool, error) {
	ds, err := t.hist.list(name)
	if err != nil {
		return Deployment{}, false, err
	}
	for _, d := range slices.Backward(ds) {
		if d.Action == "remove" && d.Result == "ok" {
			return Deployment{}, false, nil
		}
		if d.Result == "ok" && d.Config != "" {
			return d, true, nil
		}
	}
	return Deployment{}, false, nil
}

// updateStack re-resolves the stack from its stack root, shows what
// changed since the last good deployment, pulls and recreates what
// changed; when that fails it redeploys the last good deployment.
func (t *Toolset) updateStack(ctx context.Context, in UpdateArgs) (UpdateResult, error) {
	sp, err := planned(ctx, in, t.planUpdate)
	if err != nil {
		return UpdateResult{}, err
	}
	s, src, p, r := sp.s, sp.src, sp.p, sp.r
	defer t.lockStack(in.Name)()
	prev, hasPrev, err := t.lastGood(in.Name)
	if err != nil {
		return UpdateResult{}, err
	}
	out := UpdateResult{Name: in.Name, ConfigHash: r.hash, Changed: !hasPrev || prev.ConfigHash != r.hash, Repo: src.repo, Commit: src.res.Commit}
	prevStack := t.stackFor(s, prev)
	if hasPrev {
		out.Diff = t.diffSince(ctx, s, prev, r)
	}
	t.log.Info("stacks update", slog.String("stack", in.Name), slog.String("config_hash", r.hash))
	err = t.pullThenUp(ctx, p)
	d := Deployment{Action: "update", Result: "ok", Source: s.file, ConfigHash: r.hash, Config: r.yaml, WorkingDir: p.WorkingDir}
	if src.repo != "" {
		src.record(&d)
	}
	var rbErr error
	if err != nil && hasPrev {
		// Put back what ran before, and say so; also when the update was
		// cancelled (a server shutting down), within tools.CleanupTimeout.
		rctx, cancel := cleanupContext(ctx)
		if pp, lerr := t.fromHistory(rctx, prevStack, prev); lerr != nil {
			rbErr = lerr
		} else {
			rbErr = t.up(rctx, pp)
		}
		cancel()
		if rbErr == nil {
			out.RolledBack = prev.ID
		}
	}
	if err != nil {
		d.Result = "failed"
		if out.RolledBack != "" {
			d.Result = "rolled_back"
		}
		var left string
		switch {
		case out.RolledBack != "":
			left = fmt.Sprintf("it was rolled back to deployment %s, which runs again", prev.ID)
		case hasPrev:
			left = fmt.Sprintf("rolling it back to deployment %s failed too (%v): the stack is half-updated, "+
				"the new configuration's containers partly created (get_stack_status shows them)", prev.ID, rbErr)
		default:
			left = "there is no earlier deployment to roll back to: the stack's containers are as compose left them, " +
				"the new configuration's partly created (get_stack_status shows them)"
		}
		if res, ierr := failure(ctx, "update", left, err); res == resultInterrupted {
			d.Result, err = res, ierr
		}
		d.Error = redact.Text(err.Error())
	}
	d, herr := t.hist.add(ctx, in.Name, d)
	t.prune(in.Name)
	out.Deployment = d.ID
	switch {
	case d.Result == resultInterrupted:
	case err != nil && out.RolledBack != "":
		err = fmt.Errorf("%w; rolled back to deployment %s, which runs again", err, prev.ID)
	case err != nil && rbErr != nil:
		err = fmt.Errorf("%w; rolling back to deployment %s failed too: %v: the stack may be half-updated", err, prev.ID, rbErr)
	}
	if err == nil {
		return out, herr
	}
	return out, errors.Join(err, herr)
}

// diffSince is the redacted configuration's changes from deployment
// prev of stack s (as loaded from the history, its variables the
// owner's .env of now) to r; "" when prev cannot be loaded.
func (t *Toolset) diffSince(ctx context.Context, s diskStack, prev Deployment, r resolved) string {
	ps := t.stackFor(s, prev)
	pp, err := t.fromHistory(ctx, ps, prev)
	if err != nil {
		return ""
	}
	pr, err := resolveFor(pp, secretVars{owner: ownerEnv(ps, prev.Repo != "")})
	if err != nil {
		return ""
	}
	return lineDiff(pr.redacted, r.redacted)
}

// pullThenUp pulls p's images and then deploys it.
func (t *Toolset) pullThenUp(ctx context.Context, p *types.Project) error {
	c, err := t.eng.compose(ctx)
	if err != nil {
		return err
	}
	if err := c.Pull(ctx, p, pullOptions); err != nil {
		return fmt.Errorf("pulling the images of stack %s: %w", p.Name, err)
	}
	return t.up(ctx, p)
}

// fromHistory loads a deployment's resolved configuration as it was
// deployed (interpolation done then), with compose's labels, and checks
// it against the stack's policy as it is now.
func (t *Toolset) fromHistory(ctx context.Context, s diskStack, d Deployment) (*types.Project, error) {
	p, err := loadDeployment(ctx, s, d)
	if err != nil {
		return nil, err
	}
	if err := t.checker(s).check(p); err != nil {
		return nil, fmt.Errorf("deployment %s is refused by the stack's policy now: %w", d.ID, err)
	}
	return p, nil
}

// loadDeployment loads a deployment's resolved configuration as it was
// deployed (interpolation done then), with compose's labels; no policy
// is checked.
func loadDeployment(ctx context.Context, s diskStack, d Deployment) (*types.Project, error) {
	if d.Config == "" {
		return nil, fmt.Errorf("deployment %s keeps no configuration", d.ID)
	}
	details := types.ConfigDetails{WorkingDir: d.WorkingDir,
		ConfigFiles: []types.ConfigFile{{Filename: s.file, Content: []byte(d.Config)}}, Environment: map[string]string{}}
	p, err := loader.LoadWithContext(ctx, details, func(o *loader.Options) {
		o.SetProjectName(s.name, true)
		o.SkipInterpolation = true
		o.ResolvePaths = true
		o.ResourceLoaders = nil
		// The configuration holds what its env and label files said
		// when it was deployed: they are not read again (they may have
		// changed since, or become links).
		o.SkipResolveEnvironment = true
		o.SkipResolveLabels = true
	})
	if err != nil {
		return nil, fmt.Errorf("loading deployment %s: %w", d.ID, err)
	}
	labelProject(p)
	return p, nil
}

func (t *Toolset) rollbackStack(ctx context.Context, in RollbackArgs) (DeployResult, error) {
	sp, err := planned(ctx, in, t.planRollback)
	if err != nil {
		return DeployResult{}, err
	}
	s, src, p, r := sp.s, sp.src, sp.p, sp.r
	defer t.lockStack(in.Name)()
	t.log.Info("stacks rollback", slog.String("stack", in.Name), slog.String("deployment", in.Deployment))
	upErr := t.up(ctx, p)
	d := Deployment{Action: "rollback", Result: "ok", Source: s.file, ConfigHash: r.hash, Config: r.yaml, WorkingDir: p.WorkingDir}
	if src.repo != "" {
		src.record(&d)
	}
	if upErr != nil {
		d.Result, upErr = failure(ctx, "rollback", fmt.Sprintf("the stack's containers are as compose left them, partly deployment %s's "+
			"and partly those that ran before (get_stack_status shows them; rollback_stack can be called again)", in.Deployment), upErr)
		d.Error = redact.Text(upErr.Error())
	}
	d, herr := t.hist.add(ctx, in.Name, d)
	t.prune(in.Name)
	return DeployResult{Name: in.Name, Deployment: d.ID, Path: s.file, ConfigHash: r.hash, Services: p.ServiceNames(), Config: r.redacted,
			Repo: src.repo, Commit: src.res.Commit},
		errors.Join(upErr, herr)
}

// lineDiff is the lines removed from a ("- ") and added in b ("+ "), in
// order, from a longest common subsequence of lines; past maxDiffCells
// it lists every line of a not in b and of b not in a.
func lineDiff(a, b string) string {
	if a == b {
		return ""
	}
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	if len(x)*len(y) > maxDiffCells {
		for _, l := range x {
			if !slices.Contains(y, l) {
				out = append(out, "- "+l)
			}
		}
		for _, l := range y {
			if !slices.Contains(x, l) {
				out = append(out, "+ "+l)
			}
		}
		return strings.Join(out, "\n")
	}
	// lcs[i][j] is the common subsequence's length of x[i:] and y[j:].
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			i, j = i+1, j+1
		case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
			out = append(out, "- "+x[i])
			i++
		default:
			out = append(out, "+ "+y[j])
			j++
		}
	}
	return strings.Join(out, "\n")
}

// maxDiffCells bounds lineDiff's table (lines of a times lines of b).
const maxDiffCells = 4 << 20
