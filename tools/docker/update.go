// SPDX-License-Identifier: Apache-2.0

package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/docker/go-connections/nat"

	"github.com/tailops/tailops/redact"
	"github.com/tailops/tailops/tools"
)

// PullArgs is pull_image's input.
type PullArgs struct {
	Image string `json:"image" jsonschema_description:"image reference, such as nginx:1.27, ghcr.io/owner/app:v2 or name@sha256:…; no tag means latest"`
}

// PullResult is pull_image's output.
type PullResult struct {
	Image   string `json:"image" jsonschema_description:"the normalized reference pulled"`
	ID      string `json:"id" jsonschema_description:"the local image id"`
	Digest  string `json:"digest,omitempty" jsonschema_description:"the manifest digest the registry served"`
	Status  string `json:"status" jsonschema_description:"the daemon's summary, such as Downloaded newer image or Image is up to date"`
	Updated bool   `json:"updated" jsonschema_description:"the reference now names a different image than before"`
}

// parseImageRef validates an image reference and returns it normalized,
// with :latest when it has neither tag nor digest.
func parseImageRef(arg, s string) (string, error) {
	if s == "" {
		return "", tools.ArgErrorf(arg, "is required")
	}
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return "", tools.ArgErrorf(arg, "not a valid image reference (%v): %q", err, s)
	}
	return reference.FamiliarString(reference.TagNameOnly(named)), nil
}

func (e *engine) pullImageTool(ctx context.Context, in PullArgs) (PullResult, error) {
	ref, err := parseImageRef("image", in.Image)
	if err != nil {
		return PullResult{}, err
	}
	cli, err := e.client()
	if err != nil {
		return PullResult{}, err
	}
	before, _ := cli.ImageInspect(ctx, ref)
	res, err := e.pull(ctx, cli, ref)
	if err != nil {
		return PullResult{}, err
	}
	res.Updated = res.ID != before.ID
	return res, nil
}

// pullMessage is one line of the daemon's pull progress stream.
type pullMessage struct {
	Status         string `json:"status"`
	ID             string `json:"id"`
	ProgressDetail struct {
		Current int64 `json:"current"`
		Total   int64 `json:"total"`
	} `json:"progressDetail"`
	Error       string `json:"error"`
	ErrorDetail *struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
}

// layerProgress is a layer's download and extraction, each 0 to 1.
type layerProgress struct{ download, extract float64 }

// pull pulls ref, reporting progress as layers download and extract:
// each layer counts 2 (1 for downloading, 1 for extracting), and the end
// 1 more, so the final report, with the daemon's summary, always comes.
func (e *engine) pull(ctx context.Context, cli *client.Client, ref string) (PullResult, error) {
	e.log.Info("docker pull", slog.String("image", ref))
	rc, err := cli.ImagePull(ctx, ref, image.PullOptions{})
	if err != nil {
		return PullResult{}, e.fail(err, fmt.Sprintf("pulling %s", ref))
	}
	defer rc.Close()
	p := tools.ProgressFrom(ctx)
	p.Report(0, 0, "pulling "+ref, false)
	layers := map[string]*layerProgress{}
	res := PullResult{Image: ref}
	sum := func() (done, total float64) {
		for _, l := range layers {
			done += l.download + l.extract
		}
		return done, float64(2*len(layers) + 1)
	}
	dec := json.NewDecoder(rc)
	for {
		var m pullMessage
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			return PullResult{}, e.fail(err, fmt.Sprintf("reading the progress of pulling %s", ref))
		}
		if m.Error != "" || m.ErrorDetail != nil {
			msg := m.Error
			if msg == "" {
				msg = m.ErrorDetail.Message
			}
			return PullResult{}, fmt.Errorf("pulling %s: %s", ref, msg)
		}
		if d, ok := strings.CutPrefix(m.Status, "Digest: "); ok {
			res.Digest = d
			continue
		}
		if s, ok := strings.CutPrefix(m.Status, "Status: "); ok {
			res.Status = s
			continue
		}
		l := layers[m.ID]
		switch m.Status {
		case "Pulling fs layer", "Waiting", "Downloading", "Verifying Checksum", "Download complete", "Extracting", "Pull complete", "Already exists":
			if m.ID == "" {
				continue
			}
			if l == nil {
				l = &layerProgress{}
				layers[m.ID] = l
			}
		default:
			continue
		}
		frac := func() float64 {
			if m.ProgressDetail.Total <= 0 {
				return 0
			}
			return min(1, float64(m.ProgressDetail.Current)/float64(m.ProgressDetail.Total))
		}
		final := false
		switch m.Status {
		case "Downloading":
			l.download = max(l.download, frac())
		case "Verifying Checksum", "Download complete":
			l.download, final = 1, true
		case "Extracting":
			l.download, l.extract = 1, max(l.extract, frac())
		case "Pull complete", "Already exists":
			l.download, l.extract, final = 1, 1, true
		}
		done, total := sum()
		p.Report(done, total, fmt.Sprintf("%s %s", m.Status, m.ID), final)
	}
	ins, err := cli.ImageInspect(ctx, ref)
	if err != nil {
		return PullResult{}, e.fail(err, fmt.Sprintf("inspecting pulled image %s", ref))
	}
	res.ID = ins.ID
	if res.Status == "" {
		res.Status = "pulled"
	}
	_, total := sum()
	p.Report(total, total, res.Status, true)
	return res, nil
}

