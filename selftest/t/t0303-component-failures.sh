#!/bin/sh
# Components that fail: one that never becomes ready makes the run exit 3
# with the probe's last answer and the last lines of its log; one that
# exits while tests run makes the tests that cover it ERROR with its exit
# status and log tail, while a test that does not cover it still passes.
set -eu
. selftest/t/lib.sh
itest=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cat >"$tmp/never.yml" <<'YML'
name: never-ready
components:
  slow:
    run: "echo starting up; echo still loading; exec sleep 30"
    ready: { log: "^listening", timeout: 500ms }
tests:
  - name: uses slow
    steps:
      - shell: "echo ${slow.url}"
YML
rc=0
"$itest" --color never -o "$tmp/o" --run-id never "$tmp/never.yml" \
  >"$tmp/never.out" 2>&1 || rc=$?
[ $rc = 3 ] || { cat "$tmp/never.out"; fail "never-ready exited $rc, not 3"; }
grep -q "component 'slow' did not become ready" "$tmp/never.out" ||
  { cat "$tmp/never.out"; fail "no readiness message"; }
grep -q "still loading" "$tmp/never.out" || fail "no log tail in the message"
grep -q '^ERROR never-ready/uses slow' "$tmp/never.out" ||
  fail "the test was not reported as an error"

cat >"$tmp/crash.yml" <<'YML'
name: crashing
components:
  brittle:
    run: "echo up; sleep 0.3; echo 'fatal: out of cheese' >&2; exit 7"
    ready: { log: "^up" }
tests:
  - name: waits for the crash
    covers: []
    steps:
      - shell: "sleep 0.8"
  - name: uses the crashed component
    steps:
      - shell: "echo ${brittle.url}"
YML
rc=0
"$itest" --color never -o "$tmp/o" --run-id crash "$tmp/crash.yml" \
  >"$tmp/crash.out" 2>&1 || rc=$?
[ $rc = 1 ] || { cat "$tmp/crash.out"; fail "crash run exited $rc, not 1"; }
grep -q '^PASS  crashing/waits for the crash' "$tmp/crash.out" ||
  { cat "$tmp/crash.out"; fail "the test that does not cover it failed"; }
grep -q '^ERROR crashing/uses the crashed component' "$tmp/crash.out" ||
  { cat "$tmp/crash.out"; fail "the covering test did not error"; }
grep -q "exited with status 7" "$tmp/crash.out" || fail "no exit status"
grep -q "out of cheese" "$tmp/crash.out" || fail "no log tail"
# --fail-fast deploys nothing more after the first failure
cat >"$tmp/ff.yml" <<YML
name: ff
strategy: bottom-up
components:
  a: { run: "echo up; exec sleep 30", ready: { log: "^up" } }
  b: { run: "touch $tmp/b-started; echo up; exec sleep 30", ready: { log: "^up" }, needs: [a] }
tests:
  - name: fails in stage 1
    steps:
      - shell: "echo \${a.url}; false"
  - name: would need b
    steps:
      - shell: "echo \${b.url}"
YML
rc=0
"$itest" --color never -o "$tmp/o" --fail-fast --keep-going "$tmp/ff.yml" \
  >"$tmp/ff.out" 2>&1 || rc=$?
[ $rc = 1 ] || { cat "$tmp/ff.out"; fail "fail-fast run exited $rc"; }
grep -q '^SKIP  ff/would need b  (not run: --fail-fast)' "$tmp/ff.out" ||
  { cat "$tmp/ff.out"; fail "the later stage's test was not skipped"; }
[ ! -e "$tmp/b-started" ] || fail "--fail-fast still deployed the next stage"
echo "1 passed, 0 failed"
