// SPDX-License-Identifier: Apache-2.0

package packages

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/tailops/tailops/tools"
)

// maxUpgradeNames bounds upgrade_packages' packages argument.
const maxUpgradeNames = 500

// UpgradeArgs are upgrade_packages' arguments.
type UpgradeArgs struct {
	Packages []string `json:"packages,omitempty" jsonschema_description:"the installed packages to upgrade, by name (at most 500); default: every upgradable package"`
}

// UpgradeResult is upgrade_packages' result.
type UpgradeResult struct {
	// Changes are every package the upgrade changed, from which version
	// to which: those upgraded, and the dependencies it installed or
	// removed.
	Changes []Change `json:"changes"`
	// UpToDate are the packages asked for that had no update.
	UpToDate []string `json:"up_to_date,omitempty"`
	// Held are the packages with an update PackageKit holds back
	// (blocked: held, or needing a removal), not upgraded.
	Held []string `json:"held,omitempty"`
	// RefreshWarning is PackageKit's error refreshing the package lists
	// when it failed and the upgrade went on with the lists as they were.
	RefreshWarning string `json:"refresh_warning,omitempty"`
}

// upgradePackages is upgrade_packages: PackageKit upgrades the packages
// named, or every upgradable one, trusted packages only.
func (t *Toolset) upgradePackages(ctx context.Context, in UpgradeArgs) (UpgradeResult, error) {
	if len(in.Packages) > maxUpgradeNames {
		return UpgradeResult{}, tools.ArgErrorf("packages", "%d names, more than %d", len(in.Packages), maxUpgradeNames)
	}
	for _, n := range in.Packages {
		if err := ValidName(n); err != nil {
			return UpgradeResult{}, tools.ArgErrorf("packages", "%v", err)
		}
	}
	names := slices.Compact(slices.Sorted(slices.Values(in.Packages)))
	before, err := t.snapshot()
	if err != nil {
		return UpgradeResult{}, err
	}
	var missing []string
	for _, n := range names {
		if installedVersion(before, n) == "" {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return UpgradeResult{}, fmt.Errorf("not installed, so not upgraded: %s (install_package installs a package)", strings.Join(missing, ", "))
	}
	conn, err := t.pk.connect()
	if err != nil {
		return UpgradeResult{}, err
	}
	defer conn.Close()
	p := tools.ProgressFrom(ctx)
	out := UpgradeResult{Changes: []Change{}}
	if out.RefreshWarning, err = t.refresh(ctx, conn, p); err != nil {
		return UpgradeResult{}, err
	}
	p.Report(20, 100, "listing the updates", false)
	res, err := t.pk.run(ctx, conn, role{method: "GetUpdates", args: []any{filterNone}, doing: "listing the updates"}, progressSpan(p, 20, 25))
	if err != nil {
		return UpgradeResult{}, err
	}
	var ids []string
	has := map[string]bool{}
	for _, pkg := range res.Packages {
		n, _, _, _, ok := idParts(pkg.ID)
		if !ok || len(names) > 0 && !slices.Contains(names, n) {
			continue
		}
		has[n] = true
		if pkg.Info == infoBlocked {
			out.Held = append(out.Held, n)
			continue
		}
		ids = append(ids, pkg.ID)
	}
	for _, n := range names {
		if !has[n] {
			out.UpToDate = append(out.UpToDate, n)
		}
	}
	slices.Sort(out.Held)
	out.Held = slices.Compact(out.Held)
	if len(ids) == 0 {
		p.Report(100, 100, "nothing to upgrade", true)
		return out, nil
	}
	slices.Sort(ids)
	t.log.Info("PackageKit upgrade", slog.Int("packages", len(ids)))
	doing := fmt.Sprintf("upgrading %d packages", len(ids))
	if len(ids) == 1 {
		n, _, _, _, _ := idParts(ids[0])
		doing = "upgrading " + n
	}
	_, err = t.pk.run(ctx, conn, role{method: "UpdatePackages", args: []any{flagOnlyTrusted, ids}, doing: doing, action: actionUpdate},
		progressSpan(p, 25, 100))
	if err != nil {
		return UpgradeResult{}, err
	}
	after, err := t.snapshot()
	if err != nil {
		return UpgradeResult{}, fmt.Errorf("PackageKit upgraded the packages, but reading what changed failed: %w", err)
	}
	out.Changes = diff(before, after)
	p.Report(100, 100, doing+": done", true)
	return out, nil
}
