/*
 * The `http` driver (SPEC 6.2): one HTTP request per step, through
 * libcurl.  Each worker keeps one easy handle in a multi handle of its
 * own (so connections are reused across steps and a step ends as soon as
 * the run is interrupted) and a share handle for DNS, TLS sessions and
 * the cookie jar, which is emptied at the end of every test.
 *
 * The result has the parts status, headers (names in lower case; a
 * repeated header is a list of its values in order), body (held in
 * memory up to a cap; a longer body is also written in full to the
 * test's artifacts folder), json (the body, parsed on first use),
 * duration (ms), timings (libcurl's phases, ms), cookies (the jar after
 * the request, name -> value) and url (after redirects).  Any response
 * is a PASS (expectations judge it); no response (refused, DNS, TLS,
 * timeout, too many redirects, bad URL, interrupted) is an ERROR.
 *
 * The step log gets the request and the response (the first 2 KiB of
 * each body; Authorization, Proxy-Authorization, Cookie and Set-Cookie
 * values as ***) and a curl command line that repeats the request.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "driver.h"
#include "suite.h"
#include "template.h"

/* How much of a body the step log and a failure message show. */
#define HTTP_LOG_MAX 2048
/* The body kept in memory when neither the step nor the runner says. */
#define HTTP_BODY_CAP_DEFAULT (1u << 20)
/* Redirects followed when the step says follow-redirects but no max. */
#define HTTP_MAX_REDIRECTS_DEFAULT 10
/* How long one wait for socket activity may last (ms); the wait ends
 * earlier on activity, on libcurl's own timers and on cancellation. */
#define HTTP_POLL_MS 1000
/* After n busy waits in a row that got no answer, the next
 * 2^min(n, HTTP_SPIN_BACKOFF) waits sleep at once. */
#define HTTP_SPIN_BACKOFF 10

static const struct itest_keyspec http_keys[] = {
	{"get", TY(STR), 0},
	{"post", TY(STR), 0},
	{"put", TY(STR), 0},
	{"patch", TY(STR), 0},
	{"delete", TY(STR), 0},
	{"head", TY(STR), 0},
	{"options", TY(STR), 0},
	{"method", TY(STR), 0},
	{"url", TY(STR), 0},
	{"headers", TY(OBJ), 0},
	{"query", TY(OBJ), 0},
	{"json", TY_ANY, 0},
	{"body", TY_SCALAR, 0},
	{"form", TY(OBJ), 0},
	{"multipart", TY(OBJ), 0},
	{"file", TY(STR), 0},
	{"auth", TY(OBJ), 0},
	{"follow-redirects", TY(BOOL) | TY(STR), 0},
	{"max-redirects", TY(NUM) | TY(STR), 0},
	{"insecure", TY(BOOL) | TY(STR), 0},
	{"cacert", TY(STR), 0},
	{"cert", TY(STR), 0},
	{"key", TY(STR), 0},
	{"timeout", TY(STR), 0},
	{"http2", TY(BOOL) | TY(STR), 0},
	{"compressed", TY(BOOL) | TY(STR), 0},
	{"body-cap", TY(NUM) | TY(STR), 0},
	{NULL, 0, 0},
};

/* "xpath" is not a part: it tells the expectations that the body may be
 * read as XML or HTML. */
static const char *const http_parts[] = {
	"status",  "headers", "body", "json",  "duration",
	"timings", "cookies", "url",  "xpath", NULL,
};

/* The method shorthands: the key names the method, its value the URL. */
static const char *const url_keys[] = {
	"get", "post", "put", "patch", "delete", "head", "options", NULL,
};

static const char *const body_keys[] = {
	"json", "body", "form", "multipart", "file", NULL,
};

static const struct itest_keyspec auth_keys[] = {
	{"basic", TY(ARR) | TY(STR), 0},
	{"bearer", TY_SCALAR, 0},
	{NULL, 0, 0},
};

static const struct itest_keyspec part_keys[] = {
	{"file", TY(STR), 0}, {"value", TY_SCALAR, 0},
	{"type", TY(STR), 0}, {"filename", TY(STR), 0},
	{NULL, 0, 0},
};

/* Header values the log and the curl line show as ***. */
static const char *const masked_headers[] = {
	"authorization", "proxy-authorization", "cookie", "set-cookie", NULL,
};

struct http_session {
	CURL *easy;
	CURLM *multi;
	CURLSH *share;
	char *noproxy;
	unsigned nspill;    /* bodies written to artifacts in this test */
	struct strbuf body; /* the response body; reused */
	struct strbuf hdrs; /* the response's header lines; reused */
	struct strbuf line; /* its status line */
	char errbuf[CURL_ERROR_SIZE];
	int plain; /* the easy handle holds a plain request's options */
	unsigned spin_skip;   /* waits left before the next busy wait */
	unsigned spin_misses; /* busy waits in a row that got no answer */
};

/* ---- small helpers ---- */

ITEST_NORETURN static void http_oom(void)
{
	fprintf(stderr, "itest: fatal: out of memory in libcurl\n");
	abort();
}

static void slist_add(struct curl_slist **l, const char *s)
{
	struct curl_slist *n = curl_slist_append(*l, s);
	if (!n)
		http_oom();
	*l = n;
}

static int is_scalar(const struct ivalue *v)
{
	return v->type == IV_STR || v->type == IV_NUM || v->type == IV_BOOL;
}

static int has_http_scheme(const char *url)
{
	return !strncasecmp(url, "http://", 7) ||
	       !strncasecmp(url, "https://", 8);
}

/* An HTTP token (a method or a header name): RFC 9110 tchar. */
static int is_token(const char *s, size_t len)
{
	if (!len)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && !strchr("!#$%&'*+-.^_`|~", c))
			return 0;
		if (!c)
			return 0;
	}
	return 1;
}

static int is_masked(const char *name, size_t len)
{
	for (size_t i = 0; masked_headers[i]; i++)
		if (strlen(masked_headers[i]) == len &&
		    !strncasecmp(name, masked_headers[i], len))
			return 1;
	return 0;
}

/*
 * A size: a whole number of bytes, or a number with a unit: k, KB, M,
 * MB, G, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024).
 * Returns 0 or -1.
 */
static int parse_size(const char *s, uint64_t *out)
{
	static const struct {
		const char *unit;
		uint64_t mul;
	} units[] = {
		{"", 1},	   {"b", 1},
		{"k", 1000},	   {"kb", 1000},
		{"kib", 1024},	   {"m", 1000000},
		{"mb", 1000000},   {"mib", 1u << 20},
		{"g", 1000000000}, {"gb", 1000000000},
		{"gib", 1u << 30},
	};
	char *end;
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	unsigned long long n = strtoull(s, &end, 10);
	if (errno)
		return -1;
	while (*end == ' ')
		end++;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (strcasecmp(end, units[i].unit))
			continue;
		if (n > UINT64_MAX / units[i].mul)
			return -1;
		*out = n * units[i].mul;
		return 0;
	}
	return -1;
}

/* Appends s percent-encoded: everything but RFC 3986 unreserved. */
static void add_pct(struct strbuf *sb, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (isalnum(c) || c == '-' || c == '.' || c == '_' ||
		    c == '~') {
			strbuf_addch(sb, c);
		} else {
			strbuf_addch(sb, '%');
			strbuf_addch(sb, hex[c >> 4]);
			strbuf_addch(sb, hex[c & 15]);
		}
	}
}

/* Writes `v` in decimal ("%llu") to buf (24 bytes); returns the length,
 * without a NUL. */
