# SPDX-License-Identifier: Apache-2.0
#
# checks.<system>.vm: a NixOS VM boots services.tailops, mints a token with
# the service's state directory and calls health_check over MCP with curl
# (nix/tests/mcp-call.sh: initialize, notifications/initialized, tools/call
# with Mcp-Session-Id). Run with: nix build .#checks.x86_64-linux.vm -L
{ self }:
{
  name = "tailops";

  nodes.machine =
    { pkgs, ... }:
    let
      mcpCall = pkgs.writeShellApplication {
        name = "mcp-call";
        runtimeInputs = [
          pkgs.curl
          pkgs.jq
        ];
        text = builtins.readFile ./tests/mcp-call.sh;
      };
    in
    {
      imports = [ self.nixosModules.default ];

      services.tailops = {
        enable = true;
        settings.stdio_scopes = [ "readonly" ];
      };

      environment.systemPackages = [
        mcpCall
        pkgs.curl
        pkgs.jq
      ];
    };

  testScript =
    { nodes, ... }:
    let
      inherit (nodes.machine.services.tailops) package stateDir;
    in
    ''
      import json

      url = "http://127.0.0.1:8080/mcp"
      state = "${stateDir}"

      machine.wait_for_unit("tailops.service")
      machine.wait_for_open_port(8080)

      with subtest("health endpoints answer"):
          machine.succeed("curl -sf http://127.0.0.1:8080/healthz | grep -qx ok")
          machine.wait_until_succeeds("curl -sf http://127.0.0.1:8080/readyz | grep -qx ready", timeout=30)

      with subtest("the unit runs hardened"):
          props = machine.succeed(
              "systemctl show tailops.service -p DynamicUser -p NoNewPrivileges"
              " -p ProtectSystem -p ProtectHome -p PrivateTmp -p PrivateDevices"
              " -p CapabilityBoundingSet -p MemoryDenyWriteExecute -p SupplementaryGroups"
              " -p ProtectKernelTunables -p ProtectKernelModules -p ProtectKernelLogs"
              " -p RestrictNamespaces -p LockPersonality -p RestrictAddressFamilies -p SystemCallFilter"
          )
          print(props)
          for want in ["DynamicUser=yes", "NoNewPrivileges=yes", "ProtectSystem=strict",
                       "ProtectHome=yes", "PrivateTmp=yes", "PrivateDevices=yes",
                       "MemoryDenyWriteExecute=yes", "CapabilityBoundingSet=\n",
                       "ProtectKernelTunables=yes", "ProtectKernelModules=yes", "ProtectKernelLogs=yes",
                       "RestrictNamespaces=yes", "LockPersonality=yes",
                       "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK"]:
              assert want in props + "\n", f"{want!r} not in {props!r}"
          assert "SystemCallFilter=\n" not in props + "\n" and "SystemCallFilter=" in props, f"no SystemCallFilter in {props!r}"
          assert "docker" not in props, "the docker group is added only with docker.enable"
          assert "SupplementaryGroups=systemd-journal" in props, "the journal tools need the systemd-journal group"
          machine.succeed("test \"$(stat -c %U /var/lib/private/tailops)\" != root")
          print(machine.succeed("systemd-analyze security tailops.service | tail -n 1"))

      with subtest("a request without a token is refused"):
          code = machine.succeed(
              f"curl -s -o /dev/null -w '%{{http_code}}' -X POST -H 'Content-Type: application/json' --data '{{}}' {url}"
          )
          assert code == "401", code

      with subtest("mint a token and call health_check over MCP"):
          token = machine.succeed(
              f"tailops token mint --state-dir {state} --agent vm-test --scopes readonly --ttl 10m"
          ).strip()
          assert token, "token mint printed nothing"
          result = json.loads(machine.succeed(f"mcp-call {url} {token} health_check"))
          print(result)
          out = result["structuredContent"]
          assert out["status"] == "ok", result
          assert out["version"] == "${package.version}", result

      with subtest("get_journal reads the host's journal through the systemd-journal group"):
          machine.succeed("logger -t vm-test-journal hello-from-the-vm")
          machine.wait_until_succeeds(
              f"mcp-call {url} {token} get_journal '{{\"grep\": \"hello-from-the-vm\"}}' >/tmp/journal.json"
              " && grep -q hello-from-the-vm /tmp/journal.json", timeout=30)
          result = json.loads(machine.succeed("cat /tmp/journal.json"))
          print(result)
          assert not result.get("isError"), result

      with subtest("the call is audited and the audit log verifies"):
          machine.succeed(
              f"jq -s -e 'any(.[]; .tool == \"health_check\" and .result == \"success\""
              f" and .caller.agent == \"vm-test\")' {state}/audit/audit.log"
          )
          machine.succeed(f"tailops audit verify {state}/audit/audit.log")
    '';
}
