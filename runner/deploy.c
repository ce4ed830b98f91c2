/*
 * Deployments (deploy.h): a port per component reserved by a lock file
 * and checked by a bind, components started in process groups of their
 * own with their output in RUN_DIR/logs/SUITE/, readiness probes (tcp,
 * http, log, command), stub servers on the same ports, and stage changes
 * that stop and start only what changes: stops first (dependents before
 * what they need), then stubs, then real components layer by layer, each
 * layer ready before the next one starts.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pcre2.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "deploy.h"
#include "ports.h"
#include "runtime.h"
#include "spawn.h"
#include "stubsrv.h"
#include "template.h"

#define DEPLOY_HOST	  "127.0.0.1"
#define DEPLOY_TAIL_LINES 10
#define DEPLOY_TAIL_BYTES 8192 /* how much of a log's end to read */
#define DEPLOY_TRY_MS	  1000 /* one tcp or http try */
#define DEPLOY_LOG_CAP	  (16 * 1024 * 1024) /* log text a `log` probe keeps */
#define DEPLOY_SWEEP_MAX  256		     /* daemons ended per component */
#define DEPLOY_ENGINE_MS  (10 * 60000)	     /* an engine's up or down */

enum dstate { DS_OFF, DS_REAL, DS_STUB };

/* What one start of a real component needs until it is stopped. */
struct dstart {
	char **argv; /* NULL-terminated, owned */
	char **env;  /* "NAME=VALUE", NULL-terminated, owned */
	char *cwd;
	double t0;	    /* monotonic ms */
	off_t log_start;    /* the log's size before this start */
	char *url;	    /* http probe */
	char **probe_argv;  /* command probe */
	char *probe_text;   /* the command as people read it */
	pcre2_code *re;	    /* log probe */
	struct strbuf seen; /* log probe: the log since log_start */
	char **down_argv;   /* an engine's `down`, rendered when it goes up */
	char *down_text;
	char *key; /* "NAME.TOKEN": its `down` in the registry */
};

struct dcomp {
	const struct component *c;
	int port;
	int lock_fd;
	char *log_path;
	char *marker; /* "ITEST_COMPONENT_ID=NAME.TOKEN": finds its daemons */
	struct ivalue *own; /* {host, port, url}: its own built-ins */
	enum dstate state;
	struct spawn_proc *proc;
	struct stubsrv *stub;
	struct dstart st;
};

