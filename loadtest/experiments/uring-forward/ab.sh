#!/usr/bin/env bash
# Alternates the forwarders round by round under the same load and prints each round's CPU
# time per request (user + system, from /proc/<pid>/stat) and then the medians.
#
#   loadtest/experiments/uring-forward/ab.sh [ROUNDS] [SECONDS]
#
# Needs wrk and the workspace's release stub bidder (cargo build --release -p
# bidsieve-loadtest --examples). Forwarder on CPU 1; bidder and wrk (-t1 -c64) on CPU 0;
# loopback ports 19000 and 19020.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
rounds=${1:-8}
seconds=${2:-5}
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
bidder="$root/target/release/examples/stub_bidder"
# A 1.2 KB bid request from the OpenRTB 2.6 examples.
body="$root/../shared/corpus/iab-2.6/05-request-6-2-5-example-5-pmp-with-direct-deal.json"
[ -r "$body" ] || { echo "no request body at $body" >&2; exit 1; }
lua=$(mktemp --suffix .lua)
log=$(mktemp)
trap 'rm -f "$lua" "$log"; kill "$bidder_pid" 2>/dev/null || true' EXIT
printf 'local f = io.open("%s", "rb"); wrk.body = f:read("*a"); f:close()\nwrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n' "$body" >"$lua"
taskset -c 0 "$bidder" --listen 127.0.0.1:19020 --mode nobid >/dev/null 2>&1 &
bidder_pid=$!
sleep 0.5
ticks() { awk '{ print $14, $15 }' "/proc/$1/stat"; }
for round in $(seq 1 "$rounds"); do
  for variant in epoll uring uring-coop; do
    bin="$here/target/release/${variant%-coop}"
    flag=$([ "$variant" = uring-coop ] && echo --coop || true)
    taskset -c 1 "$bin" 127.0.0.1:19000 127.0.0.1:19020 $flag &
    pid=$!
    sleep 0.3
    taskset -c 0 wrk -t1 -c64 -d1 -s "$lua" http://127.0.0.1:19000/ >/dev/null # warm-up
    read -r u0 s0 < <(ticks "$pid")
    requests=$(taskset -c 0 wrk -t1 -c64 -d"$seconds" -s "$lua" http://127.0.0.1:19000/ | awk '/requests in/ { print $1 }')
    read -r u1 s1 < <(ticks "$pid")
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    sleep 1 # the port free again
    echo "$variant $round $requests $((u1 - u0)) $((s1 - s0))" | tee -a "$log"
  done
done
python3 - "$log" "$(getconf CLK_TCK)" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    variant, _, requests, user, system = line.split()
    rows.setdefault(variant, []).append((int(requests), int(user), int(system)))
tick_us = 1e6 / int(sys.argv[2])
print("variant      rounds  req/round  CPU us/req  user  sys   (medians)")
for variant, rs in rows.items():
    med = lambda f: statistics.median(f(r) for r in rs)
    print("%-12s %6d %10.0f %11.2f %5.2f %5.2f" % (variant, len(rs), med(lambda r: r[0]),
          med(lambda r: (r[1] + r[2]) * tick_us / r[0]), med(lambda r: r[1] * tick_us / r[0]),
          med(lambda r: r[2] * tick_us / r[0])))
PY
