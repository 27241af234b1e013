// SPDX-License-Identifier: Apache-2.0

//go:build tailops_noinfer

package tools

// inferersOf returns nil: the release build (tailops_noinfer) takes every
// tool's schemas from schemas.json.gz and links no inference for them,
// which the appliance image's size budget has no room for.
func inferersOf[In, Out any]() *inferers { return nil }
