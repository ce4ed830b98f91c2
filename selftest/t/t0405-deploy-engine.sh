#!/bin/sh
# `deploy: {up, down, ready}` hands a component to an engine (here shell
# commands stand in for docker compose): `up` runs with ${run.id} and
# ${port} filled in and ITEST_RUN_ID in its environment, then the probe;
# `down` always runs -- after a failing test, after a failed `up`, and by
# the reaper when itest is killed.  A failing `down` is reported, not
# fatal.  An argv list runs without a shell.
set -eu
. selftest/t/lib.sh
itest=$1
tmp=$(mktemp -d)
pid=
cleanup() {
  [ -z "$pid" ] || kill -9 $pid 2>/dev/null || true
  for f in "$tmp"/o/*/pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
export XDG_RUNTIME_DIR="$tmp/rt" ITEST_PORTS=15800-15999
mkdir "$tmp/rt"
id=t0405-$$
alive() { kill -0 "$1" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

cat >"$tmp/comps.yml" <<'YML'
components:
  api:
    deploy:
      up: >-
        echo "$ITEST_RUN_ID ${run.id} $PORT ${port}" > ${run.dir}/up-env;
        python3 -m http.server ${port} --bind 127.0.0.1 >${run.dir}/srv.log 2>&1 &
        echo $! > ${run.dir}/pid
      down: "touch ${run.dir}/down-ran; kill $(cat ${run.dir}/pid)"
      ready: { http: "${url}/" }
  tool:
    deploy:
      up: [printf, "%s|%s|\n", "a b", "${run.id}"]
      down: [touch, "${run.dir}/tool down"]
      ready: { command: "true" }
YML
cat >"$tmp/engine.yml" <<YML
name: engine
include: [$tmp/comps.yml]
tests:
  - name: the engine's service answers
    steps:
      - http: { get: "\${api.url}/" }
        expect: { status: 200 }
  - name: a failing test
    covers: [tool]
    steps:
      - shell: "false"
YML
rc=0
"$itest" --color never -o "$tmp/o" --run-id $id "$tmp/engine.yml" >"$tmp/out" 2>&1 || rc=$?
[ $rc = 1 ] || { cat "$tmp/out"; fail "exit $rc, expected 1"; }
grep -q "^PASS  engine/the engine's service answers" "$tmp/out" || { cat "$tmp/out"; fail "the service did not answer"; }
port=$(awk '{print $3}' "$tmp/o/$id/up-env")
[ "$(cat "$tmp/o/$id/up-env")" = "$id $id $port $port" ] ||
  fail "up saw: $(cat "$tmp/o/$id/up-env")"
[ -e "$tmp/o/$id/down-ran" ] || fail "down did not run after a failing test"
[ -e "$tmp/o/$id/tool down" ] || fail "the argv down did not run"
alive "$(cat "$tmp/o/$id/pid")" && fail "the engine's service is still running"
grep -qx "a b|$id|" "$tmp/o/$id/logs/engine/tool.log" ||
  { cat "$tmp/o/$id/logs/engine/tool.log"; fail "the argv up went through a shell"; }
grep -q "^--- deploy down: " "$tmp/o/$id/logs/engine/api.log" || fail "down is not in the log"
[ -z "$(ls "$tmp/rt/itest/runs")" ] || fail "the run left its registry entry"

# a failed up: exit 3, and down still runs; its failure is a warning
cat >"$tmp/bad.yml" <<'YML'
name: bad
components:
  api:
    deploy:
      up: "echo starting; exit 3"
      down: "touch ${run.dir}/down-ran; echo cannot; exit 4"
tests:
  - name: never runs
    steps:
      - shell: "true"
YML
rc=0
"$itest" --color never -o "$tmp/o" --run-id $id-bad "$tmp/bad.yml" >"$tmp/bad.out" 2>&1 || rc=$?
[ $rc = 3 ] || { cat "$tmp/bad.out"; fail "a failed up: exit $rc, expected 3"; }
grep -q "component 'api': deploy up 'echo starting; exit 3' exited with status 3" "$tmp/bad.out" ||
  { cat "$tmp/bad.out"; fail "the failed up is not explained"; }
[ -e "$tmp/o/$id-bad/down-ran" ] || fail "down did not run after a failed up"
grep -q "^itest: warning: component 'api': deploy down '.*' exited with status 4: cannot$" "$tmp/bad.out" ||
  { cat "$tmp/bad.out"; fail "the failing down is not reported"; }

# a failing down does not fail a passing run
cat >"$tmp/df.yml" <<'YML'
name: downfails
components:
  api:
    deploy:
      up: "echo starting"
      down: "echo cannot; exit 4"
      ready: { command: "true" }
tests:
  - name: passes
    covers: [api]
    steps:
      - shell: "true"
YML
rc=0
"$itest" --color never -o "$tmp/o" --run-id $id-df "$tmp/df.yml" >"$tmp/df.out" 2>&1 || rc=$?
[ $rc = 0 ] || { cat "$tmp/df.out"; fail "a failing down failed the run ($rc)"; }
grep -q "^itest: warning: component 'api': deploy down" "$tmp/df.out" || fail "no warning"

# itest killed: the reaper runs down
cat >"$tmp/kill.yml" <<YML
name: killed
include: [$tmp/comps.yml]
tests:
  - name: hangs
    steps:
      - shell: "touch $tmp/started; sleep 60"
YML
"$itest" --color never -o "$tmp/o" --run-id $id-k "$tmp/kill.yml" >"$tmp/k.out" 2>&1 &
pid=$!
n=0
while [ ! -e "$tmp/started" ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n + 1)); done
[ -e "$tmp/started" ] || { cat "$tmp/k.out"; fail "the test never started"; }
srv=$(cat "$tmp/o/$id-k/pid")
alive $srv || fail "the engine's service is not running"
kill -9 $pid
wait $pid 2>/dev/null || true
pid=
n=0
while [ ! -e "$tmp/o/$id-k/down-ran" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
[ -e "$tmp/o/$id-k/down-ran" ] || { cat "$tmp/k.out"; fail "the reaper did not run down"; }
n=0
while alive $srv && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
alive $srv && fail "the engine's service survived the reaper"
grep -q "^--- down (itest was gone): " "$tmp/o/$id-k/logs/killed/api.log" || fail "the reaper's down is not in the log"
echo "1 passed, 0 failed"
