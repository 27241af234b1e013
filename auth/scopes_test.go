// SPDX-License-Identifier: Apache-2.0

package auth_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/tailops/tailops/auth"
)

func TestExpand(t *testing.T) {
	read := []auth.Scope{auth.ScopeSystemRead, auth.ScopeNetworkRead, auth.ScopeContainerRead, auth.ScopeFileRead}
	tests := []struct {
		name  string
		grant auth.Scope
		holds []auth.Scope
		lacks []auth.Scope
	}{
		{"admin holds everything", auth.ScopeAdmin, auth.Known(), nil},
		{"readonly holds the four read scopes", auth.ScopeReadonly, read,
			[]auth.Scope{auth.ScopeContainerWrite, auth.ScopeFileWrite, auth.ScopeNetworkDiag, auth.ScopeSystemAdmin, auth.ScopeAdmin}},
		{"container:admin holds write and read", auth.ScopeContainerAdmin,
			[]auth.Scope{auth.ScopeContainerWrite, auth.ScopeContainerRead}, []auth.Scope{auth.ScopeDockerAdmin}},
		{"container:write holds read", auth.ScopeContainerWrite,
			[]auth.Scope{auth.ScopeContainerRead}, []auth.Scope{auth.ScopeContainerAdmin}},
		{"file:write holds file:read", auth.ScopeFileWrite, []auth.Scope{auth.ScopeFileRead}, []auth.Scope{auth.ScopeSystemRead}},
		{"network:diag holds network:read", auth.ScopeNetworkDiag, []auth.Scope{auth.ScopeNetworkRead}, []auth.Scope{auth.ScopeSystemRead}},
		{"system:admin holds system:read", auth.ScopeSystemAdmin, []auth.Scope{auth.ScopeSystemRead}, []auth.Scope{auth.ScopeContainerRead}},
		{"docker:admin holds container:read", auth.ScopeDockerAdmin, []auth.Scope{auth.ScopeContainerRead}, []auth.Scope{auth.ScopeContainerWrite}},
		{"container:read holds only itself", auth.ScopeContainerRead, nil,
			[]auth.Scope{auth.ScopeContainerWrite, auth.ScopeFileRead, auth.ScopeReadonly}},
		{"security:write holds security:read", auth.ScopeSecurityWrite, []auth.Scope{auth.ScopeSecurityRead}, []auth.Scope{auth.ScopeSystemRead, auth.ScopeNetworkRead}},
		{"readonly lacks the firewall scopes", auth.ScopeReadonly, nil, []auth.Scope{auth.ScopeSecurityRead, auth.ScopeSecurityWrite}},
		{"readonly lacks security:scan", auth.ScopeReadonly, nil, []auth.Scope{auth.ScopeSecurityScan}},
		{"admin holds security:scan", auth.ScopeAdmin, []auth.Scope{auth.ScopeSecurityScan}, nil},
		{"security:scan holds only itself", auth.ScopeSecurityScan, nil,
			[]auth.Scope{auth.ScopeSecurityRead, auth.ScopeFileRead, auth.ScopeSystemRead, auth.ScopeReadonly}},
		{"security:write lacks security:scan", auth.ScopeSecurityWrite, nil, []auth.Scope{auth.ScopeSecurityScan}},
		{"admin holds metrics:read", auth.ScopeAdmin, []auth.Scope{auth.ScopeMetricsRead}, nil},
		{"metrics:read holds only itself", auth.ScopeMetricsRead, nil,
			[]auth.Scope{auth.ScopeReadonly, auth.ScopeSystemRead, auth.ScopeNetworkRead, auth.ScopeContainerRead, auth.ScopeFileRead, auth.ScopeApprovalsGrant}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := auth.Expand([]auth.Scope{tt.grant})
			for _, s := range append([]auth.Scope{tt.grant}, tt.holds...) {
				if !set.Allows(s) {
					t.Errorf("%s does not hold %s", tt.grant, s)
				}
			}
			for _, s := range tt.lacks {
				if set.Allows(s) {
					t.Errorf("%s holds %s", tt.grant, s)
				}
			}
		})
	}
}

func TestExpandReadonlyIsExactlyTheReadScopes(t *testing.T) {
	got := auth.Expand([]auth.Scope{auth.ScopeReadonly}).Sorted()
	want := []auth.Scope{auth.ScopeContainerRead, auth.ScopeFileRead, auth.ScopeNetworkRead, auth.ScopeReadonly, auth.ScopeSystemRead}
	if !slices.Equal(got, want) {
		t.Errorf("Expand(readonly) = %v, want %v", got, want)
	}
}

// TestOnlyAdminImpliesMetricsRead: a token for an assistant (readonly,
// any tool scope) cannot read /metrics; only admin and metrics:read can.
func TestOnlyAdminImpliesMetricsRead(t *testing.T) {
	for _, s := range auth.Known() {
		want := s == auth.ScopeAdmin || s == auth.ScopeMetricsRead
		if got := auth.Expand([]auth.Scope{s}).Allows(auth.ScopeMetricsRead); got != want {
			t.Errorf("%s holds metrics:read: %v, want %v", s, got, want)
		}
	}
}

func TestExpandIgnoresUnknown(t *testing.T) {
	if set := auth.Expand([]auth.Scope{"root", "admin:all"}); len(set) != 0 {
		t.Errorf("Expand of unknown scopes = %v, want empty", set.Sorted())
	}
}

func TestParseScopes(t *testing.T) {
	got, err := auth.ParseScopes("container:read, file:write readonly,container:read metrics:read")
	if err != nil {
		t.Fatalf("ParseScopes: %v", err)
	}
	want := []auth.Scope{auth.ScopeContainerRead, auth.ScopeFileWrite, auth.ScopeReadonly, auth.ScopeMetricsRead}
	if !slices.Equal(got, want) {
		t.Errorf("ParseScopes = %v, want %v", got, want)
	}

	_, err = auth.ParseScopes("container:read,monitor,deploy")
	if err == nil {
		t.Fatal("ParseScopes accepted unknown scopes")
	}
	for _, name := range []string{`"monitor"`, `"deploy"`} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
}

func TestAuthenticatedIsAllowedToAnyCaller(t *testing.T) {
	c := &auth.Caller{Agent: "a"}
	if !c.Allows(auth.ScopeAuthenticated) {
		t.Error("a caller without scopes may not call an authenticated tool")
	}
	if c.Allows(auth.ScopeSystemRead) {
		t.Error("a caller without scopes holds system:read")
	}
	var none *auth.Caller
	if none.Allows(auth.ScopeAuthenticated) {
		t.Error("a nil caller is allowed")
	}
}

// TestCallerAllowsIsExpand holds Caller.Allows, which checks against each
// scope's closure, to the set Expand builds: for every pair of held
// scopes (with an unknown one and none among them) and every scope asked.
func TestCallerAllowsIsExpand(t *testing.T) {
	held := append(auth.Known(), "", "monitor", auth.ScopeAuthenticated)
	asked := append(auth.Known(), "monitor", auth.ScopeAuthenticated)
	for _, a := range held {
		for _, b := range held {
			scopes := []auth.Scope{a, b}
			want := auth.Expand(scopes)
			for _, req := range asked {
				if got := (&auth.Caller{Agent: "x", Scopes: scopes}).Allows(req); got != want.Allows(req) {
					t.Errorf("scopes %q: Allows(%q) = %v, Expand says %v", scopes, req, got, want.Allows(req))
				}
			}
		}
	}
}
