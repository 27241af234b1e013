# SPDX-License-Identifier: Apache-2.0
#
# The aarch64 appliance as an SD-card image (Raspberry Pi 4, and boards
# U-Boot's generic aarch64 build supports), built by nixpkgs'
# sd-image-aarch64 module: an MBR disk with the FAT firmware partition
# (which also takes the first-boot auth key) and the root file system, to
# which this adds a third partition for the state, ext4 labelled
# tailops-state and mounted on /var. systemd-repart needs GPT, so the
# partition is made when the image is built (64 MiB) and grown to the end
# of the card on the first boot, the way sd-image grows its root
# partition (whose own growth is turned off: the state partition follows
# it). Write it with `zstdcat nixos-*.img.zst | dd of=/dev/mmcblk0 bs=4M`.
{
  lib,
  pkgs,
  modulesPath,
  ...
}:

let
  # Fixed, so the image is the same bit for bit on every build.
  stateUUID = "5d0a9c6e-7f2b-4c1e-9a43-2f6d8b1e0c57";
in
{
  imports = [
    ./appliance.nix
    "${modulesPath}/installer/sd-card/sd-image-aarch64.nix"
    "${modulesPath}/profiles/minimal.nix"
  ];

  tailops.appliance = {
    bootPartition = "/boot/firmware";
    flake = "github:tailops/tailops#appliance-aarch64";
  };

  sdImage.expandOnBoot = false;
  sdImage.postBuildCommands = ''
    # Append the state partition (64 MiB; grown on the first boot).
    truncate -s +64M "$img"
    echo 'type=83' | sfdisk --append --no-reread --no-tell-kernel "$img"
    eval "$(partx "$img" -o START,SECTORS --nr 3 --pairs)"
    truncate -s $((SECTORS * 512)) state_part.img
    faketime "2000-01-01 00:00:00" mkfs.ext4 -q -L tailops-state -U ${stateUUID} \
      -E hash_seed=${stateUUID} state_part.img
    dd conv=notrunc if=state_part.img of="$img" seek="$START" count="$SECTORS"
  '';

  fileSystems."/var" = {
    device = "/dev/disk/by-label/tailops-state";
    fsType = "ext4";
    neededForBoot = true;
  };

  # First boot only (sd-image deletes the registration file after its own
  # first-boot commands, which run after these): grow the state partition
  # to the end of the card, then its file system, mounted.
  boot.postBootCommands = lib.mkBefore ''
    if [ -f /nix-path-registration ]; then
      statePart=$(${pkgs.util-linux}/bin/findmnt -n -o SOURCE /var)
      stateDisk=$(${pkgs.util-linux}/bin/lsblk -npo PKNAME "$statePart")
      stateNum=$(cat "/sys/class/block/$(basename "$(readlink -f "$statePart")")/partition")
      echo ",+," | ${pkgs.util-linux}/bin/sfdisk -N"$stateNum" --no-reread "$stateDisk"
      ${pkgs.parted}/bin/partprobe
      ${pkgs.e2fsprogs}/bin/resize2fs "$statePart"
    fi
  '';
}
