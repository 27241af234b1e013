// SPDX-License-Identifier: Apache-2.0

package packages

import (
	"context"

	"github.com/tailops/tailops/tools"
)

// Summary is the packages part of get_inventory.
type Summary struct {
	Installed  int      `json:"installed" jsonschema_description:"packages dpkg has installed"`
	Upgradable int      `json:"upgradable"`
	Security   int      `json:"security" jsonschema_description:"upgradable packages whose candidate comes from a security suite"`
	Held       int      `json:"held" jsonschema_description:"upgradable packages on hold"`
	Notes      []string `json:"notes,omitempty"`
}

// InventoryParts returns the packages part of get_inventory: counts from
// the same reads as list_installed_packages and check_updates.
func (t *Toolset) InventoryParts() []tools.InventoryPart {
	return []tools.InventoryPart{{Name: "packages", Tool: "list_installed_packages", Needs: t.needs(), Get: func(ctx context.Context) (any, error) {
		return t.summary(ctx)
	}}}
}

// summary counts the installed and upgradable packages.
func (t *Toolset) summary(ctx context.Context) (Summary, error) {
	one, most := 1, 5000 // matched counts every package; held is counted among the first 5,000 updates
	inst, err := t.listInstalled(ctx, ListArgs{Limit: &one})
	if err != nil {
		return Summary{}, err
	}
	up, err := t.checkUpdates(ctx, CheckArgs{Limit: &most})
	if err != nil {
		return Summary{}, err
	}
	s := Summary{Installed: inst.Matched, Upgradable: up.Upgradable, Security: up.Security, Notes: up.Notes}
	for _, u := range up.Updates {
		if u.Held {
			s.Held++
		}
	}
	return s, nil
}
