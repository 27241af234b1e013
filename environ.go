// SPDX-License-Identifier: Apache-2.0

package main

import "github.com/tailops/tailops/sandbox"

// environ is what TailOps takes from its environment besides the TAILOPS_*
// twins of its flags: variables other software defined, which TailOps
// honours as that software does. They are read once, in config
// resolution (readEnviron), and handed on through the toolsets' and the
// sandbox's Configs; no other package reads the environment.
type environ struct {
	// host is HOST_PROC, HOST_SYS, HOST_ETC, HOST_VAR and HOST_RUN, as
	// gopsutil reads them: where a container finds the host's /proc, /sys,
	// /etc, /var and /run.
	host sandbox.HostPaths
	// dockerHost, dockerCertPath, dockerTLSVerify and dockerAPIVersion are
	// DOCKER_HOST, DOCKER_CERT_PATH, DOCKER_TLS_VERIFY (set to anything
	// but empty) and DOCKER_API_VERSION, as the Docker client's FromEnv
	// reads them: where the engine is and how to reach it.
	dockerHost, dockerCertPath string
	dockerTLSVerify            bool
	dockerAPIVersion           string
	// sslCertFile, sslCertDir and zoneInfo are SSL_CERT_FILE, SSL_CERT_DIR
	// and ZONEINFO, where Go's crypto/x509 and time packages look besides
	// the usual places: the sandbox lets the process read them.
	sslCertFile, sslCertDir, zoneInfo string
	// dbusSystemBus is DBUS_SYSTEM_BUS_ADDRESS, where sd-bus and libdbus
	// find the system bus (the systemd tools; empty: the usual socket).
	dbusSystemBus string
}

// readEnviron reads the environment through getenv (os.Getenv).
func readEnviron(getenv func(string) string) environ {
	return environ{
		host: sandbox.HostPaths{Proc: getenv("HOST_PROC"), Sys: getenv("HOST_SYS"), Etc: getenv("HOST_ETC"),
			Var: getenv("HOST_VAR"), Run: getenv("HOST_RUN")},
		dockerHost:       getenv("DOCKER_HOST"),
		dockerCertPath:   getenv("DOCKER_CERT_PATH"),
		dockerTLSVerify:  getenv("DOCKER_TLS_VERIFY") != "",
		dockerAPIVersion: getenv("DOCKER_API_VERSION"),
		sslCertFile:      getenv("SSL_CERT_FILE"),
		sslCertDir:       getenv("SSL_CERT_DIR"),
		zoneInfo:         getenv("ZONEINFO"),
		dbusSystemBus:    getenv("DBUS_SYSTEM_BUS_ADDRESS"),
	}
}
