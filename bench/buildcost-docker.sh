#!/bin/sh
# buildcost-docker.sh times Dockerfile.example's gomodfetch stage under
# BuildKit (plain `docker build`, DOCKER_BUILDKIT=1, against $DOCKER_HOST):
#
#	bench/buildcost-docker.sh [GO_IMAGE]
#
# 1. first: the committed source (git archive HEAD, imported as an image
#    and named by GOMODFETCH_SRC) on an emptied Go build cache mount;
# 2. same source: BuildKit's layer cache, nothing runs;
# 3. main changed: the source with one change in package main, on the
#    cache mount the first build filled (a new gomodfetch commit);
# 4. cold again: that changed source on an emptied cache mount, which is
#    what the third build would cost without the cache mount.
#
# For each it prints the build's wall time and the go build step's time as
# BuildKit reports it ("DONE 12.3s", or CACHED). GO_IMAGE (default
# golang:1.26) must have the Go toolchain on PATH and HOME=/root. $DOCKER
# names the client (default docker; it needs BuildKit, e.g. Debian's
# docker.io /usr/bin/docker). The images it makes are removed at the end;
# the cache mount is left emptied.
set -eu

go_image=${1:-golang:1.26}
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
tag=gomodfetch-buildcost-$$
trap 'docker rmi -f "$tag-src:1" "$tag-src:2" "$tag:out" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
trap 'exit 1' INT TERM
export DOCKER_BUILDKIT=1
docker() { command "${DOCKER:-docker}" "$@"; }

mkdir "$work/src" "$work/ctx" "$work/empty"
git -C "$repo" archive HEAD | tar -x -C "$work/src"
tar -C "$work/src" -c . | docker import - "$tag-src:1" >/dev/null
printf '\n// a change\n' >>"$work/src/main.go"
tar -C "$work/src" -c . | docker import - "$tag-src:2" >/dev/null
cp "$repo/Dockerfile.example" "$work/ctx/Dockerfile"
printf 'FROM %s\nARG BUST\nRUN --mount=type=cache,target=/root/.cache/go-build,sharing=locked rm -rf /root/.cache/go-build/*\n' \
	"$go_image" >"$work/empty/Dockerfile"

empty() {
	docker build -q --network none --build-arg BUST="$(date +%s%N)" "$work/empty" >/dev/null
}

# build NAME SRC BUST: the gomodfetch stage alone. BUST, a build tag that
# matches no file, keys BuildKit's layer cache to this run (and to a cold
# build of its own in the fourth case).
build() {
	sync
	t0=$(date +%s.%N)
	docker build --network none --progress plain --target gomodfetch -t "$tag:out" \
		--build-arg GO_IMAGE="$go_image" --build-arg GOMODFETCH_SRC="$2" --build-arg GOMODFETCH_TAGS="$3" \
		"$work/ctx" >"$work/log" 2>&1 || { cat "$work/log" >&2; exit 1; }
	t1=$(date +%s.%N)
	step=$(awk '/go build -trimpath/ && /^#[0-9]+ / { print $1; exit }' "$work/log")
	awk -v name="$1" -v step="$step" -v wall="$(echo "$t1 $t0" | awk '{ printf "%.1f", $1 - $2 }')" '
		$1 == step && ($2 == "DONE" || $2 == "CACHED") { s = ($2 == "DONE") ? $3 : "CACHED" }
		END { printf "%s\tbuild %ss\tgo build step %s\n", name, wall, s }' "$work/log"
}

empty
build first "$tag-src:1" "buildcost_$$"
build "same source" "$tag-src:1" "buildcost_$$"
build "main changed" "$tag-src:2" "buildcost_$$"
empty
build "cold again" "$tag-src:2" "buildcost_$$_cold"
empty
