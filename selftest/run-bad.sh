#!/bin/sh
# The bad-input corpus: every selftest/bad/*.yml is a malformed suite whose
# first line says the error it must produce:
#   # error: LINE:COL: MESSAGE
# `itest check` must exit 2 and print exactly FILE:LINE:COL: error: MESSAGE
# as its first line, then the source line and a caret.  `itest run` must
# exit 2 with the same first line, and leave no run folder behind.
set -u
itest=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
for f in selftest/bad/*.yml selftest/bad/*.yaml; do
  [ -f "$f" ] || continue
  want=$(head -n 1 "$f" |
    sed -n 's/^# error: \([0-9]*:[0-9]*\): /\1: error: /p')
  if [ -z "$want" ]; then
    echo "FAIL $f: first line is not '# error: LINE:COL: MESSAGE'"
    fail=$((fail + 1))
    continue
  fi
  ok=1
  "$itest" check "$f" >"$tmp/out" 2>"$tmp/err"
  code=$?
  first=$(head -n 1 "$tmp/err")
  if [ "$code" != 2 ]; then
    echo "FAIL $f: check exited $code, expected 2"
    ok=0
  fi
  if [ "$first" != "$f:$want" ]; then
    echo "FAIL $f: got:      $first"
    echo "          expected: $f:$want"
    ok=0
  fi
  if ! sed -n 3p "$tmp/err" | grep -q '^ *^$'; then
    echo "FAIL $f: no caret line under the source line"
    ok=0
  fi
  rm -rf "$tmp/o"
  "$itest" run -o "$tmp/o" "$f" >"$tmp/out" 2>"$tmp/err"
  code=$?
  if [ "$code" != 2 ] || [ "$(head -n 1 "$tmp/err")" != "$f:$want" ]; then
    echo "FAIL $f: run exited $code with: $(head -n 1 "$tmp/err")"
    ok=0
  fi
  if [ -e "$tmp/o" ]; then
    echo "FAIL $f: run created a run folder for a bad suite"
    ok=0
  fi
  if [ $ok = 1 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
done
echo "bad-input corpus: $pass passed, $fail failed"
[ $fail = 0 ] && [ $pass -ge 1 ]
