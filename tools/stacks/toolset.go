// SPDX-License-Identifier: Apache-2.0

// Package stacks is the toolset of Docker Compose stacks: listing every
// compose project on the engine, their status and merged logs, and
// deploying, restarting, pulling and removing the stacks kept in stack
// roots (the /opt/stacks/NAME/compose.yaml layout Dockge uses), with
// Docker Compose's own engine in-process. Projects are loaded with
// compose-go so that interpolation sees only the stack's .env and the
// call's variables, and checked against a per-stack policy before
// anything is created.
package stacks

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/gitsource"
	"github.com/tailops/tailops/sandbox"
	"github.com/tailops/tailops/tools"
)

// Config is the stacks tools' configuration. The zero value uses the
// local Docker socket, knows no stack roots (only external projects are
// listed, and nothing can be deployed), allows bind mounts only from a
// stack's own directory and keeps no history.
type Config struct {
	// Host is the engine's endpoint (DOCKER_HOST): unix:///path/to/sock;
	// empty means unix:///var/run/docker.sock. Other schemes are an error.
	Host string
	// Self is the id of the container this server runs in
	// (docker.SelfContainer); "" when none. A stack holding it is not
	// deployed over, restarted or removed from here.
	Self string
	// StackRoots are directories holding one directory per stack, each
	// with a compose file (--stack-root, stack_roots), as this process
	// sees them; the first root that has a stack wins.
	StackRoots []string
	// BindRoots are the host directories every stack's bind mounts may
	// come from besides its own directory (--stack-bind-root,
	// stack_bind_roots).
	BindRoots []string
	// Policies are the per-stack policy overrides (config key stacks),
	// by stack name; a stack without one gets the zero Policy.
	Policies map[string]Policy
	// StateDir is TailOps' state directory; the stacks' history is kept
	// in StateDir/stacks. Empty means no history is kept.
	StateDir string
	// Logger receives the tools' own log lines; nil means slog.Default().
	Logger *slog.Logger
	// Git is how deploy_stack fetches a stack's repository (git_hosts,
	// git_known_hosts, git_ssh_key_file); without Hosts, git sources are
	// refused.
	Git gitsource.Config
}

// Toolset is the stacks toolset, built by New.
type Toolset struct {
	cfg     Config
	log     *slog.Logger
	socket  string
	eng     *engine
	hist    *history
	specs   []tools.Spec
	sockets []string
	// locks serialise changes to one stack: name → *sync.Mutex.
	locks sync.Map
}

var (
	_ tools.Toolset = (*Toolset)(nil)
	_ tools.Opener  = (*Toolset)(nil)
)

// New checks cfg and declares the stacks tools; it connects to nothing.
// On error the Toolset is still returned, its tools declared but
// unavailable (tools.Unavailable).
func New(cfg Config) (*Toolset, error) {
	t := &Toolset{cfg: cfg, log: cmp.Or(cfg.Logger, slog.Default()), hist: &history{}}
	// A DOCKER_HOST the stacks tools cannot use (tcp, ssh) is the Docker
	// tools' setting, not a stacks configuration error: the server
	// starts, and the stacks tools answer why they cannot run.
	socket, hostErr := socketOf(cfg.Host)
	t.socket = socket
	err := t.checkConfig()
	t.eng = &engine{host: "unix://" + t.socket}
	if cfg.StateDir != "" {
		t.hist.dir = filepath.Join(cfg.StateDir, "stacks")
	}
	t.sockets = slices.Compact(slices.Sorted(slices.Values(append(slices.DeleteFunc([]string{t.socket}, func(s string) bool { return s == "" }), engineSockets...))))
	t.specs = t.declare()
	switch {
	case err != nil:
		t.specs = tools.Unavailable(t.specs, fmt.Errorf("the stacks tools are unavailable: %w", err))
	case hostErr != nil:
		t.specs = tools.Unavailable(t.specs, fmt.Errorf("the stacks tools are unavailable: %w", hostErr))
	}
	return t, err
}

