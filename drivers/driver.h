/*
 * The driver interface.  A driver is data plus a small vtable: it declares
 * the keys of its step (checked centrally by the loader, with file:line:col
 * errors) and the parts of its result (so that `expect` and `capture` keys
 * are checked at load time too), and the core allocates its per-worker
 * session at the size it declares.  registry.c lists every driver.
 *
 * Contract: `open` is called lazily before the first step of a worker that
 * uses the driver; `close` is called exactly once for every session whose
 * `open` was called, even when `open` failed.  `exec` gets the step's
 * argument with every template already rendered and must not keep pointers
 * into it.  Nothing here may use mutable globals: workers run in parallel.
 */
#ifndef ITEST_DRIVER_H
#define ITEST_DRIVER_H

#include <stdatomic.h>

#include "value.h"

enum itest_status { IT_PASS, IT_FAIL, IT_ERROR, IT_SKIP };

struct suite;
struct deployment;
struct scope;

const char *status_name(enum itest_status s); /* "PASS", "FAIL", ... */

/* Type masks for keyspecs. */
#define TY(x)	  (1u << IV_##x)
#define TY_SCALAR (TY(STR) | TY(NUM) | TY(BOOL))
#define TY_ANY	  (TY(NULL) | TY_SCALAR | TY(ARR) | TY(OBJ))

struct itest_keyspec {
	const char *name;
	unsigned types; /* TY() bits of the types the value may have */
	int required;
};

/*
 * Busy waiting for answers from loopback (docs/http.md): a worker may spin
 * on its socket for up to budget_us instead of sleeping, when it takes one
 * of the run's free slots.  Owned by the runner.
 */
struct itest_spin {
	atomic_int slots; /* workers that may spin now */
	int budget_us;	  /* 0: never spin */
};

/* What a step may use; owned by the runner, valid during exec. */
struct itest_stepctx {
	const char *suite_dir;	  /* default working directory */
	const char *run_dir;	  /* OUT/RUN_ID */
	const char *artifact_dir; /* this attempt's artifacts folder */
	int64_t timeout_ms;	  /* for this step; 0: none */
	int cancel_fd;		  /* readable once the run is interrupted */
	size_t out_cap;		  /* memory cap for captured output */
	struct strbuf *log;	  /* the test's step log; masked on output */
	const struct ivalue
		*vars; /* visible variables (for external drivers) */
	const struct suite *suite;     /* the test's suite */
	struct deployment *deployment; /* its stream's, or NULL */
	const size_t *stub_marks;      /* per component: stub calls before the
					  test began (stubsrv_mark) */
	struct itest_spin *spin;       /* the run's busy waiting; may be NULL */
	const char *driver_key;	       /* the step's key: "ssh", or an external
					  driver's name ("pg") */
	/* The driver's suite-level settings, merged over the suite's
	 * includes and unrendered: the value of the driver's `suite_key`
	 * ("hosts" for ssh), or an external driver's `drivers:` entry.
	 * NULL when the suite has none. */
	const struct ivalue *conf;
	/* The step's template scope: tpl_render(conf or a part of it,
	 * scope, &err) gives the settings with ${...} resolved as the
	 * step's own templates are. */
	const struct scope *scope;
	/* Files this attempt saved in artifact_dir that the JUnit case
	 * attaches ([[ATTACHMENT|path]]): the driver appends each path
	 * (absolute, or relative to run_dir) with stepctx_attach(). */
	struct itest_attachments *attach;
	/* The step's `expect`, rendered, or NULL: a driver may read it to
	 * fetch only what is asked (the texts of the selectors under a
	 * browser step's `text:`).  Judging it stays the runner's job. */
	const struct ivalue *expect;
};

/* The list behind stepctx.attach; owned by the runner. */
struct itest_attachments {
	char **paths;
	size_t n;
};

/* Appends a command's output to a step log: "NAME:" and then the first
 * `max` bytes of `text` (cut at a character boundary), each line indented
 * by two spaces, NUL bytes as \0, and what was left out counted. */
void driver_log_stream(struct strbuf *log, const char *name,
		       const struct strbuf *text, size_t max);

/* Adds a copy of `path` to ctx->attach (nothing when it is NULL). */
void stepctx_attach(const struct itest_stepctx *ctx, const char *path);

