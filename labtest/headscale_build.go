// SPDX-License-Identifier: Apache-2.0

package labtest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// HeadscaleVersion is the Headscale release the tests run. v0.29 is the
// first with grants that carry app capabilities (what TailOps reads);
// v0.29.3 is the newest the module proxy serves, its go directive
// (1.26.5) suits the toolchain, and it refuses only clients older than
// its floor (Tailscale v1.80), not newer ones such as the tailscale.com
// in go.mod (v1.102.5, capability version 142; it was built against
// v1.101.0-pre).
const HeadscaleVersion = "v0.29.3"

// headscaleModule is Headscale's Go module.
const headscaleModule = "github.com/juanfont/headscale"

// headscaleBuild builds Headscale once per test binary.
var headscaleBuild struct {
	once sync.Once
	path string
	err  error
}

// HeadscaleBinary returns the path of a headscale binary built from
// HeadscaleVersion of its Go module, with that module's own go.mod
// (never this module's: Headscale pins other versions of tailscale.com
// and of much else). It is built once into the user cache directory
// (keyed by the version and the Go version) and reused: a cold build
// takes minutes on two cores.
func HeadscaleBinary(t testing.TB) string {
	t.Helper()
	headscaleBuild.once.Do(func() { headscaleBuild.path, headscaleBuild.err = buildHeadscale() })
	if headscaleBuild.err != nil {
		t.Fatal(headscaleBuild.err)
	}
	return headscaleBuild.path
}

func buildHeadscale() (string, error) {
	return cachedBinary("headscale-"+HeadscaleVersion, func(tmp string) error {
		work, err := os.MkdirTemp("", "headscale-build-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(work)
		// Not `go install MODULE/cmd/headscale@VERSION`: that also reads
		// the module's version list (for deprecations), which the module
		// proxy here refuses. Download the exact version, then build it
		// as its own main module, outside this one.
		env := append(os.Environ(), "GOFLAGS=-mod=mod -buildvcs=false", "GOWORK=off", "GO111MODULE=on", "CGO_ENABLED=0")
		dl := exec.Command("go", "mod", "download", "-json", headscaleModule+"@"+HeadscaleVersion)
		dl.Dir, dl.Env = work, env
		out, err := dl.Output()
		var mod struct{ Dir, Error string }
		if jerr := json.Unmarshal(out, &mod); err != nil || jerr != nil || mod.Dir == "" {
			return fmt.Errorf("downloading %s@%s: %v %s %s", headscaleModule, HeadscaleVersion, err, mod.Error, stderrOf(err))
		}
		// The module cache is read-only, and the build may add to go.sum.
		src := filepath.Join(work, "src")
		if err := os.CopyFS(src, os.DirFS(mod.Dir)); err != nil {
			return fmt.Errorf("copying its module: %w", err)
		}
		build := exec.Command("go", "build", "-o", tmp, "./cmd/headscale")
		build.Dir, build.Env = src, env
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./cmd/headscale in %s@%s: %v\n%s", headscaleModule, HeadscaleVersion, err, out)
		}
		return nil
	})
}

// stderrOf returns what a failed command wrote to its standard error.
func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
