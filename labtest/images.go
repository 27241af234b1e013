// SPDX-License-Identifier: Apache-2.0

package labtest

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"
)

// ImageSpec describes an image made locally, without a registry.
type ImageSpec struct {
	// Name is the reference to tag it with, such as local/busybox:latest.
	Name string
	// Busybox puts /bin/busybox (static) with a symlink per applet, an
	// /etc/passwd with root and nobody, and /tmp into the image.
	Busybox bool
	// Files are extra regular files, by path inside the image.
	Files map[string]string
	// Changes are Dockerfile instructions applied on import, such as
	// `CMD ["/bin/sh"]` or `ENV A=b`.
	Changes []string
}

// BusyboxImage imports a busybox image tagged name, with CMD /bin/sh and
// any further Dockerfile instructions in changes, and returns its id.
func (d *Dockerd) BusyboxImage(t testing.TB, name string, changes ...string) string {
	t.Helper()
	return d.Image(t, ImageSpec{Name: name, Busybox: true, Changes: append([]string{`CMD ["/bin/sh"]`}, changes...)})
}

// Image imports the image spec describes and returns its id.
func (d *Dockerd) Image(t testing.TB, spec ImageSpec) string {
	t.Helper()
	id, err := d.importImage(spec)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (d *Dockerd) importImage(spec ImageSpec) (string, error) {
	var buf bytes.Buffer
	if err := writeRootfs(&buf, spec); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rc, err := d.cli.ImageImport(ctx, image.ImportSource{Source: &buf, SourceName: "-"}, spec.Name, image.ImportOptions{Changes: spec.Changes})
	if err != nil {
		return "", fmt.Errorf("importing %s: %w", spec.Name, err)
	}
	if err := drainMessages(rc); err != nil {
		return "", fmt.Errorf("importing %s: %w", spec.Name, err)
	}
	ins, err := d.cli.ImageInspect(ctx, spec.Name)
	if err != nil {
		return "", fmt.Errorf("inspecting imported %s: %w", spec.Name, err)
	}
	return ins.ID, nil
}

// writeRootfs writes the image's root file system as a tar stream.
func writeRootfs(w io.Writer, spec ImageSpec) error {
	tw := tar.NewWriter(w)
	now := time.Now()
	dirs := map[string]bool{}
	dir := func(name string) error {
		if dirs[name] {
			return nil
		}
		dirs[name] = true
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: 0o755, ModTime: now})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: now}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	if spec.Busybox {
		bb, err := os.ReadFile(busyboxPath())
		if err != nil {
			return fmt.Errorf("reading busybox: %w", err)
		}
		applets, err := exec.Command(busyboxPath(), "--list").Output()
		if err != nil {
			return fmt.Errorf("listing busybox applets: %w", err)
		}
		for _, dn := range []string{"bin", "etc", "tmp", "root"} {
			if err := dir(dn); err != nil {
				return err
			}
		}
		if err := file("bin/busybox", 0o755, bb); err != nil {
			return err
		}
		for _, a := range strings.Fields(string(applets)) {
			if a == "busybox" {
				continue
			}
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: "bin/" + a, Linkname: "busybox", Mode: 0o777, ModTime: now}); err != nil {
				return err
			}
		}
		if err := file("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n")); err != nil {
			return err
		}
		if err := file("etc/group", 0o644, []byte("root:x:0:\nnogroup:x:65534:\n")); err != nil {
			return err
		}
	}
	names := make([]string, 0, len(spec.Files))
	for n := range spec.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		n2 := strings.TrimPrefix(n, "/")
		if i := strings.LastIndex(n2, "/"); i > 0 {
			parts := strings.Split(n2[:i], "/")
			for j := range parts {
				if err := dir(strings.Join(parts[:j+1], "/")); err != nil {
					return err
				}
			}
		}
		if err := file(n2, 0o644, []byte(spec.Files[n])); err != nil {
			return err
		}
	}
	return tw.Close()
}

// drainMessages reads a JSON message stream (import, push, pull) to its
// end and returns the first error it reports.
func drainMessages(rc io.ReadCloser) error {
	defer rc.Close()
	dec := json.NewDecoder(rc)
	for {
		var m struct {
			Error *struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
			ErrorMessage string `json:"error"`
		}
		if err := dec.Decode(&m); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("reading progress: %w", err)
		}
		if m.ErrorMessage != "" {
			return errors.New(m.ErrorMessage)
		}
		if m.Error != nil {
			return errors.New(m.Error.Message)
		}
	}
}

// RemoveImage removes an image reference (untagging it, and deleting
// the image when no other tag holds it); a missing one is not an error.
func (d *Dockerd) RemoveImage(t testing.TB, ref string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := d.cli.ImageRemove(ctx, ref, image.RemoveOptions{Force: true, PruneChildren: true}); err != nil && !strings.Contains(err.Error(), "No such image") {
		t.Fatalf("removing image %s: %v", ref, err)
	}
}