// socketOf is the unix socket path of a DOCKER_HOST value.
func socketOf(host string) (string, error) {
	if host == "" {
		return "/var/run/docker.sock", nil
	}
	p, ok := strings.CutPrefix(host, "unix://")
	if !ok || !filepath.IsAbs(p) {
		return "", fmt.Errorf("DOCKER_HOST: the stacks tools reach the engine only over a unix socket (unix:///path), not %s", strings.SplitN(host, "://", 2)[0])
	}
	return filepath.Clean(p), nil
}

// checkConfig checks roots and policies.
func (t *Toolset) checkConfig() error {
	for _, r := range t.cfg.StackRoots {
		if !filepath.IsAbs(r) {
			return fmt.Errorf("stack root %q: must be an absolute path", r)
		}
	}
	for _, r := range t.cfg.BindRoots {
		if !filepath.IsAbs(r) {
			return fmt.Errorf("stack bind root %q: must be an absolute path", r)
		}
	}
	for name, p := range t.cfg.Policies {
		if !validName(name) {
			return fmt.Errorf("stacks: %q is not a stack name (lower-case letters, digits, '-' and '_')", name)
		}
		for _, r := range p.BindRoots {
			if !filepath.IsAbs(r) {
				return fmt.Errorf("stacks: %s: bind_roots: %q must be an absolute path", name, r)
			}
		}
	}
	return nil
}

// Name returns "stacks".
func (t *Toolset) Name() string { return "stacks" }

// Tools returns the stacks tools.
func (t *Toolset) Tools() []tools.Spec { return slices.Clone(t.specs) }

// Open creates the history directory, before the sandbox is applied (the
// sandbox grants the state directory, but it must exist).
func (t *Toolset) Open(context.Context) error {
	if t.hist.dir == "" {
		return nil
	}
	if err := os.MkdirAll(t.hist.dir, 0o700); err != nil {
		return fmt.Errorf("creating the stacks' history directory: %w", err)
	}
	return nil
}

// checker returns the policy checker of stack s.
func (t *Toolset) checker(s diskStack) *checker {
	pol := t.cfg.Policies[s.name]
	binds := []string{filepath.Clean(s.dir)}
	for _, r := range append(slices.Clone(t.cfg.BindRoots), pol.BindRoots...) {
		binds = append(binds, filepath.Clean(r))
	}
	return &checker{policy: pol, binds: binds, sockets: t.sockets, dir: filepath.Clean(s.dir)}
}

// needs are what the tools need from the sandbox: the engine's socket,
// the stack roots read-only, and (write) the history directory, which
// holds the git checkouts too.
func (t *Toolset) needs(write bool) sandbox.Needs {
	n := sandbox.Needs{Read: slices.Clone(t.cfg.StackRoots)}
	if t.socket != "" {
		n.Sockets = []string{t.socket}
	}
	if t.hist.dir != "" {
		if write {
			n.Write = []string{t.hist.dir}
		} else {
			n.Read = append(n.Read, t.hist.dir)
		}
	}
	return n
}

// gitNeeds adds to n what reaching the git servers needs, when git
// sources are configured: TCP to any port and DNS (git_hosts is the
// destination policy), and the known_hosts and deploy key files.
func (t *Toolset) gitNeeds(n sandbox.Needs) sandbox.Needs {
	if len(t.cfg.Git.Hosts) == 0 {
		return n
	}
	n.AnyTCPPort, n.DNS = true, true
	n.Read = slices.Clone(n.Read)
	for _, f := range []string{t.cfg.Git.KnownHostsFile, t.cfg.Git.SSHKeyFile} {
		if f != "" {
			n.Read = append(n.Read, f)
		}
	}
	return n
}

// NameArg is the input of a tool that acts on one stack.
type NameArg struct {
	Name string `json:"name" jsonschema_description:"the stack (compose project) name"`
}

// approvalNote tells a client why a repeated call can need approval
// again.
const approvalNote = "The approval request shows the resolved configuration (secrets redacted) and the commit, and is bound to them: " +
	"if the branch or the stack's .env changes before the call is repeated, it needs a new approval."

