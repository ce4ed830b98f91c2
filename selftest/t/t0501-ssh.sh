#!/bin/sh
# The `ssh` driver end to end, through itest, against a real OpenSSH
# server (/usr/sbin/sshd) that this test starts on 127.0.0.1 with
# throwaway keys: commands (exit, stdout, stderr, env, stdin, argv, a
# signal), put and get over SFTP (a byte-exact round trip, the artifacts
# folder), host keys (a fingerprint of either host key, known_hosts plain
# and hashed, unknown and changed keys, insecure-host-key), logins (an
# ecdsa key, the agent, an RSA key's clear error, a wrong password), a
# refused port, a server that never answers (connect-timeout), a timeout
# that kills the remote command and leaves the connection usable, an
# interruption, a component's port in hosts: (templates and covers), and
# one connection per host and worker.
set -eu
itest=$1
. selftest/t/lib.sh
[ -x /usr/sbin/sshd ] || { echo "SKIP: no /usr/sbin/sshd"; exit 0; }
itest=$(cd "$(dirname "$itest")" && pwd)/$(basename "$itest")
tmp=$(mktemp -d)
pid=
agent=
mute=
cleanup() {
  [ -n "$agent" ] && kill "$agent" 2>/dev/null || true
  [ -n "$mute" ] && kill "$mute" 2>/dev/null || true
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  # the remote commands this test started, should a check have failed
  for f in "$tmp"/remote-*.pid; do
    [ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
free_port() {
  python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# ---- the server ----
mkdir -p /run/sshd "$tmp/home" "$tmp/data"
for t in ed25519 ecdsa; do ssh-keygen -q -t $t -N '' -f "$tmp/host_$t"; done
ssh-keygen -q -t ed25519 -N '' -f "$tmp/id_ed25519"
ssh-keygen -q -t ecdsa -m PEM -N "" -f "$tmp/id_ecdsa" # PEM: see docs/ssh.md
ssh-keygen -q -t rsa -b 2048 -N '' -f "$tmp/id_rsa"
ssh-keygen -q -t ed25519 -N '' -f "$tmp/other" # a key the server lacks
cat "$tmp/id_ed25519.pub" "$tmp/id_ecdsa.pub" "$tmp/id_rsa.pub" \
  >"$tmp/authorized_keys"
port=$(free_port)
dead=$(free_port) # nothing listens there
cat >"$tmp/sshd_config" <<EOF
ListenAddress 127.0.0.1:$port
HostKey $tmp/host_ed25519
HostKey $tmp/host_ecdsa
PidFile $tmp/sshd.pid
AuthorizedKeysFile $tmp/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
SetEnv HOME=$tmp/home
Subsystem sftp internal-sftp
EOF
/usr/sbin/sshd -D -e -f "$tmp/sshd_config" 2>"$tmp/sshd.log" &
pid=$!
n=0
until grep -q "Server listening" "$tmp/sshd.log" 2>/dev/null; do
  n=$((n + 1))
  [ $n -lt 100 ] || { cat "$tmp/sshd.log"; fail "sshd did not start"; }
  sleep 0.05
done
user=$(id -un)
accepted() { grep -c "^Accepted " "$tmp/sshd.log" || true; }

fp_ed=$(ssh-keygen -lf "$tmp/host_ed25519.pub" | cut -d' ' -f2)
fp_ec=$(ssh-keygen -lf "$tmp/host_ecdsa.pub" | cut -d' ' -f2)
fp_other=$(ssh-keygen -lf "$tmp/other.pub" | cut -d' ' -f2)
hostkey() { cut -d' ' -f1,2 "$tmp/host_$1.pub"; }
echo "[127.0.0.1]:$port $(hostkey ed25519)" >"$tmp/known_hosts"
cp "$tmp/known_hosts" "$tmp/known_hosts_hashed"
ssh-keygen -q -H -f "$tmp/known_hosts_hashed" >/dev/null 2>&1
grep -q '^|1|' "$tmp/known_hosts_hashed" || fail "ssh-keygen -H did not hash"
echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$tmp/other.pub")" \
  >"$tmp/known_hosts_changed"
: >"$tmp/known_hosts_empty"
head -c 300000 /dev/urandom >"$tmp/data/blob.bin"
printf 'x' >"$tmp/data/mode.txt"

# ---- what works ----
cat >"$tmp/ok.yml" <<YML
name: ssh-ok
vars:
  sshport: $port
hosts:
  app:
    host: 127.0.0.1
    port: \${env.T_SSH_PORT}
    user: $user
    key: id_ed25519
    host-key: "$fp_ed"
  ecdsa-fp:          # the fingerprint of the other host key, no type given
    { host: 127.0.0.1, port: "\${sshport}", user: $user, key: id_ecdsa,
      host-key: "$fp_ec" }
  typed:             # a line of ssh-keygen -lf
    { host: 127.0.0.1, port: $port, user: $user, key: id_ed25519,
      host-key: "$(ssh-keygen -lf "$tmp/host_ecdsa.pub")" }
  kh:
    { host: 127.0.0.1, port: $port, user: $user, key: id_ed25519,
      known-hosts: known_hosts }
  kh-hashed:
    { host: 127.0.0.1, port: $port, user: $user, key: id_ed25519,
      known-hosts: known_hosts_hashed }
  lax:
    { host: 127.0.0.1, port: $port, user: $user, key: id_ed25519,
      insecure-host-key: true }
  agent:
    { host: 127.0.0.1, port: $port, user: $user, agent: true,
      known-hosts: known_hosts }
tests:
  - name: commands
    steps:
      - ssh: { host: app, run: "echo out; echo err >&2; exit 3" }
        expect: { exit: 3, stdout: out, stderr: err }
      - ssh: { host: app, run: "printf '%s' \"\$HOME\"" }
        expect: { stdout: "$tmp/home", stderr: { empty: true } }
      - ssh: { host: app, run: [printf, "%s|", "a b", "c'd", "\$HOME"] }
        expect: { stdout: "a b|c'd|\$HOME|" }
      - ssh:
          host: app
          run: 'echo "\$GREETING, \$WHO"'
          env: { GREETING: "hello 'there'", WHO: "\${sshport}" }
        expect: { stdout: "hello 'there', $port" }
      - ssh: { host: app, run: "tr a-z A-Z", stdin: "shout\n" }
        expect: { stdout: SHOUT }
      - ssh: { host: app, run: "kill -TERM \$\$" }
        expect: { exit: 143, signal: SIGTERM }
      - ssh: { host: app, run: "echo '{\"n\": 7}'" }
        expect: { json: { \$.n: 7 }, duration: { lt: 5s } }
        capture: { n: \$.n }
      - ssh: { host: app, run: "test \${n} = 7" }
  - name: files
    steps:
      - ssh: { host: app, put: { from: data/blob.bin, to: $tmp/remote.bin } }
        expect: { bytes: 300000 }
      - ssh: { host: app, get: { from: $tmp/remote.bin, to: $tmp/back.bin } }
        expect: { bytes: 300000, path: $tmp/back.bin }
      - ssh: { host: app, get: { from: $tmp/remote.bin, to: sub/in-artifacts.bin } }
        expect: { path: { ends-with: /sub/in-artifacts.bin } }
      - ssh: { host: app, get: $tmp/remote.bin }
        expect: { path: { ends-with: /remote.bin } }
      - ssh: { host: app, put: { from: data/mode.txt, to: $tmp/mode.txt, mode: "0640" } }
      - ssh: { host: app, run: "stat -c %a $tmp/mode.txt" }
        expect: { stdout: "640" }
  - name: host keys and logins
    steps:
      - ssh: { host: ecdsa-fp, run: "echo ecdsa" }
        expect: { stdout: ecdsa }
      - ssh: { host: typed, run: "echo typed" }
        expect: { stdout: typed }
      - ssh: { host: kh, run: "echo known" }
        expect: { stdout: known }
      - ssh: { host: kh-hashed, run: "echo hashed" }
        expect: { stdout: hashed }
      - ssh: { host: lax, run: "echo lax" }
        expect: { stdout: lax }
      - ssh: { host: agent, run: "echo agent" }
        expect: { stdout: agent }
YML
# an ssh-agent holding the ecdsa key
ssh-agent -a "$tmp/agent.sock" >"$tmp/agent.env"
agent=$(sed -n 's/^SSH_AGENT_PID=\([0-9]*\);.*/\1/p' "$tmp/agent.env")
[ -n "$agent" ] || fail "ssh-agent did not start"
SSH_AUTH_SOCK=$tmp/agent.sock ssh-add -q "$tmp/id_ecdsa" 2>/dev/null ||
  fail "ssh-add failed"
before=$(accepted)
SSH_AUTH_SOCK=$tmp/agent.sock T_SSH_PORT=$port "$itest" run -j 1 -o "$tmp/out" "$tmp/ok.yml" \
  >"$tmp/ok.out" 2>&1 || { cat "$tmp/ok.out"; fail "the ok suite failed"; }
cmp "$tmp/data/blob.bin" "$tmp/back.bin" || fail "put/get changed the bytes"
art=$(find "$tmp/out" -path '*artifacts*' -name in-artifacts.bin)
[ -n "$art" ] || fail "get did not write into the artifacts folder"
cmp "$tmp/data/blob.bin" "$art" || fail "the artifact differs"
case "$art" in */artifacts/ssh-ok/files/attempt-1/sub/in-artifacts.bin) ;;
*) fail "artifact in an unexpected place: $art" ;; esac
# one login per host entry (7 entries, one worker)
conns=$(($(accepted) - before))
[ "$conns" -eq 7 ] || fail "expected 7 logins, got $conns"

# ---- a component's port in hosts: (templates, covers) ----
grep -v '^ListenAddress\|^PidFile' "$tmp/sshd_config" >"$tmp/sshd_comp_config"
cat >"$tmp/comp.yml" <<YML
name: ssh-comp
components:
  box:
    run: /usr/sbin/sshd -D -e -f sshd_comp_config -o PidFile=none -o "ListenAddress=127.0.0.1:\${port}"
    ready: { log: "Server listening" }
hosts:
  box: { host: 127.0.0.1, port: "\${box.port}", user: $user, key: id_ed25519, host-key: "$fp_ed" }
tests:
  - name: via a component
    steps:
      - ssh: { host: box, run: "echo \$SSH_CONNECTION" }
        expect: { stdout: "~ \${box.port}\$" }
  - name: no ssh
    steps:
      - shell: "true"
YML
"$itest" run --list --affected box "$tmp/comp.yml" >"$tmp/comp.list" 2>&1 ||
  { cat "$tmp/comp.list"; fail "--list --affected failed"; }
grep -q "via a component" "$tmp/comp.list" &&
  ! grep -q "no ssh" "$tmp/comp.list" ||
  { cat "$tmp/comp.list"; fail "covers does not follow hosts: templates"; }
"$itest" run -o "$tmp/out" "$tmp/comp.yml" >"$tmp/comp.out" 2>&1 ||
  { cat "$tmp/comp.out"; fail "the component suite failed"; }

# ---- one connection per host and worker ----
{
  echo "name: ssh-reuse"
  echo "hosts:"
  echo "  app: { host: 127.0.0.1, port: $port, user: $user, key: id_ed25519, host-key: \"$fp_ed\" }"
  echo "tests:"
  for t in 1 2 3 4; do
    echo "  - name: t$t"
    echo "    steps:"
    for s in 1 2 3 4 5 6 7 8 9 10; do
      echo "      - ssh: { host: app, run: \"echo $t.$s\" }"
      echo "        expect: { stdout: \"$t.$s\" }"
    done
  done
} >"$tmp/reuse.yml"
before=$(accepted)
"$itest" run -j 1 -o "$tmp/out" "$tmp/reuse.yml" >"$tmp/reuse.out" 2>&1 ||
  { cat "$tmp/reuse.out"; fail "the reuse suite failed"; }
[ $(($(accepted) - before)) -eq 1 ] ||
  fail "40 steps on one worker made $(($(accepted) - before)) logins"
before=$(accepted)
"$itest" run -j 2 -o "$tmp/out" "$tmp/reuse.yml" >"$tmp/reuse.out" 2>&1 ||
  { cat "$tmp/reuse.out"; fail "the reuse suite failed with -j 2"; }
[ $(($(accepted) - before)) -le 2 ] ||
  fail "-j 2 made $(($(accepted) - before)) logins"

# ---- what fails, and how ----
# a port that takes connections and never says a word
silent=$(free_port)
python3 -c 'import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
open(sys.argv[2], "w").close()
time.sleep(60)' "$silent" "$tmp/mute.ready" &
mute=$!
# listening before the suite runs (else it is a refused port)
n=0
while [ ! -e "$tmp/mute.ready" ] && [ $n -lt 200 ]; do sleep 0.05; n=$((n + 1)); done
cat >"$tmp/bad.yml" <<YML
name: ssh-bad
hosts:
  app: { host: 127.0.0.1, port: $port, user: $user, key: id_ed25519, host-key: "$fp_ed" }
  wrong-fp: { host: 127.0.0.1, port: $port, user: $user, key: id_ed25519, host-key: "$fp_other" }
  unknown: { host: 127.0.0.1, port: $port, user: $user, key: id_ed25519, known-hosts: known_hosts_empty }
  changed: { host: 127.0.0.1, port: $port, user: $user, key: id_ed25519, known-hosts: known_hosts_changed }
  rsa: { host: 127.0.0.1, port: $port, user: $user, key: id_rsa, host-key: "$fp_ed" }
  password: { host: 127.0.0.1, port: $port, user: $user, password: not-the-password, host-key: "$fp_ed", agent: false }
  refused: { host: 127.0.0.1, port: $dead, user: $user, key: id_ed25519, insecure-host-key: true }
  silent: { host: 127.0.0.1, port: $silent, user: $user, key: id_ed25519, insecure-host-key: true, connect-timeout: 300ms }
tests:
  - name: failing exit
    steps:
      - ssh: { host: app, run: "exit 4" }
  - name: wrong fingerprint
    steps:
      - ssh: { host: wrong-fp, run: "true" }
  - name: unknown host
    steps:
      - ssh: { host: unknown, run: "true" }
  - name: changed host key
    steps:
      - ssh: { host: changed, run: "true" }
  - name: rsa key
    steps:
      - ssh: { host: rsa, run: "true" }
  - name: wrong password
    steps:
      - ssh: { host: password, run: "true" }
  - name: refused port
    steps:
      - ssh: { host: refused, run: "true" }
  - name: silent port
    steps:
      - ssh: { host: silent, run: "true" }
  - name: missing remote file
    steps:
      - ssh: { host: app, get: { from: $tmp/no-such-file, to: x.bin } }
  - name: timeout
    steps:
      - ssh: { host: app, run: "echo \$\$ >$tmp/remote-1.pid; exec sleep 31", timeout: 1s }
  - name: after the timeout
    steps:
      - ssh: { host: app, run: "echo still here" }
        expect: { stdout: still here }
YML
before=$(accepted)
set +e
"$itest" run -j 1 -o "$tmp/out" "$tmp/bad.yml" >"$tmp/bad.out" 2>&1
code=$?
set -e
[ "$code" = 1 ] || { cat "$tmp/bad.out"; fail "bad suite exited $code, not 1"; }
want() {
  grep -q -- "$1" "$tmp/bad.out" || { cat "$tmp/bad.out"; fail "no '$1' in the output"; }
}
want "^FAIL  ssh-bad/failing exit"
want "expected 0, got 4"
want "^ERROR ssh-bad/wrong fingerprint"
want "does not match host-key $fp_other: the server has ssh-ed25519 $fp_ed, ecdsa-sha2-nistp256 $fp_ec"
want "^ERROR ssh-bad/unknown host"
want "is unknown: ssh-ed25519 $fp_ed is not in known-hosts"
want "^ERROR ssh-bad/changed host key"
want "has CHANGED: the server has ssh-ed25519 $fp_ed"
want "^ERROR ssh-bad/rsa key"
want "an RSA key, refused by the server: libssh2 1.10 signs with ssh-rsa (SHA-1) only"
want "^ERROR ssh-bad/wrong password"
want "password: refused"
want "^ERROR ssh-bad/refused port"
want "cannot connect to 'refused' (127.0.0.1:$dead): Connection refused"
want "^ERROR ssh-bad/silent port"
want "cannot connect to 'silent' (127.0.0.1:$silent): no answer within 300ms (connect-timeout)"
want "^ERROR ssh-bad/missing remote file"
want "cannot read '$tmp/no-such-file' on .*: no such file or folder"
want "^ERROR ssh-bad/timeout"
want "timed out after 1s; the command was stopped"
want "^PASS  ssh-bad/after the timeout"
running() { [ -s "$tmp/remote-$1.pid" ] && kill -0 "$(cat "$tmp/remote-$1.pid")" 2>/dev/null; }
[ -s "$tmp/remote-1.pid" ] || fail "the command that times out did not start"
running 1 && fail "the timed-out command still runs"
# app (used before and after the timeout), rsa and password never log in
[ $(($(accepted) - before)) -eq 1 ] ||
  fail "app logged in $(($(accepted) - before)) times"

# ---- an interruption ends the remote command too ----
cat >"$tmp/int.yml" <<YML
name: ssh-int
hosts:
  app: { host: 127.0.0.1, port: $port, user: $user, key: id_ed25519, host-key: "$fp_ed" }
tests:
  - name: long
    steps:
      - ssh: { host: app, run: "echo \$\$ >$tmp/remote-2.pid; exec sleep 27" }
YML
"$itest" run -o "$tmp/out" "$tmp/int.yml" >"$tmp/int.out" 2>&1 &
ipid=$!
n=0
until [ -s "$tmp/remote-2.pid" ]; do
  n=$((n + 1))
  [ $n -lt 100 ] || fail "the remote command did not start"
  sleep 0.05
done
kill -INT "$ipid"
set +e
wait "$ipid"
code=$?
set -e
[ "$code" = 130 ] || { cat "$tmp/int.out"; fail "interrupted run exited $code"; }
grep -q "interrupted" "$tmp/int.out" || { cat "$tmp/int.out"; fail "no 'interrupted'"; }
sleep 0.2
running 2 && fail "the interrupted command still runs"
echo "ok"
