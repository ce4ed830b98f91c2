/*
 * Unit tests of spawn.c with real processes: exit statuses, capture,
 * stdin feeding, environment, working directory, start errors, the output
 * cap, timeouts and cancellation that end the whole process group, a
 * background grandchild holding a pipe, concurrency and fd hygiene.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "spawn.h"

/* Runs argv with default options plus the given ones; asserts it ran. */
static void run_ok(const struct spawn_opts *o, struct spawn_result *r)
{
	struct itest_err err = ITEST_ERR_INIT;
	int rc = spawn_run(o, r, &err);
	if (rc)
		fail_msg("spawn_run failed: %s", err.msg);
	assert_false(err.set);
}

static struct spawn_opts opts(const char *const *argv)
{
	struct spawn_opts o = {0};
	o.argv = argv;
	o.cancel_fd = -1;
	return o;
}

static long parse_long(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	assert_true(end != s);
	return v;
}

static int group_gone(long pgid)
{
	return kill(-(pid_t)pgid, 0) == -1 && errno == ESRCH;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	assert_non_null(d);
	int n = 0;
	for (struct dirent *e; (e = readdir(d));)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void test_exit_codes(void **state)
{
	(void)state;
	struct spawn_result r;
	spawn_result_init(&r);

	const char *const ok[] = {"true", NULL};
	struct spawn_opts o = opts(ok);
	run_ok(&o, &r);
	assert_int_equal(r.exited, 1);
	assert_int_equal(r.status, 0);

	const char *const three[] = {"sh", "-c", "exit 3", NULL};
	o = opts(three);
	run_ok(&o, &r);
	assert_int_equal(r.exited, 1);
	assert_int_equal(r.status, 3);
	assert_int_equal(r.timed_out, 0);

	const char *const killed[] = {"sh", "-c", "kill -KILL $$", NULL};
	o = opts(killed);
	run_ok(&o, &r);
	assert_int_equal(r.exited, 0);
	assert_int_equal(r.signal, SIGKILL);
	assert_int_equal(r.timed_out, 0);
	spawn_result_release(&r);
}

static void test_capture(void **state)
{
	(void)state;
	struct spawn_result r;
	spawn_result_init(&r);
	const char *const argv[] = {"sh", "-c",
				    "echo out; echo err >&2; "
				    "printf 'a\\0b'",
				    NULL};
	struct spawn_opts o = opts(argv);
	run_ok(&o, &r);
	assert_int_equal(r.out.len, 7);
	assert_memory_equal(r.out.buf, "out\na\0b", 7);
	assert_string_equal(r.err.buf, "err\n");
	assert_int_equal(r.out.dropped, 0);

	/* a second run on the same result starts afresh */
	const char *const quiet[] = {"true", NULL};
	o = opts(quiet);
	run_ok(&o, &r);
	assert_int_equal(r.out.len, 0);
	assert_int_equal(r.err.len, 0);
	spawn_result_release(&r);
}

static void test_stdin(void **state)
{
	(void)state;
	struct spawn_result r;
	spawn_result_init(&r);
	const char *const cat[] = {"cat", NULL};
	struct spawn_opts o = opts(cat);
	o.stdin_data = "hello\nworld";
	o.stdin_len = 11;
	run_ok(&o, &r);
	assert_string_equal(r.out.buf, "hello\nworld");

	/* no stdin_data: stdin is /dev/null, cat ends at once */
	o = opts(cat);
	run_ok(&o, &r);
	assert_int_equal(r.out.len, 0);
	assert_int_equal(r.status, 0);

	/* empty stdin_data: an empty pipe */
	o = opts(cat);
	o.stdin_data = "";
	o.stdin_len = 0;
	run_ok(&o, &r);
	assert_int_equal(r.out.len, 0);
	spawn_result_release(&r);
}

/* 1 MiB in and out of cat: both pipes fill up; no deadlock. */
static void test_large_stdin(void **state)
{
	(void)state;
	size_t n = 1024 * 1024;
	char *data = malloc(n);
	assert_non_null(data);
	for (size_t i = 0; i < n; i++)
		data[i] = (char)('a' + i % 26);
	struct spawn_result r;
	spawn_result_init(&r);
	const char *const cat[] = {"cat", NULL};
	struct spawn_opts o = opts(cat);
	o.stdin_data = data;
	o.stdin_len = n;
	o.out_cap = 2 * n;
	o.timeout_ms = 20000;
	run_ok(&o, &r);
	assert_int_equal(r.timed_out, 0);
	assert_int_equal(r.out.len, n);
	assert_memory_equal(r.out.buf, data, n);

	/* a command that does not read its stdin: EPIPE is tolerated and
	 * no SIGPIPE reaches this process (it would kill the test) */
	const char *const tru[] = {"sh", "-c", "exec 0<&-; sleep 0.05", NULL};
	o = opts(tru);
	o.stdin_data = data;
	o.stdin_len = n;
	run_ok(&o, &r);
	assert_int_equal(r.exited, 1);
	assert_int_equal(r.status, 0);
	sigset_t pending;
	sigpending(&pending);
	assert_false(sigismember(&pending, SIGPIPE));
	spawn_result_release(&r);
	free(data);
}

static void test_env(void **state)
{
	(void)state;
	struct spawn_result r;
	spawn_result_init(&r);
	setenv("ITEST_SPAWN_KEEP", "kept", 1);
	setenv("ITEST_SPAWN_OVER", "old", 1);
	const char *const argv[] = {
		"sh", "-c",
		"echo $ITEST_SPAWN_KEEP $ITEST_SPAWN_OVER $ITEST_SPAWN_NEW; "
		"env | grep -c '^ITEST_SPAWN_OVER='",
		NULL};
	const char *const env[] = {"ITEST_SPAWN_OVER=first",
				   "ITEST_SPAWN_NEW=new=x",
				   "ITEST_SPAWN_OVER=new", NULL};
	struct spawn_opts o = opts(argv);
	o.env = env;
	run_ok(&o, &r);
	assert_string_equal(r.out.buf, "kept new new=x\n1\n");
	unsetenv("ITEST_SPAWN_KEEP");
	unsetenv("ITEST_SPAWN_OVER");
	spawn_result_release(&r);
}

/* A PATH set for the step is where the program is looked up. */
static void test_env_path(void **state)
{
	(void)state;
	char dir[] = "/tmp/itest-spawn-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char prog[64], plain[64];
	snprintf(prog, sizeof(prog), "%s/itest-hello", dir);
	snprintf(plain, sizeof(plain), "%s/itest-noexec", dir);
	FILE *f = fopen(prog, "w");
	assert_non_null(f);
	fputs("#!/bin/sh\necho hello from $0\n", f);
	fclose(f);
	chmod(prog, 0755);
	f = fopen(plain, "w");
	assert_non_null(f);
	fputs("#!/bin/sh\n", f);
	fclose(f);
	chmod(plain, 0644);

	char path[128];
	snprintf(path, sizeof(path), "PATH=/nonexistent:%s:/bin:/usr/bin", dir);
	const char *const env[] = {path, NULL};
	const char *const argv[] = {"itest-hello", NULL};
	struct spawn_result r;
	spawn_result_init(&r);
	struct spawn_opts o = opts(argv);
	o.env = env;
	run_ok(&o, &r);
	char want[128];
	snprintf(want, sizeof(want), "hello from %s\n", prog);
	assert_string_equal(r.out.buf, want);

	/* found but not executable */
	const char *const noexec[] = {"itest-noexec", NULL};
	o = opts(noexec);
	o.env = env;
	struct itest_err err = ITEST_ERR_INIT;
	assert_int_equal(spawn_run(&o, &r, &err), -1);
	assert_string_equal(err.msg,
			    "cannot run 'itest-noexec': Permission denied");

	/* the same program is not found through itest's own PATH */
	o = opts(argv);
	err_clear(&err);
	assert_int_equal(spawn_run(&o, &r, &err), -1);
	assert_string_equal(
		err.msg, "cannot run 'itest-hello': No such file or directory");
	spawn_result_release(&r);
	unlink(prog);
	unlink(plain);
	rmdir(dir);
}

static void test_cwd(void **state)
{
	(void)state;
	struct spawn_result r;
	spawn_result_init(&r);
	const char *const pwd[] = {"sh", "-c", "pwd", NULL};
	struct spawn_opts o = opts(pwd);
	o.cwd = "/";
	run_ok(&o, &r);
	assert_string_equal(r.out.buf, "/\n");

	o.cwd = "/nonexistent-itest-dir";
	struct itest_err err = ITEST_ERR_INIT;
	assert_int_equal(spawn_run(&o, &r, &err), -1);
	assert_string_equal(err.msg, "cannot change to directory "
				     "'/nonexistent-itest-dir': No such file "
				     "or directory");

	/* a relative program path is relative to cwd */
	const char *const rel[] = {"./bin/sh", "-c", "echo rel", NULL};
	o = opts(rel);
	o.cwd = "/";
	run_ok(&o, &r);
	assert_string_equal(r.out.buf, "rel\n");
	spawn_result_release(&r);
}

static void test_missing_program(void **state)
{
	(void)state;
	struct spawn_result r;
	spawn_result_init(&r);
	const char *const argv[] = {"itest-no-such-program", "x", NULL};
	struct spawn_opts o = opts(argv);
	struct itest_err err = ITEST_ERR_INIT;
	/* glibc 2.36 reports the exec failure from posix_spawnp itself,
	 * not as a child exiting with 127 */
	assert_int_equal(spawn_run(&o, &r, &err), -1);
	assert_string_equal(err.msg, "cannot run 'itest-no-such-program': No "
				     "such file or directory");

	const char *const abs[] = {"/nonexistent/prog", NULL};
	o = opts(abs);
	err_clear(&err);
	assert_int_equal(spawn_run(&o, &r, &err), -1);
	assert_string_equal(
		err.msg,
		"cannot run '/nonexistent/prog': No such file or directory");

	const char *const dir[] = {"/tmp", NULL};
	o = opts(dir);
	err_clear(&err);
	assert_int_equal(spawn_run(&o, &r, &err), -1);
	assert_string_equal(err.msg, "cannot run '/tmp': Permission denied");

	const char *const none[] = {NULL};
	o = opts(none);
	err_clear(&err);
	assert_int_equal(spawn_run(&o, &r, &err), -1);
	spawn_result_release(&r);
}

static void test_output_cap(void **state)
{
	(void)state;
	struct spawn_result r;
	spawn_result_init(&r);
	const char *const argv[] = {
		"sh", "-c",
		"head -c 300000 /dev/zero; head -c 1000 /dev/zero >&2", NULL};
	struct spawn_opts o = opts(argv);
	o.out_cap = 100;
	run_ok(&o, &r);
	assert_int_equal(r.out.len, 100);
	assert_int_equal(r.out.dropped, 299900);
	assert_int_equal(r.err.len, 100);
	assert_int_equal(r.err.dropped, 900);
	assert_int_equal(r.status, 0);

	/* default cap: 1 MiB */
	const char *const big[] = {"head", "-c", "1100000", "/dev/zero", NULL};
	o = opts(big);
	run_ok(&o, &r);
	assert_int_equal(r.out.len, 1024 * 1024);
	assert_int_equal(r.out.dropped, 1100000 - 1024 * 1024);
	spawn_result_release(&r);
}

/* A command flooding its output: everything is counted, and a timeout
 * still ends it in time. */
static void test_flood(void **state)
{
	(void)state;
	struct spawn_result r;
	spawn_result_init(&r);
	const char *const big[] = {"sh", "-c", "yes | head -c 50000000", NULL};
	struct spawn_opts o = opts(big);
	run_ok(&o, &r);
	assert_int_equal(r.out.len + r.out.dropped, 50000000);
	assert_int_equal(r.out.len, 1024 * 1024);

	const char *const yes[] = {"yes", NULL};
	o = opts(yes);
	o.timeout_ms = 300;
	run_ok(&o, &r);
	assert_int_equal(r.timed_out, 1);
	assert_true(r.elapsed_ms < 2000);
	assert_true(r.out.dropped > 0);
	spawn_result_release(&r);
}

/* A timeout ends the shell and the sleep it put in the background. */
static void test_timeout_kills_group(void **state)
{
	(void)state;
	for (int grace = 0; grace <= 200; grace += 200) {
		struct spawn_result r;
		spawn_result_init(&r);
		const char *const argv[] = {
			"sh", "-c", "echo $$; sleep 100 & sleep 100", NULL};
		struct spawn_opts o = opts(argv);
		o.timeout_ms = 200;
		o.kill_grace_ms = grace;
		run_ok(&o, &r);
		assert_int_equal(r.timed_out, 1);
		assert_int_equal(r.cancelled, 0);
		assert_int_equal(r.exited, 0);
		assert_int_equal(r.signal, grace ? SIGTERM : SIGKILL);
		assert_true(r.elapsed_ms >= 195);
		assert_true(r.elapsed_ms < 3000);
		long pgid = parse_long(r.out.buf);
		assert_true(group_gone(pgid));
		spawn_result_release(&r);
	}
}

/* TERM is ignored: KILL follows after the grace. */
static void test_timeout_term_ignored(void **state)
{
	(void)state;
	struct spawn_result r;
	spawn_result_init(&r);
	const char *const argv[] = {
		"sh", "-c", "trap '' TERM; echo $$; sleep 100 & sleep 100",
		NULL};
	struct spawn_opts o = opts(argv);
	o.timeout_ms = 100;
	o.kill_grace_ms = 300;
	run_ok(&o, &r);
	assert_int_equal(r.timed_out, 1);
	assert_int_equal(r.signal, SIGKILL);
	assert_true(r.elapsed_ms >= 395);
	assert_true(r.elapsed_ms < 3000);
	assert_true(group_gone(parse_long(r.out.buf)));
	spawn_result_release(&r);
}

/* The leader dies of TERM at once; a member that ignores TERM and holds
 * no pipe is still ended (KILL) before spawn_run returns. */
static void test_timeout_member_survives_term(void **state)
{
	(void)state;
	struct spawn_result r;
	spawn_result_init(&r);
	const char *const argv[] = {"sh", "-c",
				    "echo $$; (trap '' TERM; exec sleep 100) "
				    ">/dev/null 2>&1 & sleep 100",
				    NULL};
	struct spawn_opts o = opts(argv);
	o.timeout_ms = 100;
	o.kill_grace_ms = 1500;
	run_ok(&o, &r);
	assert_int_equal(r.timed_out, 1);
	assert_int_equal(r.signal, SIGTERM);
	assert_true(r.elapsed_ms < 1400);
	assert_true(group_gone(parse_long(r.out.buf)));
	spawn_result_release(&r);
}

static void *write_later(void *arg)
{
	int fd = *(int *)arg;
	sleep_ms(150);
	uint64_t one = 1;
	if (write(fd, &one, sizeof(one)) != sizeof(one))
		abort();
	return NULL;
}

static void test_cancel(void **state)
{
	(void)state;
	int efd = eventfd(0, EFD_CLOEXEC);
	assert_true(efd >= 0);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, write_later, &efd), 0);
	struct spawn_result r;
	spawn_result_init(&r);
	const char *const argv[] = {"sh", "-c",
				    "echo $$; sleep 100 & sleep 100", NULL};
	struct spawn_opts o = opts(argv);
	o.cancel_fd = efd;
	o.kill_grace_ms = 100;
	o.timeout_ms = 20000;
	run_ok(&o, &r);
	pthread_join(th, NULL);
	assert_int_equal(r.cancelled, 1);
	assert_int_equal(r.timed_out, 0);
	assert_int_equal(r.exited, 0);
	assert_true(r.elapsed_ms >= 145);
	assert_true(r.elapsed_ms < 3000);
	assert_true(group_gone(parse_long(r.out.buf)));

	/* the cancel fd stays readable: the next command ends at once */
	const char *const slow[] = {"sleep", "100", NULL};
	o = opts(slow);
	o.cancel_fd = efd;
	run_ok(&o, &r);
	assert_int_equal(r.cancelled, 1);
	assert_int_equal(r.signal, SIGKILL);
	assert_true(r.elapsed_ms < 2000);
	spawn_result_release(&r);
	close(efd);
}

