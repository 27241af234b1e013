// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tailops/tailops/tools/systemd"
)

// TestNixModuleProtectsWhatTheToolsProtect: the polkit rule the NixOS
// module writes refuses the same units as the tools and as `tailops
// polkit-rule` (the module cannot run the binary at evaluation time, so
// it keeps its own copy of the list, and this keeps the copy equal).
func TestNixModuleProtectsWhatTheToolsProtect(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("nix/module.nix")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	begin, end := strings.Index(s, "# protected-units-begin"), strings.Index(s, "# protected-units-end")
	if begin < 0 || end < begin {
		t.Fatal("nix/module.nix has no protected-units-begin/end markers")
	}
	var nix []string
	for _, m := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(s[begin:end], -1) {
		nix = append(nix, m[1])
	}
	var goList []string
	for _, p := range systemd.ProtectedUnits {
		goList = append(goList, string(p))
	}
	if !slices.Equal(nix, goList) {
		t.Errorf("nix/module.nix protects\n%v\nthe tools protect\n%v", nix, goList)
	}
}
