/*
 * The built-in HTTP stub server (SPEC 5 and 6.6): checks stub files at
 * load time, serves their routes with libmicrohttpd (loaded on the first
 * start, lazy.h; a thread per connection, so a `delay` holds up no other
 * client), records every request for the `stub` step, answers unmatched
 * requests with 404 and the closest route, and runs `itest stub FILE
 * --port N` for a fake API at the desk.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <microhttpd.h>
#include <pcre2.h>

#include "driver.h"
#include "expect.h"
#include "jsonpath.h"
#include "lazy.h"
#include "stubsrv.h"
#include "suite.h"
#include "template.h"
#include "yaml.h"

/* Request bodies beyond this get 413. */
#define STUB_BODY_CAP ((size_t)8 << 20)
/* Connections served at once (a thread each; docs/stubs.md "Threads"). */
#define STUBSRV_MAX_CONNECTIONS 256

/* ---- the stub file format ---- */

static const struct itest_keyspec top_keys[] = {
	{"routes", TY(ARR), 1},
	{NULL, 0, 0},
};

static const struct itest_keyspec route_keys[] = {
	{"name", TY(STR), 0},
	{"when", TY(OBJ), 0},
	{"respond", TY(OBJ) | TY(ARR), 1},
	{"times", TY(NUM), 0},
	{NULL, 0, 0},
};

static const struct itest_keyspec when_keys[] = {
	{"method", TY(STR) | TY(ARR), 0},
	{"path", TY(STR), 0},
	{"query", TY(OBJ), 0},
	{"headers", TY(OBJ), 0},
	{"json", TY_ANY, 0},
	{"body", TY_SCALAR | TY(OBJ), 0},
	{NULL, 0, 0},
};

static const struct itest_keyspec respond_keys[] = {
	{"status", TY(NUM) | TY(STR), 0},
	{"headers", TY(OBJ), 0},
	{"json", TY_ANY, 0},
	{"body", TY_SCALAR, 0},
	{"file", TY(STR), 0},
	{"delay", TY(STR), 0},
	{NULL, 0, 0},
};

/* What `${request.X}` may name. */
static const char *const request_fields[] = {
	"method", "path", "query", "headers", "json", "body", "params", NULL,
};

/* The parts the `when` predicates are checked as (expect.h). */
static const char *const when_parts[] = {"headers", "json", "body", NULL};

/* ---- regular expressions ---- */

/* Compiles a `~` pattern as predicates do (UTF-8 when it is valid). */
static pcre2_code *re_compile(const char *pat, size_t len, struct strbuf *msg)
{
	int code;
	PCRE2_SIZE off;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, len,
				       PCRE2_UTF | PCRE2_MATCH_INVALID_UTF,
				       &code, &off, NULL);
	if (!re)
		re = pcre2_compile((PCRE2_SPTR)pat, len, 0, &code, &off, NULL);
	if (!re) {
		PCRE2_UCHAR text[256];
		pcre2_get_error_message(code, text, sizeof(text));
		strbuf_addf(msg, "invalid regex '%.*s': %s at offset %zu",
			    (int)len, pat, (const char *)text, (size_t)off);
	}
	return re;
}

/* ---- load-time checks ---- */

static int is_token(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') ||
		      strchr("!#$%&'*+-.^_`|~", *s)))
			return 0;
	return 1;
}

/* `when` is matched against the request as written: no templates. */
static int check_no_templates(const struct ivalue *v, struct itest_err *err)
{
	switch (v->type) {
	case IV_STR:
		if (tpl_has_vars(v->u.str.s, v->u.str.len))
			return err_set(err, &v->loc,
				       "'when' cannot use templates (write "
				       "'$${' for a literal '${')");
		return 0;
	case IV_ARR:
		for (size_t i = 0; i < v->u.arr.n; i++)
			if (check_no_templates(v->u.arr.v[i], err))
				return -1;
		return 0;
	case IV_OBJ:
		for (size_t i = 0; i < v->u.obj.n; i++) {
			const struct imember *m = &v->u.obj.m[i];
			if (tpl_has_vars(m->key, m->klen))
				return err_set(err, &m->kloc,
					       "'when' cannot use templates "
					       "(write '$${' for a literal "
					       "'${')");
			if (check_no_templates(m->val, err))
				return -1;
		}
		return 0;
	default:
		return 0;
	}
}

/* Runs expect_check_spec on { part: copy of v }, so that `when` takes the
 * predicates of expectations with the same checks and locations. */
static int check_as_part(const char *part, const struct ivalue *v,
			 const struct imember *m, struct itest_err *err)
{
	struct ivalue *w = iv_obj();
	struct imember *wm = iv_append(w, part, strlen(part), iv_clone(v));
	wm->kloc = m->kloc;
	int ret = expect_check_spec(w, when_parts, err);
	iv_free(w);
	return ret;
}

static int check_when(const struct ivalue *when, struct itest_err *err)
{
	const struct ivalue *v;
	struct strbuf msg = STRBUF_INIT;
	if (keys_check(when, when_keys, "'when'", err) ||
	    check_no_templates(when, err))
		return -1;
	v = iv_get(when, "method");
	if (v) {
		size_t n = v->type == IV_ARR ? v->u.arr.n : 1;
		if (!n)
			return err_set(err, &v->loc,
				       "'method' needs at least one method");
		for (size_t i = 0; i < n; i++) {
			const struct ivalue *e =
				v->type == IV_ARR ? v->u.arr.v[i] : v;
			if (e->type != IV_STR || !is_token(e->u.str.s))
				return err_set(err, &e->loc,
					       "invalid method %s%s%s",
					       e->type == IV_STR ? "'" : "",
					       e->type == IV_STR ? e->u.str.s
								 : iv_kind(e),
					       e->type == IV_STR ? "'" : "");
		}
	}
	v = iv_get(when, "path");
	if (v && v->u.str.s[0] == '~') {
		pcre2_code *re =
			re_compile(v->u.str.s + 1, v->u.str.len - 1, &msg);
		if (!re) {
			err_set(err, &v->loc, "%s", msg.buf);
			strbuf_release(&msg);
			return -1;
		}
		pcre2_code_free(re);
	} else if (v && v->u.str.s[0] != '/') {
		return err_set(err, &v->loc,
			       "a path starts with '/' or is a '~' pattern, "
			       "not '%s'",
			       v->u.str.s);
	} else if (v && strchr(v->u.str.s, '?')) {
		return err_set(err, &v->loc,
			       "path '%s' has a query string: match it with "
			       "'query'",
			       v->u.str.s);
	}
	for (size_t i = 0; i < when->u.obj.n; i++) {
		const struct imember *m = &when->u.obj.m[i];
		const char *part = NULL;
		if (!strcmp(m->key, "query") || !strcmp(m->key, "headers"))
			part = "headers";
		else if (!strcmp(m->key, "json") || !strcmp(m->key, "body"))
			part = m->key;
		if (part && check_as_part(part, m->val, m, err))
			return -1;
	}
	return 0;
}