static size_t dec(char *buf, unsigned long long v)
{
	char rev[24];
	size_t k = 0, n = 0;
	do {
		rev[k++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (k)
		buf[n++] = rev[--k];
	return n;
}

/*
 * A number of milliseconds from libcurl's microseconds, exact to the
 * microsecond ("12.345"), made without iv_double()'s search for the
 * shortest text: a step makes six of them.
 */
static struct ivalue *ms_value(curl_off_t us)
{
	char text[48];
	if (us < 0)
		us = 0;
	if (us % 1000 == 0)
		return iv_int((int64_t)(us / 1000));
	/* "%lld.%03lld" without its trailing zeros, written by hand: a
	 * result has several of these */
	curl_off_t frac = us % 1000;
	size_t n = dec(text, (unsigned long long)(us / 1000));
	text[n++] = '.';
	text[n++] = (char)('0' + frac / 100);
	text[n++] = (char)('0' + frac / 10 % 10);
	text[n++] = (char)('0' + frac % 10);
	while (text[n - 1] == '0')
		n--;
	struct ivalue *v = iv_new(IV_NUM);
	v->u.num.text = xstrndup(text, n);
	v->u.num.d = (double)us / 1000.0; /* the double nearest the text */
	return v;
}

/* ---- load-time checks ---- */

static int check_bool(const struct ivalue *arg, const char *key,
		      struct itest_err *err)
{
	const struct ivalue *v = iv_get(arg, key);
	if (!v || v->type == IV_BOOL || tpl_value_has_vars(v))
		return 0;
	return err_set(err, &v->loc,
		       "'%s' in 'http' step must be true or false", key);
}

static int check_url(const struct ivalue *v, const char *key,
		     struct itest_err *err)
{
	if (tpl_value_has_vars(v) || has_http_scheme(v->u.str.s))
		return 0;
	return err_set(err, &v->loc,
		       "'%s' in 'http' step needs an http:// or https:// URL, "
		       "not '%s'",
		       key, v->u.str.s);
}

/* A value of `query`, `form` or `headers`: a scalar, null, or a list of
 * scalars (the key repeated). */
static int check_multi_value(const struct ivalue *v, const char *what,
			     struct itest_err *err)
{
	if (v->type == IV_NULL || is_scalar(v))
		return 0;
	if (v->type == IV_ARR) {
		for (size_t i = 0; i < v->u.arr.n; i++)
			if (!is_scalar(v->u.arr.v[i]))
				return err_set(err, &v->u.arr.v[i]->loc,
					       "a value in '%s' of 'http' step "
					       "must be a scalar, not %s",
					       what, iv_kind(v->u.arr.v[i]));
		return 0;
	}
	return err_set(err, &v->loc,
		       "a value in '%s' of 'http' step must be a scalar or a "
		       "list of scalars, not %s",
		       what, iv_kind(v));
}

static int check_map_values(const struct ivalue *arg, const char *key,
			    struct itest_err *err)
{
	const struct ivalue *m = iv_get(arg, key);
	for (size_t i = 0; m && i < m->u.obj.n; i++) {
		const struct imember *mm = &m->u.obj.m[i];
		if (!strcmp(key, "headers") &&
		    !tpl_has_vars(mm->key, mm->klen) &&
		    !is_token(mm->key, mm->klen))
			return err_set(err, &mm->kloc,
				       "bad header name '%s' in 'http' step",
				       mm->key);
		if (check_multi_value(mm->val, key, err) < 0)
			return -1;
	}
	return 0;
}

static int check_multipart(const struct ivalue *mp, struct itest_err *err)
{
	for (size_t i = 0; i < mp->u.obj.n; i++) {
		const struct ivalue *v = mp->u.obj.m[i].val;
		if (is_scalar(v))
			continue;
		if (v->type != IV_OBJ)
			return err_set(err, &v->loc,
				       "a 'multipart' part must be a scalar or "
				       "a map with 'file' or 'value', not %s",
				       iv_kind(v));
		if (keys_check(v, part_keys, "a 'multipart' part", err) < 0)
			return -1;
		int f = !!iv_get(v, "file"), val = !!iv_get(v, "value");
		if (f + val != 1)
			return err_set(err, &v->loc,
				       "a 'multipart' part needs exactly one "
				       "of 'file' and 'value'");
	}
	return 0;
}

static int check_auth(const struct ivalue *auth, struct itest_err *err)
{
	if (keys_check(auth, auth_keys, "'auth' of 'http' step", err) < 0)
		return -1;
	if (auth->u.obj.n != 1)
		return err_set(err, &auth->loc,
			       "'auth' takes one of 'basic: [user, password]' "
			       "and 'bearer: TOKEN'");
	const struct ivalue *b = iv_get(auth, "basic");
	if (b && b->type == IV_STR && !tpl_value_has_vars(b))
		return err_set(err, &b->loc,
			       "'basic' takes a list: [user, password]");
	if (b && b->type == IV_ARR &&
	    (b->u.arr.n != 2 || !is_scalar(b->u.arr.v[0]) ||
	     !is_scalar(b->u.arr.v[1])))
		return err_set(err, &b->loc,
			       "'basic' takes a list: [user, password]");
	return 0;
}

static int http_check_step(const struct ivalue *arg, struct itest_err *err)
{
	const struct imember *shorthand = NULL;
	const struct imember *body = NULL;
	for (size_t i = 0; i < arg->u.obj.n; i++) {
		const struct imember *m = &arg->u.obj.m[i];
		if (str_in_list(m->key, url_keys)) {
			if (shorthand)
				return err_set(err, &m->kloc,
					       "'http' step has two methods "
					       "'%s' and '%s'",
					       shorthand->key, m->key);
			shorthand = m;
			if (check_url(m->val, m->key, err) < 0)
				return -1;
		}
		if (str_in_list(m->key, body_keys)) {
			if (body)
				return err_set(err, &m->kloc,
					       "'http' step has two bodies "
					       "'%s' and '%s'",
					       body->key, m->key);
			body = m;
		}
	}
	const struct imember *method = iv_member(arg, "method");
	const struct imember *url = iv_member(arg, "url");
	if (shorthand && (method || url))
		return err_set(err, &(method ? method : url)->kloc,
			       "'http' step takes '%s: URL' or 'method' and "
			       "'url', not both",
			       shorthand->key);
	if (!shorthand && !(method && url))
		return err_set(err,
			       method || url ? &(method ? method : url)->kloc
					     : &arg->loc,
			       "'http' step needs a method and a URL: 'get: "
			       "URL' (or post, put, patch, delete, head, "
			       "options), or 'method' and 'url'");
	if (url && check_url(url->val, "url", err) < 0)
		return -1;
	if (method && !tpl_value_has_vars(method->val) &&
	    !is_token(method->val->u.str.s, method->val->u.str.len))
		return err_set(err, &method->val->loc, "bad HTTP method '%s'",
			       method->val->u.str.s);
	int head = (shorthand && !strcmp(shorthand->key, "head")) ||
		   (method && !strcasecmp(method->val->u.str.s, "HEAD"));
	if (head && body)
		return err_set(err, &body->kloc,
			       "a HEAD request has no body ('%s')", body->key);
	if (check_map_values(arg, "headers", err) < 0 ||
	    check_map_values(arg, "query", err) < 0 ||
	    check_map_values(arg, "form", err) < 0)
		return -1;
	const struct ivalue *v;
	if ((v = iv_get(arg, "multipart")) && check_multipart(v, err) < 0)
		return -1;
	if ((v = iv_get(arg, "auth")) && check_auth(v, err) < 0)
		return -1;
	static const char *const bools[] = {
		"follow-redirects", "insecure", "http2", "compressed", NULL,
	};
	for (size_t i = 0; bools[i]; i++)
		if (check_bool(arg, bools[i], err) < 0)
			return -1;
	v = iv_get(arg, "max-redirects");
	if (v && !tpl_value_has_vars(v) &&
	    (v->type != IV_NUM || !(v->flags & IVF_INT) || v->u.num.i < 0))
		return err_set(err, &v->loc,
			       "'max-redirects' in 'http' step must be a whole "
			       "number >= 0");
	v = iv_get(arg, "timeout");
	if (v && !tpl_value_has_vars(v) && duration_parse_ms(v->u.str.s) <= 0)
		return err_set(err, &v->loc,
			       "bad duration for 'timeout' in 'http' step "
			       "(write 250ms, 2s or 1m)");
	v = iv_get(arg, "body-cap");
	uint64_t sz;
	if (v && !tpl_value_has_vars(v) &&
	    (v->type == IV_NUM ? !(v->flags & IVF_INT) || v->u.num.i < 1
			       : parse_size(v->u.str.s, &sz) < 0 || !sz))
		return err_set(err, &v->loc,
			       "bad size for 'body-cap' in 'http' step (write "
			       "a number of bytes, or 512KiB, 4MiB, 10MB)");
	if (iv_get(arg, "key") && !iv_get(arg, "cert"))
		return err_set(err, &iv_member(arg, "key")->kloc,
			       "'key' in 'http' step needs 'cert' (the client "
			       "certificate)");
	return 0;
}

/* ---- the session ---- */

/* libcurl's global set-up, once for the process, before the first
 * session's handles: written under pthread_once, read-only afterwards. */
static pthread_once_t http_once = PTHREAD_ONCE_INIT;
static CURLcode http_init_rc;

static void http_global_init(void)
{
	http_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int http_open(void *session, const struct itest_stepctx *ctx,
		     struct itest_err *err)
{
	struct http_session *s = session;
	(void)ctx;
	s->plain = 0;
	strbuf_init(&s->body, 0);
	strbuf_init(&s->hdrs, 0);
	strbuf_init(&s->line, 0);
	pthread_once(&http_once, http_global_init);
	if (http_init_rc != CURLE_OK)
		return err_set(err, NULL, "cannot initialise libcurl: %s",
			       curl_easy_strerror(http_init_rc));
	s->easy = curl_easy_init();
	s->multi = curl_multi_init();
	s->share = curl_share_init();
	if (!s->easy || !s->multi || !s->share)
		return err_set(err, NULL, "cannot initialise libcurl");
	/* one worker uses the share: no locks needed */
	curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(s->share, CURLSHOPT_SHARE,
			  CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_COOKIE);
	if (curl_easy_setopt(s->easy, CURLOPT_SHARE, s->share) != CURLE_OK)
		return err_set(err, NULL, "cannot set up libcurl's share");
	/*
	 * Turn the cookie engine on, once: it stays on through
	 * curl_easy_reset().  A jar with no file name is never written.
	 * (CURLOPT_COOKIEFILE "" would do it too, but libcurl 7.88 leaks
	 * its list of files at every reset.)
	 */
	if (curl_easy_setopt(s->easy, CURLOPT_COOKIEJAR, (char *)NULL) !=
	    CURLE_OK)
		return err_set(err, NULL,
			       "cannot start libcurl's cookie engine");
	/* loopback never goes through a proxy; the environment's
	 * NO_PROXY adds to that */
	const char *np = getenv("NO_PROXY");
	if (!np || !*np)
		np = getenv("no_proxy");
	s->noproxy = xasprintf("localhost,127.0.0.1,::1%s%s",
			       np && *np ? "," : "", np && *np ? np : "");
	return 0;
}

static void http_close(void *session)
{
	struct http_session *s = session;
	if (s->easy)
		curl_easy_cleanup(s->easy);
	if (s->multi)
		curl_multi_cleanup(s->multi);
	if (s->share)
		curl_share_cleanup(s->share);
	free(s->noproxy);
	strbuf_release(&s->body);
	strbuf_release(&s->hdrs);
	strbuf_release(&s->line);
	memset(s, 0, sizeof(*s));
}

/* A test ended: the next one starts with an empty cookie jar. */
static void http_test_end(void *session)
{
	struct http_session *s = session;
	if (s->easy)
		curl_easy_setopt(s->easy, CURLOPT_COOKIELIST, "ALL");
	s->nspill = 0;
}

/* ---- the request ---- */

enum body_kind { BODY_NONE, BODY_DATA, BODY_MIME, BODY_FILE };

struct req {
	char *method; /* upper case */
	char *url;    /* with the query */
	int head;
	enum body_kind kind;
	struct strbuf data; /* BODY_DATA */
	curl_mime *mime;
	FILE *file;
	char *file_path;
	curl_off_t file_size;
	int user_ctype;	 /* the step gave a Content-Type */
	int user_expect; /* ... an Expect */
	struct curl_slist *hdrs;
	int follow, insecure, compressed, http2; /* http2: -1 default */
	long max_redirs;
	char *cacert, *cert, *key;
	int64_t timeout_ms;
	size_t body_cap;
	struct strbuf log; /* the request part of the step log */
	struct strbuf cmd; /* the reproducing curl command */
};

static void req_init(struct req *q)
{
	memset(q, 0, sizeof(*q));
	strbuf_init(&q->data, 0);
	strbuf_init(&q->log, 0);
	strbuf_init(&q->cmd, 0);
	q->http2 = -1;
	q->compressed = 1;
	q->max_redirs = HTTP_MAX_REDIRECTS_DEFAULT;
}

static void req_release(struct req *q)
{
	free(q->method);
	free(q->url);
	strbuf_release(&q->data);
	if (q->mime)
		curl_mime_free(q->mime);
	if (q->file)
		fclose(q->file);
	free(q->file_path);
	curl_slist_free_all(q->hdrs);
	free(q->cacert);
	free(q->cert);
	free(q->key);
	strbuf_release(&q->log);
	strbuf_release(&q->cmd);
}

/* A rendered boolean: true/false, or the text of one from a template. */
static int get_bool(const struct ivalue *arg, const char *key, int *out,
		    struct strbuf *msg)
{
	const struct ivalue *v = iv_get(arg, key);
	if (!v || !iv_bool_of(v, out))
		return 0;
	strbuf_addf(msg, "'%s' must be true or false, not ", key);
	iv_display(msg, v);
	return -1;
}

/* A path from the step, relative to the suite's folder; caller frees. */
static char *resolve_path(const struct itest_stepctx *ctx, const char *p)
{
	if (p[0] == '/' || !ctx->suite_dir)
		return xstrdup(p);
	return xasprintf("%s/%s", ctx->suite_dir, p);
}

static char *get_path(const struct ivalue *arg, const char *key,
		      const struct itest_stepctx *ctx)
{
	const struct ivalue *v = iv_get(arg, key);
	if (!v)
		return NULL;
	struct strbuf sb = STRBUF_INIT;
	iv_to_text(&sb, v);
	char *p = resolve_path(ctx, sb.buf);
	strbuf_release(&sb);
	return p;
}

/* Appends ` 'arg'` to the curl command. */
static void cmd_arg(struct req *q, const char *s, size_t len)
{
	strbuf_addch(&q->cmd, ' ');
	sh_quote(&q->cmd, s, len);
}

static void cmd_opt(struct req *q, const char *opt, const char *val)
{
	strbuf_addf(&q->cmd, " %s", opt);
	if (val)
		cmd_arg(q, val, strlen(val));
}

/* Adds a header line to the request, the log and the curl command.  A
 * NULL value removes a header libcurl would send; "" sends it empty. */
static int add_header(struct req *q, const char *name, size_t nlen,
		      const char *val, size_t vlen, struct strbuf *msg)
{
	struct strbuf line = STRBUF_INIT;
	if (!is_token(name, nlen)) {
		strbuf_addstr(msg, "bad header name '");
		strbuf_add(msg, name, nlen);
		strbuf_addch(msg, '\'');
		return -1;
	}
	if (val && (memchr(val, '\r', vlen) || memchr(val, '\n', vlen) ||
		    memchr(val, '\0', vlen))) {
		strbuf_addstr(msg, "the value of header '");
		strbuf_add(msg, name, nlen);
		strbuf_addstr(msg, "' holds a line break or a NUL");
		return -1;
	}
	strbuf_add(&line, name, nlen);
	if (!val)
		strbuf_addch(&line, ':');
	else if (!vlen)
		strbuf_addch(&line, ';');
	else
		strbuf_addstr(&line, ": ");
	if (val)
		strbuf_add(&line, val, vlen);
	slist_add(&q->hdrs, line.buf);
	int mask = is_masked(name, nlen);
	if (val) {
		strbuf_addstr(&q->log, "> ");
		strbuf_add(&q->log, name, nlen);
		strbuf_addstr(&q->log, ": ");
		if (mask)
			strbuf_addstr(&q->log, "***");
		else
			strbuf_add(&q->log, val, vlen);
		strbuf_addch(&q->log, '\n');
	}
	strbuf_addstr(&q->cmd, " -H");
	if (mask && vlen) {
		strbuf_reset(&line);
		strbuf_add(&line, name, nlen);
		strbuf_addstr(&line, ": ***");
	}
	cmd_arg(q, line.buf, line.len);
	strbuf_release(&line);
	if (nlen == 12 && !strncasecmp(name, "content-type", 12))
		q->user_ctype = 1;
	if (nlen == 6 && !strncasecmp(name, "expect", 6))
		q->user_expect = 1;
	return 0;
}

static int add_header_value(struct req *q, const char *name,
			    const struct ivalue *v, struct strbuf *msg)
{
	if (!v || v->type == IV_NULL)
		return add_header(q, name, strlen(name), NULL, 0, msg);
	struct strbuf t = STRBUF_INIT;
	iv_to_text(&t, v);
	int r = add_header(q, name, strlen(name), t.buf, t.len, msg);
	strbuf_release(&t);
	return r;
}

static int set_headers(struct req *q, const struct ivalue *h,
		       struct strbuf *msg)
{
	for (size_t i = 0; h && h->type == IV_OBJ && i < h->u.obj.n; i++) {
		const struct imember *m = &h->u.obj.m[i];
		if (m->val->type != IV_ARR) {
			if (add_header_value(q, m->key, m->val, msg) < 0)
				return -1;
			continue;
		}
		for (size_t k = 0; k < m->val->u.arr.n; k++)
			if (add_header_value(q, m->key, m->val->u.arr.v[k],
					     msg) < 0)
				return -1;
	}
	return 0;
}

/* key=value pairs, percent-encoded, joined by '&'; a list repeats the
 * key, null gives the key alone. */
static void add_pairs(struct strbuf *out, const struct ivalue *map)
{
	struct strbuf t = STRBUF_INIT;
	for (size_t i = 0; map && map->type == IV_OBJ && i < map->u.obj.n;
	     i++) {
		const struct imember *m = &map->u.obj.m[i];
		size_t n = m->val->type == IV_ARR ? m->val->u.arr.n : 1;
		for (size_t k = 0; k < n; k++) {
			const struct ivalue *v = m->val->type == IV_ARR
							 ? m->val->u.arr.v[k]
							 : m->val;
			if (out->len)
				strbuf_addch(out, '&');
			add_pct(out, m->key, m->klen);
			if (v->type == IV_NULL)
				continue;
			strbuf_reset(&t);
			iv_to_text(&t, v);
			strbuf_addch(out, '=');
			add_pct(out, t.buf, t.len);
		}
	}
	strbuf_release(&t);
}

static int set_url(struct req *q, const struct ivalue *arg, struct strbuf *msg)
{
	struct strbuf t = STRBUF_INIT;
	const struct ivalue *u = NULL;
	const char *key = "url";
	for (size_t i = 0; url_keys[i] && !u; i++) {
		if ((u = iv_get(arg, url_keys[i])))
			key = url_keys[i];
	}
	if (u) {
		for (const char *p = key; *p; p++)
			strbuf_addch(&t, toupper((unsigned char)*p));
		q->method = strbuf_detach(&t, NULL);
	} else {
		const struct ivalue *m = iv_get(arg, "method");
		u = iv_get(arg, "url");
		if (!m || !u) {
			strbuf_addstr(msg,
				      "'http' step needs a method and a URL");
			return -1;
		}
		iv_to_text(&t, m);
		for (size_t i = 0; i < t.len; i++)
			t.buf[i] = (char)toupper((unsigned char)t.buf[i]);
		if (!is_token(t.buf, t.len)) {
			strbuf_addf(msg, "bad HTTP method '%s'", t.buf);
			strbuf_release(&t);
			return -1;
		}
		q->method = strbuf_detach(&t, NULL);
	}
	q->head = !strcmp(q->method, "HEAD");
	iv_to_text(&t, u);
	if (!has_http_scheme(t.buf)) {
		strbuf_addf(msg,
			    "'%s' needs an http:// or https:// URL, not '%s'",
			    key, t.buf);
		strbuf_release(&t);
		return -1;
	}
	const struct ivalue *query = iv_get(arg, "query");
	if (query && query->type == IV_OBJ && query->u.obj.n) {
		struct strbuf qs = STRBUF_INIT;
		add_pairs(&qs, query);
		/* before a #fragment, after an existing query */
		char *hash = strchr(t.buf, '#');
		if (hash)
			strbuf_setlen(&t, (size_t)(hash - t.buf));
		strbuf_addch(&t, strchr(t.buf, '?') ? '&' : '?');
		strbuf_add(&t, qs.buf, qs.len);
		strbuf_release(&qs);
	}
	q->url = strbuf_detach(&t, NULL);
	return 0;
}

static int set_auth(struct req *q, const struct ivalue *auth,
		    struct strbuf *msg)
{
	struct strbuf t = STRBUF_INIT, v = STRBUF_INIT;
	int r = 0;
	const struct ivalue *b = iv_get(auth, "basic");
	const struct ivalue *bearer = iv_get(auth, "bearer");
	if (b) {
		if (b->type != IV_ARR || b->u.arr.n != 2) {
			strbuf_addstr(msg,
				      "'basic' takes a list: [user, password]");
			r = -1;
			goto out;
		}
		iv_to_text(&t, b->u.arr.v[0]);
		strbuf_addch(&t, ':');
		iv_to_text(&t, b->u.arr.v[1]);
		/* base64 of user:password */
		static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"
					  "ghijklmnopqrstuvwxyz0123456789+/";
		strbuf_addstr(&v, "Basic ");
		const unsigned char *s = (const unsigned char *)t.buf;
		for (size_t i = 0; i < t.len; i += 3) {
			uint32_t n = (uint32_t)s[i] << 16;
			if (i + 1 < t.len)
				n |= (uint32_t)s[i + 1] << 8;
			if (i + 2 < t.len)
				n |= s[i + 2];
			strbuf_addch(&v, b64[(n >> 18) & 63]);
			strbuf_addch(&v, b64[(n >> 12) & 63]);
			strbuf_addch(&v,
				     i + 1 < t.len ? b64[(n >> 6) & 63] : '=');
			strbuf_addch(&v, i + 2 < t.len ? b64[n & 63] : '=');
		}
	} else if (bearer) {
		strbuf_addstr(&v, "Bearer ");
		iv_to_text(&v, bearer);
	} else {
		goto out;
	}
	r = add_header(q, "Authorization", 13, v.buf, v.len, msg);
out:
	strbuf_release(&t);
	strbuf_release(&v);
	return r;
}

static int set_multipart(struct req *q, CURL *e, const struct ivalue *mp,
			 const struct itest_stepctx *ctx, struct strbuf *msg)
{
	struct strbuf t = STRBUF_INIT, f = STRBUF_INIT;
	int r = 0;
	q->mime = curl_mime_init(e);
	if (!q->mime)
		http_oom();
	for (size_t i = 0; i < mp->u.obj.n && !r; i++) {
		const struct imember *m = &mp->u.obj.m[i];
		curl_mimepart *part = curl_mime_addpart(q->mime);
		const struct ivalue *file = iv_get(m->val, "file");
		const struct ivalue *value = m->val->type == IV_OBJ
						     ? iv_get(m->val, "value")
						     : m->val;
		const char *type = iv_strval(iv_get(m->val, "type"));
		const char *fname = iv_strval(iv_get(m->val, "filename"));
		if (!part)
			http_oom();
		curl_mime_name(part, m->key);
		strbuf_reset(&f);
		strbuf_addf(&f, "%s=", m->key);
		if (file) {
			strbuf_reset(&t);
			iv_to_text(&t, file);
			char *path = resolve_path(ctx, t.buf);
			if (curl_mime_filedata(part, path) != CURLE_OK) {
				strbuf_addf(msg,
					    "cannot read '%s' for multipart "
					    "part '%s': %s",
					    path, m->key, strerror(errno));
				r = -1;
			}
			strbuf_addf(&f, "@%s", path);
			strbuf_addf(&q->log, "> (part '%s': file %s)\n", m->key,
				    path);
			free(path);
		} else if (value) {
			strbuf_reset(&t);
			iv_to_text(&t, value);
			curl_mime_data(part, t.buf, t.len);
			strbuf_add(&f, t.buf, t.len);
			strbuf_addf(&q->log, "> (part '%s': %zu bytes)\n",
				    m->key, t.len);
		} else {
			strbuf_addf(msg,
				    "multipart part '%s' needs 'file' or "
				    "'value'",
				    m->key);
			r = -1;
		}
		if (type) {
			curl_mime_type(part, type);
			strbuf_addf(&f, ";type=%s", type);
		}
		if (fname) {
			curl_mime_filename(part, fname);
			strbuf_addf(&f, ";filename=%s", fname);
		}
		strbuf_addstr(&q->cmd, " -F");
		cmd_arg(q, f.buf, f.len);
	}
	strbuf_release(&t);
	strbuf_release(&f);
	return r;
}

/* A POST, PUT or PATCH without a body says Content-Length: 0. */
static int sends_empty_body(const struct req *q)
{
	return q->kind == BODY_NONE &&
	       (!strcmp(q->method, "POST") || !strcmp(q->method, "PUT") ||
		!strcmp(q->method, "PATCH"));
}

static int set_body(struct req *q, CURL *e, const struct ivalue *arg,
		    const struct itest_stepctx *ctx, struct strbuf *msg)
{
	const struct ivalue *v;
	const char *ctype = NULL;
	if ((v = iv_get(arg, "json"))) {
		json_emit(&q->data, v, 0);
		q->kind = BODY_DATA;
		ctype = "application/json";
	} else if ((v = iv_get(arg, "body"))) {
		iv_to_text(&q->data, v);
		q->kind = BODY_DATA;
	} else if ((v = iv_get(arg, "form"))) {
		add_pairs(&q->data, v);
		q->kind = BODY_DATA;
		ctype = "application/x-www-form-urlencoded";
	} else if ((v = iv_get(arg, "multipart"))) {
		q->kind = BODY_MIME;
		if (v->type != IV_OBJ) {
			strbuf_addstr(msg, "'multipart' needs a map");
			return -1;
		}
		return set_multipart(q, e, v, ctx, msg);
	} else if ((q->file_path = get_path(arg, "file", ctx))) {
		struct stat st;
		q->kind = BODY_FILE;
		q->file = fopen(q->file_path, "rb");
		if (!q->file || fstat(fileno(q->file), &st) < 0) {
			strbuf_addf(msg, "cannot read 'file' %s: %s",
				    q->file_path, strerror(errno));
			return -1;
		}
		q->file_size = (curl_off_t)st.st_size;
		ctype = "application/octet-stream";
	}
	if (q->head && q->kind != BODY_NONE) {
		strbuf_addstr(msg, "a HEAD request has no body");
		return -1;
	}
	if (ctype && !q->user_ctype &&
	    add_header(q, "Content-Type", 12, ctype, strlen(ctype), msg) < 0)
		return -1;
	/* libcurl would call a raw or an empty body a form: it is not */
	if (!ctype && !q->user_ctype && q->kind == BODY_DATA &&
	    add_header(q, "Content-Type", 12, NULL, 0, msg) < 0)
		return -1;
	if (!q->user_ctype && sends_empty_body(q))
		slist_add(&q->hdrs, "Content-Type:");
	return 0;
}

/* The body lines of the log: the first HTTP_LOG_MAX bytes, cut at a
 * character boundary, each line after `prefix`. */
static void log_body(struct strbuf *log, const char *prefix, const char *b,
		     size_t len, uint64_t total)
{
	size_t n = len;
	if (!total)
		return;
	if (memchr(b, '\0', len < HTTP_LOG_MAX ? len : HTTP_LOG_MAX)) {
		strbuf_addf(log, "%s(%llu bytes of binary data)\n", prefix,
			    (unsigned long long)total);
		return;
	}
	if (n > HTTP_LOG_MAX) {
		n = HTTP_LOG_MAX;
		while (n && ((unsigned char)b[n] & 0xC0) == 0x80)
			n--;
	}
	strbuf_addstr(log, prefix[0] == '>' ? ">\n" : "<\n");
	const char *p = b, *end = b + n;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *stop = nl ? nl : end;
		strbuf_addstr(log, prefix);
		strbuf_add(log, p, (size_t)(stop - p));
		if (stop > p && stop[-1] == '\r')
			strbuf_setlen(log, log->len - 1);
		strbuf_addch(log, '\n');
		p = nl ? nl + 1 : end;
	}
	if (n < total)
		strbuf_addf(log, "%s... (%llu more bytes)\n", prefix,
			    (unsigned long long)(total - n));
}

/* Reads the rendered step into a request; -1 with msg on a bad value
 * that only a template could bring. */
static int req_build(struct req *q, CURL *e, const struct ivalue *arg,
		     const struct itest_stepctx *ctx, struct strbuf *msg)
{
	const struct ivalue *v;
	if (set_url(q, arg, msg) < 0)
		return -1;
	strbuf_addstr(&q->log, "> ");
	strbuf_addstr(&q->log, q->method);
	strbuf_addch(&q->log, ' ');
	strbuf_addstr(&q->log, q->url);
	strbuf_addch(&q->log, '\n');
	strbuf_addstr(&q->cmd, "$ curl");
	if (get_bool(arg, "follow-redirects", &q->follow, msg) < 0 ||
	    get_bool(arg, "insecure", &q->insecure, msg) < 0 ||
	    get_bool(arg, "compressed", &q->compressed, msg) < 0 ||
	    get_bool(arg, "http2", &q->http2, msg) < 0)
		return -1;
	if ((v = iv_get(arg, "max-redirects"))) {
		struct ivalue *n = NULL;
		if (v->type == IV_STR)
			n = iv_num_text(v->u.str.s, v->u.str.len);
		const struct ivalue *num = n ? n : v;
		int ok = num->type == IV_NUM && (num->flags & IVF_INT) &&
			 num->u.num.i >= 0 && num->u.num.i <= 1000000;
		if (ok)
			q->max_redirs = (long)num->u.num.i;
		iv_free(n);
		if (!ok) {
			strbuf_addstr(msg, "'max-redirects' must be a whole "
					   "number >= 0");
			return -1;
		}
	}
	q->timeout_ms = ctx->timeout_ms > 0 ? ctx->timeout_ms : 0;
	if ((v = iv_get(arg, "timeout"))) {
		int64_t ms =
			duration_parse_ms(iv_strval(v) ? iv_strval(v) : "");
		if (ms <= 0) {
			strbuf_addstr(msg, "bad duration for 'timeout' (write "
					   "250ms, 2s or 1m)");
			return -1;
		}
		if (!q->timeout_ms || ms < q->timeout_ms)
			q->timeout_ms = ms;
	}
	q->body_cap = ctx->out_cap ? ctx->out_cap : HTTP_BODY_CAP_DEFAULT;
	if ((v = iv_get(arg, "body-cap"))) {
		uint64_t sz = 0;
		struct strbuf t = STRBUF_INIT;
		iv_to_text(&t, v);
		int bad = parse_size(t.buf, &sz) < 0 || !sz || sz > SIZE_MAX;
		strbuf_release(&t);
		if (bad) {
			strbuf_addstr(msg, "bad size for 'body-cap' (write a "
					   "number of bytes, or 512KiB, 4MiB)");
			return -1;
		}
		q->body_cap = (size_t)sz;
	}
	q->cacert = get_path(arg, "cacert", ctx);
	q->cert = get_path(arg, "cert", ctx);
	q->key = get_path(arg, "key", ctx);

	if (set_headers(q, iv_get(arg, "headers"), msg) < 0)
		return -1;
	if ((v = iv_get(arg, "auth")) && set_auth(q, v, msg) < 0)
		return -1;
	if (set_body(q, e, arg, ctx, msg) < 0)
		return -1;

	/* the curl command: method and options, then the body, the URL */
	int has_body = q->kind != BODY_NONE;
	if (q->head)
		strbuf_addstr(&q->cmd, " -I");
	else if ((has_body && strcmp(q->method, "POST")) ||
		 (!has_body && strcmp(q->method, "GET")))
		cmd_opt(q, "-X", q->method);
	if (q->follow)
		strbuf_addf(&q->cmd, " -L --max-redirs %ld", q->max_redirs);
	if (q->insecure)
		strbuf_addstr(&q->cmd, " -k");
	if (q->cacert)
		cmd_opt(q, "--cacert", q->cacert);
	if (q->cert)
		cmd_opt(q, "--cert", q->cert);
	if (q->key)
		cmd_opt(q, "--key", q->key);
	if (q->compressed)
		strbuf_addstr(&q->cmd, " --compressed");
	if (q->http2 == 0)
		strbuf_addstr(&q->cmd, " --http1.1");
	else if (q->http2 == 1 && !strncasecmp(q->url, "http:", 5))
		strbuf_addstr(&q->cmd, " --http2-prior-knowledge");
	if (q->timeout_ms)
		strbuf_addf(&q->cmd, " -m %g", (double)q->timeout_ms / 1000);
	if (q->kind == BODY_DATA) {
		size_t n = q->data.len;
		strbuf_addstr(&q->cmd, " --data-binary");
		if (n > HTTP_LOG_MAX || memchr(q->data.buf, '\0', n)) {
			strbuf_addstr(&q->cmd, " @BODY");
		} else {
			cmd_arg(q, q->data.buf, n);
		}
		log_body(&q->log, "> ", q->data.buf, q->data.len, q->data.len);
	} else if (q->kind == BODY_FILE) {
		strbuf_addstr(&q->cmd, " --data-binary @");
		sh_quote(&q->cmd, q->file_path, strlen(q->file_path));
		strbuf_addf(&q->log, ">\n> (body: %lld bytes from %s)\n",
			    (long long)q->file_size, q->file_path);
	}
	cmd_arg(q, q->url, strlen(q->url));

	/* no 100-continue round trip, unless the step asks for one */
	if (!q->user_expect)
		slist_add(&q->hdrs, "Expect:");
	return 0;
}

/* ---- the transfer ---- */

struct xfer {
	struct http_session *s;
	const struct itest_stepctx *ctx;
	size_t cap;
	uint64_t total; /* body bytes received */
	FILE *spill;	/* the whole body, once it outgrew the cap */
	char *spill_path;
	int spill_errno;
	int spilled; /* the file holds the whole body */
};

static const char *ext_for(const char *ctype)
{
	if (!ctype)
		return ".bin";
	if (strstr(ctype, "json"))
		return ".json";
	if (strstr(ctype, "html"))
		return ".html";
	if (strstr(ctype, "xml"))
		return ".xml";
	if (!strncasecmp(ctype, "text/", 5))
		return ".txt";
	return ".bin";
}

/* The body outgrew the cap: from now on it also goes to a file. */
static int spill_open(struct xfer *x)
{
	const char *dir = x->ctx->artifact_dir;
	char *ctype = NULL;
	curl_easy_getinfo(x->s->easy, CURLINFO_CONTENT_TYPE, &ctype);
	x->spill_path = xasprintf("%s/http-body-%u%s", dir, ++x->s->nspill,
				  ext_for(ctype));
	if (mkdir_p(dir, 0700) < 0 ||
	    !(x->spill = fopen(x->spill_path, "wb")) ||
	    fwrite(x->s->body.buf, 1, x->s->body.len, x->spill) !=
		    x->s->body.len) {
		x->spill_errno = errno;
		return -1;
	}
	return 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *data)
{
	struct xfer *x = data;
	struct strbuf *b = &x->s->body;
	size_t len = size * n;
	x->total += len;
	if (!x->spill && b->len + len <= x->cap) {
		strbuf_add(b, p, len);
		return len;
	}
	/* with no artifacts folder, the rest is only counted */
	if (!x->spill && x->ctx->artifact_dir && spill_open(x) < 0)
		return 0;
	if (b->len < x->cap)
		strbuf_add(b, p, x->cap - b->len < len ? x->cap - b->len : len);
	if (x->spill && fwrite(p, 1, len, x->spill) != len) {
		x->spill_errno = errno;
		return 0;
	}
	return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *data)
{
	struct xfer *x = data;
	struct http_session *s = x->s;
	size_t len = size * n, l = len;
	while (l && (p[l - 1] == '\r' || p[l - 1] == '\n' || p[l - 1] == ' '))
		l--;
	if (l >= 5 && !memcmp(p, "HTTP/", 5)) {
		/* a new response (after a redirect or a 100) */
		strbuf_reset(&s->line);
		strbuf_add(&s->line, p, l);
		strbuf_reset(&s->hdrs);
	} else if (l && (p[0] == ' ' || p[0] == '\t') && s->hdrs.len) {
		/* an obsolete folded line continues the last header */
		size_t i = 0;
		while (i < l && (p[i] == ' ' || p[i] == '\t'))
			i++;
		strbuf_setlen(&s->hdrs, s->hdrs.len - 1);
		strbuf_addch(&s->hdrs, ' ');
		strbuf_add(&s->hdrs, p + i, l - i);
		strbuf_addch(&s->hdrs, '\n');
	} else if (l && memchr(p, ':', l)) {
		strbuf_add(&s->hdrs, p, l);
		strbuf_addch(&s->hdrs, '\n');
	}
	return len;
}

/* The transfer's connection goes to 127.0.0.0/8 or ::1. */
static int on_loopback(CURL *easy)
{
	char *ip = NULL;
	if (curl_easy_getinfo(easy, CURLINFO_PRIMARY_IP, &ip) != CURLE_OK ||
	    !ip)
		return 0;
	return !strncmp(ip, "127.", 4) || !strcmp(ip, "::1");
}

/*
 * Waits for activity on the transfer's sockets or on `w` by spinning,
 * not sleeping (docs/http.md "Answers from loopback").  On loopback an
 * answer often comes sooner than a sleeping CPU wakes up: on a two-CPU
 * virtual machine a sleep costs about 50 us per request.  The spin
 * yields the CPU at every turn (a server on the same CPU runs first),
 * lasts at most the run's budget, needs one of the run's slots, and
 * backs off after budgets that ran out.  Returns 1 on activity, 0 when
 * the caller should sleep instead, -1 on a libcurl error.
 */
static int spin_wait(struct http_session *s, struct itest_spin *sp,
		     struct curl_waitfd *w, unsigned nw)
{
	if (!sp || sp->budget_us <= 0)
		return 0;
	if (s->spin_skip) {
		s->spin_skip--;
		return 0;
	}
	if (!on_loopback(s->easy))
		return 0;
	int free_slots = atomic_load(&sp->slots);
	do {
		if (free_slots <= 0)
			return 0;
	} while (!atomic_compare_exchange_weak(&sp->slots, &free_slots,
					       free_slots - 1));
	double end = now_ms() + sp->budget_us / 1000.0;
	int got = 0;
	for (;;) {
		int n = 0;
		if (curl_multi_poll(s->multi, w, nw, 0, &n) != CURLM_OK) {
			got = -1;
			break;
		}
		if (n > 0) {
			got = 1;
			break;
		}
		if (now_ms() >= end)
			break;
		sched_yield();
	}
	atomic_fetch_add(&sp->slots, 1);
	if (got) {
		s->spin_misses = 0;
	} else {
		unsigned k = s->spin_misses < HTTP_SPIN_BACKOFF
				     ? s->spin_misses
				     : HTTP_SPIN_BACKOFF;
		s->spin_skip = 1u << k;
		s->spin_misses++;
	}
	return got;
}

/* Runs the transfer in the session's multi handle, ending early when
 * the run is interrupted.  Returns libcurl's result; *cancelled set. */
static CURLcode perform(struct http_session *s, const struct itest_stepctx *ctx,
			int *cancelled)
{
	CURLcode rc = CURLE_OK;
	int running = 1, cancel_fd = ctx->cancel_fd;
	*cancelled = 0;
	if (!s->multi && !(s->multi = curl_multi_init()))
		return CURLE_OUT_OF_MEMORY;
	if (curl_multi_add_handle(s->multi, s->easy) != CURLM_OK)
		return CURLE_FAILED_INIT;
	while (running) {
		if (curl_multi_perform(s->multi, &running) != CURLM_OK) {
			rc = CURLE_FAILED_INIT;
			break;
		}
		if (!running)
			break;
		struct curl_waitfd w = {cancel_fd, CURL_WAIT_POLLIN, 0};
		unsigned nw = cancel_fd >= 0 ? 1 : 0;
		int spun = spin_wait(s, ctx->spin, nw ? &w : NULL, nw);
		if (spun < 0 ||
		    (!spun &&
		     curl_multi_poll(s->multi, nw ? &w : NULL, nw, HTTP_POLL_MS,
				     NULL) != CURLM_OK)) {
			rc = CURLE_FAILED_INIT;
			break;
		}
		if (w.revents) {
			*cancelled = 1;
			rc = CURLE_ABORTED_BY_CALLBACK;
			break;
		}
	}
	if (!running && !*cancelled) {
		int left;
		CURLMsg *m;
		while ((m = curl_multi_info_read(s->multi, &left)))
			if (m->msg == CURLMSG_DONE && m->easy_handle == s->easy)
				rc = m->data.result;
	}
	curl_multi_remove_handle(s->multi, s->easy);
	return rc;
}

/* Host and port of a URL for messages: "127.0.0.1:8080". */
static void add_host_port(struct strbuf *sb, const char *url)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL;
	if (u && !curl_url_set(u, CURLUPART_URL, url, 0) &&
	    !curl_url_get(u, CURLUPART_HOST, &host, 0) &&
	    !curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT))
		strbuf_addf(sb, "%s:%s", host, port);
	else
		strbuf_addstr(sb, url);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
}