// UpdateArgs is update_container's input.
type UpdateArgs struct {
	Container string `json:"container" jsonschema_description:"container name or id"`
	Image     string `json:"image,omitempty" jsonschema_description:"image reference to run; default: the one the container was created with"`
	Pull      *bool  `json:"pull,omitempty" jsonschema_description:"pull the image first (default true); false uses the local image"`
	Force     bool   `json:"force,omitempty" jsonschema_description:"recreate the container even when the image is unchanged"`
	Timeout   *int   `json:"timeout,omitempty" jsonschema_description:"seconds, 1 to 600 (default 60), for the new container to become healthy; without a health check it must keep running for 5 s (or timeout, if less)"`
}

// UpdateResult is update_container's output.
type UpdateResult struct {
	Container  string `json:"container"`
	Image      string `json:"image"`
	Updated    bool   `json:"updated" jsonschema_description:"false when the image was unchanged and force was not given"`
	Pulled     bool   `json:"pulled"`
	OldID      string `json:"old_id"`
	NewID      string `json:"new_id,omitempty"`
	OldImageID string `json:"old_image_id"`
	NewImageID string `json:"new_image_id"`
	Started    bool   `json:"started" jsonschema_description:"the new container was started (it is left stopped when the old one was not running)"`
	Health     string `json:"health" jsonschema_description:"healthy, running (no health check) or not started"`
}

// settleTime is how long a container without a health check must keep
// running before an update counts as a success.
const settleTime = 5 * time.Second