struct tplcheck {
	const struct ivalue *scalar; /* NULL: a map key at `kloc` */
	const struct itest_loc *kloc;
	int has_re; /* the route's path is a `~` pattern */
	struct itest_err *err;
};

static int tpl_ref_ok(void *data, const char *root, size_t rootlen,
		      const char *name, size_t namelen, int has_default,
		      size_t offset)
{
	struct tplcheck *tc = data;
	struct itest_loc loc =
		tc->scalar ? tpl_loc_at(tc->scalar, offset) : *tc->kloc;
	(void)has_default;
	if (rootlen != 7 || memcmp(root, "request", 7))
		return err_set(tc->err, &loc,
			       "unknown variable '%.*s' in a stub: a stub "
			       "knows only ${request.*}",
			       (int)namelen, name);
	if (namelen == 7)
		return 0;
	const char *f = name + 8;
	const char *dot = memchr(f, '.', namelen - 8);
	char *field = xstrndup(f, dot ? (size_t)(dot - f) : namelen - 8);
	int ret = 0;
	const char *hint = suggest_name(field, request_fields);
	size_t i = 0;
	while (request_fields[i] && strcmp(request_fields[i], field))
		i++;
	if (!request_fields[i] && hint)
		ret = err_set(tc->err, &loc,
			      "unknown request field '%s' in '${%.*s}' (did "
			      "you mean '%s'?)",
			      field, (int)namelen, name, hint);
	else if (!request_fields[i])
		ret = err_set(tc->err, &loc,
			      "unknown request field '%s' in '${%.*s}' (use "
			      "method, path, query, headers, json, body or "
			      "params)",
			      field, (int)namelen, name);
	else if (!strcmp(field, "params") && !tc->has_re)
		ret = err_set(tc->err, &loc,
			      "'${%.*s}' needs a '~' pattern as the route's "
			      "path",
			      (int)namelen, name);
	free(field);
	return ret;
}

static int check_templates(const struct ivalue *v, int has_re,
			   struct itest_err *err)
{
	struct tplcheck tc = {v, NULL, has_re, err};
	switch (v->type) {
	case IV_STR:
		return tpl_refs(v, tpl_ref_ok, &tc, err) ? -1 : 0;
	case IV_ARR:
		for (size_t i = 0; i < v->u.arr.n; i++)
			if (check_templates(v->u.arr.v[i], has_re, err))
				return -1;
		return 0;
	case IV_OBJ:
		for (size_t i = 0; i < v->u.obj.n; i++) {
			const struct imember *m = &v->u.obj.m[i];
			tc.scalar = NULL;
			tc.kloc = &m->kloc;
			struct ivalue key = {.type = IV_STR, .loc = m->kloc};
			key.u.str.s = m->key;
			key.u.str.len = m->klen;
			if (tpl_refs(&key, tpl_ref_ok, &tc, err) ||
			    check_templates(m->val, has_re, err))
				return -1;
		}
		return 0;
	default:
		return 0;
	}
}

static int check_response(const struct ivalue *r, int has_re,
			  struct itest_err *err)
{
	const struct ivalue *v;
	const struct imember *content = NULL;
	if (keys_check(r, respond_keys, "response", err) ||
	    check_templates(r, has_re, err))
		return -1;
	for (size_t i = 0; i < r->u.obj.n; i++) {
		const struct imember *m = &r->u.obj.m[i];
		if (strcmp(m->key, "json") && strcmp(m->key, "body") &&
		    strcmp(m->key, "file"))
			continue;
		if (content)
			return err_set(err, &m->kloc,
				       "a response has one of 'json', 'body' "
				       "and 'file', and this one has '%s' "
				       "already",
				       content->key);
		content = m;
	}
	v = iv_get(r, "status");
	if (v && v->type == IV_NUM &&
	    (!(v->flags & IVF_INT) || v->u.num.i < 100 || v->u.num.i > 599))
		return err_set(err, &v->loc,
			       "'status' must be an HTTP status from 100 to "
			       "599, not %s",
			       v->u.num.text);
	if (v && v->type == IV_STR && !tpl_has_vars(v->u.str.s, v->u.str.len))
		return err_set(err, &v->loc,
			       "'status' must be a number, not '%s'",
			       v->u.str.s);
	v = iv_get(r, "delay");
	if (v && duration_parse_ms(v->u.str.s) < 0)
		return err_set(err, &v->loc,
			       "invalid duration '%s' in 'delay' (write 250ms, "
			       "2s or 1m)",
			       v->u.str.s);
	v = iv_get(r, "file");
	if (v && !v->u.str.len)
		return err_set(err, &v->loc, "'file' needs a path");
	v = iv_get(r, "headers");
	for (size_t i = 0; v && i < v->u.obj.n; i++) {
		const struct imember *m = &v->u.obj.m[i];
		if (!tpl_has_vars(m->key, m->klen) && !is_token(m->key))
			return err_set(err, &m->kloc,
				       "invalid header name '%s'", m->key);
		if (!strcasecmp(m->key, "content-length") ||
		    !strcasecmp(m->key, "transfer-encoding"))
			return err_set(err, &m->kloc,
				       "'%s' is set by the stub server",
				       m->key);
		if (!(TY_SCALAR & (1u << m->val->type)))
			return err_set(err, &m->val->loc,
				       "header '%s' needs a string, not %s",
				       m->key, iv_kind(m->val));
	}
	return 0;
}

static int check_route(const struct ivalue *route, struct itest_err *err)
{
	const struct ivalue *when, *resp, *times, *path;
	int has_re;
	if (keys_check(route, route_keys, "route", err))
		return -1;
	when = iv_get(route, "when");
	if (when && check_when(when, err))
		return -1;
	path = when ? iv_get(when, "path") : NULL;
	has_re = path && path->u.str.s[0] == '~';
	times = iv_get(route, "times");
	if (times && (!(times->flags & IVF_INT) || times->u.num.i < 1))
		return err_set(err, &times->loc,
			       "'times' must be a positive integer, not %s",
			       times->u.num.text);
	resp = iv_get(route, "respond");
	if (resp->type == IV_OBJ)
		return check_response(resp, has_re, err);
	if (!resp->u.arr.n)
		return err_set(err, &resp->loc,
			       "'respond' needs at least one response");
	for (size_t i = 0; i < resp->u.arr.n; i++)
		if (check_response(resp->u.arr.v[i], has_re, err))
			return -1;
	return 0;
}

int stub_check_spec(const struct ivalue *doc, struct itest_err *err)
{
	const struct ivalue *routes;
	if (keys_check(doc, top_keys, "a stub file", err))
		return -1;
	routes = iv_get(doc, "routes");
	for (size_t i = 0; i < routes->u.arr.n; i++)
		if (check_route(routes->u.arr.v[i], err))
			return -1;
	return 0;
}

/* ---- the server ---- */

