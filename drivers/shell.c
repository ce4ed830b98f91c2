/*
 * The `shell` driver (SPEC 6.5): runs a local command, under /bin/sh -c
 * when given as a string or `run`, without a shell when given as `argv`.
 * The result has the parts exit, signal (when a signal ended it), stdout,
 * stderr, duration, and json parsed lazily from stdout.  A command that
 * ran is a PASS whatever its exit status (expectations decide); one that
 * could not start, timed out or was interrupted is an ERROR.
 */
#include <math.h>
#include <signal.h>
#include <string.h>

#include "driver.h"
#include "spawn.h"
#include "template.h"

/* TERM first, KILL this long after, for a timed-out or cancelled step. */
#define SHELL_KILL_GRACE_MS 500
/* How much of stdout and stderr the step log shows. */
#define SHELL_LOG_MAX 2048

static const struct itest_keyspec shell_keys[] = {
	{"run", TY(STR), 0}, {"argv", TY(ARR), 0},    {"env", TY(OBJ), 0},
	{"cwd", TY(STR), 0}, {"stdin", TY_SCALAR, 0}, {"timeout", TY(STR), 0},
	{NULL, 0, 0},
};

static const char *const shell_parts[] = {
	"exit", "signal", "stdout", "stderr", "json", "duration", NULL,
};

/* An argv item, env value or stdin: a scalar (templates render them to
 * text at run time). */
static int check_scalar(const struct ivalue *v, const char *what,
			struct itest_err *err)
{
	if (v->type == IV_STR || v->type == IV_NUM || v->type == IV_BOOL)
		return 0;
	return err_set(err, &v->loc,
		       "%s in 'shell' step must be a scalar, not %s", what,
		       iv_kind(v));
}

static int shell_check_step(const struct ivalue *arg, struct itest_err *err)
{
	if (arg->type == IV_STR) {
		if (!arg->u.str.len)
			return err_set(err, &arg->loc,
				       "empty command in 'shell' step");
		return 0;
	}
	if (arg->type != IV_OBJ)
		return err_set(err, &arg->loc,
			       "'shell' step takes a string or a map, not %s",
			       iv_kind(arg));
	const struct ivalue *run = iv_get(arg, "run");
	const struct ivalue *argv = iv_get(arg, "argv");
	if (run && argv)
		return err_set(err, &iv_member(arg, "argv")->kloc,
			       "'shell' step takes 'run' or 'argv', not both");
	if (!run && !argv)
		return err_set(err, &arg->loc,
			       "'shell' step needs 'run' (a shell command) or "
			       "'argv' (a program and its arguments)");
	if (run && (run->type != IV_STR || !run->u.str.len))
		return err_set(err, &run->loc,
			       "'run' in 'shell' step must be a non-empty "
			       "string");
	if (argv) {
		if (argv->type != IV_ARR)
			return err_set(err, &argv->loc,
				       "'argv' in 'shell' step must be a list, "
				       "not %s",
				       iv_kind(argv));
		if (!argv->u.arr.n)
			return err_set(err, &argv->loc,
				       "'argv' in 'shell' step is empty");
		for (size_t i = 0; i < argv->u.arr.n; i++)
			if (check_scalar(argv->u.arr.v[i], "an 'argv' item",
					 err) < 0)
				return -1;
	}
	const struct ivalue *env = iv_get(arg, "env");
	if (env && env->type != IV_OBJ)
		return err_set(err, &env->loc,
			       "'env' in 'shell' step must be a map, not %s",
			       iv_kind(env));
	for (size_t i = 0; env && i < env->u.obj.n; i++) {
		const struct imember *m = &env->u.obj.m[i];
		if (!m->klen || memchr(m->key, '=', m->klen) ||
		    memchr(m->key, '\0', m->klen))
			return err_set(err, &m->kloc,
				       "bad environment variable name '%s'",
				       m->key);
		if (check_scalar(m->val, "an 'env' value", err) < 0)
			return -1;
	}
	const struct ivalue *cwd = iv_get(arg, "cwd");
	if (cwd && (cwd->type != IV_STR || !cwd->u.str.len))
		return err_set(err, &cwd->loc,
			       "'cwd' in 'shell' step must be a non-empty "
			       "string");
	const struct ivalue *in = iv_get(arg, "stdin");
	if (in && check_scalar(in, "'stdin'", err) < 0)
		return -1;
	const struct ivalue *to = iv_get(arg, "timeout");
	if (to &&
	    (to->type != IV_STR || (!tpl_has_vars(to->u.str.s, to->u.str.len) &&
				    duration_parse_ms(to->u.str.s) < 0)))
		return err_set(err, &to->loc,
			       "bad duration for 'timeout' in 'shell' step "
			       "(write 250ms, 2s or 1m)");
	return 0;
}