/* Why no response came: the message of an ERROR. */
static void error_message(struct strbuf *m, CURLcode rc, const char *errbuf,
			  const struct req *q, CURL *e)
{
	const char *detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
	long oserr = 0;
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &oserr);
		strbuf_addstr(m, "cannot connect to ");
		add_host_port(m, q->url);
		strbuf_addf(m, ": %s", oserr ? strerror((int)oserr) : detail);
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		strbuf_addf(m, "cannot resolve the host of %s: %s", q->url,
			    detail);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		strbuf_addstr(m, "timed out after ");
		strbuf_add_duration(m, q->timeout_ms);
		strbuf_addf(m, " (%s %s: %s)", q->method, q->url, detail);
		break;
	case CURLE_TOO_MANY_REDIRECTS:
		strbuf_addf(m, "too many redirects (more than %ld) from %s",
			    q->max_redirs, q->url);
		break;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		strbuf_addf(m, "bad URL '%s': %s", q->url, detail);
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
		strbuf_addstr(m, "TLS: cannot verify the certificate of ");
		add_host_port(m, q->url);
		strbuf_addf(m,
			    ": %s (give its CA with 'cacert', or set "
			    "'insecure: true')",
			    detail);
		break;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CLIENTCERT:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
		strbuf_addstr(m, "TLS error with ");
		add_host_port(m, q->url);
		strbuf_addf(m, ": %s", detail);
		break;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		strbuf_addf(m, "%s %s: the connection to ", q->method, q->url);
		add_host_port(m, q->url);
		strbuf_addf(m, " failed: %s", detail);
		break;
	default:
		strbuf_addf(m, "%s %s: %s", q->method, q->url, detail);
		break;
	}
}

