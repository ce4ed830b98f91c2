/*
 * A deployment (SPEC 4): the live components of one stream of one suite.
 * Each component gets a free port for the whole life of the deployment
 * (so `${C.url}` never changes within a stream); stages then make it
 * real (its `run` started in a process group of its own, or its
 * engine's `deploy: up` run; logs to RUN_DIR/logs/SUITE/C.log, readiness
 * probed) or a stub (the built-in stub server on the same port), starting
 * and stopping only what changes.  Components started and engines' `down`
 * commands are noted in the registry of live runs (runtime.h) under
 * `reg_key`, for the reaper and `itest gc`.
 */
#ifndef ITEST_DEPLOY_H
#define ITEST_DEPLOY_H

#include "mask.h"
#include "suite.h"

struct stubsrv;
struct deployment;

struct deploy_opts {
	const char *run_id;
	const char *reg_key; /* the run's key in the registry of live runs
				(runtime.h), or NULL: not noted there */
	const char *run_dir;
	const char *stream;		/* "main", "top", "bottom": log names */
	const struct ivalue *cli_vars;	/* --var: looked up before suite vars */
	const struct ivalue *file_vars; /* --vars / --env */
	int cancel_fd; /* readable: give up waiting (interrupted) */
	const struct masker *mask;
};

/*
 * Reserves a port for every component of the suite (ITEST_PORTS=LO-HI,
 * default 20000-32767; each held by a lock file in the runtime folder for
 * the life of the deployment and checked free by a bind).  Starts
 * nothing.  NULL with err on failure.
 */
struct deployment *deploy_new(const struct suite *s,
			      const struct deploy_opts *o,
			      struct itest_err *err);

/*
 * Moves the deployment to a stage: components marked `real` run for
 * real, those marked `stubbed` are served by the stub server, all others
 * are stopped.  Only what changes is started or stopped; a stub and its
 * real component share the port.  Waits for every started component's
 * readiness probe.  0, or -1 with `why` holding the probe's last answer
 * and the last lines of the component's log (the run exits 3).
 */
int deploy_apply(struct deployment *d, const unsigned char *real,
		 const unsigned char *stubbed, struct strbuf *why);

/* {"C": {"host": ..., "port": N, "url": "http://host:N"}, ...}: the
 * built-in variables of every component (borrowed; stable). */
const struct ivalue *deploy_vars(const struct deployment *d);

/*
 * Has a component of `covers` (per component; NULL: any) that should be
 * running exited?  Returns 1 and explains (its exit status or signal and
 * the last lines of its log) in `why`; else 0.
 */
int deploy_check(struct deployment *d, const unsigned char *covers,
		 struct strbuf *why);

/* The stub server currently standing in for component `c`, or NULL. */
struct stubsrv *deploy_stub(struct deployment *d, size_t c);
/* The component listening at host:port in this deployment, or NULL:
 * which component a step reached (metrics, API coverage). */
const struct component *deploy_component_at(const struct deployment *d,
					    const char *host, int port);

/* Stops everything (stop signal, grace, then SIGKILL to each group; an
 * engine's `down`; stub servers closed) and releases the ports.  Accepts
 * NULL. */
void deploy_free(struct deployment *d);

/* Appends "inventory http://127.0.0.1:N, orders http://..." for the
 * components that run for real, then "(stubs end with itest: C ...)"
 * when some are stubs.  Returns the number of real ones. */
size_t deploy_describe(const struct deployment *d, struct strbuf *out);

/* --keep: frees the deployment but leaves its real components (their
 * processes, their engines' deployments) running; stubs end, the ports'
 * lock files are released.  Accepts NULL. */
void deploy_keep(struct deployment *d);

#endif