struct route {
	size_t index; /* 1-based, as messages and records show it */
	const struct ivalue *node;
	const char *name;
	const struct ivalue *methods; /* a string or a list; NULL: any */
	const char *path;	      /* as written; NULL: any */
	pcre2_code *path_re;	      /* for a `~` path */
	const struct ivalue *query, *headers, *body, *json;
	struct jsonpath **jp; /* the keys of a JSONPath-keyed `json` */
	size_t njp;
	const struct ivalue *respond;
	int64_t times; /* 0: unlimited */
	int64_t calls; /* under the server's lock */
};

/* An open connection, known by its addresses so that a reused fd number
 * is never mistaken for it. */
struct conn {
	int fd;
	struct sockaddr_storage local, peer;
	socklen_t llen, plen;
};

struct stubsrv {
	const struct lazy_mhd *lib; /* libmicrohttpd's functions */
	struct MHD_Daemon *mhd;
	int lfd;
	int port;
	char *dir;
	struct route *routes;
	size_t nroutes;
	double t0;
	FILE *log; /* `itest stub`: a line per request */
	int keep;  /* record requests */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stopping;		/* under mu */
	struct ivalue *records; /* an array; under mu */
	struct conn *conns;	/* under mu */
	size_t nconns, aconns;
};

/* One HTTP request in the making (MHD's per-request pointer). */
struct reqctx {
	struct strbuf body;
};

/* The request as routes see it. */
struct request {
	const char *method, *path;
	struct ivalue *obj; /* {method, path, query, headers, body, json?} */
	const struct ivalue *query, *headers, *json;
	struct ivalue raw; /* the body text (a borrowed string value) */
};

static void route_release(struct route *rt)
{
	if (rt->path_re)
		pcre2_code_free(rt->path_re);
	for (size_t i = 0; i < rt->njp; i++)
		jsonpath_free(rt->jp[i]);
	free(rt->jp);
}

static int all_paths(const struct ivalue *x)
{
	if (!x || x->type != IV_OBJ || !x->u.obj.n)
		return 0;
	for (size_t i = 0; i < x->u.obj.n; i++)
		if (x->u.obj.m[i].key[0] != '$')
			return 0;
	return 1;
}

/* Is a `file:` response's file there (when its path has no template)? */
static int check_file(const struct stubsrv *s, const struct ivalue *resp,
		      struct itest_err *err)
{
	const struct ivalue *f = iv_get(resp, "file");
	struct stat st;
	if (!f || f->type != IV_STR || tpl_has_vars(f->u.str.s, f->u.str.len))
		return 0;
	char *path = f->u.str.s[0] == '/'
			     ? xstrdup(f->u.str.s)
			     : xasprintf("%s/%s", s->dir, f->u.str.s);
	int ret = 0;
	if (stat(path, &st) < 0)
		ret = err_set(err, &f->loc, "cannot read '%s': %s", path,
			      strerror(errno));
	else if (!S_ISREG(st.st_mode))
		ret = err_set(err, &f->loc, "'%s' is not a regular file", path);
	free(path);
	return ret;
}

static int route_build(struct stubsrv *s, struct route *rt,
		       const struct ivalue *node, struct itest_err *err)
{
	const struct ivalue *when = iv_get(node, "when");
	const struct ivalue *v;
	rt->node = node;
	rt->name = iv_strval(iv_get(node, "name"));
	rt->respond = iv_get(node, "respond");
	v = iv_get(node, "times");
	rt->times = v && v->type == IV_NUM ? v->u.num.i : 0;
	if (when) {
		rt->methods = iv_get(when, "method");
		rt->query = iv_get(when, "query");
		rt->headers = iv_get(when, "headers");
		rt->body = iv_get(when, "body");
		rt->json = iv_get(when, "json");
		rt->path = iv_strval(iv_get(when, "path"));
	}
	if (rt->path && rt->path[0] == '~') {
		struct strbuf msg = STRBUF_INIT;
		rt->path_re =
			re_compile(rt->path + 1, strlen(rt->path + 1), &msg);
		if (!rt->path_re) {
			err_set(err, &iv_get(when, "path")->loc, "%s", msg.buf);
			strbuf_release(&msg);
			return -1;
		}
	}
	if (all_paths(rt->json)) {
		rt->jp = xcalloc(rt->json->u.obj.n, sizeof(*rt->jp));
		for (size_t i = 0; i < rt->json->u.obj.n; i++) {
			const struct imember *m = &rt->json->u.obj.m[i];
			struct itest_err jerr = ITEST_ERR_INIT;
			rt->jp[i] = jsonpath_compile(m->key, &jerr);
			if (!rt->jp[i])
				return err_set(err, &m->kloc, "%s", jerr.msg);
			rt->njp++;
		}
	}
	if (rt->respond && rt->respond->type == IV_ARR) {
		for (size_t i = 0; i < rt->respond->u.arr.n; i++)
			if (check_file(s, rt->respond->u.arr.v[i], err))
				return -1;
	} else if (rt->respond && check_file(s, rt->respond, err)) {
		return -1;
	}
	return 0;
}

/* "127.0.0.1:8080" or "[::1]:8080". */
static void addr_text(struct strbuf *out, const char *host, int port)
{
	if (strchr(host, ':'))
		strbuf_addf(out, "[%s]:%d", host, port);
	else
		strbuf_addf(out, "%s:%d", host, port);
}

