/*
 * Unit tests of the `shell` driver through its vtable, with real
 * processes: the string, `run` and `argv` forms, env, cwd, stdin, the
 * result parts and the lazy json part, timeouts and interruption, start
 * errors, the step log, and the load-time checks with their locations.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "driver.h"

struct fixture {
	const struct itest_driver *drv;
	struct itest_stepctx ctx;
	struct strbuf log;
	struct itest_result res;
	char dir[64]; /* a temporary suite folder with a subfolder "sub" */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	f->drv = driver_find("shell");
	snprintf(f->dir, sizeof(f->dir), "/tmp/itest-shell-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	char sub[80];
	snprintf(sub, sizeof(sub), "%s/sub", f->dir);
	mkdir(sub, 0700);
	strbuf_init(&f->log, 0);
	f->ctx.suite_dir = f->dir;
	f->ctx.cancel_fd = -1;
	f->ctx.log = &f->log;
	result_init(&f->res);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char sub[80];
	snprintf(sub, sizeof(sub), "%s/sub", f->dir);
	rmdir(sub);
	rmdir(f->dir);
	result_release(&f->res);
	strbuf_release(&f->log);
	free(f);
	return 0;
}

/* Runs a step argument; the fixture's result and log are reset first. */
static enum itest_status run(struct fixture *f, const struct ivalue *arg)
{
	result_release(&f->res);
	result_init(&f->res);
	strbuf_reset(&f->log);
	assert_non_null(f->drv);
	return f->drv->exec(NULL, &f->ctx, arg, &f->res);
}

static enum itest_status run_str(struct fixture *f, const char *cmd)
{
	struct ivalue *arg = iv_str(cmd);
	enum itest_status st = run(f, arg);
	iv_free(arg);
	return st;
}

static const struct ivalue *part(struct fixture *f, const char *name)
{
	return result_part(&f->res, name, NULL);
}

static const char *part_str(struct fixture *f, const char *name)
{
	const struct ivalue *v = part(f, name);
	assert_non_null(v);
	assert_int_equal(v->type, IV_STR);
	return v->u.str.s;
}

static int64_t part_int(struct fixture *f, const char *name)
{
	const struct ivalue *v = part(f, name);
	assert_non_null(v);
	assert_int_equal(v->type, IV_NUM);
	assert_true(v->flags & IVF_INT);
	return v->u.num.i;
}

static struct ivalue *strarr(const char *const *items)
{
	struct ivalue *a = iv_arr();
	for (; *items; items++)
		iv_push(a, iv_str(*items));
	return a;
}

static void test_declaration(void **state)
{
	struct fixture *f = *state;
	assert_non_null(f->drv);
	assert_string_equal(f->drv->name, "shell");
	assert_true(f->drv->arg_types & TY(STR));
	assert_true(f->drv->arg_types & TY(OBJ));
	assert_int_equal(f->drv->session_size, 0);
	assert_null(f->drv->open);
	assert_null(f->drv->close);
	const char *want[] = {"exit",	"signal", "stdout",
			      "stderr", "json",	  "duration"};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		int found = 0;
		for (const char *const *p = f->drv->parts; *p; p++)
			found |= !strcmp(*p, want[i]);
		assert_true(found);
	}
	const char *keys[] = {"run", "argv", "env", "cwd", "stdin", "timeout"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const struct itest_keyspec *k = f->drv->keys;
		while (k->name && strcmp(k->name, keys[i]))
			k++;
		assert_non_null(k->name);
		assert_false(k->required);
	}
}

static void test_string_form(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(run_str(f, "echo hello; echo oops >&2; exit 3"),
			 IT_PASS);
	assert_int_equal(part_int(f, "exit"), 3);
	assert_null(part(f, "signal"));
	assert_string_equal(part_str(f, "stdout"), "hello\n");
	assert_string_equal(part_str(f, "stderr"), "oops\n");
	const struct ivalue *d = part(f, "duration");
	assert_non_null(d);
	assert_int_equal(d->type, IV_NUM);
	assert_true(d->u.num.d >= 0 && d->u.num.d < 5000);
	assert_int_equal(f->res.message.len, 0);
}

static void test_run_form(void **state)
{
	struct fixture *f = *state;
	struct ivalue *arg = iv_obj();
	iv_set(arg, "run", iv_str("printf '%s' \"$0\"; exit 0"));
	assert_int_equal(run(f, arg), IT_PASS);
	assert_int_equal(part_int(f, "exit"), 0);
	assert_string_equal(part_str(f, "stdout"), "/bin/sh");
	iv_free(arg);
}

