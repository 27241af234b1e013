// SPDX-License-Identifier: Apache-2.0

package stacks

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/moby/moby/api/types/container"
	"go.yaml.in/yaml/v4"

	"github.com/tailops/tailops/redact"
	"github.com/tailops/tailops/tools"
)

// waitTimeout is how long a deploy waits for its containers to run (and
// be healthy, when they have a health check); a variable for tests.
var waitTimeout = 2 * time.Minute

// DeployArgs is deploy_stack's input.
type DeployArgs struct {
	Name string            `json:"name" jsonschema_description:"the stack name: its directory in a stack root, and the compose project name"`
	Repo string            `json:"repo,omitempty" jsonschema_description:"a git repository to deploy from (https://host/path or ssh://git@host/path; the host must be on git_hosts)"`
	Ref  string            `json:"ref,omitempty" jsonschema_description:"with repo: a branch, tag or full commit hash (default: the remote's HEAD)"`
	Path string            `json:"path,omitempty" jsonschema_description:"with repo: the compose file's path in the repository (default compose.yaml)"`
	Env  map[string]string `json:"env,omitempty" jsonschema_description:"variables for ${VAR} in the compose file, over the stack's .env"`
}

// DeployResult is deploy_stack's output.
type DeployResult struct {
	Name       string   `json:"name"`
	Deployment string   `json:"deployment" jsonschema_description:"the history entry's id"`
	Path       string   `json:"path" jsonschema_description:"the compose file deployed"`
	ConfigHash string   `json:"config_hash" jsonschema_description:"SHA-256 of the resolved configuration"`
	Services   []string `json:"services"`
	Config     string   `json:"config" jsonschema_description:"the resolved configuration as deployed, in YAML, secrets redacted"`
	Repo       string   `json:"repo,omitempty" jsonschema_description:"for a git stack: the repository"`
	Commit     string   `json:"commit,omitempty" jsonschema_description:"for a git stack: the commit deployed"`
}

// resolved is a project's resolved configuration.
type resolved struct {
	yaml     string // exact, for the history
	redacted string // for results
	hash     string // SHA-256 of yaml
}

// resolve renders p's configuration, all of p's variables counted as the
// owner's: for a stack root's stack loaded without call variables, or a
// deployment's configuration from the history (which keeps none).
func resolve(p *types.Project) (resolved, error) {
	return resolveFor(p, secretVars{owner: p.Environment})
}

// secretVars are the variables whose values, when their names name a
// secret (redact.SecretName) and they have at least minMasked bytes, an
// approval's configuration masks besides its redaction. Inside values
// (configValue) those of every variable are masked, the project's own
// and its services' environment entries' too, whoever set them. Elsewhere
// (a command, an image, a mount) only the owner's are: a value masked
// there could be any text of the configuration, and one the caller
// chose would hide what runs from the approver.
type secretVars struct {
	// owner are the stack root's own .env variables as its owner wrote
	// them (ownerEnv): masked wherever they occur.
	owner map[string]string
	// call are the call's variables (env): a secret-named one whose value
	// occurs outside values refuses the plan, as it could be neither
	// shown (a secret) nor masked.
	call map[string]string
}

// minMasked is the shortest value of a secret-named variable that is
// masked: a shorter one would mask unrelated text and hide little.
const minMasked = 4

// ownerEnv is the .env of stack s as its owner wrote it (its ${VAR}s
// see no call variable: a value made of the caller's is the caller's),
// for secretVars.owner; none for a git stack, whose repository the
// caller chooses, or when it cannot be read.
func ownerEnv(s diskStack, git bool) map[string]string {
	if git || s.dir == "" {
		return nil
	}
	env, err := dotEnv(s.dir, s.dir, nil)
	if err != nil {
		return nil
	}
	return env
}

