// SPDX-License-Identifier: Apache-2.0

// Package metrics exports what the server does in the Prometheus
// exposition formats: tool calls, denials and errors per tool, call
// latency, audit writes, approval waits and outcomes, open sessions, the
// kernel sandbox's state and the build, plus the Go runtime and process
// collectors. It uses its own registry, never the global default one.
//
// The server feeds it through a few typed calls (ToolCall, AuditWrite,
// ApprovalWait, SetSessionsOpen, SetAuditHealthy, SetSandbox) and serves
// Handler: on the main listener behind Guard (scope metrics:read), or
// alone on a listener of its own (ListenerHandler).
//
// Every label takes values from a fixed set: a tool name a caller sends
// that the server does not declare is counted as "unknown", so a caller
// cannot grow the number of series.
package metrics

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every TailOps metric name.
const namespace = "tailops"

// Unknown is the label value of a tool name the server does not declare,
// and of any other label value outside its fixed set.
const Unknown = "unknown"

// Decision is whether a tool call was allowed to run, as in its audit
// record.
type Decision string

// Decision values (the audit record's decision).
const (
	DecisionAllowed Decision = "allowed"
	DecisionDenied  Decision = "denied"
)

// Result is how a tool call ended, as in its audit record.
type Result string

// Result values (the audit record's result).
const (
	ResultSuccess Result = "success"
	ResultError   Result = "error"
	ResultDenied  Result = "denied"
)

// callKinds are the (decision, result) pairs a tool call can have; their
// series are created at zero for every declared tool.
var callKinds = []struct {
	d Decision
	r Result
}{{DecisionAllowed, ResultSuccess}, {DecisionAllowed, ResultError}, {DecisionDenied, ResultDenied}}

// Bucket boundaries, in seconds.
var (
	// callBuckets span a health check (well under a millisecond) to an
	// image pull or a call that waited for approval (minutes).
	callBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}
	// auditBuckets span one group-committed, fsync'd record on a fast
	// disk (0.1-0.3 ms) to a stalled one.
	auditBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5}
	// approvalBuckets span a webhook's answer to a person's (the default
	// wait is 60 s, a request lives 15 min).
	approvalBuckets = []float64{.1, .5, 1, 5, 10, 30, 60, 120, 300, 900}
)

// Options configures New. The zero value is ready for use: no tool names
// (every call is counted as "unknown"), version and commit "unknown", the
// runtime and process collectors on, errors to slog.Default().
type Options struct {
	// Tools are the values the tool label may take: every tool the
	// registry declares, enabled or not. Any other name is "unknown".
	Tools []string
	// Version and Commit label tailops_build_info; empty means "unknown".
	Version, Commit string
	// TestTags are the test-only build tags the binary was built with
	// (tailops_nocheck, tailops_testtools), the test_tags label of
	// tailops_build_info; empty in a production build.
	TestTags []string
	// NoRuntime leaves out the Go runtime (go_*) and process (process_*)
	// collectors.
	NoRuntime bool
	// Logger receives errors of collection and of writing a scrape's
	// answer; nil means slog.Default().
	Logger *slog.Logger
}

// Metrics holds the server's metrics. Its methods are safe for concurrent
// use, and a nil *Metrics ignores every call (a server without metrics).
type Metrics struct {
	reg       *prometheus.Registry
	log       *slog.Logger
	tools     map[string]bool
	noRuntime bool

	calls         *prometheus.CounterVec
	callSeconds   *prometheus.HistogramVec
	auditSeconds  prometheus.Histogram
	auditFailures prometheus.Counter
	approvalWait  *prometheus.HistogramVec

	sandboxInfo    *prometheus.GaugeVec
	sandboxABI     prometheus.Gauge
	sandboxSkipped prometheus.Gauge
	sandboxMu      sync.Mutex
	sandboxSet     bool // registered

	sessions, auditHealthy lateGauge

	handler http.Handler
}

