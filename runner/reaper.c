/*
 * The reaper and `itest gc` (reaper.h).  The reaper is itest itself,
 * started again as `itest __reaper KEY 3` in a session of its own,
 * reading a pipe whose only writer is the itest of the run: "bye" or
 * "keep" end it quietly; end-of-file without a word means that itest
 * died (SIGKILL, the OOM killer), and the reaper tears the run down from
 * the registry.  `itest gc` does the same for the entries of runs whose
 * itest is gone.  A registry entry is locked by its itest for its whole
 * life, and exclusively by whoever ends it, so the two never work on one
 * run at once.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "reaper.h"
#include "runner.h"
#include "runtime.h"
#include "spawn.h"

extern char **environ;

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#define REAPER_FD	       3
#define REAPER_GRACE_MAX_MS    5000	    /* SPEC: the grace, 5 s at most */
#define REAPER_DOWN_TIMEOUT_MS (10 * 60000) /* an engine's down */
#define REAPER_SWEEP_MS	       2000	    /* stragglers after SIGKILL */
#define REAPER_EXIT_WAIT_MS    5000	    /* for the reaper to exit */

struct reaper {
	pid_t pid;
	int fd;	   /* the write end of the pipe */
	int pidfd; /* -1 without pidfd_open */
};

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* ---- itest's side ---- */

struct reaper *reaper_start(const char *key, struct itest_err *err)
{
	int p[2] = {-1, -1}, e;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int fa_ok = 0, attr_ok = 0;
	char **env = NULL;
	struct reaper *r = NULL;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0) {
		err_set(err, NULL, "cannot start the reaper: pipe: %s",
			strerror(errno));
		return NULL;
	}
	/* both ends above REAPER_FD, so that the dup2() onto it always
	 * makes a new fd (without close-on-exec) */
	for (int i = 0; i < 2; i++) {
		if (p[i] > REAPER_FD)
			continue;
		int fd = fcntl(p[i], F_DUPFD_CLOEXEC, REAPER_FD + 1);
		if (fd < 0) {
			err_set(err, NULL, "cannot start the reaper: %s",
				strerror(errno));
			goto out;
		}
		close(p[i]);
		p[i] = fd;
	}
	if ((e = posix_spawn_file_actions_init(&fa)))
		goto fail;
	fa_ok = 1;
	if ((e = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY,
						  0)) ||
	    (e = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY,
						  0)) ||
	    (e = posix_spawn_file_actions_adddup2(&fa, p[0], REAPER_FD)) ||
	    (e = posix_spawn_file_actions_addclosefrom_np(&fa, REAPER_FD + 1)))
		goto fail;
	if ((e = posix_spawnattr_init(&attr)))
		goto fail;
	attr_ok = 1;
	sigset_t none, def;
	sigemptyset(&none);
	sigemptyset(&def);
	int sigs[] = {SIGINT,  SIGTERM, SIGHUP, SIGPIPE,
		      SIGCHLD, SIGQUIT, SIGUSR2};
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaddset(&def, sigs[i]);
	/* a session of its own: ^C at the terminal reaches itest only */
	if ((e = posix_spawnattr_setflags(
		     &attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
				    POSIX_SPAWN_SETSIGDEF)) ||
	    (e = posix_spawnattr_setsigmask(&attr, &none)) ||
	    (e = posix_spawnattr_setsigdefault(&attr, &def)))
		goto fail;
	/* not marked with a run: the teardown of an outer run (itest inside
	 * a test) must not end the reaper of this one */
	size_t n = 0, k = 0;
	while (environ && environ[n])
		n++;
	env = xcalloc(n + 1, sizeof(*env));
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "ITEST_RUN_ID=", 13) &&
		    strncmp(environ[i], "ITEST_RUN_KEY=", 14))
			env[k++] = environ[i];
	char *argv[] = {(char *)"itest", (char *)"__reaper", (char *)key,
			(char *)"3", NULL};
	if ((e = posix_spawn(&pid, "/proc/self/exe", &fa, &attr, argv, env)))
		goto fail;
	r = xcalloc(1, sizeof(*r));
	r->pid = pid;
	r->fd = p[1];
	p[1] = -1;
	r->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	goto out;
fail:
	err_set(err, NULL, "cannot start the reaper: %s", strerror(e));
out:
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	if (attr_ok)
		posix_spawnattr_destroy(&attr);
	free(env);
	for (int i = 0; i < 2; i++)
		if (p[i] >= 0)
			close(p[i]);
	return r;
}

