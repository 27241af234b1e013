// SPDX-License-Identifier: Apache-2.0

package prompts

import "strings"

// workflows are the prompts: the original TailOpsMCP's nine, rewritten
// for TailOps' tools, with troubleshoot_service and update_everything.
var workflows = []workflow{
	{
		name: "security_audit", title: "Security audit",
		desc:     "Audit the host's security: exposed ports, firewall, vulnerable and outdated packages, leaked secrets in logs, risky containers.",
		args:     []arg{{name: "path", desc: "a directory under a file root to scan for secrets (default: every file root)"}},
		uses:     []string{"get_network_status", "check_vulnerabilities", "check_updates", "scan_secrets", "list_containers", "inspect_container"},
		optional: []string{"get_firewall_rules"},
		steps: func(a map[string]string, has func(string) bool) string {
			scan := "each file root"
			if p := a["path"]; p != "" {
				scan = quote(p)
			}
			return lines(
				"Audit this host's security with TailOps, read-only, and report findings by severity (critical, high, medium, low), each with the evidence and a concrete fix.",
				"1. get_network_status: list the listening sockets; flag any service bound to every interface that need not be.",
				firewall(has, "2. get_firewall_rules: check the input policy and whether the listening ports are reachable from outside the tailnet."),
				"3. check_vulnerabilities (fixed_only: true first, then all with min_urgency: high) and check_updates (security_only: true): name the packages to upgrade first.",
				"4. scan_secrets on "+scan+": report each finding by file and rule, never repeating the secret.",
				"5. list_containers, then inspect_container on each running one: flag privileged containers, host networking, the Docker socket mounted, and images without a tag or digest.",
				"Change nothing: end with a prioritised plan the operator can approve step by step.")
		},
	},
	{
		name: "health_check", title: "Host health check",
		desc: "Check the host's health: load, memory, disk, failed services, unhealthy containers, recent errors.",
		uses: []string{"health_check", "get_system_status", "get_top_processes", "list_services", "list_containers", "get_journal"},
		steps: func(map[string]string, func(string) bool) string {
			return lines(
				"Check this host's health with TailOps and give a short status (OK, warning, critical) for each area, then what needs attention.",
				"1. health_check and get_system_status: CPU load against cores, memory and swap, each disk's use (warn above 80 %, critical above 90 %), uptime.",
				"2. get_top_processes (sort_by: cpu, then memory): anything unexpected or runaway.",
				"3. list_services with state: failed.",
				"4. list_containers (all: true): containers exited with an error, restarting or unhealthy.",
				"5. get_journal with priority: err and since: -1h: recurring errors, grouped.")
		},
	},
	{
		name: "troubleshoot_container", title: "Troubleshoot a container",
		desc: "Find out why a container is failing, restarting or misbehaving, and propose a fix.",
		args: []arg{{name: "container", desc: "the container's name or id", required: true, complete: KindContainer}},
		uses: []string{"inspect_container", "get_container_logs", "get_container_stats", "list_containers", "test_port_connectivity"},
		steps: func(a map[string]string, _ func(string) bool) string {
			c := quote(a["container"])
			return lines(
				"Troubleshoot the container "+c+" with TailOps.",
				"1. inspect_container "+c+": state, exit code, OOM kill, restart count, health check results, mounts, networks, ports, image.",
				"2. get_container_logs "+c+" (tail: 200, timestamps: true): the first error and what led to it.",
				"3. get_container_stats "+c+": memory against its limit, CPU.",
				"4. list_containers: does it depend on another container that is down (same compose project)?",
				"5. test_port_connectivity on its published ports, from the host.",
				"Explain the cause with the evidence, then propose the smallest fix. Restarting or changing it is a separate, approved step: propose it, do not do it.")
		},
	},
	{
		name: "troubleshoot_service", title: "Troubleshoot a service",
		desc: "Find out why a systemd service is failing or misbehaving, and propose a fix.",
		args: []arg{{name: "unit", desc: "the unit, such as nginx.service", required: true, complete: KindUnit}},
		uses: []string{"get_service_status", "get_journal", "get_network_status", "get_system_status"},
		steps: func(a map[string]string, _ func(string) bool) string {
			u := quote(a["unit"])
			return lines(
				"Troubleshoot the systemd unit "+u+" with TailOps.",
				"1. get_service_status "+u+": active state, sub-state, result, exit status, restarts, its recent log lines.",
				"2. get_journal with unit: "+u+" and since: -1h (then priority: warning): the first failure and what led to it.",
				"3. get_network_status: is its port already taken by another process?",
				"4. get_system_status: is the disk or memory full?",
				"Explain the cause with the evidence, then propose the fix. Restarting it is a separate, approved step: propose it, do not do it.")
		},
	},
	{
		name: "performance_analysis", title: "Performance analysis",
		desc: "Analyse the host's performance: CPU, memory, disk and network, the processes and containers behind them.",
		uses: []string{"get_system_status", "get_top_processes", "get_network_io_counters", "list_containers", "get_container_stats"},
		steps: func(map[string]string, func(string) bool) string {
			return lines(
				"Analyse this host's performance with TailOps.",
				"1. get_system_status: load averages against the cores, memory and swap, disk use.",
				"2. get_top_processes, sorted by cpu and by memory: the top consumers.",
				"3. get_network_io_counters twice, a few seconds apart: throughput, errors and drops per interface.",
				"4. list_containers, then get_container_stats on the running ones: which containers use the most.",
				"Name the bottleneck, if any, with numbers, and suggest changes in order of impact.")
		},
	},
	{
		name: "network_audit", title: "Network audit",
		desc:     "Audit the host's network: interfaces, listening services, connections, firewall, DNS and reachability.",
		args:     []arg{{name: "host", desc: "a host to test reachability and DNS against (default: none)"}},
		uses:     []string{"get_network_status", "get_active_connections", "dns_lookup", "ping_host", "test_port_connectivity"},
		optional: []string{"get_firewall_rules"},
		steps: func(a map[string]string, has func(string) bool) string {
			target := ""
			if h := a["host"]; h != "" {
				target = "4. dns_lookup, ping_host and test_port_connectivity against " + quote(h) + ": resolution, latency, loss, open ports."
			} else {
				target = "4. No target host was given: skip reachability tests."
			}
			return lines(
				"Audit this host's network with TailOps, read-only.",
				"1. get_network_status: interfaces, addresses, listening sockets and the processes behind them.",
				"2. get_active_connections: established connections; flag unexpected remote peers.",
				firewall(has, "3. get_firewall_rules: is each listening port meant to be reachable, and from where?"),
				target,
				"Report what is exposed, what is unexpected, and what to change.")
		},
	},
	{
		name: "plan_stack_deployment", title: "Plan a stack deployment",
		desc: "Plan deploying a compose stack from a git repository: what it will run, what the policy will refuse, what approval is needed.",
		args: []arg{
			{name: "repo_url", desc: "the git repository (https:// or ssh://, its host on git_hosts)", required: true},
			{name: "stack", desc: "the stack's name", required: true, complete: KindStack},
		},
		uses: []string{"list_stacks", "get_stack_status", "get_stack_history", "list_containers", "get_network_status", "get_system_status", "deploy_stack"},
		steps: func(a map[string]string, _ func(string) bool) string {
			s, r := quote(a["stack"]), quote(a["repo_url"])
			return lines(
				"Plan deploying the stack "+s+" from "+r+" with TailOps.",
				"1. list_stacks: does "+s+" exist already (managed or external)? If so, get_stack_status and get_stack_history "+s+": this is an update, not a new deployment.",
				"2. get_network_status and list_containers: which host ports are taken; would the stack's published ports clash?",
				"3. get_system_status: is there disk and memory for its images and volumes?",
				"4. Present the plan: deploy_stack with name "+s+", repo "+r+", the ref (a tag or commit, rather than a branch, so the deployment is reproducible) and the compose file's path.",
				"deploy_stack is critical: it waits for a person's approval, which shows the resolved configuration and the commit. Call it only when the operator agrees to the plan.")
		},
	},
	{
		name: "investigate_high_usage", title: "Investigate high resource usage",
		desc: "Find what is using the CPU, memory or disk, and whether it is expected.",
		args: []arg{{name: "resource", desc: "cpu, memory or disk (default: all three)"}},
		uses: []string{"get_system_status", "get_top_processes", "list_containers", "get_container_stats", "get_journal", "list_directory"},
		steps: func(a map[string]string, _ func(string) bool) string {
			what := "CPU, memory and disk"
			if r := a["resource"]; r != "" {
				what = quote(r)
			}
			return lines(
				"Find what drives high "+what+" usage on this host with TailOps.",
				"1. get_system_status: how high, against capacity.",
				"2. get_top_processes (sort_by the resource): the top processes, their users and command lines.",
				"3. list_containers, then get_container_stats: is a container behind it?",
				"4. For disk: list_directory with details on the file roots (logs are the usual culprit).",
				"5. get_journal (since: -1h): the OOM killer, I/O errors, crash loops.",
				"Say whether the usage is expected, what causes it, and what would bring it down.")
		},
	},
	{
		name: "backup_planning", title: "Plan backups",
		desc: "Inventory what on this host holds data worth backing up (volumes, bind mounts, stacks, databases) and propose a backup plan.",
		uses: []string{"get_inventory", "list_volumes", "list_containers", "inspect_container", "list_stacks"},
		steps: func(map[string]string, func(string) bool) string {
			return lines(
				"Plan this host's backups with TailOps, read-only.",
				"1. get_inventory: the host, its services, containers, stacks and packages.",
				"2. list_volumes, then list_containers and inspect_container: which volume and bind mount each container writes, and which hold databases.",
				"3. list_stacks: each stack's source (git or a stacks directory) is its configuration's backup; their .env files and volumes are not.",
				"Propose what to back up, how often, how to make database dumps consistent, and how to test a restore.")
		},
	},
	{
		name: "setup_inventory", title: "Inventory the host",
		desc: "Build an inventory of the host: system, services, containers, stacks, packages, listening ports.",
		uses: []string{"get_inventory", "get_network_status"},
		steps: func(map[string]string, func(string) bool) string {
			return lines(
				"Build an inventory of this host with TailOps.",
				"1. get_inventory: every part (system, listening, containers, stacks, services, packages).",
				"2. get_network_status: map each listening port to its service or container.",
				"Present it as a table per area, and note anything undocumented or unexpected.")
		},
	},
	{
		name: "update_everything", title: "Update everything, safely",
		desc: "Bring the host up to date in a safe order: packages, container images, stacks — each change approved, each checked after.",
		uses: []string{"health_check", "check_updates", "upgrade_packages", "check_image_updates", "list_stacks", "update_stack", "update_container", "list_containers", "list_services"},
		steps: func(map[string]string, func(string) bool) string {
			return lines(
				"Update this host with TailOps, in a safe order, one approved step at a time.",
				"1. health_check, list_services (state: failed) and list_containers: note what is already broken, so an update is not blamed for it.",
				"2. check_updates: list the pending package updates, security ones first. upgrade_packages (critical: it waits for approval), then check health again.",
				"3. check_image_updates: which containers and stacks have newer images.",
				"4. For each stack with updates (list_stacks): update_stack (critical; it pulls, recreates what changed, and rolls back by itself if the update fails). For a container outside a stack: update_container.",
				"5. After each step: health_check and list_containers; stop at the first failure and report it.",
				"Never update more than one thing before checking it. Report what was updated, what was held back, and why.")
		},
	},
}

// firewall is step when the caller may read the firewall, and a note
// that it cannot otherwise.
func firewall(has func(string) bool, step string) string {
	if has("get_firewall_rules") {
		return step
	}
	n, _, _ := strings.Cut(step, " ")
	return n + " The firewall tools are not yours on this server (they need --firewall and security:read): say the firewall was not checked."
}

// lines joins a plan's lines.
func lines(l ...string) string { return strings.Join(l, "\n") }
