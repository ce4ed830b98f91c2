#!/bin/sh
# `isolation: netns`: the whole run in a fresh network namespace where
# only `lo` exists, up; a component listens and answers there, while a
# server on the machine's loopback is out of reach.  Without
# CAP_SYS_ADMIN: exit 2 and a clear FILE:LINE:COL error.  With `deploy:`
# or --keep: load errors.  Needs root (skipped otherwise; CI runs as
# root).
set -eu
. selftest/t/lib.sh
itest=$1
if [ "$(id -u)" != 0 ]; then
  echo "skipped: not root (isolation: netns needs CAP_SYS_ADMIN)"
  echo "1 passed, 0 failed"
  exit 0
fi
tmp=$(mktemp -d)
srv=
cleanup() {
  [ -z "$srv" ] || kill $srv 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
export XDG_RUNTIME_DIR="$tmp/rt" ITEST_PORTS=15400-15599
mkdir "$tmp/rt"
# a server outside, on the machine's loopback
python3 -m http.server 15600 --bind 127.0.0.1 >/dev/null 2>&1 &
srv=$!
n=0
while ! curl -s -o /dev/null http://127.0.0.1:15600/ && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
cat >"$tmp/ns.yml" <<'YML'
name: isolated
isolation: netns
components:
  api:
    run: python3 -m http.server ${port} --bind 127.0.0.1
    ready: { http: "${url}/" }
tests:
  - name: only lo, and it is up
    steps:
      - shell: "awk 'NR > 2 { print $1 }' /proc/net/dev"
        expect: { stdout: "lo:" }
      - shell: "command -v ip >/dev/null || exit 0; ip -o link show lo | grep -q ',UP'"
  - name: the component answers
    steps:
      - http: { get: "${api.url}/" }
        expect: { status: 200 }
  - name: the machine's loopback is out of reach
    steps:
      - shell: "curl -s -m 2 -o /dev/null http://127.0.0.1:15600/; echo $?"
        expect: { stdout: "7" }
YML
"$itest" --color never -o "$tmp/o" "$tmp/ns.yml" >"$tmp/out" 2>&1 ||
  { cat "$tmp/out"; fail "the run in a network namespace failed"; }
grep -q "^3 passed" "$tmp/out" || { cat "$tmp/out"; fail "not all passed"; }
# outside, the server is still there
curl -s -o /dev/null http://127.0.0.1:15600/ || fail "the outer server is gone"

# without the privilege
rc=0
if command -v capsh >/dev/null; then
  capsh --drop=cap_sys_admin -- -c "'$itest' --color never -o '$tmp/o2' '$tmp/ns.yml'" \
    >"$tmp/np.out" 2>&1 || rc=$?
elif command -v setpriv >/dev/null; then
  setpriv --bounding-set -sys_admin "$itest" --color never -o "$tmp/o2" "$tmp/ns.yml" \
    >"$tmp/np.out" 2>&1 || rc=$?
else
  rc=skip
  echo "note: neither capsh nor setpriv: the unprivileged case is not checked"
fi
if [ "$rc" != skip ]; then
  [ $rc = 2 ] || { cat "$tmp/np.out"; fail "without CAP_SYS_ADMIN: exit $rc, expected 2"; }
  want="$tmp/ns.yml:2:1: error: isolation: netns needs CAP_SYS_ADMIN (run as root, or drop the key): Operation not permitted"
  [ "$(head -n 1 "$tmp/np.out")" = "$want" ] || { cat "$tmp/np.out"; fail "bad message without the privilege"; }
  [ ! -e "$tmp/o2" ] || fail "a run folder was made although nothing ran"
fi

# load errors
rc=0
"$itest" --keep --color never -o "$tmp/o" "$tmp/ns.yml" >"$tmp/k.out" 2>&1 || rc=$?
[ $rc = 2 ] || fail "netns with --keep: exit $rc, expected 2"
grep -q "ns.yml:2:1: error: 'isolation: netns' cannot be used with --keep" "$tmp/k.out" ||
  { cat "$tmp/k.out"; fail "bad message for --keep"; }
cat >"$tmp/dep.yml" <<'YML'
isolation: netns
components:
  db:
    deploy: { up: "true", down: "true" }
tests:
  - name: t
    steps: [{ shell: "true" }]
YML
rc=0
"$itest" check "$tmp/dep.yml" >"$tmp/d.out" 2>&1 || rc=$?
[ $rc = 2 ] || fail "netns with deploy: exit $rc, expected 2"
grep -q "dep.yml:4:5: error: component 'db': 'deploy' cannot be used with 'isolation: netns'" "$tmp/d.out" ||
  { cat "$tmp/d.out"; fail "bad message for deploy"; }
printf 'isolation: netnss\ntests:\n  - name: t\n    steps: [{shell: "true"}]\n' >"$tmp/bad.yml"
rc=0
"$itest" check "$tmp/bad.yml" >"$tmp/b.out" 2>&1 || rc=$?
[ $rc = 2 ] && grep -q "bad.yml:1:12: error: unknown isolation 'netnss'" "$tmp/b.out" ||
  { cat "$tmp/b.out"; fail "an unknown isolation is not a load error"; }
echo "1 passed, 0 failed"
