// SPDX-License-Identifier: Apache-2.0

// Package docker is the toolset of the Docker Engine API: listing and
// inspecting containers, images, networks and volumes, container logs
// and stats, starting, stopping, restarting, updating and removing
// containers, and pulling images. It works with Docker and with Podman's
// Docker-compatible API.
package docker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/sandbox"
	"github.com/tailops/tailops/tools"
)

// Toolset is the Docker toolset, built by New.
type Toolset struct {
	engine
	specs []tools.Spec
}

var _ tools.Toolset = (*Toolset)(nil)

// New checks cfg, resolves the endpoint the tools reach the engine at,
// and declares the Docker tools; it connects to nothing (the client
// dials on first use). On error (an endpoint the tools cannot use) the
// Toolset is still returned, its tools declared but unavailable
// (tools.Unavailable), so that a server can name them and start without
// them when none is enabled.
func New(cfg Config) (*Toolset, error) {
	t := &Toolset{engine: *newEngine(cfg)}
	var err error
	t.ep, err = resolveEndpoint(cfg)
	t.specs = t.declare()
	if err != nil {
		t.specs = tools.Unavailable(t.specs, fmt.Errorf("the Docker tools are unavailable: %w", err))
	}
	return t, err
}

// Name returns "docker".
func (t *Toolset) Name() string { return "docker" }

// Tools returns the Docker tools.
func (t *Toolset) Tools() []tools.Spec { return slices.Clone(t.specs) }

// Endpoint is where the tools reach the engine, as far as the sandbox
// must grant it (the tools' Needs say the same); the zero Endpoint when
// New failed.
func (t *Toolset) Endpoint() Endpoint { return t.ep }

// engine holds the Docker client. The client is created on first
// use and kept: it dials per request, so it survives the daemon being
// down at start or restarting later, and negotiates the API version on
// the first request that reaches a daemon.
type engine struct {
	cfg Config
	ep  Endpoint
	log *slog.Logger
	// statsInterval is the time between the two samples
	// get_container_stats computes CPU use from.
	statsInterval time.Duration

	mu  sync.Mutex
	cli *client.Client

	// checked is the last check_image_updates answer per container id,
	// which get_inventory shows as known.
	checkedMu sync.Mutex
	checked   map[string]checkedUpdate
}

// checkedUpdate is one container's image update status, as last checked.
type checkedUpdate struct {
	status string
	at     time.Time
}

func newEngine(cfg Config) *engine {
	return &engine{cfg: cfg, log: cmp.Or(cfg.Logger, slog.Default()), statsInterval: 500 * time.Millisecond}
}

// client returns the Docker client, creating it on first use.
func (e *engine) client() (*client.Client, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cli != nil {
		return e.cli, nil
	}
	cli, err := client.NewClientWithOpts(clientOpts(e.cfg)...)
	if err != nil {
		return nil, fmt.Errorf("configuring the Docker client for %s: %w", e.endpoint(), err)
	}
	e.cli = cli
	return cli, nil
}

// endpoint is the daemon address, for messages: without anything
// between "://" and an "@", which could be credentials.
func (e *engine) endpoint() string {
	h := cmp.Or(e.cfg.Host, client.DefaultDockerHost)
	if scheme, rest, ok := strings.Cut(h, "://"); ok {
		if at := strings.LastIndexByte(rest, '@'); at >= 0 {
			return scheme + "://…@" + rest[at+1:]
		}
	}
	return h
}

// ErrDockerUnreachable is the cause of every tool error that comes from
// not reaching the Docker daemon.
//
//lint:ignore ST1005 the message begins every such tool error, with the product's name capitalized, as it always has
var ErrDockerUnreachable = errors.New("Docker daemon not reachable")

// fail turns an error from the Docker client into a tool error: a
// daemon that is down or went away mid-call gets one clear message, and
// the daemon's own wording loses its "Error response from daemon" prefix.
func (e *engine) fail(err error, doing string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w", doing, err)
	case errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM):
		hint := "the user TailOps runs as needs access to the socket (its group, usually docker); under the sandbox, " +
			"if dockerd has since recreated its socket, restart TailOps"
		if !strings.HasPrefix(e.endpoint(), "unix://") {
			hint = "the kernel sandbox lets the Docker tools connect only to DOCKER_HOST's port (not to a proxy from HTTP(S)_PROXY)"
		}
		return fmt.Errorf("%w at %s: permission denied (%s failed): %s", ErrDockerUnreachable, e.endpoint(), doing, hint)
	case unreachable(err) && !connectionLost(err):
		return fmt.Errorf("%w at %s: is dockerd running? (%s failed)", ErrDockerUnreachable, e.endpoint(), doing)
	case connectionLost(err):
		return fmt.Errorf("%w at %s: the connection was lost while %s; is dockerd restarting? (%v)", ErrDockerUnreachable, e.endpoint(), doing, err)
	}
	msg := strings.TrimPrefix(err.Error(), "Error response from daemon: ")
	return fmt.Errorf("%s: %s", doing, msg)
}

