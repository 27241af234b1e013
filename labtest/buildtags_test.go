// SPDX-License-Identifier: Apache-2.0

package labtest

import (
	"runtime/debug"
	"slices"
	"strings"
	"testing"
)

// TestParseTailscaleTags: only whole ts_omit_ lines count; comments,
// blanks, indented or trailing text and other tags do not; an empty list
// is an error.
func TestParseTailscaleTags(t *testing.T) {
	for _, tc := range []struct {
		file, want string
	}{
		{"# comment\nts_omit_ssh\n\nts_omit_drive\n", "ts_omit_ssh,ts_omit_drive"},
		{"ts_omit_ssh # why\n ts_omit_tap\nnetgo\nts_omit_webclient", "ts_omit_webclient"},
		{"# ts_omit_ssh\n", ""},
		{"", ""},
	} {
		got, err := parseTailscaleTags([]byte(tc.file))
		if got != tc.want || (err != nil) != (tc.want == "") {
			t.Errorf("%q: %q, %v; want %q", tc.file, got, err, tc.want)
		}
	}
}

// TestMissingTailscaleTags reads the module's tailscale.tags and names
// exactly the tags a build's -tags setting lacks.
func TestMissingTailscaleTags(t *testing.T) {
	all, err := TailscaleTags()
	if err != nil {
		t.Fatal(err)
	}
	tags := strings.Split(all, ",")
	for _, tc := range []struct {
		name     string
		settings []debug.BuildSetting
		want     []string
	}{
		{"all, among others", []debug.BuildSetting{{Key: "-tags", Value: "netgo,osusergo," + all}}, nil},
		{"no -tags", nil, tags},
		{"others only", []debug.BuildSetting{{Key: "-tags", Value: "netgo,osusergo"}}, tags},
		{"one lacking", []debug.BuildSetting{{Key: "-tags", Value: strings.Join(tags[1:], ",")}}, tags[:1]},
	} {
		got, err := MissingTailscaleTags(tc.settings)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}

// TestMissingExperiments reads the Makefile's GO_EXPERIMENT and names
// exactly the experiments a build's GOEXPERIMENT setting lacks.
func TestMissingExperiments(t *testing.T) {
	want, err := GoExperiment()
	if err != nil {
		t.Fatal(err)
	}
	if want != "jsonv2" {
		t.Fatalf("GoExperiment() = %q; the Makefile names jsonv2", want)
	}
	for _, tc := range []struct {
		name     string
		settings []debug.BuildSetting
		want     []string
	}{
		{"it alone", []debug.BuildSetting{{Key: "GOEXPERIMENT", Value: "jsonv2"}}, nil},
		{"among others", []debug.BuildSetting{{Key: "GOEXPERIMENT", Value: "greenteagc,jsonv2"}}, nil},
		{"none", []debug.BuildSetting{{Key: "-tags", Value: "jsonv2"}}, []string{"jsonv2"}},
		{"another", []debug.BuildSetting{{Key: "GOEXPERIMENT", Value: "nojsonv2"}}, []string{"jsonv2"}},
	} {
		got, err := MissingExperiments(tc.settings)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}
