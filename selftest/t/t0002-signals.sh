#!/bin/sh
# SIGINT and SIGTERM during a run: the running command's whole process
# group is ended, teardown runs, the JUnit report is written with the
# unfinished tests as errors, and itest ends by the same signal.
set -eu
itest=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
token=itest-sig-$$
cat >"$tmp/sig.yml" <<YML
name: sig
teardown:
  - shell: "touch $tmp/teardown-ran"
tests:
  - name: long
    steps:
      - shell: "touch $tmp/started; sleep 30 # $token"
  - name: never started
    steps:
      - shell: "true"
YML
for sig in INT TERM; do
  rm -f "$tmp/teardown-ran" "$tmp/started"
  "$itest" --color never -o "$tmp/o$sig" --run-id r "$tmp/sig.yml" \
    >"$tmp/out" 2>&1 &
  pid=$!
  n=0
  while [ ! -e "$tmp/started" ] && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
  kill -$sig $pid
  rc=0
  wait $pid || rc=$?
  want=130
  [ $sig = TERM ] && want=143
  [ $rc = $want ] || { echo "FAIL: SIG$sig: exit $rc, expected $want"; cat "$tmp/out"; exit 1; }
  [ -e "$tmp/teardown-ran" ] || { echo "FAIL: SIG$sig: teardown did not run"; exit 1; }
  j="$tmp/o$sig/r/junit.xml"
  [ -f "$j" ] || { echo "FAIL: SIG$sig: no junit.xml"; exit 1; }
  grep -q 'errors="2"' "$j" || { echo "FAIL: SIG$sig: expected 2 errors"; cat "$j"; exit 1; }
  grep -q 'interrupted' "$j" || { echo "FAIL: SIG$sig: no 'interrupted'"; exit 1; }
  sleep 0.1
  if pgrep -f "$token" >/dev/null; then
    echo "FAIL: SIG$sig: the step's process is still running"
    pkill -f "$token" || true
    exit 1
  fi
done
echo "1 passed, 0 failed"
