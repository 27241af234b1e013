// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tailops/tailops/metrics"
	"github.com/tailops/tailops/sandbox"
	"github.com/tailops/tailops/tailnet"
	"github.com/tailops/tailops/tools"
)

// sandboxConfig turns the server's configuration into the sandbox's: what
// the server itself needs besides its tools' grants.
func sandboxConfig(c *config, ports []uint16) (sandbox.Config, error) {
	mode, err := sandbox.ParseMode(c.Sandbox)
	if err != nil {
		return sandbox.Config{}, fmt.Errorf("--sandbox: %w", err)
	}
	var tsSocket string // local mode talks to tailscaled's socket
	if c.tailnetMode == tailnet.ModeLocal {
		tsSocket = c.TailscaledSocket
	}
	// The approval webhook is reached whatever the tools.
	var connect []uint16
	if c.Approvals.Webhook != "" {
		u, err := c.Approvals.webhookURL()
		if err != nil {
			return sandbox.Config{}, err
		}
		port := u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
		}
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 {
			return sandbox.Config{}, fmt.Errorf("--approval-webhook: bad port %q", port)
		}
		connect = append(connect, uint16(n))
	}
	// The --jwks-url refreshes, after Apply.
	if p := c.jwksConnectPort(); p != 0 {
		connect = append(connect, p)
	}
	// What the server itself needs besides its tools: the tsnet engine's
	// netlink protocols. It keeps no capability of its own: it binds its
	// ports and opens its files before Apply.
	var netlink []sandbox.Need
	if c.tailnetMode == tailnet.ModeTSNet {
		for _, n := range tailnet.TSNetNetlink {
			netlink = append(netlink, sandbox.Need{Name: n, Why: "tailnet (tsnet): the engine's interface monitor"})
		}
	}
	return sandbox.Config{
		ConnectPorts: connect,
		Mode:         mode,
		StateDir:     c.StateDir,
		AuditDir:     filepath.Dir(c.AuditLog),
		ConfigFile:   c.ConfigFile,
		BindPorts:    ports,
		HostEtc:      c.env.host.Etc,
		SSLCertFile:  c.env.sslCertFile,
		SSLCertDir:   c.env.sslCertDir,
		ZoneInfo:     c.env.zoneInfo,
		// tsnet runs the Tailscale engine in this process.
		Tailnet:          c.tailnetMode == tailnet.ModeTSNet,
		TailscaledSocket: tsSocket,
		Netlink:          netlink,
	}, nil
}

// confine applies Landlock and seccomp for the enabled tools. It returns
// a warning for /readyz when the sandbox is off or partly applied, or a
// path the tools need is out of this user's reach.
func confine(c *config, enabled []tools.Spec, ports []uint16, log *slog.Logger) (warning string, state metrics.Sandbox, err error) {
	sc, err := sandboxConfig(c, ports)
	if err != nil {
		return "", state, err
	}
	state.Mode = string(sc.Mode)
	if sc.Mode == sandbox.ModeOff {
		log.Warn("KERNEL SANDBOX OFF (--sandbox off): no Landlock, no seccomp; a bug in TailOps' own checks is not contained. Do not run this way in production.")
		return "kernel sandbox is off (--sandbox off)", state, nil
	}
	p, err := sandbox.Compute(c.grants(enabled), sc)
	if err != nil {
		return "", state, err // it says "computing sandbox policy"
	}
	var warnings, unreachable []string
	for _, r := range p.Unreachable {
		log.Warn("sandbox: a path the tools need is not reachable by this user (permission denied); left out of the policy, "+
			"and the tools that need it will fail until its permissions change and TailOps restarts",
			slog.String("path", r.Path), slog.String("for", strings.Join(r.Why, "; ")))
		unreachable = append(unreachable, r.Path)
	}
	// /readyz answers without a token: counts and what to do, no paths
	// (they are in the log).
	if len(unreachable) > 0 {
		warnings = append(warnings, fmt.Sprintf("%d path(s) the tools need are not reachable by this user (permission denied), "+
			"so the tools that need them fail: fix the permissions and restart; the server log names them", len(unreachable)))
	}
	if w := configGrantWarning(c, p.ConfigFile, log); w != "" {
		warnings = append(warnings, w)
	}
	rep, err := sandbox.Apply(p)
	if err != nil {
		return "", state, fmt.Errorf("applying sandbox: %w", err)
	}
	state = metrics.Sandbox{Mode: string(rep.Mode), LandlockABI: rep.LandlockABI, Landlock: rep.Landlock, Seccomp: rep.Seccomp, Skipped: len(rep.Skipped)}
	warnings = append(appliedWarnings(rep, log), warnings...)
	return strings.Join(warnings, "; "), state, nil
}