/* The listening socket, made here so that a bind failure says why. */
static int listen_on(const char *host, int port, int *family, int *bound,
		     struct itest_err *err)
{
	struct addrinfo hints, *ai = NULL;
	struct strbuf where = STRBUF_INIT;
	char service[16];
	int fd = -1, one = 1, rc;
	addr_text(&where, host, port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(service, sizeof(service), "%d", port);
	rc = getaddrinfo(host, service, &hints, &ai);
	if (rc) {
		err_set(err, NULL, "cannot listen on %s: %s", where.buf,
			gai_strerror(rc));
		goto out;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) {
		err_set(err, NULL, "cannot listen on %s: %s", where.buf,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
		goto out;
	}
	*family = ai->ai_family;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	*bound = port;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		*bound = ntohs(ss.ss_family == AF_INET6
				       ? ((struct sockaddr_in6 *)&ss)->sin6_port
				       : ((struct sockaddr_in *)&ss)->sin_port);
out:
	if (ai)
		freeaddrinfo(ai);
	strbuf_release(&where);
	return fd;
}

/* Aborts a connection with a reset, so that no TIME_WAIT holds the port. */
static void conn_reset(const struct conn *c)
{
	struct sockaddr_storage l, p;
	socklen_t ll = sizeof(l), pl = sizeof(p);
	struct linger lg = {1, 0};
	struct sockaddr sa;
	if (getsockname(c->fd, (struct sockaddr *)&l, &ll) < 0 ||
	    getpeername(c->fd, (struct sockaddr *)&p, &pl) < 0 ||
	    ll != c->llen || pl != c->plen || memcmp(&l, &c->local, ll) ||
	    memcmp(&p, &c->peer, pl))
		return; /* not our connection any more */
	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	memset(&sa, 0, sizeof(sa));
	sa.sa_family = AF_UNSPEC;
	connect(c->fd, &sa, sizeof(sa)); /* disconnects: sends a reset */
}

static void on_connection(void *cls, struct MHD_Connection *mc,
			  void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct stubsrv *s = cls;
	const union MHD_ConnectionInfo *ci = s->lib->MHD_get_connection_info(
		mc, MHD_CONNECTION_INFO_CONNECTION_FD);
	(void)socket_context;
	if (!ci)
		return;
	int fd = ci->connect_fd;
	pthread_mutex_lock(&s->mu);
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		XGROW(s->conns, s->aconns, s->nconns + 1);
		struct conn *c = &s->conns[s->nconns];
		memset(c, 0, sizeof(*c));
		c->fd = fd;
		c->llen = sizeof(c->local);
		c->plen = sizeof(c->peer);
		if (getsockname(fd, (struct sockaddr *)&c->local, &c->llen) ==
			    0 &&
		    getpeername(fd, (struct sockaddr *)&c->peer, &c->plen) ==
			    0) {
			s->nconns++;
			if (s->stopping)
				conn_reset(c);
		}
	} else {
		for (size_t i = 0; i < s->nconns; i++) {
			if (s->conns[i].fd != fd)
				continue;
			s->conns[i] = s->conns[--s->nconns];
			break;
		}
	}
	pthread_mutex_unlock(&s->mu);
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct reqctx *r = *con_cls;
	(void)cls;
	(void)mc;
	(void)toe;
	if (!r)
		return;
	strbuf_release(&r->body);
	free(r);
	*con_cls = NULL;
}

/* Adds a name/value pair; a repeated name becomes a list of values. */
static void multi_add(struct ivalue *obj, const char *key, size_t klen,
		      const char *val, size_t vlen)
{
	struct ivalue *old = iv_getn(obj, key, klen);
	struct ivalue *nv = iv_strn(val ? val : "", val ? vlen : 0);
	if (!old) {
		iv_setn(obj, key, klen, nv);
	} else if (old->type == IV_ARR) {
		iv_push(old, nv);
	} else {
		struct ivalue *arr = iv_arr();
		iv_push(arr, iv_clone(old));
		iv_push(arr, nv);
		iv_setn(obj, key, klen, arr);
	}
}

static enum MHD_Result add_query(void *cls, enum MHD_ValueKind kind,
				 const char *key, size_t klen, const char *val,
				 size_t vlen)
{
	(void)kind;
	multi_add(cls, key, klen, val, vlen);
	return MHD_YES;
}

static enum MHD_Result add_header(void *cls, enum MHD_ValueKind kind,
				  const char *key, size_t klen, const char *val,
				  size_t vlen)
{
	char *low = xstrndup(key, klen);
	(void)kind;
	for (size_t i = 0; i < klen; i++)
		if (low[i] >= 'A' && low[i] <= 'Z')
			low[i] = (char)(low[i] - 'A' + 'a');
	multi_add(cls, low, klen, val, vlen);
	free(low);
	return MHD_YES;
}

/* Is the body JSON?  When it parses and either says so in Content-Type
 * or starts like an object or an array. */
static struct ivalue *body_json(const struct strbuf *body,
				const struct ivalue *headers)
{
	const char *ct = iv_strval(iv_get(headers, "content-type"));
	size_t i = 0;
	struct itest_err err = ITEST_ERR_INIT;
	while (i < body->len && strchr(" \t\r\n", body->buf[i]))
		i++;
	if (i == body->len)
		return NULL;
	if (!(ct && strstr(ct, "json")) && body->buf[i] != '{' &&
	    body->buf[i] != '[')
		return NULL;
	return json_parse(body->buf, body->len, NULL, &err);
}

static void request_build(const struct lazy_mhd *m, struct request *rq,
			  struct MHD_Connection *mc, const char *method,
			  const char *url, const struct strbuf *body)
{
	struct ivalue *q = iv_obj(), *h = iv_obj(), *json;
	m->MHD_get_connection_values_n(mc, MHD_GET_ARGUMENT_KIND, add_query, q);
	m->MHD_get_connection_values_n(mc, MHD_HEADER_KIND, add_header, h);
	json = body_json(body, h);
	memset(rq, 0, sizeof(*rq));
	rq->obj = iv_obj();
	iv_set(rq->obj, "method", iv_str(method));
	iv_set(rq->obj, "path", iv_str(url));
	iv_set(rq->obj, "query", q);
	iv_set(rq->obj, "headers", h);
	iv_set(rq->obj, "body",
	       json ? iv_clone(json) : iv_strn(body->buf, body->len));
	if (json)
		iv_set(rq->obj, "json", json);
	rq->method = iv_strval(iv_get(rq->obj, "method"));
	rq->path = iv_strval(iv_get(rq->obj, "path"));
	rq->query = q;
	rq->headers = h;
	rq->json = json;
	rq->raw.type = IV_STR;
	rq->raw.u.str.s = body->buf;
	rq->raw.u.str.len = body->len;
}

/* ---- matching ---- */

/* How well a route fits a request, for the 404's closest route. */
struct fit {
	int method_ok, path_ok;
	size_t conds_ok;   /* query, header, json and body conditions */
	size_t prefix;	   /* common prefix of the paths, when they differ */
	struct strbuf why; /* the first condition that failed */
};

static int method_ok(const struct route *rt, const char *method)
{
	const struct ivalue *m = rt->methods;
	if (!m)
		return 1;
	if (m->type == IV_STR)
		return !strcasecmp(m->u.str.s, method);
	for (size_t i = 0; i < m->u.arr.n; i++)
		if (!strcasecmp(iv_strval(m->u.arr.v[i]), method))
			return 1;
	return 0;
}

static void methods_text(struct strbuf *out, const struct route *rt)
{
	const struct ivalue *m = rt->methods;
	if (!m) {
		strbuf_addstr(out, "*");
		return;
	}
	if (m->type == IV_STR) {
		strbuf_addstr(out, m->u.str.s);
		return;
	}
	for (size_t i = 0; i < m->u.arr.n; i++)
		strbuf_addf(out, "%s%s", i ? "|" : "",
			    iv_strval(m->u.arr.v[i]));
}

/* The path test; with `params`, the pattern's groups ("0" the whole
 * match, "1"..., and named groups) are set there. */
static int path_ok(const struct route *rt, const char *path,
		   struct ivalue *params)
{
	if (!rt->path)
		return 1;
	if (!rt->path_re)
		return !strcmp(rt->path, path);
	pcre2_match_data *md =
		pcre2_match_data_create_from_pattern(rt->path_re, NULL);
	if (!md)
		return 0;
	int rc = pcre2_match(rt->path_re, (PCRE2_SPTR)path, strlen(path), 0, 0,
			     md, NULL);
	if (rc > 0 && params) {
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		uint32_t n = pcre2_get_ovector_count(md), count = 0, size = 0;
		PCRE2_SPTR table = NULL;
		for (uint32_t i = 0; i < n; i++) {
			char key[16];
			snprintf(key, sizeof(key), "%u", i);
			if (ov[2 * i] == PCRE2_UNSET)
				iv_set(params, key, iv_null());
			else
				iv_set(params, key,
				       iv_strn(path + ov[2 * i],
					       ov[2 * i + 1] - ov[2 * i]));
		}
		pcre2_pattern_info(rt->path_re, PCRE2_INFO_NAMECOUNT, &count);
		pcre2_pattern_info(rt->path_re, PCRE2_INFO_NAMEENTRYSIZE,
				   &size);
		pcre2_pattern_info(rt->path_re, PCRE2_INFO_NAMETABLE, &table);
		for (uint32_t i = 0; i < count; i++) {
			PCRE2_SPTR e = table + i * size;
			unsigned g = (unsigned)(e[0] << 8 | e[1]);
			char key[16];
			snprintf(key, sizeof(key), "%u", g);
			iv_set(params, (const char *)e + 2,
			       iv_clone(iv_get(params, key)));
		}
	}
	pcre2_match_data_free(md);
	return rc > 0;
}

/* A predicate on a value that may repeat (query, headers): it holds for
 * the list as a whole or for one of its values. */
static int multi_pred(const struct ivalue *x, const struct ivalue *act,
		      struct strbuf *why)
{
	if (act && act->type == IV_ARR) {
		for (size_t i = 0; i < act->u.arr.n; i++)
			if (predicate_eval(x, act->u.arr.v[i], "headers", NULL))
				return 1;
	}
	return predicate_eval(x, act, "headers", why);
}

/* Scores a condition; of failed ones, keeps the first reason. */
static int cond(struct fit *f, int ok, const struct strbuf *why,
		const char *prefix)
{
	if (!f)
		return ok;
	if (ok) {
		f->conds_ok++;
	} else if (!f->why.len) {
		strbuf_addstr(&f->why, prefix);
		strbuf_add(&f->why, why->buf, why->len);
	}
	return ok;
}

static int json_ok(const struct route *rt, const struct request *rq,
		   struct fit *f)
{
	struct strbuf why = STRBUF_INIT, pre = STRBUF_INIT;
	int all = 1;
	if (!rt->json)
		return 1;
	if (!rq->json) {
		strbuf_addstr(&why, "the request body is not JSON");
		cond(f, 0, &why, "");
		strbuf_release(&why);
		return 0;
	}
	if (!rt->njp) {
		all = cond(f, predicate_eval(rt->json, rq->json, "json", &why),
			   &why, "json: ");
		strbuf_release(&why);
		return all;
	}
	for (size_t i = 0; i < rt->njp && (all || f); i++) {
		const struct imember *m = &rt->json->u.obj.m[i];
		struct jp_nodes nl = {NULL, 0, 0};
		int ok;
		strbuf_reset(&why);
		jsonpath_eval(rt->jp[i], rq->json, &nl);
		if (jsonpath_is_singular(rt->jp[i])) {
			ok = predicate_eval(m->val, nl.n ? nl.v[0] : NULL,
					    "json", &why);
		} else {
			struct ivalue list;
			memset(&list, 0, sizeof(list));
			list.type = IV_ARR;
			list.u.arr.v = (struct ivalue **)(void *)nl.v;
			list.u.arr.n = nl.n;
			ok = predicate_eval(m->val, &list, "json", &why);
		}
		jp_nodes_release(&nl);
		strbuf_reset(&pre);
		strbuf_addf(&pre, "json %s: ", m->key);
		if (!cond(f, ok, &why, pre.buf))
			all = 0;
	}
	strbuf_release(&why);
	strbuf_release(&pre);
	return all;
}

static int map_ok(const struct ivalue *x, const struct ivalue *actual,
		  const char *what, struct fit *f)
{
	struct strbuf why = STRBUF_INIT, pre = STRBUF_INIT;
	int all = 1;
	for (size_t i = 0; x && i < x->u.obj.n && (all || f); i++) {
		const struct imember *m = &x->u.obj.m[i];
		strbuf_reset(&why);
		strbuf_reset(&pre);
		strbuf_addf(&pre, "%s '%s': ", what, m->key);
		if (!cond(f,
			  multi_pred(m->val, iv_get_nocase(actual, m->key),
				     &why),
			  &why, pre.buf))
			all = 0;
	}
	strbuf_release(&why);
	strbuf_release(&pre);
	return all;
}

/*
 * Does the route take the request (its `times` aside)?  With `f`, every
 * condition is tried and scored, and the first failure is said there;
 * with `params`, a `~` path's groups are set there.
 */
static int route_test(const struct route *rt, const struct request *rq,
		      struct ivalue *params, struct fit *f)
{
	struct strbuf why = STRBUF_INIT;
	int ok = 1;
	if (!method_ok(rt, rq->method)) {
		if (!f)
			return 0;
		ok = 0;
		strbuf_addf(&f->why, "method differs: the route wants ");
		methods_text(&f->why, rt);
	} else if (f) {
		f->method_ok = 1;
	}
	if (!path_ok(rt, rq->path, params)) {
		if (!f)
			return 0;
		if (ok)
			strbuf_addf(&f->why, "path differs: the route wants %s",
				    rt->path);
		ok = 0;
		const char *p = rt->path, *q = rq->path;
		if (*p == '~')
			p += p[1] == '^' ? 2 : 1;
		while (*p && *p == *q)
			p++, q++, f->prefix++;
	} else if (f) {
		f->path_ok = 1;
	}
	if (!map_ok(rt->query, rq->query, "query", f))
		ok = 0;
	if ((ok || f) && !map_ok(rt->headers, rq->headers, "header", f))
		ok = 0;
	if ((ok || f) && !json_ok(rt, rq, f))
		ok = 0;
	if ((ok || f) && rt->body &&
	    !cond(f, predicate_eval(rt->body, &rq->raw, "body", &why), &why,
		  "body: "))
		ok = 0;
	strbuf_release(&why);
	return ok;
}

/* The first route that takes the request and has calls left; counts the
 * call.  Returns the route or NULL, and the call's number in *nth. */
static struct route *route_find(struct stubsrv *s, const struct request *rq,
				int64_t *nth)
{
	for (size_t i = 0; i < s->nroutes; i++) {
		struct route *rt = &s->routes[i];
		if (!route_test(rt, rq, NULL, NULL))
			continue;
		pthread_mutex_lock(&s->mu);
		int left = !rt->times || rt->calls < rt->times;
		if (left)
			*nth = rt->calls++;
		pthread_mutex_unlock(&s->mu);
		if (left)
			return rt;
	}
	return NULL;
}

/* The route nearest to an unmatched request, and why it did not match. */
static void closest_route(struct stubsrv *s, const struct request *rq,
			  struct ivalue *out)
{
	long best_score = -1;
	const struct route *best = NULL;
	struct strbuf best_why = STRBUF_INIT, text = STRBUF_INIT;
	for (size_t i = 0; i < s->nroutes; i++) {
		const struct route *rt = &s->routes[i];
		struct fit f;
		memset(&f, 0, sizeof(f));
		strbuf_init(&f.why, 0);
		route_test(rt, rq, NULL, &f);
		if (!f.why.len) {
			pthread_mutex_lock(&s->mu);
			strbuf_addf(&f.why,
				    "the route was called %lld time%s and "
				    "allows %lld",
				    (long long)rt->calls,
				    rt->calls == 1 ? "" : "s",
				    (long long)rt->times);
			pthread_mutex_unlock(&s->mu);
		}
		long score =
			(f.path_ok ? 1000
				   : (long)(f.prefix < 500 ? f.prefix : 500)) +
			(f.method_ok ? 600 : 0) + 10 * (long)f.conds_ok;
		if (score > best_score) {
			best_score = score;
			best = rt;
			strbuf_reset(&best_why);
			strbuf_add(&best_why, f.why.buf, f.why.len);
		}
		strbuf_release(&f.why);
	}
	if (!best) {
		iv_set(out, "closest", iv_null());
		iv_set(out, "why", iv_str("the stub has no routes"));
		goto out;
	}
	if (best->name)
		strbuf_addf(&text, "'%s': ", best->name);
	methods_text(&text, best);
	strbuf_addf(&text, " %s (route %zu", best->path ? best->path : "*",
		    best->index);
	if (best->node->loc.src) {
		strbuf_addstr(&text, ", ");
		loc_format(&text, &best->node->loc);
	}
	strbuf_addch(&text, ')');
	iv_set(out, "closest", iv_strn(text.buf, text.len));
	iv_set(out, "why", iv_strn(best_why.buf, best_why.len));
out:
	strbuf_release(&best_why);
	strbuf_release(&text);
}

/* ---- responses ---- */

static const char *file_type(const char *path)
{
	static const char *const types[][2] = {
		{".json", "application/json"},
		{".html", "text/html; charset=utf-8"},
		{".htm", "text/html; charset=utf-8"},
		{".txt", "text/plain; charset=utf-8"},
		{".xml", "application/xml"},
		{".css", "text/css"},
		{".js", "text/javascript"},
		{".csv", "text/csv"},
		{".svg", "image/svg+xml"},
		{".png", "image/png"},
		{".jpg", "image/jpeg"},
		{".jpeg", "image/jpeg"},
		{".gif", "image/gif"},
		{".pdf", "application/pdf"},
	};
	size_t len = strlen(path);
	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		size_t el = strlen(types[i][0]);
		if (len > el && !strcasecmp(path + len - el, types[i][0]))
			return types[i][1];
	}
	return "application/octet-stream";
}

