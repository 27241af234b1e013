// SPDX-License-Identifier: Apache-2.0

package tools

func systemTools(d *Deps) []Spec { return nil }