// New returns the metrics of one server, registered in a registry of
// their own.
func New(o Options) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), log: o.Logger, tools: map[string]bool{}, noRuntime: o.NoRuntime}
	if m.log == nil {
		m.log = slog.Default()
	}
	for _, t := range o.Tools {
		m.tools[t] = true
	}
	m.calls = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "tool_calls_total",
		Help: `Tool calls by tool, decision (allowed, denied) and result (success, error, denied), as audited; tool="unknown" counts names the server does not declare.`},
		[]string{"tool", "decision", "result"})
	m.callSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "tool_call_duration_seconds",
		Help:    "Time from a tool call's arrival to its audited result, approval wait included, of calls that were allowed to run.",
		Buckets: callBuckets}, []string{"tool"})
	m.auditSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: "audit_write_duration_seconds",
		Help:    "Time to write one audit record durably (encoded, chained, fsync'd), of writes that succeeded.",
		Buckets: auditBuckets})
	m.auditFailures = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "audit_write_failures_total",
		Help: "Audit records that could not be written; the action each belonged to did not run or its result was withheld."})
	m.approvalWait = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "approval_wait_seconds",
		Help: "Time a tool call needing approval waited for it, by outcome (approved, denied, expired, pending: " +
			"the wait ended undecided, refused: no decision could be asked for, error); _count counts the outcomes.",
		Buckets: approvalBuckets}, []string{"outcome"})
	m.sandboxInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "sandbox_info",
		Help: "Always 1: the kernel sandbox's mode (enforce, best-effort, off) and whether Landlock and seccomp were applied."},
		[]string{"mode", "landlock", "seccomp"})
	m.sandboxABI = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "sandbox_landlock_abi",
		Help: "The kernel's Landlock ABI version (0: no Landlock)."})
	m.sandboxSkipped = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "sandbox_rules_skipped",
		Help: "Sandbox rules left out at start (best-effort mode on a kernel that lacks them, or paths gone); 0 when fully applied."})
	m.sessions.opts = prometheus.GaugeOpts{Namespace: namespace, Name: "sessions_open",
		Help: "MCP sessions open (streamable HTTP, protocol revisions before 2026-07-28)."}
	m.auditHealthy.opts = prometheus.GaugeOpts{Namespace: namespace, Name: "audit_log_healthy",
		Help: "1 when the audit log can be written; 0 when it cannot, and every tool call is refused (as /readyz says)."}
	build := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: "build_info",
		Help: `Always 1: the build's version, revision, Go version and test-only build tags (test_tags="" in a production build).`,
		ConstLabels: prometheus.Labels{"version": orUnknown(o.Version), "revision": orUnknown(o.Commit),
			"goversion": runtime.Version(), "test_tags": strings.Join(slices.Sorted(slices.Values(o.TestTags)), ",")}})
	build.Set(1)
	m.reg.MustRegister(m.calls, m.callSeconds, m.auditSeconds, m.auditFailures, m.approvalWait, build)
	for t := range m.tools {
		for _, k := range callKinds {
			m.calls.WithLabelValues(t, string(k.d), string(k.r))
		}
	}
	if !o.NoRuntime {
		// The process collector leaves out what it cannot read (see
		// ReadPaths) without failing the scrape.
		m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	m.handler = promhttp.InstrumentMetricHandler(m.reg, promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog: errorLog{m.log},
		// A collector that fails costs its own series, not the scrape.
		ErrorHandling:       promhttp.ContinueOnError,
		Registry:            m.reg, // promhttp_metric_handler_errors_total
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
		EnableOpenMetrics:   true,
	}))
	return m
}

// Handler serves the metrics in the Prometheus text format, or in
// OpenMetrics or protobuf when the scraper's Accept header asks for it.
// It checks nothing: mount it behind Guard, or use ListenerHandler.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return m.handler
}

// ToolCall counts one tool call and, when it was allowed to run, observes
// elapsed (arrival to audited result) in the latency histogram. A tool
// name the server does not declare is counted as "unknown".
func (m *Metrics) ToolCall(tool string, d Decision, r Result, elapsed time.Duration) {
	if m == nil {
		return
	}
	if !m.tools[tool] {
		tool = Unknown
	}
	m.calls.WithLabelValues(tool, oneOf(string(d), DecisionAllowed, DecisionDenied),
		oneOf(string(r), ResultSuccess, ResultError, ResultDenied)).Inc()
	if d == DecisionAllowed {
		m.callSeconds.WithLabelValues(tool).Observe(elapsed.Seconds())
	}
}

