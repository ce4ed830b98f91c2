/*
 * Unit tests of the stub server with real HTTP: servers on free loopback
 * ports, spoken to with libcurl.  Matching on method, path, `~` paths,
 * query, headers, JSON and body; sequences and `times`; templates from
 * the request; file responses; a delay that holds up no other client;
 * the 404 with the closest route; 413; records, marks and reset; the
 * port free right after stop; bind failures; and the load-time checks
 * with their locations.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stubsrv.h"
#include "yaml.h"

static struct itest_src stub_src = {(char *)"stubs/t.yml", NULL, 0, 0};

/* A port that was free a moment ago. */
static int free_port(void)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

static struct ivalue *parse(const char *yaml)
{
	struct itest_err err = ITEST_ERR_INIT;
	struct ivalue *doc = yaml_parse(yaml, strlen(yaml), &stub_src, &err);
	if (!doc)
		fail_msg("yaml: %s", err.msg);
	return doc;
}

/* A checked stub document served on a free port. */
struct srv {
	struct ivalue *doc;
	struct stubsrv *s;
	int port;
};

static void srv_start(struct srv *v, const char *yaml, const char *dir)
{
	struct itest_err err = ITEST_ERR_INIT;
	v->doc = parse(yaml);
	if (stub_check_spec(v->doc, &err))
		fail_msg("check: %d:%d: %s", err.loc.line, err.loc.col,
			 err.msg);
	v->port = free_port();
	v->s = stubsrv_start(v->doc, dir, "127.0.0.1", v->port, &err);
	if (!v->s)
		fail_msg("start: %s", err.msg);
}

static void srv_stop(struct srv *v)
{
	stubsrv_stop(v->s);
	iv_free(v->doc);
}

/* One HTTP exchange. */
struct reply {
	long status;
	struct strbuf body, headers;
	double secs;
};

static size_t on_data(char *p, size_t size, size_t n, void *sb)
{
	strbuf_add(sb, p, size * n);
	return size * n;
}

/* `hdrs` is a NULL-terminated list of "Name: value" lines, or NULL. */
static void http_on(CURL *c, struct reply *r, const char *method, int port,
		    const char *path, const char *body, const char *const *hdrs)
{
	struct curl_slist *sl = NULL;
	char url[512];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	memset(r, 0, sizeof(*r));
	strbuf_init(&r->body, 0);
	strbuf_init(&r->headers, 0);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	} else {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	}
	for (; hdrs && *hdrs; hdrs++)
		sl = curl_slist_append(sl, *hdrs);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, sl);
	double t0 = now_ms();
	CURLcode rc = curl_easy_perform(c);
	r->secs = (now_ms() - t0) / 1000;
	curl_slist_free_all(sl);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	if (rc != CURLE_OK)
		fail_msg("%s %s: %s", method, url, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
}

static void http(struct reply *r, const char *method, int port,
		 const char *path, const char *body, const char *const *hdrs)
{
	CURL *c = curl_easy_init();
	http_on(c, r, method, port, path, body, hdrs);
	curl_easy_cleanup(c);
}

static void reply_release(struct reply *r)
{
	strbuf_release(&r->body);
	strbuf_release(&r->headers);
}

static struct ivalue *reply_json(const struct reply *r)
{
	struct itest_err err = ITEST_ERR_INIT;
	struct ivalue *v = json_parse(r->body.buf, r->body.len, NULL, &err);
	if (!v)
		fail_msg("not JSON: %s", r->body.buf);
	return v;
}

/* The status of METHOD PATH (with an optional body). */
static long status_of(int port, const char *method, const char *path,
		      const char *body, const char *const *hdrs)
{
	struct reply r;
	http(&r, method, port, path, body, hdrs);
	reply_release(&r);
	return r.status;
}

