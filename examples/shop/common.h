/*
 * The plumbing that the three shop services share: command-line and
 * environment options, an HTTP server (libmicrohttpd, a thread per
 * connection) that collects the body and logs one line per request, JSON
 * answers, an HTTP client call (libcurl) and atomic file writes.
 *
 * The shop is a demo system for itest, not part of itest: it links only
 * libmicrohttpd, libcurl and cJSON.
 */
#ifndef SHOP_COMMON_H
#define SHOP_COMMON_H

#include <stddef.h>

#include <cjson/cJSON.h>

#define COMMON_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* What a service is, for option parsing and its messages. */
struct common_service {
	const char *name;	       /* "orders": messages and /health */
	int default_port;	       /* without --port and PORT */
	const char *need;	       /* the service it calls, or NULL */
	int need_port;		       /* the default port of `need` */
	int has_data;		       /* takes --data DIR */
	const char *const *fail_modes; /* NULL-terminated, or NULL */
};

/* The options after parsing; strings are borrowed from argv/environ. */
struct common_opts {
	const char *host; /* default 127.0.0.1 */
	int port;	  /* 0: the kernel picks one (it is logged) */
	const char *data; /* --data DIR, or NULL */
	char *need_url;	  /* --NEED URL / NEED_URL, no trailing '/'; owned */
	const char *fail_mode; /* --fail-mode / SHOP_FAIL_MODE, or NULL */
};

/*
 * Fills `o` from argv and the environment (PORT, <NEED>_URL,
 * SHOP_FAIL_MODE; the command line wins).  Returns 0, or -1 after
 * printing the usage with *exit_status set to the status to end with (0
 * after --help, 2 on misuse).  Release with common_opts_release.
 */
int common_opts_parse(struct common_opts *o, const struct common_service *svc,
		      int argc, char **argv, int *exit_status);
void common_opts_release(struct common_opts *o);

/* A complete request, as a handler sees it. */
struct common_req {
	const char *method;
	const char *path; /* decoded, without the query string */
	const char *body; /* NUL-terminated; "" when there is none */
	size_t body_len;
};

/* The answer a handler fills in; the server sends and frees it. */
struct common_resp {
	unsigned status;
	const char *type; /* Content-Type (static string) */
	char *body;	  /* owned (malloc) */
	size_t body_len;
};

typedef void (*common_handler)(void *ctx, const struct common_req *rq,
			       struct common_resp *rs);

/*
 * Serves `handler` (called from many threads at once: `ctx` must guard
 * its own state) on o->host:o->port until SIGTERM or SIGINT, then stops
 * the server and returns 0; 1 when it cannot listen.  Blocks those
 * signals in every thread, so call it before starting any thread.  The
 * `unhealthy` fail mode is handled here: GET /health answers 503.
 */
int common_serve(const struct common_service *svc, const struct common_opts *o,
		 common_handler handler, void *ctx);

/* Answers: `common_json` consumes `v`. */
void common_json(struct common_resp *rs, unsigned status, cJSON *v);
COMMON_PRINTF(3, 4)
void common_error(struct common_resp *rs, unsigned status, const char *fmt,
		  ...);
void common_text(struct common_resp *rs, unsigned status, const char *type,
		 const char *text);
/* GET /health: {"status":"ok","service":NAME}. */
void common_health(struct common_resp *rs, const char *service);
/* 404 for an unknown path, 405 for a known path and another method. */
void common_no_route(struct common_resp *rs, const struct common_req *rq,
		     int path_known);

/*
 * The part of `path` after `prefix` when that is one non-empty segment
 * ("/items/" and "/items/A1" give "A1"), else NULL.
 */
const char *common_path_arg(const char *path, const char *prefix);

/*
 * Parses a positive integer id ("12"); 0 when `s` is not one.
 */
long common_parse_id(const char *s);

/*
 * Reads `v` as a positive whole number no larger than `max`: 0 if it is
 * anything else (a string, 2.5, 0, -1, missing).
 */
long common_positive_int(const cJSON *v, long max);

/* The outcome of an HTTP call to another service. */
struct common_reply {
	long status; /* 0 when there is no answer */
	char *body;  /* owned; NUL-terminated ("" when empty) */
	size_t body_len;
	char error[256]; /* why there is no answer */
};

/* Set up and tear down the HTTP client (libcurl) around common_serve;
 * common_client_init prints why it failed. */
int common_client_init(void);
void common_client_cleanup(void);

/*
 * Sends METHOD url with the JSON `body` (or none when NULL) and waits at
 * most `timeout_ms`.  Returns 0 with any HTTP answer in `out`, or -1 with
 * out->error set (connection refused, timeout...).  Release `out` with
 * common_reply_release either way.
 */
int common_fetch(const char *method, const char *url, const char *body,
		 long timeout_ms, struct common_reply *out);
void common_reply_release(struct common_reply *r);

/* mkdir -p; 0 or -1 with errno. */
int common_mkdirs(const char *path);

/*
 * Reads DIR/NAME as JSON: 0 with *out (caller owns) set, or NULL when the
 * file does not exist; -1 with a message on stderr when it cannot be read
 * or parsed.
 */
int common_load_json(const char *dir, const char *name, cJSON **out);

/* Writes `v` to DIR/NAME atomically (temp file, fsync, rename); 0 or -1
 * with a message on stderr. */
int common_save_json(const char *dir, const char *name, const cJSON *v);

#endif