static struct MHD_Response *buffer_response(const struct lazy_mhd *m,
					    struct strbuf *sb)
{
	size_t len;
	char *buf;
	if (!sb->len)
		return m->MHD_create_response_from_buffer(
			0, NULL, MHD_RESPMEM_PERSISTENT);
	buf = strbuf_detach(sb, &len);
	struct MHD_Response *r = m->MHD_create_response_from_buffer(
		len, buf, MHD_RESPMEM_MUST_FREE);
	if (!r)
		free(buf);
	return r;
}

/* A JSON answer of the server itself (404, 413, 500). */
static struct MHD_Response *json_response(const struct lazy_mhd *m,
					  const struct ivalue *v)
{
	struct strbuf sb = STRBUF_INIT;
	json_emit(&sb, v, 2);
	strbuf_addch(&sb, '\n');
	struct MHD_Response *r = buffer_response(m, &sb);
	if (r)
		m->MHD_add_response_header(r, "Content-Type",
					   "application/json");
	return r;
}

static struct MHD_Response *error_response(const struct lazy_mhd *m,
					   const char *error,
					   const struct request *rq,
					   const char *detail)
{
	struct ivalue *v = iv_obj();
	iv_set(v, "error", iv_str(error));
	if (rq) {
		char *line = xasprintf("%s %s", rq->method, rq->path);
		iv_set(v, "request", iv_str(line));
		free(line);
	}
	if (detail)
		iv_set(v, "why", iv_str(detail));
	struct MHD_Response *r = json_response(m, v);
	iv_free(v);
	return r;
}