static void test_method_and_path(void **state)
{
	struct srv v;
	struct reply r;
	(void)state;
	srv_start(&v,
		  "routes:\n"
		  "  - when: { method: POST, path: /orders }\n"
		  "    respond: { status: 201, json: { id: 42, status: "
		  "reserved } }\n"
		  "  - when: { method: GET, path: \"~^/orders/\\\\d+$\" }\n"
		  "    respond: { status: 200, json: { id: 7 } }\n"
		  "  - when: { method: [PUT, patch], path: /any }\n"
		  "    respond: { status: 204 }\n"
		  "  - when: { path: \"~/deep/\" }\n"
		  "    respond: { body: deep }\n",
		  NULL);
	http(&r, "POST", v.port, "/orders", "{}", NULL);
	assert_int_equal(r.status, 201);
	assert_string_equal(r.body.buf, "{\"id\":42,\"status\":\"reserved\"}");
	assert_non_null(
		strcasestr(r.headers.buf, "content-type: application/json"));
	reply_release(&r);
	assert_int_equal(status_of(v.port, "GET", "/orders", NULL, NULL), 404);
	assert_int_equal(status_of(v.port, "GET", "/orders/12", NULL, NULL),
			 200);
	/* anchored by the pattern itself */
	assert_int_equal(status_of(v.port, "GET", "/orders/12/x", NULL, NULL),
			 404);
	assert_int_equal(status_of(v.port, "GET", "/v1/orders/12", NULL, NULL),
			 404);
	/* a list of methods, written in any case */
	assert_int_equal(status_of(v.port, "PUT", "/any", "", NULL), 204);
	assert_int_equal(status_of(v.port, "PATCH", "/any", "", NULL), 204);
	assert_int_equal(status_of(v.port, "DELETE", "/any", NULL, NULL), 404);
	/* an unanchored pattern searches; no method: any method */
	http(&r, "DELETE", v.port, "/a/deep/b", NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.buf, "deep");
	assert_non_null(strcasestr(r.headers.buf, "content-type: text/plain"));
	reply_release(&r);
	srv_stop(&v);
}

static void test_query_and_headers(void **state)
{
	struct srv v;
	(void)state;
	srv_start(&v,
		  "routes:\n"
		  "  - when: { path: /q, query: { page: 2, name: \"~^al\" } }\n"
		  "    respond: { body: q }\n"
		  "  - when: { path: /h, headers: { X-Token: abc, accept: "
		  "{ contains: json } } }\n"
		  "    respond: { body: h }\n"
		  "  - when: { path: /tags, query: { tag: b } }\n"
		  "    respond: { body: t }\n",
		  NULL);
	assert_int_equal(
		status_of(v.port, "GET", "/q?page=2&name=alice", NULL, NULL),
		200);
	assert_int_equal(
		status_of(v.port, "GET", "/q?page=3&name=alice", NULL, NULL),
		404);
	assert_int_equal(
		status_of(v.port, "GET", "/q?page=2&name=bob", NULL, NULL),
		404);
	assert_int_equal(status_of(v.port, "GET", "/q?name=alice", NULL, NULL),
			 404);
	const char *good[] = {"x-token: abc", "Accept: application/json", NULL};
	const char *bad[] = {"X-Token: abd", "Accept: application/json", NULL};
	assert_int_equal(status_of(v.port, "GET", "/h", NULL, good), 200);
	assert_int_equal(status_of(v.port, "GET", "/h", NULL, bad), 404);
	/* a repeated parameter matches when one of its values does */
	assert_int_equal(
		status_of(v.port, "GET", "/tags?tag=a&tag=b", NULL, NULL), 200);
	srv_stop(&v);
}

static void test_json_and_body(void **state)
{
	struct srv v;
	(void)state;
	srv_start(&v,
		  "routes:\n"
		  "  - when: { method: POST, path: /orders, json: { $.qty: "
		  "{ gt: 1 }, $.item: widget } }\n"
		  "    respond: { status: 201 }\n"
		  "  - when: { method: POST, path: /all, json: { subset: { "
		  "a: [ { b: 1 } ] } } }\n"
		  "    respond: { status: 202 }\n"
		  "  - when: { method: POST, path: /text, body: \"~^hello\" "
		  "}\n"
		  "    respond: { status: 203 }\n",
		  NULL);
	assert_int_equal(status_of(v.port, "POST", "/orders",
				   "{\"qty\": 2, \"item\": \"widget\"}", NULL),
			 201);
	assert_int_equal(status_of(v.port, "POST", "/orders",
				   "{\"qty\": 1, \"item\": \"widget\"}", NULL),
			 404);
	assert_int_equal(status_of(v.port, "POST", "/orders", "qty=2", NULL),
			 404);
	assert_int_equal(status_of(v.port, "POST", "/all",
				   "{\"a\": [{\"b\": 1, \"c\": 2}], \"z\": 0}",
				   NULL),
			 202);
	assert_int_equal(
		status_of(v.port, "POST", "/text", "hello world", NULL), 203);
	assert_int_equal(status_of(v.port, "POST", "/text", "goodbye", NULL),
			 404);
	srv_stop(&v);
}

