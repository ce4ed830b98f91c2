/*
 * The runner: selection, stages, the worker pool, test and step execution
 * (templates, drivers, expectations, captures, retries, timeouts), signal
 * handling, and the hand-off of results to the reporters in file order.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "deploy.h"
#include "coverage.h"
#include "expect.h"
#include "gcov.h"
#include "metrics.h"
#include "openapi.h"
#include "plan.h"
#include "reaper.h"
#include "reporter.h"
#include "runner.h"
#include "stubsrv.h"
#include "runtime.h"
#include "spawn.h"
#include "template.h"

#define OUT_CAP_DEFAULT (4u << 20)
/* A test's step log is kept for the JUnit report: bounded. */
#define LOG_CAP (256u << 10)

enum stage_state { ST_PENDING, ST_DEPLOYING, ST_RUNNING, ST_TEARDOWN, ST_DONE };

/*
 * A stream: one deployment of a suite that lives across its stages (a
 * sandwich has two).  Setup runs once before its first test, teardown
 * once after its last stage.
 */
struct stream {
	struct suite *suite;
	const char *name;	/* "main", "top", "bottom" */
	struct deployment *dep; /* NULL until deployed; none without
				   components */
	size_t remaining;	/* stages not yet done */
	int setup_done;
	struct ivalue *setup_caps;
	char *setup_error;  /* setup failed: why, one line */
	char *setup_detail; /* and the full text */
	int deploy_failed;
};

/*
 * A suite's `lock: NAME`: taken before its first deployment, released
 * after the teardown of its last stream.  Two suites of one run that
 * name the same lock do not wait for each other in a worker (the holder
 * might need that worker): the second one's stages are simply not
 * started until the first one is done.
 */
struct slock {
	const struct suite *suite;
	const char *name;
	int fd;		/* holding it, or -1 */
	int taking;	/* a worker is waiting for it */
	size_t streams; /* streams of the suite not yet torn down */
};

struct stage {
	struct suite *suite;
	struct stream *stream;
	const struct pstage *ps; /* the plan's stage */
	int deps[2];		 /* indices into run->stages, or -1 */
	struct test **tests;	 /* selected, file order */
	size_t ntests;
	struct rep_stage rep; /* rep.cases: one per test (+ [teardown]) */
	unsigned char *done;  /* per case: result final */
	enum stage_state state;
	size_t next;	 /* next test to start */
	size_t running;	 /* tests in progress */
	size_t reported; /* cases handed to the reporters */
	int failed;	 /* a test failed or errored (a flaky pass does not) */
	int alone;	 /* a test that must run alone is running */
	char *blocked;	 /* why this stage's tests do not run, or NULL */
	double t0;
};

struct run {
	const struct itest_opts *o;
	struct masker *mask;
	const struct ivalue *file_vars;
	struct plan *plans; /* one per suite */
	size_t nplans;
	struct stream *streams;
	size_t nstreams;
	struct stage *stages;
	size_t nstages;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int cancel_fd; /* readable once interrupted: ends running steps */
	int force_fd;  /* readable on a second signal: ends teardown too */
	atomic_int interrupted;
	atomic_int signo;
	atomic_int quit; /* the signal thread ends */
	int stop;	 /* --fail-fast tripped */
	const char *stop_reason;
	int deploy_failed; /* exit 3 */
	size_t report_stage;
	size_t running_total;
	const struct reporter *reps[8];
	void *repst[8];
	size_t nreps;
	struct rep_run rep;
	char *run_id, *run_dir;
	double t0;
	struct slock *slocks;
	size_t nslocks;
	struct runtime_reg *reg; /* this run in the registry of live runs */
	struct itest_spin spin;	 /* busy waiting of the http driver */
	struct metrics metrics;	 /* every worker's, merged at the end */
	struct coverage_map *coverage; /* built at the end */
	struct gcov_summary code;      /* gcov-built components */
	struct reaper *reaper;
};

/* One worker thread: its driver sessions are its own. */
/* Requests that matched an operation of a component's OpenAPI. */
struct api_hit {
	const struct component *c;
	size_t op, count;
};

struct worker {
	const struct stage *last; /* the stage of its last test */
	struct run *run;
	struct api_hit *hits; /* this worker's, one per operation */
	size_t nhits, ahits;
	struct metrics metrics; /* this worker's steps */
	void **sessions;	/* per driver in itest_drivers[] */
	unsigned char *opened;
	size_t ndrivers;
};

/* The state of one test attempt (or of a setup or teardown run). */
struct exec {
	struct worker *w;
	struct stage *stage;
	const struct test *test; /* NULL for setup/teardown */
	struct ivalue *caps;	 /* captures of this test (or setup) */
	struct strbuf *log;
	double deadline; /* monotonic ms; 0: none */
	int64_t test_timeout_ms;
	int cancel_fd;
	int run_all; /* teardown: run every step, even after one fails */
	struct strbuf message; /* the first failure: one line */
	struct strbuf detail;  /* the first failure: the full text */
	const char *artifact_dir;
	size_t *stub_marks; /* per component: stub records before the test */
	struct itest_attachments attach; /* files the drivers saved */
};

/* ---- helpers ---- */

/*
 * Busy waiting (docs/http.md "Answers from loopback"): half the online
 * CPUs may spin at once (none on one CPU), for ITEST_SPIN_US
 * microseconds (SPIN_US_DEFAULT; 0 turns it off) per wait.
 */
#define SPIN_US_DEFAULT 200
#define SPIN_US_MAX	100000

static int spin_setup(struct itest_spin *sp)
{
	const char *v = getenv("ITEST_SPIN_US");
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	sp->budget_us = SPIN_US_DEFAULT;
	if (v && *v) {
		char *end;
		errno = 0;
		long us = strtol(v, &end, 10);
		if (errno || *end || us < 0 || us > SPIN_US_MAX) {
			fprintf(stderr,
				"itest: error: bad ITEST_SPIN_US '%s' (write "
				"microseconds from 0 to %d; 0 turns busy "
				"waiting off)\n",
				v, SPIN_US_MAX);
			return -1;
		}
		sp->budget_us = (int)us;
	}
	atomic_init(&sp->slots, cpus > 1 ? (int)(cpus / 2) : 0);
	return 0;
}

/* "GET /orders/42" reached `c`: counts for the operation it matches. */
static void note_api_hit(struct worker *w, const struct component *c,
			 const char *request)
{
	const char *sp = strchr(request, ' ');
	if (!sp)
		return;
	char method[16];
	size_t n = (size_t)(sp - request);
	if (n >= sizeof(method))
		return;
	memcpy(method, request, n);
	method[n] = '\0';
	long op = openapi_match(c->api, method, sp + 1);
	if (op < 0)
		return;
	for (size_t i = 0; i < w->nhits; i++)
		if (w->hits[i].c == c && w->hits[i].op == (size_t)op) {
			w->hits[i].count++;
			return;
		}
	XGROW(w->hits, w->ahits, w->nhits + 1);
	w->hits[w->nhits++] = (struct api_hit){c, (size_t)op, 1};
}

static int cancelled(int fd)
{
	struct pollfd p = {fd, POLLIN, 0};
	return fd >= 0 && poll(&p, 1, 0) > 0;
}

/*
 * cancelled(x->cancel_fd) without a poll while the run is not interrupted:
 * the signal thread sets `interrupted` before it writes the cancel fd, so
 * the fd cannot be readable yet.  (The force fd of teardown is polled.)
 */
static int exec_cancelled(const struct exec *x)
{
	struct run *r = x->w->run;
	if (x->cancel_fd >= 0 && x->cancel_fd == r->cancel_fd &&
	    !atomic_load(&r->interrupted))
		return 0;
	return cancelled(x->cancel_fd);
}

/* Sleeps up to ms, waking early when fd turns readable. */
static void nap(int fd, double ms)
{
	if (ms <= 0)
		return;
	struct pollfd p = {fd, POLLIN, 0};
	poll(&p, fd >= 0 ? 1 : 0, (int)(ms + 0.5));
}

static void step_summary(struct strbuf *sb, const struct step *st)
{
	if (st->name) {
		strbuf_addstr(sb, st->name);
		return;
	}
	if (st->use) {
		strbuf_addf(sb, "use %s", st->use->name);
		return;
	}
	strbuf_addf(sb, "%s ", st->drv_key);
	struct strbuf a = STRBUF_INIT;
	if (st->drv->summary)
		st->drv->summary(st->arg, &a);
	else
		iv_display(&a, st->arg);
	for (size_t i = 0; i < a.len; i++)
		if (a.buf[i] == '\n' || a.buf[i] == '\t')
			a.buf[i] = ' ';
	if (a.len > 60) {
		strbuf_setlen(&a, 57);
		strbuf_addstr(&a, "...");
	}
	strbuf_add(sb, a.buf, a.len);
	strbuf_release(&a);
}

