// SPDX-License-Identifier: Apache-2.0

package tools

func fileTools(d *Deps) []Spec { return nil }