static void test_sequence_and_times(void **state)
{
	struct srv v;
	struct reply r;
	(void)state;
	srv_start(&v,
		  "routes:\n"
		  "  - when: { path: /seq }\n"
		  "    respond: [ { body: one }, { body: two }, { status: 503, "
		  "body: last } ]\n"
		  "  - when: { path: /once }\n"
		  "    respond: { body: first }\n"
		  "    times: 1\n"
		  "  - when: { path: /once }\n"
		  "    respond: { body: later }\n"
		  "  - when: { path: /twice }\n"
		  "    respond: [ { body: a }, { body: b }, { body: c } ]\n"
		  "    times: 2\n",
		  NULL);
	const char *want[] = {"one", "two", "last", "last"};
	for (size_t i = 0; i < 4; i++) {
		http(&r, "GET", v.port, "/seq", NULL, NULL);
		assert_string_equal(r.body.buf, want[i]);
		assert_int_equal(r.status, i < 2 ? 200 : 503);
		reply_release(&r);
	}
	http(&r, "GET", v.port, "/once", NULL, NULL);
	assert_string_equal(r.body.buf, "first");
	reply_release(&r);
	http(&r, "GET", v.port, "/once", NULL, NULL);
	assert_string_equal(r.body.buf, "later");
	reply_release(&r);
	http(&r, "GET", v.port, "/twice", NULL, NULL);
	assert_string_equal(r.body.buf, "a");
	reply_release(&r);
	http(&r, "GET", v.port, "/twice", NULL, NULL);
	assert_string_equal(r.body.buf, "b");
	reply_release(&r);
	http(&r, "GET", v.port, "/twice", NULL, NULL);
	assert_int_equal(r.status, 404);
	assert_non_null(strstr(r.body.buf, "called 2 times and allows 2"));
	reply_release(&r);
	/* reset gives the calls back */
	stubsrv_reset(v.s);
	http(&r, "GET", v.port, "/twice", NULL, NULL);
	assert_string_equal(r.body.buf, "a");
	reply_release(&r);
	http(&r, "GET", v.port, "/seq", NULL, NULL);
	assert_string_equal(r.body.buf, "one");
	reply_release(&r);
	srv_stop(&v);
}

