// SPDX-License-Identifier: Apache-2.0

package redact_test

import (
	"testing"

	"github.com/tailops/tailops/internal/deprules"
)

// TestDeps: the redaction rules, which every error and audit record goes
// through, link the standard library alone.
func TestDeps(t *testing.T) {
	deprules.Check(t)
}