func (e *engine) updateContainer(ctx context.Context, in UpdateArgs) (UpdateResult, error) {
	timeoutSec, err := tools.IntArg("timeout", in.Timeout, 60, 1, 600)
	if err != nil {
		return UpdateResult{}, err
	}
	pull := in.Pull == nil || *in.Pull
	cli, err := e.client()
	if err != nil {
		return UpdateResult{}, err
	}
	old, err := e.target(ctx, cli, in.Container)
	if err != nil {
		return UpdateResult{}, err
	}
	if err := e.changeable(old); err != nil {
		return UpdateResult{}, err
	}
	name := strings.TrimPrefix(old.Name, "/")
	if old.HostConfig != nil && old.HostConfig.AutoRemove {
		return UpdateResult{}, fmt.Errorf("container %q is removed when it stops (--rm), so it could not be brought back if the update failed; recreate it yourself", name)
	}
	ref := in.Image
	if ref == "" {
		ref = old.Config.Image
	}
	if strings.HasPrefix(ref, "sha256:") || !strings.ContainsAny(ref, ":/@") && len(ref) == 64 {
		if in.Image == "" {
			return UpdateResult{}, tools.ArgErrorf("image", "container %q was created from an image id, which cannot be pulled; name the image to run", name)
		}
		return UpdateResult{}, tools.ArgErrorf("image", "must be an image reference, not an id")
	}
	if ref, err = parseImageRef("image", ref); err != nil {
		return UpdateResult{}, err
	}
	res := UpdateResult{Container: name, Image: ref, OldID: old.ID, OldImageID: old.Image, Health: "not started"}
	if pull {
		if _, err := e.pull(ctx, cli, ref); err != nil {
			return res, err
		}
		res.Pulled = true
	}
	newImg, err := cli.ImageInspect(ctx, ref)
	if cerrdefs.IsNotFound(err) {
		return res, fmt.Errorf("image %s is not present locally; pull it or pass pull: true", ref)
	} else if err != nil {
		return res, e.fail(err, fmt.Sprintf("inspecting image %s", ref))
	}
	res.NewImageID = newImg.ID
	if newImg.ID == old.Image && !in.Force {
		res.Health = string(stateOf(old))
		return res, nil
	}
	var oldImg *image.InspectResponse
	if im, err := cli.ImageInspect(ctx, old.Image); err == nil {
		oldImg = &im
	}
	// The new container names its image as the old one did (nginx stays
	// nginx, not docker.io/library/nginx:latest) unless told otherwise.
	cfgImage := old.Config.Image
	if in.Image != "" {
		cfgImage = in.Image
	}
	cfg, hc, netcfg, extra := recreateConfig(old, oldImg, cfgImage)
	if err := tools.ShutdownErr(ctx); err != nil {
		return res, fmt.Errorf("%w; %q was not changed", err, name)
	}

	// From here on the old container is taken down; finish (or roll
	// back) even if the caller goes away. A server shutting down makes it
	// roll back (see WithShutdown) rather than leave it half-done.
	ctx = context.WithoutCancel(ctx)
	wasRunning := old.State != nil && (old.State.Running || old.State.Restarting || old.State.Paused)
	log := e.log.With(slog.String("container", name), slog.String("old_id", shortID(old.ID)), slog.String("image", ref))
	undo := func(newID string, renamed bool, cause error) error {
		return e.rollback(ctx, cli, log, old, name, newID, renamed, wasRunning, cause)
	}
	log.Info("updating container")
	if wasRunning {
		if err := cli.ContainerStop(ctx, old.ID, container.StopOptions{}); err != nil {
			return res, e.fail(err, fmt.Sprintf("stopping container %q", name))
		}
		if err := tools.ShutdownErr(ctx); err != nil {
			return res, undo("", false, err)
		}
	}
	parked := fmt.Sprintf("%s-tailops-old-%s", name, shortID(old.ID))
	if len(parked) > 255 {
		parked = "tailops-old-" + shortID(old.ID)
	}
	if err := cli.ContainerRename(ctx, old.ID, parked); err != nil {
		err = e.fail(err, fmt.Sprintf("renaming container %q", name))
		return res, undo("", false, err)
	}
	if err := tools.ShutdownErr(ctx); err != nil {
		return res, undo("", true, err)
	}
	created, err := cli.ContainerCreate(ctx, cfg, hc, netcfg, nil, name)
	if err != nil {
		err = e.fail(err, "creating the new container")
		return res, undo("", true, err)
	}
	res.NewID = created.ID
	for _, n := range extra {
		if err := cli.NetworkConnect(ctx, n.name, created.ID, n.settings); err != nil {
			err = e.fail(err, fmt.Sprintf("connecting the new container to network %q", n.name))
			return res, undo(created.ID, true, err)
		}
	}
	if wasRunning {
		if err := cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
			err = e.fail(err, "starting the new container")
			return res, undo(created.ID, true, err)
		}
		res.Started = true
		health, err := e.waitHealthy(ctx, cli, created.ID, time.Duration(timeoutSec)*time.Second)
		if err != nil {
			return res, undo(created.ID, true, err)
		}
		res.Health = health
	}
	if err := cli.ContainerRemove(ctx, old.ID, container.RemoveOptions{}); err != nil {
		// The update worked; the parked container is only clutter.
		log.Warn("removing the replaced container", slog.String("parked_as", parked), slog.Any("error", err))
	}
	res.Updated = true
	log.Info("updated container", slog.String("new_id", shortID(created.ID)))
	return res, nil
}

