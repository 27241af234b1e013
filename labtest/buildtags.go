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
// uses (tailscale.tags at the module's root, found from the working
// directory upward), joined with commas for go build -tags.
func TailscaleTags() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding tailscale.tags: %w", err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "tailscale.tags"))
		if err == nil {
			return parseTailscaleTags(b)
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("reading tailscale.tags: %w", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return "", fmt.Errorf("the module at %s has no tailscale.tags", dir)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no tailscale.tags in the working directory or above")
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
	var have []string
	for _, s := range settings {
		if s.Key == "-tags" {
			have = strings.Split(s.Value, ",")
		}
	}
	var missing []string
	for _, t := range strings.Split(want, ",") {
		if !slices.Contains(have, t) {
			missing = append(missing, t)
		}
	}
	return missing, nil
}

// CheckTailscaleTags fails unless the running binary (a test binary
// too) and each binary in bins were built with every tag of
// TailscaleTags: what is tested is what ships.
func CheckTailscaleTags(bins ...string) error {
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
