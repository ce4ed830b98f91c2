#!/bin/sh
# An external driver in shell for itest's tests (selftest/t/t0701): it
# opens properly, then answers every request with a line that is not JSON.
read -r line
echo '{"status": "pass"}'
while read -r line; do
  case $line in
  *'"op":"close"'*) exit 0 ;;
  esac
  echo 'Traceback (most recent call last): not json at all'
done
