// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/tailops/tailops/approval"
	"github.com/tailops/tailops/fleet"
	jfile "github.com/tailops/tailops/journal"
	"github.com/tailops/tailops/metrics"
	"github.com/tailops/tailops/tools"
	approvaltools "github.com/tailops/tailops/tools/approvals"
	"github.com/tailops/tailops/tools/auditlog"
	"github.com/tailops/tailops/tools/diag"
	"github.com/tailops/tailops/tools/docker"
	"github.com/tailops/tailops/tools/files"
	"github.com/tailops/tailops/tools/firewall"
	fleettools "github.com/tailops/tailops/tools/fleet"
	"github.com/tailops/tailops/tools/host"
	"github.com/tailops/tailops/tools/inventory"
	"github.com/tailops/tailops/tools/journal"
	"github.com/tailops/tailops/tools/packages"
	"github.com/tailops/tailops/tools/secrets"
	"github.com/tailops/tailops/tools/stacks"
	"github.com/tailops/tailops/tools/systemd"
)

// toolsets builds every toolset from the resolved configuration: the one
// list of what TailOps offers, one line per domain, in the order the tools
// are listed. A toolset whose configuration cannot be used is kept with
// its error (see toolsetList.check). gate returns two-person approval's
// gate once it is open (nil: none); fl is --fleet's fleet (nil: none).
func (c *config) toolsets(log *slog.Logger, gate func() *approval.Gate, fl *fleet.Fleet) *toolsetList {
	l := toolsetList{describe: c.toolsetError, self: &atomic.Pointer[inventory.Self]{}}
	l.add(host.New(host.Config{Version: version, Host: c.env.host}))
	fts, ferr := files.New(c.filesConfig(log))
	l.add(fts, ferr)
	l.add(secrets.New(secretsConfig(fts, ferr, log)))
	l.add(docker.New(c.dockerConfig(log)))
	l.add(stacks.New(c.stacksConfig(log)))
	l.add(diag.New(c.diagConfig(log)))
	l.add(systemd.New(c.systemdConfig(log)))
	l.add(journal.New(journal.Config{Dirs: c.journalDirs(), Logger: log}))
	l.add(packages.New(c.packagesConfig(log)))
	l.add(firewall.New(c.firewallConfig(log)))
	l.add(inventory.New(c.inventoryConfig(&l)))
	l.add(approvaltools.New(approvaltools.Config{Gate: gate}))
	l.add(auditlog.New(auditlog.Config{Path: c.AuditLog}))
	l.add(fleettools.New(fleettools.Config{Fleet: fl}))
	l.addTestToolsets()
	return &l
}

// diagConfig is the diagnostics tools' configuration.
func (c *config) diagConfig(log *slog.Logger) diag.Config {
	return diag.Config{Allow: c.DiagAllow, Ports: c.diagPorts, Methods: c.DiagMethods, Resolver: c.DiagResolver, Version: version, Logger: log}
}

// packagesConfig is the packages tools' configuration: the host's paths,
// the system bus PackageKit answers on, and where check_vulnerabilities
// reads the security tracker's data.
func (c *config) packagesConfig(log *slog.Logger) packages.Config {
	return packages.Config{Host: c.env.host, BusAddress: c.env.dbusSystemBus, VulnData: c.VulnData, VulnAllow: c.VulnAllow,
		Version: version, Logger: log}
}

// journalDirs returns the journal directories, as this process sees
// them, that the journal tools read: those --journal-dir (journal_dirs)
// names, else journald's own, /var/log/journal and /run/log/journal, under
// HOST_VAR and HOST_RUN when they are set.
func (c *config) journalDirs() []string {
	if len(c.JournalDirs) > 0 {
		return slices.Clone([]string(c.JournalDirs))
	}
	dirs := make([]string, len(jfile.DefaultDirs))
	for i, d := range jfile.DefaultDirs {
		dirs[i] = c.env.host.Path(d)
	}
	return dirs
}

// systemdConfig is the systemd tools' configuration: the system bus, the
// units they may change, and the journal they read units' lines from.
func (c *config) systemdConfig(log *slog.Logger) systemd.Config {
	return systemd.Config{BusAddress: c.env.dbusSystemBus, Allow: c.ServiceAllow, HighRisk: c.ServiceHighRisk,
		JournalDirs: c.journalDirs(), Logger: log}
}

// filesConfig is the file tools' configuration.
func (c *config) filesConfig(log *slog.Logger) files.Config {
	return files.Config{Roots: c.FileRoots, Deny: c.file.FileDeny, Protected: c.serverPaths(), Logger: log}
}

// secretsConfig is scan_secrets' configuration: the file tools' roots,
// deny-list and guard of the server's own paths, and their configuration
// error, which is scan_secrets' too.
func secretsConfig(fts *files.Toolset, ferr error, log *slog.Logger) secrets.Config {
	return secrets.Config{Roots: fts.Roots(), Denied: fts.Denied, Protected: fts.Protected, RootsErr: ferr, Logger: log}
}

