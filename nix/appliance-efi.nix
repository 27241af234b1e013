# SPDX-License-Identifier: Apache-2.0
#
# The x86_64 appliance as a raw EFI disk image (nixos.img), built by
# nixpkgs' make-disk-image: a GPT disk with an ESP (systemd-boot, and the
# first-boot auth key) and the root file system. At each boot,
# systemd-repart in the initrd grows the root partition up to 16 GiB and,
# the first time, adds the state partition in the rest of the disk:
# ext4, label tailops-state, mounted on /var (Docker's images and volumes,
# TailOps' audit log and tailnet node, the journal): a system update
# never touches it. Write the image with `dd if=nixos.img of=/dev/sdX bs=4M`.
{
  config,
  lib,
  pkgs,
  modulesPath,
  ...
}:

{
  imports = [
    ./appliance.nix
    "${modulesPath}/profiles/minimal.nix"
  ];

  tailops.appliance = {
    bootPartition = "/boot";
  };

  boot.loader.systemd-boot.enable = true;
  boot.loader.efi.canTouchEfiVariables = false;
  boot.loader.timeout = 1;

  fileSystems."/" = {
    device = "/dev/disk/by-label/nixos";
    fsType = "ext4";
    autoResize = true;
  };
  fileSystems."/boot" = {
    device = "/dev/disk/by-label/ESP";
    fsType = "vfat";
    options = [ "umask=0077" ];
  };
  fileSystems."/var" = {
    device = "/dev/disk/by-partlabel/tailops-state";
    fsType = "ext4";
    neededForBoot = true;
  };

  boot.initrd.systemd.enable = true;
  boot.initrd.systemd.repart.enable = true;
  systemd.repart.partitions = {
    # The image's root partition (make-disk-image's "efi" layout types it
    # linux-generic): grown into the free space after it, up to 16 GiB.
    "10-root" = {
      Type = "linux-generic";
      SizeMaxBytes = "16G";
    };
    # Also linux-generic ("var" would tie its UUID to a machine ID the
    # first boot does not have yet): repart matches the existing partition
    # to 10-root and creates this one.
    "20-state" = {
      Type = "linux-generic";
      Label = "tailops-state";
      Format = "ext4";
      SizeMinBytes = "2G";
    };
  };

  system.build.applianceImage = import "${modulesPath}/../lib/make-disk-image.nix" {
    inherit config lib pkgs;
    name = "tailops-appliance-x86_64";
    format = "raw";
    partitionTableType = "efi";
    bootSize = "512M";
    diskSize = "auto";
    additionalSpace = "1G";
    copyChannel = false;
  };
}
