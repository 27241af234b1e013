// SPDX-License-Identifier: Apache-2.0

package host

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/sandbox"
	"github.com/tailops/tailops/toolstest"
)

// call runs the tool name of ts, which must succeed, and decodes its
// structured result into out after checking it against the tool's output
// schema.
func call(t *testing.T, ts *Toolset, name string, out any) {
	t.Helper()
	for _, s := range ts.Tools() {
		if s.Name() != name {
			continue
		}
		res, err := s.Handler(context.Background(), mcp.CallToolRequest{Params: mcp.CallToolParams{Name: name}})
		if err != nil || res.IsError {
			t.Fatalf("%s: %v %+v", name, err, res)
		}
		b, err := json.Marshal(res.StructuredContent)
		if err != nil {
			t.Fatal(err)
		}
		toolstest.CheckOutputSchema(t, s, b)
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("no tool %s", name)
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

// loState is lo's state as get_network_status reports it with ts.
func loState(t *testing.T, ts *Toolset) string {
	var st NetworkStatus
	call(t, ts, "get_network_status", &st)
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
	if got := loState(t, ts); got != "from-host-sys" {
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
	if got := loState(t, ts); got == "from-the-environment" {
		t.Errorf("lo state %q was read from the process environment's HOST_SYS", got)
	}
	var io IOCounters
	call(t, ts, "get_network_io_counters", &io)
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
	for _, s := range specs {
		res, _ := s.Handler(context.Background(), mcp.CallToolRequest{})
		if !res.IsError || toolstest.Text(res) != `the host tools are unavailable: HOST_PROC "host/proc": must be an absolute path` {
			t.Errorf("%s: %+v", s.Name(), res)
		}
	}
}

func TestHealthCheckReportsTheVersion(t *testing.T) {
	t.Parallel()
	for cfg, want := range map[string]string{"": "dev", "1.2.3": "1.2.3"} {
		ts, _ := New(Config{Version: cfg})
		var r HealthResult
		call(t, ts, "health_check", &r)
		if r.Status != "ok" || r.Version != want {
			t.Errorf("Version %q: %+v, want version %q", cfg, r, want)
		}
	}
}

func TestCPUPercentNeverBlocks(t *testing.T) {
	t.Parallel()
	cs := &cpuSampler{}
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
	for _, s := range ts.Tools() {
		for range 2 { // the second call takes the CPU-delta paths
			var out any
			call(t, ts, s.Name(), &out)
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
