#!/bin/sh
# The `stub` step (SPEC 6.6) through a whole run: `count` and `unmatched`
# over the calls a stub got since its test began (a request that no route
# takes counts as unmatched, and `unmatched: 0` then fails with the
# number), each test starting from zero, and a `stub` step that names a
# component running for real in the stage (big-bang: every component
# that can run does) is an ERROR that says so.
set -eu
itest=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*"
  cat "$tmp/out.txt"
  exit 1
}
command -v python3 >/dev/null || fail "this test needs python3"

cat >"$tmp/suite.yml" <<'YML'
name: stubstep
components:
  real:
    run: [python3, -m, http.server, --bind, 127.0.0.1, "${port}"]
    ready: { http: "${url}/" }
    stub: { routes: [] } # stands in for it in other strategies
  fake:
    stub:
      routes:
        - when: { method: GET, path: /known }
          respond: { json: { ok: true } }
tests:
  - name: a matched call
    covers: [real, fake]
    steps:
      - http: { get: "${fake.url}/known" }
        expect: { status: 200, json: { $.ok: true } }
      - stub: fake
        expect: { count: 1, unmatched: 0, json: { "$[0].path": /known } }
  - name: an unmatched call is counted
    steps:
      - http: { get: "${fake.url}/unknown" }
        expect: { status: 404 }
      - http: { get: "${fake.url}/known" }
      - stub: fake
        expect: { count: 2, unmatched: 1 }
  - name: unmatched 0 fails on it
    steps:
      - http: { get: "${fake.url}/nowhere" }
        expect: { status: 404 }
      - stub: fake
        expect: { unmatched: 0 }
  - name: a real component has no stub to ask
    covers: [real, fake]
    steps:
      - stub: real
YML

rc=0
"$itest" --color never -o "$tmp/out" --run-id r "$tmp/suite.yml" >"$tmp/out.txt" 2>&1 || rc=$?
[ $rc = 1 ] || fail "exit $rc, expected 1"
grep -q 'PASS  stubstep/a matched call' "$tmp/out.txt" || fail "matched call"
grep -q 'PASS  stubstep/an unmatched call is counted' "$tmp/out.txt" || fail "unmatched count"
grep -q 'FAIL  stubstep/unmatched 0 fails on it' "$tmp/out.txt" || fail "unmatched 0 did not fail"
grep -q 'unmatched: expected 0, got 1' "$tmp/out.txt" || fail "no predicate message for unmatched"
grep -q 'ERROR stubstep/a real component has no stub to ask' "$tmp/out.txt" || fail "stub step on a real component"
grep -q "'real' is not a stub in this stage" "$tmp/out.txt" || fail "no message for the real component"
echo "1 passed, 0 failed"
