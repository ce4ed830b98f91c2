#!/bin/sh
# External drivers (SPEC 6.7) end to end, with the driver programs in
# selftest/drivers/: pass, fail and error answers; json and other parts
# judged by expectations; captures from returned parts flowing into later
# steps (and back to the driver as `vars`); a secret sent to the driver
# but masked in the report; one process per worker under -j 2 (each
# driver writes its pid on open); a crash is an ERROR with the exit
# status and the end of stderr, and the next test restarts the program;
# a hang ends at the step timeout; a line that is not JSON is an ERROR; a
# refused open; SIGINT mid-step leaves no driver process behind; the
# example driver in examples/drivers/ works.  The JUnit report is read
# with python3's XML parser, not with itest.
set -eu
itest=$1
drv=$PWD/selftest/drivers
tmp=$(mktemp -d)
token=itest-ext-$$
itest_pid=
cleanup() {
  [ -n "$itest_pid" ] && kill -9 "$itest_pid" 2>/dev/null
  pkill -9 -f "$token" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
. selftest/t/lib.sh
pass=0

# junit FILE: prints "STATUS<TAB>NAME<TAB>TIME<TAB>TEXT" per test case
junit() {
  python3 - "$1" <<'PY'
import sys
import xml.etree.ElementTree as ET
for case in ET.parse(sys.argv[1]).iter("testcase"):
    status, text = "PASS", ""
    for tag in ("failure", "error", "skipped"):
        e = case.find(tag)
        if e is not None:
            status = tag.upper()
            text = (e.get("message") or "") + " " + (e.text or "")
    out = case.find("system-out")
    if out is not None and out.text:
        text += " " + out.text
    print("\t".join([status, case.get("name"), case.get("time"),
                     " ".join(text.split())]))
PY
}
# status_of CASES NAME
status_of() { awk -F '\t' -v n="$2" '$2 == n { print $1 }' "$1"; }
text_of() { awk -F '\t' -v n="$2" '$2 == n { print $4 }' "$1"; }
time_of() { awk -F '\t' -v n="$2" '$2 == n { print $3 }' "$1"; }
# no_driver_left: fails when a driver process of this test still runs
no_driver_left() {
  sleep 0.1
  if pgrep -f "$token" >/dev/null; then
    pgrep -af "$token"
    fail "$1: a driver process is still running"
  fi
}

# ---- 1. outcomes, parts, captures, vars, secrets ----
cat >"$tmp/main.yml" <<YML
name: ext
vars:
  greeting: hello
  token: { value: s3cr3t-v4lue, secret: true }
drivers:
  echo:
    run: [python3, "$drv/echo_driver.py", "$token"]
    env: { GREETING: "\${greeting}", PIDFILE: "\${run.dir}/pids" }
tests:
  - name: parts and captures
    steps:
      - echo: { item: widget, parts: { rows: 3 } }
        expect:
          rows: 3
          json: { \$.echo.item: widget, \$.greeting: hello, \$.test: parts and captures }
        capture: { n: \$.count, item: \$.echo.item }
      - echo: { after: "\${n}", was: "\${item}", secret: "\${token}" }
        expect:
          json:
            \$.since: 1
            \$.echo.was: widget
            \$.vars.n: { type: integer }
            \$.vars.item: widget
            \$.echo.secret: s3cr3t-v4lue
  - name: json from a body part
    steps:
      - echo: { raw: true, parts: { body: '{"x": [1, 2, 3]}', code: 7 } }
        expect: { code: 7, json: { \$.x: { length: 3 }, "\$.x[2]": 3 } }
      - echo: { raw: true, parts: { stdout: '{"ok": true}' } }
        expect: { json: { \$.ok: true } }
  - name: an expectation on a part fails
    steps:
      - echo: { parts: { rows: 2 } }
        expect: { rows: 3 }
  - name: the driver says fail
    steps:
      - echo: { fail: "no such row 42" }
  - name: the driver says error
    steps:
      - echo: { error: "connection refused by the fake db" }
  - name: the driver works in its suite's folder
    steps:
      - echo: {}
        expect: { json: { \$.cwd: "$tmp" } }
YML
rc=0
"$itest" --color never -o "$tmp/o1" --run-id r "$tmp/main.yml" \
  >"$tmp/out1" 2>&1 || rc=$?
[ $rc = 1 ] || { cat "$tmp/out1"; fail "main: exit $rc, expected 1"; }
junit "$tmp/o1/r/junit.xml" >"$tmp/c1"
for t in "parts and captures" "json from a body part" \
  "the driver works in its suite's folder"; do
  [ "$(status_of "$tmp/c1" "$t")" = PASS ] ||
    { cat "$tmp/out1"; fail "main: '$t' did not pass"; }
done
[ "$(status_of "$tmp/c1" "an expectation on a part fails")" = FAILURE ] ||
  fail "main: a wrong part did not fail"
text_of "$tmp/c1" "an expectation on a part fails" | grep -q 'rows' ||
  fail "main: the part failure does not name the part"
[ "$(status_of "$tmp/c1" "the driver says fail")" = FAILURE ] ||
  fail "main: a 'fail' answer is not a failure"
text_of "$tmp/c1" "the driver says fail" | grep -q 'no such row 42' ||
  fail "main: the 'fail' message is not reported"
[ "$(status_of "$tmp/c1" "the driver says error")" = ERROR ] ||
  fail "main: an 'error' answer is not an error"
text_of "$tmp/c1" "the driver says error" |
  grep -q 'connection refused by the fake db' ||
  fail "main: the 'error' message is not reported"
# the request and the answer are in the step log, the secret is not
text_of "$tmp/c1" "parts and captures" | grep -q '> {"op":"exec","step":' ||
  fail "main: the request is not in the step log"
grep -q 's3cr3t-v4lue' "$tmp/o1/r/junit.xml" &&
  fail "main: the secret shows in the JUnit report"
# one process served every step of the run (-j 1), with one log
[ "$(wc -l <"$tmp/o1/r/pids")" = 1 ] ||
  fail "main: the driver started $(wc -l <"$tmp/o1/r/pids") times"
[ -f "$tmp/o1/r/logs/driver-echo-w1.log" ] || fail "main: no driver log"
no_driver_left main
pass=$((pass + 1))

# ---- 2. one process per worker under -j 2 ----
{
  cat <<YML
name: workers
drivers:
  echo:
    run: [python3, "$drv/echo_driver.py", "$token"]
    env: { PIDFILE: "\${run.dir}/pids" }
tests:
YML
  for i in 1 2 3 4 5 6; do
    cat <<YML
  - name: t$i
    steps:
      - echo: { sleep: 0.2 }
        capture: { pid: \$.pid, n: \$.count }
      - echo: { after: "\${n}" }
        expect: { json: { \$.pid: "\${pid}", \$.since: 1 } }
YML
  done
} >"$tmp/workers.yml"
rc=0
"$itest" --color never -j 2 -o "$tmp/o2" --run-id r "$tmp/workers.yml" \
  >"$tmp/out2" 2>&1 || rc=$?
[ $rc = 0 ] || { cat "$tmp/out2"; fail "workers: exit $rc"; }
opens=$(wc -l <"$tmp/o2/r/pids")
pids=$(sort -u "$tmp/o2/r/pids" | wc -l)
[ "$opens" = 2 ] && [ "$pids" = 2 ] ||
  fail "workers: $opens opens by $pids processes, expected 2 and 2"
[ -f "$tmp/o2/r/logs/driver-echo-w2.log" ] ||
  fail "workers: no second driver log"
no_driver_left workers
pass=$((pass + 1))

# ---- 3. crash, hang, garbage, refused open: ERROR, then a restart ----
cat >"$tmp/bad.yml" <<YML
name: bad
drivers:
  crashy:
    run: [python3, "$drv/bad_driver.py", "$token"]
    env: { PIDFILE: "\${run.dir}/pids" }
  garbage: { run: "sh $drv/garbage.sh $token" }
  refuses:
    run: [python3, "$drv/bad_driver.py", "$token"]
    env: { REFUSE_OPEN: "no database here" }
tests:
  - name: crash
    steps:
      - crashy: { crash: 3 }
  - name: after the crash
    steps:
      - crashy: {}
        capture: { pid: \$.pid }
      - crashy: {}
        expect: { json: { \$.pid: "\${pid}" } }
  - name: hang
    steps:
      - crashy: { hang: 30 }
        timeout: 1s
  - name: after the hang
    steps:
      - crashy: {}
  - name: garbage
    steps:
      - garbage: {}
  - name: refused open
    steps:
      - refuses: {}
YML
rc=0
"$itest" --color never -o "$tmp/o3" --run-id r "$tmp/bad.yml" \
  >"$tmp/out3" 2>&1 || rc=$?
[ $rc = 1 ] || { cat "$tmp/out3"; fail "bad: exit $rc, expected 1"; }
junit "$tmp/o3/r/junit.xml" >"$tmp/c3"
for t in crash hang garbage "refused open"; do
  [ "$(status_of "$tmp/c3" "$t")" = ERROR ] ||
    { cat "$tmp/out3"; fail "bad: '$t' is not an error"; }
done
for t in "after the crash" "after the hang"; do
  [ "$(status_of "$tmp/c3" "$t")" = PASS ] ||
    { cat "$tmp/out3"; fail "bad: '$t' did not pass"; }
done
text_of "$tmp/c3" crash |
  grep -q "driver 'crashy' exited with status 3 .*crashing on purpose" ||
  fail "bad: the crash does not say the status and stderr"
text_of "$tmp/c3" hang | grep -q "did not answer within 1s" ||
  fail "bad: the hang is not reported as a timeout"
ms=$(time_of "$tmp/c3" hang | awk '{ print int($1 * 1000) }')
[ "$ms" -ge 900 ] && [ "$ms" -lt 2500 ] ||
  fail "bad: the hang took ${ms} ms, expected about 1 s"
text_of "$tmp/c3" garbage |
  grep -q "not JSON: Traceback (most recent call last): not json at all" ||
  fail "bad: the garbage is not quoted"
text_of "$tmp/c3" "refused open" | grep -q "failed to open: no database here" ||
  fail "bad: the refused open is not reported"
# three starts: the first, after the crash, after the hang
[ "$(wc -l <"$tmp/o3/r/pids")" = 3 ] ||
  fail "bad: $(wc -l <"$tmp/o3/r/pids") starts, expected 3"
no_driver_left bad
pass=$((pass + 1))

# ---- 4. SIGINT while a driver is busy ----
cat >"$tmp/sig.yml" <<YML
name: sig
drivers:
  crashy:
    run: [python3, "$drv/bad_driver.py", "$token"]
    env: { HANGFILE: "$tmp/hanging" }
tests:
  - name: busy
    steps:
      - crashy: { hang: 30 }
YML
"$itest" --color never -o "$tmp/o4" --run-id r "$tmp/sig.yml" \
  >"$tmp/out4" 2>&1 &
itest_pid=$!
n=0
while [ ! -e "$tmp/hanging" ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n + 1)); done
[ -e "$tmp/hanging" ] || fail "sigint: the driver never got the step"
pgrep -f "$token" >/dev/null || fail "sigint: no driver process to end"
kill -INT $itest_pid
rc=0
wait $itest_pid || rc=$?
itest_pid=
[ $rc = 130 ] || { cat "$tmp/out4"; fail "sigint: exit $rc, expected 130"; }
grep -q 'interrupted' "$tmp/o4/r/junit.xml" || fail "sigint: not interrupted"
no_driver_left sigint
pass=$((pass + 1))

# ---- 5. the example driver for users (examples/drivers/) ----
rc=0
"$itest" --color never -o "$tmp/o5" --run-id r -t '!broken-on-purpose' \
  examples/drivers/sqlite.yml >"$tmp/out5" 2>&1 || rc=$?
[ $rc = 0 ] || { cat "$tmp/out5"; fail "example: exit $rc"; }
rc=0
"$itest" --color never -o "$tmp/o6" --run-id r examples/drivers/sqlite.yml \
  >"$tmp/out6" 2>&1 || rc=$?
[ $rc = 1 ] && grep -q 'sqlite: no such table: no_such_table' "$tmp/out6" ||
  { cat "$tmp/out6"; fail "example: the broken statement is not an error"; }
pass=$((pass + 1))

echo "$pass passed, 0 failed"