// resolveFor renders p's configuration, redacted for results and
// approvals (masks.redactConfig) with the variables of sv.
func resolveFor(p *types.Project, sv secretVars) (resolved, error) {
	b, err := p.MarshalYAML()
	if err != nil {
		return resolved{}, fmt.Errorf("rendering the resolved configuration: %w", err)
	}
	sum := sha256.Sum256(b)
	r := resolved{yaml: string(b), hash: hex.EncodeToString(sum[:])}
	var doc any
	j, err := p.MarshalJSON()
	if err == nil {
		err = json.Unmarshal(j, &doc)
	}
	if err != nil {
		return r, fmt.Errorf("rendering the resolved configuration: %w", err)
	}
	m := newMasks(p, sv)
	doc = m.redactConfig(doc, nil)
	if err := m.callOutside(doc, nil); err != nil {
		return r, err
	}
	red, err := yaml.Marshal(doc)
	if err != nil {
		return r, fmt.Errorf("rendering the resolved configuration: %w", err)
	}
	r.redacted = string(red)
	return r, nil
}

// masks are the values redactConfig masks inside text, longest first
// (so that a value inside another is not masked first), and the call's
// secret-named variables it must not find outside values.
type masks struct {
	anywhere, inValues []string
	call               map[string]string
}

func newMasks(p *types.Project, sv secretVars) *masks {
	m := &masks{call: map[string]string{}}
	secrets := func(env map[string]string) (vals []string) {
		for k, v := range env {
			if redact.SecretName(k) && len(v) >= minMasked {
				vals = append(vals, v)
			}
		}
		return vals
	}
	m.anywhere = secrets(sv.owner)
	m.inValues = slices.Concat(m.anywhere, secrets(sv.call), secrets(p.Environment))
	// A configuration loaded from the history was interpolated when it
	// was deployed, and its variables were not kept: a secret there is
	// known by the service environment entry it went into.
	for _, s := range p.Services {
		m.inValues = append(m.inValues, secrets(s.Environment.ToMapping())...)
	}
	for k, v := range sv.call {
		if redact.SecretName(k) && len(v) >= minMasked {
			m.call[k] = v
		}
	}
	for _, vals := range []*[]string{&m.anywhere, &m.inValues} {
		slices.SortFunc(*vals, func(a, b string) int { return cmp.Or(len(b)-len(a), strings.Compare(a, b)) })
		*vals = slices.Compact(*vals)
	}
	return m
}

