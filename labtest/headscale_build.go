// SPDX-License-Identifier: Apache-2.0

package labtest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
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

// headscaleEnv is the environment of the go commands that fetch and
// build Headscale: its own module in module mode, its go.sum checked.
func headscaleEnv(extra ...string) []string {
	return append(append(os.Environ(), "GOFLAGS=-mod=readonly -buildvcs=false", "GOWORK=off", "GO111MODULE=on", "CGO_ENABLED=0"), extra...)
}

// FetchHeadscale downloads Headscale's module at HeadscaleVersion and the
// modules its build needs into the module cache, unless its binary is
// cached already. Call it in TestMain before ReexecInLoopbackNetNS:
// inside the namespace nothing can be downloaded, and HeadscaleBinary
// builds from the module cache alone. Inside the namespace (the process
// ReexecInLoopbackNetNS started) it does nothing.
func FetchHeadscale() error {
	if _, ok := cachedHeadscale(); ok || os.Getenv(netnsEnv) == "1" {
		return nil
	}
	dir, err := headscaleSource("")
	if err != nil {
		return err
	}
	// Loading the command's packages fetches the modules that provide
	// them, and only those.
	list := exec.Command("go", "list", "-deps", "./cmd/headscale")
	list.Dir, list.Env = dir, headscaleEnv()
	if out, err := list.CombinedOutput(); err != nil {
		return fmt.Errorf("fetching headscale's dependencies (go list -deps ./cmd/headscale in %s): %v\n%s", dir, err, out)
	}
	return nil
}

// headscaleSource returns the directory of Headscale's module in the
// module cache, downloading it unless goproxy says otherwise. Not `go
// install MODULE/cmd/headscale@VERSION`: that also reads the module's
// version list (for deprecations), which the module proxy here refuses.
func headscaleSource(goproxy string) (string, error) {
	var extra []string
	if goproxy != "" {
		extra = append(extra, "GOPROXY="+goproxy)
	}
	dl := exec.Command("go", "mod", "download", "-json", headscaleModule+"@"+HeadscaleVersion)
	dl.Dir, dl.Env = os.TempDir(), headscaleEnv(extra...) // outside any module
	out, err := dl.Output()
	var mod struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &mod); err != nil || jerr != nil || mod.Dir == "" {
		return "", fmt.Errorf("downloading %s@%s: %v %s %s", headscaleModule, HeadscaleVersion, err, mod.Error, stderrOf(err))
	}
	return mod.Dir, nil
}

// HeadscaleBinary returns the path of a headscale binary built from
// HeadscaleVersion of its Go module, as its own main module with its own
// go.mod and go.sum (never this module's: Headscale pins other versions
// of tailscale.com and of much else). It is built once into the user
// cache directory (keyed by the version and the Go version) and reused:
// a cold build takes minutes of CPU. It builds from the module cache
// only, with the module proxy off, as inside the tests' network
// namespace it must: FetchHeadscale filled it.
func HeadscaleBinary(t testing.TB) string {
	t.Helper()
	headscaleBuild.once.Do(func() { headscaleBuild.path, headscaleBuild.err = buildHeadscale() })
	if headscaleBuild.err != nil {
		t.Fatal(headscaleBuild.err)
	}
	return headscaleBuild.path
}

// cachedHeadscale returns the cached binary's path and whether it is
// there.
func cachedHeadscale() (string, bool) {
	bin, err := cachedPath(headscaleName())
	if err != nil {
		return "", false
	}
	return bin, isExecutable(bin)
}

func headscaleName() string { return "headscale-" + HeadscaleVersion }

func buildHeadscale() (string, error) {
	return cachedBinary(headscaleName(), func(tmp string) error {
		dir, err := headscaleSource("off")
		if err != nil {
			return fmt.Errorf("%w (was labtest.FetchHeadscale called in TestMain, before the namespace?)", err)
		}
		build := exec.Command("go", "build", "-o", tmp, "./cmd/headscale")
		build.Dir, build.Env = dir, headscaleEnv("GOPROXY=off")
		if out, err := build.CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./cmd/headscale in %s (was labtest.FetchHeadscale called in TestMain, before the namespace?): %v\n%s", dir, err, out)
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
