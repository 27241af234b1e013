// SPDX-License-Identifier: Apache-2.0

package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/labtest"
	"github.com/tailops/tailops/tools"
	"github.com/tailops/tailops/toolstest"
)

// appImage makes a busybox image with /etc/version and image defaults
// (an environment variable and a label) that depend on the version.
func appImage(t testing.TB, k *dockerLab, name, version string) string {
	t.Helper()
	return k.d.Image(t, labtest.ImageSpec{Name: name, Busybox: true,
		Files:   map[string]string{"/etc/version": version},
		Changes: []string{`CMD ["/bin/sh"]`, "ENV IMAGE_ENV=" + version, "LABEL org.example.image=app"}})
}

// TestDockerUpdateContainerKeepsConfiguration creates a container with
// every configuration item update_container promises to keep, updates it
// to a new image pulled from the local registry, and compares the two
// containers field by field.
func TestDockerUpdateContainerKeepsConfiguration(t *testing.T) {
	k := newDockerLab(t)
	reg := k.d.StartRegistry(t)
	v1 := appImage(t, k, "local/upd:v1", "1")
	ref := reg.Push(t, "local/upd:v1", "upd:latest")
	appImage(t, k, "local/upd:v2", "2")
	reg.Push(t, "local/upd:v2", "upd:latest")
	// Locally the reference names v1 again; the registry has v2.
	k.d.Docker(t, "tag", "local/upd:v1", ref)

	k.d.Docker(t, "network", "create", "--subnet", "172.31.252.0/24", "upd-net")
	k.d.Docker(t, "network", "create", "--subnet", "172.31.253.0/24", "upd-net2")
	k.d.Docker(t, "volume", "create", "upd-vol")
	t.Cleanup(func() {
		k.d.Remove("upd-app")
		k.d.DockerCmd("network", "rm", "upd-net", "upd-net2").Run()
		k.d.DockerCmd("volume", "rm", "upd-vol").Run()
	})
	bind := t.TempDir()
	os.WriteFile(filepath.Join(bind, "config"), []byte("bound"), 0o644)

	k.d.Run(t, "--name", "upd-app", "--init",
		"-e", "FOO=bar", "-e", "EMPTY=", "--entrypoint", "/bin/sh", "-u", "65534:65534", "-w", "/tmp",
		"--label", "app.role=web", "--label", "app.owner=ops",
		"-v", bind+":/data/bind:ro", "-v", "upd-vol:/data/named", "-v", "/data/anon",
		"-p", "127.0.0.1:18090:80",
		"--network", "upd-net", "--network-alias", "web-alias", "--ip", "172.31.252.10",
		"--restart", "unless-stopped",
		"--health-cmd", "test -f /etc/version", "--health-interval", "1s", "--health-timeout", "2s", "--health-retries", "2", "--health-start-period", "1s",
		"-m", "64m", "--memory-swap", "128m", "--cpus", "0.5",
		"--cap-add", "NET_ADMIN", "--cap-drop", "CHOWN",
		"--device", "/dev/null:/dev/xnull:rw",
		"--log-driver", "json-file", "--log-opt", "max-size=1m", "--log-opt", "max-file=2",
		"--stop-timeout", "3",
		ref, "-c", "echo started; exec sleep 100000")
	k.d.Docker(t, "network", "connect", "--alias", "second-alias", "--ip", "172.31.253.20", "upd-net2", "upd-app")
	k.d.Docker(t, "exec", "-u", "0", "upd-app", "sh", "-c", "echo keep > /data/anon/file; echo named > /data/named/file")
	old := k.inspect(t, "upd-app")
	if old.Image != v1 {
		t.Fatalf("old container runs %s, want v1 %s", old.Image, v1)
	}

	start := time.Now()
	r := toolstest.OK[UpdateResult](t, k.h, "update_container", map[string]any{"container": "upd-app", "timeout": 30})
	t.Logf("update took %s", time.Since(start).Round(time.Millisecond))
	if !r.Updated || !r.Pulled || !r.Started || r.Health != "healthy" || r.OldID != old.ID || r.NewID == old.ID ||
		r.OldImageID != v1 || r.NewImageID == v1 || r.Image != ref {
		t.Fatalf("result: %+v", r)
	}
	cur := k.inspect(t, "upd-app")
	if cur.ID != r.NewID || cur.Image != r.NewImageID || !cur.State.Running {
		t.Fatalf("upd-app is %s on %s, running %v; want %s on %s", cur.ID, cur.Image, cur.State.Running, r.NewID, r.NewImageID)
	}
	if _, err := k.cli.ContainerInspect(context.Background(), old.ID); err == nil {
		t.Error("the old container still exists")
	}

	type endpoint struct {
		IPAM    any
		Aliases []string
		IP      string
	}
	networks := func(c container.InspectResponse) any {
		out := map[string]endpoint{}
		for n, ep := range c.NetworkSettings.Networks {
			out[n] = endpoint{ep.IPAMConfig, userAliases(ep.Aliases, c.ID), ep.IPAddress}
		}
		return out
	}
	userEnv := func(c container.InspectResponse) any {
		return slices.DeleteFunc(slices.Clone(c.Config.Env), func(s string) bool { return strings.HasPrefix(s, "IMAGE_ENV=") })
	}
	checkKept(t, old, cur, append(slices.Clone(keptFields), []keptField{
		{"env", userEnv},
		{"healthcheck", func(c container.InspectResponse) any { return c.Config.Healthcheck }},
		{"exposed ports", func(c container.InspectResponse) any { return c.Config.ExposedPorts }},
		{"network mode", func(c container.InspectResponse) any { return c.HostConfig.NetworkMode }},
		{"networks, aliases, static IPs", networks},
		{"log config", func(c container.InspectResponse) any { return c.HostConfig.LogConfig }},
		{"init", func(c container.InspectResponse) any { return c.HostConfig.Init }},
	}...))
	// The items the old container actually had, so the comparison above
	// cannot pass by both sides being empty.
	switch {
	case !slices.Contains(old.Config.Env, "FOO=bar") || !slices.Contains(old.Config.Env, "EMPTY="):
		t.Errorf("old env %v", old.Config.Env)
	case !slices.Contains(cur.Config.Env, "IMAGE_ENV=2"):
		t.Errorf("new env %v lacks the new image's IMAGE_ENV=2", cur.Config.Env)
	case len(old.Mounts) != 3 || len(old.NetworkSettings.Networks) != 2 || old.HostConfig.Memory != 64<<20 ||
		len(old.HostConfig.Devices) != 1 || old.HostConfig.LogConfig.Config["max-file"] != "2" || old.Config.Healthcheck == nil:
		t.Errorf("old container lacks configuration: %+v", old)
	case cur.NetworkSettings.Networks["upd-net"].IPAddress != "172.31.252.10" || cur.NetworkSettings.Networks["upd-net2"].IPAddress != "172.31.253.20":
		t.Errorf("static IPs not kept: %+v", cur.NetworkSettings.Networks)
	}
	checkUpdatedContainer(t, func(cmd string) string { return k.d.Docker(t, "exec", "upd-app", "sh", "-c", cmd) })
}

