#!/bin/sh
# --shard I/N and `itest merge`: the shards of a suite partition its
# selected tests (sorted by id, dealt out in turn, so sizes differ by one
# at most), a shard with no test is exit 0, bad I/N is a usage error; the
# shards' JUnit reports merge into one that has every test, the summed
# counts, and is valid against the Jenkins XSD; an input that is not XML
# or not JUnit is exit 2 with its place, and nothing is written.
set -eu
itest=$1
top=$(pwd)
xsd=$top/selftest/data/junit/jenkins-xunit-junit-10.xsd
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*"
  [ -f "$tmp/out.txt" ] && cat "$tmp/out.txt"
  exit 1
}

{
  echo "name: many"
  echo "tests:"
  for t in a b c d e f g; do
    echo "  - name: $t"
    echo "    steps:"
    if [ $t = e ]; then
      echo "      - shell: 'exit 1'"
    else
      echo "      - shell: 'true'"
    fi
  done
} >"$tmp/many.yml"

# --list shows each shard's share: a d g / b e / c f
for i in 1 2 3; do
  "$itest" --list --shard $i/3 "$tmp/many.yml" >"$tmp/list$i" || fail "list shard $i"
done
[ "$(cat "$tmp/list1" | tr '\n' ' ')" = "many/a many/d many/g " ] || fail "shard 1: $(cat "$tmp/list1")"
[ "$(cat "$tmp/list2" | tr '\n' ' ')" = "many/b many/e " ] || fail "shard 2: $(cat "$tmp/list2")"
[ "$(cat "$tmp/list3" | tr '\n' ' ')" = "many/c many/f " ] || fail "shard 3: $(cat "$tmp/list3")"

# run them: shard 2 has the failing test
for i in 1 2 3; do
  rc=0
  "$itest" --color never -o "$tmp/out" --run-id s$i --shard $i/3 "$tmp/many.yml" >"$tmp/out.txt" 2>&1 || rc=$?
  want=0
  [ $i = 2 ] && want=1
  [ $rc = $want ] || fail "shard $i: exit $rc, expected $want"
done
# a shard with nothing in it is not an error
rc=0
"$itest" -o "$tmp/out" --shard 9/10 "$tmp/many.yml" >"$tmp/out.txt" 2>&1 || rc=$?
[ $rc = 0 ] || fail "empty shard: exit $rc"
grep -q "no test in this shard" "$tmp/out.txt" || fail "empty shard: message"
for bad in 0/3 4/3 3 x/2 1/0 2/3x; do
  rc=0
  "$itest" --shard $bad "$tmp/many.yml" >"$tmp/out.txt" 2>&1 || rc=$?
  [ $rc = 2 ] || fail "--shard $bad: exit $rc, expected 2"
  grep -q "error: --shard takes I/N with 1 <= I <= N <= 10000 (e.g. 2/4), not '$bad'" "$tmp/out.txt" ||
    fail "--shard $bad: message"
done

# merge the three reports
"$itest" merge -o "$tmp/all.xml" "$tmp/out/s1/junit.xml" "$tmp/out/s2/junit.xml" \
  "$tmp/out/s3/junit.xml" >"$tmp/out.txt" 2>&1 || fail "merge"
grep -q "merged 3 reports (7 tests, 1 failures, 0 errors) into $tmp/all.xml" "$tmp/out.txt" || fail "merge: summary"
grep -q '^<testsuites name="itest" tests="7" failures="1" errors="0" time="' "$tmp/all.xml" || fail "merge: counts"
[ "$(grep -c '<testcase ' "$tmp/all.xml")" = 7 ] || fail "merge: not 7 test cases"
grep -q '<failure ' "$tmp/all.xml" || fail "merge: the failure was lost"
if command -v xmllint >/dev/null; then
  xmllint --noout --schema "$xsd" "$tmp/all.xml" 2>"$tmp/out.txt" || fail "merge: not valid against the XSD"
fi

# bad inputs: exit 2, their place, no output file
printf '<testsuites>\n<testsuite name="x"\n' >"$tmp/broken.xml"
printf '<html><body/></html>\n' >"$tmp/page.xml"
for input in broken page missing; do
  rc=0
  "$itest" merge -o "$tmp/bad.xml" "$tmp/out/s1/junit.xml" "$tmp/$input.xml" >"$tmp/out.txt" 2>&1 || rc=$?
  [ $rc = 2 ] || fail "merge $input: exit $rc, expected 2"
  [ ! -e "$tmp/bad.xml" ] || fail "merge $input: wrote an output"
done
"$itest" merge -o "$tmp/bad.xml" "$tmp/broken.xml" >"$tmp/out.txt" 2>&1 || true
grep -q "^itest: error: $tmp/broken.xml:3: error: not XML: " "$tmp/out.txt" || fail "merge broken: message"
"$itest" merge -o "$tmp/bad.xml" "$tmp/page.xml" >"$tmp/out.txt" 2>&1 || true
grep -q "^itest: error: $tmp/page.xml:1: error: not a JUnit report (the root is <html>, not <testsuites> or <testsuite>)" "$tmp/out.txt" ||
  fail "merge page: message"
rc=0
"$itest" merge "$tmp/out/s1/junit.xml" >"$tmp/out.txt" 2>&1 || rc=$?
[ $rc = 2 ] || fail "merge without -o: exit $rc"
echo "1 passed, 0 failed"
