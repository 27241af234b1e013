// SPDX-License-Identifier: Apache-2.0

package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/tailops/tailops/labtest"
	"github.com/tailops/tailops/redact"
	"github.com/tailops/tailops/toolstest"
)

// The Docker tools against Podman's Docker-compatible API: a rootful
// `podman system service` (labtest.StartPodman) in a network namespace of
// its own, driven through the same tool handlers as dockerd. Containers
// are made with the podman CLI (podman --remote), as a Podman user would.
//
// update_container and pull_image are tested in TestPodmanUpdate, with a
// local registry in the service's namespace (labtest.Podman.StartRegistry,
// marked insecure in the instance's registries.conf).
//
// Where Podman answers differently from dockerd, the tests assert what
// TailOps returns on Podman, and say so.

// podmanImage is the name the busybox image is imported under; Podman
// stores and reports it as podmanImageRef (a name without a registry is
// put under localhost/).
const (
	podmanImage    = "local/busybox:latest"
	podmanImageRef = "localhost/local/busybox:latest"
)

// podmanSleep runs until stopped and exits at once on SIGTERM: --init
// would need catatonit, which podman only recommends, and a shell as PID 1
// ignores SIGTERM.
var podmanSleep = []string{"sh", "-c", `trap "exit 0" TERM; sleep 600 & wait`}

func podmanRunArgs(args ...string) []string {
	return append(append(args, podmanImage), podmanSleep...)
}

// TestPodman runs the Docker tools against one Podman service, shared by
// its subtests (each removes its containers).
func TestPodman(t *testing.T) {
	p := labtest.StartPodman(t) // fails (never skips) when podman is missing
	p.BusyboxImage(t, podmanImage)
	k := newDockerLabFor(t, nil, p.Host)
	k.cli = p.Client()

	t.Run("ListContainers", func(t *testing.T) { testPodmanListContainers(t, p, k) })
	t.Run("InspectContainer", func(t *testing.T) { testPodmanInspectContainer(t, p, k) })
	t.Run("ContainerLogs", func(t *testing.T) { testPodmanContainerLogs(t, p, k) })
	t.Run("ContainerStats", func(t *testing.T) { testPodmanContainerStats(t, p, k) })
	t.Run("ImagesNetworksVolumes", func(t *testing.T) { testPodmanImagesNetworksVolumes(t, p, k) })
	t.Run("StartStopRestart", func(t *testing.T) { testPodmanStartStopRestart(t, p, k) })
	t.Run("RemoveContainer", func(t *testing.T) { testPodmanRemoveContainer(t, p, k) })
	t.Run("UnknownAndAmbiguous", func(t *testing.T) { testPodmanUnknownAndAmbiguous(t, p, k) })
	t.Run("Watch", func(t *testing.T) { testPodmanWatch(t, p, k) })
}

func testPodmanListContainers(t *testing.T, p *labtest.Podman, k *dockerLab) {
	p.Run(t, podmanRunArgs("--name", "pc-web-1", "--label", "app=web", "--label", "tier=front", "-p", "127.0.0.1:18081:80")...)
	web2 := p.Run(t, podmanRunArgs("--name", "pc-web-2", "--label", "app=web")...)
	p.Run(t, podmanRunArgs("--name", "pc-db", "--label", "app=db")...)
	p.Create(t, "--name", "pc-new", "--label", "app=web", podmanImage)
	p.Podman(t, "stop", "-t", "1", web2)

	checkListFilters(t, k, "pc-")

	// Podman: the image is reported with its localhost/ prefix, and the
	// default network is called podman here (dockerd: bridge).
	checkListSummary(t, k, "pc-web-1", podmanImageRef, []string{"podman"}, "tier", "front")
}

