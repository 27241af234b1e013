# SPDX-License-Identifier: Apache-2.0
#
# The aarch64 appliance as an SD-card image (Raspberry Pi 4, and boards
# U-Boot's generic aarch64 build supports), built by nixpkgs'
# sd-image-aarch64 module: an MBR disk with the FAT firmware partition
# (which also takes the first-boot auth key) and the root file system.
# systemd-repart needs GPT, and the Pi's firmware wants MBR on an SD card,
# so the state partition is made by tailops-state-partition.service in the
# initrd on the first boot instead: it grows the root partition to half the
# card (at most 16 GiB; the root file system follows, autoResize), adds a
# third partition in the rest, ext4 labelled tailops-state, mounted on /var
# (sd-image's own growth of the root partition is turned off). Write the
# image with `zstdcat nixos-*.img.zst | dd of=/dev/mmcblk0 bs=4M`.
{
  lib,
  pkgs,
  modulesPath,
  ...
}:

let
  rootLabel = "NIXOS_SD";
  # On the first boot only: nothing to do once a partition has the label.
  makeState = pkgs.writeShellScript "tailops-state-partition" ''
    set -euo pipefail
    export PATH=${
      lib.makeBinPath [
        pkgs.util-linux
        pkgs.e2fsprogs
        pkgs.coreutils
        pkgs.systemd
      ]
    }
    if blkid -L tailops-state > /dev/null; then
      exit 0
    fi
    root=$(readlink -f /dev/disk/by-label/${rootLabel})
    disk=/dev/$(lsblk -no PKNAME "$root")
    total=$(blockdev --getsz "$disk")
    eval "$(partx "$disk" -o START,SECTORS --nr 2 --pairs)"
    # Sectors of 512 bytes; 1 MiB left unused at the end.
    free=$((total - START - 2048))
    size=$((free / 2))
    if [ "$size" -gt $((16 * 1024 * 1024 * 2)) ]; then size=$((16 * 1024 * 1024 * 2)); fi
    if [ "$size" -lt "$SECTORS" ]; then size=$SECTORS; fi
    echo "size=$size" | sfdisk -N2 --no-reread --no-tell-kernel "$disk"
    echo "type=83" | sfdisk --append --no-reread --no-tell-kernel "$disk"
    blockdev --rereadpt "$disk"
    udevadm settle
    state=$(lsblk -nrpo NAME "$disk" | tail -n 1)
    mkfs.ext4 -q -L tailops-state "$state"
    udevadm settle
  '';
in
{
  imports = [
    ./appliance.nix
    "${modulesPath}/installer/sd-card/sd-image-aarch64.nix"
    "${modulesPath}/profiles/minimal.nix"
  ];

  tailops.appliance = {
    bootPartition = "/boot/firmware";
  };

  sdImage.expandOnBoot = false;
  # sd-image.nix mounts the FAT firmware partition with everyone's read
  # access; the first-boot auth key is there until it is read.
  fileSystems."/boot/firmware".options = [ "umask=0077" ];
  fileSystems."/".autoResize = true;
  fileSystems."/var" = {
    device = "/dev/disk/by-label/tailops-state";
    fsType = "ext4";
    neededForBoot = true;
  };

  boot.initrd.systemd.enable = true;
  boot.initrd.systemd.storePaths = [ makeState ];
  boot.initrd.systemd.services.tailops-state-partition = {
    description = "Make the state partition on the first boot";
    wantedBy = [ "initrd.target" ];
    requires = [ "dev-disk-by\\x2dlabel-${rootLabel}.device" ];
    after = [ "dev-disk-by\\x2dlabel-${rootLabel}.device" ];
    before = [
      "sysroot.mount"
      "initrd-root-fs.target"
    ];
    unitConfig.DefaultDependencies = false;
    serviceConfig = {
      Type = "oneshot";
      ExecStart = makeState;
    };
  };
}
