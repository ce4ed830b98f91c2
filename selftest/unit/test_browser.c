/*
 * Unit tests of the browser driver's pieces that need no browser: the
 * WebDriver client (webdriver.h) against a one-shot canned HTTP server
 * on loopback (error answers, answers that are not WebDriver's, a port
 * nobody listens on, interruption, a deadline that passed), base64, and
 * the driver's load-time checks and summaries through its vtable.  The
 * browser itself is tested end to end in selftest/t/t0601-browser.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "driver.h"
#include "webdriver.h"

/* ---- a one-shot HTTP server ---- */

struct canned {
	int fd;
	char answer[1024];
	char request[4096];
};

/* The answer: HTTP/1.1 STATUS with `body`. */
static void canned_set(struct canned *c, const char *status, const char *body)
{
	snprintf(c->answer, sizeof(c->answer),
		 "HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
		 "Content-Length: %zu\r\n\r\n%s",
		 status, strlen(body), body);
}

static void *serve_once(void *arg)
{
	struct canned *c = arg;
	int s = accept(c->fd, NULL, NULL);
	if (s < 0)
		return NULL;
	size_t got = 0;
	/* the head, then as much body as Content-Length says */
	for (;;) {
		ssize_t n =
			read(s, c->request + got, sizeof(c->request) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		c->request[got] = 0;
		char *end = strstr(c->request, "\r\n\r\n");
		if (!end)
			continue;
		char *cl = strcasestr(c->request, "content-length:");
		size_t want = cl ? strtoul(cl + 15, NULL, 10) : 0;
		if (got >= (size_t)(end + 4 - c->request) + want)
			break;
	}
	ssize_t w = write(s, c->answer, strlen(c->answer));
	(void)w;
	close(s);
	return NULL;
}

/* Listens on a free loopback port; returns the port. */
static int listen_any(int *fd)
{
	struct sockaddr_in a = {0};
	socklen_t len = sizeof(a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	*fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(*fd >= 0);
	assert_int_equal(bind(*fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(*fd, 1), 0);
	getsockname(*fd, (struct sockaddr *)&a, &len);
	return ntohs(a.sin_port);
}

/* Makes one call to a server that answers `answer`; returns the call's
 * result, the client (caller frees) and what the server received. */
static int call_canned(const char *status, const char *answer,
		       const char *method, const char *path,
		       const struct ivalue *body, struct ivalue **out,
		       struct wd_client **cp, struct canned *c)
{
	pthread_t th;
	int port = listen_any(&c->fd);
	char base[64];
	canned_set(c, status, answer);
	c->request[0] = 0;
	snprintf(base, sizeof(base), "http://127.0.0.1:%d/", port);
	*cp = wd_new(base);
	wd_limits(*cp, now_ms() + 5000, -1);
	assert_int_equal(pthread_create(&th, NULL, serve_once, c), 0);
	int rc = wd_call(*cp, method, path, body, out);
	pthread_join(th, NULL);
	close(c->fd);
	return rc;
}

static void test_answers(void **state)
{
	struct wd_client *c;
	struct canned srv;
	struct ivalue *v = NULL;
	(void)state;

	/* a value */
	int rc = call_canned("200 OK", "{\"value\":{\"ready\":1}}", "GET",
			     "status", NULL, &v, &c, &srv);
	assert_int_equal(rc, 0);
	assert_non_null(iv_get(v, "ready"));
	assert_non_null(strstr(srv.request, "GET /status HTTP/1.1"));
	/* the trailing slash of the base is not doubled */
	assert_string_equal(wd_base(c), strstr(wd_base(c), "http://"));
	assert_int_equal(wd_base(c)[strlen(wd_base(c)) - 1] != '/', 1);
	iv_free(v);
	wd_free(c);

	/* an error: code, and the message without chromedriver's repeat of
	 * the code and its session info line */
	static const char err[] =
		"{\"value\":{\"error\":\"no such element\",\"message\":\"no "
		"such "
		"element: Unable to locate\\n  (Session info: x)\","
		"\"stacktrace\":\"\"}}";
	struct ivalue *body = iv_obj();
	iv_set(body, "using", iv_str("css selector"));
	rc = call_canned("404 Not Found", err, "POST", "/element", body, &v, &c,
			 &srv);
	assert_int_equal(rc, -1);
	assert_true(wd_is(c, "no such element"));
	assert_string_equal(wd_message(c), "Unable to locate");
	/* no session: the path is not under /session/ID */
	assert_non_null(strstr(srv.request, "POST /element HTTP/1.1"));
	assert_non_null(strstr(srv.request, "{\"using\":\"css selector\"}"));
	assert_non_null(strstr(srv.request, "application/json"));
	iv_free(body);
	wd_free(c);

	/* not WebDriver's */
	rc = call_canned("200 OK", "hello", "GET", "status", NULL, &v, &c,
			 &srv);
	assert_int_equal(rc, -1);
	assert_true(wd_is(c, "protocol"));
	assert_non_null(strstr(wd_message(c), "not a WebDriver answer"));
	assert_non_null(strstr(wd_message(c), "hello"));
	wd_free(c);
}

static void test_session_paths(void **state)
{
	struct wd_client *c;
	struct canned srv;
	struct ivalue *v = NULL;
	(void)state;
	static const char made[] =
		"{\"value\":{\"sessionId\":\"abc\",\"capabilities\":{\"goog:"
		"processID\":1234}}}";
	pthread_t th;
	int port = listen_any(&srv.fd);
	char base[64];
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
	c = wd_new(base);
	canned_set(&srv, "200 OK", made);
	pthread_create(&th, NULL, serve_once, &srv);
	struct ivalue *caps = iv_obj();
	assert_int_equal(wd_session_new(c, caps, &v), 0);
	pthread_join(th, NULL);
	assert_string_equal(wd_session(c), "abc");
	assert_non_null(strstr(srv.request, "POST /session HTTP/1.1"));
	assert_non_null(strstr(srv.request, "\"alwaysMatch\":{}"));
	assert_non_null(iv_get(v, "goog:processID"));
	iv_free(v);
	iv_free(caps);
	/* a session's calls, and its end: DELETE /session/abc */
	canned_set(&srv, "200 OK", "{\"value\":null}");
	pthread_create(&th, NULL, serve_once, &srv);
	assert_int_equal(wd_session_delete(c), 0);
	pthread_join(th, NULL);
	assert_non_null(strstr(srv.request, "DELETE /session/abc HTTP/1.1"));
	assert_null(wd_session(c));
	close(srv.fd);
	wd_free(c);
}

static void test_no_answer(void **state)
{
	(void)state;
	int fd;
	int port = listen_any(&fd);
	close(fd); /* nobody listens now */
	char base[64];
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
	struct wd_client *c = wd_new(base);
	wd_limits(c, now_ms() + 5000, -1);
	assert_int_equal(wd_call(c, "GET", "status", NULL, NULL), -1);
	assert_true(wd_is(c, "transport"));
	assert_non_null(strstr(wd_message(c), base));

	/* a deadline that passed */
	wd_limits(c, now_ms() - 1, -1);
	assert_int_equal(wd_call(c, "GET", "status", NULL, NULL), -1);
	assert_true(wd_is(c, "timeout"));

	/* interrupted */
	int efd = eventfd(1, EFD_CLOEXEC);
	wd_limits(c, 0, efd);
	assert_int_equal(wd_call(c, "GET", "status", NULL, NULL), -1);
	assert_true(wd_is(c, "interrupted"));
	close(efd);
	wd_free(c);

	/* a server that never answers: the deadline ends the call */
	port = listen_any(&fd);
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
	c = wd_new(base);
	double t0 = now_ms();
	wd_limits(c, t0 + 200, -1);
	assert_int_equal(wd_call(c, "GET", "status", NULL, NULL), -1);
	assert_true(wd_is(c, "timeout"));
	assert_true(now_ms() - t0 < 2000);
	close(fd);
	wd_free(c);
}

static void test_base64(void **state)
{
	(void)state;
	struct strbuf sb = STRBUF_INIT;
	assert_int_equal(wd_base64_decode(&sb, "iVBORw0KGgo=", 12), 0);
	assert_int_equal(sb.len, 8);
	assert_memory_equal(sb.buf, "\x89PNG\r\n\x1a\n", 8);
	strbuf_reset(&sb);
	assert_int_equal(wd_base64_decode(&sb, "aGk\n=", 5), 0);
	assert_string_equal(sb.buf, "hi");
	strbuf_reset(&sb);
	assert_int_equal(wd_base64_decode(&sb, "a*b", 3), -1);
	strbuf_release(&sb);
}

/* ---- the driver's load-time checks ---- */

static struct ivalue *J(const char *text)
{
	struct itest_err err = ITEST_ERR_INIT;
	struct ivalue *v = json_parse(text, strlen(text), NULL, &err);
	assert_non_null(v);
	return v;
}

static void step_ok(const char *text)
{
	const struct itest_driver *d = driver_find("browser");
	struct itest_err err = ITEST_ERR_INIT;
	struct ivalue *v = J(text);
	if (d->check_step(v, &err) < 0)
		fail_msg("%s: %s", text, err.msg);
	iv_free(v);
}

static void step_bad(const char *text, const char *msg)
{
	const struct itest_driver *d = driver_find("browser");
	struct itest_err err = ITEST_ERR_INIT;
	struct ivalue *v = J(text);
	assert_int_equal(d->check_step(v, &err), -1);
	if (!strstr(err.msg, msg))
		fail_msg("%s: got '%s', expected '%s'", text, err.msg, msg);
	iv_free(v);
}

static void conf_check(const char *text, const char *msg)
{
	const struct itest_driver *d = driver_find("browser");
	struct itest_err err = ITEST_ERR_INIT;
	struct ivalue *v = J(text);
	int rc = d->check_conf(v, &err);
	if (!msg && rc < 0)
		fail_msg("%s: %s", text, err.msg);
	if (msg && (rc == 0 || !strstr(err.msg, msg)))
		fail_msg("%s: got '%s', expected '%s'", text, err.msg, msg);
	iv_free(v);
}

static void test_checks(void **state)
{
	(void)state;
	const struct itest_driver *d = driver_find("browser");
	assert_non_null(d);
	assert_string_equal(d->suite_key, "browser");
	step_ok("{\"open\": \"http://127.0.0.1:1/\"}");
	step_ok("{\"open\": \"${web.url}/\"}");
	step_ok("{\"click\": \"a:hover\"}");
	step_ok("{\"wait\": {\"url\": {\"contains\": \"/done\"}}}");
	step_ok("{\"script\": \"return 1\", \"args\": [1]}");
	step_ok("{\"screenshot\": \"shots/a.png\"}");
	step_ok("{\"type\": {\"into\": \"#q\", \"text\": 2, \"clear\": "
		"false}}");
	step_bad("{\"open\": \"x\", \"click\": \"#a\"}", "two actions");
	step_bad("{\"open\": \"/shop\"}", "needs a URL");
	step_bad("{\"click\": \"text:\"}", "empty locator");
	step_bad("{\"wait\": {\"timeout\": \"1s\"}}", "needs one of");
	step_bad("{\"wait\": {\"visible\": \"#a\", \"timeout\": \"x\"}}",
		 "bad duration");
	step_bad("{\"screenshot\": \"a/../../b.png\"}", "'..'");
	step_bad("{\"screenshot\": \"/tmp/a.png\"}", "relative");
	step_bad("{\"alert\": \"ok\"}", "accept, dismiss or text");
	step_bad("{\"type\": {\"into\": \"#q\", \"text\": \"a\", "
		 "\"clear\": \"yes\"}}",
		 "true or false");
	conf_check("{\"wait\": \"2s\", \"window\": \"800x600\", "
		   "\"session\": \"suite\", \"start\": [\"chromedriver\", "
		   "\"--verbose\"], \"args\": [\"--lang=de\"]}",
		   NULL);
	conf_check("{\"window\": \"0x600\"}", "bad 'window'");
	conf_check("{\"window\": \"800x600x2\"}", "bad 'window'");
	conf_check("{\"start\": []}", "'start' is empty");
	conf_check("{\"waitt\": \"2s\"}", "did you mean 'wait'");
	conf_check("{\"webdriver\": \"ftp://x\"}", "http:// URL");
}

static void test_summary(void **state)
{
	(void)state;
	const struct itest_driver *d = driver_find("browser");
	static const struct {
		const char *arg, *want;
	} cases[] = {
		{"{\"click\": \"css:#r\"}", "click css:#r"},
		{"{\"type\": {\"into\": \"#q\", \"text\": 2}}",
		 "type 2 into #q"},
		{"{\"select\": {\"from\": \"#s\", \"option\": \"L\"}}",
		 "select L from #s"},
		{"{\"wait\": {\"gone\": \"#b\"}}", "wait gone #b"},
		{"{\"script\": \"return 1\\nmore\"}", "script return 1 ..."},
		{"{\"alert\": \"accept\"}", "alert accept"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct strbuf sb = STRBUF_INIT;
		struct ivalue *v = J(cases[i].arg);
		d->summary(v, &sb);
		assert_string_equal(sb.buf, cases[i].want);
		strbuf_release(&sb);
		iv_free(v);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answers),
		cmocka_unit_test(test_session_paths),
		cmocka_unit_test(test_no_answer),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_checks),
		cmocka_unit_test(test_summary),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