// redactConfig returns the configuration v (at path, the keys and indices
// from the top, as JSON decodes it) as an approver sees it, redacting
// values and never structure: a map or a list is never replaced whole,
// so a service, volume or network whose name looks secret (oauth2-proxy,
// session_token), and the top-level secrets, show with all they hold.
// A scalar under a secret-named key is redacted whole (redact.Value's
// rule), a secret's content too; other strings as redact.Text, then the
// variables' values are masked in them: inside values (configValue) all
// of them, elsewhere only the owner's.
func (m *masks) redactConfig(v any, path []string) any {
	switch x := v.(type) {
	case map[string]any:
		values := configValues(path)
		out := make(map[string]any, len(x))
		for k, e := range x {
			at := append(path[:len(path):len(path)], k)
			switch e.(type) {
			case map[string]any, []any:
				out[k] = m.redactConfig(e, at)
				continue
			}
			rk := redact.Text(k)
			if values {
				rk = mask(rk, m.anywhere)
			}
			switch {
			case rk != k, redact.SecretName(k) && e != nil && !isBool(e), secretContent(at):
				out[rk] = redact.Redacted
			default:
				out[rk] = m.redactConfig(e, at)
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = m.redactConfig(e, append(path[:len(path):len(path)], strconv.Itoa(i)))
		}
		return out
	case string:
		switch {
		case len(path) == 4 && path[0] == "services" && path[2] == "extra_hosts":
			// Names and addresses, which redact.Text would take for a
			// secret-named setting ("auth.lan=10.0.0.1").
			return x
		case configValue(path):
			return mask(redact.Text(x), m.inValues)
		}
		return mask(redact.Text(x), m.anywhere)
	}
	return v // numbers, booleans, null
}

// configValues reports whether the map at path holds values, not
// structure: a service's environment, labels or annotations, its deploy
// or build labels, or the labels of a volume, network, secret or config.
// By position, so that nothing named so (a service "labels") is taken
// for one.
func configValues(path []string) bool {
	n := len(path)
	switch {
	case n == 3 && path[0] == "services":
		return path[2] == "environment" || path[2] == "labels" || path[2] == "annotations"
	case n == 4 && path[0] == "services" && (path[2] == "deploy" || path[2] == "build"):
		return path[3] == "labels"
	case n == 3 && (path[0] == "volumes" || path[0] == "networks" || path[0] == "secrets" || path[0] == "configs"):
		return path[2] == "labels"
	}
	return false
}

// configValue reports whether the string at path is a value: an entry
// of configValues, or a config's or a secret's content.
func configValue(path []string) bool {
	n := len(path)
	return n > 0 && configValues(path[:n-1]) ||
		n == 3 && (path[0] == "configs" || path[0] == "secrets") && path[2] == "content"
}

// secretContent reports whether path is a secret's content (compose does
// not render it; redacted whole should it ever be).
func secretContent(path []string) bool {
	return len(path) == 3 && path[0] == "secrets" && path[2] == "content"
}

func isBool(v any) bool {
	_, ok := v.(bool)
	return ok
}

// mask replaces every occurrence of vals in s with redact.Redacted.
func mask(s string, vals []string) string {
	for _, v := range vals {
		s = strings.ReplaceAll(s, v, redact.Redacted)
	}
	return s
}

// callOutside returns the error of a call variable whose value is still
// in the redacted configuration v (at path): outside values, where it
// is not masked. What redaction replaced does not count.
func (m *masks) callOutside(v any, path []string) error {
	found := func(s string, at []string) error {
		for _, name := range slices.Sorted(maps.Keys(m.call)) {
			for part := range strings.SplitSeq(s, redact.Redacted) {
				if strings.Contains(part, m.call[name]) {
					return tools.ArgErrorf("env", "%s is secret-named, and its value also stands at %s, outside environment and label values: "+
						"the approval could neither show it there (a secret) nor mask it (that would hide what runs). Use it in environment or label "+
						"values only (a command can read it from the container's environment, as $$%s), or pass what is no secret under a name "+
						"without a secret word", name, strings.Join(at, "."), name)
				}
			}
		}
		return nil
	}
	switch x := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			at := append(path[:len(path):len(path)], k)
			if err := found(k, at); err != nil {
				return err
			}
			if err := m.callOutside(x[k], at); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range x {
			if err := m.callOutside(e, append(path[:len(path):len(path)], strconv.Itoa(i))); err != nil {
				return err
			}
		}
	case string:
		return found(x, path)
	}
	return nil
}

