# SPDX-License-Identifier: Apache-2.0
#
# The OCI image: the static tailops binary (time zones inside it), a CA
# bundle, its SBOM and passwd/group entries for uid/gid 65532. No shell, no package
# manager. `nix build .#image` gives a script that streams the image:
#   $(nix build --print-out-paths .#image) | docker load
{
  lib,
  dockerTools,
  cacert,
  tailops,
  sbom,
  revision ? "unknown",
}:

let
  uid = "65532";
  stateDir = "/var/lib/tailops";
  caBundle = "${cacert}/etc/ssl/certs/ca-bundle.crt";
in
dockerTools.streamLayeredImage {
  name = "tailops";
  tag = tailops.version;

  contents = [ tailops ];

  # Runs as fake root in the image's root directory (the customisation layer).
  fakeRootCommands = ''
    mkdir -p etc/ssl/certs usr/share/doc/tailops tmp .${stateDir}
    chmod 1777 tmp

    cat > etc/passwd <<'EOF'
    root:x:0:0:root:/var/empty:/sbin/nologin
    tailops:x:${uid}:${uid}:tailops:${stateDir}:/sbin/nologin
    EOF
    cat > etc/group <<'EOF'
    root:x:0:
    tailops:x:${uid}:
    EOF
    echo 'hosts: files dns' > etc/nsswitch.conf

    # Go and other clients look for these paths; SSL_CERT_FILE below points
    # at the store path, which the Landlock policy follows. Time zones are
    # in the binary (time/tzdata).
    ln -s ${caBundle} etc/ssl/certs/ca-certificates.crt
    ln -s ${caBundle} etc/ssl/cert.pem

    cp ${sbom} usr/share/doc/tailops/sbom.cdx.json

    chown ${uid}:${uid} .${stateDir}
    chmod 0700 .${stateDir}
  '';

  config = {
    # The binary is the entry point, so that `docker run IMAGE sandbox
    # check` (or `token mint`) runs that command; serving is the default.
    Entrypoint = [ (lib.getExe tailops) ];
    Cmd = [
      "serve"
      "--tailnet"
      "tsnet"
    ];
    User = "${uid}:${uid}";
    WorkingDir = stateDir;
    Env = [
      "TAILOPS_STATE_DIR=${stateDir}"
      "SSL_CERT_FILE=${caBundle}"
      "TZ=UTC"
    ];
    Volumes = {
      ${stateDir} = { };
    };
    Labels = {
      "org.opencontainers.image.title" = "tailops";
      "org.opencontainers.image.description" = tailops.meta.description;
      "org.opencontainers.image.source" = "https://github.com/tailops/tailops";
      "org.opencontainers.image.revision" = revision;
      "org.opencontainers.image.version" = tailops.version;
      "org.opencontainers.image.licenses" = "Apache-2.0";
    };
  };
}
