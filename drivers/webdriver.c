/*
 * A small W3C WebDriver client (webdriver.h): JSON over HTTP through one
 * libcurl easy handle per client, kept alive between calls, driven by a
 * multi handle of its own so that a call ends as soon as the run is
 * interrupted, and bounded by the caller's deadline.
 */
#include <poll.h>
#include <pthread.h>

#include <curl/curl.h>

#include "webdriver.h"

/* A call that has no deadline still ends after this long (ms). */
#define WD_CALL_MAX_MS 120000
/* How long one wait for socket activity may last (ms). */
#define WD_POLL_MS 1000
/* An answer larger than this is not WebDriver's (screenshots and page
 * sources stay far below). */
#define WD_BODY_CAP (64u << 20)

struct wd_client {
	CURL *easy;
	CURLM *multi;
	struct curl_slist *json_hdrs;
	char *base;
	char *session;
	double deadline;
	int cancel_fd;
	struct strbuf body;
	struct strbuf url;
	struct strbuf req;
	char *code; /* the last error's code */
	struct strbuf msg;
	char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t wd_once = PTHREAD_ONCE_INIT;
static CURLcode wd_init_rc;

static void wd_global_init(void)
{
	wd_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct wd_client *wd_new(const char *base)
{
	struct wd_client *c = xcalloc(1, sizeof(*c));
	size_t n = strlen(base);
	while (n && base[n - 1] == '/')
		n--;
	c->base = xstrndup(base, n);
	c->cancel_fd = -1;
	strbuf_init(&c->body, 0);
	strbuf_init(&c->url, 0);
	strbuf_init(&c->req, 0);
	strbuf_init(&c->msg, 0);
	c->body.cap = WD_BODY_CAP;
	return c;
}

void wd_free(struct wd_client *c)
{
	if (!c)
		return;
	if (c->easy)
		curl_easy_cleanup(c->easy);
	if (c->multi)
		curl_multi_cleanup(c->multi);
	curl_slist_free_all(c->json_hdrs);
	free(c->base);
	free(c->session);
	free(c->code);
	strbuf_release(&c->body);
	strbuf_release(&c->url);
	strbuf_release(&c->req);
	strbuf_release(&c->msg);
	free(c);
}

const char *wd_base(const struct wd_client *c)
{
	return c->base;
}

const char *wd_session(const struct wd_client *c)
{
	return c->session;
}

void wd_limits(struct wd_client *c, double deadline, int cancel_fd)
{
	c->deadline = deadline;
	c->cancel_fd = cancel_fd;
}

const char *wd_error(const struct wd_client *c)
{
	return c->code ? c->code : "";
}

const char *wd_message(const struct wd_client *c)
{
	return c->msg.buf;
}

int wd_is(const struct wd_client *c, const char *code)
{
	return c->code && !strcmp(c->code, code);
}

ITEST_PRINTF(3, 4)
static int fail(struct wd_client *c, const char *code, const char *fmt, ...)
{
	va_list ap;
	free(c->code);
	c->code = xstrdup(code);
	strbuf_reset(&c->msg);
	va_start(ap, fmt);
	strbuf_vaddf(&c->msg, fmt, ap);
	va_end(ap);
	return -1;
}

static size_t on_body(char *p, size_t size, size_t n, void *data)
{
	struct strbuf *sb = data;
	strbuf_add(sb, p, size * n);
	return size * n;
}

static int handles(struct wd_client *c)
{
	pthread_once(&wd_once, wd_global_init);
	if (wd_init_rc != CURLE_OK)
		return fail(c, "transport", "cannot initialise libcurl: %s",
			    curl_easy_strerror(wd_init_rc));
	if (!c->easy) {
		c->easy = curl_easy_init();
		c->multi = curl_multi_init();
		struct curl_slist *l = curl_slist_append(
			NULL, "Content-Type: application/json; charset=utf-8");
		if (l)
			c->json_hdrs = l;
		if (l && (l = curl_slist_append(c->json_hdrs, "Expect:")))
			c->json_hdrs = l;
		if (!c->easy || !c->multi || !l)
			return fail(c, "transport",
				    "cannot initialise libcurl");
		CURL *e = c->easy;
		curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
		curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
		curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(e, CURLOPT_WRITEDATA, &c->body);
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->json_hdrs);
		curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	}
	return 0;
}

static int cancelled(int fd)
{
	if (fd < 0)
		return 0;
	struct pollfd p = {fd, POLLIN, 0};
	return poll(&p, 1, 0) > 0;
}

/* Runs the transfer; ends early when the cancel fd turns readable. */
static CURLcode perform(struct wd_client *c, int *was_cancelled)
{
	CURLcode rc = CURLE_OK;
	int running = 1;
	*was_cancelled = 0;
	if (curl_multi_add_handle(c->multi, c->easy) != CURLM_OK)
		return CURLE_FAILED_INIT;
	while (running) {
		if (curl_multi_perform(c->multi, &running) != CURLM_OK) {
			rc = CURLE_FAILED_INIT;
			break;
		}
		if (!running)
			break;
		struct curl_waitfd w = {c->cancel_fd, CURL_WAIT_POLLIN, 0};
		unsigned nw = c->cancel_fd >= 0 ? 1 : 0;
		if (curl_multi_poll(c->multi, nw ? &w : NULL, nw, WD_POLL_MS,
				    NULL) != CURLM_OK) {
			rc = CURLE_FAILED_INIT;
			break;
		}
		if (w.revents) {
			*was_cancelled = 1;
			rc = CURLE_ABORTED_BY_CALLBACK;
			break;
		}
	}
	if (!running && !*was_cancelled) {
		int left;
		CURLMsg *m;
		while ((m = curl_multi_info_read(c->multi, &left)))
			if (m->msg == CURLMSG_DONE && m->easy_handle == c->easy)
				rc = m->data.result;
	}
	curl_multi_remove_handle(c->multi, c->easy);
	return rc;
}

/* A WebDriver message on one line, without chromedriver's "(Session
 * info: ...)" line. */
static void add_message(struct strbuf *sb, const char *s)
{
	while (*s) {
		size_t n = strcspn(s, "\n");
		const char *t = s;
		while (*t == ' ')
			t++;
		if (!strncmp(t, "(Session info:", 14))
			break;
		while (n && (s[n - 1] == ' ' || s[n - 1] == '\r'))
			n--;
		if (sb->len && n)
			strbuf_addch(sb, ' ');
		strbuf_add(sb, s, n);
		s += strcspn(s, "\n");
		if (*s)
			s++;
	}
}

/* An error answer: {"value": {"error": CODE, "message": TEXT}}. */
static int answer_error(struct wd_client *c, long status,
			const struct ivalue *value)
{
	const char *code = iv_strval(iv_get(value, "error"));
	const char *msg = iv_strval(iv_get(value, "message"));
	if (!code) {
		strbuf_reset(&c->req);
		strbuf_add_cut(&c->req, c->body.buf, c->body.len, 200,
			       c->body.len);
		return fail(c, "protocol",
			    "not a WebDriver answer from %s (HTTP %ld): %s",
			    c->base, status, c->req.buf);
	}
	free(c->code);
	c->code = xstrdup(code);
	strbuf_reset(&c->msg);
	if (msg) {
		/* chromedriver starts its messages with the code again */
		size_t cl = strlen(code);
		if (!strncmp(msg, code, cl) && msg[cl] == ':')
			msg += cl + 1 + (msg[cl + 1] == ' ');
		add_message(&c->msg, msg);
	}
	if (!c->msg.len)
		strbuf_addstr(&c->msg, code);
	return -1;
}

int wd_call(struct wd_client *c, const char *method, const char *path,
	    const struct ivalue *body, struct ivalue **out)
{
	int was_cancelled = 0;
	long status = 0;
	struct ivalue *doc = NULL;
	int ret = -1;
	if (out)
		*out = NULL;
	if (handles(c) < 0)
		return -1;
	if (cancelled(c->cancel_fd))
		return fail(c, "interrupted", "interrupted");
	double left = WD_CALL_MAX_MS;
	if (c->deadline > 0) {
		left = c->deadline - now_ms();
		if (left < 1)
			return fail(c, "timeout", "timed out");
	}
	strbuf_reset(&c->url);
	strbuf_addstr(&c->url, c->base);
	if (path[0] == '/' && c->session) {
		strbuf_addstr(&c->url, "/session/");
		strbuf_addstr(&c->url, c->session);
	} else if (path[0] != '/') {
		strbuf_addch(&c->url, '/');
	}
	if (strcmp(path, "/"))
		strbuf_addstr(&c->url, path);
	strbuf_reset(&c->req);
	if (body)
		json_emit(&c->req, body, 0);
	else if (!strcmp(method, "POST"))
		strbuf_addstr(&c->req, "{}");
	strbuf_reset(&c->body);
	c->errbuf[0] = 0;
	CURL *e = c->easy;
	curl_easy_setopt(e, CURLOPT_URL, c->url.buf);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)left);
	if (!strcmp(method, "POST")) {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, (char *)NULL);
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->req.buf);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)c->req.len);
	} else {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST,
				 strcmp(method, "GET") ? method : NULL);
	}
	CURLcode rc = perform(c, &was_cancelled);
	if (was_cancelled)
		return fail(c, "interrupted", "interrupted");
	if (rc == CURLE_OPERATION_TIMEDOUT)
		return fail(c, "timeout", "timed out");
	if (rc != CURLE_OK)
		return fail(c, "transport",
			    "no answer from WebDriver at %s: %s", c->base,
			    c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	struct itest_err err = ITEST_ERR_INIT;
	doc = json_parse(c->body.buf, c->body.len, NULL, &err);
	const struct ivalue *value = iv_get(doc, "value");
	if (!doc || doc->type != IV_OBJ || !value) {
		strbuf_reset(&c->req);
		strbuf_add_cut(&c->req, c->body.buf, c->body.len, 200,
			       c->body.len);
		fail(c, "protocol",
		     "not a WebDriver answer from %s (HTTP %ld): %s", c->base,
		     status, c->body.len ? c->req.buf : "(empty)");
		goto out;
	}
	if (status != 200) {
		answer_error(c, status, value);
		goto out;
	}
	if (out) {
		/* take the value out of the document */
		struct imember *m = iv_member(doc, "value");
		*out = m->val;
		m->val = iv_null();
	}
	ret = 0;
out:
	iv_free(doc);
	/* a large answer's buffer (a screenshot) is not kept */
	if (c->body.alloc > (1u << 20)) {
		strbuf_release(&c->body);
		c->body.cap = WD_BODY_CAP;
	}
	return ret;
}