// AuditWrite records one audit write: its duration when err is nil, a
// failure otherwise. Its signature fits audit.Options.Observe.
func (m *Metrics) AuditWrite(elapsed time.Duration, err error) {
	if m == nil {
		return
	}
	if err != nil {
		m.auditFailures.Inc()
		return
	}
	m.auditSeconds.Observe(elapsed.Seconds())
}

// ApprovalWait observes how long a call waited at the approval gate and
// how that ended (see ApprovalOutcomeOf).
func (m *Metrics) ApprovalWait(o ApprovalOutcome, waited time.Duration) {
	if m == nil {
		return
	}
	m.approvalWait.WithLabelValues(oneOf(string(o), approvalOutcomes...)).Observe(waited.Seconds())
}

// SetSessionsOpen makes tailops_sessions_open report f() at each scrape;
// the series is absent until it is called (a stdio server has no
// sessions). A later call replaces f. f must be safe for concurrent use.
func (m *Metrics) SetSessionsOpen(f func() int) {
	if m == nil || f == nil {
		return
	}
	m.sessions.set(m.reg, func() float64 { return float64(f()) })
}

// SetAuditHealthy makes tailops_audit_log_healthy report whether f says
// the audit log can be written (1) or not (0: every call is refused) at
// each scrape; absent until it is called. A later call replaces f.
func (m *Metrics) SetAuditHealthy(f func() bool) {
	if m == nil || f == nil {
		return
	}
	m.auditHealthy.set(m.reg, func() float64 {
		if f() {
			return 1
		}
		return 0
	})
}

// lateGauge is a gauge read from a function the server hands over after
// New: absent from scrapes until then, read at every scrape after.
type lateGauge struct {
	opts prometheus.GaugeOpts
	once sync.Once
	f    atomic.Pointer[func() float64]
}

// set makes f the gauge's source, registering the gauge in reg the
// first time.
func (g *lateGauge) set(reg *prometheus.Registry, f func() float64) {
	g.f.Store(&f)
	g.once.Do(func() {
		reg.MustRegister(prometheus.NewGaugeFunc(g.opts, func() float64 { return (*g.f.Load())() }))
	})
}

// Sandbox is the kernel sandbox's state as applied at start.
type Sandbox struct {
	// Mode is the --sandbox mode: enforce, best-effort or off.
	Mode string
	// LandlockABI is the kernel's Landlock ABI (0: none).
	LandlockABI int
	// Landlock and Seccomp say whether each was applied.
	Landlock, Seccomp bool
	// Skipped is how many rules were left out.
	Skipped int
}

// SetSandbox records the sandbox's state; the tailops_sandbox_* series
// are absent until it is called. A later call replaces the state.
func (m *Metrics) SetSandbox(s Sandbox) {
	if m == nil {
		return
	}
	m.sandboxMu.Lock()
	defer m.sandboxMu.Unlock()
	if !m.sandboxSet {
		m.reg.MustRegister(m.sandboxInfo, m.sandboxABI, m.sandboxSkipped)
		m.sandboxSet = true
	}
	m.sandboxInfo.Reset() // one series: the current state
	m.sandboxInfo.WithLabelValues(orUnknown(s.Mode), strconv.FormatBool(s.Landlock), strconv.FormatBool(s.Seccomp)).Set(1)
	m.sandboxABI.Set(float64(s.LandlockABI))
	m.sandboxSkipped.Set(float64(s.Skipped))
}

// oneOf returns v when it is one of allowed, else Unknown.
func oneOf[T ~string](v string, allowed ...T) string {
	for _, a := range allowed {
		if string(a) == v {
			return v
		}
	}
	return Unknown
}

func orUnknown(s string) string {
	if s == "" {
		return Unknown
	}
	return s
}

// errorLog adapts slog to promhttp.Logger.
type errorLog struct{ log *slog.Logger }

func (l errorLog) Println(v ...any) {
	l.log.Error("serving metrics", slog.String("error", strings.TrimSpace(fmt.Sprintln(v...))))
}
