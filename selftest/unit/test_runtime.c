/*
 * Unit tests of runtime.c (the runtime folder, the registry of live runs,
 * `lock: NAME`, /proc facts) and of spawn_reap_strays(): an entry is
 * locked while its itest lives and readable once it is gone, with the
 * groups and `down` commands noted beside it; a run id cannot be
 * registered twice; a lock waits and can be interrupted; orphans are
 * reaped while the children that spawn.c tracks keep their status.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime.h"
#include "spawn.h"

static char base[64];

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static int rm_one(const char *p, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int setup(void **state)
{
	(void)state;
	snprintf(base, sizeof(base), "/tmp/itest-runtime-XXXXXX");
	assert_non_null(mkdtemp(base));
	setenv("XDG_RUNTIME_DIR", base, 1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static char *read_text(const char *path)
{
	struct strbuf sb = STRBUF_INIT;
	char buf[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;)
		strbuf_add(&sb, buf, (size_t)n);
	close(fd);
	return strbuf_detach(&sb, NULL);
}

static void test_dirs(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	struct itest_err err = ITEST_ERR_INIT;
	struct stat st;
	(void)state;
	assert_int_equal(runtime_subdir(&sb, "ports", &err), 0);
	char *want = xasprintf("%s/itest/ports", base);
	assert_string_equal(sb.buf, want);
	assert_int_equal(stat(sb.buf, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	/* a folder made public is made private again */
	char *top = xasprintf("%s/itest", base);
	chmod(top, 0755);
	strbuf_reset(&sb);
	assert_int_equal(runtime_dir(&sb, &err), 0);
	assert_int_equal(stat(top, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	/* without a usable XDG_RUNTIME_DIR: /tmp/itest-$UID */
	setenv("XDG_RUNTIME_DIR", "relative", 1);
	strbuf_reset(&sb);
	assert_int_equal(runtime_dir(&sb, &err), 0);
	char *tmp = xasprintf("/tmp/itest-%ld", (long)getuid());
	assert_string_equal(sb.buf, tmp);
	setenv("XDG_RUNTIME_DIR", base, 1);
	free(tmp);
	free(top);
	free(want);
	strbuf_release(&sb);
}

static void test_registry(void **state)
{
	struct itest_err err = ITEST_ERR_INIT;
	struct runtime_entry e, e2;
	char **keys;
	size_t n;
	(void)state;

	struct runtime_reg *reg = runtime_register("run-1", "/x/run-1", &err);
	assert_non_null(reg);
	char *key = xstrdup(runtime_reg_key(reg));
	assert_int_equal(strncmp(key, "run-1.", 6), 0);
	assert_int_equal(strlen(key), 6 + 8);
	char *path = xasprintf("%s/itest/runs/%s.json", base, key);
	char *text = read_text(path);
	assert_non_null(text);
	char *pid = xasprintf("\"pid\": %ld,", (long)getpid());
	assert_non_null(strstr(text, pid));
	assert_non_null(strstr(text, "\"run_id\": \"run-1\""));
	assert_non_null(strstr(text, "\"run_dir\": \"/x/run-1\""));
	assert_non_null(strstr(text, "\"kept\": false"));
	free(text);

	/* a live run: its entry is locked */
	assert_int_equal(runtime_entry_open(key, 0, &e, &err), 1);
	/* another run under the same id gets a key of its own */
	struct runtime_reg *other = runtime_register("run-1", "/y", &err);
	assert_non_null(other);
	assert_string_not_equal(runtime_reg_key(other), key);
	assert_int_equal(runtime_list(&keys, &n, &err), 0);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
	runtime_unregister(other);

	runtime_add_pgid(key, 4242, SIGTERM, 3000);
	runtime_add_pgid(key, 4343, SIGINT, 9000);
	runtime_add_pgid(key, 4242, SIGHUP, 1000);	  /* the later wins */
	runtime_add_pgid("no-such-run.1", 1, SIGTERM, 0); /* nothing */
	runtime_add_pgid(NULL, 1, SIGTERM, 0);		  /* nothing */
	/* this process stands in for a group leader: the real leader of our
	 * group may be out of sight (in another pid namespace) */
	runtime_add_pgid(key, getpid(), SIGTERM, 0);
	struct ivalue *cmd = iv_obj(), *argv = iv_arr();
	iv_push(argv, iv_str("touch"));
	iv_push(argv, iv_str("down ran"));
	iv_set(cmd, "component", iv_str("db"));
	iv_set(cmd, "argv", argv);
	runtime_add_down(key, "db.abc", cmd);
	runtime_add_down(key, "web.abc", cmd);
	runtime_del_down(key, "web.abc");
	iv_free(cmd);
	assert_int_equal(runtime_mark_kept(reg, &err), 0);
	/* still locked after the rewrite */
	assert_int_equal(runtime_entry_open(key, 0, &e, &err), 1);

	/* itest gone (here: the entry closed without removing it) */
	runtime_reg_free(reg);
	assert_int_equal(runtime_entry_open(key, 0, &e, &err), 0);
	assert_string_equal(e.run_id, "run-1");
	assert_string_equal(e.key, key);
	assert_int_equal(e.pid, getpid());
	assert_true(e.kept);
	assert_true(runtime_entry_itest_alive(&e)); /* same pid and start */
	assert_true(runtime_entry_this_boot(&e));
	struct runtime_group *g;
	runtime_entry_groups(&e, &g, &n);
	assert_int_equal(n, 3);
	assert_int_equal(g[0].pgid, 4242);
	assert_int_equal(g[0].sig, SIGHUP);
	assert_int_equal(g[0].grace_ms, 1000);
	assert_int_equal(g[1].pgid, 4343);
	assert_int_equal(g[1].sig, SIGINT);
	/* the leader's start time, to know it again */
	struct proc_stat ps;
	assert_int_equal(g[2].pgid, getpid());
	assert_int_equal(runtime_proc_stat(getpid(), &ps), 0);
	assert_true(g[2].start == ps.start && ps.start > 0);
	free(g);
	struct ivalue *downs = runtime_entry_downs(&e);
	assert_int_equal(downs->u.arr.n, 1);
	assert_string_equal(iv_strval(iv_get(downs->u.arr.v[0], "key")),
			    "db.abc");
	assert_string_equal(
		iv_strval(iv_get(downs->u.arr.v[0], "argv")->u.arr.v[1]),
		"down ran");
	iv_free(downs);
	/* someone else holding it: busy */
	assert_int_equal(runtime_entry_open(key, 0, &e2, &err), 1);
	runtime_entry_close(&e);

	assert_int_equal(runtime_entry_open(key, 1, &e, &err), 0);
	runtime_entry_remove(&e);
	assert_int_equal(access(path, F_OK), -1);
	char *dir = xasprintf("%s/itest/runs/%s", base, key);
	assert_int_equal(access(dir, F_OK), -1);
	assert_int_equal(runtime_entry_open(key, 0, &e, &err), -1);
	assert_string_equal(err.msg, "no run 'run-1' in the registry");
	err_clear(&err);

	/* the normal end removes everything */
	reg = runtime_register("run-2", "/x/run-2", &err);
	assert_non_null(reg);
	runtime_add_pgid(runtime_reg_key(reg), 99, SIGTERM, 0);
	runtime_unregister(reg);
	assert_int_equal(runtime_list(&keys, &n, &err), 0);
	assert_int_equal(n, 0);
	free(keys);
	free(dir);
	free(pid);
	free(path);
	free(key);
}

struct waiter {
	int cancel;
	int fd;
	struct itest_err err;
	double ms;
};

static void *wait_lock(void *arg)
{
	struct waiter *w = arg;
	double t0 = now_ms();
	w->fd = runtime_lock("db", "run-b", w->cancel, &w->err);
	w->ms = now_ms() - t0;
	return NULL;
}

static void test_lock(void **state)
{
	struct itest_err err = ITEST_ERR_INIT;
	struct waiter w = {0};
	pthread_t t;
	uint64_t one = 1;
	(void)state;
	int fd = runtime_lock("db", "run-a", -1, &err);
	assert_true(fd >= 0);
	char *path = xasprintf("%s/itest/locks/db.lock", base);
	char *text = read_text(path);
	assert_string_equal(text, "run-a\n");
	free(text);

	/* held: the other one waits until cancelled */
	w.cancel = eventfd(0, EFD_CLOEXEC);
	assert_int_equal(pthread_create(&t, NULL, wait_lock, &w), 0);
	sleep_ms(400);
	assert_int_equal(write(w.cancel, &one, sizeof(one)), sizeof(one));
	pthread_join(t, NULL);
	assert_int_equal(w.fd, -1);
	assert_string_equal(w.err.msg,
			    "interrupted while waiting for lock 'db'");
	assert_true(w.ms >= 350);
	close(w.cancel);

	/* released while it waits: it gets it */
	memset(&w, 0, sizeof(w));
	w.cancel = -1;
	assert_int_equal(pthread_create(&t, NULL, wait_lock, &w), 0);
	sleep_ms(300);
	close(fd);
	pthread_join(t, NULL);
	assert_true(w.fd >= 0);
	text = read_text(path);
	assert_string_equal(text, "run-b\n");
	free(text);
	close(w.fd);
	free(path);
}

static void test_proc(void **state)
{
	struct proc_stat ps;
	struct itest_err err = ITEST_ERR_INIT;
	struct spawn_proc *p;
	(void)state;
	assert_int_equal(runtime_proc_stat(getpid(), &ps), 0);
	assert_int_equal(ps.pgrp, getpgrp());
	assert_int_equal(ps.ppid, getppid());
	assert_true(ps.start > 0);

	const char *argv[] = {"sleep", "5", NULL};
	const char *env[] = {"ITEST_RUN_ID=r-7", "ITEST_RUN_KEY=r-7.1", NULL};
	struct spawn_opts o = {0};
	o.argv = argv;
	o.env = env;
	char *log = xasprintf("%s/sleep.log", base);
	assert_int_equal(spawn_start(&o, log, &p, &err), 0);
	pid_t pid = spawn_pid(p);
	for (int i = 0; i < 100 && !runtime_proc_has_env(pid, env); i++)
		sleep_ms(10); /* until it has exec'd */
	const char *one[] = {"ITEST_RUN_KEY=r-7.1", NULL};
	const char *prefix[] = {"ITEST_RUN_ID=r-", NULL};
	const char *longer[] = {"ITEST_RUN_ID=r-77", NULL};
	const char *half[] = {"ITEST_RUN_ID=r-7", "ITEST_RUN_KEY=r-7.2", NULL};
	const char *none[] = {NULL};
	assert_true(runtime_proc_has_env(pid, env));
	assert_true(runtime_proc_has_env(pid, one));
	assert_false(runtime_proc_has_env(pid, prefix));
	assert_false(runtime_proc_has_env(pid, longer));
	assert_false(runtime_proc_has_env(pid, half));
	assert_false(runtime_proc_has_env(pid, none));
	struct proc_stat cs;
	assert_int_equal(runtime_proc_stat(pid, &cs), 0);
	assert_int_equal(cs.pgrp, pid);
	assert_true(cs.start >= ps.start);
	spawn_proc_free(p);
	assert_int_equal(runtime_proc_stat(pid, &cs), -1);
	free(log);
}

/* Zombie children of ours, as /proc says. */
static int zombie_children(void)
{
	char path[64];
	int n = 0;
	snprintf(path, sizeof(path), "/proc/self/task/%ld/children",
		 (long)getpid());
	FILE *f = fopen(path, "r");
	long pid;
	while (f && fscanf(f, "%ld", &pid) == 1) {
		struct proc_stat ps;
		n += runtime_proc_stat((pid_t)pid, &ps) == 0 && ps.state == 'Z';
	}
	if (f)
		fclose(f);
	return n;
}

static void test_reap_strays(void **state)
{
	struct itest_err err = ITEST_ERR_INIT;
	struct spawn_result r;
	struct spawn_proc *p;
	int status;
	(void)state;
	/* a process that spawn.c tracks, dead before the sweep */
	const char *t[] = {"sh", "-c", "exit 7", NULL};
	struct spawn_opts o = {0};
	o.argv = t;
	char *log = xasprintf("%s/true.log", base);
	assert_int_equal(spawn_start(&o, log, &p, &err), 0);
	/* orphans: reparented to us (a child subreaper), then dead */
	const char *orphans[] = {"sh", "-c", "(sleep 0.1 &); (sleep 0.1 &)",
				 NULL};
	o.argv = orphans;
	o.cancel_fd = -1;
	spawn_result_init(&r);
	assert_int_equal(spawn_run(&o, &r, &err), 0);
	spawn_result_release(&r);
	sleep_ms(400);
	assert_int_equal(zombie_children(), 3);
	spawn_reap_strays();
	/* the orphans are gone; the tracked leader is left to its owner */
	assert_int_equal(zombie_children(), 1);
	assert_int_equal(spawn_alive(p, &status), 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 7);
	spawn_proc_free(p);
	assert_int_equal(zombie_children(), 0);
	free(log);
}

int main(void)
{
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dirs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_registry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_proc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reap_strays, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
