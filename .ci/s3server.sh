# shellcheck shell=bash
# Sourced by .ci/run and .ci/with-s3: start_s3 builds and starts a real S3
# server on loopback for the fleet cache tests (fleet_test.go,
# fleet/s3_test.go) and exports what they read; stop_s3 stops it by PID
# and removes its data.
#
# VersityGW (Apache-2.0, real SigV4, accounts with roles) comes from the Go
# module proxy (builds in ~80 s on 2 cores the first time, ~30 s from the
# build cache; starts in ~2 s), with the posix backend in a temp dir.
# Accounts: gmfrw owns the bucket (reads and writes); gmfro may only read
# it, through the bucket policy the tests set as gmfrw (fleet_test.go).
s3dir=
s3pid=

start_s3() {
  s3dir=$(mktemp -d)
  local start=$SECONDS
  GOBIN="$s3dir" go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
  echo "versitygw built in $((SECONDS - start)) s"
  local port admin root_secret rw_secret ro_secret
  port=$(s3_free_port) && admin=$(s3_free_port) || {
    echo "no free port for the S3 test server" >&2
    return 1
  }
  mkdir -p "$s3dir/data" "$s3dir/iam"
  root_secret=root-$RANDOM$RANDOM$RANDOM
  ROOT_ACCESS_KEY=gmfroot ROOT_SECRET_KEY="$root_secret" \
    "$s3dir/versitygw" --port "127.0.0.1:$port" --admin-port "127.0.0.1:$admin" \
    --iam-dir "$s3dir/iam" --quiet posix "$s3dir/data" >"$s3dir/log" 2>&1 &
  s3pid=$!
  s3_admin() {
    "$s3dir/versitygw" admin -a gmfroot -s "$root_secret" --er "http://127.0.0.1:$admin" "$@"
  }
  for _ in $(seq 100); do
    s3_admin list-users >/dev/null 2>&1 && break
    kill -0 "$s3pid" 2>/dev/null || break
    sleep 0.1
  done
  rw_secret=rw-$RANDOM$RANDOM$RANDOM
  ro_secret=ro-$RANDOM$RANDOM$RANDOM
  if ! { s3_admin create-user -a gmfrw -s "$rw_secret" -r user &&
    s3_admin create-user -a gmfro -s "$ro_secret" -r user &&
    s3_admin create-bucket --owner gmfrw --bucket gomodfetch-test; } >"$s3dir/admin.log" 2>&1; then
    echo "the S3 test server did not start:" >&2
    cat "$s3dir/log" "$s3dir/admin.log" >&2
    return 1
  fi
  echo "versitygw running (pid $s3pid, http://127.0.0.1:$port)"
  export GOMODFETCH_TEST_S3_ENDPOINT="http://127.0.0.1:$port"
  export GOMODFETCH_TEST_S3_BUCKET=gomodfetch-test
  export GOMODFETCH_TEST_S3_KEY=gmfrw GOMODFETCH_TEST_S3_SECRET="$rw_secret"
  export GOMODFETCH_TEST_S3_RO_KEY=gmfro GOMODFETCH_TEST_S3_RO_SECRET="$ro_secret"
}

stop_s3() {
  if [ -n "$s3pid" ]; then
    kill "$s3pid" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$s3pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$s3pid" 2>/dev/null || true
    s3pid=
  fi
  if [ -n "$s3dir" ]; then
    rm -rf "$s3dir"
    s3dir=
  fi
}

# s3_free_port prints a loopback port nothing listens on, below the
# kernel's ephemeral range (ip_local_port_range, 32768-60999 by default):
# a port there can be free to connect to and still taken as the local end
# of some outgoing connection, and the server's bind then fails.
s3_free_port() {
  local p lo=32768
  read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
  [ "$lo" -gt 11000 ] || lo=32768
  for _ in $(seq 50); do
    p=$((10000 + RANDOM % (lo - 10000)))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  return 1
}
