// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tools"
)

// TestReadmeToolTableMatchesRegistry: the README's tool table (tool,
// scope, risk) is written by hand; it must list every tool the registry
// declares, once, with the declared scope and risk.
func TestReadmeToolTableMatchesRegistry(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(readme), "\n| tool | scope | risk | what |\n|---|---|---|---|\n")
	if !ok {
		t.Fatal("README.md has no tool table (| tool | scope | risk | what |)")
	}
	name := regexp.MustCompile("`([a-z_]+)`")
	type row struct{ scope, risk string }
	inReadme := map[string]row{}
	for line := range strings.Lines(table) {
		if !strings.HasPrefix(line, "| `") {
			break
		}
		cells := strings.Split(line, "|")
		if len(cells) < 5 {
			t.Fatalf("short table row %q", line)
		}
		for _, m := range name.FindAllStringSubmatch(cells[1], -1) {
			if _, dup := inReadme[m[1]]; dup {
				t.Errorf("%s is listed twice", m[1])
			}
			inReadme[m[1]] = row{strings.TrimSpace(cells[2]), strings.TrimSpace(cells[3])}
		}
	}
	for _, s := range allTools() {
		want := row{string(s.Scope), s.Risk.String()}
		if s.Scope == auth.ScopeAuthenticated {
			want.scope = "any token"
		}
		got, ok := inReadme[s.Name()]
		switch {
		case !ok:
			t.Errorf("%s is not in the README's tool table", s.Name())
		case got != want:
			t.Errorf("%s: the README says scope %q, risk %q; the registry declares %q, %q", s.Name(), got.scope, got.risk, want.scope, want.risk)
		}
		delete(inReadme, s.Name())
	}
	for n := range inReadme {
		t.Errorf("the README's tool table lists %s, which the registry does not declare", n)
	}
	if t.Failed() {
		t.Logf("registry: %v", slices.Sorted(slices.Values(tools.Names(allTools()))))
	}
}
