// SPDX-License-Identifier: Apache-2.0

package main

import (
	"runtime/debug"
	"slices"
	"strings"
)

// testOnlyTags are the build tags that make a binary for tests only:
// tailops_nocheck compiles the file tools' own path checks out (to prove
// Landlock alone holds), tailops_testtools adds the sandbox_probe tool
// (which tries forbidden calls from a handler).
var testOnlyTags = []string{"tailops_nocheck", "tailops_testtools"}

// testBuild returns the test-only tags this binary was built with, read
// from the build information the Go linker embeds (the -tags setting);
// nil for every binary meant to run for real.
func testBuild() []string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return nil
	}
	return testTagsIn(bi.Settings)
}

// testTagsIn returns the test-only tags in a binary's build settings.
func testTagsIn(settings []debug.BuildSetting) []string {
	var out []string
	for _, s := range settings {
		if s.Key != "-tags" {
			continue
		}
		for _, t := range strings.Split(s.Value, ",") {
			if slices.Contains(testOnlyTags, t) && !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	return out
}

// testBuildWarning says what a test-only build is, for the log, /readyz
// and the server_start record; "" for a real build.
func testBuildWarning(tags []string) string {
	if len(tags) == 0 {
		return ""
	}
	return "TEST-ONLY BUILD (tags " + strings.Join(tags, ",") + "): " +
		"this binary weakens TailOps on purpose for tests (tailops_nocheck: the file tools' own path checks are compiled out; " +
		"tailops_testtools: a sandbox_probe tool tries forbidden calls); never run it for real"
}