/* A background process keeping stdout open does not hold the call. */
static void test_background_grandchild(void **state)
{
	(void)state;
	struct spawn_result r;
	spawn_result_init(&r);
	const char *const argv[] = {"sh", "-c", "echo $$; sleep 5 & echo done",
				    NULL};
	struct spawn_opts o = opts(argv);
	run_ok(&o, &r);
	assert_int_equal(r.exited, 1);
	assert_int_equal(r.status, 0);
	assert_true(r.elapsed_ms < 1000);
	char *nl = strchr(r.out.buf, '\n');
	assert_non_null(nl);
	assert_string_equal(nl + 1, "done\n");
	long pgid = parse_long(r.out.buf);
	/* after a normal exit the group is left alone (a daemon may stay) */
	assert_int_equal(kill(-(pid_t)pgid, 0), 0);
	kill(-(pid_t)pgid, SIGKILL);
	while (waitpid(-(pid_t)pgid, NULL, 0) > 0)
		;
	assert_true(group_gone(pgid));
	spawn_result_release(&r);
}

/* The child is a group leader, with an empty signal mask and default
 * dispositions even when this process blocks or ignores signals. */
static void test_group_and_signals(void **state)
{
	(void)state;
	struct spawn_result r;
	spawn_result_init(&r);
	const char *const grp[] = {
		"sh", "-c", "echo $$ $(cut -d' ' -f5 /proc/$$/stat)", NULL};
	/* grep reads its own mask and dispositions, as exec left them */
	const char *const sigs[] = {"grep", "-E", "^Sig(Blk|Ign)",
				    "/proc/self/status", NULL};
	const char *const pipe[] = {"sh", "-c", "yes | head -n 1", NULL};
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	struct sigaction ign = {0}, old_pipe, old_hup;
	ign.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &ign, &old_pipe);
	sigaction(SIGHUP, &ign, &old_hup);

	struct spawn_opts o = opts(grp);
	run_ok(&o, &r);
	long pid, pgid;
	assert_int_equal(sscanf(r.out.buf, "%ld %ld", &pid, &pgid), 2);
	assert_int_equal(pid, pgid);

	o = opts(sigs);
	run_ok(&o, &r);
	char blk[32], ign_mask[32];
	assert_int_equal(sscanf(r.out.buf, "SigBlk:\t%31s\nSigIgn:\t%31s", blk,
				ign_mask),
			 2);
	assert_string_equal(blk, "0000000000000000");
	/* glibc keeps its internal signals 32 and 33 as they are; those
	 * that matter to a command are at their defaults */
	unsigned long long ignored = strtoull(ign_mask, NULL, 16);
	int dfl[] = {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGQUIT};
	for (size_t i = 0; i < sizeof(dfl) / sizeof(dfl[0]); i++)
		assert_false(ignored & (1ULL << (dfl[i] - 1)));

	/* yes dies of SIGPIPE quietly instead of reporting EPIPE */
	o = opts(pipe);
	run_ok(&o, &r);
	assert_string_equal(r.out.buf, "y\n");
	assert_string_equal(r.err.buf, "");

	sigaction(SIGHUP, &old_hup, NULL);
	sigaction(SIGPIPE, &old_pipe, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	spawn_result_release(&r);
}

