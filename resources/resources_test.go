// SPDX-License-Identifier: Apache-2.0

package resources

import (
	"testing"
)

// TestViewsAreValid: every view validates and URIs are distinct.
func TestViewsAreValid(t *testing.T) {
	seen := map[string]bool{}
	for _, v := range All() {
		if err := v.Validate(); err != nil {
			t.Error(err)
		}
		if seen[v.URI] {
			t.Errorf("%s declared twice", v.URI)
		}
		seen[v.URI] = true
	}
}
