# SPDX-License-Identifier: Apache-2.0
#
# A CycloneDX SBOM of the modules compiled into the tailops binary, read
# from its embedded build information (`cyclonedx-gomod bin`), as
# `make release` does. No serial number and no timestamp, so it is
# reproducible; it differs from the Makefile's only where the inputs do (the
# binary's hashes, the Go version and the cyclonedx-gomod version).
{
  lib,
  runCommand,
  cyclonedx-gomod,
  go,
  jq,
  tailops,
}:

let
  # Go-style version for release numbers (1.2.3 -> v1.2.3), as the Makefile.
  sbomVersion =
    if builtins.match "[0-9].*[.].*" tailops.version != null then
      "v${tailops.version}"
    else
      tailops.version;
in
runCommand "tailops-${tailops.version}.cdx.json"
  {
    nativeBuildInputs = [
      cyclonedx-gomod
      go # `cyclonedx-gomod bin` reads the build information with `go version -m`
      jq
    ];
    env = {
      GOTOOLCHAIN = "local";
      GOFLAGS = "";
    };
    meta.description = "CycloneDX SBOM of tailops ${tailops.version}";
  }
  ''
    export HOME=$TMPDIR GOCACHE=$TMPDIR/go-cache
    cyclonedx-gomod bin -json -noserial \
      -version ${lib.escapeShellArg sbomVersion} \
      -output sbom.json ${lib.getExe tailops}
    # Drop what is not a function of the inputs, whatever the tool version.
    jq 'del(.serialNumber) | del(.metadata.timestamp)' sbom.json > $out
  ''