/* ---- steps ---- */

static void *session_for(struct exec *x, const struct step *st,
			 const struct itest_stepctx *ctx, struct strbuf *why)
{
	struct worker *w = x->w;
	const struct itest_driver *d = st->drv;
	size_t i = st->drv_index;
	if (!d->session_size)
		return NULL;
	if (!w->opened[i]) {
		struct itest_err err = ITEST_ERR_INIT;
		w->sessions[i] = xcalloc(1, d->session_size);
		w->opened[i] = 1;
		if (d->open && d->open(w->sessions[i], ctx, &err) < 0) {
			strbuf_addf(why, "cannot start the %s driver: %s",
				    d->name, err.msg);
			w->opened[i] = 2; /* failed: close once at the end */
			return NULL;
		}
	}
	if (w->opened[i] == 2) {
		strbuf_addf(why, "the %s driver failed to start", d->name);
		return NULL;
	}
	return w->sessions[i];
}

static int has_part(const struct itest_driver *d, const char *name)
{
	for (const char *const *p = d->parts; p && *p; p++)
		if (!strcmp(*p, name))
			return 1;
	return 0;
}

static enum itest_status run_steps(struct exec *x, const struct steps *ss,
				   const struct scope *sc, const char *prefix);

/*
 * A step part as the driver sees it: the part itself when it holds no
 * template (*own stays NULL), else its rendering, owned by *own.
 */
static const struct ivalue *render_part(const struct ivalue *v,
					const struct scope *sc,
					struct ivalue **own,
					struct itest_err *err)
{
	if (tpl_is_static(v))
		return v;
	*own = tpl_render(v, sc, err);
	return *own;
}

/*
 * Runs one driver step, polling while `retry` says so.  *last is set to
 * where the last attempt's log begins, so that a failure shows that
 * attempt's output only.
 */
static enum itest_status run_driver_step(struct exec *x, const struct step *st,
					 const struct scope *sc,
					 const char *label, struct strbuf *why,
					 size_t *last)
{
	struct run *r = x->w->run;
	enum itest_status status = IT_ERROR;
	int attempt;
	for (attempt = 1; attempt <= st->retry_attempts; attempt++) {
		struct itest_err err = ITEST_ERR_INIT;
		struct itest_result res;
		/* a template-free part is used as it is, not copied */
		const struct ivalue *arg = NULL, *expect = NULL,
				    *capture = NULL;
		struct ivalue *arg_own = NULL, *expect_own = NULL,
			      *capture_own = NULL;
		int64_t timeout = st->timeout_ms;
		if (attempt > 1)
			strbuf_addf(x->log, "--- step %s, attempt %d of %d\n",
				    label, attempt, st->retry_attempts);
		*last = x->log->len;
		strbuf_reset(why);
		result_init(&res);
		if (x->deadline) {
			double left = x->deadline - now_ms();
			if (left <= 0) {
				strbuf_addstr(why, "test timed out after ");
				strbuf_add_duration(why, x->test_timeout_ms);
				status = IT_ERROR;
				result_release(&res);
				break;
			}
			if (!timeout || left < timeout)
				timeout = (int64_t)left + 1;
		}
		arg = render_part(st->arg, sc, &arg_own, &err);
		if (arg && st->expect)
			expect = render_part(st->expect, sc, &expect_own, &err);
		if (arg && (expect || !st->expect) && st->capture)
			capture = render_part(st->capture, sc, &capture_own,
					      &err);
		struct itest_stepctx ctx = {
			.suite_dir = x->stage->suite->dir,
			.run_dir = r->run_dir,
			.artifact_dir = x->artifact_dir,
			.timeout_ms = timeout,
			.cancel_fd = x->cancel_fd,
			.out_cap = OUT_CAP_DEFAULT,
			.log = x->log,
			.vars = x->caps,
			.suite = x->stage->suite,
			.deployment = x->stage->stream->dep,
			.stub_marks = x->stub_marks,
			.spin = &r->spin,
			.driver_key = st->drv_key,
			.conf = suite_driver_conf(x->stage->suite, st->drv,
						  st->drv_key),
			.scope = sc,
			.attach = &x->attach,
			.expect = expect,
		};
		void *sess = NULL;
		if (err.set) {
			struct strbuf l = STRBUF_INIT;
			loc_format(&l, &err.loc);
			strbuf_addf(why, "%s%s%s", l.buf, l.len ? ": " : "",
				    err.msg);
			strbuf_release(&l);
			status = IT_ERROR;
		} else {
			sess = session_for(x, st, &ctx, why);
			if (st->drv->session_size && !sess) {
				status = IT_ERROR;
			} else {
				double t_exec = now_ms();
				status = st->drv->exec(sess, &ctx, arg, &res);
				const struct component *to =
					deploy_component_at(
						x->stage->stream->dep,
						res.target_host,
						res.target_port);
				metrics_add(&x->w->metrics,
					    to ? to->name : NULL, st->drv_key,
					    t_exec, now_ms() - t_exec,
					    status == IT_ERROR);
				if (to && to->api && res.target_request)
					note_api_hit(x->w, to,
						     res.target_request);
				if (status != IT_PASS)
					strbuf_add(why, res.message.buf,
						   res.message.len);
			}
		}
		if (status == IT_PASS) {
			/* a step with an exit code expects 0 unless it says */
			if (has_part(st->drv, "exit") &&
			    iv_get(res.parts, "exit") &&
			    !iv_get(expect, "exit")) {
				if (!expect_own)
					expect = expect_own =
						expect ? iv_clone(expect)
						       : iv_obj();
				iv_set(expect_own, "exit", iv_int(0));
			}
			if (expect)
				status = expect_eval(expect, &res,
						     x->stage->suite->dir, why);
			if (status == IT_PASS && capture)
				status = capture_eval(capture, &res, x->caps,
						      why);
		}
		if (x->deadline && status == IT_ERROR &&
		    now_ms() >= x->deadline) {
			strbuf_reset(why);
			strbuf_addstr(why, "test timed out after ");
			strbuf_add_duration(why, x->test_timeout_ms);
		}
		int final = status == IT_PASS ||
			    attempt == st->retry_attempts ||
			    cancelled(x->cancel_fd) ||
			    (x->deadline && now_ms() >= x->deadline);
		/* evidence of the failure (a browser's screenshot), once */
		if (final && status != IT_PASS && sess && st->drv->step_failed)
			st->drv->step_failed(sess, &ctx);
		iv_free(arg_own);
		iv_free(expect_own);
		iv_free(capture_own);
		result_release(&res);
		if (final)
			break;
		strbuf_rtrim(why);
		const char *nl = strchr(why->buf, '\n');
		strbuf_addf(x->log, "    attempt %d of %d: %s: %.*s\n", attempt,
			    st->retry_attempts, status_name(status),
			    (int)(nl ? (size_t)(nl - why->buf) : why->len),
			    why->buf);
		nap(x->cancel_fd, (double)st->retry_interval_ms);
	}
	if (status != IT_PASS && st->retry_attempts > 1) {
		strbuf_rtrim(why);
		strbuf_addf(why, "\n(gave up after %d of %d attempts)",
			    attempt > st->retry_attempts ? st->retry_attempts
							 : attempt,
			    st->retry_attempts);
	}
	return status;
}

/* Records the first failure of this run of steps. */
static void note_failure(struct exec *x, const struct step *st,
			 const char *label, const char *name,
			 enum itest_status status, struct strbuf *why,
			 size_t logstart)
{
	struct strbuf loc = STRBUF_INIT;
	strbuf_rtrim(why);
	const char *nl = strchr(why->buf, '\n');
	size_t first = nl ? (size_t)(nl - why->buf) : why->len;
	strbuf_addf(&x->message, "step %s (%s): ", label, name);
	strbuf_add(&x->message, why->buf, first);
	loc_format(&loc, &st->node->loc);
	strbuf_addf(&x->detail, "step %s '%s' %s at %s\n", label, name,
		    status == IT_FAIL ? "failed" : "errored", loc.buf);
	strbuf_release(&loc);
	for (const char *p = why->buf; *p;) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		strbuf_addstr(&x->detail, "  ");
		strbuf_add(&x->detail, p, n);
		strbuf_addch(&x->detail, '\n');
		p += n + (e ? 1 : 0);
	}
	/* the step's own log: the command, its exit, its output */
	if (logstart < x->log->len)
		strbuf_add(&x->detail, x->log->buf + logstart,
			   x->log->len - logstart);
	strbuf_rtrim(&x->detail);
}

