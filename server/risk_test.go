// SPDX-License-Identifier: Apache-2.0

package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tools"
	"github.com/tailops/tailops/toolstest"
)

// lowerable is a toolset with one critical tool whose configuration
// lowers the risk of calls naming "calm" to high.
type lowerable struct{}

func (lowerable) Name() string { return "lowerable" }

type targetArgs struct {
	Target string `json:"target"`
}

func (lowerable) Tools() []tools.Spec {
	return []tools.Spec{tools.TypedSpec[targetArgs, targetArgs]{
		Name: "bounce", Title: "Bounce", Description: "bounces a target", Scope: auth.ScopeAdmin, Risk: tools.RiskCritical,
		Hints: tools.Hints{Destructive: true},
		RiskFor: func(args any) tools.Risk {
			m, _ := args.(map[string]any)
			switch m["target"] {
			case "calm":
				return tools.RiskHigh
			case "raise": // a RiskFor cannot raise, nor unset, the risk
				return tools.Risk(99)
			}
			return tools.RiskCritical
		},
		Run: func(_ context.Context, in targetArgs) (targetArgs, error) { return in, nil },
	}.Spec()}
}

// TestCallRiskLowersApprovalAndIsAudited: a critical tool's call that
// its RiskFor lowers to high runs without approval and its audit records
// say "high"; any other call still waits for approval (refused here, no
// gate) and is recorded as critical.
func TestCallRiskLowersApprovalAndIsAudited(t *testing.T) {
	t.Parallel()
	s := toolstest.New(t, []tools.Toolset{lowerable{}}, nil)
	c := s.Client(t)
	if got := toolstest.OK[targetArgs](t, c, "bounce", map[string]any{"target": "calm"}); got.Target != "calm" {
		t.Fatalf("bounce returned %q", got.Target)
	}
	for _, target := range []string{"wild", "raise"} {
		if msg := toolstest.Err(t, c, "bounce", map[string]any{"target": target}); !strings.Contains(msg, "approval required") {
			t.Errorf("bounce %s without a gate: %q, want approval required", target, msg)
		}
	}
	risks := map[string][]string{}
	for _, r := range s.Records(t) {
		if r["tool"] == "bounce" {
			args, _ := r["arguments"].(map[string]any)
			tg := fmt.Sprint(args["target"])
			risks[tg] = append(risks[tg], fmt.Sprintf("%v:%v:%v", r["event"], r["risk"], r["result"]))
		}
	}
	want := map[string]string{
		"calm":  "tool_call_started:high:<nil>|tool_call:high:success",
		"wild":  "tool_call:critical:denied",
		"raise": "tool_call:critical:denied",
	}
	for target, w := range want {
		if got := strings.Join(risks[target], "|"); got != w {
			t.Errorf("records of bounce %s: %s, want %s", target, got, w)
		}
	}
}