void reaper_end(struct reaper *r, const char *word)
{
	char line[16];
	sigset_t pipe_set, old, pending;
	if (!r)
		return;
	int n = snprintf(line, sizeof(line), "%s\n", word);
	/* a dead reaper must not kill us by SIGPIPE */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigpending(&pending);
	int was_pending = sigismember(&pending, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	while (write(r->fd, line, (size_t)n) < 0 && errno == EINTR)
		;
	sigpending(&pending);
	if (!was_pending && sigismember(&pending, SIGPIPE)) {
		struct timespec zero = {0, 0};
		sigtimedwait(&pipe_set, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(r->fd);
	/* it exits as soon as it has read the word */
	if (r->pidfd >= 0) {
		struct pollfd pf = {r->pidfd, POLLIN, 0};
		siginfo_t si;
		poll(&pf, 1, REAPER_EXIT_WAIT_MS);
		memset(&si, 0, sizeof(si));
		waitid((idtype_t)P_PIDFD, (id_t)r->pidfd, &si,
		       WEXITED | WNOHANG);
		close(r->pidfd);
	} else {
		for (int i = 0; i < REAPER_EXIT_WAIT_MS / 10; i++) {
			if (waitpid(r->pid, NULL, WNOHANG) != 0)
				break;
			sleep_ms(10);
		}
	}
	free(r);
}

/* ---- the teardown ---- */

struct pinfo {
	pid_t pid, pgrp;
	int marked; /* carries the run id and started after the run began */
};

struct plist {
	struct pinfo *v;
	size_t n, alloc;
};

static int has_pid(const pid_t *v, size_t n, pid_t p)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == p)
			return 1;
	return 0;
}

/*
 * The live processes (zombies are dead already; this process does not
 * count) that carry `want` in their environment and started at `since`
 * or later, or that belong to one of `groups`.
 */
static void scan(const char *const *want, unsigned long long since,
		 const pid_t *groups, size_t ngroups, struct plist *out)
{
	DIR *d = opendir("/proc");
	pid_t self = getpid();
	out->n = 0;
	if (!d)
		return;
	for (struct dirent *e; (e = readdir(d));) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		struct proc_stat ps;
		if (pid <= 0 || *end || pid == self ||
		    runtime_proc_stat((pid_t)pid, &ps) < 0 || ps.state == 'Z' ||
		    ps.state == 'X')
			continue;
		int marked = ps.start >= since &&
			     runtime_proc_has_env((pid_t)pid, want);
		if (!marked && !has_pid(groups, ngroups, ps.pgrp))
			continue;
		XGROW(out->v, out->alloc, out->n + 1);
		out->v[out->n++] = (struct pinfo){(pid_t)pid, ps.pgrp, marked};
	}
	closedir(d);
}

/* Adds the pids of `l` that are ours to `ended` (a set); returns how many
 * of `l` are ours. */
static size_t note_ours(const struct plist *l, const pid_t *ours, size_t nours,
			pid_t **ended, size_t *nended, size_t *alloc)
{
	size_t live = 0;
	for (size_t i = 0; i < l->n; i++) {
		const struct pinfo *p = &l->v[i];
		if (!p->marked && !has_pid(ours, nours, p->pgrp))
			continue;
		live++;
		if (!has_pid(*ended, *nended, p->pid)) {
			XGROW(*ended, *alloc, *nended + 1);
			(*ended)[(*nended)++] = p->pid;
		}
	}
	return live;
}

static void kill_ours(const struct plist *l, const pid_t *ours, size_t nours,
		      int sig)
{
	for (size_t i = 0; i < nours; i++)
		kill(-ours[i], sig);
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].marked && !has_pid(ours, nours, l->v[i].pgrp))
			kill(l->v[i].pid, sig);
}

static char **strv_of(const struct ivalue *arr)
{
	size_t n = arr && arr->type == IV_ARR ? arr->u.arr.n : 0;
	char **v = xcalloc(n + 1, sizeof(*v));
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < n; i++) {
		iv_to_text(&sb, arr->u.arr.v[i]);
		v[i] = strbuf_detach(&sb, NULL);
	}
	return v;
}

