#!/bin/sh
# The `browser` driver end to end with the real chromedriver and Chromium,
# against HTML pages that itest's stub server serves on loopback: every
# action (open, click, type, select, wait, script, screenshot, alert),
# every kind of locator, keyed `text` expectations that hold and that
# fail (FAIL, with a screenshot and the page source attached in
# junit.xml), waits for visible / gone / url, a missing element (ERROR
# within the wait), script errors, failed loads, the loopback lock,
# `session: test` against `session: suite`, `webdriver:` naming a
# chromedriver this script started, a missing chromedriver, and that no
# chromedriver or Chromium process outlives a run, after SIGINT too.
set -eu
itest=$1
. selftest/t/lib.sh
if ! command -v chromedriver >/dev/null || [ ! -x /usr/bin/chromium ]; then
  echo "SKIP: no chromedriver or /usr/bin/chromium"
  exit 0
fi
tmp=$(mktemp -d)
cdpid=
cleanup() {
  [ -n "$cdpid" ] && kill -- "-$cdpid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
freeport() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# No process may be left that names this script's folder (Chromium's
# profile and crash database, under the run folder) or carries the run's
# id in its environment (chromedriver).
no_leftovers() {
  n=0
  while pgrep -f "$tmp/" >/dev/null && [ $n -lt 40 ]; do sleep 0.05; n=$((n + 1)); done
  if pgrep -f "$tmp/" >/dev/null; then
    pgrep -af "$tmp/" | cut -c1-160
    fail "$1: processes of the run are left"
  fi
  # (the run's reaper may take a moment to end after itest)
  n=0
  while [ -n "$(live "$2")" ] && [ $n -lt 40 ]; do sleep 0.05; n=$((n + 1)); done
  left=$(live "$2")
  if [ -n "$left" ]; then
    for e in $left; do tr '\0' ' ' <"${e%/environ}/cmdline" 2>/dev/null | cut -c1-160; echo; done
    fail "$1: processes with ITEST_RUN_ID=$2 are left"
  fi
}

mkdir "$tmp/pages"
cat >"$tmp/pages/shop.html" <<'HTML'
<!doctype html>
<html><head><title>Shop</title></head>
<body>
<h1>The shop</h1>
<form onsubmit="return false">
  <input id="qty" value="1">
  <input id="note" value="gift">
  <select id="size"><option value="s">Small</option><option value="m">Medium</option><option value="l">Large</option></select>
  <button id="reserve" type="button" onclick="doReserve()">Reserve</button>
  <button id="ask" type="button" onclick="alert('Sure? ' + document.getElementById('qty').value)">Ask</button>
  <button id="confirm" type="button" onclick="document.getElementById('answer').textContent = window.confirm('Really?') ? 'yes' : 'no'">Confirm</button>
</form>
<p id="result"></p>
<p id="busy" style="display:none">working</p>
<p id="answer"></p>
<div class="card"><span>Total: <b>42 EUR</b></span></div>
<a href="/done.html">Go on</a>
<script>
function doReserve() {
  document.getElementById('busy').style.display = 'block';
  setTimeout(function () {
    var s = document.getElementById('size');
    document.getElementById('result').textContent = 'Reserved order 12 (' +
      document.getElementById('qty').value + ' x ' + s.options[s.selectedIndex].text + ')';
    document.getElementById('busy').style.display = 'none';
  }, 300);
}
</script>
</body></html>
HTML
cat >"$tmp/pages/done.html" <<'HTML'
<!doctype html><html><head><title>Done</title></head><body><p id="msg">All done</p></body></html>
HTML
cat >"$tmp/pages/stub.yml" <<'YML'
routes:
  - when: { path: /shop.html }
    respond: { file: shop.html }
  - when: { path: /done.html }
    respond: { file: done.html }
YML
dead=$(freeport)

# ---- 1: every action and locator, and what fails (-j 2: a chromedriver
# per worker) ----
cat >"$tmp/actions.yml" <<YML
name: actions
components:
  web: { stub: pages/stub.yml }
tests:
  - name: reserve
    steps:
      - browser: { open: "\${web.url}/shop.html" }
        expect: { title: Shop, url: "~/shop\\\\.html\$" }
      - browser: { type: { into: "#qty", text: 2 } }
      - browser: { type: { into: "css:#note", text: " wrapped", clear: false } }
      - browser: { select: { from: "#size", option: Large } }
      - browser: { click: "css:#reserve" }
      - browser: { wait: { visible: "#result" } }
      - browser: { wait: { gone: "#busy", timeout: 3s } }
        expect:
          text:
            "#result": "~Reserved order \\\\d+ \\\\(2 x Large\\\\)"
            "xpath://h1": The shop
            "text:Total": "Total: 42 EUR"
            "#nothing": { exists: false }
      - browser: { script: "return [arguments[0] + 1, document.getElementById('note').value]", args: [41] }
        expect: { value: [42, gift wrapped], json: { "\$[0]": 42 } }
        capture: { answer: "\$[0]" }
      - browser: { select: { from: "xpath://select", option: m } }
      - browser: { script: "return document.getElementById('size').value" }
        expect: { value: m }
      - browser: { screenshot: shots/after-reserve.png }
      - browser: { click: "#ask" }
      - browser: { alert: text }
        expect: { value: "Sure? 2" }
      - browser: { alert: accept }
      - browser: { click: "text:Confirm" }
      - browser: { alert: dismiss }
        expect: { value: Really?, text: { "#answer": "no" } }
      - browser: { click: "link:Go on" }
      - browser: { wait: { url: "~/done\\\\.html\$" } }
        expect: { title: Done, text: { "#msg": All done } }
      - shell: "test \${answer} = 42"
  - name: polls with retry
    steps:
      - browser: { open: "\${web.url}/shop.html" }
      - browser: { click: "#reserve" }
      - browser: { script: "return 1" }
        expect: { text: { "#result": "~^Reserved" } }
        retry: { attempts: 40, interval: 50ms }
YML
cat >"$tmp/fails.yml" <<YML
name: fails
browser: { wait: 1s }
components:
  web: { stub: pages/stub.yml }
tests:
  - name: wrong text
    steps:
      - browser: { open: "\${web.url}/shop.html" }
        expect: { text: { "h1": The store } }
  - name: missing element
    steps:
      - browser: { open: "\${web.url}/shop.html" }
      - browser: { click: "#nope" }
  - name: script error
    steps:
      - browser: { open: "\${web.url}/shop.html" }
      - browser: { script: "return nosuch.x" }
  - name: wait times out
    steps:
      - browser: { open: "\${web.url}/shop.html" }
      - browser: { wait: { visible: "#busy", timeout: 300ms } }
  - name: refused
    steps:
      - browser: { open: "http://127.0.0.1:$dead/" }
  - name: beyond loopback
    steps:
      - browser: { open: "http://192.0.2.1/" }
YML
rc=0
"$itest" --color never -j 2 -o "$tmp/o" --run-id r1 "$tmp/actions.yml" \
  "$tmp/fails.yml" >"$tmp/1.out" 2>&1 || rc=$?
[ $rc = 1 ] || { cat "$tmp/1.out"; fail "run 1 exited $rc, expected 1"; }
r1="$tmp/o/r1"
for t in 'actions/reserve' 'actions/polls with retry'; do
  grep -q "^PASS  $t " "$tmp/1.out" || { cat "$tmp/1.out"; fail "$t did not pass"; }
done
grep -q '^FAIL  fails/wrong text ' "$tmp/1.out" || { cat "$tmp/1.out"; fail "wrong text is not a FAIL"; }
grep -q 'text h1: expected "The store", got "The shop"' "$tmp/1.out" ||
  fail "the failed text expectation does not say what it got"
grep -q '^ERROR fails/missing element ' "$tmp/1.out" || fail "missing element is not an ERROR"
grep -q "no element matches '#nope' (waited 1" "$tmp/1.out" ||
  { cat "$tmp/1.out"; fail "missing element: not within the 1s wait"; }
grep -q 'JavaScript error: nosuch is not defined' "$tmp/1.out" || fail "no script error"
grep -q "waited [3-9][0-9][0-9]ms for '#busy' to be visible" "$tmp/1.out" ||
  fail "the wait did not time out after its own timeout"
grep -q "cannot open 'http://127.0.0.1:$dead/': net::ERR_CONNECTION_REFUSED" "$tmp/1.out" ||
  fail "a refused page load is not an error"
grep -q "cannot open 'http://192.0.2.1/': .*ERR_PROXY_CONNECTION_FAILED" "$tmp/1.out" ||
  fail "a page beyond loopback was not refused by the proxy lock"
# the evidence of the failed expectation, attached
j="$r1/junit.xml"
xmllint --noout "$j" || fail "junit.xml is not XML"
att=$(sed -n 's/.*\[\[ATTACHMENT|\([^]]*browser-failure-1\.png\)\]\].*/\1/p' "$j" | grep 'wrong text' | head -n 1)
[ -n "$att" ] || { cat "$j"; fail "no screenshot attached to the failed test"; }
[ "$(head -c 4 "$att" | od -An -c | tr -d ' ')" = '211PNG' ] || fail "$att is not a PNG"
html=${att%.png}.html
grep -q "\[\[ATTACHMENT|$html\]\]" "$j" || fail "no page source attached"
grep -q '<title>Shop</title>' "$html" || fail "$html is not the page's source"
shot="$r1/artifacts/actions/reserve/attempt-1/shots/after-reserve.png"
[ "$(head -c 4 "$shot" | od -An -c | tr -d ' ')" = '211PNG' ] || fail "no screenshot step file"
grep -q "ATTACHMENT|$shot" "$j" || fail "the screenshot step's file is not attached"
# a chromedriver per worker, and each browser's profile folder is gone
set -- "$r1"/logs/chromedriver-*.log
[ $# = 2 ] ||
  { ls "$r1/logs"; fail "expected two chromedrivers (one per worker)"; }
[ ! -e "$r1/browser" ] || { find "$r1/browser" | head; fail "profile folders are left"; }
grep -q '&gt; click css:#reserve (' "$j" || fail "no step log line for the click"
no_leftovers "run 1" r1

# ---- 2: session test against suite, through a chromedriver started here ----
cdport=$(freeport)
setsid chromedriver --port="$cdport" >"$tmp/cd.log" 2>&1 &
cdpid=$!
n=0
until curl -sf "http://127.0.0.1:$cdport/status" >/dev/null; do
  n=$((n + 1))
  [ $n -lt 100 ] || fail "chromedriver did not start"
  sleep 0.05
done
for mode in test suite; do
  cat >"$tmp/s-$mode.yml" <<YML
name: s-$mode
browser: { webdriver: "http://127.0.0.1:\${cdport}", session: $mode, window: 800x600 }
components:
  web: { stub: pages/stub.yml }
tests:
  - name: first
    steps:
      - browser: { open: "\${web.url}/shop.html" }
      - browser: { script: "localStorage.setItem('k', 'kept'); return window.innerWidth" }
        expect: { value: { le: 800 } }
  - name: second
    steps:
      - browser: { open: "\${web.url}/shop.html" }
      - browser: { script: "return localStorage.getItem('k')" }
        expect: { value: $([ $mode = suite ] && echo kept || echo null) }
YML
done
rc=0
"$itest" --color never -o "$tmp/o" --run-id r2 --var "cdport=$cdport" \
  "$tmp/s-test.yml" "$tmp/s-suite.yml" >"$tmp/2.out" 2>&1 || rc=$?
[ $rc = 0 ] || { cat "$tmp/2.out"; fail "run 2 exited $rc"; }
sessions=$(grep -c 'new browser session' "$tmp/o/r2/junit.xml")
[ "$sessions" = 3 ] || fail "expected 3 browser sessions (2 for session: test, 1 for suite), got $sessions"
for f in "$tmp"/o/r2/logs/chromedriver-*; do
  if [ -e "$f" ]; then fail "itest started a chromedriver though 'webdriver' was given"; fi
done
curl -s "http://127.0.0.1:$cdport/sessions" | grep -q '"value":\[\]' ||
  fail "browser sessions are left in the given chromedriver"
[ ! -e "$tmp/o/r2/browser" ] || fail "run 2: profile folders are left"
no_leftovers "run 2" r2
kill -- "-$cdpid"
cdpid=

# ---- 3: no chromedriver; SIGINT in the middle of a wait ----
cat >"$tmp/nodriver.yml" <<YML
name: nodriver
browser: { start: [itest-no-such-chromedriver, --verbose] }
tests:
  - name: t
    steps:
      - browser: { open: "about:blank" }
YML
rc=0
"$itest" --color never -o "$tmp/o" --run-id r3 "$tmp/nodriver.yml" >"$tmp/3.out" 2>&1 || rc=$?
[ $rc = 1 ] || fail "a missing chromedriver: exit $rc"
grep -q "cannot start chromedriver: cannot run 'itest-no-such-chromedriver'.*apt-get install chromium chromium-driver" "$tmp/3.out" ||
  { cat "$tmp/3.out"; fail "a missing chromedriver is not explained"; }
cat >"$tmp/int.yml" <<YML
name: int
components:
  web: { stub: pages/stub.yml }
tests:
  - name: waits
    steps:
      - browser: { open: "\${web.url}/shop.html" }
      - shell: "touch $tmp/opened"
      - browser: { wait: { visible: "#never", timeout: 60s } }
YML
"$itest" --color never -o "$tmp/o" --run-id r4 "$tmp/int.yml" >"$tmp/4.out" 2>&1 &
pid=$!
n=0
while [ ! -e "$tmp/opened" ] && [ $n -lt 300 ]; do sleep 0.05; n=$((n + 1)); done
[ -e "$tmp/opened" ] || { kill $pid; fail "the page did not open"; }
pgrep -f "$tmp/o/r4/browser/profile-" >/dev/null || { kill $pid; fail "no Chromium found by its profile"; }
kill -INT $pid
rc=0
wait $pid || rc=$?
[ $rc = 130 ] || { cat "$tmp/4.out"; fail "SIGINT: exit $rc, expected 130"; }
grep -q 'interrupted' "$tmp/o/r4/junit.xml" || fail "SIGINT: the test is not reported interrupted"
no_leftovers "SIGINT" r4
echo "4 runs passed"
