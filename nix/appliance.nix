# SPDX-License-Identifier: Apache-2.0
#
# The flashable appliance's operating system, shared by the x86_64 EFI disk
# image (appliance-efi.nix) and the aarch64 SD-card image
# (appliance-sd.nix): NixOS running Docker and TailOps as its own tailnet
# node, and nothing else that listens on the network.
#
# First boot: put the Tailscale auth key in a file named
# `tailscale-authkey` on the boot partition (FAT, readable from any
# computer) before the first start. tailops-authkey.service reads it once
# into a root-only file under /run (a tmpfs, gone at the next reboot) and
# deletes it from the boot partition; TailOps joins the tailnet with it and
# keeps its node state in its state directory, so no later boot needs it.
{
  config,
  lib,
  pkgs,
  ...
}:

let
  cfg = config.tailops.appliance;
  keyFile = "${cfg.bootPartition}/tailscale-authkey";
  keyEnv = "/run/tailops-authkey/env";
in
{
  options.tailops.appliance = {
    bootPartition = lib.mkOption {
      type = lib.types.str;
      example = "/boot/firmware";
      description = "Where the image mounts its FAT boot partition, which holds the first-boot auth key.";
    };

    flake = lib.mkOption {
      type = lib.types.str;
      example = "github:tailops/tailops/v0.1.0#appliance-x86_64";
      description = "The flake output this system upgrades itself from (system.autoUpgrade.flake): a release tag's.";
    };
  };

  config = {
    system.stateVersion = "25.11";

    networking.hostName = lib.mkDefault "tailops";
    # The firewall stays on and opens nothing: TailOps is reached over its
    # own tsnet node, whose WireGuard traffic goes out through NAT like any
    # client's (and through DERP when it must).
    networking.firewall.enable = true;
    services.openssh.enable = false;
    # No password anywhere: no console or network login. The box is run
    # through TailOps; re-flash it to recover. NixOS refuses a system no
    # one can log in to unless told that is meant.
    users.mutableUsers = false;
    users.users.root.hashedPassword = "!";
    users.allowNoPasswordLogin = true;
    documentation.enable = false;

    virtualisation.docker.enable = true;
    # Not autoPrune: NixOS runs `docker system prune`, which also deletes
    # every stopped container (one stop_container stopped, or one that
    # crashed) with its writable layer and logs.
    virtualisation.docker.autoPrune.enable = false;

    services.tailops = {
      enable = true;
      tailnet = "tsnet";
      # The default: a loopback listener for /healthz beside the tailnet one.
      listen = "127.0.0.1:8080";
      docker.enable = true;
      # Callers' scopes come from the tailnet policy's grants: the box has
      # no shell to read the shared secret and mint a token on.
      extraArgs = [
        "--auth"
        "tailscale"
      ];
    };
    systemd.services.tailops = {
      wants = [ "tailops-authkey.service" ];
      after = [ "tailops-authkey.service" ];
      # "-": no file after the first boot, and that is fine.
      serviceConfig.EnvironmentFile = [ "-${keyEnv}" ];
    };

    systemd.services.tailops-authkey = {
      description = "Read the first-boot Tailscale auth key from the boot partition, once";
      unitConfig = {
        ConditionPathExists = keyFile;
        RequiresMountsFor = cfg.bootPartition;
      };
      serviceConfig = {
        Type = "oneshot";
        RemainAfterExit = true;
        UMask = "0077";
        RuntimeDirectory = "tailops-authkey";
        RuntimeDirectoryMode = "0700";
        RuntimeDirectoryPreserve = true;
      };
      path = [ pkgs.coreutils ];
      script = ''
        key=$(tr -d '[:space:]' < ${lib.escapeShellArg keyFile})
        case "$key" in
          tskey-*) printf 'TS_AUTHKEY=%s\n' "$key" > ${keyEnv} ;;
          *) echo "${keyFile} does not hold a Tailscale auth key (tskey-...): deleting it unused" >&2 ;;
        esac
        # Overwritten, then removed: FAT keeps a removed file's bytes.
        shred -u ${lib.escapeShellArg keyFile}
        sync -f ${lib.escapeShellArg cfg.bootPartition}
      '';
    };

    # Security updates: every night the system rebuilds from the project's
    # flake at the release it was built from (tailops.appliance.flake names
    # the tag: never unreleased code) with the newest nixpkgs of its
    # release branch, and reboots (in the window) only when the kernel or
    # initrd changed.
    nix.settings.experimental-features = [
      "nix-command"
      "flakes"
    ];
    system.autoUpgrade = {
      enable = true;
      inherit (cfg) flake;
      # The newest commit of the release branch flake.lock pins: its
      # security fixes land without a new TailOps release.
      flags = [
        "--override-input"
        "nixpkgs"
        "github:NixOS/nixpkgs/nixos-25.11"
        "--refresh"
      ];
      dates = "04:00";
      randomizedDelaySec = "45min";
      allowReboot = true;
      rebootWindow = {
        lower = "03:00";
        upper = "06:00";
      };
    };
    nix.gc = {
      automatic = true;
      options = "--delete-older-than 14d";
    };
  };
}