static enum itest_status run_step(struct exec *x, const struct step *st,
				  const struct scope *sc, const char *label)
{
	struct strbuf why = STRBUF_INIT, name = STRBUF_INIT;
	enum itest_status status;
	size_t logstart;
	if (st->name && tpl_has_vars(st->name, strlen(st->name))) {
		/* a step name may use variables too */
		struct itest_err err = ITEST_ERR_INIT;
		if (tpl_render_text(st->name, strlen(st->name), sc, &name, NULL,
				    &err) < 0) {
			strbuf_reset(&name);
			strbuf_addstr(&name, st->name);
		}
	} else {
		step_summary(&name, st);
	}
	strbuf_addstr(x->log, "--- step ");
	strbuf_addstr(x->log, label);
	strbuf_addstr(x->log, ": ");
	strbuf_addstr(x->log, name.buf);
	strbuf_addch(x->log, '\n');
	logstart = x->log->len;
	if (exec_cancelled(x)) {
		strbuf_addstr(&why, "interrupted");
		status = IT_ERROR;
	} else if (st->use) {
		/* a block: its parameters shadow everything; its captures
		 * land in this test's captures */
		struct itest_err err = ITEST_ERR_INIT;
		struct ivalue *params =
			st->with ? tpl_render(st->with, sc, &err) : iv_obj();
		if (!params) {
			strbuf_addstr(&why, err.msg);
			status = IT_ERROR;
		} else {
			/* the parameters first, then everything the caller
			 * sees: however deep blocks nest, nothing is lost */
			struct scope inner = *sc;
			char *sub = xasprintf("%s.", label);
			inner.layers[0] = params;
			inner.nlayers = 1;
			inner.parent = sc;
			status = run_steps(x, &st->use->steps, &inner, sub);
			free(sub);
			iv_free(params);
			strbuf_release(&why);
			strbuf_release(&name);
			return status;
		}
	} else {
		status = run_driver_step(x, st, sc, label, &why, &logstart);
	}
	if (status != IT_PASS && !x->message.len)
		note_failure(x, st, label, name.buf, status, &why, logstart);
	strbuf_addf(x->log, "    %s\n", status_name(status));
	strbuf_release(&why);
	strbuf_release(&name);
	return status;
}

/* Runs a list of steps, numbered "1", "2", ... under `prefix` ("2." for
 * the steps of a block called by step 2). */
static enum itest_status run_steps(struct exec *x, const struct steps *ss,
				   const struct scope *sc, const char *prefix)
{
	enum itest_status worst = IT_PASS;
	for (size_t i = 0; i < ss->n; i++) {
		char label[64];
		snprintf(label, sizeof(label), "%s%zu", prefix, i + 1);
		enum itest_status s = run_step(x, &ss->v[i], sc, label);
		if (s != IT_PASS && worst == IT_PASS)
			worst = s;
		if (s != IT_PASS && !x->run_all)
			break;
	}
	return worst;
}

/* ---- tests ---- */

static struct ivalue *make_builtins(struct run *r, const struct stage *s,
				    const struct test *t)
{
	struct ivalue *b = iv_obj(), *run = iv_obj(), *test = iv_obj();
	const struct ivalue *cv =
		s->stream->dep ? deploy_vars(s->stream->dep) : NULL;
	for (size_t i = 0; cv && i < cv->u.obj.n; i++)
		iv_set(b, cv->u.obj.m[i].key, iv_clone(cv->u.obj.m[i].val));
	iv_set(run, "id", iv_str(r->run_id));
	iv_set(run, "dir", iv_str(r->run_dir));
	iv_set(b, "run", run);
	if (t) {
		iv_set(test, "name", iv_str(t->name));
		iv_set(test, "id", iv_str(t->id));
	}
	iv_set(b, "test", test);
	return b;
}

static void base_scope(struct run *r, struct stage *s, const struct test *t,
		       struct ivalue *caps, const struct ivalue *builtins,
		       struct scope *sc)
{
	memset(sc, 0, sizeof(*sc));
	scope_push(sc, caps);
	if (t)
		scope_push(sc, t->row);
	scope_push(sc, s->stream->setup_caps);
	scope_push(sc, r->o->vars);
	scope_push(sc, r->file_vars);
	sc->suite_vars = s->suite->vars;
	sc->builtins = builtins;
}

static char *masked(struct run *r, const char *s)
{
	return mask_dup(r->mask, s);
}

/* A test (or setup, or teardown) ended on this worker: drivers drop what
 * must not outlive it, such as cookies. */
static void end_sessions(struct worker *w)
{
	for (size_t d = 0; d < w->ndrivers; d++)
		if (w->opened[d] == 1 && itest_drivers[d]->test_end)
			itest_drivers[d]->test_end(w->sessions[d]);
}

/* The worker moves to a test of another stage: its drivers drop what
 * leads to components that may have been swapped since. */
static void enter_stage(struct worker *w, const struct stage *s)
{
	if (w->last == s)
		return;
	if (w->last)
		for (size_t d = 0; d < w->ndrivers; d++)
			if (w->opened[d] == 1 && itest_drivers[d]->stage_end)
				itest_drivers[d]->stage_end(w->sessions[d]);
	w->last = s;
}

/* Where each stub's records stand as a test begins: a `stub` step sees
 * the calls since then. */
static size_t *stub_marks(const struct stage *s)
{
	size_t n = s->suite->ncomponents;
	size_t *marks = xcalloc(n + 1, sizeof(*marks));
	for (size_t c = 0; s->stream->dep && c < n; c++) {
		struct stubsrv *srv = deploy_stub(s->stream->dep, c);
		if (srv)
			marks[c] = stubsrv_mark(srv);
	}
	return marks;
}

