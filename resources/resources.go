// SPDX-License-Identifier: Apache-2.0

// Package resources declares TailOps' MCP resources: views of read-only
// tools (tools.ResourceView), each a URI whose variables become the
// tool's arguments. Reading one is calling the tool — the same scope,
// arguments check, sandbox and audit record — so a resource can never
// show more than its tool would.
package resources

import (
	"strconv"
	"strings"

	"github.com/tailops/tailops/tools"
)

// All returns the resource views, in a stable order.
func All() []tools.ResourceView {
	return []tools.ResourceView{
		{
			URI: "tailops://host/status", Name: "host-status", MIMEType: "application/json",
			Description: "The host's status: CPU, memory, disks, load, uptime (get_system_status).",
			Tool:        "get_system_status",
		},
		{
			URI: "tailops://containers/{id}/logs", Name: "container-logs", MIMEType: "text/plain",
			Description: "A container's recent log lines, by name or id (get_container_logs).",
			Tool:        "get_container_logs",
			Args:        func(v map[string]string) map[string]any { return map[string]any{"container": v["id"]} },
			Query:       logsQuery,
			Link: func(a map[string]any) (map[string]string, bool) {
				c, ok := a["container"].(string)
				return withQuery(map[string]string{"id": c}, a, logsQuery), ok
			},
			Omit:     []string{"lines"},
			Complete: map[string]string{"id": "container"},
			Watch:    "container", Key: "id",
		},
		{
			URI: "tailops://containers/{id}/state", Name: "container-state", MIMEType: "application/json",
			Description: "A container's run state and health, by name or id: status, exit code, health and its last check, start and finish times, restart count (inspect_container's state).",
			Tool:        "inspect_container",
			Args:        func(v map[string]string) map[string]any { return map[string]any{"container": v["id"]} },
			Fields:      []string{"id", "name", "state", "restart_count"},
			Complete:    map[string]string{"id": "container"},
			Watch:       "container", Key: "id",
		},
		{
			URI: "tailops://stacks/{name}/status", Name: "stack-status", MIMEType: "application/json",
			Description: "A compose stack's services, containers, health and deployed commit (get_stack_status).",
			Tool:        "get_stack_status",
			Args:        func(v map[string]string) map[string]any { return map[string]any{"name": v["name"]} },
			Complete:    map[string]string{"name": "stack"},
		},
		{
			URI: "tailops://stacks/{name}/compose", Name: "stack-compose", MIMEType: "application/yaml",
			Description: "A compose stack's resolved configuration in YAML, secrets redacted as deploy_stack's plan redacts them (get_stack_compose).",
			Tool:        "get_stack_compose",
			Args:        func(v map[string]string) map[string]any { return map[string]any{"name": v["name"]} },
			Complete:    map[string]string{"name": "stack"},
		},
		{
			URI: "tailops://services/{unit}/journal", Name: "service-journal", MIMEType: "text/plain",
			Description: "A systemd unit's recent journal entries (get_journal).",
			Tool:        "get_journal",
			Args:        func(v map[string]string) map[string]any { return map[string]any{"unit": v["unit"]} },
			Complete:    map[string]string{"unit": "unit"},
		},
		{
			URI: "tailops://audit/recent", Name: "audit-recent", MIMEType: "application/json",
			Description: "The newest 50 records of TailOps' audit log, oldest first, for an admin (get_audit_records).",
			Tool:        "get_audit_records",
		},
		{
			URI: "file:///{+path}", Name: "file", MIMEType: "text/plain",
			Description: "A file under the file roots, as read_file reads it (offset, limit and encoding as read_file takes them; without, its first 64 KiB as text; the deny-list applies).",
			Tool:        "read_file",
			Args:        func(v map[string]string) map[string]any { return map[string]any{"path": "/" + v["path"]} },
			Query:       fileQuery,
			Link: func(a map[string]any) (map[string]string, bool) {
				p, _ := a["path"].(string)
				rel, ok := strings.CutPrefix(p, "/")
				return withQuery(map[string]string{"path": rel}, a, fileQuery), ok // a relative path is the first root's: no URI names it
			},
		},
	}
}

// The tools' arguments the views' queries set.
var (
	logsQuery = []string{"tail", "since", "timestamps", "stream", "max_bytes"}
	fileQuery = []string{"offset", "limit", "encoding"}
)

// withQuery adds to vars the arguments of a call that names sets, as a
// URI's query spells them.
func withQuery(vars map[string]string, args map[string]any, names []string) map[string]string {
	for _, n := range names {
		switch x := args[n].(type) {
		case string:
			vars[n] = x
		case bool:
			vars[n] = strconv.FormatBool(x)
		case float64:
			vars[n] = strconv.FormatFloat(x, 'f', -1, 64)
		case int:
			vars[n] = strconv.Itoa(x)
		case int64:
			vars[n] = strconv.FormatInt(x, 10)
		}
	}
	return vars
}
