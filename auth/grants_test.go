// SPDX-License-Identifier: Apache-2.0

package auth

import (
	"slices"
	"strings"
	"testing"
)

func TestScopesFromGrants(t *testing.T) {
	tests := []struct {
		name     string
		values   []string
		want     []Scope
		rejected []string // substrings of the reasons, in order
	}{
		{name: "none", values: nil, want: nil},
		{name: "one rule", values: []string{`{"scopes":["readonly","container:write"]}`},
			want: []Scope{ScopeContainerWrite, ScopeReadonly}},
		{name: "rules merge as a union", values: []string{`{"scopes":["readonly"]}`, `{"scopes":["container:write","readonly"]}`},
			want: []Scope{ScopeContainerWrite, ScopeReadonly}},
		{name: "an unknown scope drops the whole rule", values: []string{`{"scopes":["readonly"]}`, `{"scopes":["admin","root"]}`},
			want: []Scope{ScopeReadonly}, rejected: []string{`unknown scope "root"`}},
		{name: "an unknown key drops the rule", values: []string{`{"scope":["admin"]}`},
			want: nil, rejected: []string{`unknown field "scope"`}},
		{name: "extra keys beside scopes drop the rule", values: []string{`{"scopes":["admin"],"when":"always"}`},
			want: nil, rejected: []string{`unknown field "when"`}},
		{name: "not an object", values: []string{`["admin"]`, `"admin"`, `null`, ``},
			want: nil, rejected: []string{"not a JSON object", "not a JSON object", "not a JSON object", "not a JSON object"}},
		{name: "no scopes", values: []string{`{}`, `{"scopes":[]}`, `{"scopes":null}`},
			want: nil, rejected: []string{`no "scopes"`, `empty "scopes"`, `no "scopes"`}},
		{name: "wrong types", values: []string{`{"scopes":"admin"}`, `{"scopes":[1]}`},
			want: nil, rejected: []string{"parsing rule", "parsing rule"}},
		{name: "empty scope name", values: []string{`{"scopes":["readonly",""]}`},
			want: nil, rejected: []string{"empty scope name"}},
		{name: "trailing garbage", values: []string{`{"scopes":["admin"]} {"scopes":["admin"]}`, `{"scopes":["admin"]}}`},
			want: nil, rejected: []string{"after the JSON object", "after the JSON object"}},
		{name: "a key twice", values: []string{`{"scopes":["readonly"],"scopes":["admin"]}`},
			want: nil, rejected: []string{`key "scopes" given twice`}},
		{name: "a key in another case", values: []string{`{"SCOPES":["admin"]}`, `{"Scopes":["admin"]}`},
			want: nil, rejected: []string{`unknown key "SCOPES"`, `unknown key "Scopes"`}},
		{name: "an escaped key or scope", values: []string{`{"\u0073copes":["admin"]}`, `{"scopes":["\u0061dmin"]}`},
			want: nil, rejected: []string{"an escape", "an escape"}},
		{name: "other white space around the rule", values: []string{"\u00a0{\"scopes\":[\"admin\"]}", " \t{\"scopes\":[\"readonly\"]}\n"},
			want: []Scope{ScopeReadonly}, rejected: []string{"not a JSON object"}},
		{name: "other white space after the rule", values: []string{"{\"scopes\":[\"admin\"]}\u00a0"},
			want: nil, rejected: []string{"after the JSON object"}},
		{name: "the non-grantable authenticated pseudo-scope", values: []string{`{"scopes":["authenticated"]}`},
			want: nil, rejected: []string{"unknown scope"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rejected := ScopesFromGrants(tt.values)
			if !slices.Equal(got, tt.want) {
				t.Errorf("scopes = %v, want %v", got, tt.want)
			}
			if len(rejected) != len(tt.rejected) {
				t.Fatalf("rejected = %+v, want %d", rejected, len(tt.rejected))
			}
			for i, r := range rejected {
				if !strings.Contains(r.Reason, tt.rejected[i]) {
					t.Errorf("rejected[%d] = %q, want it to contain %q", i, r.Reason, tt.rejected[i])
				}
			}
		})
	}
}
