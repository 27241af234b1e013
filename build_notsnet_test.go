// SPDX-License-Identifier: Apache-2.0

package main

import (
	"debug/buildinfo"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tailops/tailops/labtest"
)

// TestBuildWithoutTSNet builds TailOps with -tags tailops_notsnet (and
// tailscale.tags' tags, as every build), the build for hosts that run
// their own tailscaled: the Tailscale engine and gVisor's netstack are
// not in the binary, --tailnet tsnet is refused before anything starts
// with a message that says what to do, and the server serves as usual
// otherwise.
func TestBuildWithoutTSNet(t *testing.T) {
	tags, err := labtest.TailscaleTags()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "tailops-notsnet")
	if out, err := exec.Command("go", "build", "-tags", tags+",tailops_notsnet", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build -tags tailops_notsnet: %v\n%s", err, out)
	}
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range info.Deps {
		if m.Path == "gvisor.dev/gvisor" {
			t.Errorf("the notsnet build still links gVisor (%s)", m.Version)
		}
	}
	_, stderr, code := runCmd(t, bin, nil, "serve", "--tailnet", "tsnet", "--state-dir", t.TempDir())
	if code == 0 || !strings.Contains(stderr, "--tailnet: this build of TailOps has no tsnet mode") ||
		!strings.Contains(stderr, "use --tailnet local") {
		t.Errorf("--tailnet tsnet in the notsnet build: exit %d, %s", code, stderr)
	}
	p := runBinary(t, bin, "--sandbox", "enforce")
	if text, isErr := callText(t, sdkSession(t, p.URL, p.token(t, "readonly")), "health_check", nil); isErr {
		t.Errorf("health_check in the notsnet build: %s", text)
	}

	// The standard build has the mode: the same check must not refuse it.
	info, err = buildinfo.ReadFile(binPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(info.String(), "gvisor.dev/gvisor") {
		t.Errorf("the standard build has no gVisor: is tsnet still in it?")
	}
}
