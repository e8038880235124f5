#!/usr/bin/env bash
# deploy/image.sh — build the mtm container image with docker or podman.
#
#   deploy/image.sh build            build mtm:$VERSION and mtm:latest (make image)
#   deploy/image.sh base [--force]   podman only: make debian:bookworm-slim locally
#   deploy/image.sh engine           print the engine that would be used
#   deploy/image.sh run ARGS...      run the engine (docker or podman) with ARGS,
#                                    with the podman settings below in effect
#
# Engine: docker when a docker engine answers (`docker info`; a docker client
# without a daemon does not count), podman otherwise; MTM_IMAGE_ENGINE=docker
# or podman forces one.
#
# Podman (Debian 12's 4.3.1, as root) needs, on machines like ours:
#   - a containers.conf (build/image/containers.conf, named by CONTAINERS_CONF)
#     with runtime runc (crun fails on cgroup v1 with a hybrid v2 mount),
#     cgroupfs, a file events logger, and default_ulimits no larger than this
#     machine's hard limits (podman's defaults exceed them and runc fails);
#   - a local base image, since no registry is reachable: mmdebstrap
#     --variant=minbase of bookworm from this machine's apt sources
#     (MTM_IMAGE_APT_SOURCES: files to paste into the image's sources list;
#     default /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list),
#     imported as docker.io/library/debian:bookworm-slim; then build with
#     --pull=never;
#   - --format docker, or the image loses its HEALTHCHECK.
#
# Environment: VERSION, REVISION (the Makefile passes both; REVISION defaults
# to `git describe --always --dirty`), MTM_IMAGE (default mtm),
# MTM_IMAGE_SOURCE (the source label; default: git remote origin).
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=docker.io/library/debian:bookworm-slim
CONF_DIR=$PWD/build/image
IMAGE=${MTM_IMAGE:-mtm}

die() {
	echo "image: $*" >&2
	exit 1
}

engine() {
	case "${MTM_IMAGE_ENGINE:-}" in
	docker | podman)
		echo "$MTM_IMAGE_ENGINE"
		return
		;;
	"") ;;
	*) die "MTM_IMAGE_ENGINE must be docker or podman" ;;
	esac
	# podman need not be installed yet: build installs it.
	if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
		echo docker
	else
		echo podman
	fi
}

# Writes build/image/containers.conf for this machine and exports CONTAINERS_CONF.
podman_conf() {
	local nofile nproc pidmax
	nofile=$(ulimit -Hn)
	nproc=$(ulimit -Hu)
	pidmax=$(cat /proc/sys/kernel/pid_max 2>/dev/null || echo 32768)
	[[ $nofile == unlimited ]] && nofile=1048576
	if [[ $nproc == unlimited ]] || ((nproc > pidmax)); then nproc=$pidmax; fi
	mkdir -p "$CONF_DIR"
	cat >"$CONF_DIR/containers.conf.tmp" <<EOF
# Written by deploy/image.sh for this machine (see its header).
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
	mv "$CONF_DIR/containers.conf.tmp" "$CONF_DIR/containers.conf"
	export CONTAINERS_CONF=$CONF_DIR/containers.conf
}

apt_sources() {
	if [[ -n ${MTM_IMAGE_APT_SOURCES:-} ]]; then
		echo "$MTM_IMAGE_APT_SOURCES"
	elif [[ -s /etc/apt/sources.list.d/debian.sources ]]; then
		echo /etc/apt/sources.list.d/debian.sources
	elif [[ -s /etc/apt/sources.list ]]; then
		echo /etc/apt/sources.list
	else
		die "no apt sources found; set MTM_IMAGE_APT_SOURCES"
	fi
}

base() {
	local force=${1:-}
	podman_conf
	if [[ $force != --force ]] && podman image exists "$BASE"; then
		echo "image: base $BASE is present (deploy/image.sh base --force remakes it)"
		return 0
	fi
	command -v mmdebstrap >/dev/null || die "mmdebstrap not found (deploy/install-deps.sh image)"
	local tar=$CONF_DIR/bookworm-minbase.tar sources
	# shellcheck disable=SC2207
	sources=($(apt_sources))
	echo "image: making $BASE with mmdebstrap from ${sources[*]}"
	# As in Debian's own images: apt keeps no .deb files or package caches.
	export DOCKER_CLEAN='DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";'
	rm -f "$tar"
	# Like Debian's slim images: no man pages, docs (but copyrights) or
	# translations, in the base and in whatever is installed on top of it.
	mmdebstrap --variant=minbase --mode=root --format=tar \
		--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
		--dpkgopt='path-exclude=/usr/share/man/*' \
		--dpkgopt='path-exclude=/usr/share/doc/*' \
		--dpkgopt='path-include=/usr/share/doc/*/copyright' \
		--dpkgopt='path-exclude=/usr/share/locale/*' \
		--dpkgopt='path-exclude=/usr/share/info/*' \
		--aptopt='APT::Install-Recommends "false"' \
		--customize-hook='printf "%s\n" "$DOCKER_CLEAN" >"$1"/etc/apt/apt.conf.d/docker-clean' \
		--customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
		bookworm "$tar" "${sources[@]}"
	podman import --change 'CMD ["bash"]' "$tar" "$BASE"
	rm -f "$tar"
}

build() {
	local eng version revision created source
	eng=$(engine)
	version=${VERSION:-0.0.0}
	revision=${REVISION:-$(git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)}
	created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	# The repository's address (OCI source label): MTM_IMAGE_SOURCE, else the
	# git remote "origin", else "unknown".
	source=${MTM_IMAGE_SOURCE:-$(git remote get-url origin 2>/dev/null || echo unknown)}
	local -a args=(
		--build-arg "VERSION=$version" --build-arg "REVISION=$revision" --build-arg "CREATED=$created" --build-arg "SOURCE=$source"
		-t "$IMAGE:$version" -t "$IMAGE:latest"
	)
	# This machine's CA bundle, for npm in the build (see the Dockerfile's ui stage).
	local cacerts=${MTM_IMAGE_CACERTS:-/etc/ssl/certs/ca-certificates.crt}
	[[ -s $cacerts ]] && args+=(--secret "id=cacerts,src=$cacerts")
	args+=(.)
	echo "image: building $IMAGE:$version (revision $revision) with $eng"
	if [[ $eng == podman ]]; then
		deploy/install-deps.sh image
		base
		# --network host: the build's apt-get and npm reach the same mirrors
		# as this machine, without CNI/netavark.
		# --jobs 3: the three stages (build, ui, runtime) at once; mostly
		# waiting on apt and npm, so faster even on two cores.
		podman build --format docker --pull=never --network host --jobs 3 "${args[@]}"
	else
		docker build "${args[@]}"
	fi
	"$eng" image inspect --format '{{.Size}}' "$IMAGE:$version" |
		awk -v img="$IMAGE:$version" '{printf "image: %s is %.0f MB\n", img, $1 / 1e6}'
}

case "${1:-}" in
build) build ;;
base)
	[[ $(engine) == podman ]] || die "base: only needed for podman (docker pulls debian:bookworm-slim)"
	base "${2:-}"
	;;
engine) engine ;;
run)
	shift
	eng=$(engine)
	[[ $eng == podman ]] && podman_conf
	exec "$eng" "$@"
	;;
*)
	echo "usage: $0 build | base [--force] | engine | run ARGS..." >&2
	exit 2
	;;
esac
