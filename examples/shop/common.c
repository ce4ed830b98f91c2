/*
 * The plumbing of the shop services (see common.h): options, the HTTP
 * server loop with its per-request log line and clean SIGTERM exit,
 * JSON answers, calls to the next service and atomic data files.
 */
#include "common.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <microhttpd.h>

#define BODY_CAP  (64 * 1024)	/* largest request body taken */
#define REPLY_CAP (1024 * 1024) /* largest answer read from a service */

/* ---- options ---- */

/* INVENTORY_URL for "inventory". */
static void need_env(const struct common_service *svc, char *buf, size_t size)
{
	size_t i;
	for (i = 0; svc->need[i] && i + 5 < size; i++)
		buf[i] = (char)toupper((unsigned char)svc->need[i]);
	snprintf(buf + i, size - i, "_URL");
}

static void usage(FILE *f, const struct common_service *svc)
{
	char env[64];
	fprintf(f, "usage: shop-%s [--port N] [--host ADDR]", svc->name);
	if (svc->need)
		fprintf(f, " [--%s URL]", svc->need);
	if (svc->has_data)
		fprintf(f, " [--data DIR]");
	fprintf(f, " [--fail-mode MODE]\n");
	fprintf(f,
		"  --port N          port to listen on (env PORT; default "
		"%d; 0: any free port)\n",
		svc->default_port);
	fprintf(f, "  --host ADDR       address to listen on (default "
		   "127.0.0.1)\n");
	if (svc->need) {
		char opt[48];
		need_env(svc, env, sizeof(env));
		snprintf(opt, sizeof(opt), "--%s URL", svc->need);
		fprintf(f,
			"  %-16s  the %s service (env %s; default "
			"http://127.0.0.1:%d)\n",
			opt, svc->need, env, svc->need_port);
	}
	if (svc->has_data)
		fprintf(f, "  --data DIR        keep the data in DIR (created "
			   "if missing)\n");
	fprintf(f, "  --fail-mode MODE  misbehave on purpose (env "
		   "SHOP_FAIL_MODE): unhealthy");
	for (size_t i = 0; svc->fail_modes && svc->fail_modes[i]; i++)
		fprintf(f, ", %s", svc->fail_modes[i]);
	fputc('\n', f);
}

/* Prints the misuse message and the usage; returns -1. */
COMMON_PRINTF(2, 3)
static int misuse(const struct common_service *svc, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "shop-%s: ", svc->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	usage(stderr, svc);
	return -1;
}

/*
 * Is argv[*i] "--name VALUE" or "--name=VALUE"?  Then *val is the value
 * (NULL when it is missing) and *i moves past it.
 */
static int is_opt(int argc, char **argv, int *i, const char *name,
		  const char **val)
{
	const char *a = argv[*i];
	size_t n = strlen(name);
	if (strncmp(a, "--", 2) || strncmp(a + 2, name, n))
		return 0;
	if (a[2 + n] == '=') {
		*val = a + 3 + n;
		return 1;
	}
	if (a[2 + n])
		return 0;
	*val = *i + 1 < argc ? argv[++*i] : NULL;
	return 1;
}

static int parse_port(const char *s, int *port)
{
	char *end;
	long v;
	errno = 0;
	v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < 0 || v > 65535)
		return -1;
	*port = (int)v;
	return 0;
}

static int fail_mode_known(const struct common_service *svc, const char *m)
{
	if (!strcmp(m, "unhealthy"))
		return 1;
	for (size_t i = 0; svc->fail_modes && svc->fail_modes[i]; i++)
		if (!strcmp(m, svc->fail_modes[i]))
			return 1;
	return 0;
}

/* A copy of the URL `s` without trailing slashes. */
static char *url_dup(const char *s)
{
	size_t n = strlen(s);
	while (n && s[n - 1] == '/')
		n--;
	char *u = malloc(n + 1);
	if (!u)
		abort();
	memcpy(u, s, n);
	u[n] = '\0';
	return u;
}

