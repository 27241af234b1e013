// SPDX-License-Identifier: Apache-2.0

package docker

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"

	"github.com/tailops/tailops/tools"
)

// Image update statuses.
const (
	UpdateCurrent   = "up_to_date"
	UpdateAvailable = "update_available"
	UpdatePinned    = "pinned"
	UpdateLocal     = "local_only"
	UpdateError     = "error"
)

// Bounds of check_image_updates.
const (
	updateChecksAtOnce = 4
	updateCheckTimeout = 20 * time.Second
)

// composeProjectLabel is the label Docker Compose puts on a stack's
// containers.
const composeProjectLabel = "com.docker.compose.project"

// projectName is a Compose project (stack) name.
var projectName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// ImageUpdatesArgs is check_image_updates's input.
type ImageUpdatesArgs struct {
	Container string `json:"container,omitempty" jsonschema_description:"only this container (name or id)"`
	Stack     string `json:"stack,omitempty" jsonschema_description:"only the containers of this compose project (stack)"`
}

// ImageUpdate is one running container's image, compared with its registry.
type ImageUpdate struct {
	Container string `json:"container"`
	Image     string `json:"image" jsonschema_description:"the image reference the container was created from"`
	Local     string `json:"local_digest,omitempty" jsonschema_description:"the registry digest of the image the container runs"`
	Remote    string `json:"remote_digest,omitempty" jsonschema_description:"the digest the registry has for the reference now"`
	Status    string `json:"status" jsonschema:"enum=up_to_date,enum=update_available,enum=pinned,enum=local_only,enum=error"`
	Detail    string `json:"detail,omitempty" jsonschema_description:"why, for pinned, local_only and error"`
}

// ImageUpdates is check_image_updates's output.
type ImageUpdates struct {
	Checked   int           `json:"checked" jsonschema_description:"running containers checked"`
	Available int           `json:"available" jsonschema_description:"of those, how many run an image the registry has a newer digest for"`
	Images    []ImageUpdate `json:"images"`
}

// checkImageUpdates compares, for running containers, the registry digest
// of the image each runs with the one its registry has for the same
// reference now (the daemon's distribution inspect: the manifest only,
// nothing is pulled).
func (e *engine) checkImageUpdates(ctx context.Context, in ImageUpdatesArgs) (ImageUpdates, error) {
	f := filters.NewArgs(filters.Arg("status", "running"))
	if in.Stack != "" {
		if !projectName.MatchString(in.Stack) {
			return ImageUpdates{}, tools.ArgErrorf("stack", "must be a compose project name (lower-case letters, digits, '_' and '-'), got %q", in.Stack)
		}
		f.Add("label", composeProjectLabel+"="+in.Stack)
	}
	cli, err := e.client()
	if err != nil {
		return ImageUpdates{}, err
	}
	if in.Container != "" {
		c, err := e.resolve(ctx, cli, in.Container)
		if err != nil {
			return ImageUpdates{}, err
		}
		f.Add("id", c.ID)
	}
	list, err := cli.ContainerList(ctx, container.ListOptions{Filters: f})
	if err != nil {
		return ImageUpdates{}, e.fail(err, "listing containers")
	}
	if len(list) == 0 && (in.Container != "" || in.Stack != "") {
		return ImageUpdates{}, fmt.Errorf("no running container matches %s", strings.TrimSpace(in.Container+" "+in.Stack))
	}
	out := ImageUpdates{Checked: len(list), Images: make([]ImageUpdate, len(list))}
	// One registry question per reference, however many containers run it.
	var mu sync.Mutex
	remote := map[string]*remoteDigest{}
	sem := make(chan struct{}, updateChecksAtOnce)
	var wg sync.WaitGroup
	for i, c := range list {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			out.Images[i] = e.imageUpdate(ctx, cli, c, func(ref string) *remoteDigest {
				mu.Lock()
				defer mu.Unlock()
				r, ok := remote[ref]
				if !ok {
					r = &remoteDigest{}
					remote[ref] = r
				}
				return r
			})
		})
	}
	wg.Wait()
	e.remember(list, out.Images)
	slices.SortFunc(out.Images, func(a, b ImageUpdate) int { return strings.Compare(a.Container, b.Container) })
	for _, u := range out.Images {
		if u.Status == UpdateAvailable {
			out.Available++
		}
	}
	return out, nil
}