struct deployment {
	const struct suite *s;
	char *run_id;
	char *reg_key; /* the run in the registry of live runs, or NULL */
	char *run_dir;
	char *log_dir;
	int cancel_fd;
	const struct masker *mask;
	const struct ivalue *cli_vars, *file_vars;
	pthread_mutex_t check_mu; /* deploy_check from parallel tests */
	struct dcomp *comps;
	size_t n;
	struct ivalue *vars;	 /* deploy_vars() */
	struct ivalue *builtins; /* {run: {id, dir}, C: {...}, ...} */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void free_strv(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static int cancelled(int fd)
{
	struct pollfd p = {fd, POLLIN, 0};
	return fd >= 0 && poll(&p, 1, 0) > 0;
}

/* ---- ports ---- */

/* A port for every component (runner/ports.c), each held for the life
 * of the deployment. */
static int reserve_ports(struct deployment *d, struct itest_err *err)
{
	for (size_t i = 0; i < d->n; i++)
		if (ports_reserve(&d->comps[i].port, &d->comps[i].lock_fd,
				  err) < 0)
			return -1;
	return 0;
}

/* ---- logs ---- */

/* Appends the last lines of a log to `why`. */
static void add_log_tail(struct strbuf *why, const char *path)
{
	char buf[DEPLOY_TAIL_BYTES];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = 0;
	struct stat st;
	if (fd >= 0 && !fstat(fd, &st)) {
		off_t from = st.st_size > (off_t)sizeof(buf)
				     ? st.st_size - (off_t)sizeof(buf)
				     : 0;
		n = pread(fd, buf, sizeof(buf), from);
	}
	if (fd >= 0)
		close(fd);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	if (n <= 0) {
		strbuf_addf(why, "\n(its log %s is empty)", path);
		return;
	}
	size_t start = (size_t)n;
	for (int lines = 0; start > 0; start--)
		if (buf[start - 1] == '\n' && ++lines == DEPLOY_TAIL_LINES)
			break;
	strbuf_addf(why, "\nlast lines of %s:", path);
	for (size_t i = start; i < (size_t)n;) {
		const char *nl = memchr(buf + i, '\n', (size_t)n - i);
		size_t end = nl ? (size_t)(nl - buf) : (size_t)n;
		strbuf_addstr(why, "\n  ");
		strbuf_add(why, buf + i, end - i);
		i = end + 1;
	}
}

/* Masks the secrets in a log once its writer is gone (SPEC 8: the logs
 * itest captures are masked). */
static void mask_log(const struct deployment *d, const char *path)
{
	struct strbuf sb = STRBUF_INIT, masked = STRBUF_INIT;
	struct itest_err err = ITEST_ERR_INIT;
	char buf[65536];
	if (!d->mask || !d->mask->n)
		return;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		strbuf_add(&sb, buf, (size_t)n);
	}
	close(fd);
	strbuf_add(&masked, sb.buf, sb.len);
	mask_apply(d->mask, &masked);
	if (masked.len != sb.len || memcmp(masked.buf, sb.buf, sb.len))
		mask_write_file(d->mask, path, &sb, &err);
	strbuf_release(&sb);
	strbuf_release(&masked);
}

/* ---- rendering a component's templates ---- */

static void comp_scope(const struct deployment *d, const struct dcomp *dc,
		       struct scope *sc)
{
	memset(sc, 0, sizeof(*sc));
	scope_push(sc, dc->own);
	scope_push(sc, d->cli_vars);
	scope_push(sc, d->file_vars);
	sc->suite_vars = d->s->vars;
	sc->builtins = d->builtins;
}

static int render_fail(const struct dcomp *dc, const struct itest_err *err,
		       struct strbuf *why)
{
	strbuf_addf(why, "cannot start component '%s': ", dc->c->name);
	if (err->loc.line) {
		loc_format(why, &err->loc);
		strbuf_addstr(why, ": ");
	}
	strbuf_addstr(why, err->msg);
	return -1;
}

/* Renders a string (or any scalar) to text; NULL with `why` on error. */
static char *render_text(const struct deployment *d, const struct dcomp *dc,
			 const struct ivalue *v, struct strbuf *why)
{
	struct itest_err err = ITEST_ERR_INIT;
	struct strbuf out = STRBUF_INIT;
	struct scope sc;
	comp_scope(d, dc, &sc);
	if (v->type != IV_STR) {
		iv_to_text(&out, v);
		return strbuf_detach(&out, NULL);
	}
	if (tpl_render_text(v->u.str.s, v->u.str.len, &sc, &out, &v->loc,
			    &err) < 0) {
		strbuf_release(&out);
		render_fail(dc, &err, why);
		return NULL;
	}
	return strbuf_detach(&out, NULL);
}

/* A command (a string for /bin/sh -c, or an argv list) as an argv, and
 * as text for messages when `text` is not NULL. */
static char **render_argv(const struct deployment *d, const struct dcomp *dc,
			  const struct ivalue *v, char **text,
			  struct strbuf *why)
{
	char **argv;
	if (v->type != IV_ARR) {
		char *cmd = render_text(d, dc, v, why);
		if (!cmd)
			return NULL;
		argv = xcalloc(4, sizeof(*argv));
		argv[0] = xstrdup("/bin/sh");
		argv[1] = xstrdup("-c");
		argv[2] = cmd;
		if (text)
			*text = xstrdup(cmd);
		return argv;
	}
	struct itest_err err = ITEST_ERR_INIT;
	struct scope sc;
	comp_scope(d, dc, &sc);
	struct ivalue *r = tpl_render(v, &sc, &err);
	if (!r) {
		render_fail(dc, &err, why);
		return NULL;
	}
	struct strbuf sb = STRBUF_INIT, all = STRBUF_INIT;
	argv = xcalloc(r->u.arr.n + 1, sizeof(*argv));
	for (size_t i = 0; i < r->u.arr.n; i++) {
		iv_to_text(&sb, r->u.arr.v[i]);
		if (i)
			strbuf_addch(&all, ' ');
		sh_quote(&all, sb.buf, sb.len);
		argv[i] = strbuf_detach(&sb, NULL);
	}
	iv_free(r);
	if (text)
		*text = strbuf_detach(&all, NULL);
	strbuf_release(&all);
	return argv;
}

/* "orders-db" -> "ORDERS_DB" */
static void env_name(struct strbuf *sb, const char *name)
{
	for (const char *p = name; *p; p++) {
		char c = *p;
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			c = '_';
		strbuf_addch(sb, c);
	}
}

/* The environment over the inherited one: PORT, ITEST_RUN_ID,
 * ITEST_RUN_DIR, the marker, <NEED>_URL for each need, then the `env`
 * map. */
static char **build_env(const struct deployment *d, const struct dcomp *dc,
			struct strbuf *why)
{
	const struct component *c = dc->c;
	struct ivalue *env = NULL;
	if (c->env) {
		struct itest_err err = ITEST_ERR_INIT;
		struct scope sc;
		comp_scope(d, dc, &sc);
		env = tpl_render(c->env, &sc, &err);
		if (!env) {
			render_fail(dc, &err, why);
			return NULL;
		}
	}
	size_t n = 5 + c->nneeds + (env ? env->u.obj.n : 0), k = 0;
	char **v = xcalloc(n + 1, sizeof(*v));
	struct strbuf sb = STRBUF_INIT;
	v[k++] = xasprintf("PORT=%d", dc->port);
	/* `coverage: gcov`: the process writes its .gcda files under the
	 * run folder (runner/gcov.c), not beside its objects */
	if (c->gcov)
		v[k++] = xasprintf("GCOV_PREFIX=%s/coverage/gcov/%s/%s",
				   d->run_dir, d->s->name, c->name);
	v[k++] = xasprintf("ITEST_RUN_ID=%s", d->run_id);
	v[k++] = xasprintf("ITEST_RUN_DIR=%s", d->run_dir);
	v[k++] = xstrdup(dc->marker);
	for (size_t i = 0; i < c->nneeds; i++) {
		const struct dcomp *need = &d->comps[c->needs[i]];
		env_name(&sb, need->c->name);
		strbuf_addf(&sb, "_URL=http://%s:%d", DEPLOY_HOST, need->port);
		v[k++] = strbuf_detach(&sb, NULL);
	}
	for (size_t i = 0; env && i < env->u.obj.n; i++) {
		strbuf_addf(&sb, "%s=", env->u.obj.m[i].key);
		iv_to_text(&sb, env->u.obj.m[i].val);
		v[k++] = strbuf_detach(&sb, NULL);
	}
	iv_free(env);
	return v;
}

/* ---- starting and stopping ---- */

static void dstart_release(struct dstart *st)
{
	free_strv(st->argv);
	free_strv(st->env);
	free(st->cwd);
	free(st->url);
	free_strv(st->probe_argv);
	free(st->probe_text);
	pcre2_code_free(st->re);
	strbuf_release(&st->seen);
	free_strv(st->down_argv);
	free(st->down_text);
	free(st->key);
	memset(st, 0, sizeof(*st));
	strbuf_init(&st->seen, 0);
}

/* Renders the probe's argument. */
static int prepare_probe(const struct deployment *d, struct dcomp *dc,
			 struct strbuf *why)
{
	const struct component *c = dc->c;
	struct dstart *st = &dc->st;
	char *re;
	int code;
	PCRE2_SIZE off;
	switch (c->ready) {
	case READY_TCP:
		return 0;
	case READY_HTTP:
		st->url = render_text(d, dc, c->ready_arg, why);
		return st->url ? 0 : -1;
	case READY_COMMAND:
		st->probe_argv =
			render_argv(d, dc, c->ready_arg, &st->probe_text, why);
		return st->probe_argv ? 0 : -1;
	case READY_LOG:
		re = render_text(d, dc, c->ready_arg, why);
		if (!re)
			return -1;
		st->re = pcre2_compile((PCRE2_SPTR)re, strlen(re),
				       PCRE2_MULTILINE | PCRE2_UTF |
					       PCRE2_MATCH_INVALID_UTF,
				       &code, &off, NULL);
		if (!st->re) {
			PCRE2_UCHAR msg[256];
			pcre2_get_error_message(code, msg, sizeof(msg));
			strbuf_addf(why,
				    "component '%s': bad 'log' regex '%s': %s "
				    "at offset %zu",
				    c->name, re, (const char *)msg,
				    (size_t)off);
		}
		free(re);
		return st->re ? 0 : -1;
	}
	return 0;
}

/* What every start needs: the environment, the probe, the folder it
 * runs in, and where its log begins. */
static int prepare_start(struct deployment *d, struct dcomp *dc,
			 struct strbuf *why)
{
	const struct component *c = dc->c;
	struct dstart *st = &dc->st;
	struct stat sb;
	if (!(st->env = build_env(d, dc, why)) || prepare_probe(d, dc, why) < 0)
		return -1;
	if (c->cwd) {
		char *cwd = render_text(d, dc, c->cwd, why);
		if (!cwd)
			return -1;
		st->cwd = cwd[0] == '/' ? cwd : xasprintf("%s/%s", c->dir, cwd);
		if (st->cwd != cwd)
			free(cwd);
	} else {
		st->cwd = xstrdup(c->dir);
	}
	if (mkdir_p(d->log_dir, 0700) < 0) {
		strbuf_addf(why,
			    "cannot start component '%s': cannot create '%s': "
			    "%s",
			    c->name, d->log_dir, strerror(errno));
		return -1;
	}
	st->log_start = stat(dc->log_path, &sb) ? 0 : sb.st_size;
	return 0;
}

static int start_real(struct deployment *d, struct dcomp *dc,
		      struct strbuf *why)
{
	const struct component *c = dc->c;
	struct dstart *st = &dc->st;
	struct itest_err err = ITEST_ERR_INIT;