int common_opts_parse(struct common_opts *o, const struct common_service *svc,
		      int argc, char **argv, int *exit_status)
{
	const char *port = getenv("PORT"), *need = NULL, *v = NULL;
	char env[64];

	memset(o, 0, sizeof(*o));
	o->host = "127.0.0.1";
	o->port = svc->default_port;
	o->fail_mode = getenv("SHOP_FAIL_MODE");
	if (svc->need) {
		need_env(svc, env, sizeof(env));
		need = getenv(env);
	}
	if (port && !*port)
		port = NULL;
	*exit_status = 2;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout, svc);
			*exit_status = 0;
			return -1;
		}
		if (is_opt(argc, argv, &i, "port", &v))
			port = v;
		else if (is_opt(argc, argv, &i, "host", &v))
			o->host = v;
		else if (is_opt(argc, argv, &i, "fail-mode", &v))
			o->fail_mode = v;
		else if (svc->has_data && is_opt(argc, argv, &i, "data", &v))
			o->data = v;
		else if (svc->need && is_opt(argc, argv, &i, svc->need, &v))
			need = v;
		else
			return misuse(svc, "unknown option '%s'", a);
		if (!v || !*v)
			return misuse(svc, "option '%s' needs a value", a);
	}
	if (port && parse_port(port, &o->port))
		return misuse(svc, "port '%s' is not a number from 0 to 65535",
			      port);
	if (o->fail_mode && !*o->fail_mode)
		o->fail_mode = NULL;
	if (o->fail_mode && !fail_mode_known(svc, o->fail_mode))
		return misuse(svc, "unknown fail mode '%s'", o->fail_mode);
	if (svc->need && need && *need) {
		o->need_url = url_dup(need);
	} else if (svc->need) {
		snprintf(env, sizeof(env), "http://127.0.0.1:%d",
			 svc->need_port);
		o->need_url = url_dup(env);
	}
	return 0;
}

void common_opts_release(struct common_opts *o)
{
	free(o->need_url);
	o->need_url = NULL;
}

/* ---- the server ---- */

struct server {
	const struct common_service *svc;
	const struct common_opts *opts;
	common_handler handler;
	void *ctx;
};

/* A request whose body is still arriving (MHD's per-request pointer). */
struct pending {
	char *buf;
	size_t len, cap;
	int too_big;
};

static void pending_add(struct pending *p, const char *data, size_t n)
{
	if (p->too_big || p->len + n > BODY_CAP) {
		p->too_big = 1;
		return;
	}
	if (p->len + n + 1 > p->cap) {
		size_t cap = p->cap ? p->cap : 1024;
		while (cap < p->len + n + 1)
			cap *= 2;
		char *b = realloc(p->buf, cap);
		if (!b)
			abort();
		p->buf = b;
		p->cap = cap;
	}
	memcpy(p->buf + p->len, data, n);
	p->len += n;
	p->buf[p->len] = '\0';
}

