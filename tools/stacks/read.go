// SPDX-License-Identifier: Apache-2.0

package stacks

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/docker/compose/v5/pkg/api"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/tailops/tailops/tools"
)

// StackList is list_stacks's output.
type StackList struct {
	Count  int            `json:"count"`
	Stacks []StackSummary `json:"stacks"`
}

// StackSummary is one stack in a list.
type StackSummary struct {
	Name       string `json:"name"`
	Managed    bool   `json:"managed" jsonschema_description:"deployed from (or waiting in) a stack root, or deployed from git; external projects can only be read"`
	Source     string `json:"source" jsonschema_description:"stack_root or git for a managed stack, external otherwise"`
	Path       string `json:"path,omitempty" jsonschema_description:"the compose file, for a managed stack"`
	Repo       string `json:"repo,omitempty" jsonschema_description:"for a git stack: the repository URL"`
	Status     string `json:"status" jsonschema_description:"container states with counts, such as running(2), exited(1); not deployed when none exists"`
	Containers int    `json:"containers"`
	Running    int    `json:"running"`
}

// projectContainers returns the containers of every compose project (or
// of project name when not empty), running or not, by project.
func (t *Toolset) projectContainers(ctx context.Context, name string) (map[string][]container.Summary, error) {
	cli, err := t.eng.client()
	if err != nil {
		return nil, err
	}
	label := api.ProjectLabel
	if name != "" {
		label += "=" + name
	}
	res, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", label)})
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	out := map[string][]container.Summary{}
	for _, c := range res.Items {
		if c.Labels[api.OneoffLabel] == "True" {
			continue
		}
		p := c.Labels[api.ProjectLabel]
		out[p] = append(out[p], c)
	}
	return out, nil
}

// managedBy returns the disk stack a project's containers come from: the
// stack root's stack of that name, every container created in its
// directory (compose's working_dir label). A project of the same name
// from elsewhere is external.
func managedBy(disk map[string]diskStack, name string, cs []container.Summary) (diskStack, bool) {
	s, ok := disk[name]
	if !ok {
		return s, false
	}
	for _, c := range cs {
		if wd := c.Labels[api.WorkingDirLabel]; wd == "" || filepath.Clean(wd) != s.dir {
			return s, false
		}
	}
	return s, true
}

func (t *Toolset) diskByName() (map[string]diskStack, error) {
	list, err := diskStacks(t.cfg.StackRoots)
	if err != nil {
		return nil, err
	}
	m := make(map[string]diskStack, len(list))
	for _, s := range list {
		m[s.name] = s
	}
	return m, nil
}

func (t *Toolset) listStacks(ctx context.Context, _ tools.NoArgs) (StackList, error) {
	disk, err := t.diskByName()
	if err != nil {
		return StackList{}, err
	}
	projects, err := t.projectContainers(ctx, "")
	if err != nil {
		return StackList{}, err
	}
	out := StackList{Stacks: []StackSummary{}}
	for name, cs := range projects {
		s := StackSummary{Name: name, Source: "external", Containers: len(cs), Status: states(cs)}
		if d, git, ok := t.managedStack(disk, name, cs); ok {
			s.Managed, s.Source, s.Path = true, "stack_root", d.file
			if git != nil {
				s.Source, s.Repo = "git", git.Repo
			}
		}
		for _, c := range cs {
			if c.State == container.StateRunning {
				s.Running++
			}
		}
		out.Stacks = append(out.Stacks, s)
	}
	for name, d := range disk {
		if _, ok := projects[name]; !ok {
			out.Stacks = append(out.Stacks, StackSummary{Name: name, Managed: true, Source: "stack_root", Path: d.file, Status: "not deployed"})
		}
	}
	sort.Slice(out.Stacks, func(i, j int) bool {
		a, b := out.Stacks[i], out.Stacks[j]
		return a.Name < b.Name || (a.Name == b.Name && a.Source < b.Source)
	})
	out.Count = len(out.Stacks)
	return out, nil
}

// states summarises container states as compose ls does: running(2), exited(1).
func states(cs []container.Summary) string {
	n := map[string]int{}
	for _, c := range cs {
		n[string(c.State)]++
	}
	var parts []string
	for _, st := range sortedKeys(n) {
		parts = append(parts, fmt.Sprintf("%s(%d)", st, n[st]))
	}
	return strings.Join(parts, ", ")
}

// StackStatus is get_stack_status's output.
type StackStatus struct {
	Name    string `json:"name"`
	Managed bool   `json:"managed"`
	Path    string `json:"path,omitempty" jsonschema_description:"the compose file, for a managed stack"`
	Repo    string `json:"repo,omitempty" jsonschema_description:"for a git stack: the repository URL"`
	Ref     string `json:"ref,omitempty" jsonschema_description:"for a git stack: the ref deployed (empty: the remote's HEAD)"`
	Commit  string `json:"commit,omitempty" jsonschema_description:"for a git stack: the commit deployed"`
	// RemoteCommit and RemoteMoved say where the remote's ref is now.
	RemoteCommit string          `json:"remote_commit,omitempty" jsonschema_description:"for a git stack: the commit the ref names on the remote now"`
	RemoteMoved  bool            `json:"remote_moved,omitempty" jsonschema_description:"for a git stack: the remote's ref names another commit than the one deployed (update_stack deploys it)"`
	Note         string          `json:"note,omitempty" jsonschema_description:"why remote_commit is missing, when the remote could not be asked"`
	Status       string          `json:"status"`
	Services     []ServiceStatus `json:"services"`
	Networks     []string        `json:"networks" jsonschema_description:"the project's networks"`
	Volumes      []string        `json:"volumes" jsonschema_description:"the project's volumes"`
}

