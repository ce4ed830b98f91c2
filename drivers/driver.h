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
};

/* A step's outcome.  `parts` holds the named parts (exit, stdout, ...). */
struct itest_result {
	struct ivalue *parts;  /* an object; owned */
	const char *json_from; /* a part whose text is parsed lazily as
				  "json"; NULL: the driver sets "json" */
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
	size_t session_size;		  /* bytes the core callocs; 0: none */
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
};

/* registry.c */
extern const struct itest_driver *const itest_drivers[];
const struct itest_driver *driver_find(const char *name);

#endif
