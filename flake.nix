# SPDX-License-Identifier: Apache-2.0
{
  description = "TailOps: an MCP server for operating a homelab host over Tailscale";

  # The only input: a NixOS release branch, pinned by rev and narHash in
  # flake.lock (checked by .ci/nix-check.sh).
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: lib.genAttrs systems (system: f system nixpkgs.legacyPackages.${system});

      # The release version comes from the VERSION file, as in `make release`;
      # the commit from the flake's own revision.
      version = if builtins.pathExists ./VERSION then lib.fileContents ./VERSION else "0.0.0-dev";
      commit = self.rev or self.dirtyRev or "unknown";
    in
    {
      packages = forAllSystems (
        system: pkgs:
        let
          tailops = pkgs.callPackage ./nix/package.nix { inherit version commit; };
          sbom = pkgs.callPackage ./nix/sbom.nix {
            inherit tailops;
            go = pkgs.go_1_26;
          };
        in
        {
          inherit tailops sbom;
          default = tailops;
          image = pkgs.callPackage ./nix/image.nix {
            inherit tailops sbom;
            revision = commit;
          };
        }
        // lib.optionalAttrs (system == "x86_64-linux") {
          appliance-disk-image = self.nixosConfigurations.appliance-x86_64.config.system.build.applianceImage;
        }
        // lib.optionalAttrs (system == "aarch64-linux") {
          appliance-sd-image = self.nixosConfigurations.appliance-aarch64.config.system.build.sdImage;
        }
      );

      # nix run github:tailops/tailops -- serve
      apps = forAllSystems (
        system: pkgs: {
          default = {
            type = "app";
            program = lib.getExe self.packages.${system}.default;
            meta.description = "Run tailops (serve, token, audit, sandbox, version)";
          };
        }
      );

      # The flashable appliance (nix/appliance.nix): the systems, and their
      # images as packages.appliance-disk-image (x86_64, raw EFI) and
      # packages.appliance-sd-image (aarch64, SD card).
      nixosConfigurations = {
        appliance-x86_64 = lib.nixosSystem {
          modules = [
            { nixpkgs.hostPlatform = "x86_64-linux"; }
            # Nightly upgrades follow this release's tag, not the default branch.
            { tailops.appliance.flake = "github:tailops/tailops/v${version}#appliance-x86_64"; }
            self.nixosModules.default
            ./nix/appliance-efi.nix
          ];
        };
        appliance-aarch64 = lib.nixosSystem {
          modules = [
            { nixpkgs.hostPlatform = "aarch64-linux"; }
            # Nightly upgrades follow this release's tag, not the default branch.
            { tailops.appliance.flake = "github:tailops/tailops/v${version}#appliance-aarch64"; }
            self.nixosModules.default
            ./nix/appliance-sd.nix
          ];
        };
      };

      nixosModules.default =
        { lib, pkgs, ... }:
        {
          imports = [ ./nix/module.nix ];
          services.tailops.package = lib.mkDefault self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        };

      checks = forAllSystems (
        system: pkgs: {
          package = self.packages.${system}.default;
          image = self.packages.${system}.image;
          sbom = self.packages.${system}.sbom;
          vm = pkgs.testers.runNixOSTest (import ./nix/vm-test.nix { inherit self; });
          appliance = pkgs.testers.runNixOSTest (import ./nix/appliance-vm-test.nix { inherit self; });
        }
      );

      devShells = forAllSystems (
        system: pkgs: {
          default = pkgs.mkShell {
            packages = [
              pkgs.go_1_26
              pkgs.gopls
              pkgs.pkg-config
              pkgs.gnumake
              pkgs.jq
              pkgs.curl
              pkgs.shellcheck
              pkgs.nixfmt-tree
              pkgs.cyclonedx-gomod
            ];
            # cgo: pkg-config finds libseccomp for `go build` and `go test`.
            buildInputs = [ pkgs.libseccomp ];
          };
        }
      );

      formatter = forAllSystems (system: pkgs: pkgs.nixfmt-tree);
    };
}
