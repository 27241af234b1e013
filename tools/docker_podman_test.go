// SPDX-License-Identifier: Apache-2.0

package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/tailops/tailops/labtest"
)

// The Docker tools against Podman's Docker-compatible API: a rootful
// `podman system service` (labtest.StartPodman) in a network namespace of
// its own, driven through the same tool handlers as dockerd. Containers
// are made with the podman CLI (podman --remote), as a Podman user would.
//
// Not tested here: update_container and pull_image, which need a registry
// to pull from (the dockerd tests use a local one; Podman would need it
// configured as an insecure registry in registries.conf).
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
	k := newDockerKitFor(t, nil, p.Host)
	k.cli = p.Client()

	t.Run("ListContainers", func(t *testing.T) { testPodmanListContainers(t, p, k) })
	t.Run("InspectContainer", func(t *testing.T) { testPodmanInspectContainer(t, p, k) })
	t.Run("ContainerLogs", func(t *testing.T) { testPodmanContainerLogs(t, p, k) })
	t.Run("ContainerStats", func(t *testing.T) { testPodmanContainerStats(t, p, k) })
	t.Run("ImagesNetworksVolumes", func(t *testing.T) { testPodmanImagesNetworksVolumes(t, p, k) })
	t.Run("StartStopRestart", func(t *testing.T) { testPodmanStartStopRestart(t, p, k) })
	t.Run("RemoveContainer", func(t *testing.T) { testPodmanRemoveContainer(t, p, k) })
	t.Run("UnknownAndAmbiguous", func(t *testing.T) { testPodmanUnknownAndAmbiguous(t, p, k) })
}

func testPodmanListContainers(t *testing.T, p *labtest.Podman, k *dockerKit) {
	p.Run(t, podmanRunArgs("--name", "pc-web-1", "--label", "app=web", "--label", "tier=front", "-p", "127.0.0.1:18081:80")...)
	web2 := p.Run(t, podmanRunArgs("--name", "pc-web-2", "--label", "app=web")...)
	p.Run(t, podmanRunArgs("--name", "pc-db", "--label", "app=db")...)
	p.Create(t, "--name", "pc-new", "--label", "app=web", podmanImage)
	p.Podman(t, "stop", "-t", "1", web2)

	checkListFilters(t, k, "pc-")

	l := dockerOK[ContainerList](t, k, "list_containers", map[string]any{"name": "pc-web-1"})
	if len(l.Containers) != 1 {
		t.Fatalf("%d containers named pc-web-1", len(l.Containers))
	}
	c := l.Containers[0]
	// Podman: the image is reported with its localhost/ prefix, and the
	// default network is called podman here (dockerd: bridge).
	if c.Image != podmanImageRef || c.State != "running" || !strings.HasPrefix(c.Status, "Up") || len(c.ID) != 64 ||
		!slices.Equal(c.Networks, []string{"podman"}) || c.Labels["tier"] != "front" {
		t.Errorf("summary: %+v", c)
	}
	if len(c.Ports) != 1 || c.Ports[0] != (PortSummary{Private: 80, Protocol: "tcp", HostIP: "127.0.0.1", Public: 18081}) {
		t.Errorf("ports: %+v", c.Ports)
	}
}

