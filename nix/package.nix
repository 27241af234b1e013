# SPDX-License-Identifier: Apache-2.0
#
# tailops as a static binary: cgo with a static libseccomp and static glibc,
# built with the flags of the documented reproducible release build
# (`make release`): -tags netgo,osusergo,timetzdata plus the Tailscale feature tags of
# tailscale.tags, -trimpath, no VCS stamp, an empty
# Go build id, external linking with -static. buildGoModule adds -trimpath
# and -buildid= itself.
{
  lib,
  buildGo126Module,
  glibc,
  libseccomp,
  pkg-config,
  removeReferencesTo,
  versionCheckHook,
  version,
  commit ? "unknown",
}:

let
  # nixpkgs builds libseccomp shared-only; libseccomp-golang links it
  # through cgo (pkg-config libseccomp), so keep the static archive too.
  libseccompStatic = libseccomp.overrideAttrs {
    dontDisableStatic = true;
    doCheck = false;
  };
in
buildGo126Module {
  pname = "tailops";
  inherit version;

  # The Go module only: go.mod, go.sum, every .go file (tests too, since
  # `go mod vendor` also vendors what tests import) and the files embedded. .ci/repro.sh and
  # nix/update-vendor-hash.sh vendor exactly this file set.
  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      ../go.mod
      ../go.sum
      (lib.fileset.fileFilter (file: file.hasExt "go") ../.)
      # Files the code embeds (//go:embed); .ci/nix-check.sh checks the list.
      ../tools/secrets/rules/gitleaks.toml
      ../tools/schemas.json.gz
    ];
  };

  # The NAR hash of `go mod vendor`; nix/update-vendor-hash.sh rewrites this
  # line and .ci/nix-check.sh fails when it is stale.
  vendorHash = "sha256-A/cq1AwMT0wm3aguFH9VGNhWUlhjhEK4Kn4C0hqTft0=";

  subPackages = [ "." ];

  env.CGO_ENABLED = 1;
  # The Makefile's GO_EXPERIMENT (.ci/nix-check.sh compares): encoding/json
  # runs on Go's encoding/json/v2.
  env.GOEXPERIMENT = "jsonv2";
  # netgo,osusergo,timetzdata, tailops_noinfer (the tools' schemas from
  # tools/schemas.json.gz only) and the Tailscale features TailOps leaves
  # out (../tailscale.tags): the Makefile's RELEASE_TAGS, in the same order.
  tags = [
    "netgo"
    "osusergo"
    "timetzdata"
    "tailops_noinfer"
  ]
  ++ import ./tailscale-tags.nix;
  ldflags = [
    "-s"
    "-w"
    "-linkmode=external"
    "-extldflags=-static"
    "-X main.version=${version}"
    "-X main.commit=${commit}"
  ];
  # -buildmode=pie with -static would need static-pie; the release is a
  # plain static executable.
  hardeningDisable = [ "pie" ];

  nativeBuildInputs = [
    pkg-config
    removeReferencesTo
  ];
  buildInputs = [
    libseccompStatic
    glibc.static
  ];

  # Static glibc keeps its own store path in strings (locale and gconv
  # directories) that tailops never uses; drop the reference so the closure
  # is the binary alone.
  postFixup = ''
    remove-references-to -t ${glibc} -t ${glibc.static} $out/bin/tailops
  '';

  # The tests need a kernel sandbox, loopback servers and Node; CI runs them
  # (.ci/test.sh) and checks.vm runs the binary under the NixOS module.
  doCheck = false;

  doInstallCheck = true;
  nativeInstallCheckInputs = [ versionCheckHook ];
  versionCheckProgramArg = "version";
  postInstallCheck = ''
    if readelf -lW $out/bin/tailops | grep -q INTERP; then
      echo "tailops is not statically linked" >&2
      exit 1
    fi
  '';

  meta = {
    description = "MCP server for operating a homelab host over Tailscale, authenticated, scoped, audited and sandboxed";
    homepage = "https://github.com/tailops/tailops";
    license = lib.licenses.asl20;
    mainProgram = "tailops";
    platforms = [
      "x86_64-linux"
      "aarch64-linux"
    ];
  };
}
