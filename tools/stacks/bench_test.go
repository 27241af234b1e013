// SPDX-License-Identifier: Apache-2.0

package stacks

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/compose/v5/pkg/api"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"

	"github.com/tailops/tailops/labtest"
	"github.com/tailops/tailops/tools"
	"github.com/tailops/tailops/toolstest"
)

// dockerComposeInstall is the command that installs the peer the stacks
// benchmarks compare against: Debian 12's Python docker-compose 1.29.2
// (Debian has no compose v2).
const dockerComposeInstall = "apt-get install -y docker-compose"

// benchStack is the benchmarks' five-service stack: local images only
// (no registry is reachable), commands that exit at once on SIGTERM.
const benchStack = `services:
  web:
    image: local/busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    ports: ["127.0.0.1::80"]
    environment: [ROLE=web]
  api:
    image: local/busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    environment: [ROLE=api]
    depends_on: [db, cache]
  worker:
    image: local/busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    environment: [ROLE=worker]
    depends_on: [db]
  db:
    image: local/busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    environment: [ROLE=db]
    volumes: ["dbdata:/data"]
  cache:
    image: local/busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    environment: [ROLE=cache]
volumes:
  dbdata: {}
`

// stackBench is one engine, the same compose file in two stack
// directories (one project each: TailOps' and docker-compose's), the
// stacks tools over that engine with an in-process MCP server, and the
// path of docker-compose.
type stackBench struct {
	d        *labtest.Dockerd
	ts       *Toolset
	c        *toolstest.Client
	compose  string // docker-compose's path
	theirDir string // docker-compose's project directory
}

const (
	benchOurs   = "benchours"
	benchNoWait = "benchnowait"
	benchTheirs = "benchtheirs"
)