/* Only 0, 1 and 2 reach the child. */
static void test_no_fd_inherited(void **state)
{
	(void)state;
	int fd = open("/dev/null", O_RDONLY); /* no O_CLOEXEC on purpose */
	assert_true(fd >= 0);
	assert_true(dup2(fd, 50) == 50);
	close(fd);
	struct spawn_result r;
	spawn_result_init(&r);
	const char *const argv[] = {"sh", "-c", "ls /proc/$$/fd", NULL};
	struct spawn_opts o = opts(argv);
	run_ok(&o, &r);
	assert_string_equal(r.out.buf, "0\n1\n2\n");
	close(50);
	spawn_result_release(&r);
}

static void test_elapsed(void **state)
{
	(void)state;
	struct spawn_result r;
	spawn_result_init(&r);
	const char *const argv[] = {"sleep", "0.2", NULL};
	struct spawn_opts o = opts(argv);
	run_ok(&o, &r);
	assert_true(r.elapsed_ms >= 195);
	assert_true(r.elapsed_ms < 2000);
	spawn_result_release(&r);
}

static void *spawn_many(void *arg)
{
	long id = (long)(intptr_t)arg;
	char want[32];
	snprintf(want, sizeof(want), "%ld\n", id);
	for (int i = 0; i < 25; i++) {
		struct spawn_result r;
		spawn_result_init(&r);
		char arg0[32];
		snprintf(arg0, sizeof(arg0), "%ld", id);
		const char *const argv[] = {"sh", "-c", "echo $0; cat >&2",
					    arg0, NULL};
		struct spawn_opts o = {0};
		o.argv = argv;
		o.cancel_fd = -1;
		o.stdin_data = want;
		o.stdin_len = strlen(want);
		o.timeout_ms = 20000;
		struct itest_err err = ITEST_ERR_INIT;
		if (spawn_run(&o, &r, &err) || strcmp(r.out.buf, want) ||
		    strcmp(r.err.buf, want) || !r.exited || r.status) {
			spawn_result_release(&r);
			return (void *)1;
		}
		spawn_result_release(&r);
	}
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	pthread_t th[8];
	for (long i = 0; i < 8; i++)
		assert_int_equal(pthread_create(&th[i], NULL, spawn_many,
						(void *)(intptr_t)i),
				 0);
	int bad = 0;
	for (int i = 0; i < 8; i++) {
		void *ret;
		pthread_join(th[i], &ret);
		bad += ret != NULL;
	}
	assert_int_equal(bad, 0);
}