	dstart_release(st);
	if (!(st->argv = render_argv(d, dc, c->run, NULL, why)) ||
	    prepare_start(d, dc, why) < 0)
		goto fail;
	struct spawn_opts o = {0};
	o.argv = (const char *const *)st->argv;
	o.env = (const char *const *)st->env;
	o.cwd = st->cwd;
	o.cancel_fd = -1;
	if (spawn_start(&o, dc->log_path, &dc->proc, &err) < 0) {
		strbuf_addf(why, "cannot start component '%s': %s", c->name,
			    err.msg);
		goto fail;
	}
	/* for the reaper and `itest gc`, should itest die */
	runtime_add_pgid(d->reg_key, spawn_pid(dc->proc), c->stop_signal,
			 c->stop_grace_ms);
	st->t0 = now_ms();
	dc->state = DS_REAL;
	return 0;
fail:
	dstart_release(st);
	return -1;
}

/* ---- engines (`deploy: {up, down, ready}`) ---- */

/*
 * Runs an engine's `up` or `down` (`what`) to its end, its output
 * appended to the component's log.  0 when it exited with status 0;
 * else -1 with one line in `why` (and the log's last lines with `tail`).
 */
static int run_engine_cmd(struct dcomp *dc, const char *what, char **argv,
			  const char *text, int cancel_fd, int tail,
			  struct strbuf *why)
{
	struct spawn_opts o = {0};
	struct spawn_result r;
	struct itest_err err = ITEST_ERR_INIT;
	int ret = -1;
	o.argv = (const char *const *)argv;
	o.env = (const char *const *)dc->st.env;
	o.cwd = dc->st.cwd;
	o.timeout_ms = DEPLOY_ENGINE_MS;
	o.kill_grace_ms = 5000;
	o.cancel_fd = cancel_fd;
	spawn_result_init(&r);
	if (spawn_run(&o, &r, &err) < 0) {
		strbuf_addf(why, "component '%s': deploy %s: %s", dc->c->name,
			    what, err.msg);
		goto out;
	}
	int fd = open(dc->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
		      0600);
	if (fd >= 0) {
		dprintf(fd, "--- deploy %s: %s\n", what, text);
		if (write(fd, r.out.buf, r.out.len) < 0 ||
		    write(fd, r.err.buf, r.err.len) < 0)
			r.elapsed_ms = 0; /* the log is a help, no more */
		close(fd);
	}
	if (r.exited && r.status == 0) {
		ret = 0;
		goto out;
	}
	strbuf_addf(why, "component '%s': deploy %s '%s' ", dc->c->name, what,
		    text);
	if (r.timed_out) {
		strbuf_addstr(why, "did not finish in ");
		strbuf_add_duration(why, DEPLOY_ENGINE_MS);
	} else if (r.cancelled) {
		strbuf_addstr(why, "was interrupted");
	} else if (r.exited) {
		strbuf_addf(why, "exited with status %d", r.status);
	} else {
		strbuf_addf(why, "was killed by signal %d", r.signal);
	}
	if (tail) {
		add_log_tail(why, dc->log_path);
	} else {
		struct strbuf *out = r.err.len ? &r.err : &r.out;
		strbuf_rtrim(out);
		const char *nl = strrchr(out->buf, '\n');
		const char *last = nl ? nl + 1 : out->buf;
		if (*last)
			strbuf_addf(why, ": %s", last);
	}
out:
	spawn_result_release(&r);
	return ret;
}

/* Notes the `down` command in the registry of live runs, so that the
 * reaper or `itest gc` runs it should itest die before it does. */
static void note_down(const struct deployment *d, const struct dcomp *dc)
{
	const struct dstart *st = &dc->st;
	struct ivalue *cmd = iv_obj(), *argv = iv_arr(), *env = iv_arr();
	char *cwd = realpath(st->cwd, NULL);
	for (size_t i = 0; st->down_argv[i]; i++)
		iv_push(argv, iv_str(st->down_argv[i]));
	for (size_t i = 0; st->env[i]; i++)
		iv_push(env, iv_str(st->env[i]));
	iv_set(cmd, "component", iv_str(dc->c->name));
	iv_set(cmd, "text", iv_str(st->down_text));
	iv_set(cmd, "argv", argv);
	iv_set(cmd, "env", env);
	iv_set(cmd, "cwd", iv_str(cwd ? cwd : st->cwd));
	iv_set(cmd, "log", iv_str(dc->log_path));
	runtime_add_down(d->reg_key, st->key, cmd);
	iv_free(cmd);
	free(cwd);
}

/*
 * Hands a component to its engine: renders `up` and `down`, notes `down`
 * for the reaper, runs `up`.  From the moment `up` starts the component
 * counts as real, so that `down` runs when it is stopped, even after a
 * failed `up`.
 */
static int start_engine(struct deployment *d, struct dcomp *dc,
			struct strbuf *why)
{
	const struct component *c = dc->c;
	struct dstart *st = &dc->st;
	char **up = NULL, *up_text = NULL;
	int ret = -1;

