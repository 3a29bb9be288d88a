#!/bin/sh
# mirror-real.sh makes the GOPROXY tree that `go run ./bench -set projects`
# serves: everything `go mod download` (no arguments) fetches for each
# project under bench/testdata/real, fetched once by the real go command
# from the configured GOPROXY (the module proxy by default) and checked
# against the configured checksum database (sum.golang.org by default).
#
#	bench/mirror-real.sh [-full] [DIR]
#
# DIR (default $GOMODFETCH_BENCH_MIRROR, else
# ${XDG_CACHE_HOME:-$HOME/.cache}/gomodfetch-bench/real) is kept outside
# the repository; it holds:
#
#	DIR/modcache/cache/download   the GOPROXY tree (.info, .mod, .zip)
#	DIR/stamps/PROJECT            sha256 of the project's go.mod and go.sum
#	DIR/stamps/full               with -full: the tree is full (see below)
#
# The bench refuses a mirror whose stamps do not match the projects' files.
# Running the script again fetches only what is missing. The extracted
# source trees go mod download leaves are removed: only cache/download is
# served. It prints how long it took and what the tree holds.
#
# go mod download fetches the .info, .mod and .zip of the versions it
# downloads, but only the .mod of the many versions the module graph reads
# just for their go.mod; a real upstream holds every file of every
# version. -full then also fetches the .info and .zip of each version the
# tree holds only a .mod for (go mod download -json path@version, in
# batches, same GOMODCACHE, GOPROXY and GOSUMDB), so that a proxy that
# fetches a version whole (Athens) works over the tree, and a mispredicted
# prefetch costs what it would upstream instead of a cheap 404. Versions
# the proxy refuses (403, 404, 410) are counted and listed, not fatal; any
# other failure is. On success it writes DIR/stamps/full: a first line
# saying what the tree holds and what the run fetched, then one
# "refused PATH@VERSION: ERROR" line per refusal. A later run without -full that finds a version with only a .mod
# that stamp does not list as refused removes the stamp.
set -eu

full=
if [ "${1-}" = -full ]; then
	full=1
	shift
fi