// TestDockerUpdateContainerRollsBack makes the new container fail in
// each way update_container watches for, and checks the old container is
// back, running, under its name, and the new one is gone.
func TestDockerUpdateContainerRollsBack(t *testing.T) {
	k := newDockerLab(t)
	good := labtest.ImageSpec{Busybox: true, Files: map[string]string{"/etc/ok": "ok"}, Changes: []string{`CMD ["/bin/sh"]`}}
	withoutOK := labtest.ImageSpec{Busybox: true, Changes: []string{`CMD ["/bin/sh"]`}}
	noShell := labtest.ImageSpec{Files: map[string]string{"/etc/ok": "ok"}}
	for _, tc := range []struct {
		name    string
		runArgs []string // before the image
		cmd     []string // after the image
		broken  labtest.ImageSpec
		timeout int
		want    string
	}{
		{"start fails", []string{"--stop-timeout", "1"}, []string{"sh", "-c", "exec sleep 100000"}, noShell, 10,
			"starting the new container: "},
		{"exits", []string{"--init"}, []string{"sh", "-c", "test -f /etc/ok && exec sleep 100000"}, withoutOK, 10,
			"the new container exited with code 1"},
		{"unhealthy", []string{"--init", "--health-cmd", "test -f /etc/ok", "--health-interval", "1s", "--health-retries", "1"},
			[]string{"sleep", "100000"}, withoutOK, 20, "the new container is unhealthy (last check exited 1"},
		{"not healthy in time", []string{"--init", "--health-cmd", "true", "--health-interval", "60s", "--health-start-period", "60s"},
			[]string{"sleep", "100000"}, good, 2, "the new container was not healthy within 2s (health: starting)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "rb-" + strings.ReplaceAll(tc.name, " ", "-")
			ref := "local/" + name + ":latest"
			good.Name = ref
			k.d.Image(t, good)
			args := append([]string{"--name", name}, tc.runArgs...)
			old := k.d.Run(t, append(append(args, ref), tc.cmd...)...)
			t.Cleanup(func() { k.d.Remove(name + "-tailops-old-" + old[:12]) })
			toolstest.WaitFor(t, "the old container to run", func() bool { return k.inspect(t, old).State.Running })
			tc.broken.Name = ref
			k.d.Image(t, tc.broken) // the same reference now names a broken image

			msg := toolstest.Err(t, k.h, "update_container", map[string]any{"container": name, "pull": false, "timeout": tc.timeout})
			want := fmt.Sprintf(`updating %q failed: `, name)
			if !strings.HasPrefix(msg, want) || !strings.Contains(msg, tc.want) ||
				!strings.Contains(msg, "rolled back: the old container ("+old[:12]) || !strings.HasSuffix(msg, "is running again under its name") {
				t.Errorf("error %q\nwant %q… containing %q and the rollback", msg, want, tc.want)
			}
			cur := k.inspect(t, name)
			if cur.ID != old || !cur.State.Running || cur.Name != "/"+name {
				t.Errorf("after rollback %s is %s (running %v), want the old %s", name, cur.ID, cur.State.Running, old)
			}
			l := toolstest.OK[ContainerList](t, k.h, "list_containers", map[string]any{"name": name, "all": true})
			if l.Count != 1 {
				t.Errorf("containers named like %s after rollback: %v", name, containerNames(l))
			}
		})
	}
}