static void test_templates(void **state)
{
	struct srv v;
	struct reply r;
	(void)state;
	srv_start(&v,
		  "routes:\n"
		  "  - when: { path: "
		  "\"~^/users/(\\\\d+)/items/(?<item>\\\\w+)$\" "
		  "}\n"
		  "    respond:\n"
		  "      headers: { X-Echo: \"${request.headers.x-in}\" }\n"
		  "      json:\n"
		  "        user: \"${request.params.1}\"\n"
		  "        item: \"${request.params.item}\"\n"
		  "        whole: \"${request.params.0}\"\n"
		  "        method: \"${request.method}\"\n"
		  "        page: \"${request.query.page}\"\n"
		  "        qty: \"${request.json.order.qty}\"\n"
		  "        order: \"${request.json.order}\"\n"
		  "        text: \"qty=${request.json.order.qty}\"\n"
		  "        missing: \"${request.query.nope:-none}\"\n"
		  "  - when: { path: /echo }\n"
		  "    respond: { status: \"${request.query.code}\", body: "
		  "\"${request.body}|${request.path}\" }\n",
		  NULL);
	const char *hdrs[] = {"X-In: hello", NULL};
	http(&r, "PUT", v.port, "/users/17/items/pen?page=3",
	     "{\"order\": {\"qty\": 9007199254740993}}", hdrs);
	assert_int_equal(r.status, 200);
	assert_non_null(strcasestr(r.headers.buf, "x-echo: hello"));
	struct ivalue *j = reply_json(&r);
	assert_string_equal(iv_strval(iv_get(j, "user")), "17");
	assert_string_equal(iv_strval(iv_get(j, "item")), "pen");
	assert_string_equal(iv_strval(iv_get(j, "whole")),
			    "/users/17/items/pen");
	assert_string_equal(iv_strval(iv_get(j, "method")), "PUT");
	assert_string_equal(iv_strval(iv_get(j, "page")), "3");
	/* a lone ${...} keeps its JSON type, exactly */
	assert_int_equal(iv_get(j, "qty")->type, IV_NUM);
	assert_string_equal(iv_get(j, "qty")->u.num.text, "9007199254740993");
	assert_int_equal(iv_get(j, "order")->type, IV_OBJ);
	assert_string_equal(iv_strval(iv_get(j, "text")),
			    "qty=9007199254740993");
	assert_string_equal(iv_strval(iv_get(j, "missing")), "none");
	iv_free(j);
	reply_release(&r);

	http(&r, "POST", v.port, "/echo?code=418", "plain text", NULL);
	assert_int_equal(r.status, 418);
	assert_string_equal(r.body.buf, "plain text|/echo");
	reply_release(&r);
	/* a template the request cannot fill: 500 that says why */
	http(&r, "POST", v.port, "/echo", "x", NULL);
	assert_int_equal(r.status, 500);
	assert_non_null(strstr(r.body.buf, "request.query.code"));
	reply_release(&r);
	struct ivalue *calls = stubsrv_calls(v.s, 0);
	assert_int_equal(calls->u.arr.n, 3);
	/* the route matched: the stub failed, not the system */
	assert_true(iv_get(calls->u.arr.v[2], "matched")->u.b);
	iv_free(calls);
	srv_stop(&v);
}

static void test_file_response(void **state)
{
	char dir[] = "/tmp/itest-stubsrv-XXXXXX", path[128];
	struct srv v;
	struct reply r;
	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/order.json", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"id\": 42}\n", f);
	fclose(f);
	srv_start(&v,
		  "routes:\n"
		  "  - when: { path: /order }\n"
		  "    respond: { file: order.json }\n"
		  "  - when: { path: \"~^/files/(.*)$\" }\n"
		  "    respond: { file: \"${request.params.1}\", headers: { "
		  "Content-Type: text/x-mine } }\n",
		  dir);
	http(&r, "GET", v.port, "/order", NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.buf, "{\"id\": 42}\n");
	assert_non_null(
		strcasestr(r.headers.buf, "content-type: application/json"));
	reply_release(&r);
	http(&r, "GET", v.port, "/files/order.json", NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.buf, "{\"id\": 42}\n");
	assert_non_null(strcasestr(r.headers.buf, "content-type: text/x-mine"));
	reply_release(&r);
	http(&r, "GET", v.port, "/files/nothere.json", NULL, NULL);
	assert_int_equal(r.status, 500);
	assert_non_null(strstr(r.body.buf, "nothere.json"));
	reply_release(&r);
	/* a path from the request cannot climb out of the folder */
	http(&r, "GET", v.port, "/files/..%2Fetc%2Fpasswd", NULL, NULL);
	assert_int_equal(r.status, 500);
	assert_non_null(strstr(r.body.buf, "'..'"));
	reply_release(&r);
	http(&r, "GET", v.port, "/files//etc/passwd", NULL, NULL);
	assert_int_equal(r.status, 500);
	assert_non_null(strstr(r.body.buf, "may not be absolute"));
	reply_release(&r);
	srv_stop(&v);

	/* a missing file is an error when the server starts */
	struct itest_err err = ITEST_ERR_INIT;
	struct ivalue *doc = parse("routes:\n"
				   "  - respond: { file: gone.json }\n");
	assert_int_equal(stub_check_spec(doc, &err), 0);
	assert_null(stubsrv_start(doc, dir, "127.0.0.1", free_port(), &err));
	assert_non_null(strstr(err.msg, "gone.json"));
	assert_int_equal(err.loc.line, 2);
	assert_int_equal(err.loc.col, 22);
	iv_free(doc);
	unlink(path);
	rmdir(dir);
}

