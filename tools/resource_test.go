// SPDX-License-Identifier: Apache-2.0

package tools_test

import (
	"strings"
	"testing"

	"github.com/tailops/tailops/tools"
)

// TestResourceViewValidate: a view is refused, with the reason, when its
// URI is not absolute, it lacks a name, description or tool, it shows
// fields of a result it does not serve as JSON, it completes or is
// watched by something other than one of its variables.
func TestResourceViewValidate(t *testing.T) {
	t.Parallel()
	good := func() tools.ResourceView {
		return tools.ResourceView{URI: "tailops://things/{id}/state", Name: "thing-state", Description: "d", MIMEType: "application/json",
			Tool: "inspect_thing", Fields: []string{"id", "state"}, Complete: map[string]string{"id": "thing"}, Watch: "thing", Key: "id"}
	}
	if v := good(); v.Validate() != nil {
		t.Fatalf("a good view: %v", v.Validate())
	}
	for _, tc := range []struct {
		name   string
		mutate func(*tools.ResourceView)
		want   string // empty: valid
	}{
		{"relative URI", func(v *tools.ResourceView) { v.URI = "things/{id}" }, "must be absolute"},
		{"no name", func(v *tools.ResourceView) { v.Name = "" }, "no name"},
		{"no tool", func(v *tools.ResourceView) { v.Tool = "" }, "no tool"},
		{"fields of text", func(v *tools.ResourceView) { v.MIMEType = "text/plain" }, "only a JSON view"},
		{"text without fields", func(v *tools.ResourceView) { v.MIMEType, v.Fields = "text/plain", nil }, ""},
		{"completes no variable", func(v *tools.ResourceView) { v.Complete = map[string]string{"name": "thing"} }, "not one of its variables"},
		{"watched by no variable", func(v *tools.ResourceView) { v.Key = "name" }, "must both be set"},
		{"watched without a key", func(v *tools.ResourceView) { v.Key = "" }, "must both be set"},
		{"omits fields but links nothing", func(v *tools.ResourceView) { v.Omit = []string{"state"} }, "links nothing"},
		{"links, the content only in the text", func(v *tools.ResourceView) {
			v.Link = func(map[string]any) (map[string]string, bool) { return nil, false }
		}, ""},
	} {
		v := good()
		tc.mutate(&v)
		err := v.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}