	dstart_release(st);
	if (!(up = render_argv(d, dc, iv_get(c->deploy, "up"), &up_text,
			       why)) ||
	    !(st->down_argv = render_argv(d, dc, iv_get(c->deploy, "down"),
					  &st->down_text, why)) ||
	    prepare_start(d, dc, why) < 0) {
		dstart_release(st);
		goto out;
	}
	st->key = xstrdup(strchr(dc->marker, '=') + 1);
	note_down(d, dc);
	dc->state = DS_REAL;
	ret = run_engine_cmd(dc, "up", up, up_text, d->cancel_fd, 1, why);
	st->t0 = now_ms(); /* the probe's timeout starts when up is done */
out:
	free_strv(up);
	free(up_text);
	return ret;
}

/* Runs an engine's `down` (always: a failure is reported, not fatal). */
static void stop_engine(struct deployment *d, struct dcomp *dc)
{
	struct dstart *st = &dc->st;
	struct strbuf why = STRBUF_INIT;
	if (!st->down_argv)
		return;
	if (run_engine_cmd(dc, "down", st->down_argv, st->down_text, -1, 0,
			   &why) < 0) {
		mask_apply(d->mask, &why);
		fprintf(stderr, "itest: warning: %s\n", why.buf);
	}
	runtime_del_down(d->reg_key, st->key);
	strbuf_release(&why);
}

/* ---- daemons ---- */

/*
 * The processes (of this user) whose environment holds `marker` as a
 * whole entry: what a component started, even after it left the
 * component's process group (setsid, double fork).  At most `max` pids
 * go to `out`; returns how many.  Zombies have no environment left.
 */
static size_t find_marked(const char *marker, pid_t *out, size_t max)
{
	DIR *dir = opendir("/proc");
	struct strbuf env = STRBUF_INIT;
	size_t n = 0, mlen = strlen(marker);
	char path[64], buf[16384];
	pid_t self = getpid();
	if (!dir)
		return 0;
	for (struct dirent *e; n < max && (e = readdir(dir));) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (pid <= 0 || *end || pid == self)
			continue;
		snprintf(path, sizeof(path), "%ld/environ", pid);
		int fd = openat(dirfd(dir), path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		strbuf_reset(&env);
		for (ssize_t r; env.len < (1 << 20) &&
				(r = read(fd, buf, sizeof(buf))) > 0;)
			strbuf_add(&env, buf, (size_t)r);
		close(fd);
		for (size_t i = 0; i < env.len;) {
			size_t len = strnlen(env.buf + i, env.len - i);
			if (len == mlen && !memcmp(env.buf + i, marker, mlen)) {
				out[n++] = (pid_t)pid;
				break;
			}
			i += len + 1;
		}
	}
	closedir(dir);
	strbuf_release(&env);
	return n;
}

/* Reaps those of `pids` that are our children (itest as a child
 * subreaper inherits a component's daemons) and have died. */
static void reap_dead(const pid_t *pids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		while (waitpid(pids[i], NULL, WNOHANG) < 0 && errno == EINTR)
			;
}

/* Ends what a stopped component left running outside its group: its
 * stop signal, the grace, then SIGKILL. */
static void sweep(const struct dcomp *dc)
{
	pid_t pids[DEPLOY_SWEEP_MAX];
	size_t n = find_marked(dc->marker, pids, DEPLOY_SWEEP_MAX);
	if (!n)
		return;
	for (size_t i = 0; i < n; i++)
		kill(pids[i], dc->c->stop_signal);
	double deadline = now_ms() + (double)dc->c->stop_grace_ms;
	while (n && now_ms() < deadline) {
		struct timespec ts = {0, 10000000L};
		nanosleep(&ts, NULL);
		reap_dead(pids, n);
		n = find_marked(dc->marker, pids, DEPLOY_SWEEP_MAX);
	}
	for (size_t i = 0; i < n; i++)
		kill(pids[i], SIGKILL);
	for (size_t i = 0; i < n; i++)
		/* returns at once (ECHILD) for those that are not ours */
		while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR)
			;
}