/* Sets every option of the request on the (reset) easy handle. */
/*
 * A plain request (a GET with no body, no redirects, the default TLS and
 * HTTP version) sets no options beyond the ones every request sets: the
 * next plain one can reuse them as they are.
 */
static int is_plain(const struct req *q)
{
	return q->kind == BODY_NONE && !q->head && !sends_empty_body(q) &&
	       !strcmp(q->method, "GET") && !q->follow && !q->insecure &&
	       !q->cacert && !q->cert && !q->key && q->http2 == -1;
}

/* The options of a plain request that change from one to the next. */
static void setup_plain(CURL *e, struct req *q, struct xfer *x)
{
	curl_easy_setopt(e, CURLOPT_URL, q->url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, q->hdrs);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING,
			 q->compressed ? "" : (char *)NULL);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)q->timeout_ms);
	curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
}

static void setup_easy(struct http_session *s, struct req *q, struct xfer *x)
{
	CURL *e = s->easy;
	int plain = is_plain(q);
	s->errbuf[0] = '\0';
	if (plain && s->plain) {
		setup_plain(e, q, x);
		return;
	}
	s->plain = plain;
	curl_easy_reset(e);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(e, CURLOPT_QUICK_EXIT, 1L);
	curl_easy_setopt(e, CURLOPT_NOPROXY, s->noproxy);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_USERAGENT, "itest/" ITEST_VERSION);
	curl_easy_setopt(e, CURLOPT_URL, q->url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, q->hdrs);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	if (q->compressed)
		curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	if (q->follow) {
		curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(e, CURLOPT_MAXREDIRS, q->max_redirs);
	}
	if (q->timeout_ms)
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)q->timeout_ms);
	if (q->http2 == 0)
		curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
				 (long)CURL_HTTP_VERSION_1_1);
	else if (q->http2 == 1)
		curl_easy_setopt(
			e, CURLOPT_HTTP_VERSION,
			!strncasecmp(q->url, "http:", 5)
				? (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE
				: (long)CURL_HTTP_VERSION_2TLS);
	if (q->insecure) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (q->cacert)
		curl_easy_setopt(e, CURLOPT_CAINFO, q->cacert);
	if (q->cert)
		curl_easy_setopt(e, CURLOPT_SSLCERT, q->cert);
	if (q->key)
		curl_easy_setopt(e, CURLOPT_SSLKEY, q->key);

	/* the method and the body */
	int has_body = q->kind != BODY_NONE;
	if (q->head) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (q->kind == BODY_DATA) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)q->data.len);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, q->data.buf);
	} else if (q->kind == BODY_MIME) {
		curl_easy_setopt(e, CURLOPT_MIMEPOST, q->mime);
	} else if (q->kind == BODY_FILE) {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_READDATA, q->file);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, q->file_size);
	} else if (sends_empty_body(q)) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, 0L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
		has_body = 1;
	}
	if (!q->head && ((has_body && strcmp(q->method, "POST")) ||
			 (!has_body && strcmp(q->method, "GET"))))
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, q->method);
	else if (!has_body && !q->head)
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
}

