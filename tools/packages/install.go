// SPDX-License-Identifier: Apache-2.0

package packages

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/godbus/dbus/v5"

	"github.com/tailops/tailops/redact"
	"github.com/tailops/tailops/tools"
)

// Polkit actions PackageKit checks for the transactions these tools run.
const (
	actionRefresh = "org.freedesktop.packagekit.system-sources-refresh"
	actionInstall = "org.freedesktop.packagekit.package-install"
	actionUpdate  = "org.freedesktop.packagekit.system-update"
)

// InstallArgs are install_package's arguments.
type InstallArgs struct {
	Name    string `json:"name" jsonschema:"required" jsonschema_description:"the Debian package name, such as nginx"`
	Version string `json:"version,omitempty" jsonschema_description:"the exact version to install, such as 1.22.1-9; default: the candidate apt would choose"`
}

// InstallResult is install_package's result.
type InstallResult struct {
	Name string `json:"name"`
	// Version is the version installed now.
	Version string `json:"version"`
	// AlreadyInstalled is true when that version was installed already
	// and nothing was done.
	AlreadyInstalled bool `json:"already_installed"`
	// Changes are every package the install changed: the package itself
	// and its dependencies.
	Changes []Change `json:"changes"`
	// RefreshWarning is PackageKit's error refreshing the package lists
	// when it failed and the install went on with the lists as they were.
	RefreshWarning string `json:"refresh_warning,omitempty"`
}

// progressSpan maps a transaction's percentage onto [lo, hi] of the
// call's progress (0 to 100).
func progressSpan(p *tools.Progress, lo, hi float64) progressFunc {
	return func(percent float64, status string) {
		p.Report(lo+(hi-lo)*percent/100, 100, status, false)
	}
}

// refresh refreshes PackageKit's package lists (as apt-get update). A
// failure that is not polkit's refusal nor the bus's is returned as a
// warning: the lists as they were can still serve.
func (t *Toolset) refresh(ctx context.Context, conn *dbus.Conn, p *tools.Progress) (warning string, err error) {
	p.Report(0, 100, "refreshing the package lists", false)
	_, err = t.pk.run(ctx, conn, role{method: "RefreshCache", args: []any{false}, doing: "refreshing the package lists", action: actionRefresh},
		progressSpan(p, 0, 20))
	var te *TransactionError
	switch {
	case err == nil:
		return "", nil
	case errors.As(err, &te) && te.Code != "not-authorized" && ctx.Err() == nil:
		// PackageKit's details may quote a source's URL, credentials and all.
		warning = redact.Text(err.Error())
		t.log.Warn("PackageKit could not refresh the package lists", slog.String("error", warning))
		return warning, nil
	}
	return "", err
}

// installPackage is install_package: PackageKit installs name (at
// version), trusted packages only.
func (t *Toolset) installPackage(ctx context.Context, in InstallArgs) (InstallResult, error) {
	if err := ValidName(in.Name); err != nil {
		return InstallResult{}, tools.ArgErrorf("name", "%v", err)
	}
	if in.Version != "" {
		if err := ValidVersion(in.Version); err != nil {
			return InstallResult{}, tools.ArgErrorf("version", "%v", err)
		}
	}
	before, err := t.snapshot()
	if err != nil {
		return InstallResult{}, err
	}
	conn, err := t.pk.connect()
	if err != nil {
		return InstallResult{}, err
	}
	defer conn.Close()
	p := tools.ProgressFrom(ctx)
	out := InstallResult{Name: in.Name, Changes: []Change{}}
	if out.RefreshWarning, err = t.refresh(ctx, conn, p); err != nil {
		return InstallResult{}, err
	}
	what := in.Name
	if in.Version != "" {
		what += " " + in.Version
	}
	p.Report(20, 100, "looking up "+what, false)
	res, err := t.pk.run(ctx, conn, role{method: "Resolve", args: []any{filterNone, []string{in.Name}}, doing: "looking up " + in.Name},
		progressSpan(p, 20, 25))
	if err != nil {
		return InstallResult{}, err
	}
	id, installedAs, guessed, offered, err := pickInstall(res.Packages, in.Name, in.Version)
	if err != nil {
		return InstallResult{}, err
	}
	if id == "" {
		out.Version, out.AlreadyInstalled = installedAs, true
		p.Report(100, 100, what+" is installed already", true)
		return out, nil
	}
	t.log.Info("PackageKit install", slog.String("package", in.Name), slog.String("id", id))
	_, err = t.pk.run(ctx, conn, role{method: "InstallPackages", args: []any{flagOnlyTrusted, []string{id}}, doing: "installing " + what, action: actionInstall},
		progressSpan(p, 25, 100))
	var te *TransactionError
	if guessed && errors.As(err, &te) && te.Code == "package-not-found" {
		return InstallResult{}, versionNotFound(in.Name, in.Version, offered)
	}
	if err != nil {
		return InstallResult{}, err
	}
	after, err := t.snapshot()
	if err != nil {
		return InstallResult{}, fmt.Errorf("PackageKit installed %s, but reading what changed failed: %w", what, err)
	}
	out.Changes, out.Version = diff(before, after), installedVersion(after, in.Name)
	p.Report(100, 100, "installed "+what, true)
	return out, nil
}

// ErrNotFound is the cause of the tool error when the package, or the
// version, is not in the apt sources.
var ErrNotFound = errors.New("not found in the apt sources")

// pickInstall chooses, among what Resolve said of name, the package id to
// install: the version asked for, else the highest available. id is ""
// when that version is installed already (installed says which).
// PackageKit's Resolve names only apt's candidate: another version asked
// for gets the candidate's id with that version (apt's backend finds a
// version by name, version and architecture); guessed says so, and
// offered are the versions Resolve named.
func pickInstall(pkgs []pkPackage, name, version string) (id, installed string, guessed bool, offered []string, err error) {
	if version != "" {
		if err := ValidVersion(version); err != nil { // it goes into an id
			return "", "", false, nil, tools.ArgErrorf("version", "%v", err)
		}
	}
	var best, bestVer string
	for _, p := range pkgs {
		n, v, _, _, ok := idParts(p.ID)
		if !ok || n != name {
			continue
		}
		if !slices.Contains(offered, v) {
			offered = append(offered, v)
		}
		switch {
		case p.Info == infoInstalled:
			installed = v
		case version != "" && v == version:
			return p.ID, "", false, offered, nil
		case best == "" || Compare(v, bestVer) > 0:
			best, bestVer = p.ID, v
		}
	}
	switch {
	case installed != "" && (version == "" && (best == "" || Compare(bestVer, installed) <= 0) || version == installed):
		return "", installed, false, offered, nil
	case len(offered) == 0:
		return "", "", false, nil, fmt.Errorf("installing %s: package %w (after refreshing them): check the name, or add the apt source that has it", name, ErrNotFound)
	case version == "":
		return best, "", false, offered, nil
	case best == "":
		return "", "", false, offered, versionNotFound(name, version, offered)
	}
	_, _, arch, data, _ := idParts(best)
	return strings.Join([]string{name, version, arch, data}, ";"), "", true, offered, nil
}

// versionNotFound is the error for a version of name that is not in the
// apt sources.
func versionNotFound(name, version string, offered []string) error {
	return fmt.Errorf("installing %s %s: that version is %w; PackageKit offers %s", name, version, ErrNotFound, strings.Join(offered, ", "))
}