static void add_signal_name(struct strbuf *sb, int sig)
{
	const char *abbrev = sigabbrev_np(sig);
	if (abbrev)
		strbuf_addf(sb, "SIG%s", abbrev);
	else
		strbuf_addf(sb, "SIG%d", sig);
}

/* The command as a shell line: argv items quoted where needed. */
static void add_command(struct strbuf *sb, const char *shell_cmd,
			const char *const *argv)
{
	if (shell_cmd) {
		strbuf_addstr(sb, shell_cmd);
		return;
	}
	for (size_t i = 0; argv[i]; i++) {
		if (i)
			strbuf_addch(sb, ' ');
		sh_quote(sb, argv[i], strlen(argv[i]));
	}
}

static void set_parts(struct itest_result *res, const struct spawn_result *sr)
{
	if (sr->exited) {
		iv_set(res->parts, "exit", iv_int(sr->status));
	} else if (sr->signal) {
		struct strbuf name = STRBUF_INIT;
		add_signal_name(&name, sr->signal);
		iv_set(res->parts, "exit", iv_int(128 + sr->signal));
		iv_set(res->parts, "signal", iv_str(name.buf));
		strbuf_release(&name);
	}
	iv_set(res->parts, "stdout", iv_strn(sr->out.buf, sr->out.len));
	iv_set(res->parts, "stderr", iv_strn(sr->err.buf, sr->err.len));
	double ms = (double)llround(sr->elapsed_ms * 1000) / 1000;
	iv_set(res->parts, "duration", iv_double(ms));
	res->json_from = "stdout";
}

static void log_outcome(struct strbuf *log, const struct spawn_result *sr)
{
	if (sr->exited) {
		strbuf_addf(log, "exit %d in %.0f ms\n", sr->status,
			    sr->elapsed_ms);
	} else if (sr->signal) {
		strbuf_addstr(log, "killed by ");
		add_signal_name(log, sr->signal);
		strbuf_addf(log, " in %.0f ms\n", sr->elapsed_ms);
	} else {
		strbuf_addf(log, "ended with an unknown status in %.0f ms\n",
			    sr->elapsed_ms);
	}
	driver_log_stream(log, "stdout", &sr->out, SHELL_LOG_MAX);
	driver_log_stream(log, "stderr", &sr->err, SHELL_LOG_MAX);
}

static enum itest_status shell_exec(void *session,
				    const struct itest_stepctx *ctx,
				    const struct ivalue *arg,
				    struct itest_result *res)
{
	(void)session;
	enum itest_status st = IT_ERROR;
	struct strlist argv = {0}, env = {0};
	char *shell_cmd = NULL, *cwd = NULL, *in = NULL;
	size_t in_len = 0;
	struct spawn_result sr;
	struct itest_err err = ITEST_ERR_INIT;
	struct strbuf scratch = STRBUF_INIT;
	spawn_result_init(&sr);

	const struct ivalue *run =
		arg->type == IV_STR ? arg : iv_get(arg, "run");
	const struct ivalue *av = iv_get(arg, "argv");
	if (run) {
		shell_cmd = iv_text_dup(run);
		strlist_push(&argv, xstrdup("/bin/sh"));
		strlist_push(&argv, xstrdup("-c"));
		strlist_push(&argv, xstrdup(shell_cmd));
	} else if (av && av->type == IV_ARR && av->u.arr.n) {
		for (size_t i = 0; i < av->u.arr.n; i++)
			strlist_push(&argv, iv_text_dup(av->u.arr.v[i]));
	} else {
		strbuf_addstr(&res->message,
			      "'shell' step needs 'run' or 'argv'");
		goto out;
	}

