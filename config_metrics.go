// SPDX-License-Identifier: Apache-2.0

package main

import (
	"flag"
	"fmt"
	"net"
	"strconv"
)

// bindMetrics registers --metrics-listen.
func bindMetrics(fs *flag.FlagSet, addr *string) {
	fs.StringVar(addr, "metrics-listen", "", "also serve GET /metrics, without authentication, on this host address (e.g. 127.0.0.1:9470); off by default")
}

// resolveMetrics fills --metrics-listen from the config file when the
// flag and environment left it unset, and checks it is host:port.
func (c *config) resolveMetrics() error {
	src := "--metrics-listen"
	if !c.set["metrics-listen"] && c.file.MetricsListen != "" {
		c.MetricsListen = c.file.MetricsListen
		src = fmt.Sprintf("config file %s: key %q", c.ConfigFile, "metrics_listen")
	}
	if c.MetricsListen == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(c.MetricsListen)
	if err != nil {
		return fmt.Errorf("%s %q: want host:port, such as 127.0.0.1:9470: %w", src, c.MetricsListen, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("%s %q: the port must be a number from 0 (any free port) to 65535", src, c.MetricsListen)
	}
	return nil
}

// metricsExposure is the start-up warning for a --metrics-listen address
// that listens on every interface (no host, 0.0.0.0, ::), public ones
// included; "" for one naming a host.
func metricsExposure(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
		return ""
	}
	return fmt.Sprintf("--metrics-listen %s serves /metrics without authentication on every interface of this host, public ones "+
		"included: give it a loopback address (127.0.0.1:9470) or one only your monitoring can reach", addr)
}
