// SPDX-License-Identifier: Apache-2.0

package docker

import (
	"context"
	"strings"

	"github.com/tailops/tailops/tools"
)

// InventoryContainer is one container in get_inventory.
type InventoryContainer struct {
	Name    string        `json:"name"`
	Image   string        `json:"image"`
	ImageID string        `json:"image_id"`
	Version string        `json:"version,omitempty" jsonschema_description:"the image's org.opencontainers.image.version label, when it has one"`
	Project string        `json:"project,omitempty" jsonschema_description:"the compose project (stack) it belongs to, when it does"`
	State   string        `json:"state"`
	Status  string        `json:"status"`
	Ports   []PortSummary `json:"ports"`
	Update  string        `json:"update,omitempty" jsonschema_description:"the image's update status as check_image_updates last found it (up_to_date, update_available…), when it has checked this container"`
	Checked string        `json:"update_checked,omitempty" jsonschema_description:"when that was, RFC 3339 UTC"`
}

// Summary is the containers part of get_inventory.
type Summary struct {
	Containers []InventoryContainer `json:"containers"`
	Running    int                  `json:"running"`
	Unhealthy  []string             `json:"unhealthy" jsonschema_description:"containers whose health check fails, or that keep restarting"`
}

// InventoryParts returns the containers part of get_inventory, from the
// same read as list_containers (all containers).
func (t *Toolset) InventoryParts() []tools.InventoryPart {
	return []tools.InventoryPart{{Name: "containers", Tool: "list_containers", Needs: t.needs(), Get: func(ctx context.Context) (any, error) {
		l, err := t.listContainers(ctx, ListContainersArgs{All: true})
		if err != nil {
			return nil, err
		}
		s := Summary{Containers: make([]InventoryContainer, 0, len(l.Containers)), Unhealthy: []string{}}
		for _, c := range l.Containers {
			ic := InventoryContainer{Name: c.Name, Image: c.Image, ImageID: c.ImageID,
				Version: c.Labels["org.opencontainers.image.version"], Project: c.Labels["com.docker.compose.project"],
				State: c.State, Status: c.Status, Ports: c.Ports}
			if st, at, ok := t.lastChecked(c.ID); ok {
				ic.Update, ic.Checked = st, rfc3339(at)
			}
			s.Containers = append(s.Containers, ic)
			if c.State == "running" {
				s.Running++
			}
			if c.State == "restarting" || strings.HasSuffix(c.Status, "(unhealthy)") {
				s.Unhealthy = append(s.Unhealthy, c.Name)
			}
		}
		return s, nil
	}}}
}
