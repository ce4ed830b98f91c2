#!/bin/sh
# The `http` driver end to end, through itest, against itest's test HTTP
# server (selftest/servers/testhttpd.c) on loopback: predicates on status,
# headers and JSON, captures carried between steps (JSONPath, header,
# cookie, regex, XPath), cookies across steps, polling with `retry`; a
# failing expectation whose report shows the request line, the status
# and the body; a refused port as an ERROR; a load error with its
# location.
set -eu
itest=$1
srv=$(dirname "$itest")/selftest/itest-testhttpd
[ -x "$srv" ] || { echo "FAIL: no test server at $srv"; exit 1; }
tmp=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
"$srv" >"$tmp/port" &
pid=$!
n=0
while [ ! -s "$tmp/port" ] && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
port=$(cat "$tmp/port")
[ -n "$port" ] || { echo "FAIL: the test server did not start"; exit 1; }
# a port that nothing listens on: the test server's, once it is stopped
"$srv" >"$tmp/port2" &
pid2=$!
n=0
while [ ! -s "$tmp/port2" ] && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
dead=$(cat "$tmp/port2")
kill "$pid2"
wait "$pid2" 2>/dev/null || true

cat >"$tmp/http.yml" <<YML
name: http
vars:
  base: "http://127.0.0.1:$port"
tests:
  - name: captures flow between steps
    steps:
      - name: create
        http:
          post: "\${base}/echo"
          json: { item: widget, qty: 2, id: 9007199254740993 }
          headers: { X-Request-Id: abc-123 }
        expect:
          status: 200
          headers: { content-type: "~^application/json" }
          json:
            \$.method: POST
            "\$.headers['x-request-id']": abc-123
            \$.body: { contains: '"id":9007199254740993' }
          duration: { lt: 5s }
        capture:
          conn: \$.conn
          ctype: { header: Content-Type }
          method: { regex: '"method":"([A-Z]+)"' }
      - http:
          get: "\${base}/echo"
          query: { conn: "\${conn}", was: "\${method}", type: "\${ctype}" }
        expect:
          json:
            \$.args.conn: "~^\${conn}\$"
            \$.args.was: POST
            \$.args.type: application/json
            \$.conn: "\${conn}"      # a number still: the connection was reused
      - http: { get: "\${base}/set-cookie?session=s1" }
        capture: { session: { cookie: session } }
      - http: { get: "\${base}/echo" }
        expect: { json: { \$.headers.cookie: "session=\${session}" } }
      - http: { get: "\${base}/redirect/2", follow-redirects: true }
        expect: { status: 200, json: { \$.redirected: true } }
      - http: { get: "\${base}/redirect/1" }
        expect: { status: 302, headers: { location: /redirect/0 } }
  - name: retry polls until expect holds
    steps:
      - http: { get: "\${base}/count" }
        expect: { json: { \$.n: { ge: 3 } } }
        retry: { attempts: 10, interval: 10ms }
  - name: xml bodies
    steps:
      - http: { get: "\${base}/xml" }
        expect: { xpath: { "//item[@id='1']": widget, "count(//item)": 2 } }
        capture: { second: { xpath: "//item[2]" } }
      - http: { get: "\${base}/echo", query: { s: "\${second}" } }
        expect: { json: { \$.args.s: gadget } }
  - name: a new test has an empty cookie jar
    steps:
      - http: { get: "\${base}/echo" }
        expect: { json: { \$.headers.cookie: { exists: false } } }
  - name: wrong status
    steps:
      - http: { get: "\${base}/json" }
        expect: { status: 201 }
  - name: refused
    steps:
      - http: { get: "http://127.0.0.1:$dead/json" }
YML

rc=0
"$itest" --color never -o "$tmp/out" --run-id r "$tmp/http.yml" >"$tmp/out.txt" 2>&1 || rc=$?
fail() {
  echo "FAIL: $*"
  cat "$tmp/out.txt"
  exit 1
}
[ $rc = 1 ] || fail "exit $rc, expected 1"
grep -q 'PASS  http/captures flow between steps' "$tmp/out.txt" || fail "captures test did not pass"
grep -q 'PASS  http/xml bodies' "$tmp/out.txt" || fail "xml test did not pass"
grep -q 'PASS  http/retry polls' "$tmp/out.txt" || fail "retry test did not pass"
grep -q 'PASS  http/a new test has an empty cookie jar' "$tmp/out.txt" || fail "cookie jar test did not pass"
grep -q 'FAIL  http/wrong status' "$tmp/out.txt" || fail "no FAIL line"
grep -q 'status: expected 201, got 200' "$tmp/out.txt" || fail "no predicate in the failure"
grep -q "> GET http://127.0.0.1:$port/json" "$tmp/out.txt" || fail "no request line in the failure"
grep -q '< HTTP/1.1 200 OK in ' "$tmp/out.txt" || fail "no status line in the failure"
grep -q '< {"a":1,"b":{"c":"x"}}' "$tmp/out.txt" || fail "no body in the failure"
grep -q "curl --compressed http://127.0.0.1:$port/json" "$tmp/out.txt" || fail "no curl line"
grep -q 'ERROR http/refused' "$tmp/out.txt" || fail "refused port is not an ERROR"
grep -q "cannot connect to 127.0.0.1:$dead: Connection refused" "$tmp/out.txt" || fail "no refused message"
j=$tmp/out/r/junit.xml
grep -q 'tests="6"' "$j" || fail "junit: tests"
grep -q 'failures="1"' "$j" || fail "junit: failures"
grep -q 'errors="1"' "$j" || fail "junit: errors"

# busy waiting off (ITEST_SPIN_US=0, docs/http.md): the same outcomes
rc=0
ITEST_SPIN_US=0 "$itest" --color never -o "$tmp/out" --run-id r0 "$tmp/http.yml" >"$tmp/out.txt" 2>&1 || rc=$?
[ $rc = 1 ] || fail "ITEST_SPIN_US=0: exit $rc, expected 1"
grep -q 'tests="6" failures="1" errors="1"' "$tmp/out/r0/junit.xml" || fail "ITEST_SPIN_US=0: junit counts"
# and a value that is not a number of microseconds is a usage error
rc=0
ITEST_SPIN_US=lots "$itest" -o "$tmp/out" "$tmp/http.yml" >"$tmp/out.txt" 2>&1 || rc=$?
[ $rc = 2 ] || fail "ITEST_SPIN_US=lots: exit $rc, expected 2"
grep -q "itest: error: bad ITEST_SPIN_US 'lots' (write microseconds from 0 to 100000; 0 turns busy waiting off)" "$tmp/out.txt" ||
  fail "ITEST_SPIN_US=lots: message"

# a typo in a step key is a load error with its location
cat >"$tmp/bad.yml" <<YML
tests:
  - name: typo
    steps:
      - http: { get: "http://127.0.0.1:$port/json", hedaers: { a: b } }
YML
rc=0
"$itest" check "$tmp/bad.yml" >"$tmp/out.txt" 2>&1 || rc=$?
[ $rc = 2 ] || fail "check: exit $rc, expected 2"
grep -q "bad.yml:4:53: error: unknown key 'hedaers' in 'http' step (did you mean 'headers'?)" "$tmp/out.txt" ||
  fail "check: message"
echo "1 passed, 0 failed"
