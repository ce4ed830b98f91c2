/*
 * A small HTTP server for itest's own tests of the `http` driver
 * (libmicrohttpd, one thread per connection, 127.0.0.1 only).  It does
 * not use itest's code, so that what it answers does not depend on what
 * it tests.  Built two ways: on its own as `itest-testhttpd` (prints its
 * port, serves until SIGINT/SIGTERM), and included by
 * selftest/unit/test_http.c with TESTHTTPD_LIB defined, which calls
 * testhttpd_start() and testhttpd_stop().
 *
 * Routes (any method unless said):
 *   /echo...            JSON {method, path, args, headers, body, conn}:
 *                       what the request held; `conn` numbers the TCP
 *                       connection (the same number: a reused connection)
 *   /json               {"a":1,"b":{"c":"x"}}
 *   /status/N           status N, empty body
 *   /redirect/N         302 to /redirect/N-1; /redirect/0 answers JSON
 *   /set-cookie?k=v...  Set-Cookie: k=v; Path=/ for each argument
 *   /repeat             X-Multi twice and two Set-Cookie headers
 *   /gzip               a gzip-encoded JSON body (Content-Encoding: gzip)
 *   /chunked?n=K        K lines "chunk I", sent chunked
 *   /big?size=N         N bytes: "0123456789" repeated
 *   /slow?ms=N          waits N ms, then {"slow":true}
 *   /xml                a small XML document
 *   /count              {"n":N}: N counts the requests to /count so far
 */
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* The biggest request body the echo keeps. */
#define TESTHTTPD_BODY_MAX (8u << 20)

struct buf {
	char *p;
	size_t len, alloc;
};

static void buf_add(struct buf *b, const void *data, size_t len)
{
	if (b->len + len + 1 > b->alloc) {
		size_t n = b->alloc ? b->alloc : 256;
		while (n < b->len + len + 1)
			n *= 2;
		char *p = realloc(b->p, n);
		if (!p)
			abort();
		b->p = p;
		b->alloc = n;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* A JSON string literal. */
static void buf_json(struct buf *b, const char *s, size_t len)
{
	buf_add(b, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			buf_add(b, esc, 2);
		} else if (c < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			buf_add(b, esc, 6);
		} else {
			buf_add(b, s + i, 1);
		}
	}
	buf_add(b, "\"", 1);
}

struct testhttpd {
	struct MHD_Daemon *d;
	int port;
	unsigned long conns; /* connections so far (under the lock) */
	unsigned long count; /* requests to /count so far (same) */
	pthread_mutex_t mu;
};

/* Per request: the body as it arrives. */
struct reqstate {
	struct buf body;
};

/* Per connection: its number. */
static void on_connection(void *cls, struct MHD_Connection *c,
			  void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct testhttpd *h = cls;
	(void)c;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		unsigned long *id = malloc(sizeof(*id));
		if (!id)
			abort();
		pthread_mutex_lock(&h->mu);
		*id = ++h->conns;
		pthread_mutex_unlock(&h->mu);
		*socket_context = id;
	} else {
		free(*socket_context);
		*socket_context = NULL;
	}
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct reqstate *r = *con_cls;
	(void)cls;
	(void)c;
	(void)toe;
	if (r) {
		free(r->body.p);
		free(r);
	}
	*con_cls = NULL;
}

/* Collects key/value pairs as a JSON object; a repeated key becomes a
 * list.  Keys are lower-cased for headers. */