/* ---- the result ---- */

static struct ivalue *headers_value(const struct strbuf *h)
{
	struct ivalue *obj = iv_obj();
	struct strbuf name = STRBUF_INIT;
	for (const char *p = h->buf; *p;) {
		const char *nl = strchr(p, '\n');
		const char *colon = memchr(p, ':', (size_t)(nl - p));
		const char *v = colon + 1, *end = nl;
		strbuf_reset(&name);
		for (const char *c = p; c < colon; c++)
			strbuf_addch(&name, tolower((unsigned char)*c));
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		struct ivalue *val = iv_strn(v, (size_t)(end - v));
		struct ivalue *old = iv_get(obj, name.buf);
		if (!old) {
			iv_set(obj, name.buf, val);
		} else if (old->type == IV_ARR) {
			iv_push(old, val);
		} else {
			struct ivalue *list = iv_arr();
			iv_push(list, iv_clone(old));
			iv_push(list, val);
			iv_set(obj, name.buf, list);
		}
		p = nl + 1;
	}
	strbuf_release(&name);
	return obj;
}

/* The jar after the request: name -> value (the last one listed wins
 * when two domains or paths hold the same name). */
static struct ivalue *cookies_value(CURL *e)
{
	struct curl_slist *list = NULL, *l;
	struct ivalue *obj = iv_obj();
	curl_easy_getinfo(e, CURLINFO_COOKIELIST, &list);
	for (l = list; l; l = l->next) {
		/* domain, tailmatch, path, secure, expires, name, value */
		const char *f = l->data;
		for (int i = 0; i < 5 && f; i++) {
			f = strchr(f, '\t');
			if (f)
				f++;
		}
		if (!f)
			continue;
		const char *tab = strchr(f, '\t');
		if (!tab)
			continue;
		iv_setn(obj, f, (size_t)(tab - f), iv_str(tab + 1));
	}
	curl_slist_free_all(list);
	return obj;
}