static enum MHD_Result send_answer(struct MHD_Connection *conn,
				   struct common_resp *rs)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		rs->body_len, rs->body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;
	if (!r) {
		free(rs->body);
		return MHD_NO;
	}
	rs->body = NULL;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rs->type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = MHD_queue_response(conn, rs->status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **req_cls)
{
	struct server *srv = cls;
	struct pending *p = *req_cls;
	struct common_resp rs = {500, "application/json", NULL, 0};
	struct common_req rq;
	(void)version;

	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p)
			return MHD_NO;
		*req_cls = p;
		return MHD_YES;
	}
	if (*upload_size) {
		pending_add(p, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	rq.method = strcmp(method, "HEAD") ? method : "GET";
	rq.path = url;
	rq.body = p->buf ? p->buf : "";
	rq.body_len = p->len;
	if (p->too_big)
		common_error(&rs, 413, "request body larger than %d bytes",
			     BODY_CAP);
	else if (srv->opts->fail_mode &&
		 !strcmp(srv->opts->fail_mode, "unhealthy") &&
		 !strcmp(rq.method, "GET") && !strcmp(url, "/health"))
		common_error(&rs, 503, "unhealthy (fail mode)");
	else
		srv->handler(srv->ctx, &rq, &rs);
	if (!rs.body)
		common_error(&rs, 500, "no answer");
	printf("%s %s %u\n", method, url, rs.status);
	return send_answer(conn, &rs);
}

static void on_done(void *cls, struct MHD_Connection *conn, void **req_cls,
		    enum MHD_RequestTerminationCode why)
{
	struct pending *p = *req_cls;
	(void)cls;
	(void)conn;
	(void)why;
	if (p) {
		free(p->buf);
		free(p);
		*req_cls = NULL;
	}
}

int common_serve(const struct common_service *svc, const struct common_opts *o,
		 common_handler handler, void *ctx)
{
	struct server srv = {svc, o, handler, ctx};
	struct addrinfo hints, *ai = NULL;
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD |
			 MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;
	char portstr[16];
	sigset_t set;
	int sig = 0, rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%d", o->port);
	rc = getaddrinfo(o->host, portstr, &hints, &ai);
	if (rc) {
		fprintf(stderr, "shop-%s: cannot resolve '%s': %s\n", svc->name,
			o->host, gai_strerror(rc));
		return 1;
	}
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	d = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, on_request,
			     &srv, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
			     MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
			     MHD_OPTION_END);
	freeaddrinfo(ai);
	if (!d) {
		fprintf(stderr, "shop-%s: cannot listen on '%s' port %d\n",
			svc->name, o->host, o->port);
		return 1;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	printf("shop-%s listening on http://%s%s%s:%u\n", svc->name,
	       strchr(o->host, ':') ? "[" : "", o->host,
	       strchr(o->host, ':') ? "]" : "", info ? info->port : 0);
	if (o->fail_mode)
		printf("shop-%s fail mode '%s'\n", svc->name, o->fail_mode);
	while (sigwait(&set, &sig))
		;
	printf("shop-%s stopping (%s)\n", svc->name,
	       sig == SIGTERM ? "SIGTERM" : "SIGINT");
	MHD_stop_daemon(d);
	printf("shop-%s stopped\n", svc->name);
	return 0;
}

/* ---- answers ---- */

static void set_body(struct common_resp *rs, unsigned status, const char *type,
		     char *body)
{
	free(rs->body);
	rs->status = status;
	rs->type = type;
	rs->body = body;
	rs->body_len = body ? strlen(body) : 0;
}

void common_json(struct common_resp *rs, unsigned status, cJSON *v)
{
	char *s = cJSON_PrintUnformatted(v);
	cJSON_Delete(v);
	if (!s)
		abort();
	size_t n = strlen(s);
	char *t = realloc(s, n + 2);
	if (!t)
		abort();
	t[n] = '\n';
	t[n + 1] = '\0';
	set_body(rs, status, "application/json", t);
}

void common_error(struct common_resp *rs, unsigned status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cJSON *v = cJSON_CreateObject();
	cJSON_AddStringToObject(v, "error", msg);
	common_json(rs, status, v);
}

void common_text(struct common_resp *rs, unsigned status, const char *type,
		 const char *text)
{
	char *s = strdup(text);
	if (!s)
		abort();
	set_body(rs, status, type, s);
}

void common_health(struct common_resp *rs, const char *service)
{
	cJSON *v = cJSON_CreateObject();
	cJSON_AddStringToObject(v, "status", "ok");
	cJSON_AddStringToObject(v, "service", service);
	common_json(rs, 200, v);
}

void common_no_route(struct common_resp *rs, const struct common_req *rq,
		     int path_known)
{
	if (path_known)
		common_error(rs, 405, "method %s not allowed on %s", rq->method,
			     rq->path);
	else
		common_error(rs, 404, "no such resource: %s", rq->path);
}

const char *common_path_arg(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);
	if (strncmp(path, prefix, n) || !path[n] || strchr(path + n, '/'))
		return NULL;
	return path + n;
}

long common_parse_id(const char *s)
{
	char *end;
	long v;
	if (!s || !isdigit((unsigned char)*s))
		return 0;
	errno = 0;
	v = strtol(s, &end, 10);
	return *end || errno || v < 1 ? 0 : v;
}

long common_positive_int(const cJSON *v, long max)
{
	if (!cJSON_IsNumber(v))
		return 0;
	double d = v->valuedouble;
	if (!(d >= 1 && d <= (double)max) || (double)(long)d != d)
		return 0;
	return (long)d;
}

/* ---- calls to other services ---- */

