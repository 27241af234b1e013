# SPDX-License-Identifier: Apache-2.0
#
# make build     development binary ./tailops (cgo, dynamic), as in the README
# make release   dist/tailops-linux-<arch> (static, reproducible), its SBOM
#                dist/tailops-linux-<arch>.cdx.json and dist/SHA256SUMS
# make repro     build the release twice in different places and compare
# make nix-check parse every .nix file, check vendorHash and flake.lock
# make vendor-hash  recompute vendorHash in nix/package.nix after go.mod changes
#
# The release build is bit-for-bit reproducible: everything that reaches the
# binary comes from the inputs (source, Go toolchain, C toolchain, libseccomp,
# VERSION and COMMIT below), never from the clock, the checkout path, GOPATH,
# GOCACHE, TZ, umask or the environment's GOFLAGS. Needs: go (any Go that
# can switch toolchains, 1.21 or newer), gcc, libseccomp-dev, binutils.
#
# The Go toolchain is pinned by go.mod's toolchain line (GO_TOOLCHAIN below, as
# .ci/go-toolchain.sh reads it): builds here run with GOTOOLCHAIN set to
# exactly that release, whatever Go is installed and whatever its go.env or
# the caller's GOTOOLCHAIN say, so the go command fetches it through the
# module proxy (golang.org/toolchain) and checks it against the checksum
# database, or takes it from the module cache where it was fetched before.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build
.DELETE_ON_ERROR:
# release runs binary, sbom and checksums in order, even under make -j.
.NOTPARALLEL:
.SUFFIXES:

GO ?= go
DIST ?= dist
GO_TOOLCHAIN := $(shell bash .ci/go-toolchain.sh)
ifeq ($(GO_TOOLCHAIN),)
$(error cannot read the Go toolchain from go.mod (.ci/go-toolchain.sh))
endif
GOARCH ?= $(shell $(GO) env GOARCH)
GOOS := linux

# VERSION and COMMIT are inputs: pass them explicitly (VERSION=1.2.3
# COMMIT=<sha>) or they come from the VERSION file / git, never from time.
ifeq ($(origin VERSION),undefined)
VERSION := $(shell cat VERSION 2>/dev/null || git describe --tags --always --dirty 2>/dev/null || echo dev)
endif
ifeq ($(origin COMMIT),undefined)
COMMIT := $(shell c=$$(git rev-parse HEAD 2>/dev/null) || { echo unknown; exit; }; git diff --quiet HEAD -- 2>/dev/null || c=$$c-dirty; echo $$c)
endif
ifneq ($(shell printf '%s' '$(VERSION)$(COMMIT)' | LC_ALL=C grep -c '^[A-Za-z0-9._+-]*$$'),1)
$(error VERSION and COMMIT may hold only letters, digits and ._+- (got VERSION=$(VERSION) COMMIT=$(COMMIT)))
endif
# The SBOM names a release version Go-style (1.2.3 -> v1.2.3).
SBOM_VERSION := $(if $(and $(filter 0% 1% 2% 3% 4% 5% 6% 7% 8% 9%,$(VERSION)),$(findstring .,$(VERSION))),v$(VERSION),$(VERSION))

BIN := $(DIST)/tailops-$(GOOS)-$(GOARCH)
SBOM := $(BIN).cdx.json

# The Tailscale features TailOps leaves out (ts_omit_* tags, listed in
# tailscale.tags): every build has them, this one, `make build`, Nix's and
# the tests' (.ci/test.sh), so that what is tested is what ships.
TS_TAGS := $(shell bash .ci/ts-tags.sh)
ifeq ($(TS_TAGS),)
$(error cannot read the Tailscale feature tags from tailscale.tags (.ci/ts-tags.sh))
endif

# The pinned release flags, the same as flake.nix's packages.default.
# -s -w leave out the symbol table and DWARF (39.4 MB -> 28.1 MB); panics
# still print file:line (from the runtime's pclntab), and the module list
# the SBOM is made from (go version -m) stays.
# timetzdata puts Go's time zone database in the binary (about 450 KB;
# the time package itself imports it, so it is there before any package's
# init reads the local zone): the appliance image then carries no zoneinfo
# tree (1.3 MB), and TZ works wherever the host has none. A host's own
# database, where there is one, still comes first.
RELEASE_TAGS := netgo,osusergo,timetzdata,tailops_noinfer,$(TS_TAGS)
RELEASE_LDFLAGS := -s -w -linkmode external -extldflags "-static" -buildid= \
	-X main.version=$(VERSION) -X main.commit=$(COMMIT)
