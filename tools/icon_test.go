// SPDX-License-Identifier: Apache-2.0

package tools_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/tools"
)

// namedSet is a toolset of a name and its specs.
type namedSet struct {
	name  string
	specs []tools.Spec
}

func (n namedSet) Name() string        { return n.name }
func (n namedSet) Tools() []tools.Spec { return n.specs }

// TestSpecsCarryToolsetIcons: every tool of a toolset with an icon
// (under its name in iconSVGs) carries it, a toolset without one gives its tools
// none, and the toolset's own declarations are left as they were.
func TestSpecsCarryToolsetIcons(t *testing.T) {
	spec := func(name string) tools.Spec { return tools.Spec{Tool: mcp.Tool{Name: name}} }
	docker, _ := tools.Icon("docker")
	withIcon := namedSet{"docker", []tools.Spec{spec("a1"), spec("a2")}}
	got := tools.Specs([]tools.Toolset{withIcon, namedSet{"no-such-toolset", []tools.Spec{spec("b1")}}})
	for _, tc := range []struct {
		tool string
		want string // the icon's source; "" for none
	}{{"a1", docker.Src}, {"a2", docker.Src}, {"b1", ""}} {
		var s *tools.Spec
		for i := range got {
			if got[i].Name() == tc.tool {
				s = &got[i]
			}
		}
		switch {
		case s == nil:
			t.Errorf("%s: not listed", tc.tool)
		case tc.want == "" && len(s.Tool.Icons) != 0:
			t.Errorf("%s: icons %v, want none", tc.tool, s.Tool.Icons)
		case tc.want != "" && (len(s.Tool.Icons) != 1 || s.Tool.Icons[0].Src != tc.want):
			t.Errorf("%s: icons %v, want its toolset's", tc.tool, s.Tool.Icons)
		}
	}
	if len(withIcon.specs[0].Tool.Icons) != 0 {
		t.Error("Specs changed the toolset's own declarations")
	}
}

// TestIcon: an icon is a data: URI of type image/svg+xml holding the SVG
// itself, base64-encoded, scalable ("any"); a name without an icon has
// none.
func TestIcon(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{{"tailops", true}, {"prompts", true}, {"files", true}, {"nothing", false}, {"../icon", false}, {"", false}} {
		ic, ok := tools.Icon(tc.name)
		if ok != tc.ok {
			t.Errorf("Icon(%q): %v, want %v", tc.name, ok, tc.ok)
			continue
		}
		if !ok {
			continue
		}
		data, isData := strings.CutPrefix(ic.Src, "data:image/svg+xml;base64,")
		if !isData || ic.MIMEType != "image/svg+xml" || len(ic.Sizes) != 1 || ic.Sizes[0] != "any" {
			t.Errorf("Icon(%q) = %+v, want a base64 SVG data: URI, sizes any", tc.name, ic)
		}
		if b, err := base64.StdEncoding.DecodeString(data); err != nil || !strings.HasPrefix(string(b), "<svg ") {
			t.Errorf("Icon(%q) holds %q (%v), want an SVG", tc.name, b, err)
		}
	}
}
