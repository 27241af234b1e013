// SPDX-License-Identifier: Apache-2.0

package stacks

import (
	"context"
	"fmt"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/tailops/tailops/gitsource"
	"github.com/tailops/tailops/redact"
)

// StackCompose is get_stack_compose's output: a stack's resolved compose
// configuration, secrets redacted as deploy_stack's approval plan
// redacts them.
type StackCompose struct {
	Name   string `json:"name"`
	Source string `json:"source" jsonschema_description:"stack_root: the compose file in the stack root, resolved as deploy_stack would deploy it now (its .env, no call variables); git: the configuration of the last successful deployment from git, as deployed"`
	Path   string `json:"path" jsonschema_description:"the compose file (for a git stack: in its checkout)"`
	// Repo, Ref, Commit and Deployment say where a git stack's
	// configuration comes from.
	Repo       string        `json:"repo,omitempty" jsonschema_description:"for a git stack: the repository"`
	Ref        string        `json:"ref,omitempty" jsonschema_description:"for a git stack: the ref deployed (empty: the remote's HEAD)"`
	Commit     string        `json:"commit,omitempty" jsonschema_description:"for a git stack: the commit deployed"`
	Deployment string        `json:"deployment,omitempty" jsonschema_description:"for a git stack: the history entry whose configuration this is"`
	ConfigHash string        `json:"config_hash" jsonschema_description:"SHA-256 of the resolved configuration (as deploy_stack's plan and the history name it)"`
	Services   []PlanService `json:"services"`
	Policy     string        `json:"policy" jsonschema_description:"ok when the stack's policy allows the configuration, else why it refuses it (deploy_stack would refuse it too)"`
	Config     string        `json:"config" jsonschema_description:"the resolved configuration in YAML, secrets redacted (values under secret-named keys, and secret variables wherever they were interpolated)"`
}

// stackCompose resolves a stack's configuration: a stack root's from its
// compose file and .env, a git stack's from its last good deployment.
// Nothing is created, fetched or changed; an external project has no
// configuration TailOps knows.
func (t *Toolset) stackCompose(ctx context.Context, in NameArg) (StackCompose, error) {
	if err := checkName(in.Name); err != nil {
		return StackCompose{}, err
	}
	out := StackCompose{Name: in.Name}
	s, onDisk, err := findStack(t.cfg.StackRoots, in.Name)
	if err != nil {
		return out, err
	}
	var p *types.Project
	if onDisk {
		out.Source, out.Path = "stack_root", s.file
		if p, err = load(ctx, loadInput{name: in.Name, dir: s.dir, file: s.file}); err != nil {
			return out, fmt.Errorf("stack %s: %w", in.Name, err)
		}
	} else {
		gs, d, isGit, err := t.gitDeployed(in.Name)
		if err != nil {
			return out, err
		}
		if !isGit {
			return out, fmt.Errorf("no stack %q in the stack roots (%d configured) nor deployed from git: an external project's configuration is not TailOps' to show (get_stack_status shows its containers)",
				in.Name, len(t.cfg.StackRoots))
		}
		s = gs
		out.Source, out.Path = "git", s.file
		out.Repo, out.Ref, out.Commit, out.Deployment = gitsource.Redact(d.Repo), d.Ref, d.Commit, d.ID
		if p, err = loadDeployment(ctx, s, d); err != nil {
			return out, err
		}
	}
	r, err := resolve(p)
	if err != nil {
		return out, err
	}
	out.ConfigHash, out.Config, out.Policy = r.hash, r.redacted, "ok"
	out.Services = []PlanService{}
	for _, name := range p.ServiceNames() {
		out.Services = append(out.Services, PlanService{Name: name, Image: p.Services[name].Image})
	}
	if err := t.checker(s).check(p); err != nil {
		out.Policy = "refused: " + redact.Text(err.Error())
	}
	return out, nil
}

// composeText is get_stack_compose's text: the configuration, a YAML
// document whose leading comments say where it comes from.
func composeText(c StackCompose) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# stack %s (%s: %s)\n", c.Name, c.Source, c.Path)
	if c.Repo != "" {
		fmt.Fprintf(&b, "# repo %s, commit %s, deployment %s\n", c.Repo, c.Commit, c.Deployment)
	}
	fmt.Fprintf(&b, "# config_hash %s; policy: %s\n", c.ConfigHash, strings.ReplaceAll(c.Policy, "\n", " "))
	b.WriteString(c.Config)
	return b.String()
}
