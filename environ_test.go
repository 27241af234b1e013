// SPDX-License-Identifier: Apache-2.0

package main

import (
	"testing"

	"github.com/tailops/tailops/sandbox"
	"github.com/tailops/tailops/tools/docker"
)

// TestReadEnviron: the variables other software defined are read as that
// software reads them (DOCKER_TLS_VERIFY set to anything but empty
// verifies, "0" included, as the Docker client has it), and reach the
// toolsets' Configs from there.
func TestReadEnviron(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"HOST_PROC": "/host/proc", "HOST_SYS": "/host/sys", "HOST_ETC": "/host/etc", "HOST_VAR": "/host/var", "HOST_RUN": "/host/run",
		"DOCKER_HOST": "tcp://docker.lan:2376", "DOCKER_CERT_PATH": "/certs", "DOCKER_TLS_VERIFY": "0", "DOCKER_API_VERSION": "1.41",
		"SSL_CERT_FILE": "/ca.pem", "SSL_CERT_DIR": "/a:/b", "ZONEINFO": "/zi",
		"DBUS_SYSTEM_BUS_ADDRESS": "unix:path=/host/run/dbus/system_bus_socket",
	}
	got := readEnviron(func(k string) string { return env[k] })
	want := environ{host: sandbox.HostPaths{Proc: "/host/proc", Sys: "/host/sys", Etc: "/host/etc", Var: "/host/var", Run: "/host/run"},
		dockerHost: "tcp://docker.lan:2376", dockerCertPath: "/certs", dockerTLSVerify: true, dockerAPIVersion: "1.41",
		sslCertFile: "/ca.pem", sslCertDir: "/a:/b", zoneInfo: "/zi", dbusSystemBus: "unix:path=/host/run/dbus/system_bus_socket"}
	if got != want {
		t.Errorf("readEnviron = %+v, want %+v", got, want)
	}
	if (readEnviron(func(string) string { return "" })).dockerTLSVerify {
		t.Error("DOCKER_TLS_VERIFY unset verifies")
	}
	c := &config{env: got}
	if dc := c.dockerConfig(nil); dc != (docker.Config{Host: "tcp://docker.lan:2376", CertPath: "/certs", TLSVerify: true, APIVersion: "1.41"}) {
		t.Errorf("docker.Config = %+v", dc)
	}
	if sc := c.systemdConfig(nil); sc.BusAddress != "unix:path=/host/run/dbus/system_bus_socket" {
		t.Errorf("systemd.Config = %+v", sc)
	}
}
