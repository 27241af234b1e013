// SPDX-License-Identifier: Apache-2.0

package tools

import (
	"embed"
	"encoding/base64"

	"github.com/mark3labs/mcp-go/mcp"
)

// Icons (MCP 2025-11-25): one small SVG per toolset, icons/NAME.svg for
// the toolset named NAME, which every tool of the toolset carries (Specs);
// icons/tailops.svg is the server's, icons/prompts.svg the prompts'. A
// new domain adds its SVG here; a toolset without one gives its tools no
// icon, which TestIconsAreInline refuses.
//
//go:embed icons/*.svg
var icons embed.FS

// Icon returns the icon icons/NAME.svg (a toolset's name, "tailops" or
// "prompts"), and whether there is one.
func Icon(name string) (mcp.Icon, bool) {
	svg, err := icons.ReadFile("icons/" + name + ".svg")
	if err != nil {
		return mcp.Icon{}, false
	}
	return SVGIcon(svg), true
}

// SVGIcon returns svg as an MCP icon whose source is a data: URI: the
// image travels in the listing itself, and nothing asks a client to
// fetch anything from anywhere.
func SVGIcon(svg []byte) mcp.Icon {
	return mcp.Icon{Src: "data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString(svg), MIMEType: "image/svg+xml", Sizes: []string{"any"}}
}
