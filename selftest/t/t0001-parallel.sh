#!/bin/sh
# -j N gives the same reports as a serial run, apart from times: console
# lines and JUnit cases in file order, same counts, same messages.
set -eu
itest=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
{
  echo "name: par"
  echo "tests:"
  for i in 01 02 03 04 05 06 07 08 09 10 11 12; do
    echo "  - name: t$i"
    echo "    steps:"
    echo "      - shell: \"sleep 0.0$i; echo $i\""
    if [ "$i" = 07 ]; then
      echo "        expect: { stdout: nope }"
    else
      echo "        expect: { stdout: \"$i\" }"
    fi
  done
} >"$tmp/par.yml"
# the folder first: a random name such as /tmp/tmp.abc9s would look
# like a time
norm() {
  sed -E -e "s#$tmp/o[0-9]#OUT#g" \
    -e 's/[0-9]+(\.[0-9]+)? ?(ms|s)\b/T/g' \
    -e 's/ (time|timestamp|hostname)="[^"]*"/ \1="X"/g' "$@"
}
for j in 1 4; do
  rc=0
  "$itest" -j $j --color never -o "$tmp/o$j" --run-id r "$tmp/par.yml" \
    >"$tmp/out$j" 2>&1 || rc=$?
  [ $rc = 1 ] || { echo "FAIL: -j $j exited $rc"; cat "$tmp/out$j"; exit 1; }
  norm "$tmp/out$j" >"$tmp/n$j"
  norm "$tmp/o$j/r/junit.xml" >"$tmp/j$j"
done
diff -u "$tmp/n1" "$tmp/n4" || { echo "FAIL: console differs"; exit 1; }
diff -u "$tmp/j1" "$tmp/j4" || { echo "FAIL: junit differs"; exit 1; }
grep -q 'FAIL  par/t07' "$tmp/n4" || { echo "FAIL: no t07 failure"; exit 1; }
echo "1 passed, 0 failed"
