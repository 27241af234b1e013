// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tailops/tailops/tools/packages"
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

// TestNixModuleGrantsWhatPackageKitToolsNeed: the PackageKit rule the
// NixOS module writes (packages.manage) names exactly the polkit actions
// install_package and upgrade_packages use, as `tailops polkit-rule`
// does, so the module neither grants less (the tools fail) nor more (a
// removal or an untrusted install would pass).
func TestNixModuleGrantsWhatPackageKitToolsNeed(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("nix/module.nix")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	begin, end := strings.Index(s, "# packagekit-actions-begin"), strings.Index(s, "# packagekit-actions-end")
	if begin < 0 || end < begin {
		t.Fatal("nix/module.nix has no packagekit-actions-begin/end markers")
	}
	var nix []string
	for _, m := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(s[begin:end], -1) {
		nix = append(nix, m[1])
	}
	if !slices.Equal(nix, packages.PolkitActions) {
		t.Errorf("nix/module.nix grants\n%v\nthe package tools need\n%v", nix, packages.PolkitActions)
	}
	for _, want := range []string{"packageKitActions}].indexOf(action.id) >= 0", "lib.optional cfg.packages.manage packageKitRule", "services.packagekit.enable = lib.mkIf cfg.packages.manage true"} {
		if !strings.Contains(s, want) {
			t.Errorf("nix/module.nix does not contain %q", want)
		}
	}
}
