/*
 * External drivers (SPEC 6.7): a suite's `drivers:` map names programs
 * that drive the system under test in ways itest does not know (a
 * database, a message queue), and every name becomes a step key.  Each
 * worker starts a program lazily, at the first step that uses its name,
 * and talks to it in JSON lines on its stdin and stdout:
 *
 *   > {"op":"open","driver":"pg"}        < {"status":"pass"}
 *   > {"op":"exec","step":...,"vars":{...},"test":"..."}
 *   < {"status":"pass","result":{...parts...},"message":"..."}
 *   > {"op":"close"}
 *
 * The parts of a passing answer are the step's result, so expectations
 * and captures apply to them.  A program that exits, does not answer
 * within the step's timeout, answers with a line that is not a JSON
 * object, or is interrupted makes the step an ERROR; it is stopped (its
 * whole process group) and started again at the next step.  Its stderr
 * goes to RUN_DIR/logs/driver-NAME-wN.log, whose last lines a crash
 * reports.  docs/external-drivers.md is the user's side of this.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "driver.h"
#include "spawn.h"
#include "suite.h"
#include "template.h"

/* When neither the step, its test, nor the entry sets a timeout. */
#define EXT_TIMEOUT_DEFAULT_MS 30000
/* An answer line longer than this is an error (and ends the program). */
#define EXT_LINE_MAX (16u * 1024 * 1024)
/* How much of a request and an answer the step log shows. */
#define EXT_LOG_MAX 2048
/* How much of a line that is not JSON a message shows. */
#define EXT_GARBAGE_MAX 200
/* TERM first, KILL this long after, when a program is ended. */
#define EXT_KILL_GRACE_MS 500
/* How long a program that closed its stdout has to exit, for its status,
 * and how long programs have to exit by themselves after `close`. */
#define EXT_EXIT_WAIT_MS 1000
/* The end of stderr a crash reports: lines, and bytes at most. */
#define EXT_STDERR_LINES 10
#define EXT_STDERR_MAX	 2048

static const struct itest_keyspec ext_entry_keys[] = {
	{"run", TY(STR) | TY(ARR), 1}, {"env", TY(OBJ), 0}, {"cwd", TY(STR), 0},
	{"timeout", TY(STR), 0},       {NULL, 0, 0},
};

/* One program of a worker.  The same name in another suite (another
 * entry) or in another sandwich stream (other ${C.url}s) is another
 * program. */
struct ext_prog {
	char *name;
	const struct ivalue *conf;    /* the suite's entry (identity) */
	const struct deployment *dep; /* the stream's (identity) */
	char *log_path;		      /* its stderr, across restarts */
	struct spawn_proc *proc;      /* NULL: not running */
	int in_fd, out_fd;	      /* our ends of its stdin, stdout */
	off_t log_start;	      /* where this start's stderr begins */
	int64_t timeout_ms;	      /* the entry's `timeout`; 0: none */
	struct strbuf rbuf;	      /* read, not yet taken as a line */
	size_t scanned;		      /* rbuf bytes known to hold no '\n' */
};

struct ext_session {
	struct ext_prog **v;
	size_t n, alloc;
};

/* Why talking to a program stopped. */
enum ext_why {
	EXT_OK,
	EXT_GONE,    /* it exited or closed its pipes */
	EXT_HUNG,    /* no answer in time */
	EXT_CANCEL,  /* the run was interrupted */
	EXT_TOOLONG, /* a line over EXT_LINE_MAX */
	EXT_IOERR,   /* a read or write failed otherwise */
};

/* ---- load time ---- */

static int check_scalar(const struct ivalue *v, const char *what,
			const char *name, struct itest_err *err)
{
	if (v->type == IV_STR || v->type == IV_NUM || v->type == IV_BOOL)
		return 0;
	return err_set(err, &v->loc,
		       "%s of external driver '%s' must be a scalar, not %s",
		       what, name, iv_kind(v));
}