/*
 * Is a real component running?  Its leader is; or the leader exited
 * with status 0 after starting the service in the background
 * (daemonizing), and something it started is still alive, in its group
 * or carrying its marker.  Else *status is the leader's.
 */
static int comp_alive(const struct dcomp *dc, int *status)
{
	pid_t one;
	*status = 0;
	if (!dc->proc)
		return 1; /* an engine's: its probe is all we know */
	if (spawn_alive(dc->proc, status))
		return 1;
	if (*status != 0)
		return 0;
	return spawn_group_alive(dc->proc) ||
	       find_marked(dc->marker, &one, 1) > 0;
}

static void stop_end(struct deployment *d, struct dcomp *dc)
{
	if (dc->proc)
		spawn_stop_end(dc->proc);
	else
		stop_engine(d, dc);
	sweep(dc);
	spawn_proc_free(dc->proc);
	dc->proc = NULL;
	dc->state = DS_OFF;
	dstart_release(&dc->st);
	mask_log(d, dc->log_path);
}

/* Stops the real components marked in `which` (all real ones when NULL),
 * dependents first: each layer from the top down gets its stop signals at
 * once, then is waited for. */
static void stop_reals(struct deployment *d, const unsigned char *which)
{
	for (int layer = components_top(d->s); layer >= 0; layer--) {
		for (size_t i = 0; i < d->n; i++) {
			struct dcomp *dc = &d->comps[i];
			if (dc->state == DS_REAL && dc->proc &&
			    dc->c->layer == layer && (!which || which[i]))
				spawn_stop_begin(dc->proc, dc->c->stop_signal,
						 dc->c->stop_grace_ms);
		}
		for (size_t i = 0; i < d->n; i++) {
			struct dcomp *dc = &d->comps[i];
			if (dc->state == DS_REAL && dc->c->layer == layer &&
			    (!which || which[i]))
				stop_end(d, dc);
		}
	}
}

static const struct ivalue *stub_doc(const struct component *c)
{
	if (c->stub_doc)
		return c->stub_doc;
	return c->stub && c->stub->type == IV_OBJ ? c->stub : NULL;
}

static int start_stub(struct dcomp *dc, struct strbuf *why)
{
	struct itest_err err = ITEST_ERR_INIT;
	dc->stub = stubsrv_start(stub_doc(dc->c), dc->c->stub_dir, DEPLOY_HOST,
				 dc->port, &err);
	if (!dc->stub) {
		strbuf_addf(why, "cannot start the stub of component '%s': %s",
			    dc->c->name, err.msg);
		return -1;
	}
	dc->state = DS_STUB;
	return 0;
}

static void stop_stub(struct dcomp *dc)
{
	stubsrv_stop(dc->stub);
	dc->stub = NULL;
	dc->state = DS_OFF;
}

/* ---- readiness ---- */

static int probe_tcp(const struct dcomp *dc, double left, struct strbuf *ans)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	struct sockaddr_in a;
	int e = 0;
	if (fd < 0) {
		strbuf_addf(ans, "socket: %s", strerror(errno));
		return 0;
	}
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)dc->port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		e = errno;
		if (e == EINPROGRESS) {
			struct pollfd pf = {fd, POLLOUT, 0};
			int ms = left < DEPLOY_TRY_MS ? (int)left + 1
						      : DEPLOY_TRY_MS;
			socklen_t len = sizeof(e);
			if (poll(&pf, 1, ms) <= 0)
				e = ETIMEDOUT;
			else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e,
					    &len) < 0)
				e = errno;
		}
	}
	close(fd);
	if (e)
		strbuf_addf(ans, "connect to %s:%d: %s", DEPLOY_HOST, dc->port,
			    strerror(e));
	return !e;
}

static size_t keep_some(char *p, size_t size, size_t n, void *data)
{
	struct strbuf *sb = data;
	strbuf_add(sb, p, size * n); /* capped */
	return size * n;
}

static int probe_http(const struct dcomp *dc, double left, struct strbuf *ans)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct strbuf body = STRBUF_INIT;
	long ms = left < DEPLOY_TRY_MS ? (long)left + 1 : DEPLOY_TRY_MS;
	long code = 0;
	pthread_once(&curl_once, curl_init_once);
	CURL *h = curl_easy_init();
	if (!h) {
		strbuf_addstr(ans, "cannot initialise libcurl");
		return 0;
	}
	body.cap = 200;
	curl_easy_setopt(h, CURLOPT_URL, dc->st.url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, ms);
	curl_easy_setopt(h, CURLOPT_PROXY, ""); /* never through a proxy */
	/* a readiness probe asks "is it up?", not "is its certificate
	 * good?" (tests that care use the http driver) */
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep_some);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
	CURLcode rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(h);
	int ok = rc == CURLE_OK && code >= 200 && code < 400;
	if (rc != CURLE_OK) {
		strbuf_addf(ans, "GET %s: %s", dc->st.url,
			    errbuf[0] ? errbuf : curl_easy_strerror(rc));
	} else if (!ok) {
		strbuf_addf(ans, "GET %s: HTTP %ld", dc->st.url, code);
		char *nl = memchr(body.buf, '\n', body.len);
		if (nl)
			strbuf_setlen(&body, (size_t)(nl - body.buf));
		strbuf_rtrim(&body);
		if (body.len)
			strbuf_addf(ans, " %s", body.buf);
	}
	strbuf_release(&body);
	return ok;
}

