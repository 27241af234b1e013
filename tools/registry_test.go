// SPDX-License-Identifier: Apache-2.0

package tools_test

import (
	"context"
	"slices"
	"testing"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tools"
)

func TestValidateRejectsInconsistentSpecs(t *testing.T) {
	t.Parallel()
	yes, no := true, false
	good := plain{"health"}.Tools()[0]
	for _, tc := range []struct {
		name   string
		mutate func(*tools.Spec)
	}{
		{"no name", func(s *tools.Spec) { s.Tool.Name = "" }},
		{"unknown scope", func(s *tools.Spec) { s.Scope = "root" }},
		{"no risk", func(s *tools.Spec) { s.Risk = 0 }},
		{"unset hint", func(s *tools.Spec) { s.Tool.Annotations.OpenWorldHint = nil }},
		{"read-only and destructive", func(s *tools.Spec) { s.Tool.Annotations.DestructiveHint = &yes }},
		{"writing tool with low risk", func(s *tools.Spec) { s.Tool.Annotations.ReadOnlyHint = &no }},
		{"critical read-only", func(s *tools.Spec) { s.Risk = tools.RiskCritical }},
		{"no handler", func(s *tools.Spec) { s.Handler = nil }},
	} {
		s := good
		s.Tool.Annotations = good.Tool.Annotations // copy of pointers is fine: the mutations replace them
		tc.mutate(&s)
		if err := s.Validate(); err == nil {
			t.Errorf("%s: Validate accepted it", tc.name)
		}
	}
}

func TestSelect(t *testing.T) {
	t.Parallel()
	all := append(plain{"health"}.Tools(), plain{"read"}.Tools()...)
	all = append(all, tools.TypedSpec[tools.NoArgs, tools.NoArgs]{
		Name: "restart", Title: "Restart", Description: "Restarts nothing.", Scope: auth.ScopeContainerWrite, Risk: tools.RiskHigh,
		Hints: tools.Hints{Destructive: true},
		Run:   func(context.Context, tools.NoArgs) (tools.NoArgs, error) { return tools.NoArgs{}, nil },
	}.Spec(), tools.TypedSpec[tools.NoArgs, tools.NoArgs]{
		Name: "label", Title: "Label", Description: "Labels nothing.", Scope: auth.ScopeContainerWrite, Risk: tools.RiskHigh,
		Hints: tools.Hints{Destructive: false},
		Run:   func(context.Context, tools.NoArgs) (tools.NoArgs, error) { return tools.NoArgs{}, nil },
	}.Spec())
	for _, tc := range []struct {
		name    string
		sel     tools.Selection
		want    []string // nil: every tool
		wantErr bool
	}{
		{"enable list", tools.Selection{Enable: []string{"health_status", "read_status"}}, []string{"health_status", "read_status"}, false},
		{"disable list", tools.Selection{Enable: []string{"health_status", "read_status"}, Disable: []string{"read_status"}}, []string{"health_status"}, false},
		{"read-only", tools.Selection{ReadOnly: true}, []string{"health_status", "read_status"}, false},
		{"disable destructive keeps what only writes", tools.Selection{DisableDestructive: true}, []string{"health_status", "read_status", "label"}, false},
		{"read-only and disable destructive compose", tools.Selection{ReadOnly: true, DisableDestructive: true}, []string{"health_status", "read_status"}, false},
		{"enable list then disable destructive", tools.Selection{Enable: []string{"restart", "label"}, DisableDestructive: true}, []string{"label"}, false},
		{"nothing selected keeps every tool in order", tools.Selection{}, []string{"health_status", "read_status", "restart", "label"}, false},
		{"unknown name", tools.Selection{Disable: []string{"format_disk"}}, nil, true},
	} {
		got, err := tools.Select(all, tc.sel)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: err = %v", tc.name, err)
			continue
		}
		if tc.want != nil && !slices.Equal(tools.Names(got), tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, tools.Names(got), tc.want)
		}
	}
	ro, _ := tools.Select(all, tools.Selection{ReadOnly: true})
	for i := range ro {
		if !ro[i].ReadOnly() {
			t.Errorf("read-only selection kept %s", ro[i].Name())
		}
	}
}
