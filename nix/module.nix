# SPDX-License-Identifier: Apache-2.0
#
# services.tailops: tailops serve as a hardened systemd service. The flake's
# nixosModules.default imports this and sets services.tailops.package.
{
  config,
  lib,
  pkgs,
  utils,
  ...
}:

let
  cfg = config.services.tailops;
  json = pkgs.formats.json { };

  configFile = json.generate "tailops.json" cfg.settings;

  # The journal tools read journald's files, which belong to the
  # systemd-journal group: the service joins it when one of them is
  # offered (tools empty means all; --read-only keeps them, they read).
  journalTools = [ "get_journal" ];
  journalEnabled = lib.any (
    t: (cfg.tools == [ ] || lib.elem t cfg.tools) && !(lib.elem t cfg.disableTools)
  ) journalTools;

  args = [
    "serve"
    "--listen"
    cfg.listen
    "--state-dir"
    cfg.stateDir
    "--log-level"
    cfg.logLevel
    "--sandbox"
    cfg.sandbox
    "--shutdown-timeout"
    "${toString cfg.shutdownTimeout}s"
  ]
  ++ lib.optionals (cfg.tailnet != null) [
    "--tailnet"
    cfg.tailnet
  ]
  ++ lib.concatMap (root: [
    "--file-root"
    root
  ]) cfg.fileRoots
  ++ lib.optionals (cfg.tools != [ ]) [
    "--tools"
    (lib.concatStringsSep "," cfg.tools)
  ]
  ++ lib.optionals (cfg.disableTools != [ ]) [
    "--disable-tools"
    (lib.concatStringsSep "," cfg.disableTools)
  ]
  ++ lib.optional cfg.readOnly "--read-only"
  ++ lib.optionals cfg.firewall.enable (
    [ "--firewall" ]
    ++ lib.concatMap (i: [
      "--firewall-tailnet-interface"
      i
    ]) cfg.firewall.tailnetInterfaces
    ++ lib.concatMap (p: [
      "--firewall-tailnet-port"
      (toString p)
    ]) cfg.firewall.tailnetPorts
  )
  ++ lib.concatMap (unit: [
    "--service-allow"
    unit
  ]) cfg.serviceAllow
  ++ lib.concatMap (unit: [
    "--service-high-risk"
    unit
  ]) cfg.serviceHighRisk
  ++ lib.optionals (cfg.settings != { }) [
    "--config"
    "${configFile}"
  ]
  ++ lib.optionals (cfg.auth.jwksUrl != null) [
    "--jwks-url"
    cfg.auth.jwksUrl
  ]
  ++ lib.optionals (cfg.auth.resourceUrl != null) [
    "--resource-url"
    cfg.auth.resourceUrl
  ]
  ++ lib.optionals (cfg.auth.jwtIssuer != null) [
    "--jwt-issuer"
    cfg.auth.jwtIssuer
  ]
  ++ lib.concatMap (issuer: [
    "--authorization-server"
    issuer
  ]) cfg.auth.authorizationServers
  ++ lib.optionals (cfg.auth.tokenMaxLifetime != null) [
    "--token-max-lifetime"
    cfg.auth.tokenMaxLifetime
  ]
  ++ cfg.extraArgs;

  # Credentials are read from systemd's credentials directory (%d), so these
  # arguments are added after escaping, which would turn % into %%.
  credentialArgs =
    lib.optional (cfg.auth.sharedSecretFile != null) "--shared-secret-file %d/shared-secret"
    ++ lib.optional (cfg.auth.jwksFile != null) "--jwks-file %d/jwks";

  port = lib.toInt (lib.last (lib.splitString ":" cfg.listen));

  # A file holding a secret: an absolute path given as a string, outside
  # the Nix store (which everyone can read).
  secretPath = lib.types.strMatching "/[^/].*" // {
    description = "absolute path of a file outside the Nix store, as a string";
  };

  # The service's user: DynamicUser names it after the unit.
  user = "tailops";

  # The units TailOps never changes, as tools/systemd's ProtectedUnits
  # (TestNixModuleProtectsWhatTheToolsProtect keeps the two equal).
  # protected-units-begin
  protectedUnits = [
    "tailscaled.service"
    "tailops.service"
    "ssh.service"
    "ssh.socket"
    "ssh@*.service"
    "sshd.service"
    "sshd.socket"
    "sshd@*.service"
    "sshd-keygen*.service"
    "dbus.service"
    "dbus.socket"
    "dbus-broker.service"
    "dbus-*.service"
    "polkit.service"
    "polkitd.service"
    "systemd-*"
    "getty@*.service"
    "serial-getty@*.service"
    "console-getty.service"
    "container-getty@*.service"
    "autovt@*.service"
    "networking.service"
    "NetworkManager.service"
    "NetworkManager-*.service"
    "wpa_supplicant*.service"
    "ifup@*.service"
    "dhcpcd.service"
    "iwd.service"
    "connman.service"
    "user@*.service"
    "user-runtime-dir@*.service"
    "init.scope"
  ];
  # protected-units-end

  # A unit pattern as a JavaScript regular expression, as `tailops
  # polkit-rule` writes it: ".service" added to a name with no unit type
  # and no trailing "*", "*" is ".*", "?" is ".".
  unitTypes = [ "service" "socket" "target" "device" "mount" "automount" "swap" "timer" "path" "slice" "scope" ];
  withType = p: if lib.any (t: lib.hasSuffix ".${t}" p) unitTypes || lib.hasSuffix "*" p then p else "${p}.service";
  jsRegexp = p: "/^" + lib.replaceStrings [ "." "\\" "-" "*" "?" ] [ "\\." "\\\\" "\\-" ".*" "." ] (withType p) + "$/";

  # The polkit rule of `tailops polkit-rule --user tailops` for serviceAllow.
  polkitRule = ''
    // TailOps: let ${user} start, stop, restart and reload the units of its
    // --service-allow list (services.tailops.serviceAllow), and no unit TailOps protects.
    polkit.addRule(function(action, subject) {
        if (action.id != "org.freedesktop.systemd1.manage-units" || subject.user != "${user}") {
            return polkit.Result.NOT_HANDLED;
        }
        var verb = action.lookup("verb");
        var unit = action.lookup("unit");
        if (!unit || ["start", "stop", "restart", "reload"].indexOf(verb) < 0) {
            return polkit.Result.NOT_HANDLED;
        }
        if (!/\.(service|socket|timer|path)$/.test(unit)) {
            return polkit.Result.NOT_HANDLED;
        }
        var deny = [${lib.concatMapStringsSep ", " jsRegexp protectedUnits}];
        var allow = [${lib.concatMapStringsSep ", " jsRegexp cfg.serviceAllow}];
        for (var i = 0; i < deny.length; i++) {
            if (deny[i].test(unit)) {
                return polkit.Result.NOT_HANDLED;
            }
        }
        for (var j = 0; j < allow.length; j++) {
            if (allow[j].test(unit)) {
                return polkit.Result.YES;
            }
        }
        return polkit.Result.NOT_HANDLED;
    });
  '';

  # The polkit rule of `tailops polkit-rule --user tailops` for
  # install_package and upgrade_packages (packages.manage): the PackageKit
  # actions they need (tools/packages.PolkitActions), and no other.
  packageKitActions = [
    # packagekit-actions-begin
    "org.freedesktop.packagekit.system-sources-refresh"
    "org.freedesktop.packagekit.package-install"
    "org.freedesktop.packagekit.system-update"
    # packagekit-actions-end
  ];
  packageKitRule = ''
    // TailOps: let ${user} refresh the package lists, install trusted packages and
    // upgrade them through PackageKit (install_package, upgrade_packages).
    // Untrusted packages, removals and downgrades stay refused.
    polkit.addRule(function(action, subject) {
        if (subject.user == "${user}" && [${lib.concatMapStringsSep ", " (a: "\"${a}\"") packageKitActions}].indexOf(action.id) >= 0) {
            return polkit.Result.YES;
        }
        return polkit.Result.NOT_HANDLED;
    });
  '';