/* Runs every attempt of a test into its report case. */
static void run_test(struct worker *w, struct stage *s, size_t idx)
{
	struct run *r = w->run;
	const struct test *t = s->tests[idx];
	struct rep_case *rc = &s->rep.cases[idx];
	struct ivalue *builtins = make_builtins(r, s, t);
	double t0 = now_ms();
	enter_stage(w, s);
	if (s->stream->setup_error) {
		rc->status = IT_ERROR;
		rc->message =
			xasprintf("setup failed: %s", s->stream->setup_error);
		rc->detail =
			xasprintf("setup failed: %s", s->stream->setup_detail);
		goto out;
	}
	if (t->skip) {
		rc->status = IT_SKIP;
		rc->message = xstrdup(t->skip);
		goto out;
	}
	if (s->stream->dep) {
		/* a component this test covers that died errors it */
		struct strbuf why = STRBUF_INIT;
		if (deploy_check(s->stream->dep, t->covers, &why)) {
			rc->status = IT_ERROR;
			rc->detail = masked(r, why.buf);
			const char *nl = strchr(rc->detail, '\n');
			rc->message = nl ? xstrndup(rc->detail,
						    (size_t)(nl - rc->detail))
					 : xstrdup(rc->detail);
			strbuf_release(&why);
			goto out;
		}
		strbuf_release(&why);
	}
	if (t->skip_if) {
		struct scope sc;
		struct itest_err err = ITEST_ERR_INIT;
		base_scope(r, s, t, NULL, builtins, &sc);
		struct ivalue *v = tpl_render(t->skip_if, &sc, &err);
		if (!v) {
			rc->status = IT_ERROR;
			rc->message = masked(r, err.msg);
			goto out;
		}
		if (tpl_truthy(v)) {
			struct strbuf sb = STRBUF_INIT;
			strbuf_addstr(&sb, "skip-if: ");
			iv_display(&sb, v);
			rc->status = IT_SKIP;
			rc->message = masked(r, sb.buf);
			strbuf_release(&sb);
			iv_free(v);
			goto out;
		}
		iv_free(v);
	}
	for (int attempt = 1; attempt <= 1 + t->retries; attempt++) {
		struct strbuf log = STRBUF_INIT;
		log.cap = LOG_CAP;
		struct exec x = {0};
		struct scope sc;
		char *artdir =
			xasprintf("%s/artifacts/%s/%s/attempt-%d", r->run_dir,
				  s->suite->name, t->name, attempt);
		x.w = w;
		x.stage = s;
		x.test = t;
		x.caps = iv_obj();
		x.log = &log;
		x.cancel_fd = r->cancel_fd;
		x.artifact_dir = artdir;
		x.stub_marks = stub_marks(s);
		x.test_timeout_ms = t->timeout_ms;
		strbuf_init(&x.message, 0);
		strbuf_init(&x.detail, 0);
		t0 = now_ms();
		if (t->timeout_ms)
			x.deadline = t0 + (double)t->timeout_ms;
		base_scope(r, s, t, x.caps, builtins, &sc);
		enum itest_status st = run_steps(&x, t->steps, &sc, "");
		end_sessions(w);
		rc->attempts = attempt;
		rc->time_s = (now_ms() - t0) / 1e3;
		if (log.dropped) {
			log.cap = 0;
			strbuf_addf(&log,
				    "\n... (%zu more bytes of log dropped)\n",
				    log.dropped);
		}
		if (st == IT_PASS || attempt == 1 + t->retries ||
		    cancelled(r->cancel_fd)) {
			rc->status = st;
			rc->flaky = st == IT_PASS && attempt > 1;
			rc->log = mask_detach(r->mask, &log);
			if (st != IT_PASS) {
				rc->message = masked(r, x.message.buf);
				rc->detail = masked(r, x.detail.buf);
			}
		} else {
			rc->failed = xrealloc(rc->failed,
					      (rc->nfailed + 1) *
						      sizeof(*rc->failed));
			struct rep_attempt *a = &rc->failed[rc->nfailed++];
			a->status = st;
			a->message = masked(r, x.message.buf);
			a->detail = masked(r, x.detail.buf);
			a->log = mask_detach(r->mask, &log);
			a->time_s = rc->time_s;
		}
		/* every attempt's files, in order */
		rc->attachments = xrealloc(rc->attachments,
					   (rc->nattach + x.attach.n + 1) *
						   sizeof(*rc->attachments));
		for (size_t i = 0; i < x.attach.n; i++)
			rc->attachments[rc->nattach++] = x.attach.paths[i];
		free(x.attach.paths);
		iv_free(x.caps);
		free(x.stub_marks);
		strbuf_release(&x.message);
		strbuf_release(&x.detail);
		strbuf_release(&log);
		free(artdir);
		if (st == IT_PASS || cancelled(r->cancel_fd))
			break;
	}
	iv_free(builtins);
	return;
out:
	rc->time_s = (now_ms() - t0) / 1e3;
	iv_free(builtins);
}

/* What a setup or teardown run left: its log and, if it failed, why. */
struct fixture {
	int failed;
	enum itest_status status;
	char *message, *detail, *log; /* masked */
	double time_s;
};

static void fixture_release(struct fixture *f)
{
	free(f->message);
	free(f->detail);
	free(f->log);
	memset(f, 0, sizeof(*f));
}

/*
 * Runs setup (stops at the first failure; its captures go to the stage)
 * or teardown (runs every step whatever fails, and cannot be interrupted
 * but by a second signal).
 */
static void run_fixture(struct worker *w, struct stage *s,
			const struct steps *ss, int teardown,
			struct fixture *out)
{
	struct run *r = w->run;
	struct exec x = {0};
	struct scope sc;
	struct strbuf log = STRBUF_INIT;
	struct ivalue *builtins;
	double t0 = now_ms();
	memset(out, 0, sizeof(*out));
	if (!ss->n)
		return;
	enter_stage(w, s);
	builtins = make_builtins(r, s, NULL);
	log.cap = LOG_CAP;
	x.w = w;
	x.stage = s;
	x.caps = teardown ? iv_obj() : s->stream->setup_caps;
	x.log = &log;
	x.cancel_fd = teardown ? r->force_fd : r->cancel_fd;
	x.run_all = teardown;
	x.artifact_dir = r->run_dir;
	strbuf_init(&x.message, 0);
	strbuf_init(&x.detail, 0);
	base_scope(r, s, NULL, teardown ? x.caps : NULL, builtins, &sc);
	out->status = run_steps(&x, ss, &sc, "");
	end_sessions(w);
	/* setup and teardown have no test case to attach files to: they
	 * stay in the run folder */
	for (size_t i = 0; i < x.attach.n; i++)
		free(x.attach.paths[i]);
	free(x.attach.paths);
	if (out->status != IT_PASS) {
		out->failed = 1;
		out->message = masked(r, x.message.buf);
		out->detail = masked(r, x.detail.buf);
	}
	out->log = mask_detach(r->mask, &log);
	out->time_s = (now_ms() - t0) / 1e3;
	if (teardown)
		iv_free(x.caps);
	strbuf_release(&x.message);
	strbuf_release(&x.detail);
	strbuf_release(&log);
	iv_free(builtins);
}

/* Components built with gcov wrote .gcda files under the run folder as
 * they stopped: line coverage from them (runner/gcov.c). */
static void collect_code_coverage(struct run *r)
{
	int any = 0;
	for (size_t i = 0; i < r->nplans && !any; i++) {
		const struct suite *su = r->plans[i].suite;
		for (size_t c = 0; c < su->ncomponents; c++)
			any |= su->components[c].gcov;
	}
	if (!any || !r->run_dir)
		return;
	struct strbuf notes = STRBUF_INIT;
	struct itest_err err = ITEST_ERR_INIT;
	if (gcov_collect(r->run_dir, r->mask, &r->code, &notes, &err) < 0)
		fprintf(stderr, "itest: warning: code coverage: %s\n", err.msg);
	for (const char *p = notes.buf; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		fprintf(stderr, "itest: code coverage: %.*s\n", (int)n, p);
		p += n + (nl ? 1 : 0);
	}
	strbuf_release(&notes);
	r->rep.code = &r->code;
}

/* ---- reporting ---- */

static void report_ready(struct run *r)
{
	while (r->report_stage < r->nstages) {
		struct stage *s = &r->stages[r->report_stage];
		while (s->reported < s->rep.ncases && s->done[s->reported]) {
			for (size_t k = 0; k < r->nreps; k++)
				if (r->reps[k]->case_done)
					r->reps[k]->case_done(
						r->repst[k], &s->rep,
						&s->rep.cases[s->reported]);
			s->reported++;
		}
		if (s->state != ST_DONE || s->reported < s->rep.ncases)
			break;
		r->report_stage++;
	}
}

static void report_status(struct run *r)
{
	struct strbuf sb = STRBUF_INIT;
	size_t running = 0;
	for (size_t i = 0; i < r->nstages; i++) {
		struct stage *s = &r->stages[i];
		if (s->state == ST_PENDING || s->state == ST_DONE)
			continue;
		if (!sb.len)
			strbuf_addf(&sb, "[%s", s->suite->name);
		running += s->running;
	}
	if (sb.len)
		strbuf_addf(&sb, "] %zu running, %.1fs", running,
			    (now_ms() - r->t0) / 1e3);
	for (size_t k = 0; k < r->nreps; k++)
		if (r->reps[k]->status)
			r->reps[k]->status(r->repst[k], sb.len ? sb.buf : NULL);
	strbuf_release(&sb);
}

/* Marks the tests of a stage that will not start, with a reason. */
static void abandon_rest(struct stage *s, enum itest_status st, const char *why)
{
	for (; s->next < s->ntests; s->next++) {
		struct rep_case *rc = &s->rep.cases[s->next];
		rc->status = st;
		rc->message = xstrdup(why);
		if (st == IT_ERROR)
			rc->detail = xstrdup(why);
		s->done[s->next] = 1;
	}
}

/* ---- the worker pool ---- */

/* Why a stage will not run: the first failed stage of its chain. */
static char *block_reason(struct run *r, struct stage *s)
{
	if (r->o->keep_going)
		return NULL;
	for (int k = 0; k < 2; k++) {
		if (s->deps[k] < 0)
			continue;
		struct stage *d = &r->stages[s->deps[k]];
		if (d->blocked)
			return xstrdup(d->blocked);
		if (d->failed)
			return xasprintf("blocked by failure in stage %d (%s)",
					 d->rep.number, d->ps->new_names);
	}
	return NULL;
}

static int deps_done(struct run *r, const struct stage *s)
{
	for (int k = 0; k < 2; k++)
		if (s->deps[k] >= 0 && r->stages[s->deps[k]].state != ST_DONE)
			return 0;
	return 1;
}

