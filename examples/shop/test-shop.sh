#!/bin/sh
# Smoke test of the shop demo: starts shop-inventory, shop-orders and
# shop-web on free loopback ports (--port 0; each logs the port it got)
# with temporary data folders, drives their APIs with curl, and checks the
# fail modes, the clean exit on SIGTERM and that the data survive a
# restart.  Given the itest binary, it also serves the stub files and
# runs the real orders service against the inventory stub.  Everything it
# started is killed on any exit.
#
# usage: test-shop.sh BINDIR [ITEST]
set -u

BIN=${1:?usage: test-shop.sh BINDIR [ITEST]}
ITEST=${2:-}
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/shop-test.XXXXXX") || exit 1
PIDS=""
FAILS=0
N=0

cleanup() {
	for p in $PIDS; do
		kill -KILL "$p" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

ok() {
	N=$((N + 1))
	echo "ok $N - $1"
}

not_ok() {
	N=$((N + 1))
	FAILS=$((FAILS + 1))
	echo "not ok $N - $1"
	shift
	for line in "$@"; do
		echo "#   $line"
	done
}

# The logs of every service, shown when the test gives up.
dump_logs() {
	for f in "$T"/*.log; do
		[ -f "$f" ] || continue
		echo "# --- $(basename "$f")"
		sed 's/^/#   /' "$f"
	done
}

bail() {
	echo "Bail out! $1"
	dump_logs
	exit 1
}

# start NAME CMD...: runs CMD in the background, logging to $T/NAME.log,
# and waits for the port it announces.  Sets $pid and $port.
start() {
	name=$1
	shift
	: >"$T/$name.log"
	"$@" >"$T/$name.log" 2>&1 &
	pid=$!
	PIDS="$PIDS $pid"
	i=0
	while :; do
		port=$(sed -n 's|.*http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' \
			"$T/$name.log" | head -n 1)
		[ -n "$port" ] && return 0
		kill -0 "$pid" 2>/dev/null || bail "$name exited at start"
		i=$((i + 1))
		[ $i -gt 150 ] && bail "$name did not announce its port"
		sleep 0.02
	done
}

forget() {
	rest=""
	for p in $PIDS; do
		[ "$p" = "$1" ] || rest="$rest $p"
	done
	PIDS=$rest
}

# stop NAME PID: SIGTERM, then the exit status must be 0.
stop() {
	kill -TERM "$2"
	wait "$2"
	rc=$?
	forget "$2"
	if [ "$rc" -eq 0 ]; then
		ok "$1 exits 0 on SIGTERM"
	else
		not_ok "$1 exits 0 on SIGTERM" "exit status $rc"
	fi
	grep -q "stopped" "$T/$1.log" || not_ok "$1 logs its stop"
}

# req METHOD URL [JSON]: sets $status, $body and $headers.
req() {
	if [ $# -ge 3 ]; then
		set -- "$1" "$2" -H 'Content-Type: application/json' \
			--data-binary "$3"
	fi
	status=$(curl -s --noproxy '*' --max-time 5 -D "$T/headers" \
		-o "$T/body" -w '%{http_code}' -X "$@") || status=000
	body=$(cat "$T/body")
	headers=$(cat "$T/headers")
}

# check WHAT STATUS [TEXT...]: the last answer had STATUS and holds
# every TEXT.
check() {
	what=$1
	want=$2
	shift 2
	if [ "$status" != "$want" ]; then
		not_ok "$what" "status $status, expected $want" "body: $body"
		return
	fi
	for text in "$@"; do
		case $body in
		*"$text"*) ;;
		*)
			not_ok "$what" "body lacks '$text'" "body: $body"
			return
			;;
		esac
	done
	ok "$what"
}

# holds WHAT CMD...: the check WHAT passes when CMD succeeds.
holds() {
	what=$1
	shift
	if "$@"; then
		ok "$what"
	else
		not_ok "$what"
	fi
}

# health NAME URL
health() {
	req GET "$2/health"
	check "$1 health" 200 '"status":"ok"' "\"service\":\"$1\""
}

# ---- bad command lines ----

# (bounded by `timeout`: a service that wrongly starts must not hang us)
timeout 2 "$BIN/shop-inventory" --port nope >/dev/null 2>&1
holds "a bad port is a usage error (exit 2)" [ $? -eq 2 ]
SHOP_FAIL_MODE=nope timeout 2 "$BIN/shop-orders" --port 0 >/dev/null 2>&1
holds "an unknown fail mode is a usage error (exit 2)" [ $? -eq 2 ]

# ---- the three layers ----

start inventory "$BIN/shop-inventory" --port 0 --data "$T/data/inventory"
INV=$pid
INV_URL=http://127.0.0.1:$port
start orders "$BIN/shop-orders" --port=0 --inventory "$INV_URL/" \
	--data "$T/data/orders"
ORD=$pid
ORD_URL=http://127.0.0.1:$port
start web env PORT=0 ORDERS_URL="$ORD_URL" "$BIN/shop-web"
WEB=$pid
WEB_URL=http://127.0.0.1:$port

health inventory "$INV_URL"
health orders "$ORD_URL"
health web "$WEB_URL"
holds "inventory seeds stock.json" [ -f "$T/data/inventory/stock.json" ]

req GET "$INV_URL/items"
check "inventory lists the items" 200 '"sku":"A1"' '"sku":"B7"'
req GET "$INV_URL/items/A1"
check "inventory shows an item" 200 '"name":"widget"' '"stock":10'
req GET "$INV_URL/items/ZZ"
check "an unknown item is 404" 404 '"error"'

req POST "$ORD_URL/orders" '{"sku":"A1","qty":2}'
check "orders reserves an item" 201 '"id":1' '"status":"reserved"' \
	'"sku":"A1"' '"qty":2'
req GET "$INV_URL/items/A1"
check "the reservation took the stock" 200 '"stock":8'
req POST "$ORD_URL/orders" '{"sku":"B7","qty":5}'
check "insufficient stock is 409" 409 '"error":"insufficient stock"' \
	'"available":3'
req POST "$ORD_URL/orders" '{"sku":"A1","qty":0}'
check "orders: qty 0 is 400" 400 '"error"'
req POST "$ORD_URL/orders" '{"sku":"Q9","qty":1}'
check "orders: an unknown sku is 404" 404 '"unknown sku"'
req POST "$INV_URL/reservations" '{"sku":"A1","qty":0}'
check "inventory: qty 0 is 400" 400 "qty"
req POST "$INV_URL/reservations" '{"sku":"A1","qty":2.5}'
check "inventory: qty 2.5 is 400" 400 "qty"
req POST "$INV_URL/reservations" '{"sku":"A1","qty":"2"}'
check "inventory: qty \"2\" is 400" 400 "qty"
req POST "$INV_URL/reservations" '{"sku":'
check "inventory: a body that is not JSON is 400" 400 '"error"'
req GET "$ORD_URL/orders/1"
check "orders shows an order" 200 '"id":1' '"sku":"A1"'
req GET "$ORD_URL/orders/99"
check "an unknown order is 404" 404 '"error"'
req GET "$ORD_URL/orders"
check "orders lists the orders" 200 '[{"id":1,'

req GET "$WEB_URL/"
check "web serves the page" 200 '<title>Shop</title>' \
	'<h1>Welcome to the shop</h1>' 'id="qty"' 'id="size"' \
	'id="reserve"' 'id="result"' '>Small<' '>Large<' '/api/reserve'
case $headers in
*"text/html"*) ok "the page is text/html" ;;
*) not_ok "the page is text/html" "$headers" ;;
esac
req POST "$WEB_URL/api/reserve" '{"sku":"A1","qty":1}'
check "web reserves through orders" 201 '"id":2' '"status":"reserved"'
req GET "$WEB_URL/api/orders/2"
check "web shows an order" 200 '"id":2'
req POST "$WEB_URL/api/reserve" '{"sku":"B7","qty":9}'
check "web passes 409 on" 409 '"insufficient stock"'
req GET "$WEB_URL/nope"
check "web: an unknown path is 404" 404 '"error"'
req PUT "$WEB_URL/health"
check "web: a wrong method is 405" 405 '"error"'

# ---- fail modes ----

start orders-broken env SHOP_FAIL_MODE=wrong-field "$BIN/shop-orders" \
	--port 0 --inventory "$INV_URL"
BROKEN=$pid
req POST "http://127.0.0.1:$port/orders" '{"sku":"A1","qty":1}'
check "wrong-field: the inventory refuses the order" 502 \
	'"inventory_status":400'
holds "wrong-field: the inventory logged its 400" \
	grep -q "^POST /reservations 400$" "$T/inventory.log"
stop orders-broken "$BROKEN"

start web-sick "$BIN/shop-web" --port 0 --fail-mode unhealthy
SICK=$pid
req GET "http://127.0.0.1:$port/health"
check "unhealthy: health is 503" 503
stop web-sick "$SICK"

# ---- SIGTERM, the inventory down, restarts ----

stop inventory "$INV"
req POST "$ORD_URL/orders" '{"sku":"A1","qty":1}'
check "inventory down: orders answers 502" 502 \
	'"error":"inventory unavailable"'
req GET "$ORD_URL/health"
check "inventory down: orders is still healthy" 200

mv "$T/inventory.log" "$T/inventory-1.log"
start inventory "$BIN/shop-inventory" --port 0 --data "$T/data/inventory"
INV=$pid
INV_URL=http://127.0.0.1:$port
req GET "$INV_URL/items/A1"
check "the stock survives a restart" 200 '"stock":7'
holds "no temp files are left" [ -z "$(find "$T/data" -name '.*tmp*')" ]

stop orders "$ORD"
req POST "$WEB_URL/api/reserve" '{"sku":"A1","qty":1}'
check "orders down: web answers 502" 502 '"error":"orders unavailable"'
mv "$T/orders.log" "$T/orders-1.log"
start orders "$BIN/shop-orders" --port 0 --inventory "$INV_URL" \
	--data "$T/data/orders"
ORD=$pid
req GET "http://127.0.0.1:$port/orders/2"
check "the orders survive a restart" 200 '"id":2'
req POST "http://127.0.0.1:$port/orders" '{"sku":"A1","qty":1}'
check "a restarted orders goes on counting" 201 '"id":3'

holds "one log line per request" \
	grep -q "^GET /health 200$" "$T/inventory-1.log"

stop inventory "$INV"
stop orders "$ORD"
stop web "$WEB"

# ---- the stubs ----

if [ -n "$ITEST" ] && [ -x "$ITEST" ]; then
	start stub-inventory "$ITEST" stub "$HERE/stubs/inventory.yml" --port 0
	SI=$pid
	SI_URL=http://127.0.0.1:$port
	start stub-orders "$ITEST" stub "$HERE/stubs/orders.yml" --port 0
	SO=$pid
	SO_URL=http://127.0.0.1:$port
	start stub-web "$ITEST" stub "$HERE/stubs/web.yml" --port 0
	SW=$pid
	SW_URL=http://127.0.0.1:$port

	req POST "$SI_URL/reservations" '{"sku":"A1","qty":2}'
	check "inventory stub: reservation" 201 '"remaining":99' \
		'"stub":true'
	case $headers in
	*"X-Stub: inventory"*) ok "inventory stub: X-Stub header" ;;
	*) not_ok "inventory stub: X-Stub header" "$headers" ;;
	esac
	req POST "$SI_URL/reservations" '{"item":"A1","quantity":2}'
	check "inventory stub: wrong fields are 400" 400 '"stub":true'
	req POST "$SO_URL/orders" '{"sku":"B7","qty":3}'
	check "orders stub: an order" 201 '"id":42' '"sku":"B7"' '"qty":3'
	req GET "$SW_URL/"
	check "web stub: the page" 200 'Shop (stub)' 'id="qty"' \
		'id="reserve"'

	start orders-on-stub "$BIN/shop-orders" --port 0 --inventory "$SI_URL"
	OS=$pid
	req POST "http://127.0.0.1:$port/orders" '{"sku":"A1","qty":2}'
	check "real orders on the inventory stub" 201 '"id":1'
	stop orders-on-stub "$OS"
	for p in $SI $SO $SW; do
		kill -TERM "$p"
		wait "$p"
		forget "$p"
	done
else
	echo "# no itest binary given: the stubs are not tested"
fi

if [ "$FAILS" -ne 0 ]; then
	echo "# $FAILS of $N checks failed"
	dump_logs
	exit 1
fi
echo "1..$N"