struct slow_call {
	int port;
	struct reply r;
};

static void *slow_thread(void *arg)
{
	struct slow_call *sc = arg;
	http(&sc->r, "GET", sc->port, "/slow", NULL, NULL);
	return NULL;
}

static void test_delay(void **state)
{
	struct srv v;
	struct reply r;
	struct slow_call sc;
	pthread_t t;
	(void)state;
	srv_start(&v,
		  "routes:\n"
		  "  - when: { path: /slow }\n"
		  "    respond: { body: slow, delay: 700ms }\n"
		  "  - when: { path: /fast }\n"
		  "    respond: { body: fast }\n",
		  NULL);
	sc.port = v.port;
	assert_int_equal(pthread_create(&t, NULL, slow_thread, &sc), 0);
	usleep(100 * 1000);
	http(&r, "GET", v.port, "/fast", NULL, NULL);
	assert_string_equal(r.body.buf, "fast");
	assert_true(r.secs < 0.4);
	reply_release(&r);
	pthread_join(t, NULL);
	assert_string_equal(sc.r.body.buf, "slow");
	assert_true(sc.r.secs >= 0.69);
	reply_release(&sc.r);

	/* stop does not wait for a long delay */
	srv_stop(&v);
	srv_start(&v,
		  "routes:\n"
		  "  - respond: { body: slow, delay: 1m }\n",
		  NULL);
	CURL *c = curl_easy_init();
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/slow", v.port);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 1L);
	curl_easy_perform(c); /* times out after 1s; the server still waits */
	curl_easy_cleanup(c);
	double t0 = now_ms();
	srv_stop(&v);
	assert_true(now_ms() - t0 < 2000);
}

static void test_unmatched_404(void **state)
{
	struct srv v;
	struct reply r;
	(void)state;
	srv_start(&v,
		  "routes:\n"
		  "  - when: { method: POST, path: /orders }\n"
		  "    respond: { status: 201 }\n"
		  "  - name: one order\n"
		  "    when: { method: GET, path: \"~^/orders/\\\\d+$\" }\n"
		  "    respond: { status: 200 }\n"
		  "  - when: { method: GET, path: /health }\n"
		  "    respond: { status: 200 }\n",
		  NULL);
	http(&r, "GET", v.port, "/orders", NULL, NULL);
	assert_int_equal(r.status, 404);
	assert_non_null(
		strcasestr(r.headers.buf, "content-type: application/json"));
	struct ivalue *j = reply_json(&r);
	assert_string_equal(iv_strval(iv_get(j, "error")),
			    "no stub route matches");
	assert_string_equal(iv_strval(iv_get(j, "request")), "GET /orders");
	/* same path, other method */
	assert_string_equal(iv_strval(iv_get(j, "closest")),
			    "POST /orders (route 1, stubs/t.yml:2:5)");
	assert_string_equal(iv_strval(iv_get(j, "why")),
			    "method differs: the route wants POST");
	iv_free(j);
	reply_release(&r);

	http(&r, "GET", v.port, "/orders/x1", NULL, NULL);
	j = reply_json(&r);
	assert_string_equal(iv_strval(iv_get(j, "closest")),
			    "'one order': GET ~^/orders/\\d+$ (route 2, "
			    "stubs/t.yml:4:5)");
	assert_non_null(strstr(iv_strval(iv_get(j, "why")), "path differs"));
	iv_free(j);
	reply_release(&r);

	/* no routes at all */
	srv_stop(&v);
	srv_start(&v, "routes: []\n", NULL);
	http(&r, "GET", v.port, "/", NULL, NULL);
	assert_int_equal(r.status, 404);
	j = reply_json(&r);
	assert_int_equal(iv_get(j, "closest")->type, IV_NULL);
	iv_free(j);
	reply_release(&r);
	srv_stop(&v);
}