int wd_status(struct wd_client *c, int *ready)
{
	struct ivalue *v = NULL;
	if (wd_call(c, "GET", "status", NULL, &v) < 0)
		return -1;
	const struct ivalue *r = iv_get(v, "ready");
	*ready = r && r->type == IV_BOOL && r->u.b;
	iv_free(v);
	return 0;
}

int wd_session_new(struct wd_client *c, const struct ivalue *caps,
		   struct ivalue **out)
{
	struct ivalue *body = iv_obj(), *v = NULL;
	struct ivalue *cap = iv_obj();
	iv_set(cap, "alwaysMatch", iv_clone(caps));
	iv_set(body, "capabilities", cap);
	free(c->session);
	c->session = NULL;
	int rc = wd_call(c, "POST", "session", body, &v);
	iv_free(body);
	if (rc < 0)
		return -1;
	const char *id = iv_strval(iv_get(v, "sessionId"));
	if (!id || !*id) {
		iv_free(v);
		return fail(c, "protocol",
			    "WebDriver at %s answered a new session without "
			    "its id",
			    c->base);
	}
	c->session = xstrdup(id);
	if (out) {
		struct imember *m = iv_member(v, "capabilities");
		*out = m ? m->val : iv_obj();
		if (m)
			m->val = iv_null();
	}
	iv_free(v);
	return 0;
}