func TestDockerUpdateContainerUnchangedAndForced(t *testing.T) {
	k := newDockerLab(t)
	k.d.BusyboxImage(t, "local/same:latest")
	old := k.d.Run(t, "--name", "same-app", "--init", "-e", "KEEP=1", "local/same:latest", "sleep", "100000")
	t.Cleanup(func() { k.d.Remove("same-app") })

	r := toolstest.OK[UpdateResult](t, k.h, "update_container", map[string]any{"container": "same-app", "pull": false})
	if r.Updated || r.NewID != "" || r.Health != "running" || k.inspect(t, "same-app").ID != old {
		t.Errorf("unchanged image: %+v", r)
	}
	r = toolstest.OK[UpdateResult](t, k.h, "update_container", map[string]any{"container": "same-app", "pull": false, "force": true, "timeout": 1})
	cur := k.inspect(t, "same-app")
	if !r.Updated || r.Health != "running" || cur.ID == old || cur.ID != r.NewID || !slices.Contains(cur.Config.Env, "KEEP=1") {
		t.Errorf("forced: %+v, now %s %v", r, cur.ID, cur.Config.Env)
	}

	k.d.Run(t, "--name", "same-rm", "--rm", "--init", "local/same:latest", "sleep", "100000")
	if msg := toolstest.Err(t, k.h, "update_container", map[string]any{"container": "same-rm", "pull": false}); !strings.Contains(msg, "is removed when it stops (--rm)") {
		t.Errorf("auto-remove: %q", msg)
	}
	for _, tc := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"container": "same-app", "image": "Not/Valid"}, `invalid argument "image"`},
		{map[string]any{"container": "same-app", "timeout": 0}, `invalid argument "timeout"`},
		{map[string]any{"container": "same-app", "image": "local/absent:v9", "pull": false}, "image local/absent:v9 is not present locally"},
		{map[string]any{"container": "nope"}, `no container matches "nope"`},
	} {
		if msg := toolstest.Err(t, k.h, "update_container", tc.args); !strings.Contains(msg, tc.want) {
			t.Errorf("%v: %q, want %q", tc.args, msg, tc.want)
		}
	}
	if k.inspect(t, "same-app").ID != cur.ID {
		t.Error("a refused update changed the container")
	}
}