// appliedWarnings logs what Apply reported, and returns /readyz's
// warnings about it: what best-effort mode skipped, and what it applied
// short of enforce's minimum (a Landlock ABI below 4 skips nothing, yet
// leaves TCP bind and connect open). What a kernel cannot enforce is
// logged at Info when enforce would accept the kernel too, else at Warn.
func appliedWarnings(rep *sandbox.Report, log *slog.Logger) []string {
	var warnings []string
	log.Info("sandbox applied", "report", rep.String())
	below := rep.BelowEnforce()
	level := slog.LevelInfo
	if len(below) > 0 {
		level = slog.LevelWarn
	}
	for _, n := range rep.NotEnforced {
		log.Log(context.Background(), level, "sandbox: not enforceable on this kernel", "what", n)
	}
	for _, n := range rep.Notes {
		log.Info("sandbox: note", "what", n)
	}
	if len(rep.Skipped) > 0 {
		log.Warn("sandbox partly applied (--sandbox best-effort)", "skipped", strings.Join(rep.Skipped, "; "))
		warnings = append(warnings, fmt.Sprintf("kernel sandbox partly applied (--sandbox best-effort): %d rule(s) skipped; "+
			"the server log says which", len(rep.Skipped)))
	}
	if len(below) > 0 {
		log.Warn("sandbox below what --sandbox enforce requires (--sandbox best-effort)", "missing", strings.Join(below, "; "))
		warnings = append(warnings, fmt.Sprintf("kernel sandbox below what --sandbox enforce requires (--sandbox best-effort): %s; "+
			"%d restriction(s) not enforced, the server log says which", strings.Join(below, "; "), len(rep.NotEnforced)))
	}
	return warnings
}

// metricsOn reports whether the server keeps metrics: whenever it serves
// HTTP (/metrics on its listeners) or --metrics-listen is set.
func (c *config) metricsOn() bool { return !c.Stdio || c.MetricsListen != "" }

// grants returns what the sandbox grants: each enabled tool's needs, and
// the files the metrics' process collector reads.
func (c *config) grants(enabled []tools.Spec) []sandbox.Grant {
	g := tools.Grants(enabled)
	if c.metricsOn() {
		g = append(g, sandbox.Grant{Who: "metrics (process_* series)", Needs: sandbox.Needs{Read: metrics.ReadPaths()}})
	}
	return g
}

// runSandbox is `tailops sandbox explain` and `tailops sandbox check`:
// both take serve's flags, so they show and test the policy serve would
// apply with the same configuration.
func runSandbox(ctx context.Context, check bool, args []string, stdout, stderr io.Writer) error {
	cfg := &config{}
	name := "tailops sandbox explain"
	if check {
		name = "tailops sandbox check"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.bindServe(fs)
	if err := parseFlags(fs, args, cfg); err != nil {
		return err
	}
	if err := cfg.resolve(); err != nil {
		return err
	}
	if err := cfg.resolveMetrics(); err != nil {
		return err
	}
	sets := cfg.toolsets(nil, nil, nil)
	sel, err := cfg.selection(sets)
	if err != nil {
		return err
	}
	enabled, err := tools.Select(sets.specs(), sel)
	if err != nil {
		return fmt.Errorf("selecting tools: %w", err)
	}
	if err := sets.check(enabled, nil); err != nil {
		return err
	}
	var ports []uint16
	// A tsnet server binds no host port unless --listen adds one.
	if !cfg.Stdio && (cfg.tailnetMode != tailnet.ModeTSNet || cfg.set["listen"]) {
		_, p, err := net.SplitHostPort(cfg.Listen)
		if err != nil {
			return fmt.Errorf("--listen %q: %w", cfg.Listen, err)
		}
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil {
			return fmt.Errorf("--listen %q: bad port", cfg.Listen)
		}
		ports = append(ports, uint16(n))
	}
	if cfg.MetricsListen != "" {
		_, p, _ := net.SplitHostPort(cfg.MetricsListen)   // resolveMetrics checked it
		if n, _ := strconv.ParseUint(p, 10, 16); n != 0 { // 0: serve binds whatever port is free
			ports = append(ports, uint16(n))
		}
	}
	sc, err := sandboxConfig(cfg, ports)
	if err != nil {
		return err
	}
	if check && sc.Mode == sandbox.ModeOff {
		return fmt.Errorf("sandbox check with --sandbox off would test nothing; use enforce or best-effort")
	}
	// The state and audit directories must exist to be granted, and the
	// check writes in them. Explain writes nothing: a directory serve would
	// create at start shows as not existing yet, which Apply grants once
	// it does.
	if check {
		if err := os.MkdirAll(filepath.Dir(cfg.AuditLog), 0o700); err != nil {
			return fmt.Errorf("creating state directory: %w", err)
		}
	}
	p, err := sandbox.Compute(cfg.grants(enabled), sc)
	if err != nil {
		return err // it says "computing sandbox policy"
	}
	if !check {
		return p.Explain(stdout)
	}
	ok, err := sandbox.Check(ctx, p, stdout)
	if err != nil {
		return err
	}
	if !ok {
		fmt.Fprintln(stdout, "FAILED: something that must be refused was allowed")
		return exitError{1}
	}
	fmt.Fprintln(stdout, "ok: every attempt was refused")
	return nil
}
