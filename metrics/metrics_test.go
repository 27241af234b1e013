// SPDX-License-Identifier: Apache-2.0

package metrics_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tailops/tailops/metrics"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// declared are the tool names the tests' servers declare.
var declared = []string{"health_check", "get_system_status", "docker_pull_image"}

func newMetrics(t *testing.T, o metrics.Options) *metrics.Metrics {
	t.Helper()
	if o.Tools == nil {
		o.Tools = declared
	}
	if o.Logger == nil {
		o.Logger = quiet
	}
	return metrics.New(o)
}

// scrape GETs h's metrics as Prometheus does by default and parses them
// with the strict (legacy name) text parser; it fails on anything but a
// 200 with the text format.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	body := get(t, h, "")
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parsing the exposition: %v\n%s", err, body)
	}
	return fams
}

// get GETs /metrics from h with the Accept header and returns the body;
// it fails unless the answer is 200 with the format accept asks for (the
// text format when accept is "").
func get(t *testing.T, h http.Handler, accept string) []byte {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, metrics.Path, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", metrics.Path, rec.Code, rec.Body)
	}
	return rec.Body.Bytes()
}

// series is one series' value: a counter's or gauge's value, a
// histogram's count and sum.
type series struct {
	value, count, sum float64
	found             bool
}

// value finds the series of family name with exactly these labels.
func value(fams map[string]*dto.MetricFamily, name string, labels map[string]string) series {
	f := fams[name]
	if f == nil {
		return series{}
	}
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		if !sameLabels(got, labels) {
			continue
		}
		switch {
		case m.Counter != nil:
			return series{value: m.GetCounter().GetValue(), found: true}
		case m.Gauge != nil:
			return series{value: m.GetGauge().GetValue(), found: true}
		case m.Histogram != nil:
			return series{count: float64(m.GetHistogram().GetSampleCount()), sum: m.GetHistogram().GetSampleSum(), found: true}
		}
	}
	return series{}
}