static void test_body_too_large(void **state)
{
	struct srv v;
	size_t n = ((size_t)8 << 20) + 10;
	char *big = malloc(n + 1);
	(void)state;
	memset(big, 'a', n);
	big[n] = 0;
	srv_start(&v, "routes:\n  - respond: { status: 200 }\n", NULL);
	assert_int_equal(status_of(v.port, "POST", "/up", big, NULL), 413);
	big[n - 20] = 0; /* within the cap */
	assert_int_equal(status_of(v.port, "POST", "/up", big, NULL), 200);
	free(big);
	struct ivalue *calls = stubsrv_calls(v.s, 0);
	assert_int_equal(calls->u.arr.n, 2);
	assert_false(iv_get(calls->u.arr.v[0], "matched")->u.b);
	assert_true(iv_get(calls->u.arr.v[1], "matched")->u.b);
	iv_free(calls);
	srv_stop(&v);
}

static void test_records(void **state)
{
	struct srv v;
	(void)state;
	srv_start(&v,
		  "routes:\n"
		  "  - when: { method: POST, path: /orders }\n"
		  "    respond: { status: 201 }\n",
		  NULL);
	assert_int_equal(stubsrv_mark(v.s), 0);
	const char *hdrs[] = {"Content-Type: application/json", "X-Trace: t1",
			      NULL};
	status_of(v.port, "POST", "/orders?a=1&a=2&b", "{\"qty\": 2}", hdrs);
	size_t mark = stubsrv_mark(v.s);
	assert_int_equal(mark, 1);
	status_of(v.port, "GET", "/nothing", NULL, NULL);
	status_of(v.port, "POST", "/orders", "not json", NULL);

	struct ivalue *all = stubsrv_calls(v.s, 0);
	assert_int_equal(all->u.arr.n, 3);
	const struct ivalue *c0 = all->u.arr.v[0];
	assert_string_equal(iv_strval(iv_get(c0, "method")), "POST");
	assert_string_equal(iv_strval(iv_get(c0, "path")), "/orders");
	const struct ivalue *a = iv_get(iv_get(c0, "query"), "a");
	assert_int_equal(a->type, IV_ARR);
	assert_int_equal(a->u.arr.n, 2);
	assert_string_equal(iv_strval(a->u.arr.v[1]), "2");
	assert_string_equal(iv_strval(iv_get(iv_get(c0, "query"), "b")), "");
	assert_string_equal(iv_strval(iv_get(iv_get(c0, "headers"), "x-trace")),
			    "t1");
	/* a JSON body is parsed: `$[0].body.qty` works as in SPEC 6.6 */
	assert_int_equal(iv_get(iv_get(c0, "body"), "qty")->u.num.i, 2);
	assert_int_equal(iv_get(iv_get(c0, "json"), "qty")->u.num.i, 2);
	assert_true(iv_get(c0, "matched")->u.b);
	assert_int_equal(iv_get(c0, "route")->u.num.i, 1);
	assert_int_equal(iv_get(c0, "time")->type, IV_NUM);
	const struct ivalue *c1 = all->u.arr.v[1];
	assert_false(iv_get(c1, "matched")->u.b);
	assert_int_equal(iv_get(c1, "route")->type, IV_NULL);
	const struct ivalue *c2 = all->u.arr.v[2];
	assert_string_equal(iv_strval(iv_get(c2, "body")), "not json");
	assert_null(iv_get(c2, "json"));
	iv_free(all);

	struct ivalue *since = stubsrv_calls(v.s, mark);
	assert_int_equal(since->u.arr.n, 2);
	assert_string_equal(iv_strval(iv_get(since->u.arr.v[0], "path")),
			    "/nothing");
	iv_free(since);
	since = stubsrv_calls(v.s, 10);
	assert_int_equal(since->u.arr.n, 0);
	iv_free(since);

	stubsrv_reset(v.s);
	assert_int_equal(stubsrv_mark(v.s), 0);
	all = stubsrv_calls(v.s, 0);
	assert_int_equal(all->u.arr.n, 0);
	iv_free(all);
	srv_stop(&v);
}

