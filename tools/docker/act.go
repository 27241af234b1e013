// SPDX-License-Identifier: Apache-2.0

package docker

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"github.com/tailops/tailops/tools"
)

// StopArgs is the input of stop_container and restart_container.
type StopArgs struct {
	Container string `json:"container" jsonschema_description:"container name or id"`
	Timeout   *int   `json:"timeout,omitempty" jsonschema_description:"seconds to wait after the stop signal before killing, 0 to 600 (default: the container's stop timeout)"`
}

// ContainerAction is the output of start_container, stop_container and
// restart_container.
type ContainerAction struct {
	Container   string `json:"container"`
	ID          string `json:"id"`
	Action      string `json:"action"`
	StateBefore string `json:"state_before"`
	State       string `json:"state"`
	Changed     bool   `json:"changed" jsonschema_description:"false when the container already was in the state asked for"`
	ExitCode    int    `json:"exit_code" jsonschema_description:"the exit code, once stopped"`
}

func (e *engine) startContainer(ctx context.Context, in ContainerArg) (ContainerAction, error) {
	return e.act(ctx, in.Container, "start", func(cli *client.Client, id string) error {
		return cli.ContainerStart(ctx, id, container.StartOptions{})
	})
}

func (e *engine) stopContainer(ctx context.Context, in StopArgs) (ContainerAction, error) {
	opts, err := stopOptions(in)
	if err != nil {
		return ContainerAction{}, err
	}
	return e.act(ctx, in.Container, "stop", func(cli *client.Client, id string) error {
		return cli.ContainerStop(ctx, id, opts)
	})
}

func (e *engine) restartContainer(ctx context.Context, in StopArgs) (ContainerAction, error) {
	opts, err := stopOptions(in)
	if err != nil {
		return ContainerAction{}, err
	}
	return e.act(ctx, in.Container, "restart", func(cli *client.Client, id string) error {
		return cli.ContainerRestart(ctx, id, opts)
	})
}

func stopOptions(in StopArgs) (container.StopOptions, error) {
	var opts container.StopOptions
	if in.Timeout != nil {
		t, err := tools.IntArg("timeout", in.Timeout, 0, 0, 600)
		if err != nil {
			return opts, err
		}
		opts.Timeout = &t
	}
	return opts, nil
}

// act resolves a container, runs one state change on it, and reports the
// state before and after.
func (e *engine) act(ctx context.Context, ref, action string, do func(cli *client.Client, id string) error) (ContainerAction, error) {
	cli, err := e.client()
	if err != nil {
		return ContainerAction{}, err
	}
	c, err := e.resolve(ctx, cli, ref)
	if err != nil {
		return ContainerAction{}, err
	}
	if err := e.changeable(c); err != nil {
		return ContainerAction{}, err
	}
	name := strings.TrimPrefix(c.Name, "/")
	out := ContainerAction{Container: name, ID: c.ID, Action: action, StateBefore: string(c.State.Status)}
	e.log.Info("docker "+action, slog.String("container", name), slog.String("id", shortID(c.ID)))
	if err := do(cli, c.ID); err != nil {
		return out, e.fail(err, fmt.Sprintf("%s container %q", gerund(action), name))
	}
	after, err := cli.ContainerInspect(ctx, c.ID)
	if err != nil {
		return out, e.fail(err, "inspecting container")
	}
	out.State, out.ExitCode = string(after.State.Status), after.State.ExitCode
	switch action {
	case "start":
		out.Changed = !c.State.Running
	case "stop":
		out.Changed = c.State.Running
	default:
		out.Changed = true
	}
	return out, nil
}

func gerund(verb string) string {
	switch verb {
	case "stop":
		return "stopping"
	case "remove":
		return "removing"
	}
	return verb + "ing"
}

// RemoveArgs is remove_container's input.
type RemoveArgs struct {
	Container string `json:"container" jsonschema_description:"container name or id"`
	Force     bool   `json:"force,omitempty" jsonschema_description:"remove it even when running (it is killed first)"`
	Volumes   bool   `json:"volumes,omitempty" jsonschema_description:"also remove its anonymous volumes; named volumes are always kept"`
}

// RemoveResult is remove_container's output.
type RemoveResult struct {
	Container  string `json:"container"`
	ID         string `json:"id"`
	Removed    bool   `json:"removed"`
	WasRunning bool   `json:"was_running"`
}

func (e *engine) removeContainer(ctx context.Context, in RemoveArgs) (RemoveResult, error) {
	cli, err := e.client()
	if err != nil {
		return RemoveResult{}, err
	}
	c, err := e.target(ctx, cli, in.Container)
	if err != nil {
		return RemoveResult{}, err
	}
	if err := e.changeable(c); err != nil {
		return RemoveResult{}, err
	}
	name := strings.TrimPrefix(c.Name, "/")
	running := c.State != nil && (c.State.Running || c.State.Restarting || c.State.Paused)
	if running && !in.Force {
		return RemoveResult{}, fmt.Errorf("container %q is %s: stop it first, or pass force: true to kill and remove it", name, c.State.Status)
	}
	e.log.Info("docker remove", slog.String("container", name), slog.String("id", shortID(c.ID)), slog.Bool("force", in.Force))
	if err := cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: in.Force, RemoveVolumes: in.Volumes}); err != nil {
		return RemoveResult{}, e.fail(err, fmt.Sprintf("removing container %q", name))
	}
	return RemoveResult{Container: name, ID: c.ID, Removed: true, WasRunning: running}, nil
}
