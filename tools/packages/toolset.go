// SPDX-License-Identifier: Apache-2.0

// Package packages is the toolset that reads the Debian package state:
// check_updates (the upgradable packages, current and candidate version,
// security or not), list_installed_packages and check_vulnerabilities
// (the installed packages against the Debian security tracker's data).
// It reads the dpkg status file and apt's downloaded lists directly,
// streaming them, and never runs apt or dpkg: the lists are as fresh as
// the host's last apt-get update. Only check_vulnerabilities reaches the
// network, for the tracker's data, through the destination policy
// (package netpolicy), unless it reads that data from a file.
package packages

import (
	"cmp"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"time"

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
	// VulnData is where check_vulnerabilities reads the Debian security
	// tracker's JSON (--vuln-data, vuln_data): an http or https URL,
	// fetched through the destination policy, or an absolute file path;
	// empty means DefaultVulnData.
	VulnData string
	// VulnAllow are destination policy allow-list entries (package
	// netpolicy) for fetching VulnData (--vuln-data-allow,
	// vuln_data_allow); empty means only public addresses.
	VulnAllow []string
	// VulnMaxAge is how long check_vulnerabilities reuses the data it
	// read; zero means an hour.
	VulnMaxAge time.Duration
	// Release is the host's release codename as the tracker names it
	// (bookworm); empty means VERSION_CODENAME of the host's os-release.
	Release string
	// Version is the TailOps version, sent in the fetch's User-Agent;
	// empty means "dev".
	Version string
	// Logger receives the tools' own log lines; nil means slog.Default().
	Logger *slog.Logger
}

// Toolset is the packages toolset, built by New.
type Toolset struct {
	status, lists string
	log           *slog.Logger
	specs         []tools.Spec

	// check_vulnerabilities' data: where from, for which release (the
	// os-release files when release is empty), and the copy read.
	vulnSrc    *vulnSource
	vulnMaxAge time.Duration
	release    string
	osRelease  []string
	vulnCache  vulnCache
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
	t.vulnMaxAge, t.release = cmp.Or(cfg.VulnMaxAge, defaultVulnMaxAge), cfg.Release
	for _, p := range osReleaseFiles {
		t.osRelease = append(t.osRelease, cfg.Host.Path(p))
	}
	var verr error
	if t.release != "" {
		verr = validCodename(t.release)
	}
	if verr == nil {
		t.vulnSrc, verr = parseVulnSource(cfg.VulnData, cfg.VulnAllow)
	}
	if t.vulnSrc == nil {
		t.vulnSrc = &vulnSource{file: "/nonexistent"} // declared unavailable below
	}
	t.vulnSrc.ua = cmp.Or(cfg.Version, "dev")
	t.specs = t.declare()
	if err != nil {
		t.specs = tools.Unavailable(t.specs, fmt.Errorf("the packages tools are unavailable: %w", err))
	} else if verr != nil {
		err = fmt.Errorf("check_vulnerabilities: %w", verr)
		i := slices.IndexFunc(t.specs, func(s tools.Spec) bool { return s.Name() == "check_vulnerabilities" })
		t.specs[i] = tools.Unavailable(t.specs[i:i+1], err)[0]
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
		tools.TypedSpec[VulnArgs, VulnResult]{
			Name: "check_vulnerabilities", Title: "Check installed packages for known vulnerabilities",
			Description: "List the security issues (CVEs) the Debian security tracker knows of that affect the installed " +
				"packages, for the host's release (VERSION_CODENAME of os-release): each with its source package (the tracker's key; " +
				"the binaries built from it), installed and fixed version, the tracker's status and urgency, and whether apt's lists " +
				"offer an update (and whether it reaches the fixed version). Open and undetermined issues count as affecting; " +
				"a fixed version of 0 means the release was never affected. The data is the tracker's JSON, from the server's " +
				"--vuln-data (a URL fetched through the destination policy, or a file; source says which), kept in memory " +
				"for a while (age_seconds says how old it is; refresh reads it again). Filters: package, min_urgency, " +
				"fixed_only; bounded by limit.",
			Scope: auth.ScopeSystemRead, Risk: tools.RiskModerate, Hints: tools.Hints{ReadOnly: true, Idempotent: true, OpenWorld: t.vulnSrc.url != nil},
			Needs: t.vulnNeeds(),
			Run:   t.checkVulnerabilities,
		}.Spec(),
	}
}

// vulnNeeds are check_vulnerabilities' needs: check_updates', the
// os-release files, and the data: its file, or DNS and TCP to the URL's
// port (the destination policy checks the host).
func (t *Toolset) vulnNeeds() sandbox.Needs {
	n := t.needs()
	n.Read = append(n.Read, t.osRelease...)
	if t.vulnSrc.url == nil {
		n.Read = append(n.Read, t.vulnSrc.file)
		return n
	}
	n.DNS, n.TCPPorts = true, []uint16{t.vulnSrc.port()}
	return n
}

// needs are check_updates' needs: the status file and the lists.
func (t *Toolset) needs() sandbox.Needs {
	return sandbox.Needs{Read: []string{t.status, t.lists}}
}
