// SPDX-License-Identifier: Apache-2.0

package sandbox_test

import (
	"testing"

	"github.com/tailops/tailops/internal/deprules"
)

// TestDeps: the sandbox links the kernel libraries it applies and nothing
// else outside the standard library: no TailOps package, no Docker client,
// no gopsutil, no MCP library, so it stays small enough to audit.
func TestDeps(t *testing.T) {
	deprules.Check(t,
		"github.com/landlock-lsm/go-landlock/",
		"github.com/seccomp/libseccomp-golang",
		"kernel.org/pub/linux/libs/security/libcap/psx",
		"golang.org/x/sys/",
	)
}
