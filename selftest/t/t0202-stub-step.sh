#!/bin/sh
# The `stub` step (SPEC 6.6) through a whole run: `count` and `unmatched`
# over the calls a stub got since its test began (a request that no route
# takes counts as unmatched, and `unmatched: 0` then fails with the
# number), each test starting from zero, and a `stub` step that names a
# component running for real in the stage (big-bang: every component
# that can run does) is an ERROR that says so.  The same run checks the
# run's other reports: run.json (counts, tests, metrics) and
# metrics.prom, and the console's latency line per component.
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
# the reports beside junit.xml: 4 http calls reached `fake`
grep -q '^latency: fake via http: 4 requests, 0 errors, avg ' "$tmp/out.txt" || fail "no latency line"
python3 - "$tmp/out/r/run.json" <<'PY' || fail "run.json"
import json, sys
run = json.load(open(sys.argv[1]))
assert run["run_id"] == "r", run["run_id"]
assert run["counts"] == {"tests": 4, "passed": 2, "failed": 1, "errors": 1,
                         "skipped": 0, "flaky": 0}, run["counts"]
tests = run["stages"][0]["tests"]
assert [t["status"] for t in tests] == ["PASS", "PASS", "FAIL", "ERROR"], tests
assert "unmatched: expected 0, got 1" in tests[2]["message"], tests[2]
m = {(s["component"], s["driver"]): s for s in run["metrics"]}
assert m[("fake", "http")]["requests"] == 4, m
assert m[("fake", "http")]["errors"] == 0, m
assert m[("", "stub")]["requests"] == 4, m
assert m[("", "stub")]["errors"] == 1, m
lat = m[("fake", "http")]["latency_ms"]
assert 0 < lat["avg"] <= lat["max"] and lat["p95"] <= lat["max"], lat
PY
prom=$tmp/out/r/metrics.prom
grep -qx 'itest_requests_total{run_id="r",component="fake",driver="http"} 4' "$prom" || fail "metrics.prom: requests"
grep -qx 'itest_tests{run_id="r",status="failed"} 1' "$prom" || fail "metrics.prom: tests"
grep -q '^itest_request_duration_seconds{run_id="r",component="fake",driver="http",quantile="0.95"} ' "$prom" ||
  fail "metrics.prom: p95"
# report.html: the page for people, with the failure's text
html=$tmp/out/r/report.html
grep -q '<title>itest run r</title>' "$html" || fail "report.html: title"
grep -q 'unmatched: expected 0, got 1' "$html" || fail "report.html: the failure"
grep -q 'fake via http' "$html" || fail "report.html: latency"
echo "1 passed, 0 failed"