/* Sets the timings part; returns the total in microseconds. */
static struct ivalue *timings_value(CURL *e)
{
	curl_off_t dns = 0, conn = 0, tls = 0, first = 0, total = 0;
	curl_easy_getinfo(e, CURLINFO_NAMELOOKUP_TIME_T, &dns);
	curl_easy_getinfo(e, CURLINFO_CONNECT_TIME_T, &conn);
	curl_easy_getinfo(e, CURLINFO_APPCONNECT_TIME_T, &tls);
	curl_easy_getinfo(e, CURLINFO_STARTTRANSFER_TIME_T, &first);
	curl_easy_getinfo(e, CURLINFO_TOTAL_TIME_T, &total);
	/* libcurl gives times since the start; the parts are phases */
	curl_off_t c = conn > dns ? conn - dns : 0;
	curl_off_t t = tls > conn ? tls - conn : 0;
	curl_off_t ready = tls > conn ? tls : conn;
	curl_off_t f = first > ready ? first - ready : 0;
	struct ivalue *obj = iv_obj();
	iv_set(obj, "dns", ms_value(dns));
	iv_set(obj, "connect", ms_value(c));
	iv_set(obj, "tls", ms_value(t));
	iv_set(obj, "first_byte", ms_value(f));
	iv_set(obj, "total", ms_value(total));
	return obj;
}

