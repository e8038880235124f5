#!/usr/bin/env bash
# deploy/install-deps.sh — install the Debian 12 packages mtm needs.
#
#   deploy/install-deps.sh [build|run|test|image|all]   install what is missing (default: all)
#   deploy/install-deps.sh --check [GROUP]        list what is missing; exit 1 if anything is
#   deploy/install-deps.sh --list [GROUP]         print the package names, one per line
#
# Groups are cumulative: build = compile; run = build + the local stack (make run);
# test = run + test and lint tools (make test); image = the container tools
# alone (make image: podman, buildah, mmdebstrap, runc; make image-test also
# installs run); all = test + image.
# Checks with dpkg-query first and does nothing when all is there. Otherwise, as root:
# apt-get update + apt-get install; not root: prints the one sudo line and exits 1.
set -euo pipefail

# The one list (group:package). The Makefile and the Dockerfile are checked against it.
PACKAGES=(
	build:build-essential
	build:pkg-config
	build:libfcgi-dev
	build:librabbitmq-dev
	build:libpq-dev
	build:libjson-c-dev
	build:libjwt-dev
	build:libssl-dev
	run:lighttpd
	run:lighttpd-mod-deflate
	run:lighttpd-modules-lua
	run:supervisor
	run:rabbitmq-server
	run:postgresql
	run:prometheus
	run:prometheus-node-exporter
	run:prometheus-alertmanager
	run:curl
	run:nodejs
	run:npm
	run:ca-certificates
	test:libcmocka-dev
	test:chromium
	test:clang
	test:libclang-rt-14-dev
	test:clang-format
	test:clang-tidy
	test:clang-tools
	test:cppcheck
	test:amqp-tools
	test:valgrind
	test:haproxy
	test:gcovr
	image:podman
	image:buildah
	image:runc
	image:uidmap
	image:mmdebstrap
	image:catatonit
)

# A package also counts as present when this command is on PATH (NodeSource's
# nodejs, for one, ships npm itself and conflicts with Debian's npm package).
declare -A COMMAND_OF=([nodejs]=node [npm]=npm [chromium]=chromium)

usage() {
	echo "usage: $0 [build|run|test|image|all] | --check [GROUP] | --list [GROUP]" >&2
	exit 2
}

# packages GROUP -> package names, one per line
packages() {
	local wanted entry
	case "$1" in
	build) wanted=" build " ;;
	run) wanted=" build run " ;;
	test) wanted=" build run test " ;;
	image) wanted=" image " ;;
	all) wanted=" build run test image " ;;
	*) usage ;;
	esac
	for entry in "${PACKAGES[@]}"; do
		if [[ $wanted == *" ${entry%%:*} "* ]]; then
			echo "${entry#*:}"
		fi
	done
}

present() {
	local pkg=$1
	[[ $(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) == "install ok installed" ]] && return 0
	[[ -n ${COMMAND_OF[$pkg]:-} ]] && command -v "${COMMAND_OF[$pkg]}" >/dev/null
}

main() {
	local mode=install
	case "${1:-}" in
	--list | --check) mode=${1#--} && shift ;;
	-*) usage ;;
	esac
	[[ $# -le 1 ]] || usage
	local group=${1:-all} list pkg
	list=$(packages "$group") # validates the group (exits 2 on a bad one)
	if [[ $mode == list ]]; then
		echo "$list"
		return 0
	fi

	command -v dpkg-query >/dev/null || {
		echo "install-deps: dpkg-query not found: this script supports Debian 12 only" >&2
		exit 1
	}
	local -a missing=()
	for pkg in $list; do
		present "$pkg" || missing+=("$pkg")
	done
	if [[ ${#missing[@]} -eq 0 ]]; then
		echo "install-deps: all packages for '$group' are installed"
		return 0
	fi
	echo "install-deps: missing for '$group': ${missing[*]}" >&2
	[[ $mode == check ]] && exit 1
	if [[ $(id -u) -ne 0 ]]; then
		echo "install-deps: not root; run this, then try again:" >&2
		echo "sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}"
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	apt-get install -y --no-install-recommends "${missing[@]}"
}

main "$@"
