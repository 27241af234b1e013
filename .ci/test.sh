#!/usr/bin/env bash
# Runs every test on a fresh Debian 12 machine, as root: installs what the
# tests need (Debian and npm packages), then vets, builds and tests.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== README's run command in a fresh clone, before this script installs anything"
bash .ci/newcomer.sh

export DEBIAN_FRONTEND=noninteractive

need=()
# libseccomp: the seccomp filter (cgo); docker.io and friends: the Docker tools
# are tested against a real dockerd in its own network namespace (labtest);
# docker-registry: pulls are tested against a local registry.
# systemd-journal-remote: the journal reader is tested against files that
# journald's own code writes (journal/journal_test.go, tools/journal and the
# root package's get_journal tests fail without it; systemd, which it pulls
# in, brings journalctl for BenchmarkJournal).
# nftables, iptables: the firewall tools are tested against rules that nft and
# iptables-nft make, in the tests' own network namespace (tools/firewall).
# systemd, dbus, polkitd, util-linux: the systemd tools are tested against
# systemd as PID 1 of private namespaces, with its bus, polkit and journal
# (internal/systemdtest; policy-rc.d below keeps them from starting on the host).
# packagekit, dpkg-dev: install_package and upgrade_packages are tested against
# the real packagekitd, D-Bus activated in such a bed, installing packages that
# dpkg-deb builds from a local repository that dpkg-scanpackages indexes.
# git, openssh-server: gitsource fetches stacks' repositories, tested against
# git http-backend and a real sshd on the loopback of the tests' own network
# namespace (policy-rc.d below keeps the package's sshd from starting).
# docker-compose: Debian's Python docker-compose 1.29.2, the peer the stacks
# benchmarks compare against (tools/stacks/bench_test.go fails without it).
for pkg in git openssh-server docker-compose libseccomp-dev pkg-config iproute2 curl docker.io containerd runc busybox-static docker-registry strace podman systemd-journal-remote nftables iptables systemd dbus polkitd util-linux packagekit dpkg-dev; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  # Installing docker.io must not start a dockerd on the host network: the
  # tests start their own, each in a network namespace of its own. Debian's
  # maintainer scripts ask policy-rc.d before starting a service; 101 = no.
  made_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
  [ -z "$made_policy" ] || rm -f /usr/sbin/policy-rc.d
fi
command -v go >/dev/null || export PATH=$PATH:/usr/local/go/bin

# Every go command below, and those the tests run (they build the binary
# and tailscaled, also inside network namespaces with only loopback, where
# nothing can be downloaded), use go.mod's Go release, as the release build
# does: fetched now if the installed Go is another version (through the
# module proxy, checked against the checksum database), and its own go
# binary first in PATH, so no go command below has to switch toolchains.
GOTOOLCHAIN=$(bash .ci/go-toolchain.sh)
export GOTOOLCHAIN
PATH=$(go env GOROOT)/bin:$PATH
echo "== Go toolchain (go.mod): $(command -v go), $(go version)"
[ "$(go env GOVERSION)" = "$GOTOOLCHAIN" ]

# The Tailscale features every TailOps build leaves out (tailscale.tags):
# vet, staticcheck, the build and the tests below use them, as the release
# does, so that what is tested is what ships.
TAGS=$(bash .ci/ts-tags.sh)
echo "== Tailscale feature tags (tailscale.tags): $TAGS"

# The release's GOEXPERIMENT (the Makefile's GO_EXPERIMENT: encoding/json
# on Go's encoding/json/v2), for vet, staticcheck, the tests and the
# binaries they build, so that what is tested is what ships.
GOEXPERIMENT=$(bash .ci/goexperiment.sh)
export GOEXPERIMENT
echo "== GOEXPERIMENT (the Makefile's): $GOEXPERIMENT"

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './vendor/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi

echo "== go vet (the standard build, and the build without tsnet)"
go vet -tags "$TAGS" ./...
go vet -tags "$TAGS,tailops_notsnet" ./...

echo "== go mod tidy -diff (go.mod and go.sum say exactly what the code needs)"
go mod tidy -diff

echo "== staticcheck (the standard build, and the build without tsnet)"
for tags in "$TAGS" "$TAGS,tailops_notsnet"; do
  go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 -tags "$tags" ./...
done

echo "== govulncheck (the database built offline from the pinned golang.org/x/vulndb module)"
bash .ci/vulncheck.sh

echo "== go build"
go build -tags "$TAGS" -o tailops .

echo "== nix: .nix files parse, vendorHash matches go mod vendor, flake.lock pins nixpkgs"
bash .ci/nix-check.sh

echo "== release: static build twice in different places, bit-for-bit identical"
bash .ci/repro.sh

echo "== the official TypeScript SDK (npm ci in .ci/ts-client): TestContainerSubscriptionsTypeScriptClient runs it, inside a network namespace where npm cannot reach the registry"
(cd .ci/ts-client && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

echo "== go test (with the race detector: the server is concurrent, and a race in auth or audit is a security bug)"
go test -tags "$TAGS" -race -count=1 -timeout 40m ./...

echo "== fuzz: every target, a short search past its seeds (FUZZ_EXECS inputs each; longer runs: see .ci/fuzz.sh)"
bash .ci/fuzz.sh

echo "== official TypeScript SDK client against the binary"
bash .ci/ts-client/run.sh ./tailops

echo "== official MCP conformance suite against the binary (scenarios that apply: .ci/conformance/scenarios.txt)"
bash .ci/conformance/run.sh ./tailops