# Every build's GOEXPERIMENT: jsonv2 puts Go's encoding/json/v2 under
# encoding/json, in TailOps and every library it links (mcp-go encodes
# each response with encoding/json): a 1 MiB read_file answers 1.7x as
# fast (BENCHMARKS.md, "Issue 19 on a quiet machine, and encoding/json/v2").
# nix/package.nix and .ci/test.sh set the same (.ci/goexperiment.sh reads
# this line; .ci/nix-check.sh compares); labtest.CheckBuild fails a test
# binary, or a binary the tests or the release built, without it.
GO_EXPERIMENT := jsonv2
# A pinned build environment: nothing from the caller's environment may
# change the output (GOFLAGS could add flags, GOAMD64 change the code...).
RELEASE_ENV := env CGO_ENABLED=1 GOOS=$(GOOS) GOARCH=$(GOARCH) GOFLAGS= \
	GOTOOLCHAIN=$(GO_TOOLCHAIN) GOAMD64=v1 GOARM64=v8.0 GOEXPERIMENT=$(GO_EXPERIMENT) \
	CGO_CFLAGS='-O2 -g' CGO_CPPFLAGS= CGO_CXXFLAGS='-O2 -g' CGO_LDFLAGS='-O2 -g' \
	LC_ALL=C

# The SBOM generator, pinned in nix/tools/go.mod (and go.sum), built with
# -trimpath so that its own hash, recorded in the SBOM, is reproducible too.
TOOLS_DIR ?= $(DIST)/.tools
CYCLONEDX := $(TOOLS_DIR)/cyclonedx-gomod

.PHONY: build release binary sbom checksums repro nix-check vendor-hash clean help print-version

build:
	env GOTOOLCHAIN=$(GO_TOOLCHAIN) GOEXPERIMENT=$(GO_EXPERIMENT) $(GO) build -tags $(TS_TAGS) -o tailops .

print-version:
	@echo '$(VERSION) $(COMMIT)'

help:
	@sed -n '3,8p' Makefile | sed 's/^# \{0,1\}//'

release: binary sbom checksums
	@echo "release: $(BIN) ($(VERSION), $(COMMIT))"
	@cat $(DIST)/SHA256SUMS

binary:
	@mkdir -p $(DIST)
	rm -f $(BIN)
	$(RELEASE_ENV) $(GO) build -mod=readonly -tags $(RELEASE_TAGS) -trimpath -buildvcs=false \
		-ldflags '$(RELEASE_LDFLAGS)' -o $(BIN) .
	@# a static executable has no program interpreter (PT_INTERP)
	@if LC_ALL=C readelf -lW $(BIN) | grep -q 'INTERP'; then \
		echo "$(BIN) is dynamically linked" >&2; exit 1; fi
	@if LC_ALL=C readelf -SW $(BIN) | grep -q '\.dynamic'; then \
		echo "$(BIN) has a .dynamic section" >&2; exit 1; fi

sbom: $(CYCLONEDX)
	@test -x $(BIN) || { echo "$(BIN) is missing: make binary first" >&2; exit 1; }
	rm -f $(SBOM)
	env GOFLAGS= GOTOOLCHAIN=$(GO_TOOLCHAIN) $(CYCLONEDX) bin -json -noserial -notimestamp \
		-version $(SBOM_VERSION) -output $(SBOM) $(BIN)

$(CYCLONEDX): nix/tools/go.mod nix/tools/go.sum
	@mkdir -p $(TOOLS_DIR)
	env CGO_ENABLED=0 GOFLAGS= GOTOOLCHAIN=$(GO_TOOLCHAIN) $(GO) -C nix/tools build -mod=readonly -trimpath \
		-buildvcs=false -o $(abspath $@) github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod

checksums:
	cd $(DIST) && LC_ALL=C sha256sum $(notdir $(BIN)) $(notdir $(SBOM)) > SHA256SUMS

repro:
	bash .ci/repro.sh

nix-check:
	bash .ci/nix-check.sh

vendor-hash:
	bash nix/update-vendor-hash.sh

clean:
	rm -rf $(DIST) tailops
