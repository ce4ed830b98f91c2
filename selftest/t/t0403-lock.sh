#!/bin/sh
# `lock: NAME`: two runs of suites that take one lock do not overlap.  The
# second one says once that it waits, and for whom, then runs after the
# first has ended.  SIGINT while waiting ends it (exit 130, its test not
# run).  Two suites of one run that take one lock run one after the other
# even under -j.  A bad lock name is a load error.
set -eu
. selftest/t/lib.sh
itest=$1
tmp=$(mktemp -d)
a= b=
cleanup() {
  for p in $a $b; do kill $p 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
export XDG_RUNTIME_DIR="$tmp/rt"
mkdir "$tmp/rt"
id=t0403-$$
suite() { # NAME LOCK
  cat <<YML
name: $1
lock: $2
tests:
  - name: uses the shared environment
    steps:
      - shell: "echo start \${run.id} $1 >> $tmp/trace; sleep 1; echo end \${run.id} $1 >> $tmp/trace"
YML
}
suite one shared-db >"$tmp/one.yml"
suite two shared-db >"$tmp/two.yml"
suite other other-db >"$tmp/other.yml"

"$itest" --color never -o "$tmp/o" --run-id $id-a "$tmp/one.yml" >"$tmp/a.out" 2>&1 &
a=$!
n=0
while ! grep -q start "$tmp/trace" 2>/dev/null && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
rc=0
"$itest" --color never -o "$tmp/o" --run-id $id-b "$tmp/one.yml" >"$tmp/b.out" 2>&1 || rc=$?
wait $a || fail "the first run failed"
a=
[ $rc = 0 ] || { cat "$tmp/b.out"; fail "the second run failed ($rc)"; }
printf 'start %s one\nend %s one\nstart %s one\nend %s one\n' $id-a $id-a $id-b $id-b >"$tmp/want"
diff "$tmp/want" "$tmp/trace" || fail "the runs overlapped"
[ "$(grep -c "^itest: waiting for lock 'shared-db' (held by run $id-a)$" "$tmp/b.out")" = 1 ] ||
  { cat "$tmp/b.out"; fail "the waiting run did not say so once"; }
grep -q waiting "$tmp/a.out" && fail "the first run said it waits"

# interrupted while waiting
rm -f "$tmp/trace"
"$itest" --color never -o "$tmp/o" --run-id $id-c "$tmp/one.yml" >"$tmp/c.out" 2>&1 &
a=$!
n=0
while ! grep -q start "$tmp/trace" 2>/dev/null && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
"$itest" --color never -o "$tmp/o" --run-id $id-d "$tmp/two.yml" >"$tmp/d.out" 2>&1 &
b=$!
n=0
while ! grep -q waiting "$tmp/d.out" && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
kill -INT $b
rc=0
wait $b || rc=$?
b=
[ $rc = 130 ] || { cat "$tmp/d.out"; fail "SIGINT while waiting: exit $rc, expected 130"; }
grep -q "interrupted while waiting for lock 'shared-db'" "$tmp/d.out" ||
  { cat "$tmp/d.out"; fail "no word of the interruption"; }
wait $a || fail "the holder failed"
a=
grep -q "two" "$tmp/trace" && fail "the interrupted run ran its test"

# one run, two suites on one lock, -j 2: one after the other; a suite on
# another lock runs alongside
rm -f "$tmp/trace"
"$itest" -j 2 --color never -o "$tmp/o" --run-id $id-e "$tmp/one.yml" "$tmp/two.yml" \
  "$tmp/other.yml" >"$tmp/e.out" 2>&1 || { cat "$tmp/e.out"; fail "the -j 2 run failed"; }
grep -v other "$tmp/trace" | awk '{print $1}' | tr '\n' ' ' >"$tmp/order"
[ "$(cat "$tmp/order")" = "start end start end " ] || { cat "$tmp/trace"; fail "two suites overlapped on one lock"; }
grep -q waiting "$tmp/e.out" && fail "a run waited for itself"

# a bad lock name
printf 'lock: ../x\ntests:\n  - name: t\n    steps: [{shell: "true"}]\n' >"$tmp/bad.yml"
rc=0
"$itest" check "$tmp/bad.yml" >"$tmp/bad.out" 2>&1 || rc=$?
[ $rc = 2 ] || fail "a bad lock name: exit $rc, expected 2"
grep -q "bad.yml:1:7: error: a lock name is" "$tmp/bad.out" || { cat "$tmp/bad.out"; fail "bad message"; }
echo "1 passed, 0 failed"
