#!/bin/sh
# buildcost.sh measures what building gomodfetch from source costs, with
# the command line Dockerfile.example and action.yml use:
#
#	CGO_ENABLED=0 GOFLAGS=-mod=vendor GOPROXY=off GOWORK=off \
#	  go build -trimpath [-tags TAGS] -o OUT .
#
#	bench/buildcost.sh [-n RUNS] [TAGS ...]
#
# Each TAGS argument is one build configuration (a comma-separated tag
# list; "" or "-" for the default build); with none, the default build,
# each gomodfetch_no* tag alone, and all three together. Each
# configuration is built RUNS times (default 3) on an empty GOCACHE
# (everything compiled, the standard library included, as in a fresh
# golang image or runner), from a copy of the committed tree (git archive
# HEAD). After the cold runs of the first configuration it also measures
# two rebuilds on the warm cache: one with nothing changed, one after a
# change to a file of package main (as a new gomodfetch commit touching
# only the command would be).
#
# One line per run, tab-separated: configuration, kind (cold, warm,
# warm-main-changed), wall seconds, user+sys CPU seconds, peak RSS of the
# largest process in MiB (GNU time's "Maximum resident set size"), the
# binary's size in MiB, the build cache's size in MiB, and both as
# actions/cache would store them (a tar compressed with zstd -T0
# --long=30), in MiB. Then the medians of the cold runs. `sync` runs
# before each build.
set -eu

runs=3
if [ "${1:-}" = -n ]; then
	runs=$2
	shift 2
fi
if [ $# -eq 0 ]; then
	set -- - gomodfetch_nos3 gomodfetch_nogcs gomodfetch_noazure \
		gomodfetch_nos3,gomodfetch_nogcs,gomodfetch_noazure
fi

repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
trap 'exit 1' INT TERM
mkdir "$work/src"
git -C "$repo" archive HEAD | tar -x -C "$work/src"

mib() { du -sm "$1" | cut -f1; }
zmib() { tar -C "$(dirname "$1")" -c "$(basename "$1")" | zstd -q -T0 --long=30 | wc -c | awk '{ printf "%.0f", $1 / 1048576 }'; }

# build CONFIG KIND: one measured build into $work/out with GOCACHE=$work/gocache.
build() {
	tags=$1
	[ "$tags" = - ] && tags=
	sync
	(cd "$work/src" && CGO_ENABLED=0 GOFLAGS=-mod=vendor GOPROXY=off GOWORK=off \
		GOTOOLCHAIN=local GOCACHE="$work/gocache" \
		/usr/bin/time -v -o "$work/time" go build -trimpath -tags "$tags" -o "$work/out" .)
	awk -v cfg="${1}" -v kind="$2" -v bin="$(mib "$work/out")" -v cache="$(mib "$work/gocache")" \
		-v zbin="$(zmib "$work/out")" -v zcache="$(zmib "$work/gocache")" -F': ' '
		/User time/ { u = $2 }
		/System time/ { s = $2 }
		/Elapsed \(wall clock\)/ { n = split($2, p, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + p[i] }
		/Maximum resident set size/ { r = $2 / 1024 }
		END { printf "%s\t%s\t%.1f\t%.1f\t%.0f\t%s\t%s\t%s\t%s\n", cfg, kind, w, u + s, r, bin, cache, zbin, zcache }
	' "$work/time"
}

printf 'config\tkind\twall_s\tcpu_s\tpeak_rss_mib\tbinary_mib\tgocache_mib\tbinary_zst_mib\tgocache_zst_mib\n'
first=1
for cfg in "$@"; do
	for _ in $(seq "$runs"); do
		chmod -R u+w "$work/gocache" 2>/dev/null || true
		rm -rf "$work/gocache"
		build "$cfg" cold | tee -a "$work/results"
	done
	if [ $first = 1 ]; then
		first=0
		build "$cfg" warm
		printf '\n// a change\n' >>"$work/src/main.go"
		build "$cfg" warm-main-changed
	fi
done

echo
echo "medians of the cold runs (wall s, cpu s, peak RSS MiB):"
for cfg in "$@"; do
	awk -v cfg="$cfg" -F'\t' '$1 == cfg' "$work/results" | awk -F'\t' '
		{ w[NR] = $3; c[NR] = $4; r[NR] = $5; cfg = $1 }
		function med(a, n,   i, j, t) {
			for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
			return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		}
		END { printf "%s\t%.1f\t%.1f\t%.0f\n", cfg, med(w, NR), med(c, NR), med(r, NR) }'
done