func stateOf(c container.InspectResponse) container.ContainerState {
	if c.State == nil {
		return ""
	}
	return c.State.Status
}

// waitHealthy waits for a started container to prove itself: healthy
// when it has a health check, otherwise still running after settleTime
// (or timeout, if shorter). An exit, a restart or an unhealthy status
// fails at once, and so does a server shutting down.
func (e *engine) waitHealthy(ctx context.Context, cli *client.Client, id string, timeout time.Duration) (string, error) {
	start := time.Now()
	settle := min(settleTime, timeout)
	for {
		c, err := cli.ContainerInspect(ctx, id)
		if err != nil {
			return "", e.fail(err, "inspecting the new container")
		}
		s := c.State
		// Podman reports an empty health status for a container without
		// a health check (dockerd reports no health at all).
		checked := s != nil && s.Health != nil && s.Health.Status != "" && s.Health.Status != container.NoHealthcheck
		switch {
		case s == nil:
			return "", errors.New("the new container has no state")
		case s.Restarting || c.RestartCount > 0 || !s.Running:
			msg := fmt.Sprintf("the new container exited with code %d", s.ExitCode)
			if s.Error != "" {
				msg += ": " + s.Error
			}
			if out := e.lastOutput(ctx, cli, c); out != "" {
				msg += "; its last output: " + out
			}
			return "", errors.New(msg)
		case checked && s.Health.Status == container.Healthy:
			return "healthy", nil
		case checked && s.Health.Status == container.Unhealthy:
			msg := "the new container is unhealthy"
			if n := len(s.Health.Log); n > 0 && s.Health.Log[n-1] != nil {
				msg += fmt.Sprintf(" (last check exited %d: %s)", s.Health.Log[n-1].ExitCode, strings.TrimSpace(s.Health.Log[n-1].Output))
			}
			return "", errors.New(msg)
		case !checked && time.Since(start) >= settle:
			return "running", nil
		}
		if time.Since(start) >= timeout {
			status := "starting"
			if checked {
				status = string(s.Health.Status)
			}
			return "", fmt.Errorf("the new container was not healthy within %s (health: %s)", timeout, status)
		}
		select {
		case <-tools.ShutdownRequested(ctx):
			return "", tools.ErrShuttingDown
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// lastOutput is the end of a container's log, for error messages; each
// line redacted (redact.Text) before the quoting hides where lines end.
func (e *engine) lastOutput(ctx context.Context, cli *client.Client, c container.InspectResponse) string {
	col, err := e.readLogs(ctx, cli, c, container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: "5"}, 1024)
	if err != nil || len(col.lines) == 0 {
		return ""
	}
	var parts []string
	for _, l := range col.lines {
		parts = append(parts, redact.Text(l.Text))
	}
	return fmt.Sprintf("%q", strings.Join(parts, "\n"))
}

// rollback removes the new container (if one was made), gives the old
// one its name back (if it was renamed) and starts it again if it was
// running, and returns the update's error with what the rollback did. It
// takes at most tools.CleanupTimeout, and runs to the end whatever happens to
// the call.
func (e *engine) rollback(ctx context.Context, cli *client.Client, log *slog.Logger, old container.InspectResponse, name, newID string, renamed, wasRunning bool, cause error) error {
	// The cause may quote the new container's output: redacted, as the
	// tool error will be.
	log.Warn("update failed; rolling back", slog.String("error", redact.Text(cause.Error())))
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tools.CleanupTimeout)
	defer cancel()
	var errs []string
	if newID != "" {
		if err := cli.ContainerRemove(ctx, newID, container.RemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, e.fail(err, "removing the new container").Error())
		}
	}
	if renamed {
		if err := cli.ContainerRename(ctx, old.ID, name); err != nil {
			errs = append(errs, e.fail(err, "renaming the old container back").Error())
		}
	}
	if wasRunning {
		if err := cli.ContainerStart(ctx, old.ID, container.StartOptions{}); err != nil {
			errs = append(errs, e.fail(err, "starting the old container").Error())
		}
	}
	if len(errs) > 0 {
		log.Error("rollback failed", slog.Any("errors", redact.Value(errs)))
		return fmt.Errorf("updating %q failed: %w; the rollback failed too: %s; the old container is %s", name, cause, strings.Join(errs, "; "), shortID(old.ID))
	}
	state := "is back under its name"
	if wasRunning {
		state = "is running again under its name"
	}
	log.Info("rolled back")
	return fmt.Errorf("updating %q failed: %w; rolled back: the old container (%s, image %s) %s", name, cause, shortID(old.ID), shortID(old.Image), state)
}