static struct slock *find_slock(struct run *r, const struct suite *su)
{
	for (size_t i = 0; i < r->nslocks; i++)
		if (r->slocks[i].suite == su)
			return &r->slocks[i];
	return NULL;
}

/* Must the stage wait, because its suite's lock is being taken, or is
 * held by another suite of this run?  Called locked. */
static int lock_busy(struct run *r, const struct stage *s)
{
	const struct slock *sl = find_slock(r, s->suite);
	if (!sl || sl->fd >= 0)
		return 0;
	if (sl->taking)
		return 1;
	for (size_t i = 0; i < r->nslocks; i++) {
		const struct slock *o = &r->slocks[i];
		if (o != sl && !strcmp(o->name, sl->name) &&
		    (o->fd >= 0 || o->taking))
			return 1;
	}
	return 0;
}

/* Takes the suite's lock (machine-wide: it waits for other runs).
 * Called unlocked, with sl->taking set. */
static int take_lock(struct run *r, struct slock *sl, struct strbuf *why)
{
	struct itest_err err = ITEST_ERR_INIT;
	int fd = runtime_lock(sl->name, r->run_id, r->cancel_fd, &err);
	pthread_mutex_lock(&r->mu);
	sl->fd = fd;
	sl->taking = 0;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	if (fd < 0)
		strbuf_addstr(why, err.msg);
	return fd < 0 ? -1 : 0;
}

/*
 * Brings a stage up: the suite's lock when `sl` says it must be taken,
 * its deployment moved to the stage's components, and the stream's setup
 * on its first deployed stage.  Called unlocked.
 */
static void bring_up(struct worker *w, struct stage *s, struct slock *sl)
{
	struct run *r = w->run;
	struct stream *sm = s->stream;
	struct strbuf why = STRBUF_INIT;
	if (sl && take_lock(r, sl, &why) < 0)
		sm->deploy_failed = 1;
	if (why.len || (s->suite->ncomponents && !sm->deploy_failed)) {
		struct itest_err err = ITEST_ERR_INIT;
		if (!why.len && !sm->dep) {
			struct deploy_opts dopts = {0};
			dopts.run_id = r->run_id;
			dopts.reg_key = r->reg ? runtime_reg_key(r->reg) : NULL;
			dopts.run_dir = r->run_dir;
			dopts.stream = sm->name;
			dopts.cancel_fd = r->cancel_fd;
			dopts.mask = r->mask;
			dopts.cli_vars = r->o->vars;
			dopts.file_vars = r->file_vars;
			sm->dep = deploy_new(s->suite, &dopts, &err);
			if (!sm->dep)
				strbuf_addstr(&why, err.msg);
		}
		if (!why.len && sm->dep &&
		    deploy_apply(sm->dep, s->ps->real, s->ps->stubbed, &why) <
			    0 &&
		    !why.len)
			strbuf_addstr(&why, "the deployment failed");
		if (why.len) {
			sm->deploy_failed = 1;
			char *m = masked(r, why.buf);
			fprintf(stderr, "itest: error: %s: stage %d: %s\n",
				s->suite->name, s->rep.number, m);
			sm->setup_error = xasprintf("deployment failed: %s", m);
			sm->setup_detail = xstrdup(sm->setup_error);
			free(m);
		}
	}
	if (!sm->setup_done && !sm->deploy_failed) {
		struct fixture fx;
		sm->setup_done = 1;
		run_fixture(w, s, &s->suite->setup, 0, &fx);
		if (fx.failed) {
			sm->setup_error = fx.message;
			sm->setup_detail = fx.detail;
			fx.message = fx.detail = NULL;
		}
		fixture_release(&fx);
	}
	strbuf_release(&why);
}

/* Ends a stream after its last stage: teardown, then the deployment.
 * With --keep, nothing: the deployment stays up (keep_deployments()).
 * Called unlocked; returns the [teardown] failure, if any. */
static void tear_down(struct worker *w, struct stage *s, struct fixture *fx)
{
	struct stream *sm = s->stream;
	memset(fx, 0, sizeof(*fx));
	if (w->run->o->keep)
		return;
	if (sm->setup_done)
		run_fixture(w, s, &s->suite->teardown, 1, fx);
	deploy_free(sm->dep);
	sm->dep = NULL;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->run;
	pthread_mutex_lock(&r->mu);
	for (;;) {
		int progressed = 0, all_done = 1;
		for (size_t i = 0; i < r->nstages && !progressed; i++) {
			struct stage *s = &r->stages[i];
			if (s->state != ST_DONE)
				all_done = 0;
			if (s->state == ST_PENDING && deps_done(r, s) &&
			    (!lock_busy(r, s) ||
			     atomic_load(&r->interrupted))) {
				progressed = 1;
				s->t0 = now_ms();
				s->rep.start_wall_ms = wall_ms();
				s->blocked = block_reason(r, s);
				if (atomic_load(&r->interrupted)) {
					abandon_rest(s, IT_ERROR,
						     "not run: interrupted");
				} else if (s->blocked) {
					abandon_rest(s, IT_SKIP, s->blocked);
				} else if (r->stop) {
					/* --fail-fast tripped: nothing more is
					 * deployed */
					abandon_rest(s, IT_SKIP,
						     r->stop_reason);
				} else if (!s->ntests) {
					/* a stage with no selected test is
					 * not deployed */
				} else {
					struct slock *sl =
						find_slock(r, s->suite);
					if (sl && sl->fd < 0)
						sl->taking = 1;
					else
						sl = NULL;
					s->state = ST_DEPLOYING;
					pthread_mutex_unlock(&r->mu);
					bring_up(w, s, sl);
					pthread_mutex_lock(&r->mu);
					if (s->stream->deploy_failed)
						r->deploy_failed = 1;
				}
				s->state = ST_RUNNING;
			} else if (s->state == ST_RUNNING) {
				if (atomic_load(&r->interrupted))
					abandon_rest(s, IT_ERROR,
						     "not run: interrupted");
				else if (r->stop)
					abandon_rest(s, IT_SKIP,
						     r->stop_reason);
				/* a test with a `stub` step runs alone */
				int wait_alone =
					s->next < s->ntests &&
					(s->alone ||
					 (s->tests[s->next]->exclusive &&
					  s->running));
				if (s->next < s->ntests && !wait_alone) {
					size_t idx = s->next++;
					int alone = s->tests[idx]->exclusive;
					s->alone = alone;
					s->running++;
					r->running_total++;
					report_status(r);
					pthread_mutex_unlock(&r->mu);
					run_test(w, s, idx);
					pthread_mutex_lock(&r->mu);
					if (alone)
						s->alone = 0;
					s->running--;
					r->running_total--;
					s->done[idx] = 1;
					enum itest_status st =
						s->rep.cases[idx].status;
					if (st == IT_FAIL || st == IT_ERROR)
						s->failed = 1;
					if (r->o->fail_fast && !r->stop &&
					    (st == IT_FAIL || st == IT_ERROR)) {
						r->stop = 1;
						r->stop_reason =
							"not run: --fail-fast";
					}
					report_ready(r);
					report_status(r);
					progressed = 1;
				} else if (!s->running &&
					   s->next >= s->ntests) {
					s->state = ST_TEARDOWN;
					progressed = 1;
					if (--s->stream->remaining) {
						s->rep.time_s =
							(now_ms() - s->t0) /
							1e3;
						s->state = ST_DONE;
						report_ready(r);
						continue;
					}
					struct fixture fx;
					pthread_mutex_unlock(&r->mu);
					tear_down(w, s, &fx);
					pthread_mutex_lock(&r->mu);
					struct slock *sl =
						find_slock(r, s->suite);
					if (sl && !--sl->streams &&
					    sl->fd >= 0) {
						close(sl->fd);
						sl->fd = -1;
					}
					if (fx.failed) {
						/* a failing teardown is a case
						 * of its own */
						struct rep_case *tc =
							&s->rep.cases
								 [s->rep.ncases];
						memset(tc, 0, sizeof(*tc));
						tc->classname = s->suite->name;
						tc->name = "[teardown]";
						tc->file = s->suite->path;
						tc->status = IT_ERROR;
						tc->attempts = 1;
						tc->time_s = fx.time_s;
						tc->message = fx.message;
						tc->detail = fx.detail;
						tc->log = fx.log;
						fx.message = fx.detail =
							fx.log = NULL;
						s->done[s->rep.ncases] = 1;
						s->rep.ncases++;
					}
					fixture_release(&fx);
					s->rep.time_s =
						(now_ms() - s->t0) / 1e3;
					s->state = ST_DONE;
					report_ready(r);
				}
			}
		}
		if (progressed) {
			pthread_cond_broadcast(&r->cv);
			continue;
		}
		if (all_done)
			break;
		pthread_cond_wait(&r->cv, &r->mu);
	}
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	for (size_t d = 0; d < w->ndrivers; d++) {
		if (w->opened[d] && itest_drivers[d]->close)
			itest_drivers[d]->close(w->sessions[d]);
		free(w->sessions[d]);
	}
	return NULL;
}