static void test_argv_form(void **state)
{
	struct fixture *f = *state;
	struct ivalue *arg = iv_obj();
	struct ivalue *argv = strarr((const char *const[]){
		"printf", "%s|", "a b", "$HOME", "it's", NULL});
	iv_push(argv, iv_int(7));
	iv_push(argv, iv_bool(1));
	iv_set(arg, "argv", argv);
	assert_int_equal(run(f, arg), IT_PASS);
	/* no shell: nothing is expanded or split */
	assert_string_equal(part_str(f, "stdout"), "a b|$HOME|it's|7|true|");
	/* the log shows a line a shell would run the same way */
	const char *head = "$ printf '%s|' 'a b' '$HOME' 'it'\\''s' 7 true\n"
			   "exit 0 in ";
	assert_true(!strncmp(f->log.buf, head, strlen(head)));
	iv_free(arg);
}

static void test_signal(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(run_str(f, "kill -TERM $$"), IT_PASS);
	assert_int_equal(part_int(f, "exit"), 128 + 15);
	assert_string_equal(part_str(f, "signal"), "SIGTERM");
	assert_non_null(strstr(f->log.buf, "\nkilled by SIGTERM in "));
}

static void test_env_cwd_stdin(void **state)
{
	struct fixture *f = *state;
	struct ivalue *arg = iv_obj();
	iv_set(arg, "run", iv_str("echo \"$A $N $B\"; pwd; cat"));
	struct ivalue *env = iv_obj();
	iv_set(env, "A", iv_str("x y"));
	iv_set(env, "N", iv_int(5));
	iv_set(env, "B", iv_bool(0));
	iv_set(arg, "env", env);
	iv_set(arg, "stdin", iv_str("from stdin"));
	assert_int_equal(run(f, arg), IT_PASS);
	char want[160];
	/* the default working directory is the suite's folder */
	snprintf(want, sizeof(want), "x y 5 false\n%s\nfrom stdin", f->dir);
	assert_string_equal(part_str(f, "stdout"), want);

	/* a relative cwd is relative to the suite's folder */
	iv_set(arg, "cwd", iv_str("sub"));
	assert_int_equal(run(f, arg), IT_PASS);
	snprintf(want, sizeof(want), "x y 5 false\n%s/sub\nfrom stdin", f->dir);
	assert_string_equal(part_str(f, "stdout"), want);

	iv_set(arg, "cwd", iv_str("/"));
	assert_int_equal(run(f, arg), IT_PASS);
	assert_string_equal(part_str(f, "stdout"),
			    "x y 5 false\n/\nfrom stdin");

	iv_set(arg, "cwd", iv_str("missing"));
	assert_int_equal(run(f, arg), IT_ERROR);
	snprintf(want, sizeof(want),
		 "cannot change to directory '%s/missing': No such file or "
		 "directory",
		 f->dir);
	assert_string_equal(f->res.message.buf, want);
	iv_free(arg);
}

static void test_cannot_start(void **state)
{
	struct fixture *f = *state;
	struct ivalue *arg = iv_obj();
	iv_set(arg, "argv",
	       strarr((const char *const[]){"itest-no-such-program", NULL}));
	assert_int_equal(run(f, arg), IT_ERROR);
	assert_string_equal(f->res.message.buf,
			    "cannot run 'itest-no-such-program': No such file "
			    "or directory");
	assert_null(part(f, "exit"));
	assert_string_equal(f->log.buf, "$ itest-no-such-program\n");
	iv_free(arg);
}

