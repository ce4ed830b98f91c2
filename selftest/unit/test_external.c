/*
 * Unit tests of co-processes (spawn_coproc_start, spawn_pipe_write) and of
 * the external driver called through its vtable, with real programs: a
 * line through `cat` and back, the process group, stderr to a log, fd
 * flags, EPIPE instead of SIGPIPE, a write that times out; the driver's
 * exec against selftest/drivers/echo_driver.py (parts, state kept across
 * steps, a fail answer, a restart after a crash) and its cancellation.
 * The tests run from the repository root (ctest's working directory).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "driver.h"
#include "spawn.h"

extern const struct itest_driver external_driver;

static struct spawn_opts opts(const char *const *argv)
{
	struct spawn_opts o = {0};
	o.argv = argv;
	o.cancel_fd = -1;
	return o;
}

/* Reads from a non-blocking fd until a '\n' or 5 s. */
static void read_line(int fd, struct strbuf *out)
{
	double give_up = now_ms() + 5000;
	while (!strchr(out->buf, '\n') && now_ms() < give_up) {
		struct pollfd pf = {fd, POLLIN, 0};
		poll(&pf, 1, 100);
		char buf[256];
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n > 0)
			strbuf_add(out, buf, (size_t)n);
		else if (n == 0)
			break;
	}
}

/* Waits up to 5 s for the leader to exit; its wait status. */
static int wait_exit(struct spawn_proc *p)
{
	int status = 0;
	double give_up = now_ms() + 5000;
	while (spawn_alive(p, &status) && now_ms() < give_up) {
		struct timespec ts = {0, 5000000};
		nanosleep(&ts, NULL);
	}
	assert_false(spawn_alive(p, &status));
	return status;
}

static char *tmp_dir(void)
{
	char tmpl[] = "/tmp/itest-ext-XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	return xstrdup(tmpl);
}

static void rm_tree(const char *dir)
{
	const char *const argv[] = {"rm", "-rf", dir, NULL};
	struct spawn_opts o = opts(argv);
	struct spawn_result r;
	struct itest_err err = ITEST_ERR_INIT;
	spawn_result_init(&r);
	assert_int_equal(spawn_run(&o, &r, &err), 0);
	spawn_result_release(&r);
}

