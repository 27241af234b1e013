// SPDX-License-Identifier: Apache-2.0

//go:build tailops_tailscaled_deps

// This file is never built (no build sets its tag). It keeps in go.mod
// every module tailscaled needs, which labtest's `go build
// tailscale.com/cmd/tailscaled` (tailnet_tailscaled.go) builds from
// within this module: tailscale.com/tstest/integration lists them
// (tailscaled_deps_test_*.go), and `go mod tidy` and `go mod vendor`
// read files of every build tag. labtest itself must not import that
// package (tailnet_derp.go says why).

package labtest

import _ "tailscale.com/tstest/integration"