// declare declares the stacks tools.
func (t *Toolset) declare() []tools.Spec {
	read, write := t.needs(false), t.needs(true)
	readGit, writeGit := t.gitNeeds(read), t.gitNeeds(write)
	return []tools.Spec{
		tools.TypedSpec[tools.NoArgs, StackList]{
			Name: "list_stacks", Title: "List compose stacks",
			Description: "Every Docker Compose project on the engine (found by compose's labels, as docker compose ls finds them) with its containers' states, " +
				"marked managed (deployed from a stack root, with its path, or from git, with its repository) or external (status and logs only); and the stacks in the stack roots that are not running.",
			Scope: auth.ScopeContainerRead, Risk: tools.RiskLow, Hints: tools.ReadHints, Needs: read,
			Run: t.listStacks,
		}.Spec(),
		tools.TypedSpec[NameArg, StackStatus]{
			Name: "get_stack_status", Title: "Compose stack status",
			Description: "One compose project's services and their containers: state, health, ports, networks, image and image digests; " +
				"for a git stack, the commit deployed and whether the remote's ref has moved since.",
			Scope: auth.ScopeContainerRead, Risk: tools.RiskLow, Hints: tools.ReadHints, Needs: readGit,
			Run: t.stackStatus,
		}.Spec(),
		tools.TypedSpec[NameArg, StackCompose]{
			Name: "get_stack_compose", Title: "Compose stack configuration",
			Description: "A stack's resolved compose configuration in YAML, secrets redacted as deploy_stack's approval plan redacts them: " +
				"for a stack in a stack root, as deploy_stack would deploy it now (its .env, no call variables), with its policy's verdict; " +
				"for a stack deployed from git, the configuration of its last successful deployment. Nothing is created or fetched. " +
				"Also the resource tailops://stacks/{name}/compose.",
			Scope: auth.ScopeContainerRead, Risk: tools.RiskModerate, Hints: tools.ReadHints, Needs: read,
			Run: t.stackCompose, Text: composeText,
			Untrusted: true, // a git repository's text
		}.Spec(),
		tools.TypedSpec[LogsArgs, StackLogs]{
			Name: "get_stack_logs", Title: "Compose stack logs",
			Description: "The last lines every container of a compose project wrote, all services merged by time, each line with its service and stream. " +
				"tail: lines per container and in all (default 100, at most 10000); since: a duration such as 10m or an RFC 3339 time; " +
				"max_bytes: cap on the text returned (default 64 KiB), keeping the newest lines.",
			Scope: auth.ScopeContainerRead, Risk: tools.RiskModerate, Hints: tools.ReadHints, Needs: read,
			Run: t.stackLogs, Text: logsText,
			Untrusted: true, // containers' output
		}.Spec(),
		tools.TypedSpec[NameArg, StackHistory]{
			Name: "get_stack_history", Title: "Compose stack history",
			Description: "A stack's deployments, oldest first: when, who, what (deploy, update, rollback, remove), the result and the resolved configuration's hash.",
			Scope:       auth.ScopeContainerRead, Risk: tools.RiskLow, Hints: tools.ReadHints, Needs: read,
			Run: t.stackHistory,
		}.Spec(),
		tools.TypedSpec[DeployArgs, DeployResult]{
			Name: "deploy_stack", Title: "Deploy a compose stack",
			Description: "Deploys the stack name from its stack root (<root>/<name>/compose.yaml, compose.yml, docker-compose.yaml or docker-compose.yml) with Docker Compose: " +
				"creates or recreates what changed and waits for the containers to run (and be healthy, when they have a health check). " +
				"${VAR} in the compose file sees only the stack's .env and env, never the server's environment. The stack must pass its policy first " +
				"(no privileged, engine socket, host PID or network, devices, extra capabilities, bind mounts outside the allowed roots, other stacks' volumes or networks, " +
				"network drivers other than bridge, or subnets of its choosing, unless the owner's config allows them for this stack); " +
				"build, provider, models and remote include are refused. Progress is reported when the request carries a progress token. " +
				"With repo, the stack is fetched from git instead (hosts on the owner's git_hosts only; https or ssh with the configured deploy key) at ref " +
				"(a branch, tag or commit; default the remote's HEAD), its compose file at path (default compose.yaml, inside the repository); the history records the commit. " +
				approvalNote,
			Scope: auth.ScopeContainerAdmin, Risk: tools.RiskCritical, Needs: writeGit,
			Hints: tools.Hints{ReadOnly: false, Destructive: true, Idempotent: true, OpenWorld: true},
			Run:   t.deployStack, ApprovalPlan: approvalPlan(t.planDeploy),
			Task: true,
		}.Spec(),
		tools.TypedSpec[UpdateArgs, UpdateResult]{
			Name: "update_stack", Title: "Update a compose stack",
			Description: "Re-resolves the stack from its stack root (as deploy_stack, policy included), shows the diff of the resolved configuration " +
				"against the last successful deployment, pulls its images and recreates what changed. If that fails, the last successful deployment " +
				"is deployed again and the result says so (rolled_back_to); the history records both. A git stack is fetched again first, at ref " +
				"(default: the ref it was deployed from), and the result names the new commit. " + approvalNote,
			Scope: auth.ScopeContainerAdmin, Risk: tools.RiskCritical, Needs: writeGit,
			Hints: tools.Hints{ReadOnly: false, Destructive: true, Idempotent: false, OpenWorld: true},
			Run:   t.updateStack, ApprovalPlan: approvalPlan(t.planUpdate),
			Task: true,
		}.Spec(),
		tools.TypedSpec[RollbackArgs, DeployResult]{
			Name: "rollback_stack", Title: "Roll a compose stack back",
			Description: "Deploys again the resolved configuration of an earlier deployment of the stack (an id from get_stack_history), " +
				"checked against the stack's policy as it is now.",
			Scope: auth.ScopeContainerAdmin, Risk: tools.RiskCritical, Needs: write,
			Hints: tools.Hints{ReadOnly: false, Destructive: true, Idempotent: false, OpenWorld: false},
			Run:   t.rollbackStack, ApprovalPlan: approvalPlan(t.planRollback),
			Task: true,
		}.Spec(),
		tools.TypedSpec[RemoveArgs, RemoveResult]{
			Name: "remove_stack", Title: "Remove a compose stack",
			Description: "Stops and removes a compose project's containers and networks (docker compose down). volumes: true also removes its volumes, named ones included.",
			Scope:       auth.ScopeContainerAdmin, Risk: tools.RiskCritical, Needs: write,
			Hints: tools.Hints{ReadOnly: false, Destructive: true, Idempotent: true, OpenWorld: false},
			Run:   t.removeStack, ApprovalPlan: approvalPlan(t.planRemove),
			Task: true,
		}.Spec(),
		tools.TypedSpec[NameArg, ActionResult]{
			Name: "restart_stack", Title: "Restart a compose stack",
			Description: "Restarts every container of a compose project, in dependency order.",
			Scope:       auth.ScopeContainerWrite, Risk: tools.RiskHigh, Needs: read,
			Hints: tools.Hints{ReadOnly: false, Destructive: true, Idempotent: false, OpenWorld: false},
			Run:   t.restartStack,
			Task:  true,
		}.Spec(),
		tools.TypedSpec[NameArg, ActionResult]{
			Name: "pull_stack_images", Title: "Pull a compose stack's images",
			Description: "Pulls the images of a stack from its stack root (after its policy check), without recreating anything. " +
				"Progress is reported when the request carries a progress token.",
			Scope: auth.ScopeDockerAdmin, Risk: tools.RiskHigh, Needs: read,
			Hints: tools.Hints{ReadOnly: false, Destructive: false, Idempotent: true, OpenWorld: true},
			Run:   t.pullStack,
			Task:  true,
		}.Spec(),
	}
}