// inventoryConfig is get_inventory's configuration: the inventory parts
// of the toolsets built so far in l, those of a toolset --toolsets leaves
// out, or whose configuration is not usable, listed as absent with why.
func (c *config) inventoryConfig(l *toolsetList) inventory.Config {
	cfg := inventory.Config{Absent: map[string]string{}, Self: func() inventory.Self {
		if s := l.self.Load(); s != nil {
			return *s
		}
		return inventory.Self{Version: version}
	}}
	for i, ts := range l.sets {
		p, ok := ts.(tools.InventoryProvider)
		if !ok {
			continue
		}
		why := ""
		switch {
		case len(c.Toolsets) > 0 && !slices.Contains(c.Toolsets, ts.Name()):
			why = fmt.Sprintf("the %s toolset is left out (%s)", ts.Name(), c.toolsetsSource())
		case l.errs[i] != nil:
			why = fmt.Sprintf("the %s tools are not usable on this server: %v", ts.Name(), l.errs[i])
		}
		for _, part := range p.InventoryParts() {
			if why != "" {
				cfg.Absent[part.Name] = why
			} else {
				cfg.Parts = append(cfg.Parts, part)
			}
		}
	}
	return cfg
}

// setSelf records TailOps' own part of get_inventory: the tools served
// and the sandbox as applied.
func (l *toolsetList) setSelf(on []tools.Spec, sb metrics.Sandbox) {
	self := &inventory.Self{Version: version, Tools: len(on), Toolsets: []string{},
		Sandbox: inventory.SandboxState{Mode: sb.Mode, Landlock: sb.Landlock, LandlockABI: sb.LandlockABI, Seccomp: sb.Seccomp, SkippedRules: sb.Skipped}}
	for _, ts := range l.sets {
		if enabled(ts, on) {
			self.Toolsets = append(self.Toolsets, ts.Name())
		}
	}
	l.self.Store(self)
}

// toolsetError describes the configuration error of toolset ts: where a
// setting of the file tools came from, or which tools it is about.
func (c *config) toolsetError(ts tools.Toolset, err error) error {
	if fe := (*files.ConfigError)(nil); errors.As(err, &fe) {
		return c.fileConfigError(fe)
	}
	return fmt.Errorf("configuring the %s tools: %w", ts.Name(), err)
}

// selfContainer is the container this process runs in, read once: the
// Docker and the stack tools leave it alone.
var selfContainer = sync.OnceValue(docker.SelfContainer)

// dockerConfig is the Docker tools' configuration: the Docker client's
// environment.
func (c *config) dockerConfig(log *slog.Logger) docker.Config {
	return docker.Config{Host: c.env.dockerHost, CertPath: c.env.dockerCertPath, TLSVerify: c.env.dockerTLSVerify,
		APIVersion: c.env.dockerAPIVersion, Logger: log, Self: selfContainer()}
}

// toolsetList is the server's toolsets, each with the error that makes
// its configuration unusable (nil for most).
type toolsetList struct {
	sets []tools.Toolset
	errs []error
	// describe turns a toolset's configuration error into the server's
	// (naming the flags or keys it came from).
	describe func(tools.Toolset, error) error
	// self is TailOps' own part of get_inventory, set once the server
	// knows its tools and sandbox (nil before).
	self *atomic.Pointer[inventory.Self]
}

// add appends a toolset as its constructor returned it.
func (l *toolsetList) add(ts tools.Toolset, err error) {
	l.sets = append(l.sets, ts)
	l.errs = append(l.errs, err)
}

// specs returns every tool of every toolset, in order.
func (l *toolsetList) specs() []tools.Spec { return tools.Specs(l.sets) }

// enabled reports whether one of ts's tools is among enabled.
func enabled(ts tools.Toolset, enabled []tools.Spec) bool {
	names := tools.Names(enabled)
	return slices.ContainsFunc(ts.Tools(), func(s tools.Spec) bool { return slices.Contains(names, s.Name()) })
}

// check returns the configuration error of the first toolset that has
// one and an enabled tool: such a server would serve tools that fail
// every call, so it does not start. A toolset none of whose tools is
// enabled is not the server's concern (a DOCKER_HOST the Docker tools
// cannot use, on a server without them): its error is logged.
func (l *toolsetList) check(on []tools.Spec, log *slog.Logger) error {
	for i, ts := range l.sets {
		switch err := l.errs[i]; {
		case err == nil:
		case enabled(ts, on):
			return l.describe(ts, err)
		case log != nil:
			log.Warn("toolset not usable, and none of its tools is enabled", slog.String("toolset", ts.Name()), slog.Any("error", err))
		}
	}
	return nil
}

// fileRoots returns the file roots when a tool that reads them is
// enabled (a file tool, or scan_secrets), else nil.
func (l *toolsetList) fileRoots(on []tools.Spec) []string {
	var roots []string
	reads := false
	for _, ts := range l.sets {
		switch t := ts.(type) {
		case *files.Toolset:
			roots = t.Roots()
			reads = reads || enabled(ts, on)
		case *secrets.Toolset:
			reads = reads || enabled(ts, on)
		}
	}
	if !reads {
		return nil
	}
	return roots
}

// open opens, before the sandbox, every toolset that is a tools.Opener
// and has an enabled tool.
func (l *toolsetList) open(ctx context.Context, on []tools.Spec) error {
	for _, ts := range l.sets {
		if o, ok := ts.(tools.Opener); ok && enabled(ts, on) {
			if err := o.Open(ctx); err != nil {
				return fmt.Errorf("opening the %s tools: %w", ts.Name(), err)
			}
		}
	}
	return nil
}

// close releases what the toolsets that are tools.Closers hold.
func (l *toolsetList) close(log *slog.Logger) {
	for _, ts := range l.sets {
		if c, ok := ts.(tools.Closer); ok {
			if err := c.Close(); err != nil {
				log.Warn("closing toolset", slog.String("toolset", ts.Name()), slog.Any("error", err))
			}
		}
	}
}
