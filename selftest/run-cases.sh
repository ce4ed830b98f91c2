#!/bin/sh
# Golden cases: each selftest/cases/NNNN-name/ holds suite.yml, `exit` (the
# expected exit status), expected.out (console output) and optionally
# expected.junit.xml and `args` (extra command-line arguments).  Times, run
# folders and host names are normalised before a plain diff.  The JUnit
# file is also validated against the Jenkins xunit XSD.
#   sh selftest/run-cases.sh build/itest          check
#   UPDATE=1 sh selftest/run-cases.sh build/itest rewrite the expectations
set -u
itest=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
top=$(pwd)
xsd=$top/selftest/data/junit/jenkins-xunit-junit-10.xsd
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0

normalise() {
  sed -E -e "s#$tmp/out/golden#RUN#g" \
    -e 's/[0-9]+(\.[0-9]+)? ?(ms|s)\b/TIME/g' \
    -e 's/[0-9]+m[0-9]{2}s/TIME/g'
}

normalise_junit() {
  normalise | sed -E -e 's/ (time|timestamp|hostname)="[^"]*"/ \1="X"/g'
}

for dir in "$top"/selftest/cases/*/; do
  name=$(basename "$dir")
  args=
  [ -f "$dir/args" ] && args=$(cat "$dir/args")
  rm -rf "$tmp/out"
  # shellcheck disable=SC2086
  (cd "$dir" && NO_COLOR=1 "$itest" --color never -o "$tmp/out" \
    --run-id golden $args suite.yml) >"$tmp/got.out" 2>&1
  code=$?
  normalise <"$tmp/got.out" >"$tmp/got.norm"
  junit=$tmp/out/golden/junit.xml
  if [ "${UPDATE:-}" = 1 ]; then
    echo "$code" >"$dir/exit"
    cp "$tmp/got.norm" "$dir/expected.out"
    if [ -f "$junit" ]; then
      normalise_junit <"$junit" >"$dir/expected.junit.xml"
    fi
  fi
  ok=1
  want=$(cat "$dir/exit")
  if [ "$code" != "$want" ]; then
    echo "FAIL $name: exit $code, expected $want"
    ok=0
  fi
  if ! diff -u "$dir/expected.out" "$tmp/got.norm" >"$tmp/diff"; then
    echo "FAIL $name: console output differs:"
    cat "$tmp/diff"
    ok=0
  fi
  if [ -f "$dir/expected.junit.xml" ]; then
    if [ ! -f "$junit" ]; then
      echo "FAIL $name: no junit.xml written"
      ok=0
    else
      normalise_junit <"$junit" >"$tmp/junit.norm"
      if ! diff -u "$dir/expected.junit.xml" "$tmp/junit.norm" >"$tmp/diff"; then
        echo "FAIL $name: junit.xml differs:"
        cat "$tmp/diff"
        ok=0
      fi
      if ! xmllint --noout --schema "$xsd" "$junit" 2>"$tmp/xsd"; then
        echo "FAIL $name: junit.xml is not valid against the XSD:"
        cat "$tmp/xsd"
        ok=0
      fi
    fi
  fi
  if [ $ok = 1 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
done
echo "golden cases: $pass passed, $fail failed"
[ $fail = 0 ] && [ $pass -gt 0 ]
