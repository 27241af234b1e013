// SPDX-License-Identifier: Apache-2.0

// Package packages is the toolset of the Debian packages: check_updates
// (the upgradable packages, current and candidate version, security or
// not), list_installed_packages and check_vulnerabilities (the installed
// packages against the Debian security tracker's data) read the dpkg
// status file and apt's downloaded lists directly, streaming them, as
// fresh as the host's last apt-get update; install_package and
// upgrade_packages ask PackageKit over D-Bus on the system bus, which
// polkit must authorize. No tool runs apt, dpkg or pkcon. Only
// check_vulnerabilities reaches the network, for the tracker's data,
// through the destination policy (package netpolicy), unless it reads
// that data from a file.
package packages

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"time"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/internal/sysbus"
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
	// BusAddress is the system bus (DBUS_SYSTEM_BUS_ADDRESS), where
	// PackageKit answers, of the form unix:path=/path/to/socket; empty
	// means DefaultBusAddress.
	BusAddress string
	// Logger receives the tools' own log lines; nil means slog.Default().
	Logger *slog.Logger
}

// Toolset is the packages toolset, built by New.
type Toolset struct {
	status, lists string
	pk            pkClient
	socket        string
	log           *slog.Logger
	specs         []tools.Spec

	// check_vulnerabilities' data: where from, for which release (the
	// os-release files when release is empty), and the copy read.
	vulnSrc    *vulnSource
	vulnMaxAge time.Duration
	release    string
	osRelease  []string
	vulnCache  vulnCache

	// memo keeps check_updates' last answer with its inputs' identity.
	memo pendingMemo
}

var _ tools.Toolset = (*Toolset)(nil)

// New validates cfg and declares the packages tools. On error the Toolset
// is still returned, its tools declared but unavailable (tools.Unavailable).
func New(cfg Config) (*Toolset, error) {
	t := &Toolset{status: cmp.Or(cfg.Status, cfg.Host.Path(StatusFile)), lists: cmp.Or(cfg.Lists, cfg.Host.Path(ListsDir)),
		pk: pkClient{addr: cmp.Or(cfg.BusAddress, DefaultBusAddress)}, log: cmp.Or(cfg.Logger, slog.Default()),
		memo: pendingMemo{window: racyWindow}}
	var errs []error
	for _, p := range []string{t.status, t.lists} {
		if !filepath.IsAbs(p) {
			errs = append(errs, fmt.Errorf("%q: must be an absolute path", p))
		}
	}
	var err error
	if t.socket, err = sysbus.SocketPath(t.pk.addr); err != nil {
		errs = append(errs, err)
	}
	err = errors.Join(errs...)
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
		tools.TypedSpec[InstallArgs, InstallResult]{
			Name: "install_package", Title: "Install a package",
			Description: "Installs a Debian package (name, optionally an exact version; default the candidate) and the packages it " +
				"depends on, through PackageKit on the system bus: it refreshes the package lists, then installs trusted (signed) " +
				"packages only. Returns every package changed, from which version to which (dpkg's status before and after), or " +
				"PackageKit's error code and details. Long-running (minutes for large downloads): progress is reported when the " +
				"request carries a progress token. Needs PackageKit (apt install packagekit) and polkit's consent " +
				"(tailops polkit-rule). Critical: waits for approval.",
			Scope: auth.ScopeSystemAdmin, Risk: tools.RiskCritical, Needs: t.pkNeeds(),
			Hints: tools.Hints{ReadOnly: false, Destructive: true, Idempotent: true, OpenWorld: true},
			Run:   t.installPackage,
			Task:  true,
		}.Spec(),
		tools.TypedSpec[UpgradeArgs, UpgradeResult]{
			Name: "upgrade_packages", Title: "Upgrade packages",
			Description: "Upgrades the installed packages named in packages, or, without it, every upgradable package, through " +
				"PackageKit on the system bus: it refreshes the package lists, then upgrades with trusted (signed) packages only; " +
				"updates PackageKit holds back are listed as held. Returns every package changed, from which version to which " +
				"(dpkg's status before and after), or PackageKit's error code and details. Long-running (minutes): progress is " +
				"reported when the request carries a progress token. Needs PackageKit (apt install packagekit) and polkit's consent " +
				"(tailops polkit-rule). Critical: waits for approval.",
			Scope: auth.ScopeSystemAdmin, Risk: tools.RiskCritical, Needs: t.pkNeeds(),
			Hints: tools.Hints{ReadOnly: false, Destructive: true, Idempotent: false, OpenWorld: true},
			Run:   t.upgradePackages,
			Task:  true,
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

// pkNeeds are the PackageKit tools' needs: the system bus socket, and the
// status file they compare before and after.
func (t *Toolset) pkNeeds() sandbox.Needs {
	n := sandbox.Needs{Read: []string{t.status}}
	if t.socket != "" {
		n.Sockets = []string{t.socket}
	}
	return n
}

// Socket is the system bus socket the PackageKit tools connect to (their
// Needs say the same); "" when the bus address is unusable.
func (t *Toolset) Socket() string { return t.socket }

// needs are check_updates' needs: the status file and the lists.
func (t *Toolset) needs() sandbox.Needs {
	return sandbox.Needs{Read: []string{t.status, t.lists}}
}
