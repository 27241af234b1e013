// SPDX-License-Identifier: Apache-2.0

//go:build !tailops_testtools

package tools

// testTools is empty outside test builds: see probe_testtools.go.
func testTools(d *Deps) []Spec { return nil }