/* A step's outcome.  `parts` holds the named parts (exit, stdout, ...). */
struct itest_result {
	struct ivalue *parts;  /* an object; owned */
	const char *json_from; /* a part whose text is parsed lazily as
				  "json"; NULL: the driver sets "json" */
	/* Parts that are maps whose expectation is a map of key ->
	 * predicate, checked key by key as `headers` is (the browser's
	 * `text: { "#result": "~Reserved" }`); NULL-ended, or NULL. */
	const char *const *keyed;
	/* Builds a part on its first use, for parts that cost something
	 * and are seldom asked for (http's headers, cookies, timings):
	 * returns it (result_part keeps it in `parts`) or NULL when there
	 * is none.  Called before the driver's next exec only.  NULL: exec
	 * sets every part itself. */
	struct ivalue *(*lazy)(struct itest_result *r, const char *name);
	void *lazy_data;
	/* Where the step went, for the metrics (SPEC 7): the address and
	 * port it connected to ("127.0.0.1", 23456), or "" and 0. */
	char target_host[48];
	int target_port;
	/* An HTTP request's method and path ("GET /orders/42"), for the
	 * coverage of a component's OpenAPI operations; malloc'd, or
	 * NULL. */
	char *target_request;
	struct strbuf message; /* why the step could not run (ERROR) */
};

void result_init(struct itest_result *r);
void result_release(struct itest_result *r);
/*
 * A part of the result, or NULL when it does not exist.  "json" is
 * parsed from `json_from` on first use; when that text is not JSON,
 * returns NULL and, if `why` is given, says why there.
 */
const struct ivalue *result_part(struct itest_result *r, const char *name,
				 struct strbuf *why);

struct itest_driver {
	const char *name;   /* the step key: "shell" */
	unsigned arg_types; /* TY() bits allowed for the step value */
	const struct itest_keyspec *keys; /* for a map value; {NULL} ends */
	const char *const *parts;	  /* result part names; NULL ends */
	/* Parts among those whose expectation is a map of key ->
	 * predicate (result.keyed): checked so at load time.  May be
	 * NULL. */
	const char *const *keyed_parts;
	size_t session_size; /* bytes the core callocs; 0: none */
	/* Deeper load-time checks (no I/O); may be NULL. */
	int (*check_step)(const struct ivalue *arg, struct itest_err *err);
	/* May be NULL when session_size is 0. */
	int (*open)(void *session, const struct itest_stepctx *ctx,
		    struct itest_err *err);
	enum itest_status (*exec)(void *session,
				  const struct itest_stepctx *ctx,
				  const struct ivalue *arg,
				  struct itest_result *res);
	/* A test ended on this worker (drop per-test state); may be NULL. */
	void (*test_end)(void *session);
	void (*close)(void *session); /* may be NULL */
	/* A one-line description of a step's argument (unrendered), after
	 * the driver's name: "echo hi", "GET ${api}/orders".  May be NULL:
	 * then the argument is shown as compact JSON. */
	void (*summary)(const struct ivalue *arg, struct strbuf *out);
	/* This worker moves on to another stage: drop connections to
	 * components that may have been swapped (SPEC 8 "Ports").  May be
	 * NULL. */
	void (*stage_end)(void *session);

	/* ---- suite-level settings (hosts:, browser:) ---- */

	/* The top-level suite key that configures this driver ("hosts",
	 * "browser"); includes merge it (the suite's own entries win).
	 * NULL: none. */
	const char *suite_key;
	/* Steps do not use the driver's name but the names its suite_key
	 * map defines (`drivers: { pg: ... }` makes `pg:` steps). */
	int external;
	/* Load-time check of that key's merged value (no I/O); may be
	 * NULL. */
	int (*check_conf)(const struct ivalue *conf, struct itest_err *err);
	/* Load-time check of a step against the settings (conf is NULL
	 * when the suite has none): an ssh step naming no host.  May be
	 * NULL. */
	int (*check_step_conf)(const struct ivalue *arg,
			       const struct ivalue *conf,
			       struct itest_err *err);
	/* The part of conf a step uses, whose ${C.*} count for the test's
	 * `covers` (ssh: hosts[arg.host]).  NULL hook: all of conf. */
	const struct ivalue *(*step_conf)(const struct ivalue *arg,
					  const struct ivalue *conf);
	/* A step of this driver failed (FAIL or ERROR), before the test
	 * moves on: save evidence (a screenshot, the page source) into
	 * ctx->artifact_dir and attach it.  May be NULL. */
	void (*step_failed)(void *session, const struct itest_stepctx *ctx);
};

/* registry.c */
extern const struct itest_driver *const itest_drivers[];
const struct itest_driver *driver_find(const char *name);

#endif