/*
 * Makes the answer of `resp`, the rendered form of `spec`.  On a bad
 * rendered value (status, file) returns NULL with the reason in `why`.
 */
static struct MHD_Response *make_response(const struct stubsrv *s,
					  const struct ivalue *spec,
					  const struct ivalue *resp,
					  unsigned *status, struct strbuf *why)
{
	const struct ivalue *v, *hdrs = iv_get(resp, "headers");
	const struct ivalue *fspec = iv_get(spec, "file");
	int from_request =
		fspec && tpl_has_vars(fspec->u.str.s, fspec->u.str.len);
	struct MHD_Response *r = NULL;
	struct strbuf sb = STRBUF_INIT;
	const char *ctype = NULL;
	*status = 200;
	v = iv_get(resp, "status");
	if (v) {
		struct strbuf t = STRBUF_INIT;
		char *end;
		iv_to_text(&t, v);
		long n = strtol(t.buf, &end, 10);
		if (!t.len || *end || n < 100 || n > 599) {
			strbuf_addf(why, "status '%s' is not an HTTP status",
				    t.buf);
			strbuf_release(&t);
			return NULL;
		}
		strbuf_release(&t);
		*status = (unsigned)n;
	}
	if ((v = iv_get(resp, "json"))) {
		json_emit(&sb, v, 0);
		ctype = "application/json";
		r = buffer_response(s->lib, &sb);
	} else if ((v = iv_get(resp, "body"))) {
		iv_to_text(&sb, v);
		ctype = "text/plain; charset=utf-8";
		r = buffer_response(s->lib, &sb);
	} else if ((v = iv_get(resp, "file"))) {
		struct stat st;
		iv_to_text(&sb, v);
		char *path = sb.buf[0] == '/'
				     ? xstrdup(sb.buf)
				     : xasprintf("%s/%s", s->dir, sb.buf);
		int fd = -1;
		if (from_request &&
		    (sb.buf[0] == '/' || strstr(sb.buf, ".."))) {
			strbuf_addf(why,
				    "file '%s' comes from the request "
				    "and may not be absolute or contain "
				    "'..'",
				    sb.buf);
			free(path);
			strbuf_release(&sb);
			return NULL;
		}
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			strbuf_addf(why, "cannot read '%s': %s", path,
				    fd < 0 ? strerror(errno)
					   : "not a regular file");
			if (fd >= 0)
				close(fd);
			free(path);
			strbuf_release(&sb);
			return NULL;
		}
		ctype = file_type(path);
		free(path);
		r = s->lib->MHD_create_response_from_fd((size_t)st.st_size, fd);
		if (!r)
			close(fd);
	} else {
		r = buffer_response(s->lib, &sb);
	}
	strbuf_release(&sb);
	if (!r) {
		strbuf_addstr(why, "cannot make the response");
		return NULL;
	}
	for (size_t i = 0; hdrs && hdrs->type == IV_OBJ && i < hdrs->u.obj.n;
	     i++) {
		const struct imember *m = &hdrs->u.obj.m[i];
		struct strbuf t = STRBUF_INIT;
		iv_to_text(&t, m->val);
		s->lib->MHD_add_response_header(r, m->key, t.buf);
		strbuf_release(&t);
	}
	if (ctype && !iv_get_nocase(hdrs, "content-type"))
		s->lib->MHD_add_response_header(r, "Content-Type", ctype);
	return r;
}