struct kvs {
	char **k, **v;
	size_t n;
	int lower;
};

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind,
			       const char *key, const char *value)
{
	struct kvs *kv = cls;
	(void)kind;
	char **k = realloc(kv->k, (kv->n + 1) * sizeof(*k));
	char **v = realloc(kv->v, (kv->n + 1) * sizeof(*v));
	if (!k || !v)
		abort();
	kv->k = k;
	kv->v = v;
	kv->k[kv->n] = strdup(key);
	kv->v[kv->n] = value ? strdup(value) : NULL;
	if (!kv->k[kv->n])
		abort();
	if (kv->lower)
		for (char *p = kv->k[kv->n]; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
	kv->n++;
	return MHD_YES;
}

static void kvs_json(struct buf *b, struct MHD_Connection *c,
		     enum MHD_ValueKind kind, int lower)
{
	struct kvs kv = {NULL, NULL, 0, lower};
	MHD_get_connection_values(c, kind, collect, &kv);
	buf_str(b, "{");
	int first = 1;
	for (size_t i = 0; i < kv.n; i++) {
		if (!kv.k[i])
			continue;
		size_t same = 0;
		for (size_t j = i; j < kv.n; j++)
			same += kv.k[j] && !strcmp(kv.k[j], kv.k[i]);
		if (!first)
			buf_str(b, ",");
		first = 0;
		buf_json(b, kv.k[i], strlen(kv.k[i]));
		buf_str(b, ":");
		if (same > 1)
			buf_str(b, "[");
		char *key = kv.k[i];
		int n = 0;
		for (size_t j = i; j < kv.n; j++) {
			if (!kv.k[j] || strcmp(kv.k[j], key))
				continue;
			if (n++)
				buf_str(b, ",");
			if (kv.v[j])
				buf_json(b, kv.v[j], strlen(kv.v[j]));
			else
				buf_str(b, "null");
			if (j != i) {
				free(kv.k[j]);
				kv.k[j] = NULL;
			}
		}
		if (same > 1)
			buf_str(b, "]");
	}
	buf_str(b, "}");
	for (size_t i = 0; i < kv.n; i++) {
		free(kv.k[i]);
		free(kv.v[i]);
	}
	free(kv.k);
	free(kv.v);
}

static enum MHD_Result send_buf(struct MHD_Connection *c, unsigned status,
				const void *data, size_t len, const char *ctype)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		len, (void *)(uintptr_t)data, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	if (ctype)
		MHD_add_response_header(r, "Content-Type", ctype);
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status,
				 const char *json)
{
	return send_buf(c, status, json, strlen(json), "application/json");
}

static long arg_long(struct MHD_Connection *c, const char *name, long dflt)
{
	const char *v =
		MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
	return v ? strtol(v, NULL, 10) : dflt;
}

/* ---- gzip without zlib: "stored" deflate blocks and a CRC-32 ---- */

static uint32_t crc32_of(const unsigned char *p, size_t len)
{
	uint32_t crc = 0xFFFFFFFFu;
	for (size_t i = 0; i < len; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
	}
	return ~crc;
}

static void put32le(struct buf *b, uint32_t v)
{
	unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8),
			      (unsigned char)(v >> 16),
			      (unsigned char)(v >> 24)};
	buf_add(b, x, 4);
}

static void gzip_stored(struct buf *out, const char *data, size_t len)
{
	static const unsigned char hdr[10] = {0x1f, 0x8b, 8, 0, 0,
					      0,    0,	  0, 0, 3};
	buf_add(out, hdr, sizeof(hdr));
	size_t off = 0;
	do {
		size_t n = len - off > 65535 ? 65535 : len - off;
		unsigned char bh[5];
		bh[0] = off + n == len ? 1 : 0; /* BFINAL, BTYPE 00 */
		bh[1] = (unsigned char)n;
		bh[2] = (unsigned char)(n >> 8);
		bh[3] = (unsigned char)~n;
		bh[4] = (unsigned char)(~n >> 8);
		buf_add(out, bh, 5);
		buf_add(out, data + off, n);
		off += n;
	} while (off < len);
	put32le(out, crc32_of((const unsigned char *)data, len));
	put32le(out, (uint32_t)len);
}

/* ---- streamed answers ---- */

struct stream {
	long n, i; /* chunked: lines; big: bytes */
	int chunked;
};

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *s = cls;
	if (s->chunked) {
		if (s->i >= s->n)
			return MHD_CONTENT_READER_END_OF_STREAM;
		int w = snprintf(buf, max, "chunk %ld\n", s->i++);
		return w < 0 || (size_t)w >= max ? 0 : w;
	}
	size_t left = (size_t)s->n - (size_t)pos;
	if (!left)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (left > max)
		left = max;
	for (size_t k = 0; k < left; k++)
		buf[k] = (char)('0' + (pos + k) % 10);
	return (ssize_t)left;
}

