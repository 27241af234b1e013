// SPDX-License-Identifier: Apache-2.0

package systemd

import (
	"context"

	"github.com/tailops/tailops/tools"
)

// Summary is the services part of get_inventory.
type Summary struct {
	Services int      `json:"services" jsonschema_description:"services systemd has loaded"`
	Active   int      `json:"active"`
	Enabled  int      `json:"enabled" jsonschema_description:"services whose unit file is enabled"`
	Failed   []string `json:"failed" jsonschema_description:"the failed services, by name"`
}

// InventoryParts returns the services part of get_inventory, from the
// same read as list_services.
func (t *Toolset) InventoryParts() []tools.InventoryPart {
	return []tools.InventoryPart{{Name: "services", Tool: "list_services", Needs: t.needs(false), Get: func(ctx context.Context) (any, error) {
		l, err := t.listServices(ctx, ListArgs{})
		if err != nil {
			return nil, err
		}
		s := Summary{Services: l.Count, Failed: []string{}}
		for _, sv := range l.Services {
			switch sv.ActiveState {
			case "active":
				s.Active++
			case "failed":
				s.Failed = append(s.Failed, sv.Name)
			}
			if sv.Enabled == "enabled" {
				s.Enabled++
			}
		}
		return s, nil
	}}}
}