/* Waits `ms`, or less when the server stops. */
static void delay_ms(struct stubsrv *s, int64_t ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->mu);
	while (!s->stopping &&
	       pthread_cond_timedwait(&s->cv, &s->mu, &ts) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&s->mu);
}

/* Answers a complete request. */
static enum MHD_Result answer(struct stubsrv *s, struct MHD_Connection *mc,
			      const char *method, const char *url,
			      struct reqctx *ctx)
{
	struct request rq;
	struct route *rt = NULL;
	struct MHD_Response *resp = NULL;
	struct ivalue *rendered = NULL;
	struct strbuf why = STRBUF_INIT, line = STRBUF_INIT;
	unsigned status = 404;
	int64_t nth = 0, delay = 0;
	enum MHD_Result ret;

	request_build(s->lib, &rq, mc, method, url, &ctx->body);
	if (ctx->body.dropped) {
		status = 413;
		strbuf_addf(&why, "the body is larger than %zu bytes",
			    (size_t)STUB_BODY_CAP);
		resp = error_response(s->lib, "request body too large", &rq,
				      why.buf);
		strbuf_addstr(&line, " body too large");
	} else if ((rt = route_find(s, &rq, &nth))) {
		const struct ivalue *spec = rt->respond;
		struct ivalue *builtins = iv_obj(), *params = iv_obj();
		struct itest_err err = ITEST_ERR_INIT;
		struct scope sc;
		if (spec->type == IV_ARR)
			spec = spec->u.arr
				       .v[nth < (int64_t)spec->u.arr.n
						  ? nth
						  : (int64_t)spec->u.arr.n - 1];
		path_ok(rt, rq.path, params);
		iv_set(rq.obj, "params", params);
		iv_set(builtins, "request", rq.obj);
		memset(&sc, 0, sizeof(sc));
		sc.builtins = builtins;
		rendered = tpl_render(spec, &sc, &err);
		/* take the request back for the record, without params */
		builtins->u.obj.m[0].val = NULL;
		iv_free(builtins);
		iv_del(rq.obj, "params");
		if (!rendered) {
			loc_format(&why, &err.loc);
			strbuf_addf(&why, "%s%s", why.len ? ": " : "", err.msg);
		} else {
			const struct ivalue *d = iv_get(rendered, "delay");
			if (d && d->type == IV_STR)
				delay = duration_parse_ms(d->u.str.s);
			resp = make_response(s, spec, rendered, &status, &why);
		}
		if (!resp) {
			status = 500;
			resp = error_response(s->lib, "stub response failed",
					      &rq, why.buf);
			strbuf_addf(&line, " (route %zu: %s)", rt->index,
				    why.buf);
		} else {
			strbuf_addf(&line, " (route %zu)", rt->index);
		}
	} else {
		struct ivalue *body = iv_obj();
		char *rl = xasprintf("%s %s", rq.method, rq.path);
		iv_set(body, "error", iv_str("no stub route matches"));
		iv_set(body, "request", iv_str(rl));
		free(rl);
		closest_route(s, &rq, body);
		resp = json_response(s->lib, body);
		iv_free(body);
		strbuf_addstr(&line, " unmatched");
	}

	pthread_mutex_lock(&s->mu);
	if (s->keep) {
		iv_set(rq.obj, "matched", iv_bool(rt != NULL));
		iv_set(rq.obj, "route",
		       rt ? iv_int((int64_t)rt->index) : iv_null());
		iv_set(rq.obj, "time", iv_int((int64_t)(now_ms() - s->t0)));
		iv_push(s->records, rq.obj);
		rq.obj = NULL;
	}
	if (s->log) {
		struct strbuf text = STRBUF_INIT;
		strbuf_addf(&text, "%s %s -> %u%s", method, url, status,
			    line.buf);
		for (size_t i = 0; i < text.len; i++)
			if ((unsigned char)text.buf[i] < 0x20 ||
			    text.buf[i] == 0x7f)
				text.buf[i] = '?'; /* one line, no escapes */
		fprintf(s->log, "%s\n", text.buf);
		fflush(s->log);
		strbuf_release(&text);
	}
	pthread_mutex_unlock(&s->mu);

	if (delay > 0)
		delay_ms(s, delay);
	ret = resp ? s->lib->MHD_queue_response(mc, status, resp) : MHD_NO;
	if (resp)
		s->lib->MHD_destroy_response(resp);
	iv_free(rendered);
	iv_free(rq.obj);
	strbuf_release(&why);
	strbuf_release(&line);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc,
				  const char *url, const char *method,
				  const char *version, const char *data,
				  size_t *size, void **con_cls)
{
	struct reqctx *ctx = *con_cls;
	(void)version;
	if (!ctx) {
		ctx = xcalloc(1, sizeof(*ctx));
		strbuf_init(&ctx->body, 0);
		ctx->body.cap = STUB_BODY_CAP;
		*con_cls = ctx;
		return MHD_YES;
	}
	if (*size) {
		strbuf_add(&ctx->body, data, *size);
		*size = 0;
		return MHD_YES;
	}
	return answer(cls, mc, method, url, ctx);
}

static void server_free(struct stubsrv *s)
{
	for (size_t i = 0; i < s->nroutes; i++)
		route_release(&s->routes[i]);
	free(s->routes);
	free(s->conns);
	free(s->dir);
	iv_free(s->records);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static struct stubsrv *server_start(const struct ivalue *doc, const char *dir,
				    const char *host, int port, FILE *log,
				    int keep, struct itest_err *err)
{
	struct stubsrv *s = xcalloc(1, sizeof(*s));
	const struct ivalue *routes = iv_get(doc, "routes");
	pthread_condattr_t ca;
	int family = AF_INET;
	const char *why;

	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	s->lfd = -1;
	s->dir = xstrdup(dir && *dir ? dir : ".");
	s->log = log;
	s->keep = keep;
	s->records = iv_arr();
	if (stub_check_spec(doc, err))
		goto fail; /* cheap, and nothing below trips on a bad doc */
	s->routes = xcalloc(routes->u.arr.n + 1, sizeof(*s->routes));
	for (size_t i = 0; i < routes->u.arr.n; i++) {
		s->routes[i].index = i + 1;
		s->nroutes++;
		if (route_build(s, &s->routes[i], routes->u.arr.v[i], err))
			goto fail;
	}
	if (!(s->lib = lazy_mhd_load(&why))) {
		err_set(err, NULL,
			"the stub server needs libmicrohttpd "
			"(libmicrohttpd12): %s",
			why);
		goto fail;
	}
	s->lfd = listen_on(host ? host : "127.0.0.1", port, &family, &s->port,
			   err);
	if (s->lfd < 0)
		goto fail;
	s->t0 = now_ms();
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_THREAD_PER_CONNECTION | MHD_USE_AUTO;
	if (family == AF_INET6)
		flags |= MHD_USE_IPv6;
	s->mhd = s->lib->MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET,
		s->lfd, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)STUBSRV_MAX_CONNECTIONS,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)128 * 1024,
		MHD_OPTION_CONNECTION_TIMEOUT, 0u, MHD_OPTION_END);
	if (!s->mhd) {
		struct strbuf where = STRBUF_INIT;
		addr_text(&where, host ? host : "127.0.0.1", s->port);
		err_set(err, NULL, "cannot start the stub server on %s",
			where.buf);
		strbuf_release(&where);
		close(s->lfd);
		goto fail;
	}
	return s;
