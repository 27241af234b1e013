// SPDX-License-Identifier: Apache-2.0

package tools_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tools"
	"github.com/tailops/tailops/toolstest"
)

// levelArgs has two IntOrString fields, one named by its Go name, beside
// a plain string.
type levelArgs struct {
	Level tools.IntOrString `json:"level,omitempty"`
	Other tools.IntOrString
	Name  string `json:"name,omitempty"`
}

// echoLevels is a toolset whose one tool returns its arguments as
// decoded.
type echoLevels struct{}

func (echoLevels) Name() string { return "levels" }
func (echoLevels) Tools() []tools.Spec {
	return []tools.Spec{tools.TypedSpec[levelArgs, levelArgs]{
		Name: "echo_levels", Title: "Echo levels", Description: "Returns its arguments as decoded.",
		Scope: auth.ScopeSystemRead, Risk: tools.RiskLow, Hints: tools.ReadHints,
		Run: func(_ context.Context, in levelArgs) (levelArgs, error) { return in, nil },
	}.Spec()}
}

// TestIntOrString: a field of type IntOrString is declared as integer or
// string (and only it: a plain string stays a string); through a real
// server a JSON integer reaches the tool as its decimal text and a string
// as given, and anything else is refused by the input check naming the
// argument.
func TestIntOrString(t *testing.T) {
	t.Parallel()
	spec := echoLevels{}.Tools()[0]
	var schema struct {
		Properties map[string]struct {
			Type any `json:"type"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(spec.Tool.RawInputSchema, &schema); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"level": "[integer string]", "Other": "[integer string]", "name": "string"} {
		if got := fmt.Sprint(schema.Properties[name].Type); got != want {
			t.Errorf("%s: type %s, want %s", name, got, want)
		}
	}

	c := toolstest.New(t, []tools.Toolset{echoLevels{}}, nil).Client(t)
	for _, tc := range []struct {
		level any
		want  tools.IntOrString
	}{
		{3, "3"}, {-1, "-1"}, {0, "0"}, {3.0, "3"}, {json.Number("4e0"), "4"}, {"3", "3"}, {"err", "err"}, {"", ""},
		{int64(1) << 40, "1099511627776"},
	} {
		got := toolstest.OK[levelArgs](t, c, "echo_levels", map[string]any{"level": tc.level, "Other": 7})
		if got.Level != tc.want || got.Other != "7" {
			t.Errorf("level %#v: decoded %q (other %q), want %q", tc.level, got.Level, got.Other, tc.want)
		}
	}
	for _, bad := range []any{2.5, true, []int{1}, map[string]any{}} {
		if got := toolstest.Err(t, c, "echo_levels", map[string]any{"level": bad}); !strings.Contains(got, `"level"`) ||
			!strings.Contains(got, "integer or string") {
			t.Errorf("level %#v: %q, want a refusal naming the argument", bad, got)
		}
	}
	if got := toolstest.Err(t, c, "echo_levels", map[string]any{"name": 3}); !strings.Contains(got, `"name"`) {
		t.Errorf("a number for a plain string: %q", got)
	}
}

// TestIntOrStringUnmarshal: decoding alone, as a tool whose input was
// not checked against its schema would see it.
func TestIntOrStringUnmarshal(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{`7`: "7", `-2`: "-2", `7.0`: "7", `"x"`: "x", `"7"`: "7", `null`: ""} {
		var v tools.IntOrString
		if err := json.Unmarshal([]byte(in), &v); err != nil || string(v) != want {
			t.Errorf("%s: %q, %v; want %q", in, v, err, want)
		}
	}
	for _, in := range []string{`7.5`, `true`, `[]`, `{}`, `1e300`} {
		var v tools.IntOrString
		if err := json.Unmarshal([]byte(in), &v); err == nil {
			t.Errorf("%s: decoded %q, want an error", in, v)
		}
	}
}
