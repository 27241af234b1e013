// SPDX-License-Identifier: Apache-2.0

//go:build !tailops_testtools

package main

// addTestToolsets adds nothing: this build has no test-only toolsets.
func (l *toolsetList) addTestToolsets() {}