repo=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-${GOMODFETCH_BENCH_MIRROR:-${XDG_CACHE_HOME:-$HOME/.cache}/gomodfetch-bench/real}}
mkdir -p "$dir/modcache" "$dir/stamps"
dir=$(cd "$dir" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

dl=$dir/modcache/cache/download

# droptrees removes the extracted trees (only cache/download is served).
droptrees() {
	find "$dir/modcache" -mindepth 1 -maxdepth 1 ! -name cache -exec rm -rf {} +
	# The bench waits 370 s after a removal of many files before it times
	# anything (settleInodes in bench/main.go): tell it about this one.
	date -u +%Y-%m-%dT%H:%M:%S.%NZ >"${TMPDIR:-/tmp}/gomodfetch-bench-removed"
}

# modonly prints, sorted, PATH@VERSION of each version the tree holds a
# .mod but no .zip for (paths and versions unescaped: !x is X).
modonly() {
	(cd "$dl" && find . -path ./sumdb -prune -o -path '*/@v/*' \( -name '*.mod' -o -name '*.zip' \) -print) |
		awk '{ f = substr($0, 3); b = substr(f, 1, length(f) - 4) }
			/\.zip$/ { zip[b] = 1; next }
			{ mod[b] = 1 }
			END { for (b in mod) if (!(b in zip)) print b }' |
		sed -e 's,/@v/,@,' -e 's/!\([a-z]\)/\U\1/g' | LC_ALL=C sort
}

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

droptrees

if [ -n "$full" ]; then
	t0=$(now)
	rm -f "$dir/stamps/full"
	modonly >"$work/todo"
	ntodo=$(wc -l <"$work/todo")
	echo "mirror-real: -full: $ntodo versions have only a .mod; fetching their .info and .zip"
	mkdir -p "$work/full"
	split -l 100 "$work/todo" "$work/batch."
	: >"$work/results"
	for b in "$work"/batch.*; do
		[ -e "$b" ] || continue
		# Exit status 1 means some version failed: each object says which.
		rc=0
		(cd "$work/full" && GOMODCACHE="$dir/modcache" GOFLAGS="-mod=mod -modcacherw" GOTOOLCHAIN=local GOWORK=off \
			go mod download -json $(cat "$b")) >"$work/out.json" || rc=$?
		if [ "$rc" -gt 1 ]; then
			echo "mirror-real: -full: go mod download exited with status $rc" >&2
			exit 1
		fi
		# One line per object: "ok PATH@VERSION" or "error PATH@VERSION: ERROR"
		# (the error as go quoted it in JSON: no control characters).
		awk '/^\t"Path": /    { p = $0; sub(/^\t"Path": "/, "", p); sub(/",?$/, "", p) }
			/^\t"Version": / { v = $0; sub(/^\t"Version": "/, "", v); sub(/",?$/, "", v) }
			/^\t"Error": /   { e = $0; sub(/^\t"Error": "/, "", e); sub(/",?$/, "", e) }
			/^}/ {
				pv = p "@" v
				if (substr(e, 1, length(pv) + 2) == pv ": ") e = substr(e, length(pv) + 3)
				if (e == "") print "ok " pv; else print "error " pv ": " e
				p = v = e = ""
			}' \
			"$work/out.json" >>"$work/results"
		droptrees
		echo "mirror-real: -full: $(wc -l <"$work/results") of $ntodo done, $(since "$t0")s"
	done
	if [ "$(wc -l <"$work/results")" -ne "$ntodo" ]; then
		echo "mirror-real: -full: go mod download reported on $(wc -l <"$work/results") of $ntodo versions" >&2
		exit 1
	fi
	# A refusal is the proxy's 403, 404 or 410; anything else fails the run.
	grep '^error ' "$work/results" | grep -E ': (403 Forbidden|404 Not Found|410 Gone)' | sed 's/^error /refused /' >"$work/refused" || true
	grep '^error ' "$work/results" | grep -vE ': (403 Forbidden|404 Not Found|410 Gone)' >"$work/failed" || true
	nrefused=$(wc -l <"$work/refused")
	nfailed=$(wc -l <"$work/failed")
	if [ "$nfailed" -gt 0 ]; then
		cat "$work/refused" "$work/failed" >&2
		echo "mirror-real: -full: $nfailed versions failed (not refused by the proxy): run again" >&2
		exit 1
	fi
	cat "$work/refused"
	{
		echo "full: $(date -u +%Y-%m-%dT%H:%M:%SZ): every version whole but $nrefused the proxy refused; this run fetched $(($ntodo - $nrefused)) of $ntodo versions that had only a .mod"
		cat "$work/refused"
	} >"$dir/stamps/full"
	echo "mirror-real: -full: $(since "$t0")s; $(($ntodo - $nrefused)) versions fetched whole, $nrefused refused by the proxy (listed above and in $dir/stamps/full)"
elif [ -e "$dir/stamps/full" ]; then
	# Still full when every version with only a .mod is a listed refusal.
	modonly >"$work/modonly"
	sed -n 's/^refused \([^:]*\): .*/\1/p' "$dir/stamps/full" | LC_ALL=C sort >"$work/refused"
	n=$(LC_ALL=C comm -23 "$work/modonly" "$work/refused" | wc -l)
	if [ "$n" -gt 0 ]; then
		rm "$dir/stamps/full"
		echo "mirror-real: $n versions have only a .mod now: the tree is no longer full (run with -full)"
	fi
fi
zips=$(find "$dl" -path "$dl/sumdb" -prune -o -name '*.zip' -print | wc -l)
mods=$(find "$dl" -path "$dl/sumdb" -prune -o -name '*.mod' -print | wc -l)
size=$(du -sh "$dl" | cut -f1)
echo "mirror-real: $(since "$start")s in all; $dl holds $zips zips and $mods go.mod files ($(($mods - $zips)) versions with a go.mod alone), $size"
echo "mirror-real: go version: $(go version); GOPROXY=$(go env GOPROXY) GOSUMDB=$(go env GOSUMDB)"