in
{
  options.services.tailops = {
    enable = lib.mkEnableOption "TailOps, an MCP server for operating this host";

    package = lib.mkOption {
      type = lib.types.package;
      description = "The tailops package (the flake's module sets its own static build).";
    };

    listen = lib.mkOption {
      type = lib.types.str;
      default = "127.0.0.1:8080";
      example = "0.0.0.0:8080";
      description = "Address for MCP over streamable HTTP at /mcp (`--listen`).";
    };

    openFirewall = lib.mkOption {
      type = lib.types.bool;
      default = false;
      description = "Open the port of `listen` in the firewall.";
    };

    tailnet = lib.mkOption {
      type = lib.types.nullOr lib.types.str;
      default = null;
      example = "tsnet";
      description = ''
        Tailnet mode (`--tailnet`): `tsnet` runs an embedded Tailscale node
        whose state lives in the state directory; its first start needs
        `TS_AUTHKEY`, e.g. from `environmentFile`. `null` passes no flag.
      '';
    };

    stateDir = lib.mkOption {
      type = lib.types.strMatching "/var/lib/[^/].*";
      default = "/var/lib/tailops";
      description = ''
        State directory (shared secret, audit log, tailnet state), created
        by systemd (`StateDirectory=`) for the service's dynamic user. Mint
        tokens as root with `tailops token mint --state-dir <this>`.
      '';
    };

    logLevel = lib.mkOption {
      type = lib.types.enum [
        "debug"
        "info"
        "warn"
        "error"
      ];
      default = "info";
      description = "Log level (`--log-level`).";
    };

    sandbox = lib.mkOption {
      type = lib.types.enum [
        "enforce"
        "best-effort"
        "off"
      ];
      default = "enforce";
      description = "tailops' own Landlock and seccomp sandbox (`--sandbox`), inside the unit's hardening.";
    };

    shutdownTimeout = lib.mkOption {
      type = lib.types.ints.unsigned;
      default = 90;
      description = ''
        Seconds calls in flight may run when the service stops before they
        are cancelled (`--shutdown-timeout`); cancelled calls then get 35 s
        more to roll back and be audited. systemd's `TimeoutStopSec` is set
        to this plus 60 s, so the server is never killed while it drains.
      '';
    };

    fileRoots = lib.mkOption {
      type = lib.types.listOf lib.types.path;
      default = [ "/var/log" ];
      description = ''
        Directories the file tools may read (`--file-root`). The service
        runs as a dynamic user: add groups with `extraGroups` (for example
        `systemd-journal` or `adm`) for files it cannot read otherwise.
        Roots under /home, /root or /run/user need `ProtectHome` relaxed.
        A root that reaches the state directory or the config file stops
        the start; one above host secrets (such as /etc) starts with a
        warning (see README, "File roots").
      '';
    };

    tools = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ ];
      example = [
        "health_check"
        "get_system_status"
      ];
      description = "Offer only these tools (`--tools`); empty offers all.";
    };

    disableTools = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ ];
      description = "Never offer these tools (`--disable-tools`).";
    };

    readOnly = lib.mkOption {
      type = lib.types.bool;
      default = false;
      description = "Offer only read-only tools (`--read-only`).";
    };

    auth = {
      sharedSecretFile = lib.mkOption {
        # A string, not a path: a path literal (./secret) would be copied
        # into the world-readable Nix store.
        type = lib.types.nullOr secretPath;
        default = null;
        description = ''
          File with the shared secret for HMAC tokens and HS256 JWTs, passed
          as a systemd credential. `null`: tailops creates
          `<stateDir>/secret` on first start.
        '';
      };
      jwksFile = lib.mkOption {
        type = lib.types.nullOr lib.types.path;
        default = null;
        description = "JWKS with public keys for EdDSA, ES256 and RS256 JWTs (`--jwks-file`).";
      };
      jwksUrl = lib.mkOption {
        type = lib.types.nullOr lib.types.str;
        default = null;
        example = "https://idp.example.ts.net/.well-known/jwks.json";
        description = ''
          URL of an identity provider's JWKS, fetched at start and refreshed
          (`--jwks-url`; https, or http to loopback). Not with `jwksFile`.
        '';
      };
      resourceUrl = lib.mkOption {
        type = lib.types.nullOr lib.types.str;
        default = null;
        description = "This server's resource URL: required JWT audience, RFC 9728 resource.";
      };
      jwtIssuer = lib.mkOption {
        type = lib.types.nullOr lib.types.str;
        default = null;
        description = "Required JWT issuer.";
      };
      authorizationServers = lib.mkOption {
        type = lib.types.listOf lib.types.str;
        default = [ ];
        description = "OAuth authorization servers announced in RFC 9728 metadata.";
      };
      tokenMaxLifetime = lib.mkOption {
        type = lib.types.nullOr lib.types.str;
        default = null;
        example = "720h";
        description = "Longest token lifetime accepted (`--token-max-lifetime`).";
      };
    };

    docker = {
      enable = lib.mkOption {
        type = lib.types.bool;
        default = false;
        description = ''
          Give the Docker tools the Docker socket: the service joins the
          `docker` group, which controls the Docker daemon and so the host.
        '';
      };
      socket = lib.mkOption {
        type = lib.types.str;
        default = "/run/docker.sock";
        description = "Docker socket path, passed as DOCKER_HOST.";
      };
    };

    firewall = {
      enable = lib.mkOption {
        type = lib.types.bool;
        default = false;
        description = ''
          Offer the firewall tools (--firewall): read the host's nftables
          ruleset and edit TailOps' own table, inet tailops. nftables answers
          only a process with CAP_NET_ADMIN, even for reading, so the service
          gets it, as an ambient capability, only when this is on.
        '';
      };
      tailnetInterfaces = lib.mkOption {
        type = lib.types.listOf lib.types.str;
        default = [ config.services.tailscale.interfaceName ];
        defaultText = lib.literalExpression "[ config.services.tailscale.interfaceName ]";
        description = "Interfaces no firewall rule may drop or reject (--firewall-tailnet-interface).";
      };
      tailnetPorts = lib.mkOption {
        type = lib.types.listOf lib.types.port;
        default = [ config.services.tailscale.port ];
        defaultText = lib.literalExpression "[ config.services.tailscale.port ]";
        description = "Tailscale UDP ports no firewall rule may drop or reject (--firewall-tailnet-port).";
      };
    };

    serviceAllow = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ ];
      example = [
        "nginx"
        "web-*"
      ];
      description = ''
        Units the systemd tools may start, stop, restart and reload
        (`--service-allow`): names or globs (`*`, `?`), `nginx` meaning
        `nginx.service`. The module also writes the polkit rule that lets
        the service's user manage exactly these units
        (`security.polkit.extraConfig`). Protected units (sshd, tailscaled,
        dbus, systemd-*, ...) are refused whatever this says.
      '';
    };

    packages.manage = lib.mkOption {
      type = lib.types.bool;
      default = false;
      description = ''
        Enable PackageKit (`services.packagekit.enable`) and write the
        polkit rule that lets the service's user refresh the package lists,
        install trusted packages and upgrade them through it, and nothing
        else. The package tools manage Debian packages (dpkg's status, apt's
        lists): on NixOS, whose PackageKit has no working backend, they
        cannot install or upgrade anything, and the module warns when this
        is on. NixOS itself is managed by its configuration.
      '';
    };

    serviceHighRisk = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ ];
      description = ''
        Units whose restart_service and stop_service are high risk
        instead of critical, so run without approval (`--service-high-risk`).
      '';
    };

    extraGroups = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ ];
      example = [ "systemd-journal" ];
      description = "Supplementary groups for the service, e.g. to read log files under fileRoots.";
    };

    settings = lib.mkOption {
      inherit (json) type;
      default = { };
      example = {
        revoked.agents = [ "old-laptop" ];
        file_deny = [ "*.sqlite" ];
      };
      description = ''
        The config file (`--config`, see the README's configuration
        section: revocations, file_deny, token_max_lifetime...), as JSON.
      '';
    };

    environmentFile = lib.mkOption {
      type = lib.types.nullOr secretPath;
      default = null;
      example = "/run/secrets/tailops.env";
      description = ''
        systemd EnvironmentFile for secrets kept out of the Nix store, for
        example `TS_AUTHKEY=tskey-auth-...` or `TAILOPS_SHARED_SECRET=...`.
      '';
    };

    environment = lib.mkOption {
      type = lib.types.attrsOf lib.types.str;
      default = { };
      description = "Extra environment variables (every flag has a TAILOPS_* twin).";
    };

    extraArgs = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ ];
      description = "Extra arguments to `tailops serve`.";
    };
  };

  config = lib.mkIf cfg.enable {
    assertions =
      map
        (f: {
          assertion = f == null || !lib.hasPrefix "/nix/store/" f;
          message = "services.tailops: ${toString f} is in the Nix store, which everyone can read: keep secrets outside it.";
        })
        [
          cfg.auth.sharedSecretFile
          cfg.environmentFile
        ];

    warnings =
      lib.optional cfg.packages.manage ''
        services.tailops.packages.manage: install_package and upgrade_packages manage
        Debian packages through PackageKit; on NixOS PackageKit has no working backend
        and they cannot change anything. NixOS is managed by its configuration.
      ''
      ++ lib.optional (cfg.docker.enable && !config.virtualisation.docker.enable) ''
        services.tailops.docker.enable adds the service to the `docker` group, but
        virtualisation.docker.enable is off: the group may not exist.
      '';

    # The CLI, to mint tokens: tailops token mint --state-dir <stateDir> ...
    environment.systemPackages = [ cfg.package ];

    networking.firewall.allowedTCPPorts = lib.mkIf cfg.openFirewall [ port ];

    security.polkit = lib.mkIf (cfg.serviceAllow != [ ] || cfg.packages.manage) {
      enable = true;
      extraConfig = lib.concatStringsSep "\n" (
        lib.optional (cfg.serviceAllow != [ ]) polkitRule ++ lib.optional cfg.packages.manage packageKitRule
      );
    };

    services.packagekit.enable = lib.mkIf cfg.packages.manage true;

    systemd.services.tailops = {
      description = "TailOps MCP server";
      documentation = [ "https://github.com/tailops/tailops" ];
      wantedBy = [ "multi-user.target" ];
      after = [ "network-online.target" ] ++ lib.optional cfg.docker.enable "docker.service";
      wants = [ "network-online.target" ];

      environment = {
        # Landlock follows these to their store paths (the /etc files are
        # symlinks into the store on NixOS).
        SSL_CERT_FILE = "/etc/ssl/certs/ca-certificates.crt";
        ZONEINFO = "/etc/zoneinfo";
      }
      // lib.optionalAttrs cfg.docker.enable { DOCKER_HOST = "unix://${cfg.docker.socket}"; }
      // cfg.environment;

      serviceConfig = {
        ExecStart = lib.concatStringsSep " " (
          [ (utils.escapeSystemdExecArgs ([ (lib.getExe cfg.package) ] ++ args)) ] ++ credentialArgs
        );
        ExecReload = "${pkgs.coreutils}/bin/kill -HUP $MAINPID";
        Restart = "on-failure";
        RestartSec = 5;
        # Stopping drains calls in flight: --shutdown-timeout, 35 s for the
        # cancelled ones to roll back, and a margin (see shutdownTimeout).
        TimeoutStopSec = cfg.shutdownTimeout + 60;

        DynamicUser = true;
        StateDirectory = lib.removePrefix "/var/lib/" cfg.stateDir;
        StateDirectoryMode = "0700";
        UMask = "0077";
        SupplementaryGroups =
          cfg.extraGroups
          ++ lib.optional cfg.docker.enable "docker"
          ++ lib.optional journalEnabled "systemd-journal";
        EnvironmentFile = lib.mkIf (cfg.environmentFile != null) cfg.environmentFile;
        LoadCredential =
          lib.optional (cfg.auth.sharedSecretFile != null) "shared-secret:${cfg.auth.sharedSecretFile}"
          ++ lib.optional (cfg.auth.jwksFile != null) "jwks:${cfg.auth.jwksFile}";

        # Hardening. The process also confines itself with Landlock and
        # seccomp (--sandbox) after it has opened what it needs.
        # CAP_NET_ADMIN only for the firewall tools: nftables' netlink
        # answers no process without it. Ambient, because the service runs
        # as a dynamic (non-root) user, whose other capabilities are dropped
        # at exec; TailOps keeps it through its own sandbox only when a
        # firewall tool is enabled (sandbox.Needs).
        CapabilityBoundingSet = lib.optionalString cfg.firewall.enable "CAP_NET_ADMIN";
        AmbientCapabilities = lib.optionalString cfg.firewall.enable "CAP_NET_ADMIN";
        NoNewPrivileges = true;
        ProtectSystem = "strict";
        ProtectHome = true;
        PrivateTmp = true;
        PrivateDevices = true;
        DevicePolicy = "closed";
        ProtectKernelTunables = true;
        ProtectKernelModules = true;
        ProtectKernelLogs = true;
        ProtectControlGroups = true;
        ProtectClock = true;
        ProtectHostname = true;
        # Not ProtectProc=invisible nor ProcSubset=pid: the process and
        # connection tools read other processes and /proc/meminfo etc.
        # AF_NETLINK: interface listing (net.Interfaces) and tsnet's netmon.
        RestrictAddressFamilies = [
          "AF_UNIX"
          "AF_INET"
          "AF_INET6"
          "AF_NETLINK"
        ];
        RestrictNamespaces = true;
        RestrictRealtime = true;
        RestrictSUIDSGID = true;
        LockPersonality = true;
        MemoryDenyWriteExecute = true;
        RemoveIPC = true;
        SystemCallArchitectures = "native";
        # tailops installs its own Landlock ruleset and seccomp filter;
        # @system-service lacks those syscalls in some systemd versions.
        SystemCallFilter = [
          "@system-service"
          "seccomp"
          "landlock_create_ruleset"
          "landlock_add_rule"
          "landlock_restrict_self"
        ];
        SystemCallErrorNumber = "EPERM";
      };
    };
  };
}
