// SPDX-License-Identifier: Apache-2.0

package main

import (
	"testing"

	"github.com/tailops/tailops/prompts"
	"github.com/tailops/tailops/tools"
)

// TestPromptsUseDeclaredTools: every tool a prompt uses is a tool this
// build declares (a renamed tool would silently hide the prompt from
// everyone), and every completion kind its arguments take is offered by a
// toolset, through a declared tool.
func TestPromptsUseDeclaredTools(t *testing.T) {
	c := &config{env: environ{}}
	sets := c.toolsets(nil, nil, nil).sets
	declared := map[string]bool{}
	for _, n := range tools.Names(tools.Specs(sets)) {
		declared[n] = true
	}
	kinds := map[string]bool{}
	for _, cp := range tools.Completions(sets) {
		if !declared[cp.Tool] {
			t.Errorf("completion %s lists with %s, which no toolset declares", cp.Kind, cp.Tool)
		}
		kinds[cp.Kind] = true
	}
	for _, k := range []string{prompts.KindContainer, prompts.KindStack, prompts.KindUnit} {
		if !kinds[k] {
			t.Errorf("no toolset completes %s", k)
		}
	}
	for _, p := range prompts.All() {
		for _, u := range append(p.Uses, p.Optional...) {
			if !declared[u] {
				t.Errorf("prompt %s uses %s, which no toolset declares", p.Name(), u)
			}
		}
		for arg, k := range p.Complete {
			if !kinds[k] {
				t.Errorf("prompt %s completes %s with %s, which no toolset offers", p.Name(), arg, k)
			}
		}
	}
}
