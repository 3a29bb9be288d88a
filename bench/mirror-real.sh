#!/bin/sh
# mirror-real.sh makes the GOPROXY tree that `go run ./bench -set projects`
# serves: everything `go mod download` (no arguments) fetches for each
# project under bench/testdata/real, fetched once by the real go command
# from the configured GOPROXY (the module proxy by default) and checked
# against the configured checksum database (sum.golang.org by default).
#
#	bench/mirror-real.sh [DIR]
#
# DIR (default $GOMODFETCH_BENCH_MIRROR, else
# ${XDG_CACHE_HOME:-$HOME/.cache}/gomodfetch-bench/real) is kept outside
# the repository; it holds:
#
#	DIR/modcache/cache/download   the GOPROXY tree (.info, .mod, .zip)
#	DIR/stamps/PROJECT            sha256 of the project's go.mod and go.sum
#
# The bench refuses a mirror whose stamps do not match the projects' files.
# Running the script again fetches only what is missing. The extracted
# source trees go mod download leaves are removed: only cache/download is
# served. It prints how long it took and what the tree holds.
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-${GOMODFETCH_BENCH_MIRROR:-${XDG_CACHE_HOME:-$HOME/.cache}/gomodfetch-bench/real}}
mkdir -p "$dir/modcache" "$dir/stamps"
dir=$(cd "$dir" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

start=$(now)
for p in "$repo"/bench/testdata/real/*/; do
	name=$(basename "$p")
	mkdir -p "$work/$name"
	cp "$p/go.mod" "$p/go.sum" "$work/$name/"
	t0=$(now)
	# GOFLAGS=-modcacherw: the tree can be removed without chmod.
	# GOTOOLCHAIN=local: the bench runs this go, so must the mirror.
	(cd "$work/$name" && GOMODCACHE="$dir/modcache" GOFLAGS=-modcacherw GOTOOLCHAIN=local GOWORK=off go mod download)
	(cd "$p" && sha256sum go.mod go.sum) >"$dir/stamps/$name"
	echo "mirror-real: $name: $(since "$t0")s"
done

# Only cache/download is served: drop the extracted trees.
find "$dir/modcache" -mindepth 1 -maxdepth 1 ! -name cache -exec rm -rf {} +
# The bench waits 370 s after a removal of many files before it times
# anything (settleInodes in bench/main.go): tell it about this one.
date -u +%Y-%m-%dT%H:%M:%S.%NZ >"${TMPDIR:-/tmp}/gomodfetch-bench-removed"

dl=$dir/modcache/cache/download
zips=$(find "$dl" -path "$dl/sumdb" -prune -o -name '*.zip' -print | wc -l)
mods=$(find "$dl" -path "$dl/sumdb" -prune -o -name '*.mod' -print | wc -l)
size=$(du -sh "$dl" | cut -f1)
echo "mirror-real: $(since "$start")s in all; $dl holds $zips zips and $mods go.mod files ($(($mods - $zips)) of modules needed only for their go.mod), $size"
echo "mirror-real: go version: $(go version); GOPROXY=$(go env GOPROXY) GOSUMDB=$(go env GOSUMDB)"
