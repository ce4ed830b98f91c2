#!/bin/sh
# `itest gc` after a crash that took the reaper too (kill -9 of both):
# it ends what the run left (components, a step, a daemon), found by the
# run id and the registered process groups, removes the entry, says
# `run ID: ended N processes`; a second gc has nothing to do.  It leaves
# a live run alone, and a process that carries the run id but started
# before the run began.  `gc --run` of an unknown run is an error.
set -eu
. selftest/t/lib.sh
itest=$1
build=$(cd "$(dirname "$itest")" && pwd)
top=$(pwd)
export SHOP_BIN="$build/examples/shop"
tmp=$(mktemp -d)
pid= old=
cleanup() {
  for p in $pid $old; do kill -9 $p 2>/dev/null || true; done
  "$itest" gc >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
export XDG_RUNTIME_DIR="$tmp/rt" ITEST_PORTS=15200-15399
mkdir "$tmp/rt"
runs="$tmp/rt/itest/runs"
id=t0402-$$
cat >"$tmp/s.yml" <<YML
name: crash
include: [$top/suites/shop/system.yml]
tests:
  - name: hangs
    steps:
      - shell: "setsid sleep 301 & echo started > $tmp/started; sleep 60"
YML
# a process that carries the run id but is older than the run
ITEST_RUN_ID=$id sleep 300 &
old=$!
sleep 0.05
"$itest" --color never -o "$tmp/o" --run-id $id "$tmp/s.yml" >"$tmp/out" 2>&1 &
pid=$!
n=0
while [ ! -e "$tmp/started" ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n + 1)); done
[ -e "$tmp/started" ] || { cat "$tmp/out"; fail "the test never started"; }
"$itest" gc >"$tmp/gc0" 2>&1 || fail "gc during a live run failed"
grep -q "^nothing to clean up$" "$tmp/gc0" || { cat "$tmp/gc0"; fail "gc touched a live run"; }
ls "$runs"/$id.*.json >/dev/null 2>&1 || fail "gc removed a live run's entry"
rc=0
"$itest" gc --run $id >"$tmp/gc1" 2>&1 || rc=$?
[ $rc = 1 ] || fail "gc --run of a live run: exit $rc, expected 1"
grep -q "is still running" "$tmp/gc1" || { cat "$tmp/gc1"; fail "gc --run of a live run does not say why"; }
# the crash: the reaper first, then itest
reaper=$(reaper_of $id)
[ -n "$reaper" ] || fail "no reaper for the run"
kill -9 $reaper
kill -9 $pid
wait $pid 2>/dev/null || true
pid=
sleep 0.3
[ "$(live $id | wc -l)" -ge 5 ] || fail "the crash left too few processes to test gc"
"$itest" gc >"$tmp/gc2" 2>&1 || { cat "$tmp/gc2"; fail "gc failed"; }
grep -Eq "^run $id: ended [0-9]+ processes$" "$tmp/gc2" ||
  { cat "$tmp/gc2"; fail "gc did not say what it ended"; }
left=$(live $id)
[ "$left" = "/proc/$old/environ" ] || fail "after gc, expected only the older process to be left: $left"
[ -z "$(ls "$runs")" ] || fail "gc left the registry entry: $(ls "$runs")"
"$itest" gc >"$tmp/gc3" 2>&1
grep -q "^nothing to clean up$" "$tmp/gc3" || { cat "$tmp/gc3"; fail "a second gc found something"; }
rc=0
"$itest" gc --run no-such-run >"$tmp/gc4" 2>&1 || rc=$?
[ $rc = 2 ] || fail "gc --run of an unknown run: exit $rc, expected 2"
grep -q "no run 'no-such-run' in the registry" "$tmp/gc4" || { cat "$tmp/gc4"; fail "bad message"; }
rc=0
"$itest" gc --bogus >/dev/null 2>&1 || rc=$?
[ $rc = 2 ] || fail "gc --bogus: exit $rc, expected 2"
echo "1 passed, 0 failed"
