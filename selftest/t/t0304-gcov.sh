#!/bin/sh
# `coverage: gcov` (SPEC 4, 7): a component built with --coverage writes
# its .gcda files under the run folder when its stop signal ends it; the
# run turns them into coverage/lcov.info and coverage/cobertura.xml (valid
# against the Cobertura DTD) with the lines that ran and those that did
# not, and the console prints the total.
set -eu
itest=$1
top=$(pwd)
dtd=$top/selftest/data/coverage/cobertura-coverage-04.dtd
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*"
  [ -f "$tmp/out.txt" ] && cat "$tmp/out.txt"
  exit 1
}
command -v gcov >/dev/null || fail "this test needs gcov (gcc)"

mkdir "$tmp/src"
cat >"$tmp/src/svc.c" <<'C'
#include <arpa/inet.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t done;

static void on_term(int sig)
{
	(void)sig;
	done = 1;
}

static int never_called(int x)
{
	return x * 2;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	signal(SIGTERM, on_term);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((unsigned short)atoi(argv[1]));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 8))
		return 1;
	if (argc > 2)
		return never_called(argc);
	while (!done)
		pause();
	return 0; /* exit() writes the .gcda files */
}
C
(cd "$tmp/src" && gcc --coverage -O0 -o svc svc.c) || fail "cannot build the component"

cat >"$tmp/suite.yml" <<YML
name: cov
components:
  svc:
    run: ["$tmp/src/svc", "\${port}"]
    coverage: gcov
    stop: { signal: TERM, grace: 5s }
tests:
  - name: the service ran
    covers: [svc]
    steps:
      - shell: "true"
YML
rc=0
"$itest" --color never -o "$tmp/out" --run-id r "$tmp/suite.yml" >"$tmp/out.txt" 2>&1 || rc=$?
[ $rc = 0 ] || fail "exit $rc"
grep -q '^code coverage: [0-9.]*% of [0-9]* lines in 1 file (coverage/lcov.info, coverage/cobertura.xml)$' "$tmp/out.txt" ||
  fail "no code coverage line"
lcov=$tmp/out/r/coverage/lcov.info
[ -f "$lcov" ] || fail "no lcov.info"
grep -qx "SF:$tmp/src/svc.c" "$lcov" || fail "lcov.info: no SF for svc.c"
# the listening lines ran once, never_called's body never did
line=$(grep -n 'listen(fd, 8)' "$tmp/src/svc.c" | cut -d: -f1)
grep -qx "DA:$line,1" "$lcov" || { cat "$lcov"; fail "lcov.info: line $line did not run once"; }
line=$(grep -n 'return x \* 2;' "$tmp/src/svc.c" | cut -d: -f1)
grep -qx "DA:$line,0" "$lcov" || { cat "$lcov"; fail "lcov.info: line $line is not an unrun line"; }
grep -q '^LH:' "$lcov" || fail "lcov.info: no LH"
cob=$tmp/out/r/coverage/cobertura.xml
if command -v xmllint >/dev/null; then
  xmllint --noout --dtdvalid "$dtd" "$cob" 2>"$tmp/lint" || { cat "$tmp/lint"; fail "cobertura.xml is not valid"; }
fi
grep -q "filename=\"${tmp#/}/src/svc.c\"" "$cob" || fail "cobertura.xml: no class for svc.c"
python3 - "$tmp/out/r/run.json" <<'PY' || fail "run.json: code_coverage"
import json, sys
c = json.load(open(sys.argv[1]))["code_coverage"]
assert c["files"] == 1 and c["gcda_files"] == 1, c
assert 0 < c["lines_covered"] < c["lines"], c
PY
echo "1 passed, 0 failed"