int wd_session_delete(struct wd_client *c)
{
	if (!c->session)
		return 0;
	int rc = wd_call(c, "DELETE", "/", NULL, NULL);
	wd_session_forget(c);
	return rc;
}

void wd_session_forget(struct wd_client *c)
{
	free(c->session);
	c->session = NULL;
}

static int post_str(struct wd_client *c, const char *path, const char *key,
		    const char *val, struct ivalue **out)
{
	struct ivalue *body = iv_obj();
	if (key)
		iv_set(body, key, iv_str(val));
	int rc = wd_call(c, "POST", path, body, out);
	iv_free(body);
	return rc;
}

int wd_navigate(struct wd_client *c, const char *url)
{
	return post_str(c, "/url", "url", url, NULL);
}

static void element_path(struct strbuf *sb, const char *id, const char *what)
{
	strbuf_reset(sb);
	strbuf_addstr(sb, "/element/");
	strbuf_addstr(sb, id);
	if (what) {
		strbuf_addch(sb, '/');
		strbuf_addstr(sb, what);
	}
}

const char *wd_element_id(const struct ivalue *v)
{
	return iv_strval(iv_get(v, WD_ELEMENT_KEY));
}

static int find_call(struct wd_client *c, const char *using, const char *value,
		     const char *from, int all, struct ivalue **out)
{
	struct strbuf path = STRBUF_INIT;
	struct ivalue *body = iv_obj();
	iv_set(body, "using", iv_str(using));
	iv_set(body, "value", iv_str(value));
	if (from)
		element_path(&path, from, all ? "elements" : "element");
	else
		strbuf_addstr(&path, all ? "/elements" : "/element");
	int rc = wd_call(c, "POST", path.buf, body, out);
	iv_free(body);
	strbuf_release(&path);
	return rc;
}