func testPodmanInspectContainer(t *testing.T, p *labtest.Podman, k *dockerLab) {
	id := p.Run(t, podmanRunArgs("--name", "pi-app", "-e", "FOO=bar", "-e", "DB_PASSWORD=hunter2", "--label", "app=web",
		"-p", "127.0.0.1:18082:80", "--restart", "on-failure:3", "-m", "32m", "--cap-drop", "CHOWN",
		"-w", "/tmp", "-u", "nobody")...)
	for _, ref := range []string{"pi-app", "/pi-app", id, id[:10]} {
		d := toolstest.OK[ContainerDetails](t, k.h, "inspect_container", map[string]any{"container": ref})
		if d.ID != id || d.Name != "pi-app" {
			t.Fatalf("%s: resolved to %s %s", ref, d.ID, d.Name)
		}
	}
	d := toolstest.OK[ContainerDetails](t, k.h, "inspect_container", map[string]any{"container": "pi-app"})
	for _, want := range []string{"FOO=bar", "DB_PASSWORD=" + redact.Redacted} {
		if !slices.Contains(d.Env, want) {
			t.Errorf("env %v lacks %s", d.Env, want)
		}
	}
	if slices.ContainsFunc(d.Env, func(e string) bool { return strings.Contains(e, "hunter2") }) {
		t.Errorf("a secret value is in the result: %v", d.Env)
	}
	switch {
	case d.Image != podmanImageRef, !d.State.Running, d.State.Status != "running":
		t.Errorf("image/state: %+v", d)
	case d.Labels["app"] != "web", d.User != "nobody", d.WorkingDir != "/tmp", !slices.Equal(d.Cmd, podmanSleep):
		t.Errorf("config: %+v", d)
	case d.Restart != RestartPolicy{Name: "on-failure", MaximumRetryCount: 3}:
		t.Errorf("restart policy: %+v", d.Restart)
	// Podman: capabilities without the CAP_ prefix, and a default pids
	// limit of 2048 (dockerd: 0, no limit).
	case d.Resources.MemoryBytes != 32<<20, d.Resources.PidsLimit != 2048, !slices.Equal(d.CapDrop, []string{"CHOWN"}):
		t.Errorf("resources/caps: %+v %v", d.Resources, d.CapDrop)
	case len(d.Ports) != 1 || d.Ports[0].Public != 18082 || d.Ports[0].HostIP != "127.0.0.1" || d.Ports[0].Private != 80:
		t.Errorf("ports: %+v", d.Ports)
	// Podman: the default network is podman, on 10.88.0.0/16.
	case len(d.Networks) != 1 || d.Networks[0].Network != "podman" || !strings.HasPrefix(d.Networks[0].IPAddress, "10.88."):
		t.Errorf("networks: %+v", d.Networks)
	// As dockerd: json-file (Podman really writes k8s-file logs, and says
	// json-file through this API).
	case d.LogConfig.Type != "json-file":
		t.Errorf("log config: %+v", d.LogConfig)
	}
}

func testPodmanContainerLogs(t *testing.T, p *labtest.Podman, k *dockerLab) {
	id := p.Run(t, "--name", "pl-both", podmanImage, "sh", "-c",
		`for i in 1 2 3 4 5; do echo out$i; sleep 0.05; echo err$i >&2; sleep 0.05; done; trap "exit 0" TERM; sleep 600 & wait`)
	toolstest.WaitFor(t, "ten log lines", func() bool {
		out, _ := p.PodmanCmd("logs", id).CombinedOutput()
		return strings.Contains(string(out), "err5")
	})
	checkContainerLogs(t, k, "pl-both", id)
	if msg := toolstest.Err(t, k.h, "get_container_logs", map[string]any{"container": "pl-none"}); msg != `no container matches "pl-none"` {
		t.Errorf("unknown container: %q", msg)
	}
}