static enum MHD_Result send_stream(struct MHD_Connection *c, long n,
				   int chunked)
{
	struct stream *s = calloc(1, sizeof(*s));
	if (!s)
		abort();
	s->n = n;
	s->chunked = chunked;
	struct MHD_Response *r = MHD_create_response_from_callback(
		chunked ? MHD_SIZE_UNKNOWN : (uint64_t)n, 16384, stream_read, s,
		free);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "text/plain");
	enum MHD_Result ret = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result answer(struct testhttpd *h, struct MHD_Connection *c,
			      const char *url, const char *method,
			      struct reqstate *rs)
{
	if (!strncmp(url, "/echo", 5)) {
		struct buf b = {NULL, 0, 0};
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
			c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		unsigned long id =
			ci && ci->socket_context
				? *(unsigned long *)ci->socket_context
				: 0;
		char num[32];
		buf_str(&b, "{\"method\":");
		buf_json(&b, method, strlen(method));
		buf_str(&b, ",\"path\":");
		buf_json(&b, url, strlen(url));
		buf_str(&b, ",\"args\":");
		kvs_json(&b, c, MHD_GET_ARGUMENT_KIND, 0);
		buf_str(&b, ",\"headers\":");
		kvs_json(&b, c, MHD_HEADER_KIND, 1);
		buf_str(&b, ",\"body\":");
		buf_json(&b, rs->body.p ? rs->body.p : "", rs->body.len);
		snprintf(num, sizeof(num), ",\"conn\":%lu}", id);
		buf_str(&b, num);
		enum MHD_Result r =
			send_buf(c, 200, b.p, b.len, "application/json");
		free(b.p);
		return r;
	}
	if (!strcmp(url, "/count")) {
		char doc[64];
		pthread_mutex_lock(&h->mu);
		unsigned long n = ++h->count;
		pthread_mutex_unlock(&h->mu);
		snprintf(doc, sizeof(doc), "{\"n\":%lu}", n);
		return send_json(c, 200, doc);
	}
	if (!strcmp(url, "/json"))
		return send_json(c, 200, "{\"a\":1,\"b\":{\"c\":\"x\"}}");
	if (!strncmp(url, "/status/", 8))
		return send_buf(c, (unsigned)strtoul(url + 8, NULL, 10), "", 0,
				NULL);
	if (!strncmp(url, "/redirect/", 10)) {
		long n = strtol(url + 10, NULL, 10);
		if (n <= 0)
			return send_json(c, 200, "{\"redirected\":true}");
		char loc[64];
		snprintf(loc, sizeof(loc), "/redirect/%ld", n - 1);
		struct MHD_Response *r = MHD_create_response_from_buffer(
			0, (void *)(uintptr_t) "", MHD_RESPMEM_PERSISTENT);
		MHD_add_response_header(r, "Location", loc);
		enum MHD_Result ret = MHD_queue_response(c, 302, r);
		MHD_destroy_response(r);
		return ret;
	}
	if (!strcmp(url, "/set-cookie")) {
		struct kvs kv = {NULL, NULL, 0, 0};
		MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect,
					  &kv);
		struct MHD_Response *r = MHD_create_response_from_buffer(
			2, (void *)(uintptr_t) "{}", MHD_RESPMEM_PERSISTENT);
		for (size_t i = 0; i < kv.n; i++) {
			char line[512];
			snprintf(line, sizeof(line), "%s=%s; Path=/", kv.k[i],
				 kv.v[i] ? kv.v[i] : "");
			MHD_add_response_header(r, "Set-Cookie", line);
			free(kv.k[i]);
			free(kv.v[i]);
		}
		free(kv.k);
		free(kv.v);
		MHD_add_response_header(r, "Content-Type", "application/json");
		enum MHD_Result ret = MHD_queue_response(c, 200, r);
		MHD_destroy_response(r);
		return ret;
	}
	if (!strcmp(url, "/repeat")) {
		struct MHD_Response *r = MHD_create_response_from_buffer(
			2, (void *)(uintptr_t) "{}", MHD_RESPMEM_PERSISTENT);
		MHD_add_response_header(r, "X-Multi", "one");
		MHD_add_response_header(r, "X-Multi", "two");
		MHD_add_response_header(r, "Set-Cookie", "r1=a; Path=/");
		MHD_add_response_header(r, "Set-Cookie", "r2=b; Path=/");
		enum MHD_Result ret = MHD_queue_response(c, 200, r);
		MHD_destroy_response(r);
		return ret;
	}
	if (!strcmp(url, "/gzip")) {
		static const char doc[] = "{\"gzip\":true,\"text\":\"hello "
					  "hello hello hello\"}";
		struct buf z = {NULL, 0, 0};
		gzip_stored(&z, doc, sizeof(doc) - 1);
		struct MHD_Response *r = MHD_create_response_from_buffer(
			z.len, z.p, MHD_RESPMEM_MUST_FREE);
		MHD_add_response_header(r, "Content-Type", "application/json");
		MHD_add_response_header(r, "Content-Encoding", "gzip");
		enum MHD_Result ret = MHD_queue_response(c, 200, r);
		MHD_destroy_response(r);
		return ret;
	}
	if (!strcmp(url, "/chunked"))
		return send_stream(c, arg_long(c, "n", 3), 1);
	if (!strcmp(url, "/big"))
		return send_stream(c, arg_long(c, "size", 1000), 0);
	if (!strcmp(url, "/slow")) {
		long ms = arg_long(c, "ms", 1000);
		struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
		return send_json(c, 200, "{\"slow\":true}");
	}
	if (!strcmp(url, "/xml"))
		return send_buf(c, 200,
				"<?xml version=\"1.0\"?>\n<shop><item "
				"id=\"1\">widget</item><item "
				"id=\"2\">gadget</item></shop>\n",
				strlen("<?xml version=\"1.0\"?>\n<shop><item "
				       "id=\"1\">widget</item><item "
				       "id=\"2\">gadget</item></shop>\n"),
				"application/xml");
	return send_json(c, 404, "{\"error\":\"no such route\"}");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct reqstate *rs = *con_cls;
	(void)version;
	if (!rs) {
		rs = calloc(1, sizeof(*rs));
		if (!rs)
			abort();
		*con_cls = rs;
		return MHD_YES;
	}
	if (*upload_size) {
		if (rs->body.len + *upload_size <= TESTHTTPD_BODY_MAX)
			buf_add(&rs->body, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	return answer(cls, c, url, method, rs);
}

/* Starts serving on 127.0.0.1:port (0: a free port); NULL on failure. */
static struct testhttpd *testhttpd_start(int port)
{
	struct testhttpd *h = calloc(1, sizeof(*h));
	struct sockaddr_in sa;
	if (!h)
		return NULL;
	pthread_mutex_init(&h->mu, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	h->d = MHD_start_daemon(
		MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD,
		(uint16_t)port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
		(struct sockaddr *)&sa, MHD_OPTION_NOTIFY_CONNECTION,
		on_connection, h, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
	if (!h->d) {
		pthread_mutex_destroy(&h->mu);
		free(h);
		return NULL;
	}
	const union MHD_DaemonInfo *di =
		MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	h->port = di ? di->port : port;
	return h;
}

static void testhttpd_stop(struct testhttpd *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->d);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

#ifndef TESTHTTPD_LIB
int main(int argc, char **argv)
{
	int port = 0;
	sigset_t set;
	int sig;
	if (argc == 3 && !strcmp(argv[1], "--port")) {
		port = (int)strtol(argv[2], NULL, 10);
	} else if (argc != 1) {
		fprintf(stderr, "usage: %s [--port N]\n", argv[0]);
		return 2;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	struct testhttpd *h = testhttpd_start(port);
	if (!h) {
		fprintf(stderr, "%s: cannot listen on 127.0.0.1:%d\n", argv[0],
			port);
		return 1;
	}
	printf("%d\n", h->port);
	fflush(stdout);
	sigwait(&set, &sig);
	testhttpd_stop(h);
	return 0;
}
#endif