func testPodmanInspectContainer(t *testing.T, p *labtest.Podman, k *dockerKit) {
	id := p.Run(t, podmanRunArgs("--name", "pi-app", "-e", "FOO=bar", "-e", "DB_PASSWORD=hunter2", "--label", "app=web",
		"-p", "127.0.0.1:18082:80", "--restart", "on-failure:3", "-m", "32m", "--cap-drop", "CHOWN",
		"-w", "/tmp", "-u", "nobody")...)
	for _, ref := range []string{"pi-app", "/pi-app", id, id[:10]} {
		d := dockerOK[ContainerDetails](t, k, "inspect_container", map[string]any{"container": ref})
		if d.ID != id || d.Name != "pi-app" {
			t.Fatalf("%s: resolved to %s %s", ref, d.ID, d.Name)
		}
	}
	d := dockerOK[ContainerDetails](t, k, "inspect_container", map[string]any{"container": "pi-app"})
	for _, want := range []string{"FOO=bar", "DB_PASSWORD=<redacted>"} {
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

func testPodmanContainerLogs(t *testing.T, p *labtest.Podman, k *dockerKit) {
	id := p.Run(t, "--name", "pl-both", podmanImage, "sh", "-c",
		`for i in 1 2 3 4 5; do echo out$i; sleep 0.05; echo err$i >&2; sleep 0.05; done; trap "exit 0" TERM; sleep 600 & wait`)
	waitFor(t, "ten log lines", func() bool {
		out, _ := p.PodmanCmd("logs", id).CombinedOutput()
		return strings.Contains(string(out), "err5")
	})
	checkContainerLogs(t, k, "pl-both", id)
	if msg := dockerErr(t, k, "get_container_logs", map[string]any{"container": "pl-none"}); msg != `no container matches "pl-none"` {
		t.Errorf("unknown container: %q", msg)
	}
}

func testPodmanContainerStats(t *testing.T, p *labtest.Podman, k *dockerKit) {
	id := p.Run(t, "--name", "ps-busy", "-m", "64m", "--cpus", "0.5", podmanImage, "sh", "-c", "while :; do :; done")
	s := dockerOK[ContainerStats](t, k, "get_container_stats", map[string]any{"container": "ps-busy"})
	switch {
	case s.ID != id || s.Container != "ps-busy":
		t.Errorf("identity: %+v", s)
	// Held to half a CPU, as under dockerd. TailOps divides the
	// container's CPU time by the time between the engine's readings;
	// Podman's system_cpu_usage (the docker CLI's divisor) would
	// overstate it here (see the raw check below).
	case s.CPUPercent < 10 || s.CPUPercent > 80:
		t.Errorf("cpu %.2f%% for a busy loop limited to half a CPU", s.CPUPercent)
	case s.Memory.Limit != 64<<20 || s.Memory.Usage == 0 || s.Memory.Percent <= 0:
		t.Errorf("memory: %+v", s.Memory)
	case s.PIDs < 1:
		t.Errorf("pids %d", s.PIDs)
	case s.OnlineCPUs == 0 || s.Read == "" || s.CPUPercentOver != "500ms":
		t.Errorf("sample: %+v", s)
	}
	// The raw samples: the container's own CPU time is right (half a CPU),
	// the system counter is what differs from dockerd.
	raw := func() (cpu, system uint64, at time.Time) {
		r, err := k.cli.ContainerStatsOneShot(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		var st container.StatsResponse
		if err := json.NewDecoder(r.Body).Decode(&st); err != nil {
			t.Fatal(err)
		}
		return st.CPUStats.CPUUsage.TotalUsage, st.CPUStats.SystemUsage, time.Now()
	}
	c1, s1, t1 := raw()
	time.Sleep(time.Second)
	c2, s2, t2 := raw()
	wall := float64(t2.Sub(t1).Nanoseconds())
	if used := float64(c2-c1) / wall; used < 0.3 || used > 0.7 {
		t.Errorf("container used %.2f CPUs, want about 0.5", used)
	}
	if sys := float64(s2-s1) / wall; sys > 0.9*float64(s.OnlineCPUs) {
		t.Errorf("system_cpu_usage grew by %.2f × wall time: dockerd's semantics (about %d), not Podman 4.3's", sys, s.OnlineCPUs)
	}
	p.Podman(t, "stop", "-t", "0", id)
	if msg := dockerErr(t, k, "get_container_stats", map[string]any{"container": "ps-busy"}); msg != `container "ps-busy" is exited: only running containers have resource usage` {
		t.Errorf("stopped: %q", msg)
	}
}

func testPodmanImagesNetworksVolumes(t *testing.T, p *labtest.Podman, k *dockerKit) {
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
		imgs := dockerOK[ImageList](t, k, "list_images", map[string]any{"reference": tc.reference})
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
	if all := dockerOK[ImageList](t, k, "list_images", nil); all.Count != 1 {
		t.Errorf("%d images without a filter, want 1", all.Count)
	}

	nets := dockerOK[NetworkList](t, k, "list_networks", nil)
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

	vols := dockerOK[VolumeList](t, k, "list_volumes", nil)
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

func testPodmanStartStopRestart(t *testing.T, p *labtest.Podman, k *dockerKit) {
	id := p.Run(t, podmanRunArgs("--name", "pssr-app")...)
	checkStartStopRestart(t, k, "pssr-app", id)
}

func testPodmanRemoveContainer(t *testing.T, p *labtest.Podman, k *dockerKit) {
	run := p.Run(t, podmanRunArgs("--name", "prm-running")...)
	stopped := p.Create(t, "--name", "prm-stopped", podmanImage)

	checkRemoveContainer(t, k, "prm-running", run, "prm-stopped", stopped)
}

func testPodmanUnknownAndAmbiguous(t *testing.T, p *labtest.Podman, k *dockerKit) {
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
		if msg := dockerErr(t, k, tc.tool, map[string]any{"container": tc.ref}); !strings.Contains(msg, tc.want) {
			t.Errorf("%s %q: %q, want %q", tc.tool, tc.ref, msg, tc.want)
		}
	}
	// Create containers until two ids share a first character (at most 17).
	byFirst := map[byte][]string{}
	var prefix string
	for i := 0; prefix == ""; i++ {
		id := p.Create(t, "--name", fmt.Sprintf("pamb-%d", i), podmanImage)
		byFirst[id[0]] = append(byFirst[id[0]], id)
		if len(byFirst[id[0]]) == 2 {
			prefix = id[:1]
		}
	}
	all := dockerOK[ContainerList](t, k, "list_containers", map[string]any{"all": true})
	n := 0
	for _, c := range all.Containers {
		if strings.HasPrefix(c.ID, prefix) {
			n++
		}
	}
	for _, tool := range []string{"inspect_container", "stop_container"} {
		msg := dockerErr(t, k, tool, map[string]any{"container": prefix})
		want := regexp.MustCompile(fmt.Sprintf(`^"%s" matches %d containers: [0-9a-f]{12} \("pamb-[0-9]+"\), .*; use a longer id or the full name$`, prefix, n))
		if !want.MatchString(msg) {
			t.Errorf("%s ambiguous: %q, want %s", tool, msg, want)
		}
	}
	id := byFirst[prefix[0]][0]
	if d := dockerOK[ContainerDetails](t, k, "inspect_container", map[string]any{"container": id[:12]}); d.ID != id {
		t.Errorf("prefix %s resolved to %s", id[:12], d.ID)
	}
}