static int check_entry(const char *name, const struct ivalue *e,
		       struct itest_err *err)
{
	struct strbuf what = STRBUF_INIT;
	strbuf_addf(&what, "external driver '%s'", name);
	int rc = keys_check(e, ext_entry_keys, what.buf, err);
	strbuf_release(&what);
	if (rc < 0)
		return -1;
	const struct ivalue *run = iv_get(e, "run");
	if (run->type == IV_STR && !run->u.str.len)
		return err_set(err, &run->loc,
			       "'run' of external driver '%s' is empty", name);
	if (run->type == IV_ARR && !run->u.arr.n)
		return err_set(err, &run->loc,
			       "'run' of external driver '%s' is an empty list",
			       name);
	for (size_t i = 0; run->type == IV_ARR && i < run->u.arr.n; i++)
		if (check_scalar(run->u.arr.v[i], "a 'run' item", name, err) <
		    0)
			return -1;
	const struct ivalue *env = iv_get(e, "env");
	for (size_t i = 0; env && i < env->u.obj.n; i++) {
		const struct imember *m = &env->u.obj.m[i];
		if (!m->klen || memchr(m->key, '=', m->klen) ||
		    memchr(m->key, '\0', m->klen))
			return err_set(err, &m->kloc,
				       "bad environment variable name '%s'",
				       m->key);
		if (check_scalar(m->val, "an 'env' value", name, err) < 0)
			return -1;
	}
	const struct ivalue *cwd = iv_get(e, "cwd");
	if (cwd && !cwd->u.str.len)
		return err_set(err, &cwd->loc,
			       "'cwd' of external driver '%s' is empty", name);
	const struct ivalue *to = iv_get(e, "timeout");
	if (to && !tpl_has_vars(to->u.str.s, to->u.str.len) &&
	    duration_parse_ms(to->u.str.s) <= 0)
		return err_set(err, &to->loc,
			       "bad duration for 'timeout' of external driver "
			       "'%s' (write 250ms, 2s or 1m)",
			       name);
	return 0;
}

/* The whole `drivers:` map, merged over the includes. */
static int ext_check_conf(const struct ivalue *conf, struct itest_err *err)
{
	for (size_t i = 0; i < conf->u.obj.n; i++)
		if (check_entry(conf->u.obj.m[i].key, conf->u.obj.m[i].val,
				err) < 0)
			return -1;
	return 0;
}

/* ---- programs ---- */

static void prog_close_fds(struct ext_prog *p)
{
	if (p->in_fd >= 0)
		close(p->in_fd);
	if (p->out_fd >= 0)
		close(p->out_fd);
	p->in_fd = p->out_fd = -1;
	strbuf_reset(&p->rbuf);
	p->scanned = 0;
}

/* Ends the program's whole group (TERM, then KILL after a grace). */
static void prog_stop(struct ext_prog *p)
{
	prog_close_fds(p);
	if (!p->proc)
		return;
	spawn_stop(p->proc, SIGTERM, EXT_KILL_GRACE_MS);
	spawn_proc_free(p->proc);
	p->proc = NULL;
}

static struct ext_prog *prog_find(struct ext_session *s,
				  const struct itest_stepctx *ctx)
{
	for (size_t i = 0; i < s->n; i++) {
		struct ext_prog *p = s->v[i];
		if (p->conf == ctx->conf && p->dep == ctx->deployment &&
		    !strcmp(p->name, ctx->driver_key))
			return p;
	}
	struct ext_prog *p = xcalloc(1, sizeof(*p));
	p->name = xstrdup(ctx->driver_key);
	p->conf = ctx->conf;
	p->dep = ctx->deployment;
	p->in_fd = p->out_fd = -1;
	strbuf_init(&p->rbuf, 0);
	XGROW(s->v, s->alloc, s->n + 1);
	s->v[s->n++] = p;
	return p;
}

/*
 * Claims RUN_DIR/logs/driver-NAME-wN.log for this program: the first N
 * whose file does not exist yet, created here, so that workers running
 * at once never share one.  NULL when there is no run folder.
 */