static int probe_log(struct dcomp *dc, struct strbuf *ans)
{
	struct dstart *st = &dc->st;
	char buf[65536];
	int fd = open(dc->log_path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		for (;;) {
			off_t at = st->log_start + (off_t)st->seen.len;
			ssize_t n = pread(fd, buf, sizeof(buf), at);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0 || st->seen.len >= DEPLOY_LOG_CAP)
				break;
			strbuf_add(&st->seen, buf, (size_t)n);
		}
		close(fd);
	}
	pcre2_match_data *md =
		pcre2_match_data_create_from_pattern(st->re, NULL);
	int rc = pcre2_match(st->re, (PCRE2_SPTR)st->seen.buf, st->seen.len, 0,
			     0, md, NULL);
	pcre2_match_data_free(md);
	if (rc >= 0)
		return 1;
	strbuf_addf(ans, "nothing in its log matches '%s' yet",
		    iv_strval(dc->c->ready_arg) ? dc->c->ready_arg->u.str.s
						: "?");
	return 0;
}

static int probe_command(const struct deployment *d, const struct dcomp *dc,
			 double left, struct strbuf *ans)
{
	struct spawn_result r;
	struct itest_err err = ITEST_ERR_INIT;
	struct spawn_opts o = {0};
	int ok = 0;
	o.argv = (const char *const *)dc->st.probe_argv;
	o.env = (const char *const *)dc->st.env;
	o.cwd = dc->st.cwd;
	o.out_cap = 4096;
	o.timeout_ms = left < 100 ? 100 : (int64_t)left;
	o.cancel_fd = d->cancel_fd;
	spawn_result_init(&r);
	if (spawn_run(&o, &r, &err) < 0) {
		strbuf_addstr(ans, err.msg);
	} else if (r.exited && r.status == 0) {
		ok = 1;
	} else {
		strbuf_addf(ans, "'%s' ", dc->st.probe_text);
		if (r.timed_out)
			strbuf_addstr(ans, "did not finish in time");
		else if (r.cancelled)
			strbuf_addstr(ans, "was interrupted");
		else if (r.exited)
			strbuf_addf(ans, "exited with status %d", r.status);
		else
			strbuf_addf(ans, "was killed by signal %d", r.signal);
		struct strbuf *out = r.err.len ? &r.err : &r.out;
		strbuf_rtrim(out);
		const char *nl = strrchr(out->buf, '\n');
		const char *last = nl ? nl + 1 : out->buf;
		if (*last)
			strbuf_addf(ans, ": %s", last);
	}
	spawn_result_release(&r);
	return ok;
}

/* One try of the component's readiness probe: 1 ready, 0 not yet (the
 * reason in `ans`). */
static int probe(const struct deployment *d, struct dcomp *dc, double left,
		 struct strbuf *ans)
{
	strbuf_reset(ans);
	switch (dc->c->ready) {
	case READY_TCP:
		return probe_tcp(dc, left, ans);
	case READY_HTTP:
		return probe_http(dc, left, ans);
	case READY_LOG:
		return probe_log(dc, ans);
	case READY_COMMAND:
		return probe_command(d, dc, left, ans);
	}
	return 0;
}

/* The first of `v` whose process has exited, or NULL. */
static struct dcomp *first_dead(struct dcomp **v, size_t n, int *status)
{
	for (size_t i = 0; i < n; i++)
		if (!comp_alive(v[i], status))
			return v[i];
	return NULL;
}

static void explain_exit(struct strbuf *why, const struct dcomp *dc, int status,
			 const char *suffix)
{
	strbuf_addf(why, "component '%s' ", dc->c->name);
	spawn_status_text(why, status);
	if (status == 0)
		strbuf_addstr(why, " and left nothing running");
	strbuf_addstr(why, suffix);
	add_log_tail(why, dc->log_path);
}

/* Sleeps up to `ms`, waking early when one of `v` exits or on cancel. */
static void pause_ms(const struct deployment *d, struct dcomp **v, size_t n,
		     double ms)
{
	struct pollfd *pf = xcalloc(n + 1, sizeof(*pf));
	nfds_t k = 0;
	if (d->cancel_fd >= 0)
		pf[k++] = (struct pollfd){d->cancel_fd, POLLIN, 0};
	/* a leader that daemonized stays readable: leave it out */
	for (size_t i = 0; i < n; i++)
		if (v[i]->proc && spawn_fd(v[i]->proc) >= 0 &&
		    spawn_alive(v[i]->proc, NULL))
			pf[k++] = (struct pollfd){spawn_fd(v[i]->proc), POLLIN,
						  0};
	poll(pf, k, ms <= 0 ? 0 : (int)ms + 1);
	free(pf);
}