static void free_strv(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* Runs the engines' `down` commands that the run noted and that did not
 * run; their output goes to the component's log. */
static void run_downs(const struct runtime_entry *e, const char *prefix)
{
	struct ivalue *downs = runtime_entry_downs(e);
	for (size_t i = 0; i < downs->u.arr.n; i++) {
		const struct ivalue *c = downs->u.arr.v[i];
		const char *name = iv_strval(iv_get(c, "component"));
		const char *log = iv_strval(iv_get(c, "log"));
		const char *text = iv_strval(iv_get(c, "text"));
		char **argv = strv_of(iv_get(c, "argv"));
		char **env = strv_of(iv_get(c, "env"));
		struct spawn_opts o = {0};
		struct spawn_result r;
		struct itest_err err = ITEST_ERR_INIT;
		o.argv = (const char *const *)argv;
		o.env = (const char *const *)env;
		o.cwd = iv_strval(iv_get(c, "cwd"));
		o.timeout_ms = REAPER_DOWN_TIMEOUT_MS;
		o.kill_grace_ms = REAPER_GRACE_MAX_MS;
		o.cancel_fd = -1;
		o.out_cap = 1 << 20;
		name = name ? name : "?";
		text = text ? text : argv[0] ? argv[0] : "?";
		spawn_result_init(&r);
		if (spawn_run(&o, &r, &err) < 0) {
			fprintf(stderr, "%srun %s: component '%s': down: %s\n",
				prefix, e->run_id, name, err.msg);
		} else {
			int fd =
				log ? open(log, O_WRONLY | O_APPEND | O_CLOEXEC)
				    : -1;
			if (fd >= 0) {
				dprintf(fd, "--- down (itest was gone): %s\n",
					text);
				if (write(fd, r.out.buf, r.out.len) < 0 ||
				    write(fd, r.err.buf, r.err.len) < 0)
					r.elapsed_ms = 0; /* a log, no more */
				close(fd);
			}
			if (!r.exited || r.status) {
				struct strbuf why = STRBUF_INIT;
				if (r.timed_out)
					strbuf_addstr(&why,
						      "did not finish in 10m");
				else if (r.exited)
					strbuf_addf(&why,
						    "exited with status %d",
						    r.status);
				else
					strbuf_addf(&why,
						    "was killed by signal %d",
						    r.signal);
				fprintf(stderr,
					"%srun %s: component '%s': down '%s' "
					"%s\n",
					prefix, e->run_id, name, text, why.buf);
				strbuf_release(&why);
			}
		}
		spawn_result_release(&r);
		runtime_del_down(e->key, iv_strval(iv_get(c, "key")));
		free_strv(argv);
		free_strv(env);
	}
	iv_free(downs);
}

/*
 * Ends what is left of a run (its entry locked exclusively): the stop
 * signal to each of its process groups and SIGTERM to its other marked
 * processes, the grace, SIGKILL; the `down` commands; then SIGKILL to
 * what is still marked.  A noted group is signalled only while its
 * leader is the process that itest started (same start time) or one of
 * its members is marked: the id may be a stranger's group by now.
 * Returns how many processes were ended.
 */
static size_t end_run(const struct runtime_entry *e, const char *prefix)
{
	char *id = xasprintf("ITEST_RUN_ID=%s", e->run_id);
	char *key = xasprintf("ITEST_RUN_KEY=%s", e->key);
	const char *want[] = {id, key, NULL};
	unsigned long long since = e->start;
	struct runtime_group *groups = NULL;
	size_t ngroups = 0, nours = 0, nended = 0, alloc = 0;
	pid_t *cand, *ours, *ended = NULL;
	struct plist l = {0};
	int64_t grace = 0;

	runtime_entry_groups(e, &groups, &ngroups);
	cand = xcalloc(ngroups + 1, sizeof(*cand));
	ours = xcalloc(ngroups + 1, sizeof(*ours));
	for (size_t i = 0; i < ngroups; i++)
		cand[i] = groups[i].pgid;
	scan(want, since, cand, ngroups, &l);
	for (size_t i = 0; i < ngroups; i++) {
		struct proc_stat ps;
		/* its leader is still the process itest started (alive or
		 * a zombie), or a member carries the run id */
		int mine = groups[i].start &&
			   runtime_proc_stat(groups[i].pgid, &ps) == 0 &&
			   ps.start == groups[i].start;
		for (size_t k = 0; k < l.n && !mine; k++)
			mine = l.v[k].pgrp == groups[i].pgid && l.v[k].marked;
		if (!mine)
			continue;
		ours[nours++] = groups[i].pgid;
		kill(-groups[i].pgid, groups[i].sig);
		if (groups[i].grace_ms > grace)
			grace = groups[i].grace_ms;
	}
	note_ours(&l, ours, nours, &ended, &nended, &alloc);
	for (size_t i = 0; i < l.n; i++)
		if (l.v[i].marked && !has_pid(ours, nours, l.v[i].pgrp)) {
			kill(l.v[i].pid, SIGTERM);
			grace = REAPER_GRACE_MAX_MS;
		}
	if (grace > REAPER_GRACE_MAX_MS)
		grace = REAPER_GRACE_MAX_MS;
	double deadline = now_ms() + (double)grace;
	size_t live = nended;
	while (live && now_ms() < deadline) {
		sleep_ms(50);
		scan(want, since, ours, nours, &l);
		live = note_ours(&l, ours, nours, &ended, &nended, &alloc);
	}
	if (live)
		kill_ours(&l, ours, nours, SIGKILL);

	run_downs(e, prefix);

	/* what is left: daemons that left their group, late children */
	deadline = now_ms() + REAPER_SWEEP_MS;
	for (;;) {
		scan(want, since, ours, nours, &l);
		if (!note_ours(&l, ours, nours, &ended, &nended, &alloc))
			break;
		kill_ours(&l, ours, nours, SIGKILL);
		if (now_ms() >= deadline)
			break;
		sleep_ms(20);
	}
	free(l.v);
	free(ended);
	free(cand);
	free(ours);
	free(groups);
	free(id);
	free(key);
	return nended;
}

/* ---- the reaper ---- */

int reaper_main(int argc, char **argv)
{
	struct itest_err err = ITEST_ERR_INIT;
	struct runtime_entry e;
	char buf[64];
	size_t len = 0;
	char *end;
	if (argc != 3)
		return EXIT_USAGE;
	const char *key = argv[1];
	long fd = strtol(argv[2], &end, 10);
	if (*end || fd < 0)
		return EXIT_USAGE;
	setsid(); /* already, through posix_spawn */
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		ssize_t n = read((int)fd, buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "bye\n") || strstr(buf, "keep\n"))
			return 0;
		if (len == sizeof(buf) - 1)
			len = 0;
	}
	/* end of file without a word: itest died */
	close((int)fd);
	if (runtime_entry_open(key, 1, &e, &err) != 0)
		return 0; /* it was ended already */
	if (e.kept) {
		runtime_entry_close(&e);
		return 0;
	}
	size_t n = end_run(&e, "itest: reaper: ");
	fprintf(stderr,
		"itest: reaper: run %s: itest died; ended %zu process%s\n",
		e.run_id, n, n == 1 ? "" : "es");
	runtime_entry_remove(&e);
	return 0;
}