// unreachable reports whether err means the daemon could not be reached
// or went away.
func unreachable(err error) bool {
	return client.IsErrConnectionFailed(err) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ENOENT) || connectionLost(err)
}

// connectionLost reports whether err means the daemon closed the
// connection during a call, as it does when it stops or restarts.
func connectionLost(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// containerRef is a container name (optionally with Docker's leading
// slash) or an id or id prefix, of at most maxContainerRef characters
// (checked apart: a counted repeat would compile into a large program at
// start-up). Anything else never reaches the API.
var containerRef = regexp.MustCompile(`^/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

const maxContainerRef = 255

// isContainerRef reports whether ref may name a container.
func isContainerRef(ref string) bool {
	return len(strings.TrimPrefix(ref, "/")) <= maxContainerRef && containerRef.MatchString(ref)
}

// ContainerArg is the input of a tool that acts on one container.
type ContainerArg struct {
	Container string `json:"container" jsonschema_description:"container name or id (a unique id prefix is enough)"`
}

// resolve finds the one container ref names, by full id, exact name or
// unique id prefix (the daemon's own order), and inspects it. No match
// and an ambiguous prefix are tool errors that say so.
func (e *engine) resolve(ctx context.Context, cli *client.Client, ref string) (container.InspectResponse, error) {
	if !isContainerRef(ref) {
		return container.InspectResponse{}, tools.ArgErrorf("container", "must be a container name or id (letters, digits, '_', '.', '-'), got %q", ref)
	}
	ref = strings.TrimPrefix(ref, "/")
	ins, err := cli.ContainerInspect(ctx, ref)
	if err == nil {
		return ins, nil
	}
	if unreachable(err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return ins, e.fail(err, "inspecting container")
	}
	// Not found, or an ambiguous prefix (which daemons report in different
	// ways): list to say exactly which.
	list, lerr := cli.ContainerList(ctx, container.ListOptions{All: true})
	if lerr != nil {
		return ins, e.fail(lerr, "listing containers")
	}
	var matches []container.Summary
	for _, c := range list {
		if strings.HasPrefix(c.ID, ref) {
			matches = append(matches, c)
		}
	}
	switch {
	case len(matches) == 0 && cerrdefs.IsNotFound(err):
		return ins, fmt.Errorf("no container matches %q", ref)
	case len(matches) < 2:
		return ins, e.fail(err, "inspecting container")
	}
	sort.Slice(matches, func(i, j int) bool { return matches[i].ID < matches[j].ID })
	desc := make([]string, 0, len(matches))
	for i, c := range matches {
		if i == 5 {
			desc = append(desc, fmt.Sprintf("and %d more", len(matches)-5))
			break
		}
		desc = append(desc, fmt.Sprintf("%s (%q)", shortID(c.ID), summaryName(c)))
	}
	return ins, fmt.Errorf("%q matches %d containers: %s; use a longer id or the full name", ref, len(matches), strings.Join(desc, ", "))
}

// shortID is the 12-character form of a container or image id.
func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func summaryName(c container.Summary) string {
	if len(c.Names) == 0 {
		return ""
	}
	return strings.TrimPrefix(c.Names[0], "/")
}

// rfc3339 formats a time for results; the zero time is "".
func rfc3339(t time.Time) string {
	if t.IsZero() || t.Unix() <= 0 {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// dockerTime reformats a timestamp from the daemon, which uses RFC 3339
// with nanoseconds; "" and Go's zero time become "".
func dockerTime(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return rfc3339(t)
}

// needs is what every Docker tool needs from the sandbox: the endpoint's
// unix socket, or its TCP port (on any host, so DNS too, for a name),
// and with a cert path the client's three TLS files, which it reads on
// its first call.
func (e *engine) needs() sandbox.Needs {
	n := sandbox.Needs{Read: e.ep.CertFiles}
	if e.ep.Socket != "" {
		n.Sockets = []string{e.ep.Socket}
	}
	if e.ep.TCPPort != 0 {
		n.TCPPorts, n.DNS = []uint16{e.ep.TCPPort}, true
	}
	return n
}

// declare declares the Docker tools over e.
func (e *engine) declare() []tools.Spec {
	dockerNeeds := e.needs()
	return []tools.Spec{
		tools.TypedSpec[ListContainersArgs, ContainerList]{
			Name: "list_containers", Title: "List containers",
			Description: "Docker containers with their image, state, status, ports, networks and labels. Running ones by default; " +
				"all: true includes stopped ones. Filters: name (substring), label (key or key=value, all must match), status.",
			Scope: auth.ScopeContainerRead, Risk: tools.RiskLow, Hints: tools.ReadHints, Needs: dockerNeeds,
			Run: e.listContainers,
		}.Spec(),
		tools.TypedSpec[ContainerArg, ContainerDetails]{
			Name: "inspect_container", Title: "Inspect a container",
			Description: "One container's configuration and state: image, command, environment, labels, mounts, ports, networks, " +
				"restart policy, health check, resources, capabilities, devices and log configuration. Secrets are [REDACTED] in the " +
				"environment, labels, command, health check and log options: values of secret-looking names (password, token, key, …) " +
				"and token-shaped values under any name, by the rules the audit log uses.",
			Scope: auth.ScopeContainerRead, Risk: tools.RiskModerate, Hints: tools.ReadHints, Needs: dockerNeeds,
			Run: e.inspectContainer,
		}.Spec(),
		tools.TypedSpec[LogsArgs, ContainerLogs]{
			Name: "get_container_logs", Title: "Container logs",
			Description: "The last lines a container wrote, with stdout and stderr kept apart (each line says its stream). " +
				"tail: how many lines (default 100); since: a duration such as 10m or an RFC 3339 time; timestamps: the daemon's time of each line; " +
				"max_bytes: cap on the text returned (default 64 KiB), keeping the newest lines.",
			Scope: auth.ScopeContainerRead, Risk: tools.RiskModerate, Hints: tools.ReadHints, Needs: dockerNeeds,
			Run: e.containerLogs, Text: logsText,
			Untrusted: true, // the container's output
		}.Spec(),
		tools.TypedSpec[ContainerArg, ContainerStats]{
			Name: "get_container_stats", Title: "Container resource usage",
			Description: "A running container's CPU use (measured over half a second), memory use and limit, network and block I/O totals, and process count.",
			Scope:       auth.ScopeContainerRead, Risk: tools.RiskLow, Hints: tools.ReadHints, Needs: dockerNeeds,
			Run: e.containerStats,
		}.Spec(),
		tools.TypedSpec[ListImagesArgs, ImageList]{
			Name: "list_images", Title: "List images",
			Description: "Local Docker images with their tags, digests, size and creation time. reference filters by name pattern, such as nginx or nginx:1.*.",
			Scope:       auth.ScopeContainerRead, Risk: tools.RiskLow, Hints: tools.ReadHints, Needs: dockerNeeds,
			Run: e.listImages,
		}.Spec(),
		tools.TypedSpec[tools.NoArgs, NetworkList]{
			Name: "list_networks", Title: "List Docker networks",
			Description: "Docker networks with their driver, scope, subnets and gateways.",
			Scope:       auth.ScopeContainerRead, Risk: tools.RiskLow, Hints: tools.ReadHints, Needs: dockerNeeds,
			Run: e.listNetworks,
		}.Spec(),
		tools.TypedSpec[tools.NoArgs, VolumeList]{
			Name: "list_volumes", Title: "List Docker volumes",
			Description: "Docker volumes with their driver, mount point, labels and creation time.",
			Scope:       auth.ScopeContainerRead, Risk: tools.RiskLow, Hints: tools.ReadHints, Needs: dockerNeeds,
			Run: e.listVolumes,
		}.Spec(),
		tools.TypedSpec[ContainerArg, ContainerAction]{
			Name: "start_container", Title: "Start a container",
			Description: "Starts a stopped container. Starting a running one changes nothing.",
			Scope:       auth.ScopeContainerWrite, Risk: tools.RiskHigh, Needs: dockerNeeds,
			Hints: tools.Hints{ReadOnly: false, Destructive: false, Idempotent: true, OpenWorld: false},
			Run:   e.startContainer,
		}.Spec(),
		tools.TypedSpec[StopArgs, ContainerAction]{
			Name: "stop_container", Title: "Stop a container",
			Description: "Stops a running container: SIGTERM (or its stop signal), then SIGKILL after timeout seconds " +
				"(default: the container's own stop timeout, usually 10). Stopping a stopped one changes nothing.",
			Scope: auth.ScopeContainerWrite, Risk: tools.RiskHigh, Needs: dockerNeeds,
			Hints: tools.Hints{ReadOnly: false, Destructive: true, Idempotent: true, OpenWorld: false},
			Run:   e.stopContainer,
		}.Spec(),
		tools.TypedSpec[StopArgs, ContainerAction]{
			Name: "restart_container", Title: "Restart a container",
			Description: "Stops (as stop_container, with the same timeout) and starts a container again.",
			Scope:       auth.ScopeContainerWrite, Risk: tools.RiskHigh, Needs: dockerNeeds,
			Hints: tools.Hints{ReadOnly: false, Destructive: true, Idempotent: false, OpenWorld: false},
			Run:   e.restartContainer,
		}.Spec(),
		tools.TypedSpec[UpdateArgs, UpdateResult]{
			Name: "update_container", Title: "Update a container's image",
			Description: "Pulls the container's image (or the image given) and recreates the container from it with the same configuration: " +
				"environment, command, entrypoint, user, working directory, labels, mounts and volumes, port bindings, networks with aliases and static IPs, " +
				"restart policy, health check, resource limits, capabilities, devices and log configuration. If the new container does not start, exits, " +
				"or is not healthy within timeout seconds, it is removed and the old one is brought back under its name. " +
				"Pull progress is reported when the request carries a progress token.",
			Scope: auth.ScopeContainerAdmin, Risk: tools.RiskCritical, Needs: dockerNeeds,
			Hints: tools.Hints{ReadOnly: false, Destructive: true, Idempotent: false, OpenWorld: true},
			Run:   e.updateContainer,
			ApprovalPlan: func(ctx context.Context, in UpdateArgs) (tools.Plan, error) {
				return e.planContainer(ctx, in.Container)
			},
			Task: true,
		}.Spec(),
		tools.TypedSpec[RemoveArgs, RemoveResult]{
			Name: "remove_container", Title: "Remove a container",
			Description: "Removes a container. A running container is removed only with force: true (it is killed first). " +
				"volumes: true also removes its anonymous volumes; named volumes are always kept.",
			Scope: auth.ScopeContainerAdmin, Risk: tools.RiskCritical, Needs: dockerNeeds,
			Hints: tools.Hints{ReadOnly: false, Destructive: true, Idempotent: false, OpenWorld: false},
			Run:   e.removeContainer,
			ApprovalPlan: func(ctx context.Context, in RemoveArgs) (tools.Plan, error) {
				return e.planContainer(ctx, in.Container)
			},
		}.Spec(),
		tools.TypedSpec[PullArgs, PullResult]{
			Name: "pull_image", Title: "Pull an image",
			Description: "Pulls an image from its registry, such as nginx:1.27 or ghcr.io/owner/app@sha256:…; a reference without a tag means :latest. " +
				"Progress is reported when the request carries a progress token.",
			Scope: auth.ScopeDockerAdmin, Risk: tools.RiskCritical, Needs: dockerNeeds,
			Hints: tools.Hints{ReadOnly: false, Destructive: false, Idempotent: true, OpenWorld: true},
			Run:   e.pullImageTool,
			Task:  true,
		}.Spec(),
		tools.TypedSpec[ExecArgs, ExecResult]{
			Name: "exec_in_container", Title: "Run a command in a container",
			Description: "Runs argv (the program and its arguments, an array: no shell is implied) in a running container through the Engine API's exec, " +
				"without a terminal or stdin, and returns its exit code, stdout and stderr (each up to 1 MiB, secrets redacted). timeout: seconds to wait " +
				"(default 30, at most 600); a process still running then is reported with its PID, as the Engine API cannot end it.",
			Scope: auth.ScopeContainerAdmin, Risk: tools.RiskCritical, Needs: dockerNeeds,
			Hints: tools.Hints{ReadOnly: false, Destructive: true, Idempotent: false, OpenWorld: false},
			Run:   e.execInContainer, Text: execText,
			ApprovalPlan: func(ctx context.Context, in ExecArgs) (tools.Plan, error) { return e.planContainer(ctx, in.Container) },
			Untrusted:    true, // the command's output
		}.Spec(),
		tools.TypedSpec[ImageUpdatesArgs, ImageUpdates]{
			Name: "check_image_updates", Title: "Check for image updates",
			Description: "For running containers (all, one container, or one compose stack), compares the registry digest of the image each runs " +
				"with the digest its registry has for the same reference now (the daemon asks for the manifest; nothing is pulled): " +
				"up_to_date, update_available, pinned (a digest reference), local_only (an image built or loaded here) or error, per container.",
			Scope: auth.ScopeContainerRead, Risk: tools.RiskLow, Needs: dockerNeeds,
			Hints: tools.Hints{ReadOnly: true, Destructive: false, Idempotent: true, OpenWorld: true},
			Run:   e.checkImageUpdates,
		}.Spec(),
	}
}