// newStackBench fails the benchmark (never skips it) when docker-compose
// is missing.
func newStackBench(b *testing.B) *stackBench {
	b.Helper()
	compose, err := exec.LookPath("docker-compose")
	if err != nil {
		b.Fatalf("docker-compose is missing, the peer these benchmarks compare against; install it with: %s", dockerComposeInstall)
	}
	d := labtest.Shared(b)
	busyboxOnce.Do(func() { d.BusyboxImage(b, "local/busybox:latest") })
	root := b.TempDir()
	writeStack(b, root, benchOurs, benchStack, "")
	writeStack(b, root, benchNoWait, benchStack, "")
	s := &stackBench{d: d, compose: compose, theirDir: writeStack(b, root, benchTheirs, benchStack, "")}
	s.ts, err = New(Config{Host: d.Host, StackRoots: []string{root}, StateDir: b.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	s.c = toolstest.New(b, []tools.Toolset{s.ts}, &toolstest.Options{Approve: true}).Client(b)
	b.Cleanup(func() {
		s.down(b, benchOurs)
		s.down(b, benchNoWait)
		s.down(b, benchTheirs)
	})
	return s
}

// dockerCompose runs docker-compose against the bench's engine on
// docker-compose's project and returns its output.
func (s *stackBench) dockerCompose(b *testing.B, args ...string) string {
	b.Helper()
	cmd := exec.Command(s.compose, append([]string{"-p", benchTheirs, "-f", filepath.Join(s.theirDir, "compose.yaml")}, args...)...)
	cmd.Dir = s.theirDir
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+s.d.Host)
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("docker-compose %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// down removes a project's containers and networks through the Engine
// API, forcibly (untimed, the same for both sides).
func (s *stackBench) down(b *testing.B, project string) {
	b.Helper()
	ctx := context.Background()
	cli := s.d.Client()
	f := filters.NewArgs(filters.Arg("label", "com.docker.compose.project="+project))
	list, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range list {
		if err := cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}); err != nil {
			b.Fatal(err)
		}
	}
	nets, err := cli.NetworkList(ctx, network.ListOptions{Filters: f})
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range nets {
		if err := cli.NetworkRemove(ctx, n.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// running counts project's running containers.
func (s *stackBench) running(b *testing.B, project string) int {
	b.Helper()
	f := filters.NewArgs(filters.Arg("label", "com.docker.compose.project="+project), filters.Arg("status", "running"))
	list, err := s.d.Client().ContainerList(context.Background(), container.ListOptions{Filters: f})
	if err != nil {
		b.Fatal(err)
	}
	return len(list)
}

// sides are the timed operations of one benchmark, run in alternating
// order every round.
type sides []struct {
	name string
	run  func()
}

// alternate runs b.N rounds of every side (their order reversed every
// other round, each round's set-up untimed), and reports each side's
// median in ms and the ratio of every side's median to the last
// side's (docker-compose's).
func (sd sides) alternate(b *testing.B, setup func()) {
	b.Helper()
	times := make([][]float64, len(sd))
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		if setup != nil {
			setup()
		}
		b.StartTimer()
		for j := range sd {
			k := j
			if i%2 == 1 {
				k = len(sd) - 1 - j
			}
			t0 := time.Now()
			sd[k].run()
			times[k] = append(times[k], float64(time.Since(t0))/float64(time.Millisecond))
		}
	}
	b.StopTimer()
	peer := medianOf(times[len(sd)-1])
	for k, s := range sd {
		m := medianOf(times[k])
		b.ReportMetric(m, s.name+"-ms")
		if k < len(sd)-1 {
			b.ReportMetric(m/peer, s.name+"-ratio")
		}
	}
}

func medianOf(xs []float64) float64 {
	xs = slices.Sorted(slices.Values(xs))
	if len(xs) == 0 {
		return 0
	}
	if len(xs)%2 == 1 {
		return xs[len(xs)/2]
	}
	return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
}

// BenchmarkStackStatus times get_stack_status of a running five-service
// stack (the tool's handler, and the same call through the in-process
// MCP server and a client) against `docker-compose ps` of the same
// compose file on the same engine, alternating every round; it reports
// the medians (ms) and their ratios to docker-compose's (target ≤ 0.3).
func BenchmarkStackStatus(b *testing.B) {
	s := newStackBench(b)
	toolstest.OK[DeployResult](b, s.c, "deploy_stack", map[string]any{"name": benchOurs})
	s.dockerCompose(b, "up", "-d")
	if n, m := s.running(b, benchOurs), s.running(b, benchTheirs); n != 5 || m != 5 {
		b.Fatalf("running containers: ours %d, docker-compose's %d; want 5 each", n, m)
	}
	ctx := context.Background()
	sides{
		{"tailops_handler", func() {
			st, err := s.ts.stackStatus(ctx, NameArg{Name: benchOurs})
			if err != nil || len(st.Services) != 5 {
				b.Fatalf("get_stack_status: %+v, %v", st, err)
			}
		}},
		{"tailops_mcp", func() {
			if st := toolstest.OK[StackStatus](b, s.c, "get_stack_status", map[string]any{"name": benchOurs}); len(st.Services) != 5 {
				b.Fatalf("get_stack_status: %+v", st)
			}
		}},
		{"docker_compose_ps", func() {
			if out := s.dockerCompose(b, "ps"); strings.Count(out, " Up ") != 5 {
				b.Fatalf("docker-compose ps:\n%s", out)
			}
		}},
	}.alternate(b, nil)
}

// BenchmarkDeployStack times a fresh deploy of the five-service stack:
// deploy_stack through the in-process MCP server (approved at once)
// against `docker-compose up -d`, same compose file and engine, each
// project removed first (untimed) every round, alternating; it reports
// the medians (ms) and the ratio to docker-compose's (target ≤ 1).
// compose_up_nowait, for what the time goes to, is compose's Up in
// process on the project deploy_stack loads, without waiting for the
// containers to be seen running (docker-compose up -d does not wait;
// deploy_stack does, on the engine's events: see waitReady).
func BenchmarkDeployStack(b *testing.B) {
	s := newStackBench(b)
	ctx := context.Background()
	sides{
		{"compose_up_nowait", func() {
			_, p, err := s.ts.prepare(ctx, benchNoWait, nil)
			if err == nil {
				var c api.Compose
				if c, err = s.ts.eng.compose(ctx); err == nil {
					err = c.Up(ctx, p, api.UpOptions{Create: api.CreateOptions{RemoveOrphans: true, Recreate: api.RecreateDiverged,
						RecreateDependencies: api.RecreateDiverged, Inherit: true, QuietPull: true}, Start: api.StartOptions{Project: p}})
				}
			}
			if err != nil {
				b.Fatal(err)
			}
			if n := s.running(b, benchNoWait); n != 5 {
				b.Fatalf("after compose up %d containers run, want 5", n)
			}
		}},
		{"tailops_mcp", func() {
			toolstest.OK[DeployResult](b, s.c, "deploy_stack", map[string]any{"name": benchOurs})
			if n := s.running(b, benchOurs); n != 5 {
				b.Fatalf("after deploy_stack %d containers run, want 5", n)
			}
		}},
		{"docker_compose_up", func() {
			s.dockerCompose(b, "up", "-d")
			if n := s.running(b, benchTheirs); n != 5 {
				b.Fatalf("after docker-compose up -d %d containers run, want 5", n)
			}
		}},
	}.alternate(b, func() {
		s.down(b, benchOurs)
		s.down(b, benchNoWait)
		s.down(b, benchTheirs)
	})
}