/* Waits until each component of `v` (started together) is ready. */
static int wait_ready(struct deployment *d, struct dcomp **v, size_t n,
		      struct strbuf *why)
{
	struct strbuf ans = STRBUF_INIT;
	int ret = 0, status;
	for (size_t k = 0; k < n && !ret; k++) {
		struct dcomp *dc = v[k], *dead;
		const struct component *c = dc->c;
		double deadline = dc->st.t0 + (double)c->ready_timeout_ms;
		for (;;) {
			if ((dead = first_dead(v, n, &status))) {
				explain_exit(why, dead, status,
					     " before it became ready");
				ret = -1;
				break;
			}
			if (cancelled(d->cancel_fd)) {
				strbuf_addf(why,
					    "interrupted while waiting for "
					    "component '%s' to become ready",
					    c->name);
				ret = -1;
				break;
			}
			if (probe(d, dc, deadline - now_ms(), &ans))
				break;
			double now = now_ms();
			if (now >= deadline) {
				if ((dead = first_dead(v, n, &status))) {
					explain_exit(why, dead, status,
						     " before it became ready");
				} else {
					strbuf_addf(why,
						    "component '%s' did not "
						    "become ready in ",
						    c->name);
					strbuf_add_duration(
						why, c->ready_timeout_ms);
					strbuf_addf(why, ": %s", ans.buf);
					add_log_tail(why, dc->log_path);
				}
				ret = -1;
				break;
			}
			double wait = (double)c->ready_interval_ms;
			if (deadline - now < wait)
				wait = deadline - now;
			pause_ms(d, v, n, wait);
		}
	}
	strbuf_release(&ans);
	return ret;
}

/* ---- the API ---- */

struct deployment *deploy_new(const struct suite *s,
			      const struct deploy_opts *o,
			      struct itest_err *err)
{
	struct deployment *d = xcalloc(1, sizeof(*d));
	pthread_mutex_init(&d->check_mu, NULL);
	struct strbuf sb = STRBUF_INIT;
	const char *stream = o->stream ? o->stream : "main";
	const char *run_dir = o->run_dir ? o->run_dir : ".";

	d->s = s;
	d->run_id = xstrdup(o->run_id ? o->run_id : "");
	d->reg_key = o->reg_key ? xstrdup(o->reg_key) : NULL;
	/* absolute: components run in their own folders */
	d->run_dir = realpath(run_dir, NULL);
	if (!d->run_dir) {
		char *cwd = getcwd(NULL, 0);
		d->run_dir = run_dir[0] == '/' || !cwd
				     ? xstrdup(run_dir)
				     : xasprintf("%s/%s", cwd, run_dir);
		free(cwd);
	}
	d->cancel_fd = o->cancel_fd;
	d->mask = o->mask;
	d->cli_vars = o->cli_vars;
	d->file_vars = o->file_vars;
	d->n = s->ncomponents;
	d->comps = xcalloc(d->n + 1, sizeof(*d->comps));
	for (size_t i = 0; i < d->n; i++) {
		d->comps[i].c = &s->components[i];
		d->comps[i].lock_fd = -1;
		strbuf_init(&d->comps[i].st.seen, 0);
	}
	/* logs/SUITE/ (a '/' in a suite's name would make a subfolder) */
	strbuf_addf(&sb, "%s/logs/", run_dir);
	size_t at = sb.len;
	strbuf_addstr(&sb, s->name && *s->name ? s->name : "suite");
	for (size_t i = at; i < sb.len; i++)
		if (sb.buf[i] == '/')
			sb.buf[i] = '_';
	if (!strcmp(sb.buf + at, ".") || !strcmp(sb.buf + at, ".."))
		strbuf_addch(&sb, '_');
	d->log_dir = strbuf_detach(&sb, NULL);
	char token[20];
	snprintf(token, sizeof(token), "%08x%08x", ports_random(),
		 ports_random());
	for (size_t i = 0; i < d->n; i++) {
		d->comps[i].marker = xasprintf("ITEST_COMPONENT_ID=%s.%s",
					       s->components[i].name, token);
		if (!strcmp(stream, "main"))
			d->comps[i].log_path = xasprintf(
				"%s/%s.log", d->log_dir, s->components[i].name);
		else
			d->comps[i].log_path =
				xasprintf("%s/%s@%s.log", d->log_dir,
					  s->components[i].name, stream);
	}

	if (reserve_ports(d, err) < 0) {
		deploy_free(d);
		return NULL;
	}
	d->vars = iv_obj();
	d->builtins = iv_obj();
	struct ivalue *run = iv_obj();
	iv_set(run, "id", iv_str(d->run_id));
	iv_set(run, "dir", iv_str(d->run_dir));
	iv_set(d->builtins, "run", run);
	for (size_t i = 0; i < d->n; i++) {
		struct dcomp *dc = &d->comps[i];
		dc->own = iv_obj();
		iv_set(dc->own, "host", iv_str(DEPLOY_HOST));
		iv_set(dc->own, "port", iv_int(dc->port));
		char *url = xasprintf("http://%s:%d", DEPLOY_HOST, dc->port);
		iv_set(dc->own, "url", iv_str(url));
		free(url);
		iv_set(d->vars, dc->c->name, iv_clone(dc->own));
		iv_set(d->builtins, dc->c->name, iv_clone(dc->own));
	}
	return d;
}

const struct ivalue *deploy_vars(const struct deployment *d)
{
	return d->vars;
}

/* Whether the stage may have component `c` as `want`; explains if not. */
static int can_be(const struct component *c, enum dstate want,
		  struct strbuf *why)
{
	if (want == DS_REAL && !c->run && !c->deploy) {
		strbuf_addf(why,
			    "component '%s' has no 'run': it can only be "
			    "a stub",
			    c->name);
		return 0;
	}
	if (want == DS_STUB && !stub_doc(c)) {
		strbuf_addf(why, "component '%s' has no 'stub'", c->name);
		return 0;
	}
	return 1;
}