func testPodmanContainerStats(t *testing.T, p *labtest.Podman, k *dockerLab) {
	id := p.Run(t, "--name", "ps-busy", "-m", "64m", "--cpus", "0.5", podmanImage, "sh", "-c", "while :; do :; done")
	// Held to half a CPU, as under dockerd. TailOps divides the
	// container's CPU time by the time between the engine's readings;
	// Podman's system_cpu_usage (the docker CLI's divisor) would
	// overstate it here (see the raw check below).
	checkBusyStats(t, k, "ps-busy", id, 1)
	// The raw samples: the container's own CPU time is half a CPU. (Podman's
	// system_cpu_usage is not all CPU time as dockerd's is, which is why
	// the tool no longer divides by it; how it grows depends on the host's
	// load, so it is not asserted.)
	raw := func() (cpu uint64, at time.Time) {
		r, err := k.cli.ContainerStatsOneShot(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		var st container.StatsResponse
		if err := json.NewDecoder(r.Body).Decode(&st); err != nil {
			t.Fatal(err)
		}
		return st.CPUStats.CPUUsage.TotalUsage, time.Now()
	}
	c1, t1 := raw()
	time.Sleep(time.Second)
	c2, t2 := raw()
	if used := float64(c2-c1) / float64(t2.Sub(t1).Nanoseconds()); used < 0.3 || used > 0.7 {
		t.Errorf("container used %.2f CPUs, want about 0.5", used)
	}
	p.Podman(t, "stop", "-t", "0", id)
	if msg := toolstest.Err(t, k.h, "get_container_stats", map[string]any{"container": "ps-busy"}); msg != `container "ps-busy" is exited: only running containers have resource usage` {
		t.Errorf("stopped: %q", msg)
	}
}

func testPodmanImagesNetworksVolumes(t *testing.T, p *labtest.Podman, k *dockerLab) {
	p.Podman(t, "network", "create", "--subnet", "172.31.252.0/24", "--gateway", "172.31.252.1", "--label", "team=ops", "pinv-net")
	t.Cleanup(func() { p.PodmanCmd("network", "rm", "-f", "pinv-net").Run() })
	p.Podman(t, "volume", "create", "--label", "backup=daily", "pinv-vol")
	t.Cleanup(func() { p.PodmanCmd("volume", "rm", "-f", "pinv-vol").Run() })

	for _, tc := range []struct {
		reference string
		want      int
	}{
		{"local/busybox", 1},
		{podmanImageRef, 1},
		{"nothing/here", 0},
	} {
		imgs := toolstest.OK[ImageList](t, k.h, "list_images", map[string]any{"reference": tc.reference})
		if imgs.Count != tc.want {
			t.Errorf("reference %s: %d images, want %d: %+v", tc.reference, imgs.Count, tc.want, imgs)
			continue
		}
		if tc.want == 1 {
			im := imgs.Images[0]
			if !slices.Equal(im.Tags, []string{podmanImageRef}) || im.SizeBytes < 500_000 || !strings.HasPrefix(im.ID, "sha256:") || im.Dangling {
				t.Errorf("reference %s: %+v", tc.reference, im)
			}
		}
	}
	if all := toolstest.OK[ImageList](t, k.h, "list_images", nil); all.Count != 1 {
		t.Errorf("%d images without a filter, want 1", all.Count)
	}

	nets := toolstest.OK[NetworkList](t, k.h, "list_networks", nil)
	var names []string
	var inv *NetworkSummary
	for i, n := range nets.Networks {
		names = append(names, n.Name)
		if n.Name == "pinv-net" {
			inv = &nets.Networks[i]
		}
	}
	// Podman: no host or none network, and the default network, which
	// containers report as podman, is listed as bridge.
	if !slices.Equal(names, []string{"bridge", "pinv-net"}) {
		t.Errorf("networks %v, want [bridge pinv-net]", names)
	}
	if inv == nil || inv.Driver != "bridge" || inv.Labels["team"] != "ops" ||
		!slices.Equal(inv.Subnets, []Subnet{{Subnet: "172.31.252.0/24", Gateway: "172.31.252.1"}}) {
		t.Errorf("pinv-net: %+v", inv)
	}

	vols := toolstest.OK[VolumeList](t, k.h, "list_volumes", nil)
	found := false
	for _, v := range vols.Volumes {
		if v.Name == "pinv-vol" {
			found = v.Driver == "local" && v.Labels["backup"] == "daily" && strings.HasPrefix(v.Mountpoint, p.Dir) && v.Created != ""
			if !found {
				t.Errorf("pinv-vol: %+v", v)
			}
		}
	}
	if !found {
		t.Errorf("volumes %+v lack pinv-vol", vols)
	}
}

func testPodmanStartStopRestart(t *testing.T, p *labtest.Podman, k *dockerLab) {
	id := p.Run(t, podmanRunArgs("--name", "pssr-app")...)
	checkStartStopRestart(t, k, "pssr-app", id)
}

func testPodmanRemoveContainer(t *testing.T, p *labtest.Podman, k *dockerLab) {
	run := p.Run(t, podmanRunArgs("--name", "prm-running")...)
	stopped := p.Create(t, "--name", "prm-stopped", podmanImage)

	checkRemoveContainer(t, k, "prm-running", run, "prm-stopped", stopped)
}

func testPodmanUnknownAndAmbiguous(t *testing.T, p *labtest.Podman, k *dockerLab) {
	for _, tc := range []struct {
		tool string
		ref  string
		want string
	}{
		{"inspect_container", "no-such-thing", `no container matches "no-such-thing"`},
		{"start_container", "no-such-thing", `no container matches "no-such-thing"`},
		{"get_container_stats", "no-such-thing", `no container matches "no-such-thing"`},
		{"inspect_container", "../containers/json", `invalid argument "container"`},
		{"inspect_container", "a b", `invalid argument "container"`},
	} {
		if msg := toolstest.Err(t, k.h, tc.tool, map[string]any{"container": tc.ref}); !strings.Contains(msg, tc.want) {
			t.Errorf("%s %q: %q, want %q", tc.tool, tc.ref, msg, tc.want)
		}
	}
	checkIDPrefixes(t, k, "pamb", func(name string) string { return p.Create(t, "--name", name, podmanImage) },
		"inspect_container", "stop_container")
}

// TestPodmanUpdate runs pull_image and update_container against one
// Podman service with a local registry (docker-registry in the service's
// namespace), as the dockerd tests in docker_update_test.go do. It fails
// (never skips) when podman or docker-registry is missing.
//
// Podman's inspect differs from dockerd's in ways create refuses if they
// are passed back as they are: ulimits by their kernel names
// (RLIMIT_NOFILE), NanoCpus together with the CpuPeriod and CpuQuota it
// derives from them, devices without cgroup permissions, and an empty
// health status for a container without a health check.
// update_container normalises each (docker_update.go); these tests
// update for real on Podman.
//
// Not tested here: health checks. Podman runs them from systemd timers,
// which this service (no systemd) does not have, so a container with a
// health check never leaves "starting".
func TestPodmanUpdate(t *testing.T) {
	p := labtest.StartPodman(t) // fails (never skips) when podman is missing
	reg := p.StartRegistry(t)   // fails (never skips) when docker-registry is missing
	k := newDockerLabFor(t, nil, p.Host)
	k.cli = p.Client()

	t.Run("PullImage", func(t *testing.T) { testPodmanPullImage(t, p, reg, k) })
	t.Run("UpdateKeepsConfiguration", func(t *testing.T) { testPodmanUpdateKeepsConfiguration(t, p, reg, k) })
	t.Run("RollsBack", func(t *testing.T) { testPodmanUpdateRollsBack(t, p, k) })
	t.Run("UnchangedAndForced", func(t *testing.T) { testPodmanUpdateUnchangedAndForced(t, p, k) })
}

// checkPodmanRolledBack checks update_container's error msg for name: it
// failed with cause and rolled back, and the old container (id old) is
// the only one under that name, running.
func checkPodmanRolledBack(t *testing.T, k *dockerLab, name, old, msg string, cause *regexp.Regexp) container.InspectResponse {
	t.Helper()
	want := fmt.Sprintf(`updating %q failed: `, name)
	if !strings.HasPrefix(msg, want) || !cause.MatchString(msg) ||
		!strings.Contains(msg, "; rolled back: the old container ("+old[:12]) || !strings.HasSuffix(msg, "is running again under its name") {
		t.Errorf("error %q\nwant %q… matching %s and the rollback", msg, want, cause)
	}
	cur := k.inspect(t, name)
	if cur.ID != old || !cur.State.Running || cur.Name != "/"+name {
		t.Errorf("after rollback %s is %s (running %v, name %s), want the old %s", name, cur.ID, cur.State.Running, cur.Name, old)
	}
	l := toolstest.OK[ContainerList](t, k.h, "list_containers", map[string]any{"name": name, "all": true})
	if l.Count != 1 {
		t.Errorf("containers named like %s after rollback: %v", name, containerNames(l))
	}
	return cur
}

// podmanAppImage is appImage for Podman: busybox with /etc/version and
// image defaults (an environment variable and a label) by version.
func podmanAppImage(t testing.TB, p *labtest.Podman, name, version string) string {
	t.Helper()
	return p.Image(t, labtest.ImageSpec{Name: name, Busybox: true,
		Files:   map[string]string{"/etc/version": version},
		Changes: []string{`CMD ["/bin/sh"]`, "ENV IMAGE_ENV=" + version, "LABEL org.example.image=app"}})
}

// testPodmanPullImage pulls from the registry through a real MCP client
// that asked for progress, and checks the result, the notifications and
// that the image is then listed.
func testPodmanPullImage(t *testing.T, p *labtest.Podman, reg *labtest.Registry, k *dockerLab) {
	// A layer of its own, so the pull really downloads it.
	id := p.Image(t, labtest.ImageSpec{Name: "local/pull:v1", Busybox: true, Files: map[string]string{"/etc/unique": time.Now().String()}})
	ref := reg.Push(t, "local/pull:v1", "pull/me:v1")
	p.RemoveImage(t, "local/pull:v1")
	p.RemoveImage(t, ref)
	t.Cleanup(func() { p.RemoveImage(t, ref) })
	if l := toolstest.OK[ImageList](t, k.h, "list_images", map[string]any{"reference": ref}); l.Count != 0 {
		t.Fatalf("%s is still present before the pull: %+v", ref, l)
	}

	call, notes := pullClient(t, k)

	res := call(ref, "pull-1")
	var got PullResult
	decodeStructured(t, res, &got)
	// Podman: the summary is just "pulled" (dockerd: Downloaded newer
	// image for …), and no digest is reported.
	if got != (PullResult{Image: ref, ID: id, Status: "pulled", Updated: true}) {
		t.Errorf("result: %+v (image id want %s)", got, id)
	}
	// Podman: one "Download complete <id>" per blob (layer and config),
	// no Downloading/Extracting/Pull complete.
	blob := regexp.MustCompile(`^Download complete [0-9a-f]{12}$`)
	got2 := checkPullProgress(t, notes, "pull-1", got.Status, blob.MatchString)
	if len(got2) >= 3 {
		if first := got2[0]; first["message"] != "pulling "+ref {
			t.Errorf("first notification %v", first)
		}
		for _, n := range got2[1 : len(got2)-1] {
			if msg, _ := n["message"].(string); !blob.MatchString(msg) {
				t.Errorf("layer progress %q, want Download complete <id>", msg)
			}
		}
	}
	notes.Reset()

	l := toolstest.OK[ImageList](t, k.h, "list_images", map[string]any{"reference": ref})
	if l.Count != 1 || l.Images[0].ID != id || !slices.Equal(l.Images[0].Tags, []string{ref}) {
		t.Errorf("after the pull, list_images %s: %+v", ref, l)
	}

	// Again, without a token: the same image, not updated, and no
	// notifications. Podman: the status is "pulled" again (dockerd: Image
	// is up to date for …).
	res = call(ref, nil)
	decodeStructured(t, res, &got)
	if got != (PullResult{Image: ref, ID: id, Status: "pulled", Updated: false}) {
		t.Errorf("second pull: %+v", got)
	}
	time.Sleep(100 * time.Millisecond)
	if n := notes.Get(); len(n) != 0 {
		t.Errorf("notifications without a progress token: %v", n)
	}

	checkPullRefused(t, call, reg.Addr, "manifest unknown")
}

// testPodmanUpdateKeepsConfiguration creates a container with the
// configuration items update_container keeps that Podman supports,
// updates it to a new image in the registry, and checks the new container
// has every item, runs the new image and kept the volumes' data.
func testPodmanUpdateKeepsConfiguration(t *testing.T, p *labtest.Podman, reg *labtest.Registry, k *dockerLab) {
	v1 := podmanAppImage(t, p, "local/upd:v1", "1")
	ref := reg.Push(t, "local/upd:v1", "upd:latest")
	v2 := podmanAppImage(t, p, "local/upd:v2", "2")
	reg.Push(t, "local/upd:v2", "upd:latest")
	// Locally the reference names v1 again; the registry has v2.
	p.Podman(t, "tag", "local/upd:v1", ref)

	p.Podman(t, "network", "create", "--subnet", "172.31.251.0/24", "pupd-net")
	p.Podman(t, "volume", "create", "pupd-vol")
	t.Cleanup(func() {
		p.Remove("pupd-app")
		p.PodmanCmd("network", "rm", "-f", "pupd-net").Run()
		p.PodmanCmd("volume", "rm", "-f", "pupd-vol").Run()
	})
	bind := t.TempDir()
	os.WriteFile(filepath.Join(bind, "config"), []byte("bound"), 0o644)

	oldID := p.Run(t, "--name", "pupd-app",
		"-e", "FOO=bar", "-e", "EMPTY=", "--entrypoint", "/bin/sh", "-u", "65534:65534", "-w", "/tmp",
		"--label", "app.role=web", "--label", "app.owner=ops",
		"-v", bind+":/data/bind:ro", "-v", "pupd-vol:/data/named", "-v", "/data/anon",
		"-p", "127.0.0.1:18091:80",
		"--network", "pupd-net", "--ip", "172.31.251.10",
		"--restart", "unless-stopped",
		"-m", "64m", "--memory-swap", "128m", "--cpus", "0.5",
		"--cap-add", "NET_ADMIN", "--cap-drop", "CHOWN",
		"--device", "/dev/null:/dev/xnull:rw",
		"--stop-timeout", "3",
		ref, "-c", `echo started; trap "exit 0" TERM; sleep 100000 & wait`)
	t.Cleanup(func() { p.Remove("pupd-app-tailops-old-" + oldID[:12]) })
	p.Podman(t, "exec", "-u", "0", "pupd-app", "sh", "-c", "echo keep > /data/anon/file; echo named > /data/named/file")
	old := k.inspect(t, "pupd-app")
	if old.Image != v1 {
		t.Fatalf("old container runs %s, want v1 %s", old.Image, v1)
	}
	t.Logf("Podman's inspect: ulimits %+v, NanoCpus %d, CpuPeriod %d, CpuQuota %d, network mode %s",
		old.HostConfig.Ulimits, old.HostConfig.NanoCPUs, old.HostConfig.CPUPeriod, old.HostConfig.CPUQuota, old.HostConfig.NetworkMode)

	r := toolstest.OK[UpdateResult](t, k.h, "update_container", map[string]any{"container": "pupd-app", "timeout": 30})
	if !r.Updated || !r.Pulled || !r.Started || r.Health != "running" || r.OldID != old.ID || r.NewID == old.ID ||
		r.OldImageID != v1 || r.NewImageID != v2 || r.Image != ref {
		t.Fatalf("result: %+v", r)
	}
	cur := k.inspect(t, "pupd-app")
	if cur.ID != r.NewID || cur.Image != v2 || !cur.State.Running {
		t.Fatalf("pupd-app is %s on %s, running %v; want %s on v2 %s", cur.ID, cur.Image, cur.State.Running, r.NewID, v2)
	}
	if _, err := k.cli.ContainerInspect(context.Background(), old.ID); err == nil {
		t.Error("the old container still exists")
	}

	// Podman's Docker API does not say an address was asked for (no
	// IPAMConfig), so a static IP is not kept: the network is, with an
	// address in its subnet.
	networks := func(c container.InspectResponse) any {
		out := map[string]bool{}
		for n, ep := range c.NetworkSettings.Networks {
			out[n] = strings.HasPrefix(ep.IPAddress, "172.31.251.")
		}
		return out
	}
	// The environment, in any order, without what the image sets
	// (IMAGE_ENV is the new image's on the new container).
	userEnv := func(c container.InspectResponse) any {
		env := slices.DeleteFunc(slices.Clone(c.Config.Env), func(s string) bool { return strings.HasPrefix(s, "IMAGE_ENV=") })
		slices.Sort(env)
		return env
	}
	checkKept(t, old, cur, append(slices.Clone(keptFields), []keptField{
		{"env", userEnv},
		{"networks", networks},
	}...))
	// The items the old container actually had, so the comparison above
	// cannot pass by both sides being empty.
	if !slices.Contains(old.Config.Env, "FOO=bar") || !slices.Contains(old.Config.Env, "EMPTY=") || len(old.Mounts) != 3 ||
		old.NetworkSettings.Networks["pupd-net"] == nil || old.NetworkSettings.Networks["pupd-net"].IPAddress != "172.31.251.10" ||
		old.HostConfig.Memory != 64<<20 || old.HostConfig.NanoCPUs != 5e8 || len(old.HostConfig.Devices) != 1 ||
		old.Config.Labels["app.role"] != "web" || old.HostConfig.RestartPolicy.Name != "unless-stopped" {
		t.Errorf("old container lacks configuration: %+v %+v", old.Config, old.HostConfig)
	}
	if !slices.Contains(cur.Config.Env, "IMAGE_ENV=2") {
		t.Errorf("new env %v lacks the new image's IMAGE_ENV=2", cur.Config.Env)
	}
	checkUpdatedContainer(t, func(cmd string) string { return p.Podman(t, "exec", "pupd-app", "sh", "-c", cmd) })
}

// testPodmanUpdateRollsBack updates containers to images that fail to
// start or exit at once, as the dockerd test does: the old container must
// be back, running, under its name, and the new one gone. (Health-check
// failures are not tested: see TestPodmanUpdate.)
func testPodmanUpdateRollsBack(t *testing.T, p *labtest.Podman, k *dockerLab) {
	good := labtest.ImageSpec{Busybox: true, Files: map[string]string{"/etc/ok": "ok"}, Changes: []string{`CMD ["/bin/sh"]`}}
	withoutOK := labtest.ImageSpec{Busybox: true, Changes: []string{`CMD ["/bin/sh"]`}}
	noShell := labtest.ImageSpec{Files: map[string]string{"/etc/ok": "ok"}}
	for _, tc := range []struct {
		name   string
		cmd    []string // after the image
		broken labtest.ImageSpec
		cause  *regexp.Regexp
	}{
		{"start fails", []string{"sh", "-c", `trap "exit 0" TERM; sleep 100000 & wait`}, noShell,
			regexp.MustCompile(`starting the new container: .*executable file not found`)},
		{"exits", []string{"sh", "-c", `test -f /etc/ok || exit 1; trap "exit 0" TERM; sleep 100000 & wait`}, withoutOK,
			regexp.MustCompile(`the new container exited with code 1`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "prb-" + strings.ReplaceAll(tc.name, " ", "-")
			ref := "local/" + name + ":latest"
			good.Name = ref
			p.Image(t, good)
			old := p.Run(t, append([]string{"--name", name, ref}, tc.cmd...)...)
			t.Cleanup(func() { p.Remove(name + "-tailops-old-" + old[:12]) })
			toolstest.WaitFor(t, "the old container to run", func() bool { return k.inspect(t, old).State.Running })
			tc.broken.Name = ref
			p.Image(t, tc.broken) // the same reference now names a broken image

			msg := toolstest.Err(t, k.h, "update_container", map[string]any{"container": name, "pull": false, "timeout": 10})
			checkPodmanRolledBack(t, k, name, old, msg, tc.cause)
		})
	}
}

// testPodmanUpdateUnchangedAndForced: an unchanged image leaves the
// container alone; force recreates it with its configuration.
func testPodmanUpdateUnchangedAndForced(t *testing.T, p *labtest.Podman, k *dockerLab) {
	p.BusyboxImage(t, "local/same:latest")
	old := p.Run(t, "--name", "psame-app", "-e", "KEEP=1", "local/same:latest", "sh", "-c", `trap "exit 0" TERM; sleep 100000 & wait`)
	t.Cleanup(func() { p.Remove("psame-app-tailops-old-" + old[:12]) })

	r := toolstest.OK[UpdateResult](t, k.h, "update_container", map[string]any{"container": "psame-app", "pull": false})
	if r.Updated || r.NewID != "" || r.Health != "running" || k.inspect(t, "psame-app").ID != old {
		t.Errorf("unchanged image: %+v", r)
	}
	r = toolstest.OK[UpdateResult](t, k.h, "update_container", map[string]any{"container": "psame-app", "pull": false, "force": true, "timeout": 1})
	cur := k.inspect(t, "psame-app")
	if !r.Updated || r.Health != "running" || cur.ID == old || cur.ID != r.NewID || !cur.State.Running || !slices.Contains(cur.Config.Env, "KEEP=1") {
		t.Errorf("forced: %+v, now %s %v", r, cur.ID, cur.Config.Env)
	}
}

// testPodmanWatch: the container watcher follows Podman's Docker-compatible
// event stream, also from a time in the past (after a failure), which
// Podman replays after the "anything may have changed" call.
func testPodmanWatch(t *testing.T, p *labtest.Podman, k *dockerLab) {
	before := time.Now()
	id := p.Run(t, podmanRunArgs("--name", "pw-web")...)
	p.Podman(t, "stop", "-t", "1", "pw-web")
	for _, tc := range []struct {
		name  string
		since time.Time
		act   func(t *testing.T)
		want  []string
	}{
		{"from now", time.Time{}, func(t *testing.T) { p.Podman(t, "start", "pw-web") }, []string{id + " pw-web"}},
		{"replayed since a failure", before, func(*testing.T) {}, []string{"", id + " pw-web"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := watchFor(t, k.ts, tc.since, tc.act, len(tc.want)); !slices.Equal(got, tc.want) {
				t.Errorf("reported %q, want first %q", got, tc.want)
			}
		})
	}
}
