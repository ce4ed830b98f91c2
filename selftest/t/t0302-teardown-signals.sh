#!/bin/sh
# A run with live components ends them all: after SIGINT and after
# SIGTERM mid-test, no process of the run is left (looked up by the run id
# that every component carries in its environment), teardown ran, the
# JUnit report was written, and itest ended by the signal.
set -eu
. selftest/t/lib.sh
itest=$1
build=$(cd "$(dirname "$itest")" && pwd)
top=$(pwd)
export SHOP_BIN="$build/examples/shop"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/s.yml" <<YML
name: sig-shop
include: [$top/suites/shop/system.yml]
teardown:
  - shell: "touch $tmp/teardown-ran"
tests:
  - name: hangs while the shop runs
    steps:
      - shell: "echo \${web.url} > $tmp/started; sleep 30"
YML
for sig in INT TERM; do
  lsig=$(echo $sig | tr A-Z a-z)
  rm -f "$tmp/started" "$tmp/teardown-ran"
  "$itest" --color never -o "$tmp/o" --run-id sig-$lsig "$tmp/s.yml" \
    >"$tmp/out" 2>&1 &
  pid=$!
  n=0
  while [ ! -e "$tmp/started" ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n + 1)); done
  [ -e "$tmp/started" ] || { cat "$tmp/out"; fail "the test never started"; }
  [ -n "$(live sig-$lsig)" ] || fail "no live component found by run id"
  kill -$sig $pid
  rc=0
  wait $pid || rc=$?
  want=130
  [ $sig = TERM ] && want=143
  [ $rc = $want ] || { cat "$tmp/out"; fail "SIG$sig: exit $rc, expected $want"; }
  [ -e "$tmp/teardown-ran" ] || fail "SIG$sig: teardown did not run"
  [ -f "$tmp/o/sig-$lsig/junit.xml" ] || fail "SIG$sig: no junit.xml"
  left=$(live sig-$lsig)
  [ -z "$left" ] || fail "SIG$sig: processes of the run are left: $left"
done
echo "1 passed, 0 failed"