/* Binds `port` without SO_REUSEADDR, as a careless component would. */
static int plain_bind(int port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0), rc;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (rc == 0)
		rc = listen(fd, 1);
	close(fd);
	return rc;
}

static void test_rebind_after_stop(void **state)
{
	struct srv v;
	struct reply r;
	(void)state;
	for (int round = 0; round < 3; round++) {
		srv_start(&v, "routes:\n  - respond: { body: ok }\n", NULL);
		/* a client that keeps its connection open */
		CURL *c = curl_easy_init();
		for (int i = 0; i < 3; i++) {
			http_on(c, &r, "GET", v.port, "/", NULL, NULL);
			assert_string_equal(r.body.buf, "ok");
			reply_release(&r);
		}
		int port = v.port;
		srv_stop(&v);
		/* the port is free at once, even without SO_REUSEADDR */
		assert_int_equal(plain_bind(port), 0);
		curl_easy_cleanup(c);
	}
}

static void test_bind_failure(void **state)
{
	struct sockaddr_in sa;
	struct itest_err err = ITEST_ERR_INIT;
	int port = free_port(), fd = socket(AF_INET, SOCK_STREAM, 0);
	char want[128];
	(void)state;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 1), 0);
	struct ivalue *doc = parse("routes: []\n");
	assert_null(stubsrv_start(doc, NULL, "127.0.0.1", port, &err));
	snprintf(want, sizeof(want),
		 "cannot listen on 127.0.0.1:%d: Address already in use", port);
	assert_string_equal(err.msg, want);
	err_clear(&err);
	assert_null(
		stubsrv_start(doc, NULL, "no-such-host.invalid", port, &err));
	assert_non_null(strstr(err.msg, "cannot listen on no-such-host"));
	iv_free(doc);
	close(fd);
}

/*
 * The check of `yaml` fails at line:col with a message holding `msg`.
 * The text is written to a real file: columns inside quoted scalars are
 * found in the source line.
 */
static void bad(const char *yaml, int line, int col, const char *msg)
{
	char path[] = "/tmp/itest-stubsrv-check-XXXXXX";
	struct itest_src src = {path, NULL, 0, 0};
	struct itest_err err = ITEST_ERR_INIT;
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
	close(fd);
	struct ivalue *doc = yaml_parse(yaml, strlen(yaml), &src, &err);
	assert_non_null(doc);
	int rc = stub_check_spec(doc, &err);
	unlink(path);
	if (rc == 0)
		fail_msg("accepted: %s", yaml);
	if (!strstr(err.msg, msg) || err.loc.line != line ||
	    err.loc.col != col || err.loc.src != &src)
		fail_msg("got %d:%d: %s\nwanted %d:%d: ...%s...", err.loc.line,
			 err.loc.col, err.msg, line, col, msg);
	iv_free(doc);
}

