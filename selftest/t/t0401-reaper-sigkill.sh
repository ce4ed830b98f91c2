#!/bin/sh
# itest killed by SIGKILL mid-run: its reaper ends every process of the
# run by itself -- the components (each in its process group), the
# running shell step, an orphan and a daemon (setsid) that a step left --
# found by ITEST_RUN_ID in /proc/*/environ; it removes the run's registry
# entry and says what it did.  Before that, while the run lives: the
# entry and the components' groups are in the registry, and orphans that
# die are reaped (no zombie children of itest, a child subreaper).
set -eu
. selftest/t/lib.sh
itest=$1
build=$(cd "$(dirname "$itest")" && pwd)
top=$(pwd)
export SHOP_BIN="$build/examples/shop"
tmp=$(mktemp -d)
pid=
cleanup() {
  [ -z "$pid" ] || kill -9 $pid 2>/dev/null || true
  sleep 0.5
  rm -rf "$tmp"
}
trap cleanup EXIT
export XDG_RUNTIME_DIR="$tmp/rt" ITEST_PORTS=15000-15199
mkdir "$tmp/rt"
runs="$tmp/rt/itest/runs"
id=t0401-$$
cat >"$tmp/s.yml" <<YML
name: kill9
include: [$top/suites/shop/system.yml]
components:
  bare: # no environment at all: found by its process group only
    run: [env, -i, /bin/sleep, "300"]
    ready: { command: "true" }
tests:
  - name: hangs while the shop runs
    steps:
      - shell: "(sleep 0.1 &); (sleep 300 &); setsid sleep 301 & echo \${web.url} > $tmp/started; sleep 60"
YML
# how many zombie children process $1 has
zombies_of() {
  parent=$1 z=0
  for s in /proc/[0-9]*/stat; do
    line=$(cat 2>/dev/null <"$s") || continue
    set -- ${line##*) }
    [ "$1" = Z ] && [ "$2" = "$parent" ] && z=$((z + 1))
  done
  echo $z
}
"$itest" --color never -o "$tmp/o" --run-id $id "$tmp/s.yml" >"$tmp/out" 2>&1 &
pid=$!
n=0
while [ ! -e "$tmp/started" ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n + 1)); done
[ -e "$tmp/started" ] || { cat "$tmp/out"; fail "the test never started"; }
# the entry: runs/RUN_ID.TOKEN.json, and runs/RUN_ID.TOKEN/
entry=$(ls "$runs"/$id.*.json 2>/dev/null) || fail "no registry entry in $runs"
grep -q "\"pid\": $pid," "$entry" || fail "the entry does not name itest's pid"
grep -q "\"run_id\": \"$id\"" "$entry" || fail "the entry does not name the run"
[ "$(wc -l <"${entry%.json}/pgids")" -eq 4 ] || fail "the 4 components' groups are not registered"
cp "${entry%.json}/pgids" "$tmp/pgids"
# every process of the run carries the entry's key too
key=$(basename "$entry" .json)
tr '\0' '\n' 2>/dev/null <"/proc/$(head -n 1 "$tmp/pgids" | cut -d' ' -f1)/environ" |
  grep -qx "ITEST_RUN_KEY=$key" || fail "a component lacks ITEST_RUN_KEY"
sleep 0.8
# the orphan (sleep 0.1) was reparented to itest and reaped
[ "$(zombies_of $pid)" = 0 ] || fail "itest leaves zombie children"
before=$(live $id | wc -l)
[ "$before" -ge 7 ] || fail "expected at least 7 live processes of the run, found $before"
kill -9 $pid
wait $pid 2>/dev/null || true
n=0
while [ -n "$(live $id)" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
left=$(live $id)
[ -z "$left" ] || fail "processes of the killed run are left: $left"
# nothing is left in the components' groups either
for g in $(awk '{print $1}' "$tmp/pgids"); do
  for s in /proc/[0-9]*/stat; do
    line=$(cat 2>/dev/null <"$s") || continue
    set -- ${line##*) }
    [ "$1" != Z ] && [ "$3" = "$g" ] && fail "process group $g is left: $s"
  done
done
n=0
while [ -e "$entry" ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
[ ! -e "$entry" ] || fail "the registry entry is left"
[ ! -e "${entry%.json}" ] || fail "the registry folder of the run is left"
grep -q "^itest: reaper: run $id: itest died; ended [0-9]* processes" "$tmp/out" ||
  { cat "$tmp/out"; fail "the reaper did not say what it ended"; }
[ -z "$(reaper_of $id)" ] || fail "the reaper is still running"
# a normal run leaves no entry and no reaper behind
cat >"$tmp/ok.yml" <<YML
name: ok
include: [$top/suites/shop/system.yml]
tests:
  - name: health
    steps:
      - http: { get: "\${web.url}/health" }
YML
"$itest" --color never -o "$tmp/o" --run-id $id-ok "$tmp/ok.yml" >"$tmp/out2" 2>&1 ||
  { cat "$tmp/out2"; fail "the normal run failed"; }
[ -z "$(ls "$runs")" ] || fail "a normal run left its entry: $(ls "$runs")"
[ -z "$(live $id-ok)" ] || fail "a normal run left processes"
[ -z "$(reaper_of $id-ok)" ] || fail "the reaper of a normal run is still running"
# two runs that share a run id: the reaper of the killed one leaves the
# other alone
cat >"$tmp/twin.yml" <<YML
name: twin
tests:
  - name: sleeps
    steps:
      - shell: "touch $tmp/twin-\$\$; sleep 2"
YML
"$itest" --color never -o "$tmp/t1" --run-id $id-twin "$tmp/twin.yml" >"$tmp/t1.out" 2>&1 &
pid=$!
"$itest" --color never -o "$tmp/t2" --run-id $id-twin "$tmp/twin.yml" >"$tmp/t2.out" 2>&1 &
pid2=$!
n=0
while [ "$(ls "$tmp" | grep -c '^twin-')" -lt 2 ] && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
[ "$(ls "$runs" | grep -c "^$id-twin\..*\.json$")" = 2 ] || fail "two runs with one id do not have two entries"
kill -9 $pid
wait $pid 2>/dev/null || true
pid=
n=0
while [ "$(ls "$runs" | grep -c '\.json$')" != 1 ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
[ "$(live $id-twin | wc -l)" -ge 2 ] || fail "the reaper of one run ended its twin's processes"
wait $pid2 || { cat "$tmp/t2.out"; fail "the twin run failed"; }
grep -q "^1 passed" "$tmp/t2.out" || { cat "$tmp/t2.out"; fail "the twin's test did not pass"; }
echo "1 passed, 0 failed"