// extraNetwork is a network the new container is connected to after
// creation: API versions before 1.44 accept only one at creation.
type extraNetwork struct {
	name     string
	settings *network.EndpointSettings
}

// recreateConfig derives the new container's configuration from the old
// one's. Settings equal to the old image's defaults are left out, so the
// new image's defaults apply; everything set for the container itself
// (environment, command, entrypoint, user, working directory, labels,
// health check, and the whole host configuration: mounts, ports,
// restart policy, resources, capabilities, devices, logging) is kept.
// Anonymous volumes are carried over by name, so their data stays.
func recreateConfig(old container.InspectResponse, oldImg *image.InspectResponse, ref string) (*container.Config, *container.HostConfig, *network.NetworkingConfig, []extraNetwork) {
	cfg := *old.Config
	cfg.Image = ref
	if cfg.Hostname == shortID(old.ID) {
		cfg.Hostname = "" // the daemon's default: the new container's own id
	}
	cfg.Env = slices.Clone(cfg.Env)
	cfg.Labels = maps.Clone(cfg.Labels)
	cfg.ExposedPorts = maps.Clone(cfg.ExposedPorts)
	cfg.Volumes = maps.Clone(cfg.Volumes)
	if oldImg != nil && oldImg.Config != nil {
		ic := oldImg.Config
		cfg.Env = slices.DeleteFunc(cfg.Env, func(kv string) bool { return slices.Contains(ic.Env, kv) })
		userEntrypoint := !slices.Equal(cfg.Entrypoint, ic.Entrypoint)
		if !userEntrypoint {
			cfg.Entrypoint = nil
		}
		// With an entrypoint of its own, the container's command never came
		// from the image, so it stays even when it looks like the image's.
		if !userEntrypoint && slices.Equal(cfg.Cmd, ic.Cmd) {
			cfg.Cmd = nil
		}
		if cfg.WorkingDir == ic.WorkingDir {
			cfg.WorkingDir = ""
		}
		if cfg.User == ic.User {
			cfg.User = ""
		}
		if cfg.StopSignal == ic.StopSignal {
			cfg.StopSignal = ""
		}
		for k, v := range ic.Labels {
			if cv, ok := cfg.Labels[k]; ok && cv == v {
				delete(cfg.Labels, k)
			}
		}
		for p := range ic.ExposedPorts {
			delete(cfg.ExposedPorts, nat.Port(p))
		}
		for v := range ic.Volumes {
			delete(cfg.Volumes, v)
		}
		if h := ic.Healthcheck; h != nil && cfg.Healthcheck != nil && slices.Equal(h.Test, cfg.Healthcheck.Test) &&
			h.Interval == cfg.Healthcheck.Interval && h.Timeout == cfg.Healthcheck.Timeout &&
			h.StartPeriod == cfg.Healthcheck.StartPeriod && h.Retries == cfg.Healthcheck.Retries {
			cfg.Healthcheck = nil
		}
		if slices.Equal(cfg.Shell, ic.Shell) {
			cfg.Shell = nil
		}
	}
	cfg.OnBuild = nil // image metadata, not the container's

	hc := *old.HostConfig
	hc.ContainerIDFile = "" // belongs to the old container
	// Podman's inspect names ulimits by their kernel names (RLIMIT_NOFILE)
	// and its create takes only Docker's (nofile); dockerd uses Docker's
	// in both, so this changes nothing there.
	if len(hc.Ulimits) > 0 {
		ulimits := make([]*container.Ulimit, 0, len(hc.Ulimits))
		for _, u := range hc.Ulimits {
			if u == nil {
				continue
			}
			v := *u
			v.Name = strings.ToLower(strings.TrimPrefix(v.Name, "RLIMIT_"))
			ulimits = append(ulimits, &v)
		}
		hc.Ulimits = ulimits
	}
	// Podman's inspect leaves a device's cgroup permissions empty, which
	// its create refuses; empty means Docker's default, rwm.
	if len(hc.Devices) > 0 {
		hc.Devices = slices.Clone(hc.Devices)
		for i := range hc.Devices {
			if hc.Devices[i].CgroupPermissions == "" {
				hc.Devices[i].CgroupPermissions = "rwm"
			}
		}
	}
	// --cpus is NanoCPUs; Podman's inspect also reports it as the period
	// and quota it set, which create (Podman's and dockerd's) refuses
	// together with NanoCPUs.
	if hc.NanoCPUs > 0 {
		hc.CPUPeriod, hc.CPUQuota = 0, 0
	}
	hc.Links = make([]string, 0, len(old.HostConfig.Links))
	for _, l := range old.HostConfig.Links {
		// Inspect shows links as /target:/this/alias; create takes target:alias.
		if target, alias, ok := strings.Cut(l, ":"); ok {
			l = strings.TrimPrefix(target, "/") + ":" + path.Base(alias)
		}
		hc.Links = append(hc.Links, l)
	}
	hc.Mounts = slices.Clone(hc.Mounts)
	covered := map[string]bool{}
	for _, b := range hc.Binds {
		if parts := strings.Split(b, ":"); len(parts) >= 2 {
			covered[parts[1]] = true
		}
	}
	for _, m := range hc.Mounts {
		covered[m.Target] = true
	}
	for _, m := range old.Mounts {
		if m.Type == mount.TypeVolume && m.Name != "" && !covered[m.Destination] {
			hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeVolume, Source: m.Name, Target: m.Destination, ReadOnly: !m.RW})
			delete(cfg.Volumes, m.Destination)
		}
	}

	var netcfg *network.NetworkingConfig
	var extra []extraNetwork
	mode := hc.NetworkMode
	if old.NetworkSettings != nil && !mode.IsHost() && !mode.IsNone() && !mode.IsContainer() {
		primary := string(mode)
		if mode.IsDefault() {
			primary = network.NetworkBridge
		}
		names := slices.Sorted(maps.Keys(old.NetworkSettings.Networks))
		// Podman reports "bridge" as the mode of a container on any
		// bridge network, under the network's own name: the primary is
		// then the first of them (created with it, so no default network
		// is added), the others are connected after.
		if len(names) > 0 && !slices.Contains(names, primary) {
			primary = names[0]
			hc.NetworkMode = container.NetworkMode(primary)
		}
		for _, n := range names {
			ep := old.NetworkSettings.Networks[n]
			if ep == nil {
				continue
			}
			s := &network.EndpointSettings{Links: ep.Links, DriverOpts: ep.DriverOpts}
			if a := userAliases(ep.Aliases, old.ID); len(a) > 0 {
				s.Aliases = a
			}
			if ep.IPAMConfig != nil {
				ipam := *ep.IPAMConfig
				s.IPAMConfig = &ipam
			}
			if n == primary {
				netcfg = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{n: s}}
			} else {
				extra = append(extra, extraNetwork{name: n, settings: s})
			}
		}
	}
	return &cfg, &hc, netcfg, extra
}
