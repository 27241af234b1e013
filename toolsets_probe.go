// SPDX-License-Identifier: Apache-2.0

//go:build tailops_testtools

package main

import "github.com/tailops/tailops/tools/probe"

// addTestToolsets adds the test-only toolsets of this build: sandbox_probe.
func (l *toolsetList) addTestToolsets() { l.add(probe.New()) }
