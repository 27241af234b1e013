// SPDX-License-Identifier: Apache-2.0

package tools

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
)

// TestHostSysIsHonoured points HOST_SYS at a fake /sys: a container given
// the host's /sys there reports the host's interfaces' state.
func TestHostSysIsHonoured(t *testing.T) {
	fake := t.TempDir()
	os.MkdirAll(filepath.Join(fake, "class", "net", "lo"), 0o755)
	os.WriteFile(filepath.Join(fake, "class", "net", "lo", "operstate"), []byte("from-host-sys\n"), 0o644)
	t.Setenv("HOST_SYS", fake)
	st, err := networkStatus(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range st.Interfaces {
		if i.Name == "lo" && i.State != "from-host-sys" {
			t.Errorf("lo state %q, want it read from HOST_SYS", i.State)
		}
	}
}

func TestHostPath(t *testing.T) {
	t.Setenv("HOST_PROC", "/host/proc")
	t.Setenv("HOST_ETC", "")
	for in, want := range map[string]string{
		"/proc/loadavg":   "/host/proc/loadavg",
		"/proc":           "/host/proc",
		"/procfs/x":       "/procfs/x",
		"/etc/os-release": "/etc/os-release",
	} {
		if got := hostPath(in); got != want {
			t.Errorf("hostPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCPUPercentNeverBlocks(t *testing.T) {
	cs := &cpuSampler{}
	ctx := context.Background()
	for i, want := range []string{"since boot", "since boot"} {
		_, over, err := cs.percent(ctx)
		if err != nil || over != want {
			t.Errorf("call %d: over %q err %v, want %q", i, over, err, want)
		}
	}
}

// TestSystemToolsMatchTheirOutputSchemas runs every system tool on this
// host and checks its structured result against its declared output
// schema (the server does not validate results per call).
func TestSystemToolsMatchTheirOutputSchemas(t *testing.T) {
	for _, s := range systemTools(&Deps{}) {
		for range 2 { // the second call takes the CPU-delta paths
			req := mcp.CallToolRequest{}
			req.Params.Name = s.Name()
			res, err := s.Handler(context.Background(), req)
			if err != nil || res.IsError {
				t.Fatalf("%s: %v %+v", s.Name(), err, res)
			}
			b, err := json.Marshal(res.StructuredContent)
			if err != nil {
				t.Fatal(err)
			}
			checkOutputSchema(t, s, b)
		}
	}
}