int wd_find(struct wd_client *c, const char *using, const char *value,
	    const char *from, char **id)
{
	struct ivalue *v = NULL;
	*id = NULL;
	if (find_call(c, using, value, from, 0, &v) < 0)
		return -1;
	const char *s = wd_element_id(v);
	if (!s) {
		iv_free(v);
		return fail(c, "protocol",
			    "WebDriver answered a look-up without an element");
	}
	*id = xstrdup(s);
	iv_free(v);
	return 0;
}

int wd_find_all(struct wd_client *c, const char *using, const char *value,
		const char *from, char ***ids, size_t *n)
{
	struct ivalue *v = NULL;
	*ids = NULL;
	*n = 0;
	if (find_call(c, using, value, from, 1, &v) < 0)
		return -1;
	size_t k = v->type == IV_ARR ? v->u.arr.n : 0;
	*ids = xcalloc(k + 1, sizeof(**ids));
	for (size_t i = 0; i < k; i++) {
		const char *s = wd_element_id(v->u.arr.v[i]);
		if (s)
			(*ids)[(*n)++] = xstrdup(s);
	}
	iv_free(v);
	return 0;
}

void wd_ids_free(char **ids, size_t n)
{
	for (size_t i = 0; ids && i < n; i++)
		free(ids[i]);
	free(ids);
}

static int element_post(struct wd_client *c, const char *id, const char *what,
			const char *key, const char *val)
{
	struct strbuf path = STRBUF_INIT;
	element_path(&path, id, what);
	int rc = post_str(c, path.buf, key, val, NULL);
	strbuf_release(&path);
	return rc;
}

int wd_click(struct wd_client *c, const char *id)
{
	return element_post(c, id, "click", NULL, NULL);
}

int wd_clear(struct wd_client *c, const char *id)
{
	return element_post(c, id, "clear", NULL, NULL);
}

int wd_send_keys(struct wd_client *c, const char *id, const char *text)
{
	return element_post(c, id, "value", "text", text);
}

int wd_element_get(struct wd_client *c, const char *id, const char *what,
		   struct ivalue **out)
{
	struct strbuf path = STRBUF_INIT;
	element_path(&path, id, what);
	int rc = wd_call(c, "GET", path.buf, NULL, out);
	strbuf_release(&path);
	return rc;
}

int wd_execute(struct wd_client *c, const char *script,
	       const struct ivalue *args, struct ivalue **out)
{
	struct ivalue *body = iv_obj();
	iv_set(body, "script", iv_str(script));
	iv_set(body, "args", args ? iv_clone(args) : iv_arr());
	int rc = wd_call(c, "POST", "/execute/sync", body, out);
	iv_free(body);
	return rc;
}

int wd_get_text(struct wd_client *c, const char *what, char **out)
{
	struct ivalue *v = NULL;
	struct strbuf path = STRBUF_INIT;
	*out = NULL;
	strbuf_addch(&path, '/');
	strbuf_addstr(&path, what);
	int rc = wd_call(c, "GET", path.buf, NULL, &v);
	strbuf_release(&path);
	if (rc < 0)
		return -1;
	if (v->type == IV_STR) {
		*out = xstrndup(v->u.str.s, v->u.str.len);
		iv_free(v);
		return 0;
	}
	iv_free(v);
	return fail(c, "protocol", "WebDriver answered '%s' without a text",
		    what);
}

int wd_base64_decode(struct strbuf *out, const char *s, size_t len)
{
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		int v;
		if (ch >= 'A' && ch <= 'Z')
			v = ch - 'A';
		else if (ch >= 'a' && ch <= 'z')
			v = ch - 'a' + 26;
		else if (ch >= '0' && ch <= '9')
			v = ch - '0' + 52;
		else if (ch == '+')
			v = 62;
		else if (ch == '/')
			v = 63;
		else if (ch == '=')
			break;
		else if (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t')
			continue;
		else
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			strbuf_addch(out, (int)((acc >> bits) & 0xff));
		}
	}
	return 0;
}

int wd_screenshot(struct wd_client *c, struct strbuf *png)
{
	struct ivalue *v = NULL;
	if (wd_call(c, "GET", "/screenshot", NULL, &v) < 0)
		return -1;
	int rc = 0;
	if (v->type != IV_STR ||
	    wd_base64_decode(png, v->u.str.s, v->u.str.len) < 0)
		rc = fail(c, "protocol",
			  "WebDriver answered a screenshot that is not base64");
	iv_free(v);
	return rc;
}

int wd_alert(struct wd_client *c, const char *what)
{
	char path[32];
	snprintf(path, sizeof(path), "/alert/%s", what);
	return wd_call(c, "POST", path, NULL, NULL);
}

int wd_alert_text(struct wd_client *c, char **out)
{
	return wd_get_text(c, "alert/text", out);
}