static void log_response(struct strbuf *log, struct http_session *s,
			 const struct xfer *x, curl_off_t us, const char *url,
			 const struct req *q)
{
	/* 12.3 ms; below 1 ms, 0.123 ms */
	char num[32];
	size_t n;
	if (us < 0)
		us = 0;
	if (us >= 1000) {
		n = dec(num, (unsigned long long)(us / 1000));
		num[n++] = '.';
		num[n++] = (char)('0' + us % 1000 / 100);
	} else {
		n = 0;
		num[n++] = '0';
		num[n++] = '.';
		num[n++] = (char)('0' + us / 100);
		num[n++] = (char)('0' + us / 10 % 10);
		num[n++] = (char)('0' + us % 10);
	}
	strbuf_addstr(log, "< ");
	strbuf_addstr(log, s->line.buf);
	strbuf_addstr(log, " in ");
	strbuf_add(log, num, n);
	strbuf_addstr(log, " ms\n");
	if (strcmp(url, q->url))
		strbuf_addf(log, "< (after redirects: %s)\n", url);
	for (const char *p = s->hdrs.buf; *p;) {
		const char *nl = strchr(p, '\n');
		const char *colon = memchr(p, ':', (size_t)(nl - p));
		strbuf_addstr(log, "< ");
		if (is_masked(p, (size_t)(colon - p))) {
			strbuf_add(log, p, (size_t)(colon - p));
			strbuf_addstr(log, ": ***\n");
		} else {
			strbuf_add(log, p, (size_t)(nl - p + 1));
		}
		p = nl + 1;
	}
	log_body(log, "< ", s->body.buf, s->body.len, x->total);
	if (x->spilled)
		strbuf_addf(log,
			    "< (the body is %llu bytes; the first %zu are in "
			    "memory, all of it is in %s)\n",
			    (unsigned long long)x->total, s->body.len,
			    x->spill_path);
	else if (x->total > s->body.len)
		strbuf_addf(log,
			    "< (the body is %llu bytes; only the first %zu "
			    "were kept)\n",
			    (unsigned long long)x->total, s->body.len);
}