// remoteDigest is a registry's digest for one reference, asked once.
type remoteDigest struct {
	once   sync.Once
	digest string
	err    error
}

// imageUpdate compares one container's image with its registry;
// digestOf returns the registry question for a reference, shared by the
// containers that run it.
func (e *engine) imageUpdate(ctx context.Context, cli *client.Client, c container.Summary, digestOf func(ref string) *remoteDigest) ImageUpdate {
	u := ImageUpdate{Container: summaryName(c), Image: c.Image}
	// The reference the container was created from: the list shows the
	// image's id instead once the tag has moved to another image here.
	ins, err := cli.ContainerInspect(ctx, c.ID)
	if err != nil {
		u.Status, u.Detail = UpdateError, e.fail(err, "inspecting the container").Error()
		return u
	}
	if ins.Config != nil && ins.Config.Image != "" {
		u.Image = ins.Config.Image
	}
	named, err := reference.ParseNormalizedNamed(u.Image)
	switch {
	case err != nil:
		u.Status, u.Detail = UpdateLocal, "the container was created from an image id, not a reference a registry knows"
		return u
	case isDigested(named):
		u.Status, u.Detail = UpdatePinned, "the reference names a digest: it cannot change"
		return u
	}
	img, err := cli.ImageInspect(ctx, c.ImageID)
	if err != nil {
		u.Status, u.Detail = UpdateError, e.fail(err, "inspecting the image").Error()
		return u
	}
	for _, rd := range img.RepoDigests {
		if d, err := reference.ParseNormalizedNamed(rd); err == nil && d.Name() == named.Name() && isDigested(d) {
			u.Local = d.(reference.Digested).Digest().String()
		}
	}
	if u.Local == "" {
		u.Status, u.Detail = UpdateLocal, "the image was built or loaded here: it has no digest from "+reference.Domain(named)
		return u
	}
	ref := reference.TagNameOnly(named).String()
	r := digestOf(ref)
	r.once.Do(func() {
		ctx, cancel := context.WithTimeout(ctx, updateCheckTimeout)
		defer cancel()
		di, err := cli.DistributionInspect(ctx, ref, "")
		if err != nil {
			r.err = e.fail(err, "asking "+reference.Domain(named)+" for "+reference.FamiliarString(named))
			return
		}
		r.digest = di.Descriptor.Digest.String()
	})
	switch {
	case r.err != nil:
		u.Status, u.Detail = UpdateError, r.err.Error()
	case r.digest == u.Local:
		u.Status, u.Remote = UpdateCurrent, r.digest
	default:
		u.Status, u.Remote = UpdateAvailable, r.digest
	}
	return u
}

// isDigested reports whether a reference names a digest.
func isDigested(n reference.Named) bool {
	_, ok := n.(reference.Digested)
	return ok
}

// remember keeps each container's status, by id, for get_inventory.
func (e *engine) remember(list []container.Summary, updates []ImageUpdate) {
	now := time.Now()
	e.checkedMu.Lock()
	defer e.checkedMu.Unlock()
	if e.checked == nil {
		e.checked = map[string]checkedUpdate{}
	}
	for i, c := range list {
		e.checked[c.ID] = checkedUpdate{status: updates[i].Status, at: now}
	}
}

// lastChecked returns the status check_image_updates last gave the
// container id, and when; ok is false when it has not checked it.
func (e *engine) lastChecked(id string) (status string, at time.Time, ok bool) {
	e.checkedMu.Lock()
	defer e.checkedMu.Unlock()
	c, ok := e.checked[id]
	return c.status, c.at, ok
}