/* ---- signals ---- */

static void *signal_main(void *arg)
{
	struct run *r = arg;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR2); /* the runner's "quit now" */
	struct timespec tick = {0, 250 * 1000 * 1000};
	while (!atomic_load(&r->quit)) {
		int sig = sigtimedwait(&set, NULL, &tick);
		uint64_t one = 1;
		if (sig == SIGUSR2)
			continue;
		if (sig > 0) {
			if (!atomic_load(&r->interrupted)) {
				atomic_store(&r->signo, sig);
				atomic_store(&r->interrupted, 1);
				if (write(r->cancel_fd, &one, sizeof(one)) < 0)
					continue;
				pthread_mutex_lock(&r->mu);
				pthread_cond_broadcast(&r->cv);
				pthread_mutex_unlock(&r->mu);
			} else if (write(r->force_fd, &one, sizeof(one)) < 0) {
				continue;
			}
		} else {
			spawn_reap_strays();
			pthread_mutex_lock(&r->mu);
			report_status(r);
			pthread_mutex_unlock(&r->mu);
		}
	}
	return NULL;
}

/* ---- selection and the run folder ---- */

static int load_rerun_list(struct run *r, char ***ids, size_t *n)
{
	char *path = xasprintf("%s/last-failed", r->o->out);
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0, alloc = 0;
	ssize_t len;
	free(path);
	*ids = NULL;
	*n = 0;
	if (!f)
		return 0;
	while ((len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (!len)
			continue;
		XGROW(*ids, alloc, *n + 1);
		(*ids)[(*n)++] = xstrdup(line);
	}
	free(line);
	fclose(f);
	return 0;
}

/* --affected C: the test covers C or a component that needs it,
 * transitively. */
static int affected(const struct itest_opts *o, const struct suite *su,
		    const struct test *t)
{
	size_t n = su->ncomponents;
	int changed = 1, hit_any = 0;
	if (!o->naffected)
		return 1;
	unsigned char *hit = xcalloc(n + 1, 1);
	for (size_t i = 0; i < o->naffected; i++) {
		int c = component_find(su, o->affected[i],
				       strlen(o->affected[i]));
		if (c >= 0)
			hit[c] = 1;
	}
	while (changed) {
		changed = 0;
		for (size_t i = 0; i < n; i++)
			for (size_t k = 0;
			     !hit[i] && k < su->components[i].nneeds; k++)
				if (hit[su->components[i].needs[k]])
					hit[i] = changed = 1;
	}
	for (size_t i = 0; i < n; i++)
		hit_any |= hit[i] && t->covers[i];
	free(hit);
	return hit_any;
}

static int selected(const struct itest_opts *o, const struct suite *su,
		    const struct test *t, pcre2_code *re, pcre2_match_data *md,
		    char **rerun, size_t nrerun)
{
	if (!affected(o, su, t))
		return 0;
	if (re && pcre2_match(re, (PCRE2_SPTR)t->id, strlen(t->id), 0, 0, md,
			      NULL) < 0)
		return 0;
	int want = 0, has_positive = 0;
	for (size_t i = 0; i < o->ntags; i++) {
		const char *tag = o->tags[i];
		int neg = tag[0] == '!';
		int has = 0;
		for (size_t k = 0; k < t->ntags; k++)
			has |= !strcmp(t->tags[k], tag + neg);
		if (neg && has)
			return 0;
		if (!neg) {
			has_positive = 1;
			want |= has;
		}
	}
	if (has_positive && !want)
		return 0;
	if (o->rerun_failed) {
		int found = 0;
		for (size_t i = 0; i < nrerun && !found; i++)
			found = !strcmp(rerun[i], t->id);
		return found;
	}
	return 1;
}

/* A selected test, for --shard. */
struct shard_item {
	const char *id;
	size_t suite, test;
};

static int cmp_shard_item(const void *a, const void *b)
{
	const struct shard_item *x = a, *y = b;
	int c = strcmp(x->id, y->id);
	if (c)
		return c;
	/* two suites of one name: file order */
	if (x->suite != y->suite)
		return x->suite < y->suite ? -1 : 1;
	return (x->test > y->test) - (x->test < y->test);
}

/*
 * --shard I/N: the selected tests sorted by id ("SUITE/NAME"), dealt out
 * to the shards in turn, so that shards differ by one test at most and
 * every machine of a CI job computes the same split from the same suites.
 * Drops from `sels` the tests of the other shards.
 */
static void keep_shard(const struct itest_opts *o, struct suite **suites,
		       size_t n, unsigned char **sels)
{
	struct shard_item *v = NULL;
	size_t nv = 0, av = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < suites[i]->ntests; k++) {
			if (!sels[i][k])
				continue;
			if (nv == av) {
				av = av ? 2 * av : 64;
				v = xrealloc(v, av * sizeof(*v));
			}
			v[nv++] = (struct shard_item){suites[i]->tests[k].id, i,
						      k};
		}
	if (nv > 1)
		qsort(v, nv, sizeof(*v), cmp_shard_item);
	for (size_t j = 0; j < nv; j++)
		if ((int)(j % (size_t)o->shard_n) != o->shard_i - 1)
			sels[v[j].suite][v[j].test] = 0;
	free(v);
}

static char *make_run_id(void)
{
	struct timespec ts;
	struct tm tm;
	unsigned char rnd[2] = {0, 0};
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
		rnd[0] = (unsigned char)ts.tv_nsec;
		rnd[1] = (unsigned char)(ts.tv_nsec >> 8);
	}
	return xasprintf("%04d%02d%02d-%02d%02d%02d-%02x%02x",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec, rnd[0], rnd[1]);
}

static void write_last_failed(struct run *r)
{
	struct strbuf sb = STRBUF_INIT;
	struct itest_err err = ITEST_ERR_INIT;
	for (size_t i = 0; i < r->nstages; i++) {
		struct stage *s = &r->stages[i];
		for (size_t k = 0; k < s->ntests; k++) {
			enum itest_status st = s->rep.cases[k].status;
			if (st == IT_FAIL || st == IT_ERROR)
				strbuf_addf(&sb, "%s\n", s->tests[k]->id);
		}
	}
	char *path = xasprintf("%s/last-failed", r->o->out);
	if (mask_write_file(NULL, path, &sb, &err) < 0)
		fprintf(stderr, "itest: warning: %s\n", err.msg);
	free(path);
	strbuf_release(&sb);
}

static void free_case(struct rep_case *c, int teardown)
{
	free(c->message);
	free(c->detail);
	free(c->log);
	for (size_t i = 0; i < c->nfailed; i++) {
		free(c->failed[i].message);
		free(c->failed[i].detail);
		free(c->failed[i].log);
	}
	free(c->failed);
	for (size_t i = 0; i < c->nattach; i++)
		free(c->attachments[i]);
	free(c->attachments);
	(void)teardown;
}

/*
 * --keep: leaves every deployment up, says how to reach it and how to end
 * it.  Returns whether something runs for real.
 */
static int keep_deployments(struct run *r)
{
	struct strbuf sb = STRBUF_INIT;
	int kept = 0;
	for (size_t i = 0; i < r->nstreams; i++) {
		struct stream *sm = &r->streams[i];
		if (!sm->dep)
			continue;
		strbuf_reset(&sb);
		if (deploy_describe(sm->dep, &sb)) {
			printf("kept: %s%s%s: %s\n", sm->suite->name,
			       strcmp(sm->name, "main") ? "@" : "",
			       strcmp(sm->name, "main") ? sm->name : "",
			       sb.buf);
			kept = 1;
		}
		deploy_keep(sm->dep);
		sm->dep = NULL;
	}
	if (kept)
		printf("tear down with: itest gc --run %s\n", r->run_id);
	fflush(stdout);
	strbuf_release(&sb);
	return kept;
}

