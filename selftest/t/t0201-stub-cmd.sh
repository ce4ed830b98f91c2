#!/bin/sh
# `itest stub FILE --port N`: serves a stub file on its own.  It prints
# where it serves and one line per request, answers from the file (a
# `file:` response relative to the stub file's folder), ends cleanly with
# exit 0 on SIGTERM; a bad stub file is exit 2 with FILE:LINE:COL; a busy
# port is exit 2 with the reason.
set -eu
itest=$1
tmp=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  [ -f "$tmp/out" ] && cat "$tmp/out"
  exit 1
}
command -v curl >/dev/null || fail "this test needs the curl command"

mkdir "$tmp/stubs"
cat >"$tmp/stubs/orders.yml" <<'YML'
routes:
  - when: { method: POST, path: /orders, json: { $.qty: { gt: 0 } } }
    respond: { status: 201, json: { id: 42, qty: "${request.json.qty}" } }
  - when: { method: GET, path: "~^/orders/\\d+$" }
    respond: { file: order.json }
YML
printf '{"id": 7}\n' >"$tmp/stubs/order.json"

# --port 0: any free port, read back from the first line
"$itest" stub "$tmp/stubs/orders.yml" --port 0 >"$tmp/out" 2>&1 &
pid=$!
n=0
port=
while [ $n -lt 200 ]; do
  port=$(sed -n 's|^serving .* on http://127\.0\.0\.1:\([0-9]*\) (2 routes); Ctrl-C stops$|\1|p' "$tmp/out")
  [ -n "$port" ] && break
  kill -0 $pid 2>/dev/null || fail "itest stub ended early"
  sleep 0.05
  n=$((n + 1))
done
[ -n "$port" ] || fail "no 'serving ... on http://127.0.0.1:PORT' line"
url=http://127.0.0.1:$port

body=$(curl -s -X POST -H 'Content-Type: application/json' -d '{"qty": 2}' "$url/orders")
[ "$body" = '{"id":42,"qty":2}' ] || fail "POST /orders answered '$body'"
body=$(curl -s "$url/orders/7")
[ "$body" = '{"id": 7}' ] || fail "GET /orders/7 answered '$body'"
code=$(curl -s -o "$tmp/404" -w '%{http_code}' -X POST -d '{"qty": 0}' "$url/orders")
[ "$code" = 404 ] || fail "an unmatched request got $code"
grep -q '"closest": "POST /orders (route 1, .*orders.yml:2:5)"' "$tmp/404" ||
  { cat "$tmp/404"; fail "the 404 does not name route 1"; }
grep -q '"why": "json \$.qty: expected a value > 0, got 0"' "$tmp/404" ||
  { cat "$tmp/404"; fail "the 404 does not say why"; }

# a second server cannot take the same port
rc=0
"$itest" stub "$tmp/stubs/orders.yml" --port "$port" >"$tmp/busy" 2>&1 || rc=$?
[ $rc = 2 ] || fail "a busy port: exit $rc, expected 2"
grep -q "cannot listen on 127.0.0.1:$port: Address already in use" "$tmp/busy" ||
  { cat "$tmp/busy"; fail "a busy port: no reason given"; }

kill -TERM $pid
rc=0
wait $pid || rc=$?
pid=
[ $rc = 0 ] || fail "SIGTERM: exit $rc, expected 0"
for line in 'POST /orders -> 201 (route 1)' 'GET /orders/7 -> 200 (route 2)' \
  'POST /orders -> 404 unmatched' 'stopped (SIGTERM)'; do
  grep -qxF "$line" "$tmp/out" || fail "no line '$line'"
done

# a bad stub file: exit 2, FILE:LINE:COL, nothing served
cat >"$tmp/bad.yml" <<'YML'
routes:
  - when: { method: GET, paht: /x }
    respond: { status: 200 }
YML
rc=0
"$itest" stub "$tmp/bad.yml" --port 0 >"$tmp/out" 2>&1 || rc=$?
[ $rc = 2 ] || fail "a bad stub file: exit $rc, expected 2"
grep -qF "$tmp/bad.yml:2:26: error: unknown key 'paht' in 'when' (did you mean 'path'?)" "$tmp/out" ||
  fail "a bad stub file: no FILE:LINE:COL error"
grep -q serving "$tmp/out" && fail "a bad stub file was served"

# usage errors
rc=0
"$itest" stub "$tmp/stubs/orders.yml" >"$tmp/out" 2>&1 || rc=$?
[ $rc = 2 ] || fail "no --port: exit $rc, expected 2"
grep -q "needs --port N" "$tmp/out" || fail "no --port: no message"
rc=0
"$itest" stub "$tmp/stubs/orders.yml" --port 70000 >"$tmp/out" 2>&1 || rc=$?
[ $rc = 2 ] || fail "--port 70000: exit $rc, expected 2"
"$itest" stub --help >"$tmp/out" 2>&1 || fail "--help: exit $?"
grep -q "usage: itest stub FILE --port N" "$tmp/out" || fail "--help: no usage"
echo "1 passed, 0 failed"
