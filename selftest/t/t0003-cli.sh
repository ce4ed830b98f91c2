#!/bin/sh
# The command line end to end: --rerun-failed, --env, init, --junit with
# both flavours, --affected, -q, check, version, and usage errors.
set -eu
. selftest/t/lib.sh
itest=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
top=$(pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --rerun-failed runs only what failed last time, and 0 tests is exit 0
mkdir -p "$tmp/s/env"
cat >"$tmp/s/flip.yml" <<YML
name: flip
tests:
  - name: steady
    steps:
      - shell: "true"
  - name: fails until fixed
    steps:
      - shell: "test -e $tmp/fixed"
YML
rc=0; "$itest" --color never -o "$tmp/o" "$tmp/s/flip.yml" >"$tmp/out" || rc=$?
[ $rc = 1 ] || fail "first run exited $rc"
touch "$tmp/fixed"
"$itest" --color never -o "$tmp/o" --rerun-failed "$tmp/s/flip.yml" >"$tmp/out" ||
  fail "rerun did not pass"
grep -q '^PASS  flip/fails until fixed' "$tmp/out" || fail "rerun did not run the failed test"
grep -q 'steady' "$tmp/out" && fail "rerun ran a test that had passed"
"$itest" --color never -o "$tmp/o" --rerun-failed "$tmp/s/flip.yml" >"$tmp/out" ||
  fail "a rerun with nothing to rerun must exit 0"
grep -q 'no test failed in the last run' "$tmp/out" || fail "no message for an empty rerun"

# --env NAME loads env/NAME.yml next to the suites
cat >"$tmp/s/env/staging.yml" <<YML
region: eu-staging
YML
cat >"$tmp/s/envd.yml" <<YML
name: envd
vars: { region: local }
tests:
  - name: sees the environment's vars
    steps:
      - shell: "echo \${region}"
        expect: { stdout: eu-staging }
YML
"$itest" --color never -o "$tmp/o" --env staging "$tmp/s/envd.yml" >"$tmp/out" ||
  { cat "$tmp/out"; fail "--env did not override the suite var"; }
rc=0; "$itest" -o "$tmp/o" --env nope "$tmp/s/envd.yml" 2>"$tmp/err" || rc=$?
[ $rc = 2 ] || fail "--env with a missing file exited $rc"

# init writes a starter suite that passes, and refuses to overwrite it
mkdir "$tmp/new" && cd "$tmp/new"
"$itest" init >/dev/null || fail "init failed"
"$itest" --color never -o "$tmp/o" >"$tmp/out" || { cat "$tmp/out"; fail "the starter suite did not pass"; }
rc=0; "$itest" init 2>/dev/null || rc=$?
[ $rc = 2 ] || fail "a second init exited $rc"
cd "$top"

# --junit writes a copy; the rich flavour adds file and line
"$itest" -q -o "$tmp/o" --run-id j1 --junit "$tmp/copy.xml" "$tmp/s/envd.yml" \
  --var region=eu-staging >/dev/null || fail "junit run failed"
cmp -s "$tmp/copy.xml" "$tmp/o/j1/junit.xml" || fail "--junit copy differs"
xmllint --noout --schema selftest/data/junit/jenkins-xunit-junit-10.xsd \
  "$tmp/copy.xml" 2>/dev/null || fail "junit copy is not valid"
"$itest" -q -o "$tmp/o" --run-id j2 --junit-flavor rich "$tmp/s/envd.yml" \
  --var region=eu-staging >/dev/null || fail "rich run failed"
grep -q "file=\"$tmp/s/envd.yml\" line=\"4\"" "$tmp/o/j2/junit.xml" ||
  fail "the rich flavour has no file and line"

# -q prints failures and the summary only
rc=0; "$itest" -q --color never -o "$tmp/o" "$tmp/s/envd.yml" >"$tmp/out" || rc=$?
[ $rc = 1 ] || fail "-q run exited $rc"
grep -q '^PASS' "$tmp/out" && fail "-q printed a passing test"
grep -q '^FAIL  envd/sees' "$tmp/out" || fail "-q hid a failure"

# --affected: tests covering a component or anything that needs it
"$itest" --list --affected inventory suites/shop/bottom-up.yml >"$tmp/aff"
grep -q 'shop-bottom-up/web proxies orders' "$tmp/aff" || fail "--affected inventory misses web"
"$itest" --list --affected web suites/shop/bottom-up.yml >"$tmp/aff"
[ "$(cat "$tmp/aff")" = "shop-bottom-up/web proxies orders" ] ||
  { cat "$tmp/aff"; fail "--affected web selects more than web's test"; }
rc=0; "$itest" --list --affected nosuch suites/shop/bottom-up.yml 2>/dev/null || rc=$?
[ $rc = 2 ] || fail "--affected of no component exited $rc"

# check, version, usage errors
"$itest" check suites/ | grep -q 'suites, .* tests: ok' || fail "check output"
"$itest" --version | grep -q '^itest [0-9]' || fail "version output"
rc=0; "$itest" --jbos 2 suites/ 2>"$tmp/err" || rc=$?
[ $rc = 2 ] || fail "an unknown option exited $rc"
grep -q "did you mean '--jobs'" "$tmp/err" || fail "no suggestion for --jbos"
echo "1 passed, 0 failed"