func sameLabels(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// call is the labels of a tool call counter series.
func call(tool, decision, result string) map[string]string {
	return map[string]string{"tool": tool, "decision": decision, "result": result}
}

// change is a series' expected change: found after the action, and the
// differences of value, count and sum against before it.
type change struct {
	name   string
	labels map[string]string
	found  bool
	dValue float64
	dCount float64
	dSum   float64
}

// TestSeriesChangeAfterCalls: each call the server makes changes exactly
// the series it should, by the amount it should, and leaves the others
// alone.
func TestSeriesChangeAfterCalls(t *testing.T) {
	tests := []struct {
		name string
		act  func(m *metrics.Metrics)
		want []change
	}{{
		name: "an allowed call that succeeded",
		act: func(m *metrics.Metrics) {
			m.ToolCall("health_check", metrics.DecisionAllowed, metrics.ResultSuccess, 1500*time.Microsecond)
		},
		want: []change{
			{name: "tailops_tool_calls_total", labels: call("health_check", "allowed", "success"), found: true, dValue: 1},
			{name: "tailops_tool_calls_total", labels: call("health_check", "allowed", "error"), found: true},
			{name: "tailops_tool_calls_total", labels: call("health_check", "denied", "denied"), found: true},
			{name: "tailops_tool_call_duration_seconds", labels: map[string]string{"tool": "health_check"}, found: true, dCount: 1, dSum: 0.0015},
		},
	}, {
		name: "an allowed call that failed",
		act: func(m *metrics.Metrics) {
			m.ToolCall("docker_pull_image", metrics.DecisionAllowed, metrics.ResultError, 2*time.Second)
		},
		want: []change{
			{name: "tailops_tool_calls_total", labels: call("docker_pull_image", "allowed", "error"), found: true, dValue: 1},
			{name: "tailops_tool_calls_total", labels: call("docker_pull_image", "allowed", "success"), found: true},
			{name: "tailops_tool_call_duration_seconds", labels: map[string]string{"tool": "docker_pull_image"}, found: true, dCount: 1, dSum: 2},
		},
	}, {
		name: "a denied call counts, but has no latency",
		act: func(m *metrics.Metrics) {
			m.ToolCall("get_system_status", metrics.DecisionDenied, metrics.ResultDenied, time.Millisecond)
		},
		want: []change{
			{name: "tailops_tool_calls_total", labels: call("get_system_status", "denied", "denied"), found: true, dValue: 1},
			{name: "tailops_tool_call_duration_seconds", labels: map[string]string{"tool": "get_system_status"}},
		},
	}, {
		name: "a tool the server does not declare is unknown",
		act: func(m *metrics.Metrics) {
			m.ToolCall("rm_rf_slash", metrics.DecisionDenied, metrics.ResultDenied, 0)
		},
		want: []change{
			{name: "tailops_tool_calls_total", labels: call("unknown", "denied", "denied"), found: true, dValue: 1},
			{name: "tailops_tool_calls_total", labels: call("rm_rf_slash", "denied", "denied")},
		},
	}, {
		name: "decision and result values outside their sets are unknown",
		act: func(m *metrics.Metrics) {
			m.ToolCall("health_check", metrics.Decision("maybe"), metrics.Result("exploded"), time.Millisecond)
		},
		want: []change{
			{name: "tailops_tool_calls_total", labels: call("health_check", "unknown", "unknown"), found: true, dValue: 1},
			{name: "tailops_tool_calls_total", labels: call("health_check", "maybe", "exploded")},
		},
	}, {
		name: "a durable audit write",
		act:  func(m *metrics.Metrics) { m.AuditWrite(250*time.Microsecond, nil) },
		want: []change{
			{name: "tailops_audit_write_duration_seconds", found: true, dCount: 1, dSum: 0.00025},
			{name: "tailops_audit_write_failures_total", found: true},
		},
	}, {
		name: "a failed audit write",
		act:  func(m *metrics.Metrics) { m.AuditWrite(time.Millisecond, errors.New("disk full")) },
		want: []change{
			{name: "tailops_audit_write_failures_total", found: true, dValue: 1},
			{name: "tailops_audit_write_duration_seconds", found: true},
		},
	}, {
		name: "an approval wait and its outcome",
		act:  func(m *metrics.Metrics) { m.ApprovalWait(metrics.ApprovalApproved, 3*time.Second) },
		want: []change{
			{name: "tailops_approval_wait_seconds", labels: map[string]string{"outcome": "approved"}, found: true, dCount: 1, dSum: 3},
			{name: "tailops_approval_wait_seconds", labels: map[string]string{"outcome": "denied"}},
		},
	}, {
		name: "an approval outcome outside the set is unknown",
		act:  func(m *metrics.Metrics) { m.ApprovalWait(metrics.ApprovalOutcome("bribed"), time.Second) },
		want: []change{
			{name: "tailops_approval_wait_seconds", labels: map[string]string{"outcome": "unknown"}, found: true, dCount: 1, dSum: 1},
		},
	}, {
		name: "sessions open, once the server says where to read them",
		act:  func(m *metrics.Metrics) { m.SetSessionsOpen(func() int { return 7 }) },
		want: []change{{name: "tailops_sessions_open", found: true, dValue: 7}},
	}, {
		name: "audit log health, once the server says where to read it",
		act:  func(m *metrics.Metrics) { m.SetAuditHealthy(func() bool { return true }) },
		want: []change{{name: "tailops_audit_log_healthy", found: true, dValue: 1}},
	}, {
		name: "the sandbox's state",
		act: func(m *metrics.Metrics) {
			m.SetSandbox(metrics.Sandbox{Mode: "best-effort", LandlockABI: 7, Landlock: true, Seccomp: true, Skipped: 2})
		},
		want: []change{
			{name: "tailops_sandbox_info", labels: map[string]string{"mode": "best-effort", "landlock": "true", "seccomp": "true"}, found: true, dValue: 1},
			{name: "tailops_sandbox_landlock_abi", found: true, dValue: 7},
			{name: "tailops_sandbox_rules_skipped", found: true, dValue: 2},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMetrics(t, metrics.Options{})
			before := scrape(t, m.Handler())
			tt.act(m)
			after := scrape(t, m.Handler())
			for _, w := range tt.want {
				b, a := value(before, w.name, w.labels), value(after, w.name, w.labels)
				if a.found != w.found {
					t.Errorf("%s%v: present %v, want %v", w.name, w.labels, a.found, w.found)
					continue
				}
				if !w.found {
					continue
				}
				if d := a.value - b.value; !near(d, w.dValue) {
					t.Errorf("%s%v: value changed by %v, want %v", w.name, w.labels, d, w.dValue)
				}
				if d := a.count - b.count; !near(d, w.dCount) {
					t.Errorf("%s%v: count changed by %v, want %v", w.name, w.labels, d, w.dCount)
				}
				if d := a.sum - b.sum; !near(d, w.dSum) {
					t.Errorf("%s%v: sum changed by %v, want %v", w.name, w.labels, d, w.dSum)
				}
			}
		})
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

// TestGaugeFuncsAreReadAtScrape: sessions open and audit health follow the
// server's state at each scrape, and a second Set replaces the source.
func TestGaugeFuncsAreReadAtScrape(t *testing.T) {
	m := newMetrics(t, metrics.Options{})
	var open atomic.Int64
	var healthy atomic.Bool
	m.SetSessionsOpen(func() int { return int(open.Load()) })
	m.SetAuditHealthy(healthy.Load)
	steps := []struct {
		open    int64
		healthy bool
	}{{0, true}, {3, true}, {1024, false}, {2, true}}
	for _, s := range steps {
		open.Store(s.open)
		healthy.Store(s.healthy)
		fams := scrape(t, m.Handler())
		if got := value(fams, "tailops_sessions_open", nil).value; got != float64(s.open) {
			t.Errorf("tailops_sessions_open = %v, want %v", got, s.open)
		}
		want := 0.0
		if s.healthy {
			want = 1
		}
		if got := value(fams, "tailops_audit_log_healthy", nil).value; got != want {
			t.Errorf("tailops_audit_log_healthy = %v, want %v (healthy %v)", got, want, s.healthy)
		}
	}
	m.SetSessionsOpen(func() int { return 42 })
	if got := value(scrape(t, m.Handler()), "tailops_sessions_open", nil).value; got != 42 {
		t.Errorf("after a second SetSessionsOpen: tailops_sessions_open = %v, want 42", got)
	}
}

// TestSandboxIsOneSeries: setting the sandbox's state again replaces it;
// the info metric never holds two modes at once.
func TestSandboxIsOneSeries(t *testing.T) {
	m := newMetrics(t, metrics.Options{})
	m.SetSandbox(metrics.Sandbox{Mode: "enforce", LandlockABI: 7, Landlock: true, Seccomp: true})
	m.SetSandbox(metrics.Sandbox{Mode: "off"})
	fams := scrape(t, m.Handler())
	info := fams["tailops_sandbox_info"].GetMetric()
	if len(info) != 1 {
		t.Fatalf("tailops_sandbox_info has %d series, want 1", len(info))
	}
	want := map[string]string{"mode": "off", "landlock": "false", "seccomp": "false"}
	if v := value(fams, "tailops_sandbox_info", want); !v.found || v.value != 1 {
		t.Errorf("tailops_sandbox_info%v = %+v, want 1", want, v)
	}
	if v := value(fams, "tailops_sandbox_landlock_abi", nil).value; v != 0 {
		t.Errorf("tailops_sandbox_landlock_abi = %v after the sandbox was turned off, want 0", v)
	}
}

// TestBuildInfo: the build's version, revision, Go version and test-only
// tags, sorted; "unknown" where the server gave none.
func TestBuildInfo(t *testing.T) {
	tests := []struct {
		name string
		o    metrics.Options
		want map[string]string
	}{
		{"release", metrics.Options{Version: "1.4.0", Commit: "0640d96"},
			map[string]string{"version": "1.4.0", "revision": "0640d96", "goversion": runtime.Version(), "test_tags": ""}},
		{"test build", metrics.Options{Version: "dev", Commit: "abc", TestTags: []string{"tailops_testtools", "tailops_nocheck"}},
			map[string]string{"version": "dev", "revision": "abc", "goversion": runtime.Version(), "test_tags": "tailops_nocheck,tailops_testtools"}},
		{"zero options", metrics.Options{},
			map[string]string{"version": "unknown", "revision": "unknown", "goversion": runtime.Version(), "test_tags": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fams := scrape(t, newMetrics(t, tt.o).Handler())
			if v := value(fams, "tailops_build_info", tt.want); !v.found || v.value != 1 {
				t.Errorf("tailops_build_info%v not found with value 1 in %v", tt.want, fams["tailops_build_info"])
			}
		})
	}
}

// TestUnknownToolNamesDoNotGrowSeries: a caller that sends ten thousand
// different tool names, some of them hostile to the exposition format,
// leaves the tool label with the declared names plus "unknown", and
// every scrape parses.
func TestUnknownToolNamesDoNotGrowSeries(t *testing.T) {
	tests := []struct {
		name  string
		names func(i int) string
	}{
		{"random names", func(i int) string { return fmt.Sprintf("tool_%d_%x", i, rand.Uint64()) }},
		{"names that break the format", func(i int) string {
			return []string{"a\"b", "c\nd", "e\\f", "g} 1\nevil_total 9", "\xff\xfe", "", strings.Repeat("x", 4096)}[i%7] + fmt.Sprint(i)
		}},
		{"names close to declared ones", func(i int) string {
			return []string{"Health_check", "health_check ", " health_check", "health_check\x00", "get_system_status/"}[i%5]
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMetrics(t, metrics.Options{NoRuntime: true})
			for i := range 10000 {
				m.ToolCall(tt.names(i), metrics.DecisionDenied, metrics.ResultDenied, 0)
				m.ToolCall(tt.names(i), metrics.DecisionAllowed, metrics.ResultError, time.Millisecond)
			}
			fams := scrape(t, m.Handler())
			allowed := append(slices.Clone(declared), metrics.Unknown)
			for _, name := range []string{"tailops_tool_calls_total", "tailops_tool_call_duration_seconds"} {
				tools := map[string]bool{}
				for _, s := range fams[name].GetMetric() {
					for _, l := range s.GetLabel() {
						if l.GetName() == "tool" {
							tools[l.GetValue()] = true
						}
					}
				}
				for tool := range tools {
					if !slices.Contains(allowed, tool) {
						t.Errorf("%s has a series for tool %q, which the server does not declare", name, tool)
					}
				}
			}
			if got := len(fams["tailops_tool_calls_total"].GetMetric()); got > 3*len(allowed) {
				t.Errorf("tailops_tool_calls_total has %d series, want at most %d", got, 3*len(allowed))
			}
			if v := value(fams, "tailops_tool_calls_total", call("unknown", "denied", "denied")).value; v != 10000 {
				t.Errorf(`tailops_tool_calls_total{tool="unknown",decision="denied"} = %v, want 10000`, v)
			}
			if _, ok := fams["evil_total"]; ok {
				t.Error("a tool name injected a series")
			}
		})
	}
}

// TestExpositionIsValid: the exposition parses with the strict parser,
// passes promlint (names, units, _total on counters, HELP on every
// metric), and every TailOps metric is prefixed and explained.
func TestExpositionIsValid(t *testing.T) {
	m := newMetrics(t, metrics.Options{Version: "1", Commit: "c"})
	m.ToolCall("health_check", metrics.DecisionAllowed, metrics.ResultSuccess, time.Millisecond)
	m.AuditWrite(time.Millisecond, nil)
	m.ApprovalWait(metrics.ApprovalDenied, time.Second)
	m.SetSessionsOpen(func() int { return 1 })
	m.SetAuditHealthy(func() bool { return true })
	m.SetSandbox(metrics.Sandbox{Mode: "enforce", LandlockABI: 7, Landlock: true, Seccomp: true})
	body := get(t, m.Handler(), "")
	problems, err := promlint.New(bytes.NewReader(body)).Lint()
	if err != nil {
		t.Fatalf("linting: %v", err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "tailops_") {
			t.Errorf("promlint: %s: %s", p.Metric, p.Text)
		}
	}
	fams := scrape(t, m.Handler())
	want := []string{"tailops_tool_calls_total", "tailops_tool_call_duration_seconds", "tailops_audit_write_duration_seconds",
		"tailops_audit_write_failures_total", "tailops_audit_log_healthy", "tailops_approval_wait_seconds", "tailops_sessions_open",
		"tailops_sandbox_info", "tailops_sandbox_landlock_abi", "tailops_sandbox_rules_skipped", "tailops_build_info",
		"go_goroutines", "go_gc_duration_seconds", "process_resident_memory_bytes", "process_open_fds",
		"promhttp_metric_handler_requests_total"}
	for _, name := range want {
		if fams[name] == nil {
			t.Errorf("%s is missing", name)
		}
	}
	for name, f := range fams {
		if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") || strings.HasPrefix(name, "promhttp_") {
			continue
		}
		if !strings.HasPrefix(name, "tailops_") {
			t.Errorf("%s: not prefixed tailops_", name)
		}
		if len(f.GetHelp()) < 20 {
			t.Errorf("%s: HELP %q says too little", name, f.GetHelp())
		}
	}
}

// TestNoRuntime: the runtime and process collectors can be left out.
func TestNoRuntime(t *testing.T) {
	fams := scrape(t, newMetrics(t, metrics.Options{NoRuntime: true}).Handler())
	for name := range fams {
		if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") {
			t.Errorf("%s exported with NoRuntime", name)
		}
	}
	if fams["tailops_build_info"] == nil {
		t.Error("tailops_build_info missing with NoRuntime")
	}
}

// TestContentNegotiation: the text format by default, OpenMetrics and
// protobuf when the scraper asks, each decodable to the same metrics.
func TestContentNegotiation(t *testing.T) {
	m := newMetrics(t, metrics.Options{NoRuntime: true})
	m.ToolCall("health_check", metrics.DecisionAllowed, metrics.ResultSuccess, time.Millisecond)
	tests := []struct {
		name, accept, wantType string
	}{
		{"no Accept header", "", "text/plain; version=0.0.4"},
		{"Prometheus' text-only Accept", "text/plain;version=0.0.4;q=1,*/*;q=0.1", "text/plain; version=0.0.4"},
		{"OpenMetrics", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5", "application/openmetrics-text; version=1.0.0"},
		{"protobuf", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited", "application/vnd.google.protobuf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, metrics.Path, nil)
			if tt.accept != "" {
				req.Header.Set("Accept", tt.accept)
			}
			rec := httptest.NewRecorder()
			m.Handler().ServeHTTP(rec, req)
			ct := rec.Header().Get("Content-Type")
			if rec.Code != http.StatusOK || !strings.HasPrefix(ct, tt.wantType) {
				t.Fatalf("%d, Content-Type %q; want 200, %q", rec.Code, ct, tt.wantType)
			}
			if strings.HasPrefix(ct, "application/openmetrics-text") {
				if !strings.HasSuffix(rec.Body.String(), "# EOF\n") {
					t.Errorf("OpenMetrics without # EOF:\n%s", rec.Body)
				}
				if !strings.Contains(rec.Body.String(), `tailops_tool_calls_total{decision="allowed",result="success",tool="health_check"} 1.0`) {
					t.Errorf("OpenMetrics without the call:\n%s", rec.Body)
				}
				return
			}
			dec := expfmt.NewDecoder(rec.Body, expfmt.Format(ct))
			found := false
			for {
				var f dto.MetricFamily
				if err := dec.Decode(&f); err == io.EOF {
					break
				} else if err != nil {
					t.Fatalf("decoding %s: %v", ct, err)
				}
				if f.GetName() == "tailops_tool_calls_total" {
					found = value(map[string]*dto.MetricFamily{f.GetName(): &f}, f.GetName(), call("health_check", "allowed", "success")).value == 1
				}
			}
			if !found {
				t.Errorf("the call is not in the %s answer", ct)
			}
		})
	}
}

// TestNilMetricsIsANoOp: a server without metrics passes a nil *Metrics,
// and nothing panics.
func TestNilMetricsIsANoOp(t *testing.T) {
	var m *metrics.Metrics
	m.ToolCall("health_check", metrics.DecisionAllowed, metrics.ResultSuccess, time.Millisecond)
	m.AuditWrite(time.Millisecond, nil)
	m.ApprovalWait(metrics.ApprovalApproved, time.Second)
	m.SetSessionsOpen(func() int { return 1 })
	m.SetAuditHealthy(func() bool { return true })
	m.SetSandbox(metrics.Sandbox{Mode: "enforce"})
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, metrics.Path, nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("a nil Metrics' handler answered %d, want 404", rec.Code)
	}
}
