# SPDX-License-Identifier: Apache-2.0
#
# Which NixOS options do the project's modules set that nixos-options.txt
# does not list, and which listed ones does none set? Evaluated by
# .ci/nix-check.sh with plain Nix, no nixpkgs: each module is called with a
# stand-in `lib` that gives mkIf, mkDefault and friends their shape, and
# only the names of what a module sets are read, never the values (which
# need nixpkgs). Options the modules declare themselves (services.tailops,
# tailops.appliance) count as known.
#   nix-instantiate --eval --strict --json nix/tests/options-check.nix
let
  inherit (builtins)
    attrNames
    concatMap
    concatStringsSep
    elemAt
    filter
    genList
    head
    isAttrs
    isList
    isString
    length
    split
    ;

  stubLib = {
    mkIf = _: content: {
      _type = "if";
      inherit content;
    };
    mkMerge = contents: {
      _type = "merge";
      inherit contents;
    };
    mkOverride = _: content: {
      _type = "override";
      inherit content;
    };
    mkDefault = stubLib.mkOverride 1000;
    mkForce = stubLib.mkOverride 50;
    mkBefore = content: {
      _type = "order";
      inherit content;
    };
    mkAfter = stubLib.mkBefore;
    mkOption = _: { _type = "option"; };
    mkEnableOption = _: { _type = "option"; };
  };
  args = {
    config = { };
    lib = stubLib;
    pkgs = { };
    utils = { };
    modulesPath = "/nixpkgs/nixos/modules";
  };
  self = {
    nixosModules.default = { };
  };

  # The modules: NixOS modules, and the VM tests' machines.
  call = m: if builtins.isFunction m then m args else m;
  modules = map call [
    (import ../module.nix)
    (import ../appliance.nix)
    (import ../appliance-efi.nix)
    (import ../appliance-sd.nix)
    (import ../vm-test.nix { inherit self; }).nodes.machine
    (import ../appliance-vm-test.nix { inherit self; }).nodes.machine
  ];

  words = s: filter (w: isString w && w != "") (split "[ \t]+" s);
  listed = map (l: head (words l)) (
    filter (l: isString l && l != "" && builtins.substring 0 1 l != "#") (
      split "\n" (builtins.readFile ./nixos-options.txt)
    )
  );
  pathOf = s: filter isString (split "\\." s);

  # Options declared by the modules' own `options`.
  declared = concatMap (m: leaves [ ] (m.options or { })) modules;
  leaves =
    path: v:
    if isAttrs v && (v._type or "") == "option" then
      [ (concatStringsSep "." path) ]
    else if isAttrs v then
      concatMap (n: leaves (path ++ [ n ]) v.${n}) (attrNames v)
    else
      [ ];

  known = map pathOf (listed ++ declared);
  matches =
    path: k:
    length k == length path
    && builtins.all (i: elemAt k i == "<name>" || elemAt k i == elemAt path i) (genList (i: i) (length k));
  knownAt = path: builtins.any (matches path) known;

  # What a module sets: its `config`, or, without options/config, itself.
  configOf = m: if m ? config || m ? options then m.config or { } else removeAttrs m [ "imports" ];
  set =
    path: v:
    if path != [ ] && knownAt path then
      [ (concatStringsSep "." path) ]
    else if isAttrs v && v ? _type then
      (if v._type == "merge" then concatMap (set path) v.contents else set path v.content)
    else if isAttrs v then
      concatMap (n: set (path ++ [ n ]) v.${n}) (attrNames v)
    else
      [ "UNKNOWN ${concatStringsSep "." path}" ];
  used = concatMap (m: set [ ] (configOf m)) modules ++ map (_: "imports") (filter (m: m ? imports) modules);
  unknown = filter (u: builtins.substring 0 8 u == "UNKNOWN ") used;
  usedPaths = map pathOf used;
  unused = filter (l: !(builtins.any (u: matches u (pathOf l)) usedPaths)) listed;
in
{
  unknown = map (u: builtins.substring 8 (-1) u) unknown;
  inherit unused;
  checked = length used;
}
