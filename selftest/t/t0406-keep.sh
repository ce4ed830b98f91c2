#!/bin/sh
# --keep: at the end the deployment stays up (processes and an engine's
# service), itest prints each component's URL and the command that ends
# it, and its reaper leaves it alone.  Plain `itest gc` leaves a kept run
# alone too; `itest gc --run ID` ends it all (down included) and removes
# its registry entry.
set -eu
. selftest/t/lib.sh
itest=$1
build=$(cd "$(dirname "$itest")" && pwd)
top=$(pwd)
export SHOP_BIN="$build/examples/shop"
tmp=$(mktemp -d)
id=t0406-$$
cleanup() {
  "$itest" gc --run $id >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
export XDG_RUNTIME_DIR="$tmp/rt" ITEST_PORTS=16000-16199
mkdir "$tmp/rt"
runs="$tmp/rt/itest/runs"
cat >"$tmp/s.yml" <<YML
name: shopkeep
include: [$top/suites/shop/system.yml]
components:
  files:
    deploy:
      up: "python3 -m http.server \${port} --bind 127.0.0.1 >/dev/null 2>&1 & echo \$! > \${run.dir}/pid"
      down: "touch \${run.dir}/down-ran; kill \$(cat \${run.dir}/pid)"
      ready: { http: "\${url}/" }
tests:
  - name: the shop is up
    covers: [files]
    steps:
      - http: { get: "\${web.url}/health" }
        expect: { status: 200 }
YML
"$itest" --keep --color never -o "$tmp/o" --run-id $id "$tmp/s.yml" >"$tmp/out" 2>&1 ||
  { cat "$tmp/out"; fail "the run failed"; }
kept=$(grep "^kept: shopkeep: " "$tmp/out") || { cat "$tmp/out"; fail "no 'kept:' line"; }
echo "$kept" | grep -Eq '^kept: shopkeep: inventory http://127\.0\.0\.1:[0-9]+, orders http://127\.0\.0\.1:[0-9]+, web http://127\.0\.0\.1:[0-9]+, files http://127\.0\.0\.1:[0-9]+$' ||
  fail "bad 'kept:' line: $kept"
grep -qx "tear down with: itest gc --run $id" "$tmp/out" || { cat "$tmp/out"; fail "no tear-down command"; }
web=$(echo "$kept" | sed 's/.*web \(http:[^,]*\),.*/\1/')
files=$(echo "$kept" | sed 's/.*files \(http:.*\)$/\1/')
sleep 0.5 # the reaper was told "keep": it must not end anything
curl -sf -o /dev/null "$web/health" || fail "the kept web does not answer at $web"
curl -sf -o /dev/null "$files/" || fail "the kept engine service does not answer at $files"
grep -q '"kept": true' "$runs"/$id.*.json || fail "the registry entry is not marked kept"
[ -z "$(reaper_of $id)" ] || fail "the reaper is still running"
"$itest" gc >"$tmp/gc1" 2>&1
grep -qx "run $id: kept by --keep (end it with: itest gc --run $id)" "$tmp/gc1" ||
  { cat "$tmp/gc1"; fail "plain gc did not leave the kept run alone"; }
curl -sf -o /dev/null "$web/health" || fail "plain gc ended the kept run"
"$itest" gc --run $id >"$tmp/gc2" 2>&1 || { cat "$tmp/gc2"; fail "gc --run failed"; }
grep -Eqx "run $id: ended [0-9]+ processes" "$tmp/gc2" || { cat "$tmp/gc2"; fail "gc --run did not say what it ended"; }
[ -e "$tmp/o/$id/down-ran" ] || fail "gc --run did not run the engine's down"
curl -s -o /dev/null "$web/health" && fail "web still answers after gc --run"
curl -s -o /dev/null "$files/" && fail "the engine's service still answers after gc --run"
[ -z "$(live $id)" ] || fail "processes of the kept run are left: $(live $id)"
[ -z "$(ls "$runs")" ] || fail "gc --run left the registry entry"
echo "1 passed, 0 failed"
