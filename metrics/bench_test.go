// SPDX-License-Identifier: Apache-2.0

package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tailops/tailops/metrics"
)

// tools25 stands for the registry's 25 declared tools.
var tools25 = func() []string {
	var out []string
	for i := range 25 {
		out = append(out, "tool_"+string(rune('a'+i)))
	}
	return out
}()

// BenchmarkNew is what metrics cost the server's start-up, besides the
// packages' init (GODEBUG=inittrace=1; see the README's Metrics section).
func BenchmarkNew(b *testing.B) {
	for _, tc := range []struct {
		name      string
		noRuntime bool
	}{{"with-runtime-collectors", false}, {"no-runtime", true}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				metrics.New(metrics.Options{Tools: tools25, Version: "1", Commit: "c", NoRuntime: tc.noRuntime, Logger: quiet})
			}
		})
	}
}

// BenchmarkToolCall is what counting one call costs the call.
func BenchmarkToolCall(b *testing.B) {
	m := metrics.New(metrics.Options{Tools: tools25, Logger: quiet})
	b.ReportAllocs()
	for b.Loop() {
		m.ToolCall("tool_c", metrics.DecisionAllowed, metrics.ResultSuccess, time.Millisecond)
	}
}

// BenchmarkScrape is one scrape in the text format after a call of
// every tool.
func BenchmarkScrape(b *testing.B) {
	m := metrics.New(metrics.Options{Tools: tools25, Logger: quiet})
	for _, t := range tools25 {
		m.ToolCall(t, metrics.DecisionAllowed, metrics.ResultSuccess, time.Millisecond)
	}
	h := m.Handler()
	req := httptest.NewRequest(http.MethodGet, metrics.Path, nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
		b.SetBytes(int64(rec.Body.Len()))
	}
}
