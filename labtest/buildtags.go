// SPDX-License-Identifier: Apache-2.0

package labtest

import (
	"bufio"
	"bytes"
	"debug/buildinfo"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
)

// tailscaleTagLine is a line of tailscale.tags that is a tag; the other
// lines are comments (.ci/ts-tags.sh and nix/tailscale-tags.nix read the
// same lines).
var tailscaleTagLine = regexp.MustCompile(`^ts_omit_[a-z0-9_]+$`)

// TailscaleTags returns the Tailscale feature tags every TailOps build
// uses (tailscale.tags at the module's root), joined with commas for go
// build -tags.
func TailscaleTags() (string, error) {
	b, err := moduleFile("tailscale.tags")
	if err != nil {
		return "", err
	}
	return parseTailscaleTags(b)
}

// goExperimentLine is the Makefile's line that names every build's
// GOEXPERIMENT (.ci/goexperiment.sh reads the same line).
var goExperimentLine = regexp.MustCompile(`(?m)^GO_EXPERIMENT := ([a-z0-9,]+)$`)

// GoExperiment returns the GOEXPERIMENT every TailOps build uses: the
// Makefile's GO_EXPERIMENT.
func GoExperiment() (string, error) {
	b, err := moduleFile("Makefile")
	if err != nil {
		return "", err
	}
	m := goExperimentLine.FindSubmatch(b)
	if m == nil {
		return "", errors.New("the Makefile has no GO_EXPERIMENT line")
	}
	return string(m[1]), nil
}

// moduleFile reads the file name at the module's root, found from the
// working directory upward.
func moduleFile(name string) ([]byte, error) {
	dir, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("finding %s: %w", name, err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err == nil {
			return b, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return nil, fmt.Errorf("the module at %s has no %s", dir, name)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil, fmt.Errorf("no %s in the working directory or above", name)
		}
		dir = parent
	}
}

func parseTailscaleTags(b []byte) (string, error) {
	var tags []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if line := sc.Text(); tailscaleTagLine.MatchString(line) {
			tags = append(tags, line)
		}
	}
	if len(tags) == 0 {
		return "", errors.New("tailscale.tags lists no ts_omit_ tag")
	}
	return strings.Join(tags, ","), nil
}

// MissingTailscaleTags returns the tags of TailscaleTags that the build
// settings' -tags lack: none for a build made as TailOps is built.
func MissingTailscaleTags(settings []debug.BuildSetting) ([]string, error) {
	want, err := TailscaleTags()
	if err != nil {
		return nil, err
	}
	return missingIn(settings, "-tags", want), nil
}

// MissingExperiments returns the experiments of GoExperiment that the
// build settings' GOEXPERIMENT lacks: none for a build made as TailOps is
// built.
func MissingExperiments(settings []debug.BuildSetting) ([]string, error) {
	want, err := GoExperiment()
	if err != nil {
		return nil, err
	}
	return missingIn(settings, "GOEXPERIMENT", want), nil
}

// missingIn returns the items of want (comma-separated) that the build
// setting key (a comma-separated list too) lacks.
func missingIn(settings []debug.BuildSetting, key, want string) []string {
	var have []string
	for _, s := range settings {
		if s.Key == key {
			have = strings.Split(s.Value, ",")
		}
	}
	var missing []string
	for _, w := range strings.Split(want, ",") {
		if !slices.Contains(have, w) {
			missing = append(missing, w)
		}
	}
	return missing
}

// CheckBuild fails unless the running binary (a test binary too) and
// each binary in bins were built as every TailOps build is: with every
// tag of TailscaleTags and the experiments of GoExperiment. What is
// tested is what ships.
func CheckBuild(bins ...string) error {
	self, ok := debug.ReadBuildInfo()
	if !ok {
		return errors.New("this binary has no build information")
	}
	check := func(name string, settings []debug.BuildSetting) error {
		missing, err := MissingTailscaleTags(settings)
		if err != nil {
			return err
		}
		if len(missing) > 0 {
			return fmt.Errorf("%s was built without the Tailscale feature tags %s of tailscale.tags: "+
				"build and test as every TailOps build is, with -tags \"$(bash .ci/ts-tags.sh)\" (.ci/test.sh does)",
				name, strings.Join(missing, ","))
		}
		if missing, err = MissingExperiments(settings); err != nil {
			return err
		}
		if len(missing) > 0 {
			return fmt.Errorf("%s was built without GOEXPERIMENT %s (the Makefile's GO_EXPERIMENT): "+
				"build and test as every TailOps build is, with GOEXPERIMENT=\"$(bash .ci/goexperiment.sh)\" in the environment (.ci/test.sh does)",
				name, strings.Join(missing, ","))
		}
		return nil
	}
	if err := check("this test binary", self.Settings); err != nil {
		return err
	}
	for _, bin := range bins {
		info, err := buildinfo.ReadFile(bin)
		if err != nil {
			return fmt.Errorf("reading the build information of %s: %w", bin, err)
		}
		if err := check(bin, info.Settings); err != nil {
			return err
		}
	}
	return nil
}