static void test_no_fd_leak(void **state)
{
	(void)state;
	int before = count_fds();
	struct spawn_result r;
	spawn_result_init(&r);
	struct itest_err err = ITEST_ERR_INIT;
	const char *const ok[] = {"sh", "-c", "cat; echo x >&2", NULL};
	const char *const missing[] = {"itest-no-such-program", NULL};
	const char *const slow[] = {"sleep", "10", NULL};
	for (int i = 0; i < 5; i++) {
		struct spawn_opts o = opts(ok);
		o.stdin_data = "in";
		o.stdin_len = 2;
		run_ok(&o, &r);
		o = opts(missing);
		err_clear(&err);
		assert_int_equal(spawn_run(&o, &r, &err), -1);
		o = opts(ok);
		o.cwd = "/nonexistent-itest-dir";
		err_clear(&err);
		assert_int_equal(spawn_run(&o, &r, &err), -1);
		o = opts(slow);
		o.timeout_ms = 20;
		run_ok(&o, &r);
		assert_int_equal(r.timed_out, 1);
	}
	spawn_result_release(&r);
	assert_int_equal(count_fds(), before);
}

int main(void)
{
	/*
	 * As itest does: orphans of a killed group are reparented to us and
	 * reaped by spawn_run, so "nothing of the group remains" can be
	 * checked with kill(-pgid, 0) whatever PID 1 of this machine does.
	 */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_codes),
		cmocka_unit_test(test_capture),
		cmocka_unit_test(test_stdin),
		cmocka_unit_test(test_large_stdin),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_env_path),
		cmocka_unit_test(test_cwd),
		cmocka_unit_test(test_missing_program),
		cmocka_unit_test(test_output_cap),
		cmocka_unit_test(test_flood),
		cmocka_unit_test(test_timeout_kills_group),
		cmocka_unit_test(test_timeout_term_ignored),
		cmocka_unit_test(test_timeout_member_survives_term),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_background_grandchild),
		cmocka_unit_test(test_group_and_signals),
		cmocka_unit_test(test_no_fd_inherited),
		cmocka_unit_test(test_elapsed),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_no_fd_leak),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