static char *claim_log(const char *run_dir, const char *name)
{
	if (!run_dir)
		return NULL;
	struct strbuf safe = STRBUF_INIT;
	for (const char *c = name; *c; c++) {
		int ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			 (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' ||
			 (*c == '.' && c != name);
		strbuf_addch(&safe, ok ? *c : '_');
	}
	char *dir = xasprintf("%s/logs", run_dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		free(dir);
		strbuf_release(&safe);
		return NULL;
	}
	char *path = NULL;
	for (int n = 1; n < 10000 && !path; n++) {
		char *cand =
			xasprintf("%s/driver-%s-w%d.log", dir, safe.buf, n);
		int fd = open(cand, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			      0600);
		if (fd >= 0) {
			close(fd);
			path = cand;
		} else {
			free(cand);
			if (errno != EEXIST)
				break;
		}
	}
	free(dir);
	strbuf_release(&safe);
	return path;
}

/* Appends a message line to the program's log; returns the log's size
 * afterwards (where the program's own output will begin). */
static off_t log_note(const char *path, const char *line)
{
	if (!path)
		return 0;
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return 0;
	size_t len = strlen(line);
	while (len) {
		ssize_t n = write(fd, line, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		line += n;
		len -= (size_t)n;
	}
	struct stat st;
	off_t size = fstat(fd, &st) == 0 ? st.st_size : 0;
	close(fd);
	return size;
}

/* Appends the last lines the program wrote to stderr since it started,
 * indented, under a heading. */
static void add_stderr_tail(struct strbuf *out, const struct ext_prog *p)
{
	if (!p->log_path)
		return;
	int fd = open(p->log_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	struct stat st;
	char buf[EXT_STDERR_MAX + 1];
	ssize_t n = 0;
	if (fstat(fd, &st) == 0 && st.st_size > p->log_start) {
		off_t from = st.st_size - EXT_STDERR_MAX;
		if (from < p->log_start)
			from = p->log_start;
		n = pread(fd, buf, EXT_STDERR_MAX, from);
	}
	close(fd);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	if (n <= 0)
		return;
	buf[n] = '\0';
	/* the last EXT_STDERR_LINES lines */
	const char *start = buf;
	int lines = 0;
	for (ssize_t i = n - 1; i >= 0; i--) {
		if (buf[i] == '\n' && ++lines == EXT_STDERR_LINES) {
			start = buf + i + 1;
			break;
		}
	}
	strbuf_addf(out, "\nthe end of its stderr (%s):", p->log_path);
	for (const char *q = start; q < buf + n;) {
		const char *nl = memchr(q, '\n', (size_t)(buf + n - q));
		const char *e = nl ? nl : buf + n;
		strbuf_addstr(out, "\n  ");
		for (const char *c = q; c < e; c++)
			strbuf_addch(out, *c ? *c : ' ');
		q = e + 1;
	}
}

/*
 * Reads one line from the program into `line` (without its '\n'), until
 * `deadline` (now_ms() time) or cancellation.  Lines it wrote earlier
 * than asked stay in rbuf for the next call.
 */
static enum ext_why read_line(struct ext_prog *p, double deadline,
			      int cancel_fd, struct strbuf *line)
{
	int leader_gone = 0;
	for (;;) {
		char *nl = memchr(p->rbuf.buf + p->scanned, '\n',
				  p->rbuf.len - p->scanned);
		if (nl) {
			size_t len = (size_t)(nl - p->rbuf.buf);
			strbuf_reset(line);
			strbuf_add(line, p->rbuf.buf, len);
			memmove(p->rbuf.buf, nl + 1, p->rbuf.len - len - 1);
			strbuf_setlen(&p->rbuf, p->rbuf.len - len - 1);
			p->scanned = 0;
			return EXT_OK;
		}
		p->scanned = p->rbuf.len;
		if (p->rbuf.len > EXT_LINE_MAX)
			return EXT_TOOLONG;
		if (leader_gone)
			return EXT_GONE;

		struct pollfd pf[3];
		int n = 0, i_cancel = -1, i_pid = -1;
		pf[n++] = (struct pollfd){p->out_fd, POLLIN, 0};
		if (cancel_fd >= 0) {
			i_cancel = n;
			pf[n++] = (struct pollfd){cancel_fd, POLLIN, 0};
		}
		if (spawn_fd(p->proc) >= 0) {
			i_pid = n;
			pf[n++] = (struct pollfd){spawn_fd(p->proc), POLLIN, 0};
		}
		double left = deadline - now_ms();
		if (left <= 0)
			return EXT_HUNG;
		int timeout = left > 1e9 ? 1000000000 : (int)left + 1;
		/* no pidfd: look at the leader now and then */
		if (i_pid < 0 && timeout > 100)
			timeout = 100;
		int got = poll(pf, (nfds_t)n, timeout);
		if (got < 0 && errno != EINTR)
			return EXT_IOERR;
		if (got <= 0) {
			if (i_pid < 0 && !spawn_alive(p->proc, NULL))
				leader_gone = 1;
			continue;
		}
		if (i_cancel >= 0 && pf[i_cancel].revents)
			return EXT_CANCEL;
		/* the leader exited: what is in the pipe is all there is
		 * (a child it left may hold the pipe open) */
		if (i_pid >= 0 && pf[i_pid].revents)
			leader_gone = 1;
		for (;;) {
			char buf[65536];
			ssize_t r = read(p->out_fd, buf, sizeof(buf));
			if (r > 0) {
				strbuf_add(&p->rbuf, buf, (size_t)r);
				if (memchr(buf, '\n', (size_t)r) ||
				    p->rbuf.len > EXT_LINE_MAX)
					break;
				continue;
			}
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0 && errno == EAGAIN)
				break;
			if (r < 0)
				return EXT_IOERR;
			leader_gone = 1; /* EOF */
			break;
		}
	}
}

/* Sends one line (a '\n' is added). */
static enum ext_why send_line(struct ext_prog *p, const struct strbuf *req,
			      double deadline, int cancel_fd)
{
	struct strbuf l = STRBUF_INIT;
	strbuf_add(&l, req->buf, req->len);
	strbuf_addch(&l, '\n');
	int rc = spawn_pipe_write(p->in_fd, l.buf, l.len, deadline, cancel_fd);
	int e = errno;
	strbuf_release(&l);
	if (!rc)
		return EXT_OK;
	return e == ETIMEDOUT	? EXT_HUNG
	       : e == ECANCELED ? EXT_CANCEL
	       : e == EPIPE	? EXT_GONE
				: EXT_IOERR;
}

/* Waits up to EXT_EXIT_WAIT_MS for the leader to exit; its status text
 * ("exited with status 3") into `out`, or "closed its stdout". */
static void add_exit_text(struct strbuf *out, struct ext_prog *p)
{
	double give_up = now_ms() + EXT_EXIT_WAIT_MS;
	int status = 0;
	while (spawn_alive(p->proc, &status) && now_ms() < give_up) {
		int fd = spawn_fd(p->proc);
		if (fd >= 0) {
			struct pollfd pf = {fd, POLLIN, 0};
			poll(&pf, 1, (int)(give_up - now_ms()) + 1);
		} else {
			struct timespec ts = {0, 5000000};
			nanosleep(&ts, NULL);
		}
	}
	if (spawn_alive(p->proc, &status))
		strbuf_addstr(out, "closed its stdout");
	else
		spawn_status_text(out, status);
}

/*
 * Something went wrong while talking to the program: the message for the
 * step into `msg`, and the program is stopped (the next step starts it
 * again).
 */
static void prog_fail(struct ext_prog *p, enum ext_why why, int64_t timeout,
		      struct strbuf *msg)
{
	switch (why) {
	case EXT_GONE:
		strbuf_addf(msg, "driver '%s' ", p->name);
		add_exit_text(msg, p);
		prog_stop(p);
		add_stderr_tail(msg, p);
		return;
	case EXT_HUNG:
		strbuf_addf(msg, "driver '%s' did not answer within ", p->name);
		strbuf_add_duration(msg, timeout);
		strbuf_addstr(msg, "; its process group was killed");
		break;
	case EXT_CANCEL:
		strbuf_addstr(msg, "interrupted");
		break;
	case EXT_TOOLONG:
		strbuf_addf(msg,
			    "driver '%s' wrote a line longer than %u MiB; "
			    "it was stopped",
			    p->name, EXT_LINE_MAX >> 20);
		break;
	case EXT_IOERR:
	case EXT_OK:
		strbuf_addf(msg, "cannot talk to driver '%s': %s", p->name,
			    strerror(errno));
		break;
	}
	prog_stop(p);
}

/* Appends `text` cut at `max` bytes, with control characters shown as
 * spaces, for the step log and messages. */
static void add_shown(struct strbuf *out, const char *text, size_t len,
		      size_t max)
{
	struct strbuf t = STRBUF_INIT;
	strbuf_add_cut(&t, text, len, max, len);
	for (size_t i = 0; i < t.len; i++)
		strbuf_addch(out,
			     (unsigned char)t.buf[i] < 0x20 ? ' ' : t.buf[i]);
	strbuf_release(&t);
}

/*
 * Reads one answer and parses it: 0 with *out (an object with a valid
 * `status`), or -1 with `msg` set and the program stopped.
 */
static int read_answer(struct ext_prog *p, const struct itest_stepctx *ctx,
		       double deadline, int64_t timeout, struct ivalue **out,
		       struct strbuf *msg)
{
	struct strbuf line = STRBUF_INIT;
	struct itest_err err = ITEST_ERR_INIT;
	*out = NULL;
	enum ext_why why = read_line(p, deadline, ctx->cancel_fd, &line);
	if (why != EXT_OK) {
		prog_fail(p, why, timeout, msg);
		strbuf_release(&line);
		return -1;
	}
	if (ctx->log) {
		strbuf_addstr(ctx->log, "< ");
		add_shown(ctx->log, line.buf, line.len, EXT_LOG_MAX);
		strbuf_addch(ctx->log, '\n');
	}
	struct ivalue *v = json_parse(line.buf, line.len, NULL, &err);
	const char *st = iv_strval(iv_get(v, "status"));
	if (!v) {
		strbuf_addf(msg,
			    "driver '%s' wrote something that is not JSON: ",
			    p->name);
		add_shown(msg, line.buf, line.len, EXT_GARBAGE_MAX);
	} else if (v->type != IV_OBJ) {
		strbuf_addf(msg,
			    "driver '%s' answered with a JSON %s, not an "
			    "object",
			    p->name, iv_kind(v));
	} else if (!st || (strcmp(st, "pass") && strcmp(st, "fail") &&
			   strcmp(st, "error"))) {
		strbuf_addf(msg,
			    "driver '%s' answered without a 'status' of "
			    "pass, fail or error: ",
			    p->name);
		add_shown(msg, line.buf, line.len, EXT_GARBAGE_MAX);
	} else {
		*out = v;
		strbuf_release(&line);
		return 0;
	}
	/* out of step with it: start afresh at the next step */
	iv_free(v);
	strbuf_release(&line);
	prog_stop(p);
	return -1;
}

/* The folder where the entry was written (an included file's entry runs
 * in that file's folder), else the suite's. */
static char *default_cwd(const struct ivalue *conf, const char *suite_dir)
{
	if (!conf->loc.src || !conf->loc.src->path)
		return xstrdup(suite_dir ? suite_dir : ".");
	char *d = suite_path(conf, ".");
	size_t len = strlen(d);
	if (len > 2 && !strcmp(d + len - 2, "/."))
		d[len - 2] = '\0';
	return d;
}

/* Adds a location prefix ("FILE:LINE:COL: ") and an error's message. */
static void add_err(struct strbuf *msg, const struct itest_err *err)
{
	loc_format(msg, &err->loc);
	if (msg->len)
		strbuf_addstr(msg, ": ");
	strbuf_addstr(msg, err->msg);
}

/*
 * Starts the program and opens it: renders the entry, spawns, sends
 * "open" and reads its answer.  0, or -1 with `msg` set (and nothing
 * running).
 */
static int prog_start(struct ext_prog *p, const struct itest_stepctx *ctx,
		      int64_t step_timeout, struct strbuf *msg)
{
	struct itest_err err = ITEST_ERR_INIT;
	struct strlist argv = {0}, env = {0};
	struct ivalue *conf = NULL, *ans = NULL;
	struct strbuf cmd = STRBUF_INIT, req = STRBUF_INIT;
	char *cwd = NULL;
	int ret = -1;

	if (!ctx->conf) {
		strbuf_addf(msg, "no external driver '%s' in this suite",
			    p->name);
		goto out;
	}
	conf = ctx->scope ? tpl_render(ctx->conf, ctx->scope, &err)
			  : iv_clone(ctx->conf);
	if (!conf) {
		strbuf_addf(msg, "cannot start driver '%s': ", p->name);
		add_err(msg, &err);
		goto out;
	}
	const struct ivalue *run = iv_get(conf, "run");
	if (run && run->type == IV_ARR) {
		for (size_t i = 0; i < run->u.arr.n; i++)
			strlist_push(&argv, iv_text_dup(run->u.arr.v[i]));
		for (size_t i = 0; i < argv.n; i++) {
			if (i)
				strbuf_addch(&cmd, ' ');
			sh_quote(&cmd, argv.v[i], strlen(argv.v[i]));
		}
	} else if (run) {
		char *line = iv_text_dup(run);
		strbuf_addstr(&cmd, line);
		strlist_push(&argv, xstrdup("/bin/sh"));
		strlist_push(&argv, xstrdup("-c"));
		strlist_push(&argv, line);
	}
	if (!argv.n || !argv.v[0][0]) {
		strbuf_addf(msg, "driver '%s' has an empty 'run'", p->name);
		goto out;
	}

	strlist_push(&env, xasprintf("ITEST_DRIVER=%s", p->name));
	if (ctx->run_dir)
		strlist_push(&env, xasprintf("ITEST_RUN_DIR=%s", ctx->run_dir));
	const struct ivalue *e = iv_get(conf, "env");
	for (size_t i = 0; e && e->type == IV_OBJ && i < e->u.obj.n; i++) {
		struct strbuf kv = STRBUF_INIT;
		strbuf_addf(&kv, "%s=", e->u.obj.m[i].key);
		iv_to_text(&kv, e->u.obj.m[i].val);
		strlist_push(&env, strbuf_detach(&kv, NULL));
	}

	const char *dir = iv_strval(iv_get(conf, "cwd"));
	if (dir)
		cwd = suite_path(iv_get(ctx->conf, "cwd"), dir);
	else
		cwd = default_cwd(ctx->conf, ctx->suite_dir);

	const struct ivalue *to = iv_get(conf, "timeout");
	p->timeout_ms = 0;
	if (to) {
		int64_t ms = duration_parse_ms(iv_strval(to));
		if (ms <= 0) {
			strbuf_addf(msg,
				    "bad duration '%s' for 'timeout' of driver "
				    "'%s' (write 250ms, 2s or 1m)",
				    iv_strval(to) ? iv_strval(to) : "",
				    p->name);
			goto out;
		}
		p->timeout_ms = ms;
	}

	if (!p->log_path)
		p->log_path = claim_log(ctx->run_dir, p->name);
	struct strbuf note = STRBUF_INIT;
	strbuf_addf(&note, "--- itest: starting driver '%s' in %s: %s\n",
		    p->name, cwd, cmd.buf);
	p->log_start = log_note(p->log_path, note.buf);
	strbuf_release(&note);

	struct spawn_opts o = {0};
	o.argv = (const char *const *)argv.v;
	o.env = (const char *const *)env.v;
	o.cwd = cwd;
	if (spawn_coproc_start(&o, p->log_path, &p->proc, &p->in_fd, &p->out_fd,
			       &err) < 0) {
		strbuf_addf(msg, "cannot start driver '%s': %s", p->name,
			    err.msg);
		goto out;
	}
	if (ctx->log)
		strbuf_addf(ctx->log, "started driver '%s' (pid %ld): %s\n",
			    p->name, (long)spawn_pid(p->proc), cmd.buf);

	int64_t timeout = step_timeout	  ? step_timeout
			  : p->timeout_ms ? p->timeout_ms
					  : EXT_TIMEOUT_DEFAULT_MS;
	double deadline = now_ms() + (double)timeout;
	strbuf_addstr(&req, "{\"op\":\"open\",\"driver\":\"");
	strbuf_add_json_escaped(&req, p->name, strlen(p->name));
	strbuf_addstr(&req, "\"}");
	if (ctx->log)
		strbuf_addf(ctx->log, "> %s\n", req.buf);
	enum ext_why why = send_line(p, &req, deadline, ctx->cancel_fd);
	if (why != EXT_OK) {
		prog_fail(p, why, timeout, msg);
		goto out;
	}
	if (read_answer(p, ctx, deadline, timeout, &ans, msg) < 0)
		goto out;
	if (!strcmp(iv_strval(iv_get(ans, "status")), "error")) {
		const char *m = iv_strval(iv_get(ans, "message"));
		strbuf_addf(msg, "driver '%s' failed to open%s%s", p->name,
			    m ? ": " : "", m ? m : "");
		prog_stop(p);
		goto out;
	}
	ret = 0;
out:
	if (ret < 0 && p->proc)
		prog_stop(p);
	iv_free(conf);
	iv_free(ans);
	strlist_release(&argv);
	strlist_release(&env);
	strbuf_release(&cmd);
	strbuf_release(&req);
	free(cwd);
	return ret;
}

/* The test's name from the step's scope, or NULL (setup, teardown). */
static const char *test_name(const struct scope *sc)
{
	for (; sc; sc = sc->parent) {
		if (!sc->builtins)
			continue;
		const char *n =
			iv_strval(iv_get(iv_get(sc->builtins, "test"), "name"));
		return n;
	}
	return NULL;
}

/*
 * A program that is running but wrote more than it was asked, or exited
 * between steps: a note in the log, and `msg` for the extra output (the
 * program is stopped either way, and this step starts it again).
 */
static int prog_check_idle(struct ext_prog *p, const struct itest_stepctx *ctx,
			   struct strbuf *msg)
{
	int status = 0;
	char buf[4096];
	ssize_t n;
	while ((n = read(p->out_fd, buf, sizeof(buf))) > 0 &&
	       p->rbuf.len < EXT_LINE_MAX)
		strbuf_add(&p->rbuf, buf, (size_t)n);
	if (p->rbuf.len) {
		strbuf_addf(msg,
			    "driver '%s' wrote more than one answer "
			    "line to its previous request: ",
			    p->name);
		add_shown(msg, p->rbuf.buf, p->rbuf.len, EXT_GARBAGE_MAX);
		prog_stop(p);
		return -1;
	}
	if (!spawn_alive(p->proc, &status)) {
		if (ctx->log) {
			strbuf_addf(ctx->log, "driver '%s' ", p->name);
			spawn_status_text(ctx->log, status);
			strbuf_addstr(ctx->log,
				      " since the last step; starting it "
				      "again\n");
		}
		prog_stop(p);
	}
	return 0;
}

/* Moves the members of the answer's `result` into the result parts. */
static void take_parts(struct ivalue *ans, struct itest_result *res)
{
	struct ivalue *r = iv_get(ans, "result");
	if (!r || r->type != IV_OBJ)
		return;
	for (size_t i = 0; i < r->u.obj.n; i++) {
		struct imember *m = &r->u.obj.m[i];
		iv_setn(res->parts, m->key, m->klen, m->val);
		m->val = iv_null(); /* moved */
	}
	if (iv_get(res->parts, "json"))
		return;
	const char *from[] = {"body", "stdout"};
	for (size_t i = 0; i < ARRAY_SIZE(from); i++) {
		const struct ivalue *v = iv_get(res->parts, from[i]);
		if (v && v->type == IV_STR) {
			res->json_from = from[i];
			return;
		}
	}
}

static int ext_open(void *session, const struct itest_stepctx *ctx,
		    struct itest_err *err)
{
	(void)session;
	(void)ctx;
	(void)err;
	return 0; /* programs start at their first step */
}

static enum itest_status ext_exec(void *session,
				  const struct itest_stepctx *ctx,
				  const struct ivalue *arg,
				  struct itest_result *res)
{
	struct ext_session *s = session;
	struct ext_prog *p = prog_find(s, ctx);
	struct strbuf req = STRBUF_INIT;
	struct ivalue *ans = NULL;
	enum itest_status st = IT_ERROR;
	int64_t step_timeout = ctx->timeout_ms > 0 ? ctx->timeout_ms : 0;

	if (p->proc && prog_check_idle(p, ctx, &res->message) < 0)
		goto out;
	if (!p->proc && prog_start(p, ctx, step_timeout, &res->message) < 0)
		goto out;
	int64_t timeout = step_timeout	  ? step_timeout
			  : p->timeout_ms ? p->timeout_ms
					  : EXT_TIMEOUT_DEFAULT_MS;
	double deadline = now_ms() + (double)timeout;

	strbuf_addstr(&req, "{\"op\":\"exec\",\"step\":");
	json_emit(&req, arg, 0);
	strbuf_addstr(&req, ",\"vars\":");
	if (ctx->vars)
		json_emit(&req, ctx->vars, 0);
	else
		strbuf_addstr(&req, "{}");
	const char *tn = test_name(ctx->scope);
	if (tn) {
		strbuf_addstr(&req, ",\"test\":\"");
		strbuf_add_json_escaped(&req, tn, strlen(tn));
		strbuf_addch(&req, '"');
	}
	strbuf_addch(&req, '}');
	if (ctx->log) {
		strbuf_addstr(ctx->log, "> ");
		add_shown(ctx->log, req.buf, req.len, EXT_LOG_MAX);
		strbuf_addch(ctx->log, '\n');
	}
	enum ext_why why = send_line(p, &req, deadline, ctx->cancel_fd);
	if (why != EXT_OK) {
		prog_fail(p, why, timeout, &res->message);
		goto out;
	}
	if (read_answer(p, ctx, deadline, timeout, &ans, &res->message) < 0)
		goto out;

	const char *status = iv_strval(iv_get(ans, "status"));
	const char *m = iv_strval(iv_get(ans, "message"));
	const struct ivalue *r = iv_get(ans, "result");
	if (!strcmp(status, "pass")) {
		if (r && r->type != IV_OBJ && r->type != IV_NULL) {
			strbuf_addf(
				&res->message,
				"driver '%s' answered a 'result' of type %s, "
				"not an object of parts",
				p->name, iv_kind(r));
			goto out;
		}
		take_parts(ans, res);
		st = IT_PASS;
	} else {
		if (!strcmp(status, "fail"))
			take_parts(ans, res);
		if (m)
			strbuf_addstr(&res->message, m);
		if (!res->message.len)
			strbuf_addf(&res->message,
				    "driver '%s' says the step %s", p->name,
				    !strcmp(status, "fail") ? "failed"
							    : "could not run");
		st = !strcmp(status, "fail") ? IT_FAIL : IT_ERROR;
	}
out:
	iv_free(ans);
	strbuf_release(&req);
	return st;
}

static void ext_close(void *session)
{
	struct ext_session *s = session;
	struct strbuf bye = STRBUF_INIT;
	strbuf_addstr(&bye, "{\"op\":\"close\"}\n");
	/* ask all to close, give them a moment together, then end them */
	double deadline = now_ms() + EXT_EXIT_WAIT_MS;
	for (size_t i = 0; i < s->n; i++) {
		struct ext_prog *p = s->v[i];
		if (!p->proc)
			continue;
		spawn_pipe_write(p->in_fd, bye.buf, bye.len, deadline, -1);
		close(p->in_fd);
		p->in_fd = -1;
	}
	for (size_t i = 0; i < s->n; i++) {
		struct ext_prog *p = s->v[i];
		while (p->proc && spawn_alive(p->proc, NULL) &&
		       now_ms() < deadline) {
			int fd = spawn_fd(p->proc);
			if (fd >= 0) {
				struct pollfd pf = {fd, POLLIN, 0};
				poll(&pf, 1, (int)(deadline - now_ms()) + 1);
			} else {
				struct timespec ts = {0, 5000000};
				nanosleep(&ts, NULL);
			}
		}
	}
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i]->proc)
			spawn_stop_begin(s->v[i]->proc, SIGTERM,
					 EXT_KILL_GRACE_MS);
	for (size_t i = 0; i < s->n; i++) {
		struct ext_prog *p = s->v[i];
		prog_stop(p);
		strbuf_release(&p->rbuf);
		free(p->name);
		free(p->log_path);
		free(p);
	}
	free(s->v);
	strbuf_release(&bye);
}

const struct itest_driver external_driver = {
	.name = "external",
	.arg_types = TY_ANY,
	.keys = NULL,
	.parts = NULL,
	.session_size = sizeof(struct ext_session),
	.check_step = NULL,
	.open = ext_open,
	.exec = ext_exec,
	.test_end = NULL,
	.close = ext_close,
	.summary = NULL,
	.suite_key = "drivers",
	.external = 1,
	.check_conf = ext_check_conf,
};
