// SPDX-License-Identifier: Apache-2.0

//go:build !tailops_noinfer

package tools

import "github.com/mark3labs/mcp-go/mcp"

// inferersOf returns In's and Out's schema inference, for the schemas
// schemas.json.gz does not hold.
func inferersOf[In, Out any]() *inferers {
	return &inferers{in: mcp.WithInputSchema[In](), out: mcp.WithOutputSchema[Out]()}
}