/*
 * Puts the run in the registry of live runs and starts its reaper, before
 * anything is deployed and before any thread starts.  Without them a run
 * with components does not start; one without goes on with a warning.
 */
static int register_run(struct run *r)
{
	struct itest_err err = ITEST_ERR_INIT;
	int components = 0;
	for (size_t i = 0; i < r->nplans; i++)
		components |= r->plans[i].suite->ncomponents > 0;
	r->reg = runtime_register(r->run_id, r->run_dir, &err);
	if (r->reg)
		r->reaper = reaper_start(runtime_reg_key(r->reg), &err);
	if (r->reg && r->reaper)
		return 0;
	if (components) {
		fprintf(stderr, "itest: error: %s\n", err.msg);
		return -1;
	}
	fprintf(stderr,
		"itest: warning: %s (what this run leaves cannot be ended "
		"should itest die)\n",
		err.msg);
	return 0;
}

int runner_run(const struct itest_opts *o, struct suite **suites, size_t n,
	       const struct ivalue *file_vars, struct masker *mask, int *signo)
{
	struct run run = {0}, *r = &run;
	pcre2_code *re = NULL;
	pcre2_match_data *md = NULL;
	char **rerun = NULL;
	size_t nrerun = 0, total = 0;
	int ret = EXIT_USAGE;
	pthread_t *threads = NULL, sigthread;
	struct worker *workers = NULL;
	int sigthread_started = 0, kept = 0;
	sigset_t set, oldset;

	*signo = 0;
	r->o = o;
	r->mask = mask;
	r->file_vars = file_vars;
	r->cancel_fd = r->force_fd = -1;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	if (o->filter) {
		int ec;
		PCRE2_SIZE off;
		re = pcre2_compile((PCRE2_SPTR)o->filter, PCRE2_ZERO_TERMINATED,
				   PCRE2_UTF, &ec, &off, NULL);
		if (!re) {
			PCRE2_UCHAR msg[256];
			pcre2_get_error_message(ec, msg, sizeof(msg));
			fprintf(stderr,
				"itest: error: bad --filter '%s': %s at "
				"offset %zu\n",
				o->filter, (char *)msg, (size_t)off);
			goto out;
		}
		md = pcre2_match_data_create_from_pattern(re, NULL);
	}
	if (o->rerun_failed)
		load_rerun_list(r, &rerun, &nrerun);

	/* the plan of each suite, for its selected tests; its streams and
	 * stages */
	r->plans = xcalloc(n + 1, sizeof(*r->plans));
	unsigned char **sels = xcalloc(n + 1, sizeof(*sels));
	for (size_t i = 0; i < n; i++) {
		struct suite *su = suites[i];
		sels[i] = xcalloc(su->ntests + 1, 1);
		for (size_t k = 0; k < su->ntests; k++)
			sels[i][k] = selected(o, su, &su->tests[k], re, md,
					      rerun, nrerun);
	}
	if (o->shard_n)
		keep_shard(o, suites, n, sels);
	for (size_t i = 0; i < n; i++) {
		struct suite *su = suites[i];
		unsigned char *sel = sels[i];
		size_t nsel = 0;
		for (size_t k = 0; k < su->ntests; k++)
			nsel += sel[k];
		struct itest_err err = ITEST_ERR_INIT;
		int rc = nsel ? plan_build(su, su->strategy, sel,
					   &r->plans[r->nplans], &err)
			      : 1;
		free(sel);
		sels[i] = NULL;
		if (rc < 0) {
			err_print(&err);
			for (size_t k = i + 1; k < n; k++)
				free(sels[k]);
			free(sels);
			goto out;
		}
		if (rc == 0)
			r->nplans++;
	}
	free(sels);
	for (size_t i = 0; i < r->nplans; i++) {
		r->nstages += r->plans[i].n;
		r->nstreams += 2;
	}
	r->stages = xcalloc(r->nstages + 1, sizeof(*r->stages));
	r->streams = xcalloc(r->nstreams + 1, sizeof(*r->streams));
	r->nstages = r->nstreams = 0;
	for (size_t i = 0; i < r->nplans; i++) {
		const struct plan *p = &r->plans[i];
		struct suite *su = (struct suite *)p->suite;
		size_t first = r->nstages;
		for (size_t k = 0; k < p->n; k++) {
			const struct pstage *ps = &p->stages[k];
			struct stage *s = &r->stages[r->nstages++];
			struct stream *sm = NULL;
			for (size_t q = 0; q < r->nstreams; q++)
				if (r->streams[q].suite == su &&
				    !strcmp(r->streams[q].name, ps->stream))
					sm = &r->streams[q];
			if (!sm) {
				sm = &r->streams[r->nstreams++];
				sm->suite = su;
				sm->name = ps->stream;
				sm->setup_caps = iv_obj();
			}
			sm->remaining++;
			s->suite = su;
			s->stream = sm;
			s->ps = ps;
			for (int d = 0; d < 2; d++)
				s->deps[d] = ps->deps[d] < 0
						     ? -1
						     : (int)first + ps->deps[d];
			s->tests = xcalloc(ps->ntests + 1, sizeof(*s->tests));
			for (size_t t = 0; t < ps->ntests; t++)
				s->tests[s->ntests++] =
					&su->tests[ps->tests[t]];
			s->rep.suite = su->name;
			s->rep.file = su->path;
			s->rep.number = ps->number;
			s->rep.nstages = (int)p->n;
			s->rep.strategy = p->strategy;
			s->rep.stream = ps->stream;
			s->rep.layer = ps->layer;
			s->rep.real = su->ncomponents ? ps->real_names : "";
			s->rep.stubbed =
				su->ncomponents ? ps->stubbed_names : "";
			/* one spare case for a failing teardown */
			s->rep.cases =
				xcalloc(s->ntests + 1, sizeof(*s->rep.cases));
			s->done = xcalloc(s->ntests + 1, 1);
			for (size_t t = 0; t < s->ntests; t++) {
				struct rep_case *c = &s->rep.cases[t];
				c->classname = su->name;
				c->name = s->tests[t]->name;
				c->file = su->path;
				c->line = s->tests[t]->node->loc.line;
			}
			s->rep.ncases = s->ntests;
			total += s->ntests;
		}
	}
	r->slocks = xcalloc(r->nplans + 1, sizeof(*r->slocks));
	for (size_t i = 0; i < r->nplans; i++) {
		const struct suite *su = r->plans[i].suite;
		const char *name = iv_strval(iv_get(su->doc, "lock"));
		if (!name)
			continue;
		struct slock *sl = &r->slocks[r->nslocks++];
		sl->suite = su;
		sl->name = name;
		sl->fd = -1;
		for (size_t k = 0; k < r->nstreams; k++)
			sl->streams += r->streams[k].suite == su;
	}
	if (o->plan) {
		struct strbuf sb = STRBUF_INIT;
		for (size_t i = 0; i < r->nplans; i++)
			plan_format(&r->plans[i], &sb);
		fputs(sb.buf, stdout);
		strbuf_release(&sb);
		ret = EXIT_PASS;
		goto out;
	}
	if (o->list) {
		for (size_t i = 0; i < r->nstages; i++)
			for (size_t k = 0; k < r->stages[i].ntests; k++)
				printf("%s\n", r->stages[i].tests[k]->id);
		ret = EXIT_PASS;
		goto out;
	}
	if (!total) {
		if (o->rerun_failed || o->naffected || o->shard_n) {
			printf("%s\n",
			       o->rerun_failed
				       ? "no test failed in the last run"
			       : o->naffected ? "no test is affected"
					      : "no test in this shard");
			ret = EXIT_PASS;
		} else {
			fprintf(stderr, "itest: error: no test selected\n");
		}
		goto out;
	}

	if (spin_setup(&r->spin) < 0)
		goto out;

	r->run_id = o->run_id ? xstrdup(o->run_id) : make_run_id();
	if (o->out[0] == '/') {
		r->run_dir = xasprintf("%s/%s", o->out, r->run_id);
	} else {
		/* absolute: steps and components run in other folders */
		char *cwd = getcwd(NULL, 0);
		r->run_dir = xasprintf("%s/%s/%s", cwd ? cwd : ".", o->out,
				       r->run_id);
		free(cwd);
	}
	if (mkdir_p(o->out, 0755) < 0 || mkdir(r->run_dir, 0700) < 0) {
		fprintf(stderr,
			"itest: error: cannot create the run folder "
			"'%s': %s\n",
			r->run_dir, strerror(errno));
		goto out;
	}
	char *sub = xasprintf("%s/logs", r->run_dir);
	mkdir(sub, 0700);
	free(sub);
	sub = xasprintf("%s/artifacts", r->run_dir);
	mkdir(sub, 0700);
	free(sub);

	r->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	r->force_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	if (register_run(r) < 0) {
		ret = EXIT_DEPLOY;
		goto out;
	}
	/* every process of the run carries its id and its registry key
	 * (components get the id from deploy.c too): the reaper and `itest
	 * gc` find them by these.  Set before any thread starts. */
	setenv("ITEST_RUN_ID", r->run_id, 1);
	if (r->reg)
		setenv("ITEST_RUN_KEY", runtime_reg_key(r->reg), 1);
	else
		unsetenv("ITEST_RUN_KEY");

	struct rep_opts ro = {0};
	ro.mask = mask;
	ro.console = stdout;
	ro.tty = isatty(STDOUT_FILENO);
	const char *nc = getenv("NO_COLOR");
	ro.color = o->color >= 0 ? o->color : (ro.tty && !(nc && *nc));
	ro.verbose = o->verbose;
	ro.quiet = o->quiet;
	ro.junit_path = o->junit;
	ro.junit_rich = o->junit_rich;
	r->reps[r->nreps++] = &console_reporter;
	r->reps[r->nreps++] = &junit_reporter;
	r->reps[r->nreps++] = &runjson_reporter;
	r->reps[r->nreps++] = &prom_reporter;
	r->reps[r->nreps++] = &coverage_reporter;
	r->reps[r->nreps++] = &html_reporter;
	for (size_t k = 0; k < r->nreps; k++)
		r->repst[k] = r->reps[k]->open(&ro);

	/* signals go to the signal thread only */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, &oldset);
	r->t0 = now_ms();
	r->rep.start_wall_ms = wall_ms();
	if (pthread_create(&sigthread, NULL, signal_main, r) == 0)
		sigthread_started = 1;

	int nworkers = o->jobs < 1 ? 1 : o->jobs;
	if ((size_t)nworkers > total)
		nworkers = (int)total;
	size_t ndrivers = 0;
	while (itest_drivers[ndrivers])
		ndrivers++;
	threads = xcalloc((size_t)nworkers, sizeof(*threads));
	unsigned char *created = xcalloc((size_t)nworkers, 1);
	workers = xcalloc((size_t)nworkers, sizeof(*workers));
	for (int i = 0; i < nworkers; i++) {
		workers[i].run = r;
		workers[i].ndrivers = ndrivers;
		workers[i].sessions = xcalloc(ndrivers + 1, sizeof(void *));
		workers[i].opened = xcalloc(ndrivers + 1, 1);
		/* without a thread, the worker runs right here (and the
		 * others pick up the rest once they exist) */
		created[i] = pthread_create(&threads[i], NULL, worker_main,
					    &workers[i]) == 0;
		if (!created[i])
			worker_main(&workers[i]);
	}
	for (int i = 0; i < nworkers; i++)
		if (created[i])
			pthread_join(threads[i], NULL);
	free(created);

	/* the report */
	for (int i = 0; i < nworkers; i++)
		metrics_merge(&r->metrics, &workers[i].metrics);
	metrics_finish(&r->metrics);
	r->rep.metrics = &r->metrics;
	r->coverage = coverage_new();
	for (size_t i = 0; i < r->nplans; i++)
		coverage_add_suite(r->coverage, r->plans[i].suite);
	for (int i = 0; i < nworkers; i++)
		for (size_t k = 0; k < workers[i].nhits; k++) {
			const struct api_hit *h = &workers[i].hits[k];
			coverage_add_api_hit(r->coverage, h->c->name,
					     openapi_op(h->c->api, h->op),
					     h->count);
		}
	for (size_t i = 0; i < r->nstages; i++) {
		const struct stage *s = &r->stages[i];
		for (size_t k = 0; k < s->ntests && k < s->rep.ncases; k++)
			coverage_add_test(r->coverage, s->suite, s->tests[k],
					  s->ps->real, s->rep.cases[k].status);
	}
	r->rep.coverage = r->coverage;
	collect_code_coverage(r);
	r->rep.run_id = r->run_id;
	r->rep.run_dir = r->run_dir;
	r->rep.time_s = (now_ms() - r->t0) / 1e3;
	r->rep.interrupted = atomic_load(&r->interrupted);
	r->rep.stages = xcalloc(r->nstages + 1, sizeof(*r->rep.stages));
	for (size_t i = 0; i < r->nstages; i++) {
		if (!r->stages[i].rep.ncases)
			continue; /* not deployed: no test selected */
		r->rep.stages[r->rep.nstages++] = r->stages[i].rep;
		rep_count_stage(&r->stages[i].rep, &r->rep.counts);
	}
	pthread_mutex_lock(&r->mu);
	report_ready(r);
	for (size_t k = 0; k < r->nreps; k++)
		if (r->reps[k]->status)
			r->reps[k]->status(r->repst[k], NULL);
	pthread_mutex_unlock(&r->mu);
	ret = EXIT_PASS;
	for (size_t k = 0; k < r->nreps; k++) {
		struct itest_err err = ITEST_ERR_INIT;
		if (r->reps[k]->finish &&
		    r->reps[k]->finish(r->repst[k], &r->rep, &err) < 0) {
			fprintf(stderr, "itest: error: %s\n", err.msg);
			ret = EXIT_TESTFAIL;
		}
	}
	write_last_failed(r);
	if (o->keep)
		kept = keep_deployments(r);
	if (r->rep.counts.failed || r->rep.counts.errors)
		ret = EXIT_TESTFAIL;
	if (r->deploy_failed)
		ret = EXIT_DEPLOY;
	if (atomic_load(&r->interrupted)) {
		ret = EXIT_INTERRUPTED;
		*signo = atomic_load(&r->signo);
	}
	atomic_store(&r->quit, 1);
	if (sigthread_started) {
		pthread_kill(sigthread, SIGUSR2);
		pthread_join(sigthread, NULL);
	}
	pthread_sigmask(SIG_SETMASK, &oldset, NULL);