/* ---- itest gc ---- */

static void gc_usage(FILE *f)
{
	fputs("usage: itest gc [--run RUN_ID]\n"
	      "  ends what is left of runs whose itest died; with --run, of "
	      "that run\n  (one left up by --keep, say)\n",
	      f);
}

/* Ends one run whose entry is locked; says so. */
static void gc_end(struct runtime_entry *e)
{
	size_t n = runtime_entry_this_boot(e) ? end_run(e, "itest: ") : 0;
	printf("run %s: ended %zu process%s\n", e->run_id, n,
	       n == 1 ? "" : "es");
	fflush(stdout);
	runtime_entry_remove(e);
}

/* Whether registry key `key` belongs to run `run_id` (KEY = RUN_ID.TOKEN). */
static int key_of(const char *key, const char *run_id)
{
	size_t len = strlen(run_id);
	return !strncmp(key, run_id, len) && key[len] == '.';
}

int reaper_gc_main(int argc, char **argv)
{
	struct itest_err err = ITEST_ERR_INIT;
	const char *only = NULL;
	char **keys = NULL;
	size_t n = 0, ended = 0, said = 0, busy = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--run") && i + 1 < argc) {
			only = argv[++i];
		} else if (!strncmp(argv[i], "--run=", 6) && argv[i][6]) {
			only = argv[i] + 6;
		} else if (!strcmp(argv[i], "-h") ||
			   !strcmp(argv[i], "--help")) {
			gc_usage(stdout);
			return EXIT_PASS;
		} else {
			fprintf(stderr,
				"itest: error: unknown argument '%s' to 'itest "
				"gc'\n",
				argv[i]);
			gc_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (runtime_list(&keys, &n, &err) < 0) {
		fprintf(stderr, "itest: error: %s\n", err.msg);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < n; i++) {
		struct runtime_entry e;
		struct itest_err oerr = ITEST_ERR_INIT;
		if (only && !key_of(keys[i], only))
			continue;
		/* busy: its itest (or its reaper, or another gc) has it */
		int rc = runtime_entry_open(keys[i], 0, &e, &oerr);
		if (rc == 1 || (rc == 0 && runtime_entry_itest_alive(&e))) {
			busy++;
			if (rc == 0)
				runtime_entry_close(&e);
			continue;
		}
		if (rc < 0)
			continue; /* ended meanwhile */
		if (!runtime_entry_this_boot(&e)) {
			printf("run %s: left from before a reboot; entry "
			       "removed\n",
			       e.run_id);
			runtime_entry_remove(&e);
			said++;
		} else if (e.kept && !only) {
			printf("run %s: kept by --keep (end it with: itest gc "
			       "--run %s)\n",
			       e.run_id, e.run_id);
			runtime_entry_close(&e);
			said++;
		} else {
			gc_end(&e);
			ended++;
			said++;
		}
	}
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
	if (only && !ended) {
		if (busy)
			fprintf(stderr,
				"itest: error: run '%s' is still running (or "
				"being ended by its reaper)\n",
				only);
		else
			fprintf(stderr,
				"itest: error: no run '%s' in the registry\n",
				only);
		return busy ? EXIT_TESTFAIL : EXIT_USAGE;
	}
	if (!said)
		printf("nothing to clean up\n");
	return EXIT_PASS;
}