	const struct ivalue *e = iv_get(arg, "env");
	for (size_t i = 0; e && e->type == IV_OBJ && i < e->u.obj.n; i++) {
		strbuf_reset(&scratch);
		strbuf_addf(&scratch, "%s=", e->u.obj.m[i].key);
		iv_to_text(&scratch, e->u.obj.m[i].val);
		strlist_push(&env, xstrdup(scratch.buf));
	}

	const char *dir = iv_strval(iv_get(arg, "cwd"));
	if (dir && dir[0] != '/' && ctx->suite_dir)
		cwd = xasprintf("%s/%s", ctx->suite_dir, dir);
	else if (dir)
		cwd = xstrdup(dir);
	else if (ctx->suite_dir)
		cwd = xstrdup(ctx->suite_dir);

	const struct ivalue *iv_in = iv_get(arg, "stdin");
	if (iv_in) {
		strbuf_reset(&scratch);
		iv_to_text(&scratch, iv_in);
		in = strbuf_detach(&scratch, &in_len);
	}

	int64_t timeout = ctx->timeout_ms > 0 ? ctx->timeout_ms : 0;
	const struct ivalue *to = iv_get(arg, "timeout");
	if (to) {
		int64_t ms = duration_parse_ms(iv_strval(to));
		if (ms < 0) {
			strbuf_addf(&res->message,
				    "bad duration '%s' for 'timeout' (write "
				    "250ms, 2s or 1m)",
				    iv_strval(to) ? iv_strval(to) : "");
			goto out;
		}
		if (ms > 0 && (!timeout || ms < timeout))
			timeout = ms;
	}

	struct spawn_opts o = {0};
	o.argv = (const char *const *)argv.v;
	o.env = (const char *const *)env.v;
	o.cwd = cwd;
	o.stdin_data = in;
	o.stdin_len = in_len;
	o.out_cap = ctx->out_cap;
	o.timeout_ms = timeout;
	o.cancel_fd = ctx->cancel_fd;
	o.kill_grace_ms = SHELL_KILL_GRACE_MS;

	if (ctx->log) {
		strbuf_addstr(ctx->log, "$ ");
		add_command(ctx->log, shell_cmd, o.argv);
		strbuf_addch(ctx->log, '\n');
	}
	if (spawn_run(&o, &sr, &err) < 0) {
		strbuf_addstr(&res->message, err.msg);
		goto out;
	}
	set_parts(res, &sr);
	if (ctx->log)
		log_outcome(ctx->log, &sr);
	if (sr.timed_out) {
		strbuf_addstr(&res->message, "timed out after ");
		strbuf_add_duration(&res->message, timeout);
		strbuf_addstr(&res->message, "; process group killed");
	} else if (sr.cancelled) {
		strbuf_addstr(&res->message, "interrupted");
	} else {
		st = IT_PASS;
	}
out:
	spawn_result_release(&sr);
	strlist_release(&argv);
	strlist_release(&env);
	strbuf_release(&scratch);
	free(shell_cmd);
	free(cwd);
	free(in);
	return st;
}

/* The command as written: the string, `run`, or `argv` shell-quoted. */
static void shell_summary(const struct ivalue *arg, struct strbuf *out)
{
	const struct ivalue *v = arg;
	if (arg->type == IV_OBJ)
		v = iv_get(arg, "run");
	if (v && v->type == IV_STR) {
		strbuf_add(out, v->u.str.s, v->u.str.len);
		return;
	}
	v = iv_get(arg, "argv");
	for (size_t i = 0; v && v->type == IV_ARR && i < v->u.arr.n; i++) {
		struct strbuf t = STRBUF_INIT;
		iv_to_text(&t, v->u.arr.v[i]);
		if (i)
			strbuf_addch(out, ' ');
		sh_quote(out, t.buf, t.len);
		strbuf_release(&t);
	}
}

const struct itest_driver shell_driver = {
	.name = "shell",
	.arg_types = TY(STR) | TY(OBJ),
	.keys = shell_keys,
	.parts = shell_parts,
	.session_size = 0,
	.check_step = shell_check_step,
	.open = NULL,
	.exec = shell_exec,
	.test_end = NULL,
	.close = NULL,
	.summary = shell_summary,
};
