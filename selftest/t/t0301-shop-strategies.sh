#!/bin/sh
# The demo shop under every strategy (the README's main job), and the
# broken interface caught at its stage: bottom-up stage 2 fails, stage 3
# is skipped naming the interface, and --keep-going runs it anyway; the
# integration coverage of both runs.
# Also: four runs of the same suite at once, each with its own ports and
# run folder, and no component left running after any of them.
set -eu
. selftest/t/lib.sh
itest=$1
build=$(cd "$(dirname "$itest")" && pwd)
export SHOP_BIN="$build/examples/shop"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

rc=0
"$itest" --color never -o "$tmp/o" --run-id main -t '!broken-on-purpose' \
  suites/ >"$tmp/main.out" 2>&1 || rc=$?
[ $rc = 0 ] || { cat "$tmp/main.out"; fail "main job exited $rc"; }

rc=0
"$itest" --color never -o "$tmp/o" --run-id broken \
  suites/shop/broken-interface.yml >"$tmp/b.out" 2>&1 || rc=$?
[ $rc = 1 ] || { cat "$tmp/b.out"; fail "broken suite exited $rc, not 1"; }
grep -q '^PASS  shop-broken-interface/inventory alone is fine' "$tmp/b.out" ||
  fail "stage 1 did not pass"
grep -q '^FAIL  shop-broken-interface/orders reserve through the real inventory' "$tmp/b.out" ||
  fail "stage 2 did not fail"
grep -q '^SKIP  shop-broken-interface/the web page reserves  (blocked by failure in stage 2 (orders))' "$tmp/b.out" ||
  { cat "$tmp/b.out"; fail "stage 3 was not blocked with the reason"; }
grep -q 'name="shop-broken-interface/stage-2"' "$tmp/o/broken/junit.xml" ||
  fail "no JUnit testsuite per stage"

# integration coverage: the main job covers the whole shop; the broken
# run shows the interface that failed, tried once and not covered
# every browser step acts on the page its test opened: 10 for web
grep -q '^latency: web via browser: 10 requests, 0 errors, ' "$tmp/main.out" ||
  { cat "$tmp/main.out"; fail "main job: browser latency line"; }
grep -q '^coverage: 4 of 4 components, 2 of 2 interfaces, 8 of 13 API operations$' "$tmp/main.out" ||
  { cat "$tmp/main.out"; fail "main job: coverage line"; }
grep -q '^coverage: 1 of 3 components, 0 of 2 interfaces, [0-9]* of 9 API operations$' "$tmp/b.out" ||
  fail "broken run: coverage line"
python3 - "$tmp/o/broken/coverage/coverage.json" "$tmp/o/broken/run.json" <<'PY' ||
import json, sys
cov = json.load(open(sys.argv[1]))
edges = {(e["from"], e["to"]): e for e in cov["interfaces"]}
e = edges[("orders", "inventory")]
assert (e["covered"], e["tests"], e["passed"]) == (False, 1, 0), e
e = edges[("web", "orders")]
assert (e["covered"], e["tests"]) == (False, 0), e  # its stage was blocked
ops = {(o["component"], o["operation"]): o for o in cov["operations"]}
assert ops[("inventory", "GET /items/{sku}")]["hit"], ops
assert not ops[("web", "GET /api/orders/{id}")]["hit"], ops
assert cov["summary"]["operations"] == 9, cov["summary"]  # its own orders has no openapi
comps = {c["name"]: c for c in cov["components"]}
assert comps["inventory"]["covered"] and not comps["orders"]["covered"], comps
assert json.load(open(sys.argv[2]))["coverage"] == cov
PY
  fail "broken run: coverage.json"

rc=0
"$itest" --color never -o "$tmp/o" --run-id going --keep-going \
  suites/shop/broken-interface.yml >"$tmp/k.out" 2>&1 || rc=$?
[ $rc = 1 ] || fail "--keep-going run exited $rc"
grep -q '^FAIL  shop-broken-interface/the web page reserves' "$tmp/k.out" ||
  { cat "$tmp/k.out"; fail "--keep-going did not run stage 3"; }

# four runs at once
for i in 1 2 3 4; do
  "$itest" --color never -o "$tmp/p" --run-id par$i \
    suites/shop/bottom-up.yml >"$tmp/par$i.out" 2>&1 &
done
wait || true
for i in 1 2 3 4; do
  grep -q '^4 passed, 0 failed' "$tmp/par$i.out" ||
    { cat "$tmp/par$i.out"; fail "parallel run $i did not pass"; }
done
# each run's components listened on ports of their own
all=$(cat "$tmp"/p/par*/logs/shop-bottom-up/*.log | grep -c 'listening on')
distinct=$(cat "$tmp"/p/par*/logs/shop-bottom-up/*.log |
  sed -n 's/.*listening on //p' | sort -u | wc -l)
[ "$all" -ge 12 ] || fail "expected 12 component starts, saw $all"
[ "$all" = "$distinct" ] || fail "ports were shared: $all starts, $distinct addresses"
# nothing of these runs is left (found by the run id in the environment;
# other tests may run shop components at the same time)
sleep 0.2
for e in /proc/[0-9]*/environ; do
  if tr '\0' '\n' 2>/dev/null <"$e" | grep -q '^ITEST_RUN_ID=\(main\|broken\|going\|par[1-4]\)$'; then
    fail "a process of a finished run is left: $e"
  fi
done
echo "1 passed, 0 failed"