static void test_check_errors(void **state)
{
	(void)state;
	bad("rotes: []\n", 1, 1,
	    "unknown key 'rotes' in a stub file (did "
	    "you mean 'routes'?)");
	bad("{}\n", 1, 1, "lacks the required key 'routes'");
	bad("routes: {}\n", 1, 9, "'routes' in a stub file must be");
	bad("routes:\n  - when: { path: /x }\n", 2, 5,
	    "route lacks the required key 'respond'");
	bad("routes:\n  - when: { paht: /x }\n    respond: {}\n", 2, 13,
	    "unknown key 'paht' in 'when' (did you mean 'path'?)");
	bad("routes:\n  - respond: { stauts: 200 }\n", 2, 16,
	    "unknown key 'stauts' in response (did you mean 'status'?)");
	bad("routes:\n  - when: { path: orders }\n    respond: {}\n", 2, 19,
	    "a path starts with '/' or is a '~' pattern");
	bad("routes:\n  - when: { path: \"/a?b=1\" }\n    respond: {}\n", 2, 19,
	    "has a query string");
	bad("routes:\n  - when: { path: \"~^/a(\" }\n    respond: {}\n", 2, 19,
	    "invalid regex '^/a('");
	bad("routes:\n  - when: { method: [GET, \"P T\"] }\n    respond: {}\n",
	    2, 27, "invalid method 'P T'");
	bad("routes:\n  - when: { query: { a: \"~(\" } }\n    respond: {}\n", 2,
	    25, "invalid regex");
	bad("routes:\n  - when: { json: { \"$.a[\": 1 } }\n    respond: {}\n",
	    2, 21, "invalid JSONPath");
	bad("routes:\n  - when: { json: { $.a: { gt: [1] } } }\n"
	    "    respond: {}\n",
	    2, 32, "'gt' needs a number");
	bad("routes:\n  - when: { path: \"/${x}\" }\n    respond: {}\n", 2, 19,
	    "'when' cannot use templates");
	bad("routes:\n  - respond: { status: 99 }\n", 2, 24,
	    "'status' must be an HTTP status from 100 to 599");
	bad("routes:\n  - respond: { status: ok }\n", 2, 24,
	    "'status' must be a number");
	bad("routes:\n  - respond: { delay: soon }\n", 2, 23,
	    "invalid duration 'soon'");
	bad("routes:\n  - respond: { json: {}, body: x }\n", 2, 26,
	    "has 'json' already");
	bad("routes:\n  - respond: { headers: { Content-Length: 3 } }\n", 2, 27,
	    "'Content-Length' is set by the stub server");
	bad("routes:\n  - respond: { headers: { X-A: [1] } }\n", 2, 32,
	    "header 'X-A' needs a string");
	bad("routes:\n  - respond: []\n", 2, 14,
	    "'respond' needs at least one response");
	bad("routes:\n  - respond: [ { body: a }, 3 ]\n", 2, 29,
	    "response must be a map");
	bad("routes:\n  - respond: {}\n    times: 0\n", 3, 12,
	    "'times' must be a positive integer");
	bad("routes:\n  - respond: { body: \"hi ${user}\" }\n", 2, 26,
	    "unknown variable 'user' in a stub");
	bad("routes:\n  - respond: { body: \"${request.qurey.a}\" }\n", 2, 23,
	    "unknown request field 'qurey' in '${request.qurey.a}' (did you "
	    "mean 'query'?)");
	bad("routes:\n  - respond: { body: \"${request.params.1}\" }\n", 2, 23,
	    "needs a '~' pattern as the route's path");
	bad("routes:\n  - respond: { body: \"${request.path\" }\n", 2, 23,
	    "bad template");
	bad("routes:\n  - respond:\n      - body: ok\n      - json: "
	    "\"${env.HOME}\"\n",
	    4, 16, "unknown variable 'env.HOME' in a stub");

	/* and a good one with all the keys */
	struct itest_err err = ITEST_ERR_INIT;
	struct ivalue *doc = parse(
		"routes:\n"
		"  - name: all\n"
		"    when:\n"
		"      method: [GET, POST]\n"
		"      path: \"~^/o/(\\\\d+)$\"\n"
		"      query: { page: 2, q: \"~x\" }\n"
		"      headers: { Accept: { contains: json } }\n"
		"      json: { $.a: 1, \"$.b[*]\": { length: 2 } }\n"
		"      body: { contains: a }\n"
		"    respond:\n"
		"      - { status: 201, headers: { X-Id: "
		"\"${request.params.1}\" "
		"}, json: { q: \"${request.query.q}\" }, delay: 10ms }\n"
		"      - { status: \"${request.json.code}\", file: x.json }\n"
		"    times: 3\n");
	assert_int_equal(stub_check_spec(doc, &err), 0);
	iv_free(doc);
}

static int group_setup(void **state)
{
	(void)state;
	return curl_global_init(CURL_GLOBAL_ALL) == CURLE_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	curl_global_cleanup();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_method_and_path),
		cmocka_unit_test(test_query_and_headers),
		cmocka_unit_test(test_json_and_body),
		cmocka_unit_test(test_sequence_and_times),
		cmocka_unit_test(test_templates),
		cmocka_unit_test(test_file_response),
		cmocka_unit_test(test_delay),
		cmocka_unit_test(test_unmatched_404),
		cmocka_unit_test(test_body_too_large),
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_rebind_after_stop),
		cmocka_unit_test(test_bind_failure),
		cmocka_unit_test(test_check_errors),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