static void test_timeout(void **state)
{
	struct fixture *f = *state;
	struct ivalue *arg = iv_obj();
	iv_set(arg, "run", iv_str("echo started; sleep 100 & sleep 100"));
	iv_set(arg, "timeout", iv_str("200ms"));
	assert_int_equal(run(f, arg), IT_ERROR);
	assert_string_equal(f->res.message.buf,
			    "timed out after 200ms; process group killed");
	/* what the command printed before is kept */
	assert_string_equal(part_str(f, "stdout"), "started\n");
	const struct ivalue *d = part(f, "duration");
	assert_true(d->u.num.d >= 195 && d->u.num.d < 3000);

	/* the step's timeout of the runner is smaller: it wins */
	f->ctx.timeout_ms = 1000;
	iv_set(arg, "timeout", iv_str("1m"));
	assert_int_equal(run(f, arg), IT_ERROR);
	assert_string_equal(f->res.message.buf,
			    "timed out after 1s; process group killed");

	/* the runner's timeout alone */
	iv_del(arg, "timeout");
	f->ctx.timeout_ms = 150;
	assert_int_equal(run(f, arg), IT_ERROR);
	assert_string_equal(f->res.message.buf,
			    "timed out after 150ms; process group killed");
	f->ctx.timeout_ms = 0;

	/* a timeout that a template made bad */
	iv_set(arg, "timeout", iv_str("soon"));
	assert_int_equal(run(f, arg), IT_ERROR);
	assert_non_null(strstr(f->res.message.buf, "bad duration 'soon'"));
	iv_free(arg);
}

static void test_interrupted(void **state)
{
	struct fixture *f = *state;
	int efd = eventfd(1, EFD_CLOEXEC); /* readable from the start */
	assert_true(efd >= 0);
	f->ctx.cancel_fd = efd;
	assert_int_equal(run_str(f, "sleep 100"), IT_ERROR);
	assert_string_equal(f->res.message.buf, "interrupted");
	f->ctx.cancel_fd = -1;
	close(efd);
}

static void test_json_lazy(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(run_str(f, "echo '{\"a\": [1, 2], \"n\": "
				    "9007199254740993}'"),
			 IT_PASS);
	assert_null(iv_get(f->res.parts, "json"));
	const struct ivalue *j = result_part(&f->res, "json", NULL);
	assert_non_null(j);
	assert_int_equal(j->type, IV_OBJ);
	const struct ivalue *n = iv_get(j, "n");
	assert_non_null(n);
	assert_int_equal(n->u.num.i, 9007199254740993LL);
	/* parsed once, then kept */
	assert_ptr_equal(iv_get(f->res.parts, "json"), j);

	assert_int_equal(run_str(f, "echo not json"), IT_PASS);
	struct strbuf why = STRBUF_INIT;
	assert_null(result_part(&f->res, "json", &why));
	assert_true(!strncmp(why.buf, "stdout is not JSON", 18));
	strbuf_release(&why);
}

static void test_log(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(run_str(f, "echo hi; echo two; echo oops >&2"),
			 IT_PASS);
	const char *p = f->log.buf;
	const char *head = "$ echo hi; echo two; echo oops >&2\nexit 0 in ";
	assert_true(!strncmp(p, head, strlen(head)));
	p = strstr(p, " ms\n");
	assert_non_null(p);
	assert_string_equal(p, " ms\nstdout:\n  hi\n  two\nstderr:\n  oops\n");

	/* nothing printed: no headings */
	assert_int_equal(run_str(f, "exit 1"), IT_PASS);
	assert_null(strstr(f->log.buf, "stdout:"));
	assert_null(strstr(f->log.buf, "stderr:"));
	assert_non_null(strstr(f->log.buf, "\nexit 1 in "));

	/* long output: the first 2 KiB in the log, all of it in the part */
	assert_int_equal(run_str(f, "head -c 3000 /dev/zero | tr '\\0' x"),
			 IT_PASS);
	assert_int_equal(strlen(part_str(f, "stdout")), 3000);
	p = strstr(f->log.buf, "stdout:\n  ");
	assert_non_null(p);
	p += 10;
	assert_int_equal(strspn(p, "x"), 2048);
	assert_string_equal(p + 2048, "\n  ... (952 more bytes)\n");
}

static void test_output_cap(void **state)
{
	struct fixture *f = *state;
	f->ctx.out_cap = 10;
	assert_int_equal(run_str(f, "head -c 100 /dev/zero | tr '\\0' y"),
			 IT_PASS);
	f->ctx.out_cap = 0;
	assert_string_equal(part_str(f, "stdout"), "yyyyyyyyyy");
	assert_non_null(strstr(
		f->log.buf, "stdout:\n  yyyyyyyyyy\n  (90 more bytes dropped "
			    "at the capture cap of 10 bytes)\n"));
}

/* ---- load-time checks ---- */

static struct ivalue *at(struct ivalue *v, int line, int col)
{
	v->loc.line = line;
	v->loc.col = col;
	return v;
}