// TestDockerPullImage pulls from the local registry through a real MCP
// client that asked for progress, and checks the notifications.
func TestDockerPullImage(t *testing.T) {
	k := newDockerLab(t)
	reg := k.d.StartRegistry(t)
	// A layer of its own, so the pull really downloads and extracts.
	id := k.d.Image(t, labtest.ImageSpec{Name: "local/pull:v1", Busybox: true, Files: map[string]string{"/etc/unique": time.Now().String()}})
	ref := reg.Push(t, "local/pull:v1", "pull/me:v1")
	k.d.RemoveImage(t, "local/pull:v1")
	k.d.RemoveImage(t, ref)
	t.Cleanup(func() { k.d.RemoveImage(t, ref) })

	call, notes := pullClient(t, k)

	res := call(ref, "pull-1")
	if res.IsError {
		t.Fatalf("pull: %s", toolstest.Text(res))
	}
	var got PullResult
	decodeStructured(t, res, &got)
	if got.Image != ref || got.ID != id || !strings.HasPrefix(got.Digest, "sha256:") || got.Status != "Downloaded newer image for "+ref || !got.Updated {
		t.Errorf("result: %+v (image id want %s)", got, id)
	}
	checkPullProgress(t, notes, "pull-1", got.Status, func(msg string) bool {
		return strings.HasPrefix(msg, "Downloading ") || strings.HasPrefix(msg, "Extracting ") || strings.HasPrefix(msg, "Pull complete ")
	})
	notes.Reset()

	// Again, without a token: up to date, and no notifications.
	res = call(ref, nil)
	decodeStructured(t, res, &got)
	if got.Status != "Image is up to date for "+ref || got.Updated {
		t.Errorf("second pull: %+v", got)
	}
	time.Sleep(100 * time.Millisecond)
	if n := notes.Get(); len(n) != 0 {
		t.Errorf("notifications without a progress token: %v", n)
	}

	checkPullRefused(t, call, reg.Addr, "")
}

func decodeStructured(t testing.TB, res *mcp.CallToolResult, v any) {
	t.Helper()
	if res.IsError {
		t.Fatalf("tool error: %s", toolstest.Text(res))
	}
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

// TestDockerUpdateContainerShutdown: a server shutting down cancels the
// update's context and closes its shutdown channel (tools.WithShutdown) while
// the new container is being watched: the update rolls back within
// tools.CleanupTimeout, leaving the old container running under its name.
// A caller that merely goes away (its context cancelled, no shutdown)
// does not stop an update that has begun: it completes.
func TestDockerUpdateContainerShutdown(t *testing.T) {
	k := newDockerLab(t)
	for _, tc := range []struct {
		name     string
		shutdown bool
		runArgs  []string
	}{
		// The health check never passes in time: the update waits.
		{"server shuts down", true, []string{"--health-cmd", "true", "--health-interval", "60s", "--health-start-period", "60s"}},
		// No health check: the new container must keep running 5 s.
		{"caller goes away", false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "sd-" + strings.ReplaceAll(tc.name, " ", "-")
			ref := "local/" + name + ":latest"
			appImage(t, k, ref, "1")
			old := k.d.Run(t, append(append([]string{"--name", name, "--init"}, tc.runArgs...), ref, "sleep", "100000")...)
			t.Cleanup(func() { k.d.Remove(name); k.d.Remove(name + "-tailops-old-" + old[:12]) })
			appImage(t, k, ref, "2") // the same reference now names a new image

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			stop := make(chan struct{})
			done := make(chan *mcp.CallToolResult, 1)
			go func() {
				done <- toolstest.CallCtx(t, tools.WithShutdown(ctx, stop), k.h, "update_container", map[string]any{"container": name, "pull": false, "timeout": 60})
			}()
			toolstest.WaitFor(t, "the new container to run", func() bool {
				c, err := k.cli.ContainerInspect(context.Background(), name)
				return err == nil && c.ID != old && c.State.Running
			})
			if tc.shutdown {
				close(stop)
			}
			cancel()
			var res *mcp.CallToolResult
			select {
			case res = <-done:
			case <-time.After(tools.CleanupTimeout + 10*time.Second):
				t.Fatal("update_container did not return after it was cancelled")
			}
			cur := k.inspect(t, name)
			msg := toolstest.Text(res)
			if tc.shutdown {
				if !res.IsError || !strings.Contains(msg, "the server is shutting down") || !strings.HasSuffix(msg, "is running again under its name") {
					t.Errorf("update cancelled by shutdown: %q, want a rollback for the shutdown", msg)
				}
				if cur.ID != old || !cur.State.Running {
					t.Errorf("after the rollback %s is %s (running %v), want the old %s", name, cur.ID, cur.State.Running, old)
				}
			} else if res.IsError || cur.ID == old || !cur.State.Running {
				t.Errorf("update whose caller went away: %q; %s is %s (running %v)", msg, name, cur.ID, cur.State.Running)
			}
			l := toolstest.OK[ContainerList](t, k.h, "list_containers", map[string]any{"name": name, "all": true})
			if l.Count != 1 {
				t.Errorf("containers named like %s: %v, want one", name, containerNames(l))
			}
		})
	}
}