// ServiceStatus is one service and its containers.
type ServiceStatus struct {
	Name       string            `json:"name"`
	Containers []ContainerStatus `json:"containers"`
}

// ContainerStatus is one container of a service.
type ContainerStatus struct {
	Name         string   `json:"name"`
	ID           string   `json:"id"`
	State        string   `json:"state"`
	Status       string   `json:"status"`
	Health       string   `json:"health,omitempty" jsonschema_description:"starting, healthy or unhealthy, for a container with a health check"`
	Image        string   `json:"image"`
	ImageID      string   `json:"image_id"`
	ImageDigests []string `json:"image_digests" jsonschema_description:"the image's repository digests (none for a local image)"`
	Ports        []Port   `json:"ports"`
	Networks     []string `json:"networks"`
}

// Port is a container port and where it is published.
type Port struct {
	Private  uint16 `json:"private"`
	Protocol string `json:"protocol"`
	HostIP   string `json:"host_ip,omitempty"`
	Public   uint16 `json:"public,omitempty"`
}

func (t *Toolset) stackStatus(ctx context.Context, in NameArg) (StackStatus, error) {
	if err := checkName(in.Name); err != nil {
		return StackStatus{}, err
	}
	projects, err := t.projectContainers(ctx, in.Name)
	if err != nil {
		return StackStatus{}, err
	}
	cs := projects[in.Name]
	disk, err := t.diskByName()
	if err != nil {
		return StackStatus{}, err
	}
	out := StackStatus{Name: in.Name, Services: []ServiceStatus{}, Networks: []string{}, Volumes: []string{}, Status: states(cs)}
	d, git, managed := t.managedStack(disk, in.Name, cs)
	if managed {
		out.Managed, out.Path = true, d.file
	}
	if git != nil {
		out.Repo, out.Ref, out.Commit = git.Repo, git.Ref, git.Commit
		out.RemoteCommit, out.RemoteMoved, out.Note = t.remoteMoved(ctx, *git)
	}
	if len(cs) == 0 {
		if !managed {
			return out, fmt.Errorf("no compose project named %q on the engine or in the stack roots", in.Name)
		}
		out.Status = "not deployed"
		return out, nil
	}
	cli, err := t.eng.client()
	if err != nil {
		return out, err
	}
	digests := map[string][]string{}
	byService := map[string][]ContainerStatus{}
	for _, c := range cs {
		st := ContainerStatus{ID: c.ID, Name: strings.TrimPrefix(firstName(c.Names), "/"), State: string(c.State), Status: c.Status,
			Health: healthOf(c.Status), Image: c.Image, ImageID: c.ImageID, Ports: []Port{}, Networks: []string{}, ImageDigests: []string{}}
		for _, p := range c.Ports {
			host := ""
			if p.IP.IsValid() {
				host = p.IP.String()
			}
			st.Ports = append(st.Ports, Port{Private: p.PrivatePort, Protocol: p.Type, HostIP: host, Public: p.PublicPort})
		}
		if c.NetworkSettings != nil {
			st.Networks = sortedKeys(c.NetworkSettings.Networks)
		}
		if ds, ok := digests[c.ImageID]; ok {
			st.ImageDigests = ds
		} else if img, err := cli.ImageInspect(ctx, c.ImageID); err == nil {
			st.ImageDigests = append(st.ImageDigests, img.RepoDigests...)
			digests[c.ImageID] = st.ImageDigests
		}
		svc := c.Labels[api.ServiceLabel]
		byService[svc] = append(byService[svc], st)
	}
	for _, svc := range sortedKeys(byService) {
		list := byService[svc]
		sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
		out.Services = append(out.Services, ServiceStatus{Name: svc, Containers: list})
	}
	f := make(client.Filters).Add("label", api.ProjectLabel+"="+in.Name)
	if nets, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f}); err == nil {
		for _, n := range nets.Items {
			out.Networks = append(out.Networks, n.Name)
		}
		slices.Sort(out.Networks)
	}
	if vols, err := cli.VolumeList(ctx, client.VolumeListOptions{Filters: f}); err == nil {
		for _, v := range vols.Items {
			out.Volumes = append(out.Volumes, v.Name)
		}
		slices.Sort(out.Volumes)
	}
	return out, nil
}

func firstName(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return names[0]
}

// healthOf reads the health from the daemon's status text, "Up 5
// minutes (healthy)".
func healthOf(status string) string {
	for _, h := range []string{"health: starting", "unhealthy", "healthy"} {
		if strings.Contains(status, "("+h+")") {
			return strings.TrimPrefix(h, "health: ")
		}
	}
	return ""
}

// StackHistory is get_stack_history's output.
type StackHistory struct {
	Name        string       `json:"name"`
	Deployments []Deployment `json:"deployments" jsonschema_description:"oldest first"`
	Note        string       `json:"note,omitempty"`
}

func (t *Toolset) stackHistory(_ context.Context, in NameArg) (StackHistory, error) {
	if err := checkName(in.Name); err != nil {
		return StackHistory{}, err
	}
	out := StackHistory{Name: in.Name, Deployments: []Deployment{}}
	if t.hist.dir == "" {
		out.Note = "no history is kept: the server has no state directory"
		return out, nil
	}
	ds, err := t.hist.list(in.Name)
	if err != nil {
		return out, err
	}
	for _, d := range ds {
		out.Deployments = append(out.Deployments, d.public())
	}
	return out, nil
}