out:
	for (size_t k = 0; k < r->nreps; k++)
		if (r->reps[k]->close)
			r->reps[k]->close(r->repst[k]);
	for (int i = 0;
	     workers && i < (o->jobs < 1 ? 1 : o->jobs) && i < (int)total;
	     i++) {
		free(workers[i].sessions);
		free(workers[i].opened);
		metrics_release(&workers[i].metrics);
		free(workers[i].hits);
	}
	free(workers);
	free(threads);
	for (size_t i = 0; i < r->nstages; i++) {
		struct stage *s = &r->stages[i];
		for (size_t k = 0; k < s->rep.ncases; k++)
			free_case(&s->rep.cases[k], 0);
		free(s->rep.cases);
		free(s->tests);
		free(s->done);
		free(s->blocked);
	}
	free(r->stages);
	for (size_t i = 0; i < r->nstreams; i++) {
		struct stream *sm = &r->streams[i];
		deploy_free(sm->dep);
		free(sm->setup_error);
		free(sm->setup_detail);
		iv_free(sm->setup_caps);
	}
	free(r->streams);
	for (size_t i = 0; i < r->nslocks; i++)
		if (r->slocks[i].fd >= 0)
			close(r->slocks[i].fd);
	free(r->slocks);
	/* everything is down (or kept): the reaper's work is done */
	if (kept && r->reg) {
		struct itest_err err = ITEST_ERR_INIT;
		if (runtime_mark_kept(r->reg, &err) < 0)
			fprintf(stderr, "itest: warning: %s\n", err.msg);
		reaper_end(r->reaper, "keep");
		runtime_reg_free(r->reg);
	} else {
		runtime_unregister(r->reg);
		reaper_end(r->reaper, "bye");
	}
	spawn_reap_strays();
	for (size_t i = 0; i < r->nplans; i++)
		plan_release(&r->plans[i]);
	free(r->plans);
	free(r->rep.stages);
	for (size_t i = 0; i < nrerun; i++)
		free(rerun[i]);
	free(rerun);
	if (md)
		pcre2_match_data_free(md);
	if (re)
		pcre2_code_free(re);
	if (r->cancel_fd >= 0)
		close(r->cancel_fd);
	if (r->force_fd >= 0)
		close(r->force_fd);
	metrics_release(&r->metrics);
	coverage_free(r->coverage);
	free(r->run_id);
	free(r->run_dir);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
	return ret;
}