int deploy_apply(struct deployment *d, const unsigned char *real,
		 const unsigned char *stubbed, struct strbuf *why)
{
	size_t n = d->n;
	enum dstate *want = xcalloc(n + 1, sizeof(*want));
	unsigned char *stop = xcalloc(n + 1, 1);
	struct dcomp **started = xcalloc(n + 1, sizeof(*started));
	int ret = -1, status;

	for (size_t i = 0; i < n; i++) {
		want[i] = real && real[i]	  ? DS_REAL
			  : stubbed && stubbed[i] ? DS_STUB
						  : DS_OFF;
		if (!can_be(d->comps[i].c, want[i], why))
			goto out;
	}
	/* stops: a real component that is no longer wanted real, or that
	 * died (it is started again), then stubs no longer wanted */
	for (size_t i = 0; i < n; i++) {
		struct dcomp *dc = &d->comps[i];
		stop[i] = dc->state == DS_REAL &&
			  (want[i] != DS_REAL || !comp_alive(dc, &status));
	}
	stop_reals(d, stop);
	for (size_t i = 0; i < n; i++)
		if (d->comps[i].state == DS_STUB && want[i] != DS_STUB)
			stop_stub(&d->comps[i]);
	for (size_t i = 0; i < n; i++) {
		struct dcomp *dc = &d->comps[i];
		/* a stub that stays starts the stage afresh: no records,
		 * `times` and sequences from the start (SPEC 8) */
		if (want[i] == DS_STUB && dc->state == DS_STUB)
			stubsrv_reset(dc->stub);
		else if (want[i] == DS_STUB && start_stub(dc, why) < 0)
			goto out;
	}
	/* real components, what they need first */
	for (int layer = 0; layer <= components_top(d->s); layer++) {
		size_t k = 0;
		for (size_t i = 0; i < n; i++) {
			struct dcomp *dc = &d->comps[i];
			if (want[i] != DS_REAL || dc->state == DS_REAL ||
			    dc->c->layer != layer)
				continue;
			if ((dc->c->deploy ? start_engine(d, dc, why)
					   : start_real(d, dc, why)) < 0)
				goto out;
			started[k++] = dc;
		}
		if (k && wait_ready(d, started, k, why) < 0)
			goto out;
	}
	ret = 0;
out:
	mask_apply(d->mask, why);
	free(want);
	free(stop);
	free(started);
	return ret;
}

int deploy_check(struct deployment *d, const unsigned char *covers,
		 struct strbuf *why)
{
	int status, dead = 0;
	if (!d)
		return 0;
	/* the tests of a stage run in parallel and each asks before it
	 * starts: one question at a time */
	pthread_mutex_lock(&d->check_mu);
	for (size_t i = 0; i < d->n && !dead; i++) {
		struct dcomp *dc = &d->comps[i];
		if (dc->state != DS_REAL || (covers && !covers[i]) ||
		    comp_alive(dc, &status))
			continue;
		explain_exit(why, dc, status, "");
		mask_apply(d->mask, why);
		dead = 1;
	}
	pthread_mutex_unlock(&d->check_mu);
	return dead;
}

const struct component *deploy_component_at(const struct deployment *d,
					    const char *host, int port)
{
	if (!d || port <= 0 || !host)
		return NULL;
	/* components listen on DEPLOY_HOST; any loopback name reaches it */
	if (strcmp(host, DEPLOY_HOST) && strncmp(host, "127.", 4) &&
	    strcmp(host, "::1") && strcmp(host, "localhost"))
		return NULL;
	for (size_t i = 0; i < d->n; i++)
		if (d->comps[i].port == port)
			return d->comps[i].c;
	return NULL;
}

struct stubsrv *deploy_stub(struct deployment *d, size_t c)
{
	if (!d || c >= d->n || d->comps[c].state != DS_STUB)
		return NULL;
	return d->comps[c].stub;
}

/* Frees what is left once every component is stopped or left alone. */
static void free_rest(struct deployment *d)
{
	for (size_t i = 0; i < d->n; i++) {
		struct dcomp *dc = &d->comps[i];
		if (dc->state == DS_STUB)
			stop_stub(dc);
		dstart_release(&dc->st);
		strbuf_release(&dc->st.seen);
		if (dc->lock_fd >= 0)
			close(dc->lock_fd);
		free(dc->log_path);
		free(dc->marker);
		iv_free(dc->own);
	}
	free(d->comps);
	iv_free(d->vars);
	iv_free(d->builtins);
	free(d->run_id);
	free(d->reg_key);
	free(d->run_dir);
	free(d->log_dir);
	pthread_mutex_destroy(&d->check_mu);
	free(d);
}

void deploy_free(struct deployment *d)
{
	if (!d)
		return;
	stop_reals(d, NULL);
	for (size_t i = 0; i < d->n; i++)
		spawn_proc_free(d->comps[i].proc); /* NULL unless real */
	free_rest(d);
}

size_t deploy_describe(const struct deployment *d, struct strbuf *out)
{
	size_t n = 0, nstubs = 0;
	for (size_t i = 0; d && i < d->n; i++) {
		const struct dcomp *dc = &d->comps[i];
		if (dc->state == DS_STUB)
			nstubs++;
		if (dc->state != DS_REAL)
			continue;
		strbuf_addf(out, "%s%s http://%s:%d", n ? ", " : "",
			    dc->c->name, DEPLOY_HOST, dc->port);
		n++;
	}
	if (nstubs) {
		strbuf_addstr(out, n ? " (" : "(");
		strbuf_addstr(out, "stubs end with itest:");
		for (size_t i = 0; i < d->n; i++)
			if (d->comps[i].state == DS_STUB)
				strbuf_addf(out, " %s", d->comps[i].c->name);
		strbuf_addch(out, ')');
	}
	return n;
}

void deploy_keep(struct deployment *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++)
		spawn_proc_release(d->comps[i].proc); /* left running */
	free_rest(d);
}