fail:
	server_free(s);
	return NULL;
}

struct stubsrv *stubsrv_start(const struct ivalue *doc, const char *dir,
			      const char *host, int port, struct itest_err *err)
{
	return server_start(doc, dir, host, port, NULL, 1, err);
}

void stubsrv_stop(struct stubsrv *s)
{
	struct linger lg = {1, 0};
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stopping = 1;
	pthread_cond_broadcast(&s->cv);
	for (size_t i = 0; i < s->nconns; i++)
		conn_reset(&s->conns[i]);
	pthread_mutex_unlock(&s->mu);
	setsockopt(s->lfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	s->lib->MHD_stop_daemon(s->mhd); /* closes the listening socket */
	server_free(s);
}

struct ivalue *stubsrv_calls(struct stubsrv *s, size_t since)
{
	struct ivalue *out = iv_arr();
	pthread_mutex_lock(&s->mu);
	for (size_t i = since; i < s->records->u.arr.n; i++)
		iv_push(out, iv_clone(s->records->u.arr.v[i]));
	pthread_mutex_unlock(&s->mu);
	return out;
}

size_t stubsrv_mark(struct stubsrv *s)
{
	pthread_mutex_lock(&s->mu);
	size_t n = s->records->u.arr.n;
	pthread_mutex_unlock(&s->mu);
	return n;
}

void stubsrv_reset(struct stubsrv *s)
{
	pthread_mutex_lock(&s->mu);
	iv_free(s->records);
	s->records = iv_arr();
	for (size_t i = 0; i < s->nroutes; i++)
		s->routes[i].calls = 0;
	pthread_mutex_unlock(&s->mu);
}

/* ---- itest stub FILE --port N ---- */

static void stub_usage(FILE *f)
{
	fputs("usage: itest stub FILE --port N [--host H]\n"
	      "serves the routes of a stub file until Ctrl-C (SIGINT) or "
	      "SIGTERM\n\n"
	      "  -p, --port N   the port (0: any free port)\n"
	      "  --host H       the address to listen on (default 127.0.0.1; "
	      "0.0.0.0\n"
	      "                 makes the stub reachable from other "
	      "machines)\n"
	      "  -h, --help     print this help\n",
	      f);
}

ITEST_PRINTF(1, 2) static int stub_usage_error(const char *fmt, ...)
{
	va_list ap;
	fputs("itest: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n(see itest stub --help)\n", stderr);
	return 2;
}

/* The value of an option given as "--name V", "--name=V" or "-x V". */
static int opt_value(int argc, char **argv, int *i, const char *longname,
		     char shortname, const char **val)
{
	const char *a = argv[*i];
	size_t n = strlen(longname);
	if (a[0] == '-' && a[1] == '-' && !strncmp(a + 2, longname, n) &&
	    a[2 + n] == '=') {
		*val = a + 3 + n;
		return 1;
	}
	if (!((a[0] == '-' && a[1] == '-' && !strcmp(a + 2, longname)) ||
	      (shortname && a[0] == '-' && a[1] == shortname && !a[2])))
		return 0;
	if (*i + 1 >= argc) {
		*val = NULL;
		return 1;
	}
	*val = argv[++*i];
	return 1;
}

int stubsrv_main(int argc, char **argv)
{
	const char *file = NULL, *host = NULL, *portarg = NULL, *val;
	struct srclist sl = SRCLIST_INIT;
	struct itest_err err = ITEST_ERR_INIT;
	struct ivalue *doc = NULL;
	struct stubsrv *s = NULL;
	sigset_t set;
	int ret = 2, sig = 0;
	char *dir = NULL, *end;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			stub_usage(stdout);
			return 0;
		}
		if (opt_value(argc, argv, &i, "port", 'p', &val)) {
			if (!val)
				return stub_usage_error("--port needs a "
							"number");
			portarg = val;
		} else if (opt_value(argc, argv, &i, "host", 0, &val)) {
			if (!val || !*val)
				return stub_usage_error("--host needs an "
							"address");
			host = val;
		} else if (a[0] == '-' && a[1]) {
			return stub_usage_error("unknown option '%s'", a);
		} else if (file) {
			return stub_usage_error("'itest stub' serves one file "
						"(got '%s' and '%s')",
						file, a);
		} else {
			file = a;
		}
	}
	if (!file)
		return stub_usage_error("'itest stub' needs a stub file");
	if (!portarg)
		return stub_usage_error("'itest stub' needs --port N");
	long port = strtol(portarg, &end, 10);
	if (!*portarg || *end || port < 0 || port > 65535)
		return stub_usage_error("--port takes a number from 0 to "
					"65535, not '%s'",
					portarg);
	if (!host)
		host = "127.0.0.1";

	const struct itest_src *src = srclist_add(&sl, file, NULL, 0, 0);
	doc = yaml_load_file(src, &err);
	if (!doc || stub_check_spec(doc, &err)) {
		if (!err.loc.src)
			err.loc.src = src; /* always name the file */
		goto fail;
	}
	const char *slash = strrchr(file, '/');
	dir = slash ? xstrndup(file, (size_t)(slash - file) + !!(slash == file))
		    : xstrdup(".");

	/* the server's threads inherit the mask: only sigwait sees these */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	s = server_start(doc, dir, host, (int)port, stdout, 0, &err);
	if (!s)
		goto fail;
	{
		struct strbuf where = STRBUF_INIT;
		size_t n = iv_get(doc, "routes")->u.arr.n;
		addr_text(&where, host, s->port);
		printf("serving %s on http://%s (%zu route%s); Ctrl-C stops\n",
		       file, where.buf, n, n == 1 ? "" : "s");
		fflush(stdout);
		strbuf_release(&where);
	}
	while (sigwait(&set, &sig) != 0)
		;
	stubsrv_stop(s);
	printf("stopped (%s)\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
	fflush(stdout);
	ret = 0;
	goto out;
fail:
	err_print(&err);
	ret = 2;
out:
	free(dir);
	iv_free(doc);
	srclist_release(&sl);
	return ret;
}
