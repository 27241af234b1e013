// SPDX-License-Identifier: Apache-2.0

package metrics_test

import (
	"bytes"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/tailops/tailops/metrics"
	"github.com/tailops/tailops/sandbox"
)

// childEnv names the test a re-executed test binary runs confined;
// stateEnv is the child's state directory, made (and removed) by the
// parent: the child cannot remove what it makes in /tmp once confined.
const (
	childEnv = "TAILOPS_METRICS_TEST_CHILD"
	stateEnv = "TAILOPS_METRICS_TEST_STATE"
)

// runConfined re-executes the test binary for t alone, with childEnv set,
// and fails t unless the child passed. Applying the sandbox cannot be
// undone, so it happens only in the child.
func runConfined(t *testing.T) {
	t.Helper()
	state := t.TempDir()
	pattern := "^" + strings.ReplaceAll(t.Name(), "/", "$/^") + "$"
	cmd := exec.Command(os.Args[0], "-test.run="+pattern, "-test.v", "-test.count=1", "-test.timeout=60s")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOCOVERDIR=") && !strings.HasPrefix(kv, childEnv+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, childEnv+"="+t.Name(), stateEnv+"="+state)
	out, err := cmd.CombinedOutput()
	t.Logf("confined child:\n%s", out)
	if err != nil || !bytes.Contains(out, []byte("--- PASS: "+t.Name())) {
		t.Fatalf("the confined child failed (%v)", err)
	}
}

// processMetrics are the process collector's metrics but the network
// namespace's counters (see ReadPaths).
var processMetrics = []string{"process_cpu_seconds_total", "process_open_fds", "process_max_fds", "process_virtual_memory_bytes",
	"process_virtual_memory_max_bytes", "process_resident_memory_bytes", "process_start_time_seconds"}

// TestScrapeUnderTheKernelSandbox scrapes inside the real sandbox (the
// policy sandbox.Compute derives for a server offering only
// health_check, which reads nothing in /proc, applied in enforce mode:
// Landlock and seccomp). With Metrics.ReadPaths granted, every process
// metric is there (but the network namespace's counters); without them,
// a scrape still answers 200 with everything else.
func TestScrapeUnderTheKernelSandbox(t *testing.T) {
	tests := []struct {
		name  string
		grant bool
	}{{"ReadPaths granted", true}, {"ReadPaths not granted", false}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if os.Getenv(childEnv) != t.Name() {
				runConfined(t)
				return
			}
			var logs bytes.Buffer
			m := newMetrics(t, metrics.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			grants := []sandbox.Grant{{Who: "tool health_check"}}
			if tt.grant {
				grants = append(grants, sandbox.Grant{Who: "metrics", Needs: sandbox.Needs{Read: m.ReadPaths()}})
			}
			state := os.Getenv(stateEnv)
			cfg := sandbox.Config{Mode: sandbox.ModeEnforce, StateDir: state, AuditDir: state}
			p, err := sandbox.Compute(grants, cfg)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := sandbox.Apply(p)
			if err != nil {
				t.Fatalf("applying the sandbox: %v", err)
			}
			if !rep.Landlock || !rep.Seccomp {
				t.Fatalf("sandbox not fully applied: %s", rep)
			}
			t.Log(rep)
			// The sandbox holds: what ReadPaths names is readable only
			// when granted, and the rest of /proc/self never.
			if _, err := os.ReadFile("/proc/self/stat"); (err == nil) != tt.grant {
				t.Fatalf("reading /proc/self/stat: %v (granted: %v)", err, tt.grant)
			}
			if _, err := os.ReadFile("/proc/self/status"); err == nil {
				t.Fatal("the sandbox lets the process read /proc/self/status, which no rule grants")
			}
			for range 3 {
				fams := scrape(t, m.Handler())
				for _, name := range []string{"tailops_build_info", "tailops_tool_calls_total", "go_goroutines"} {
					if fams[name] == nil {
						t.Errorf("%s missing under the sandbox", name)
					}
				}
				var missing []string
				for _, name := range processMetrics {
					if fams[name] == nil {
						missing = append(missing, name)
					}
				}
				if tt.grant && len(missing) > 0 {
					t.Errorf("with ReadPaths granted, missing %v", missing)
				}
				if !tt.grant && len(missing) == 0 {
					t.Error("every process metric is there without ReadPaths: the sandbox did not restrict /proc")
				}
			}
			if logs.Len() > 0 {
				t.Errorf("scraping logged:\n%s", logs.String())
			}
		})
	}
}
