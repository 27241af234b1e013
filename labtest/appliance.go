// SPDX-License-Identifier: Apache-2.0

package labtest

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/image"
)

// ApplianceUID is the uid and gid the appliance image runs as, as in
// nix/image.nix.
const ApplianceUID = 65532

// ApplianceStateDir is the appliance's state directory and volume.
const ApplianceStateDir = "/var/lib/tailops"

// ApplianceBinary is where the image holds the tailops binary: the Nix
// image has it at /bin/tailops (a link into the store, from `contents`).
const ApplianceBinary = "/bin/tailops"

// Appliance describes the appliance image built without Nix: the same
// files as nix/image.nix's streamLayeredImage, with the store paths
// replaced by plain files at the paths the Nix image links to them from.
type Appliance struct {
	// Name is the reference to tag the image with, such as tailops:test.
	Name string
	// Binary is the static tailops binary on the host.
	Binary string
	// SBOM is the binary's CycloneDX SBOM on the host; empty leaves
	// /usr/share/doc/tailops/sbom.cdx.json out.
	SBOM string
	// Version is the org.opencontainers.image.version label.
	Version string
	// CABundle is the CA bundle to copy; empty means the host's
	// /etc/ssl/certs/ca-certificates.crt (Nix: cacert's ca-bundle.crt).
	CABundle string
}

// appliancePasswd and applianceGroup are nix/image.nix's, byte for byte.
const (
	appliancePasswd = "root:x:0:0:root:/var/empty:/sbin/nologin\n" +
		"tailops:x:65532:65532:tailops:/var/lib/tailops:/sbin/nologin\n"
	applianceGroup = "root:x:0:\ntailops:x:65532:\n"
	applianceNSS   = "hosts: files dns\n"
)

// Changes are the image configuration of nix/image.nix as `docker
// import` changes: entry point (the binary; `docker run IMAGE sandbox
// check` runs that command), default command (serve as a tsnet node),
// user, working directory, environment, volume and labels.
func (a Appliance) Changes() []string {
	changes := []string{
		`ENTRYPOINT ["` + ApplianceBinary + `"]`,
		`CMD ["serve","--tailnet","tsnet"]`,
		fmt.Sprintf("USER %d:%d", ApplianceUID, ApplianceUID),
		"WORKDIR " + ApplianceStateDir,
		"ENV TAILOPS_STATE_DIR=" + ApplianceStateDir,
		"ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
		"ENV TZ=UTC",
		"VOLUME " + ApplianceStateDir,
		"LABEL org.opencontainers.image.title=tailops",
		"LABEL org.opencontainers.image.source=https://github.com/tailops/tailops",
		"LABEL org.opencontainers.image.licenses=Apache-2.0",
	}
	if a.Version != "" {
		changes = append(changes, "LABEL org.opencontainers.image.version="+a.Version)
	}
	return changes
}

// applianceTime is every entry's modification time: the Nix image's
// (1970-01-01T00:00:01Z), so the layer does not depend on the clock.
var applianceTime = time.Unix(1, 0)

// WriteRootfs writes the appliance's root file system as a tar stream:
// exactly the Nix image's files, and nothing else (no shell, no libc, no
// package manager).
func (a Appliance) WriteRootfs(w io.Writer) error {
	ca := a.CABundle
	if ca == "" {
		ca = "/etc/ssl/certs/ca-certificates.crt"
	}
	if err := checkStatic(a.Binary); err != nil {
		return fmt.Errorf("the appliance needs a static binary (make release): %w", err)
	}
	tw := tar.NewWriter(w)
	hdr := func(h *tar.Header) error {
		h.ModTime, h.Format = applianceTime, tar.FormatPAX
		return tw.WriteHeader(h)
	}
	dir := func(name string, mode int64, uid int) error {
		return hdr(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, Uid: uid, Gid: uid})
	}
	data := func(name string, mode int64, b []byte) error {
		if err := hdr(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(b))}); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	file := func(name string, mode int64, src string) error {
		b, err := os.ReadFile(src)
		if err != nil {
			return fmt.Errorf("appliance rootfs: %w", err)
		}
		return data(name, mode, b)
	}
	link := func(name, target string) error {
		return hdr(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777})
	}

	for _, d := range []string{"bin", "etc", "etc/ssl", "etc/ssl/certs", "usr", "usr/share", "usr/share/doc",
		"usr/share/doc/tailops", "var", "var/lib"} {
		if err := dir(d, 0o755, 0); err != nil {
			return err
		}
	}
	// Store files are read-only: r-xr-xr-x for the binary.
	if err := file(strings.TrimPrefix(ApplianceBinary, "/"), 0o555, a.Binary); err != nil {
		return err
	}
	if err := data("etc/passwd", 0o644, []byte(appliancePasswd)); err != nil {
		return err
	}
	if err := data("etc/group", 0o644, []byte(applianceGroup)); err != nil {
		return err
	}
	if err := data("etc/nsswitch.conf", 0o644, []byte(applianceNSS)); err != nil {
		return err
	}
	if err := file("etc/ssl/certs/ca-certificates.crt", 0o444, ca); err != nil {
		return err
	}
	if err := link("etc/ssl/cert.pem", "certs/ca-certificates.crt"); err != nil {
		return err
	}
	if a.SBOM != "" {
		if err := file("usr/share/doc/tailops/sbom.cdx.json", 0o444, a.SBOM); err != nil {
			return err
		}
	}
	if err := dir("tmp", 0o1777, 0); err != nil {
		return err
	}
	if err := dir(strings.TrimPrefix(ApplianceStateDir, "/"), 0o700, ApplianceUID); err != nil {
		return err
	}
	return tw.Close()
}

// ApplianceImage imports the appliance image a describes and returns its
// id; a missing component fails the test.
func (d *Dockerd) ApplianceImage(t testing.TB, a Appliance) string {
	t.Helper()
	var buf bytes.Buffer
	if err := a.WriteRootfs(&buf); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rc, err := d.cli.ImageImport(ctx, image.ImportSource{Source: &buf, SourceName: "-"}, a.Name,
		image.ImportOptions{Changes: a.Changes()})
	if err != nil {
		t.Fatalf("importing %s: %v", a.Name, err)
	}
	if err := drainMessages(rc); err != nil {
		t.Fatalf("importing %s: %v", a.Name, err)
	}
	ins, err := d.cli.ImageInspect(ctx, a.Name)
	if err != nil {
		t.Fatalf("inspecting imported %s: %v", a.Name, err)
	}
	return ins.ID
}