/* Adds a member whose key is at line:col and value at line:col+4. */
static void put(struct ivalue *obj, const char *key, struct ivalue *v, int line,
		int col)
{
	struct imember *m = iv_append(obj, key, strlen(key), v);
	m->kloc.line = line;
	m->kloc.col = col;
	at(v, line, col + 4);
}

/* check_step fails with `msg` at line:col. */
static void check_fails(const struct ivalue *arg, const char *msg, int line,
			int col)
{
	const struct itest_driver *drv = driver_find("shell");
	struct itest_err err = ITEST_ERR_INIT;
	assert_int_equal(drv->check_step(arg, &err), -1);
	assert_string_equal(err.msg, msg);
	assert_int_equal(err.loc.line, line);
	assert_int_equal(err.loc.col, col);
}

static void check_ok(const struct ivalue *arg)
{
	const struct itest_driver *drv = driver_find("shell");
	struct itest_err err = ITEST_ERR_INIT;
	if (drv->check_step(arg, &err) < 0)
		fail_msg("unexpected error: %s", err.msg);
}

static void test_check_step(void **state)
{
	(void)state;
	struct ivalue *s = at(iv_str("echo ok"), 1, 10);
	check_ok(s);
	iv_free(s);
	s = at(iv_str(""), 1, 10);
	check_fails(s, "empty command in 'shell' step", 1, 10);
	iv_free(s);

	struct ivalue *both = at(iv_obj(), 2, 7);
	put(both, "run", iv_str("ls"), 3, 9);
	put(both, "argv", strarr((const char *const[]){"ls", NULL}), 4, 9);
	check_fails(both, "'shell' step takes 'run' or 'argv', not both", 4, 9);
	iv_free(both);

	struct ivalue *neither = at(iv_obj(), 2, 7);
	put(neither, "cwd", iv_str("/"), 3, 9);
	check_fails(neither,
		    "'shell' step needs 'run' (a shell command) or 'argv' (a "
		    "program and its arguments)",
		    2, 7);
	iv_free(neither);

	struct ivalue *notlist = at(iv_obj(), 2, 7);
	put(notlist, "argv", iv_str("ls -l"), 3, 9);
	check_fails(notlist,
		    "'argv' in 'shell' step must be a list, not string", 3, 13);
	iv_free(notlist);

	struct ivalue *empty = at(iv_obj(), 2, 7);
	put(empty, "argv", iv_arr(), 3, 9);
	check_fails(empty, "'argv' in 'shell' step is empty", 3, 13);
	iv_free(empty);

	struct ivalue *nested = at(iv_obj(), 2, 7);
	struct ivalue *argv = strarr((const char *const[]){"ls", NULL});
	iv_push(argv, at(iv_obj(), 5, 11));
	put(nested, "argv", argv, 3, 9);
	check_fails(nested,
		    "an 'argv' item in 'shell' step must be a scalar, not "
		    "object",
		    5, 11);
	iv_free(nested);

	struct ivalue *bad_to = at(iv_obj(), 2, 7);
	put(bad_to, "run", iv_str("ls"), 3, 9);
	put(bad_to, "timeout", iv_str("5 parsecs"), 4, 9);
	check_fails(bad_to,
		    "bad duration for 'timeout' in 'shell' step (write 250ms, "
		    "2s or 1m)",
		    4, 13);
	iv_free(bad_to);

	/* a template is checked when it is rendered */
	struct ivalue *tpl_to = at(iv_obj(), 2, 7);
	put(tpl_to, "argv", strarr((const char *const[]){"ls", NULL}), 3, 9);
	put(tpl_to, "timeout", iv_str("${t}"), 4, 9);
	put(tpl_to, "stdin", iv_str("x"), 5, 9);
	put(tpl_to, "cwd", iv_str("sub"), 6, 9);
	check_ok(tpl_to);
	struct ivalue *env = iv_obj();
	put(env, "A=B", iv_str("x"), 8, 11);
	put(tpl_to, "env", env, 7, 9);
	check_fails(tpl_to, "bad environment variable name 'A=B'", 8, 11);
	iv_free(tpl_to);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_declaration, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_string_form, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_run_form, setup, teardown),
		cmocka_unit_test_setup_teardown(test_argv_form, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_signal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_cwd_stdin, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cannot_start, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interrupted, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_json_lazy, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_cap, setup,
						teardown),
		cmocka_unit_test(test_check_step),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
