// SPDX-License-Identifier: Apache-2.0

package host

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tailops/tailops/sandbox"
	"github.com/tailops/tailops/tools"
	"github.com/tailops/tailops/toolstest"
)

// serve serves ts through a real in-process server and returns a client
// of it.
func serve(t *testing.T, ts *Toolset) *toolstest.Client {
	t.Helper()
	return toolstest.New(t, []tools.Toolset{ts}, nil).Client(t)
}

// fakeSys is a /sys whose lo reports state.
func fakeSys(t *testing.T, state string) string {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "class", "net", "lo"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "class", "net", "lo", "operstate"), []byte(state+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// loState is lo's state as get_network_status reports it through c.
func loState(t *testing.T, c *toolstest.Client) string {
	st := toolstest.OK[NetworkStatus](t, c, "get_network_status", nil)
	for _, i := range st.Interfaces {
		if i.Name == "lo" {
			return i.State
		}
	}
	t.Fatal("no lo interface")
	return ""
}

// TestHostSysIsHonoured points Config.Host.Sys at a fake /sys: a container
// given the host's /sys there reports the host's interfaces' state.
func TestHostSysIsHonoured(t *testing.T) {
	t.Parallel()
	ts, err := New(Config{Host: sandbox.HostPaths{Sys: fakeSys(t, "from-host-sys")}})
	if err != nil {
		t.Fatal(err)
	}
	if got := loState(t, serve(t, ts)); got != "from-host-sys" {
		t.Errorf("lo state %q, want it read from the configured /sys", got)
	}
}

// TestHostEnvironmentIsNotRead: the host paths come from Config only; the
// process environment's HOST_SYS (which main reads, once) changes nothing
// here, neither for TailOps' own reads nor for gopsutil's.
func TestHostEnvironmentIsNotRead(t *testing.T) {
	t.Setenv("HOST_SYS", fakeSys(t, "from-the-environment"))
	t.Setenv("HOST_PROC", t.TempDir()) // an empty /proc: gopsutil would find no interfaces' counters
	ts, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	c := serve(t, ts)
	if got := loState(t, c); got == "from-the-environment" {
		t.Errorf("lo state %q was read from the process environment's HOST_SYS", got)
	}
	io := toolstest.OK[IOCounters](t, c, "get_network_io_counters", nil)
	if len(io.Interfaces) == 0 {
		t.Errorf("no interface counters: gopsutil read the process environment's HOST_PROC")
	}
}

// TestHostPathsMustBeAbsolute: a relative host path is refused by name,
// and the tools stay declared but fail every call.
func TestHostPathsMustBeAbsolute(t *testing.T) {
	t.Parallel()
	ts, err := New(Config{Host: sandbox.HostPaths{Proc: "host/proc"}})
	if err == nil || err.Error() != `HOST_PROC "host/proc": must be an absolute path` {
		t.Fatalf("error %v", err)
	}
	specs := ts.Tools()
	if len(specs) == 0 {
		t.Fatal("no tools declared")
	}
	c := serve(t, ts)
	for _, s := range specs {
		if msg := toolstest.Err(t, c, s.Name(), nil); msg != `the host tools are unavailable: HOST_PROC "host/proc": must be an absolute path` {
			t.Errorf("%s: %q", s.Name(), msg)
		}
	}
}

func TestHealthCheckReportsTheVersion(t *testing.T) {
	t.Parallel()
	for cfg, want := range map[string]string{"": "dev", "1.2.3": "1.2.3"} {
		ts, _ := New(Config{Version: cfg})
		r := toolstest.OK[HealthResult](t, serve(t, ts), "health_check", nil)
		if r.Status != "ok" || r.Version != want {
			t.Errorf("Version %q: %+v, want version %q", cfg, r, want)
		}
	}
}

func TestCPUPercentNeverBlocks(t *testing.T) {
	t.Parallel()
	cs := &cpuSampler{host: &hostStatic{}}
	ctx := context.Background()
	for i, want := range []string{"since boot", "since boot"} {
		_, over, err := cs.percent(ctx)
		if err != nil || over != want {
			t.Errorf("call %d: over %q err %v, want %q", i, over, err, want)
		}
	}
}

// TestSystemToolsMatchTheirOutputSchemas runs every host tool on this
// host and checks its structured result against its declared output
// schema (the server does not validate results per call).
func TestSystemToolsMatchTheirOutputSchemas(t *testing.T) {
	t.Parallel()
	ts, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	c := serve(t, ts)
	for _, s := range ts.Tools() {
		for range 2 { // the second call takes the CPU-delta paths
			toolstest.OK[any](t, c, s.Name(), nil)
		}
	}
}

// TestHostNeedsAreTheHostPaths: what the tools ask of the sandbox is what
// they read: the host paths applied once, here, and the rest as it is.
func TestHostNeedsAreTheHostPaths(t *testing.T) {
	t.Parallel()
	ts, err := New(Config{Host: sandbox.HostPaths{Proc: "/host/proc", Etc: "/host/etc"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ts.Tools() {
		if s.Name() == "health_check" {
			if len(s.Needs.Read) != 0 {
				t.Errorf("health_check reads %v", s.Needs.Read)
			}
			continue
		}
		for _, want := range []string{"/host/proc", "/sys", "/host/etc/os-release", "/run/utmp"} {
			if !slices.Contains(s.Needs.Read, want) {
				t.Errorf("%s reads %v, without %s", s.Name(), s.Needs.Read, want)
			}
		}
		for _, not := range []string{"/proc", "/etc/os-release"} {
			if slices.Contains(s.Needs.Read, not) {
				t.Errorf("%s reads %s, not the host's", s.Name(), not)
			}
		}
		if wantNetlink := s.Name() == "get_network_status"; wantNetlink != slices.Equal(s.Needs.Netlink, []string{"NETLINK_ROUTE"}) {
			t.Errorf("%s: netlink %v", s.Name(), s.Needs.Netlink)
		}
	}
}
