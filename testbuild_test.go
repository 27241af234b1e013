// SPDX-License-Identifier: Apache-2.0

package main

import (
	"io"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"tailscale.com/feature/buildfeatures"

	"github.com/tailops/tailops/labtest"
)

// TestTestTagsIn: the test-only tags are found among the build's tags,
// and nothing else counts (tailops_notsnet is a real build).
func TestTestTagsIn(t *testing.T) {
	for _, tc := range []struct {
		tags string
		want []string
	}{
		{"", nil},
		{"netgo,osusergo", nil},
		{"tailops_notsnet", nil},
		{"tailops_testtools,tailops_nocheck", []string{"tailops_testtools", "tailops_nocheck"}},
		{"netgo,tailops_nocheck", []string{"tailops_nocheck"}},
	} {
		got := testTagsIn([]debug.BuildSetting{{Key: "-tags", Value: tc.tags}, {Key: "CGO_ENABLED", Value: "1"}})
		if !slices.Equal(got, tc.want) {
			t.Errorf("tags %q: %v, want %v", tc.tags, got, tc.want)
		}
	}
}

// TestTestOnlyBuildSaysSo: a binary built with the test-only tags says so
// in its log at start, on /readyz and in the server_start audit record; a
// real build says nothing of the kind.
func TestTestOnlyBuildSaysSo(t *testing.T) {
	for _, tc := range []struct {
		name, bin string
		loud      bool
	}{{"real", binPath, false}, {"test-only", probePath, true}} {
		t.Run(tc.name, func(t *testing.T) {
			p := runBinary(t, tc.bin, "--sandbox", "off")
			resp, err := http.Get(p.URL + "/readyz")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var start map[string]any
			for _, r := range auditEvents(t, p, "server_start") {
				start = r
			}
			p.waitLog("serving MCP") // the log so far has reached us
			const mark = "TEST-ONLY BUILD (tags tailops_testtools,tailops_nocheck)"
			for what, got := range map[string]string{"log": p.Stderr.String(), "/readyz": string(body), "server_start": strings.TrimSpace(start["reason"].(string))} {
				if strings.Contains(got, mark) != tc.loud {
					t.Errorf("%s of the %s build: %q; want the test-only mark: %v", what, tc.name, got, tc.loud)
				}
			}
		})
	}
}

// TestBuildsLeaveOutTailscaleFeatures: this test binary and the two
// binaries TestMain built have every tag of tailscale.tags and the
// Makefile's GOEXPERIMENT, as the release has (TestApplianceImage checks
// the release binary), so what is tested is what ships; and the tags
// reach Tailscale's code. Run without them (a plain `go test`), it fails
// and says how to run.
func TestBuildsLeaveOutTailscaleFeatures(t *testing.T) {
	if err := labtest.CheckBuild(binPath, probePath); err != nil {
		t.Fatal(err)
	}
	for name, built := range map[string]bool{
		"tap": buildfeatures.HasTap, "webclient": buildfeatures.HasWebClient, "drive": buildfeatures.HasDrive,
		"relayserver": buildfeatures.HasRelayServer, "advertiseroutes": buildfeatures.HasAdvertiseRoutes,
	} {
		if built {
			t.Errorf("tailscale.com/feature/buildfeatures says %s is built in despite ts_omit_%s", name, name)
		}
	}
}