int common_client_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		fprintf(stderr, "cannot initialise libcurl\n");
		return -1;
	}
	return 0;
}

void common_client_cleanup(void)
{
	curl_global_cleanup();
}

static size_t on_data(char *data, size_t size, size_t n, void *cls)
{
	struct common_reply *r = cls;
	size_t len = size * n;
	if (r->body_len + len > REPLY_CAP)
		return 0;
	char *b = realloc(r->body, r->body_len + len + 1);
	if (!b)
		return 0;
	memcpy(b + r->body_len, data, len);
	r->body = b;
	r->body_len += len;
	r->body[r->body_len] = '\0';
	return len;
}

int common_fetch(const char *method, const char *url, const char *body,
		 long timeout_ms, struct common_reply *out)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdrs = NULL;
	CURL *c = curl_easy_init();
	CURLcode rc;

	memset(out, 0, sizeof(*out));
	if (!c) {
		snprintf(out->error, sizeof(out->error), "out of memory");
		return -1;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
	if (body) {
		hdrs = curl_slist_append(hdrs,
					 "Content-Type: application/json");
		hdrs = curl_slist_append(hdrs, "Expect:");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	if (strcmp(method, body ? "POST" : "GET"))
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
	else
		snprintf(out->error, sizeof(out->error), "%s",
			 *errbuf ? errbuf : curl_easy_strerror(rc));
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	if (!out->body) {
		out->body = strdup("");
		if (!out->body)
			abort();
	}
	return rc == CURLE_OK ? 0 : -1;
}

void common_reply_release(struct common_reply *r)
{
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
}

/* ---- data files ---- */

int common_mkdirs(const char *path)
{
	size_t n = strlen(path);
	char *p = strdup(path);
	struct stat st;
	int rc = 0;

	if (!p)
		abort();
	for (size_t i = 1; i <= n && !rc; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		char c = p[i];
		p[i] = '\0';
		if (mkdir(p, 0755) && errno != EEXIST)
			rc = -1;
		p[i] = c;
	}
	free(p);
	if (!rc && stat(path, &st))
		rc = -1;
	if (!rc && !S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		rc = -1;
	}
	return rc;
}

static char *join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *s = malloc(n);
	if (!s)
		abort();
	snprintf(s, n, "%s/%s", dir, name);
	return s;
}

int common_load_json(const char *dir, const char *name, cJSON **out)
{
	char *path = join(dir, name), *buf = NULL;
	size_t len = 0, cap = 0;
	int fd, rc = -1;
	ssize_t got;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			rc = 0;
		else
			fprintf(stderr, "cannot open '%s': %s\n", path,
				strerror(errno));
		goto out;
	}
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			char *b = realloc(buf, cap);
			if (!b)
				abort();
			buf = b;
		}
		got = read(fd, buf + len, cap - len - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		len += (size_t)got;
	}
	close(fd);
	if (got < 0) {
		fprintf(stderr, "cannot read '%s': %s\n", path,
			strerror(errno));
		goto out;
	}
	*out = cJSON_ParseWithLength(buf, len);
	if (!*out)
		fprintf(stderr, "'%s' is not valid JSON\n", path);
	else
		rc = 0;
out:
	free(buf);
	free(path);
	return rc;
}

static int write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

int common_save_json(const char *dir, const char *name, const cJSON *v)
{
	char *path = join(dir, name), *tmp, *text = cJSON_Print(v);
	size_t n = strlen(dir) + strlen(name) + 32;
	int fd, rc = -1;

	if (!text)
		abort();
	tmp = malloc(n);
	if (!tmp)
		abort();
	snprintf(tmp, n, "%s/.%s.tmp%ld", dir, name, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "cannot create '%s': %s\n", tmp,
			strerror(errno));
		goto out;
	}
	if (write_all(fd, text, strlen(text)) || write_all(fd, "\n", 1) ||
	    fsync(fd)) {
		fprintf(stderr, "cannot write '%s': %s\n", tmp,
			strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, path)) {
		fprintf(stderr, "cannot rename '%s' to '%s': %s\n", tmp, path,
			strerror(errno));
		unlink(tmp);
		goto out;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	rc = 0;
out:
	free(text);
	free(tmp);
	free(path);
	return rc;
}
