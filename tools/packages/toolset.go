// SPDX-License-Identifier: Apache-2.0

// Package packages is the toolset that reads the Debian package state:
// check_updates (the upgradable packages, current and candidate version,
// security or not) and list_installed_packages. It reads the dpkg status
// file and apt's downloaded lists directly, streaming them, and never
// runs apt, dpkg or the network: the lists are as fresh as the host's
// last apt-get update.
package packages

import (
	"cmp"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/sandbox"
	"github.com/tailops/tailops/tools"
)

// Where dpkg and apt keep their state on the host.
const (
	// StatusFile is dpkg's database of packages.
	StatusFile = "/var/lib/dpkg/status"
	// ListsDir is where apt keeps the lists apt-get update downloads.
	ListsDir = "/var/lib/apt/lists"
)

// Config configures the packages toolset. The zero value reads the
// host's own files, StatusFile and ListsDir.
type Config struct {
	// Host are the host's paths as this process sees them (HOST_VAR for
	// /var); it is applied to StatusFile and ListsDir.
	Host sandbox.HostPaths
	// Status and Lists, when set, are the status file and the lists
	// directory themselves, as this process sees them (Host is not
	// applied), each absolute.
	Status, Lists string
	// Logger receives the tools' own log lines; nil means slog.Default().
	Logger *slog.Logger
}

// Toolset is the packages toolset, built by New.
type Toolset struct {
	status, lists string
	log           *slog.Logger
	specs         []tools.Spec
}

var _ tools.Toolset = (*Toolset)(nil)

// New validates cfg and declares the packages tools. On error the Toolset
// is still returned, its tools declared but unavailable (tools.Unavailable).
func New(cfg Config) (*Toolset, error) {
	t := &Toolset{status: cmp.Or(cfg.Status, cfg.Host.Path(StatusFile)), lists: cmp.Or(cfg.Lists, cfg.Host.Path(ListsDir)),
		log: cmp.Or(cfg.Logger, slog.Default())}
	var err error
	for _, p := range []string{t.status, t.lists} {
		if !filepath.IsAbs(p) {
			err = fmt.Errorf("%q: must be an absolute path", p)
		}
	}
	t.status, t.lists = filepath.Clean(t.status), filepath.Clean(t.lists)
	t.specs = t.declare()
	if err != nil {
		t.specs = tools.Unavailable(t.specs, fmt.Errorf("the packages tools are unavailable: %w", err))
	}
	return t, err
}

// Name returns "packages".
func (t *Toolset) Name() string { return "packages" }

// Tools returns the packages tools.
func (t *Toolset) Tools() []tools.Spec { return slices.Clone(t.specs) }

// declare declares the packages tools.
func (t *Toolset) declare() []tools.Spec {
	return []tools.Spec{
		tools.TypedSpec[CheckArgs, CheckResult]{
			Name: "check_updates", Title: "Check for package updates",
			Description: "List the installed Debian packages that apt would upgrade: each with its installed (current) and " +
				"candidate version and whether the candidate comes from a security suite (*-security, Debian-Security). " +
				"Read from the dpkg status file and the lists apt downloaded at its last apt-get update (no network, nothing " +
				"run): as fresh as those. The candidate is the highest version for the package's architecture (or all) " +
				"among the lists, as apt's default policy; apt_preferences pins, APT::Default-Release and phased updates are " +
				"not applied, NotAutomatic suites (experimental, backports) are skipped.",
			Scope: auth.ScopeSystemRead, Risk: tools.RiskLow, Hints: tools.ReadHints,
			Needs: t.needs(),
			Run:   t.checkUpdates,
		}.Spec(),
		tools.TypedSpec[ListArgs, ListResult]{
			Name: "list_installed_packages", Title: "List installed packages",
			Description: "List the packages in the dpkg database, sorted by name: each with its version, architecture, " +
				"status (e.g. install ok installed, deinstall ok config-files), installed size and source package. " +
				"Filters: name (a name or a glob such as libssl*), section. Bounded by limit; matched counts them all.",
			Scope: auth.ScopeSystemRead, Risk: tools.RiskLow, Hints: tools.ReadHints,
			Needs: sandbox.Needs{Read: []string{t.status}},
			Run:   t.listInstalled,
		}.Spec(),
	}
}

// needs are check_updates' needs: the status file and the lists.
func (t *Toolset) needs() sandbox.Needs {
	return sandbox.Needs{Read: []string{t.status, t.lists}}
}
