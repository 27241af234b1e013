// SPDX-License-Identifier: Apache-2.0

package main

import "github.com/tailops/tailops/sandbox"

// environ is what TailOps takes from its environment besides the TAILOPS_*
// twins of its flags: variables other software defined, which TailOps
// honours as that software does. They are read once, in config
// resolution (readEnviron), and handed on through the toolsets' and the
// sandbox's Configs; no other package reads the environment.
type environ struct {
	// host is HOST_PROC, HOST_SYS and HOST_ETC, as gopsutil reads them:
	// where a container finds the host's /proc, /sys and /etc.
	host sandbox.HostPaths
}

// readEnviron reads the environment through getenv (os.Getenv).
func readEnviron(getenv func(string) string) environ {
	return environ{
		host: sandbox.HostPaths{Proc: getenv("HOST_PROC"), Sys: getenv("HOST_SYS"), Etc: getenv("HOST_ETC")},
	}
}
