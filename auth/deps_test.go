// SPDX-License-Identifier: Apache-2.0

package auth_test

import (
	"testing"

	"github.com/tailops/tailops/internal/deprules"
)

// TestDeps: token verification links its JWT and JOSE libraries and
// nothing heavy: no tool, tailnet, Docker or MCP code.
func TestDeps(t *testing.T) {
	deprules.Check(t, "github.com/golang-jwt/jwt/v5", "github.com/go-jose/go-jose/v4")
}