/*
 * Parts that cost allocations and are seldom asked for (headers, cookies,
 * timings, url, duration) are built on first use, from what the session
 * still holds until its next request.
 */
static struct ivalue *http_lazy_part(struct itest_result *res, const char *name)
{
	struct http_session *s = res->lazy_data;
	if (!strcmp(name, "headers"))
		return headers_value(&s->hdrs);
	if (!strcmp(name, "cookies"))
		return cookies_value(s->easy);
	if (!strcmp(name, "timings"))
		return timings_value(s->easy);
	if (!strcmp(name, "duration")) {
		curl_off_t us = 0;
		curl_easy_getinfo(s->easy, CURLINFO_TOTAL_TIME_T, &us);
		return ms_value(us);
	}
	if (!strcmp(name, "url")) {
		char *url = NULL;
		curl_easy_getinfo(s->easy, CURLINFO_EFFECTIVE_URL, &url);
		return url ? iv_str(url) : NULL;
	}
	return NULL;
}

static void set_parts(struct itest_result *res, struct http_session *s)
{
	long code = 0;
	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
	iv_set(res->parts, "status", iv_int(code));
	iv_set(res->parts, "body", iv_strn(s->body.buf, s->body.len));
	res->json_from = "body";
	res->lazy = http_lazy_part;
	res->lazy_data = s;
}

/* The address the transfer connected to (or tried), for the metrics. */
static void set_target(struct itest_result *res, CURL *e)
{
	char *ip = NULL;
	long port = 0;
	if (curl_easy_getinfo(e, CURLINFO_PRIMARY_IP, &ip) != CURLE_OK || !ip ||
	    !*ip ||
	    curl_easy_getinfo(e, CURLINFO_PRIMARY_PORT, &port) != CURLE_OK)
		return;
	snprintf(res->target_host, sizeof(res->target_host), "%s", ip);
	res->target_port = (int)port;
}

/* "GET /orders/42?x=1": what was asked, for API coverage. */
static void set_request_line(struct itest_result *res, CURL *e, const char *url)
{
	char *method = NULL;
	if (curl_easy_getinfo(e, CURLINFO_EFFECTIVE_METHOD, &method) !=
		    CURLE_OK ||
	    !method || !url)
		return;
	const char *p = strstr(url, "://");
	p = p ? strchr(p + 3, '/') : NULL;
	res->target_request = xasprintf("%s %s", method, p ? p : "/");
}

static enum itest_status http_exec(void *session,
				   const struct itest_stepctx *ctx,
				   const struct ivalue *arg,
				   struct itest_result *res)
{
	struct http_session *s = session;
	enum itest_status st = IT_ERROR;
	struct req q;
	struct xfer x;
	int cancelled = 0, built;
	CURLcode rc;
	req_init(&q);
	memset(&x, 0, sizeof(x));
	x.s = s;
	x.ctx = ctx;
	strbuf_reset(&s->body);
	strbuf_reset(&s->hdrs);
	strbuf_reset(&s->line);
	if (!s->easy) {
		strbuf_addstr(&res->message, "the http driver is not open");
		goto out;
	}
	built = req_build(&q, s->easy, arg, ctx, &res->message);
	if (ctx->log)
		strbuf_add(ctx->log, q.log.buf, q.log.len);
	if (built < 0)
		goto out;
	x.cap = q.body_cap;
	setup_easy(s, &q, &x);
	rc = perform(s, ctx, &cancelled);
	set_target(res, s->easy);
	if (x.spill) {
		if (fclose(x.spill) && !x.spill_errno)
			x.spill_errno = errno;
		x.spill = NULL;
		x.spilled = !x.spill_errno;
	}
	if (cancelled) {
		strbuf_addstr(&res->message, "interrupted");
	} else if (x.spill_errno) {
		strbuf_addf(&res->message,
			    "cannot write the response body (over the cap of "
			    "%zu bytes) to %s: %s",
			    x.cap, x.spill_path ? x.spill_path : "artifacts",
			    strerror(x.spill_errno));
	} else if (rc != CURLE_OK) {
		error_message(&res->message, rc, s->errbuf, &q, s->easy);
	} else {
		char *url = NULL;
		curl_easy_getinfo(s->easy, CURLINFO_EFFECTIVE_URL, &url);
		curl_off_t us = 0;
		curl_easy_getinfo(s->easy, CURLINFO_TOTAL_TIME_T, &us);
		set_parts(res, s);
		set_request_line(res, s->easy, url);
		if (ctx->log)
			log_response(ctx->log, s, &x, us, url ? url : q.url,
				     &q);
		st = IT_PASS;
	}
	if (ctx->log) {
		strbuf_add(ctx->log, q.cmd.buf, q.cmd.len);
		strbuf_addch(ctx->log, '\n');
	}
	/* a big body's buffer is not kept for the next step */
	if (s->body.alloc > (1u << 20))
		strbuf_release(&s->body);
out:
	if (x.spill)
		fclose(x.spill);
	free(x.spill_path);
	req_release(&q);
	return st;
}

/* A stage swap: the connections the multi handle keeps may lead to a
 * stub that a real component just replaced on the same port.  Dropping
 * the handle closes them; the next transfer makes a new one. */
static void http_stage_end(void *session)
{
	struct http_session *s = session;
	if (s->multi) {
		curl_multi_cleanup(s->multi);
		s->multi = NULL;
	}
}

/* "POST ${orders.url}/orders": the method and the URL as written. */
static void http_summary(const struct ivalue *arg, struct strbuf *out)
{
	for (size_t i = 0; url_keys[i]; i++) {
		const char *url = iv_strval(iv_get(arg, url_keys[i]));
		if (!url)
			continue;
		for (const char *m = url_keys[i]; *m; m++)
			strbuf_addch(out, *m - 'a' + 'A');
		strbuf_addf(out, " %s", url);
		return;
	}
	const char *method = iv_strval(iv_get(arg, "method"));
	const char *url = iv_strval(iv_get(arg, "url"));
	strbuf_addf(out, "%s %s", method ? method : "?", url ? url : "?");
}

const struct itest_driver http_driver = {
	.name = "http",
	.arg_types = TY(OBJ),
	.keys = http_keys,
	.parts = http_parts,
	.session_size = sizeof(struct http_session),
	.check_step = http_check_step,
	.open = http_open,
	.exec = http_exec,
	.test_end = http_test_end,
	.close = http_close,
	.summary = http_summary,
	.stage_end = http_stage_end,
};