static void test_coproc_round_trip(void **state)
{
	(void)state;
	const char *const argv[] = {"cat", NULL};
	struct spawn_opts o = opts(argv);
	struct spawn_proc *p = NULL;
	struct itest_err err = ITEST_ERR_INIT;
	int in = -1, out = -1;
	assert_int_equal(spawn_coproc_start(&o, NULL, &p, &in, &out, &err), 0);
	assert_int_equal(getpgid(spawn_pid(p)), spawn_pid(p));
	assert_true(fcntl(in, F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(out, F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(in, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(out, F_GETFL) & O_NONBLOCK);
	assert_int_equal(
		spawn_pipe_write(in, "hello\n", 6, now_ms() + 5000, -1), 0);
	struct strbuf line = STRBUF_INIT;
	read_line(out, &line);
	assert_string_equal(line.buf, "hello\n");
	close(in); /* end of input: cat exits 0 */
	int st = wait_exit(p);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	spawn_stop(p, SIGTERM, 100);
	spawn_proc_free(p);
	close(out);
	strbuf_release(&line);
}

static void test_coproc_stderr_log(void **state)
{
	(void)state;
	char *dir = tmp_dir();
	char *log = xasprintf("%s/err.log", dir);
	const char *const argv[] = {"sh", "-c", "echo to-stderr >&2; exit 4",
				    NULL};
	struct spawn_opts o = opts(argv);
	struct spawn_proc *p = NULL;
	struct itest_err err = ITEST_ERR_INIT;
	int in = -1, out = -1;
	assert_int_equal(spawn_coproc_start(&o, log, &p, &in, &out, &err), 0);
	int st = wait_exit(p);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 4);
	/* the reader is gone: EPIPE, and no SIGPIPE kills this test */
	char big[65536];
	memset(big, 'x', sizeof(big));
	int rc = 0;
	for (int i = 0; i < 4 && !rc; i++)
		rc = spawn_pipe_write(in, big, sizeof(big), now_ms() + 2000,
				      -1);
	assert_int_equal(rc, -1);
	assert_int_equal(errno, EPIPE);
	spawn_proc_free(p);
	close(in);
	close(out);
	FILE *f = fopen(log, "r");
	assert_non_null(f);
	char buf[64] = "";
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "to-stderr\n");
	struct stat sb;
	assert_int_equal(stat(log, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	rm_tree(dir);
	free(log);
	free(dir);
}

static void test_pipe_write_timeout_and_cancel(void **state)
{
	(void)state;
	const char *const argv[] = {"sleep", "10", NULL};
	struct spawn_opts o = opts(argv);
	struct spawn_proc *p = NULL;
	struct itest_err err = ITEST_ERR_INIT;
	int in = -1, out = -1;
	assert_int_equal(spawn_coproc_start(&o, NULL, &p, &in, &out, &err), 0);
	size_t len = 4u << 20; /* more than a pipe holds */
	char *big = xcalloc(1, len);
	double t0 = now_ms();
	assert_int_equal(spawn_pipe_write(in, big, len, t0 + 200, -1), -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_true(now_ms() - t0 < 2000);
	int efd = eventfd(1, EFD_CLOEXEC); /* readable: cancelled */
	assert_int_equal(spawn_pipe_write(in, big, len, 0, efd), -1);
	assert_int_equal(errno, ECANCELED);
	close(efd);
	spawn_stop(p, SIGTERM, 100);
	assert_false(spawn_group_alive(p));
	spawn_proc_free(p);
	close(in);
	close(out);
	free(big);
}

/* ---- the driver through its vtable ---- */

struct fixture {
	char *dir;
	struct ivalue *conf;
	struct strbuf log;
	void *session;
	struct itest_stepctx ctx;
};

static void fixture_init(struct fixture *f, const char *conf_json)
{
	struct itest_err err = ITEST_ERR_INIT;
	memset(f, 0, sizeof(*f));
	f->dir = tmp_dir();
	f->conf = json_parse(conf_json, strlen(conf_json), NULL, &err);
	assert_non_null(f->conf);
	strbuf_init(&f->log, 0);
	f->session = xcalloc(1, external_driver.session_size);
	f->ctx.suite_dir = ".";
	f->ctx.run_dir = f->dir;
	f->ctx.timeout_ms = 5000;
	f->ctx.cancel_fd = -1;
	f->ctx.log = &f->log;
	f->ctx.driver_key = "echo";
	f->ctx.conf = f->conf;
	assert_int_equal(external_driver.open(f->session, &f->ctx, &err), 0);
}

static void fixture_release(struct fixture *f)
{
	external_driver.close(f->session);
	free(f->session);
	iv_free(f->conf);
	strbuf_release(&f->log);
	rm_tree(f->dir);
	free(f->dir);
}

/* Runs one step given as JSON; the status, and the result in *res. */
static enum itest_status exec_json(struct fixture *f, const char *step,
				   struct itest_result *res)
{
	struct itest_err err = ITEST_ERR_INIT;
	struct ivalue *arg = json_parse(step, strlen(step), NULL, &err);
	assert_non_null(arg);
	result_init(res);
	enum itest_status st =
		external_driver.exec(f->session, &f->ctx, arg, res);
	iv_free(arg);
	return st;
}

static double num_at(struct itest_result *res, const char *key)
{
	const struct ivalue *j = result_part(res, "json", NULL);
	const struct ivalue *v = iv_get(j, key);
	assert_non_null(v);
	assert_int_equal(v->type, IV_NUM);
	return v->u.num.d;
}

static void test_driver_exec(void **state)
{
	(void)state;
	struct fixture f;
	struct itest_result res;
	fixture_init(&f, "{\"run\": [\"python3\", "
			 "\"selftest/drivers/echo_driver.py\"]}");

	assert_int_equal(exec_json(&f, "{\"parts\": {\"rows\": 3}}", &res),
			 IT_PASS);
	assert_int_equal(iv_get(res.parts, "rows")->u.num.i, 3);
	assert_true(num_at(&res, "count") == 1);
	double pid = num_at(&res, "pid");
	result_release(&res);

	/* the same process, its state kept */
	assert_int_equal(exec_json(&f, "{}", &res), IT_PASS);
	assert_true(num_at(&res, "count") == 2);
	assert_true(num_at(&res, "pid") == pid);
	result_release(&res);

	/* a body part is read as JSON on demand */
	assert_int_equal(exec_json(&f,
				   "{\"raw\": true, \"parts\": "
				   "{\"body\": \"{\\\"a\\\": 5}\"}}",
				   &res),
			 IT_PASS);
	assert_string_equal(res.json_from, "body");
	const struct ivalue *j = result_part(&res, "json", NULL);
	assert_int_equal(iv_get(j, "a")->u.num.i, 5);
	result_release(&res);

	assert_int_equal(exec_json(&f, "{\"fail\": \"no row\"}", &res),
			 IT_FAIL);
	assert_string_equal(res.message.buf, "no row");
	result_release(&res);
	assert_int_equal(exec_json(&f, "{\"error\": \"broken\"}", &res),
			 IT_ERROR);
	assert_string_equal(res.message.buf, "broken");
	result_release(&res);

	/* the request and the answer are in the step log */
	assert_non_null(strstr(f.log.buf, "> {\"op\":\"exec\",\"step\":{}"));
	assert_non_null(strstr(f.log.buf, "< {\"status\": \"fail\""));
	char *logfile = xasprintf("%s/logs/driver-echo-w1.log", f.dir);
	assert_int_equal(access(logfile, F_OK), 0);
	free(logfile);
	fixture_release(&f);
}

static void test_driver_crash_restart(void **state)
{
	(void)state;
	struct fixture f;
	struct itest_result res;
	fixture_init(&f, "{\"run\": [\"python3\", "
			 "\"selftest/drivers/bad_driver.py\"]}");
	f.ctx.driver_key = "bad";
	assert_int_equal(exec_json(&f, "{\"crash\": 7}", &res), IT_ERROR);
	assert_non_null(
		strstr(res.message.buf, "driver 'bad' exited with status 7"));
	assert_non_null(strstr(res.message.buf, "crashing on purpose"));
	result_release(&res);
	assert_int_equal(exec_json(&f, "{}", &res), IT_PASS);
	result_release(&res);

	/* garbage, then a working step again */
	assert_int_equal(exec_json(&f, "{\"garbage\": \"oops\"}", &res),
			 IT_ERROR);
	assert_non_null(strstr(res.message.buf, "not JSON: oops"));
	result_release(&res);

	/* cancellation while it hangs */
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	f.ctx.cancel_fd = efd;
	uint64_t one = 1;
	assert_int_equal(write(efd, &one, sizeof(one)), (ssize_t)sizeof(one));
	double t0 = now_ms();
	assert_int_equal(exec_json(&f, "{\"hang\": 10}", &res), IT_ERROR);
	assert_string_equal(res.message.buf, "interrupted");
	assert_true(now_ms() - t0 < 3000);
	result_release(&res);
	close(efd);
	f.ctx.cancel_fd = -1;

	/* a hang past the timeout */
	f.ctx.timeout_ms = 300;
	t0 = now_ms();
	assert_int_equal(exec_json(&f, "{\"hang\": 10}", &res), IT_ERROR);
	assert_non_null(strstr(res.message.buf, "did not answer within"));
	assert_true(now_ms() - t0 < 3000);
	result_release(&res);
	fixture_release(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_coproc_round_trip),
		cmocka_unit_test(test_coproc_stderr_log),
		cmocka_unit_test(test_pipe_write_timeout_and_cancel),
		cmocka_unit_test(test_driver_exec),
		cmocka_unit_test(test_driver_crash_restart),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