// lockStack serialises changes to one stack; it returns the unlock.
func (t *Toolset) lockStack(name string) func() {
	m, _ := t.locks.LoadOrStore(name, new(sync.Mutex))
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// prepare finds stack name in the stack roots, loads it with env and
// checks it against its policy: nothing is created before this passes.
func (t *Toolset) prepare(ctx context.Context, name string, env map[string]string) (diskStack, *types.Project, error) {
	if err := checkName(name); err != nil {
		return diskStack{}, nil, err
	}
	s, ok, err := findStack(t.cfg.StackRoots, name)
	if err != nil {
		return s, nil, err
	}
	if !ok {
		return s, nil, fmt.Errorf("no stack %q in the stack roots (%d configured): a directory %s/compose.yaml (or compose.yml, docker-compose.yaml, docker-compose.yml) in one of them",
			name, len(t.cfg.StackRoots), name)
	}
	p, err := load(ctx, loadInput{name: name, dir: s.dir, file: s.file, env: env})
	if err != nil {
		return s, nil, fmt.Errorf("stack %s: %w", name, err)
	}
	if err := t.checker(s).check(p); err != nil {
		return s, nil, fmt.Errorf("stack %s is refused by its policy: %w", name, err)
	}
	return s, p, nil
}

func (t *Toolset) deployStack(ctx context.Context, in DeployArgs) (DeployResult, error) {
	sp, err := planned(ctx, in, t.planDeploy)
	if err != nil {
		return DeployResult{}, err
	}
	s, src, p, r := sp.s, sp.src, sp.p, sp.r
	defer t.lockStack(in.Name)()
	out := DeployResult{Name: in.Name, Path: s.file, ConfigHash: r.hash, Services: p.ServiceNames(), Config: r.redacted,
		Repo: src.repo, Commit: src.res.Commit}
	t.log.Info("stacks deploy", slog.String("stack", in.Name), slog.String("config_hash", r.hash), slog.String("commit", src.res.Commit))
	upErr := t.up(ctx, p)
	d := Deployment{Action: "deploy", Result: "ok", Source: s.file, ConfigHash: r.hash, Config: r.yaml, WorkingDir: p.WorkingDir}
	if src.repo != "" {
		src.record(&d)
	}
	if upErr != nil {
		d.Result, upErr = failure(ctx, "deploy", leftAsIs, upErr)
		d.Error = redact.Text(upErr.Error())
	}
	d, herr := t.hist.add(ctx, in.Name, d)
	t.prune(in.Name)
	out.Deployment = d.ID
	return out, errors.Join(upErr, herr)
}

// up creates or recreates what changed in p and starts it, then waits
// for its containers to run (and be healthy): compose's Up without its
// wait, which polls every 500 ms, and waitReady, which checks at once and
// on the engine's events (with compose's semantics and messages).
func (t *Toolset) up(ctx context.Context, p *types.Project) error {
	if t.cfg.Self != "" {
		projects, err := t.projectContainers(ctx, p.Name)
		if err != nil {
			return err
		}
		if err := t.holdsSelf(p.Name, projects[p.Name]); err != nil {
			return err
		}
	}
	c, err := t.eng.compose(ctx)
	if err != nil {
		return err
	}
	err = c.Up(ctx, p, api.UpOptions{
		Create: api.CreateOptions{RemoveOrphans: true, Recreate: api.RecreateDiverged, RecreateDependencies: api.RecreateDiverged,
			Inherit: true, QuietPull: true},
		Start: api.StartOptions{Project: p},
	})
	if err == nil {
		err = t.waitReady(ctx, p)
	}
	if err != nil {
		return fmt.Errorf("deploying stack %s: %w", p.Name, t.explainHealth(ctx, p.Name, err))
	}
	return nil
}

// RemoveArgs is remove_stack's input.
type RemoveArgs struct {
	Name    string `json:"name" jsonschema_description:"the stack (compose project) name"`
	Volumes bool   `json:"volumes,omitempty" jsonschema_description:"also remove the stack's volumes, named ones included (default: kept)"`
}

// RemoveResult is remove_stack's output.
type RemoveResult struct {
	Name           string `json:"name"`
	Deployment     string `json:"deployment" jsonschema_description:"the history entry's id"`
	Containers     int    `json:"containers" jsonschema_description:"containers removed"`
	VolumesRemoved bool   `json:"volumes_removed"`
}

// managedProject returns the stack name and its containers when it is
// managed (in a stack root, and its containers were created from there)
// and deployed: external projects can only be read.
func (t *Toolset) managedProject(ctx context.Context, name string) (diskStack, []container.Summary, error) {
	if err := checkName(name); err != nil {
		return diskStack{}, nil, err
	}
	projects, err := t.projectContainers(ctx, name)
	if err != nil {
		return diskStack{}, nil, err
	}
	disk, err := t.diskByName()
	if err != nil {
		return diskStack{}, nil, err
	}
	cs, deployed := projects[name]
	s, _, managed := t.managedStack(disk, name, cs)
	switch {
	case !deployed && managed:
		return s, nil, fmt.Errorf("stack %s is not deployed", name)
	case !deployed:
		return s, nil, fmt.Errorf("no compose project named %q on the engine", name)
	case !managed:
		return s, nil, fmt.Errorf("compose project %s is external (not deployed from a stack root): it can only be read", name)
	}
	if err := t.holdsSelf(name, cs); err != nil {
		return s, nil, err
	}
	return s, cs, nil
}

// holdsSelf refuses a change to stack name when its containers cs hold
// the one this server runs in (Config.Self): it would cut the server and
// its tailnet node off.
func (t *Toolset) holdsSelf(name string, cs []container.Summary) error {
	for _, c := range cs {
		if t.cfg.Self != "" && c.ID == t.cfg.Self {
			return fmt.Errorf("stack %s holds the container this TailOps server runs in (%s): changing, restarting or removing it from here would cut the server off; do it on the host",
				name, strings.TrimPrefix(firstName(c.Names), "/"))
		}
	}
	return nil
}

func (t *Toolset) removeStack(ctx context.Context, in RemoveArgs) (RemoveResult, error) {
	sp, err := planned(ctx, in, t.planRemove)
	if err != nil {
		return RemoveResult{}, err
	}
	s, n := sp.s, len(sp.detail.Containers)
	defer t.lockStack(in.Name)()
	c, err := t.eng.compose(ctx)
	if err != nil {
		return RemoveResult{}, err
	}
	t.log.Info("stacks remove", slog.String("stack", in.Name), slog.Bool("volumes", in.Volumes))
	downErr := c.Down(ctx, in.Name, api.DownOptions{RemoveOrphans: true, Volumes: in.Volumes})
	if downErr != nil {
		downErr = fmt.Errorf("removing stack %s: %w", in.Name, downErr)
	}
	d := Deployment{Action: "remove", Result: "ok", Source: s.file}
	if downErr != nil {
		d.Result, d.Error = "failed", redact.Text(downErr.Error())
	}
	d, herr := t.hist.add(ctx, in.Name, d)
	t.prune(in.Name)
	return RemoveResult{Name: in.Name, Deployment: d.ID, Containers: n, VolumesRemoved: in.Volumes && downErr == nil}, errors.Join(downErr, herr)
}

// pullOptions are how the tools pull a stack's images.
var pullOptions = api.PullOptions{Quiet: true}

// ActionResult is the output of restart_stack and pull_stack_images.
type ActionResult struct {
	Name   string `json:"name"`
	Action string `json:"action"`
	Done   bool   `json:"done"`
}

func (t *Toolset) restartStack(ctx context.Context, in NameArg) (ActionResult, error) {
	if _, _, err := t.managedProject(ctx, in.Name); err != nil {
		return ActionResult{}, err
	}
	defer t.lockStack(in.Name)()
	c, err := t.eng.compose(ctx)
	if err != nil {
		return ActionResult{}, err
	}
	if err := c.Restart(ctx, in.Name, api.RestartOptions{}); err != nil {
		return ActionResult{}, fmt.Errorf("restarting stack %s: %w", in.Name, err)
	}
	return ActionResult{Name: in.Name, Action: "restart", Done: true}, nil
}

func (t *Toolset) pullStack(ctx context.Context, in NameArg) (ActionResult, error) {
	if err := checkName(in.Name); err != nil {
		return ActionResult{}, err
	}
	var p *types.Project
	gs, gd, isGit, err := t.gitDeployed(in.Name)
	if err == nil && isGit {
		// A git stack's images are those of the deployment that runs.
		p, err = t.fromHistory(ctx, gs, gd)
	} else if err == nil {
		_, p, err = t.prepare(ctx, in.Name, nil)
	}
	if err != nil {
		return ActionResult{}, err
	}
	c, err := t.eng.compose(ctx)
	if err != nil {
		return ActionResult{}, err
	}
	if err := c.Pull(ctx, p, pullOptions); err != nil {
		return ActionResult{}, fmt.Errorf("pulling the images of stack %s: %w", in.Name, err)
	}
	return ActionResult{Name: in.Name, Action: "pull", Done: true}, nil
}
