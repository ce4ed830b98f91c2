/*
 * Starting child processes: posix_spawn into a new process group, stdin
 * fed from memory, stdout and stderr captured into capped buffers, and a
 * poll() loop over a pidfd, the pipes and a cancel fd that enforces the
 * timeout.  Background processes (spawn_start) write to a log file
 * instead and are watched through their pidfd until they are stopped;
 * co-processes (spawn_coproc_start) are background processes whose stdin
 * and stdout stay connected to the caller through pipes.  A
 * timed-out or cancelled command's whole group is killed and waited for; after
 * a normal exit the group is left alone (a command may legitimately start a
 * daemon).  No globals and no SIGCHLD handler, so any number of threads may
 * call spawn_run() at once; the process must not set SIGCHLD to SIG_IGN
 * (children would be reaped behind our back) and must not change its
 * environment once threads run.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spawn.h"

extern char **environ;

#define SPAWN_DEFAULT_CAP (1024 * 1024)
/* How long to keep reading after the child exited while something it
 * started in the background still holds a pipe open. */
#define SPAWN_PIPE_GRACE_MS 50
/* How long to wait for a killed group to vanish (D-state stragglers). */
#define SPAWN_GROUP_WAIT_MS 2000

/* The state of one spawn_run() call. */
struct child {
	pid_t pid;
	int pidfd;  /* -1 when pidfd_open is unavailable */
	int in_fd;  /* parent end of the stdin pipe, or -1 */
	int out_fd; /* parent ends of the output pipes, or -1 when done */
	int err_fd;
	const char *in_data;
	size_t in_left;
	int exited;  /* the child has exited (not yet reaped) */
	int killing; /* timed out or cancelled: the group is being ended */
	int killed_hard;
	double kill_deadline;
	double pipe_deadline;
};

void spawn_result_init(struct spawn_result *r)
{
	memset(r, 0, sizeof(*r));
	strbuf_init(&r->out, 0);
	strbuf_init(&r->err, 0);
}

void spawn_result_release(struct spawn_result *r)
{
	strbuf_release(&r->out);
	strbuf_release(&r->err);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Makes a pipe whose fds are close-on-exec and all >= 3, so that the
 * dup2() file actions cannot clobber each other even when itest runs
 * with some of 0, 1, 2 closed. */
static int make_pipe(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		if (fds[i] >= 3)
			continue;
		int fd = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
		if (fd < 0) {
			int e = errno;
			close(fds[0]);
			close(fds[1]);
			errno = e;
			return -1;
		}
		close(fds[i]);
		fds[i] = fd;
	}
	return 0;
}

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* The length of the name part of "NAME=VALUE" (the whole string when it
 * has no '='). */
static size_t env_name_len(const char *s)
{
	const char *eq = strchr(s, '=');
	return eq ? (size_t)(eq - s) : strlen(s);
}

/* The inherited environment with `over` entries replacing same-named
 * ones; the array is allocated, the strings are borrowed. */
static char **build_env(const char *const *over)
{
	size_t n = 0, m = 0;
	for (char **e = environ; e && *e; e++)
		n++;
	for (const char *const *o = over; o && *o; o++)
		m++;
	char **env = xcalloc(n + m + 1, sizeof(*env));
	size_t k = 0;
	for (char **e = environ; e && *e; e++) {
		size_t len = env_name_len(*e);
		int replaced = 0;
		for (const char *const *o = over; o && *o && !replaced; o++)
			replaced = env_name_len(*o) == len &&
				   !strncmp(*o, *e, len);
		if (!replaced)
			env[k++] = *e;
	}
	/* a later entry of `over` wins over an earlier one of that name */
	for (size_t i = 0; i < m; i++) {
		size_t len = env_name_len(over[i]);
		int later = 0;
		for (size_t j = i + 1; j < m && !later; j++)
			later = env_name_len(over[j]) == len &&
				!strncmp(over[i], over[j], len);
		if (!later)
			env[k++] = (char *)over[i];
	}
	env[k] = NULL;
	return env;
}

/* The PATH value that `over` sets, or NULL. */
static const char *env_path(const char *const *over)
{
	const char *path = NULL;
	for (const char *const *o = over; o && *o; o++)
		if (!strncmp(*o, "PATH=", 5))
			path = *o + 5;
	return path;
}

/*
 * Looks `name` up in `path` the way execvp does (an empty element is the
 * working directory, here the child's `cwd`).  posix_spawnp would search
 * itest's own PATH, but a step that sets PATH means its own.  Returns the
 * path to execute (caller owns it) or NULL with errno set.
 */
static char *path_lookup(const char *name, const char *path, const char *cwd)
{
	int err = ENOENT;
	struct strbuf cand = STRBUF_INIT, check = STRBUF_INIT;
	const char *p = path;
	for (;;) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		strbuf_reset(&cand);
		if (len)
			strbuf_add(&cand, p, len);
		else
			strbuf_addch(&cand, '.');
		strbuf_addf(&cand, "/%s", name);
		strbuf_reset(&check);
		if (cwd && cand.buf[0] != '/')
			strbuf_addf(&check, "%s/", cwd);
		strbuf_addstr(&check, cand.buf);
		struct stat st;
		if (!stat(check.buf, &st) && S_ISREG(st.st_mode)) {
			if (!access(check.buf, X_OK)) {
				strbuf_release(&check);
				return strbuf_detach(&cand, NULL);
			}
			err = EACCES;
		}
		if (!end)
			break;
		p = end + 1;
	}
	strbuf_release(&cand);
	strbuf_release(&check);
	errno = err;
	return NULL;
}

static int spawn_error(int e, const struct spawn_opts *o, const char *name,
		       struct itest_err *err)
{
	if (o->cwd) {
		int fd = open(o->cwd, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return err_set(err, NULL,
				       "cannot change to directory '%s': %s",
				       o->cwd, strerror(errno));
		close(fd);
	}
	return err_set(err, NULL, "cannot run '%s': %s", name, strerror(e));
}

/*
 * Starts the child.  With `log_fd` < 0 its stdout and stderr go to pipes
 * (and stdin comes from o->stdin_data); on success fills c->pid and the
 * parent pipe ends.  With `log_fd` >= 3 both go to that file and stdin is
 * /dev/null; only c->pid is filled.  With `coproc` (and `log_fd` >= 3)
 * stdin and stdout are pipes (c->in_fd, c->out_fd) and stderr goes to
 * the file.
 */
static int start_child(const struct spawn_opts *o, struct child *c, int log_fd,
		       int coproc, struct itest_err *err)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
	char **env = NULL;
	char *exe = NULL;
	int ret = -1, e;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int fa_ok = 0, attr_ok = 0;
	const char *name = o->argv[0];

	int piped = log_fd < 0, feed_in = (piped && o->stdin_data) || coproc;
	int out_piped = piped || coproc;

	if ((feed_in && make_pipe(in) < 0) ||
	    (out_piped && make_pipe(out) < 0) ||
	    (piped && make_pipe(errp) < 0)) {
		err_set(err, NULL, "cannot run '%s': pipe: %s", name,
			strerror(errno));
		goto out;
	}
	if ((e = posix_spawn_file_actions_init(&fa)) != 0)
		goto fail_errno;
	fa_ok = 1;
	if (feed_in)
		e = posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	else
		e = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null",
						     O_RDONLY, 0);
	if (!e)
		e = posix_spawn_file_actions_adddup2(
			&fa, out_piped ? out[1] : log_fd, 1);
	if (!e)
		e = posix_spawn_file_actions_adddup2(
			&fa, piped ? errp[1] : log_fd, 2);
	if (!e && o->cwd)
		e = posix_spawn_file_actions_addchdir_np(&fa, o->cwd);
	if (!e)
		e = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	if (e)
		goto fail_errno;

	if ((e = posix_spawnattr_init(&attr)) != 0)
		goto fail_errno;
	attr_ok = 1;
	sigset_t mask, def;
	sigemptyset(&mask);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGHUP);
	sigaddset(&def, SIGCHLD);
	sigaddset(&def, SIGQUIT);
	e = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
						    POSIX_SPAWN_SETSIGMASK |
						    POSIX_SPAWN_SETSIGDEF);
	if (!e)
		e = posix_spawnattr_setpgroup(&attr, 0);
	if (!e)
		e = posix_spawnattr_setsigmask(&attr, &mask);
	if (!e)
		e = posix_spawnattr_setsigdefault(&attr, &def);
	if (e)
		goto fail_errno;

	env = build_env(o->env);
	const char *path = env_path(o->env);
	if (path && !strchr(name, '/')) {
		exe = path_lookup(name, path, o->cwd);
		if (!exe) {
			spawn_error(errno, o, name, err);
			goto out;
		}
		e = posix_spawn(&c->pid, exe, &fa, &attr,
				(char *const *)o->argv, env);
	} else {
		e = posix_spawnp(&c->pid, name, &fa, &attr,
				 (char *const *)o->argv, env);
	}
	if (e) {
		spawn_error(e, o, name, err);
		goto out;
	}
	c->in_fd = in[1];
	c->out_fd = out[0];
	c->err_fd = errp[0];
	in[1] = out[0] = errp[0] = -1;
	ret = 0;
	goto out;

fail_errno:
	err_set(err, NULL, "cannot run '%s': %s", name, strerror(e));
out:
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	if (attr_ok)
		posix_spawnattr_destroy(&attr);
	for (int i = 0; i < 2; i++) {
		close_fd(&in[i]);
		close_fd(&out[i]);
		close_fd(&errp[i]);
	}
	free(env);
	free(exe);
	return ret;
}

/* Sends `sig` to the child's process group (its pgid is its pid). */
static void kill_group(const struct child *c, int sig)
{
	kill(-c->pid, sig);
}

/* Starts ending the group: TERM now, KILL after the grace (or at once). */
static void begin_kill(struct child *c, const struct spawn_opts *o, double now)
{
	c->killing = 1;
	if (o->kill_grace_ms > 0) {
		kill_group(c, SIGTERM);
		c->kill_deadline = now + (double)o->kill_grace_ms;
	} else {
		kill_group(c, SIGKILL);
		c->killed_hard = 1;
	}
}

/*
 * Reads what is available from *fd into sb, at most 1 MiB per call so
 * that a command flooding its output cannot keep us from the clock;
 * closes the fd at EOF or on an error.
 */
static void drain(int *fd, struct strbuf *sb)
{
	char buf[65536];
	for (int i = 0; i < 16;) {
		ssize_t n = read(*fd, buf, sizeof(buf));
		if (n > 0) {
			strbuf_add(sb, buf, (size_t)n);
			i++;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		close_fd(fd);
		return;
	}
}

static void feed(struct child *c)
{
	while (c->in_left) {
		size_t chunk = c->in_left > 65536 ? 65536 : c->in_left;
		ssize_t n = write(c->in_fd, c->in_data, chunk);
		if (n > 0) {
			c->in_data += n;
			c->in_left -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		break; /* EPIPE: the child does not read its stdin */
	}
	close_fd(&c->in_fd);
}

/* Whether the child has exited, for kernels without pidfd_open. */
static int exited_nowait(pid_t pid)
{
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return errno == ECHILD;
	return si.si_pid == pid;
}

/* Milliseconds until `deadline` for poll(), folded into *timeout. */
static void fold_deadline(int *timeout, double deadline, double now)
{
	double left = deadline - now;
	int ms = left <= 0 ? 0 : left > 1e9 ? 1000000000 : (int)left + 1;
	if (*timeout < 0 || ms < *timeout)
		*timeout = ms;
}

/* The poll loop: runs until the child has exited and both output pipes
 * are closed (or the grace after the exit is over). */
static void supervise(struct child *c, const struct spawn_opts *o,
		      struct spawn_result *r, double start)
{
	double deadline = o->timeout_ms > 0 ? start + (double)o->timeout_ms : 0;
	for (;;) {
		double now = now_ms();
		if (!c->killing && deadline && now >= deadline) {
			r->timed_out = 1;
			begin_kill(c, o, now);
		}
		if (c->killing && !c->killed_hard && now >= c->kill_deadline) {
			kill_group(c, SIGKILL);
			c->killed_hard = 1;
		}
		if (c->exited && c->in_fd >= 0)
			close_fd(&c->in_fd);
		if (c->exited && (now >= c->pipe_deadline ||
				  (c->out_fd < 0 && c->err_fd < 0)))
			break;

		struct pollfd pf[5];
		int n = 0, i_pid = -1, i_out = -1, i_err = -1, i_in = -1,
		    i_cancel = -1;
		if (!c->exited && c->pidfd >= 0) {
			i_pid = n;
			pf[n++] = (struct pollfd){c->pidfd, POLLIN, 0};
		}
		if (c->out_fd >= 0) {
			i_out = n;
			pf[n++] = (struct pollfd){c->out_fd, POLLIN, 0};
		}
		if (c->err_fd >= 0) {
			i_err = n;
			pf[n++] = (struct pollfd){c->err_fd, POLLIN, 0};
		}
		if (c->in_fd >= 0) {
			i_in = n;
			pf[n++] = (struct pollfd){c->in_fd, POLLOUT, 0};
		}
		if (!c->killing && o->cancel_fd >= 0) {
			i_cancel = n;
			pf[n++] = (struct pollfd){o->cancel_fd, POLLIN, 0};
		}
		int timeout = -1;
		if (!c->killing && deadline)
			fold_deadline(&timeout, deadline, now);
		if (c->killing && !c->killed_hard)
			fold_deadline(&timeout, c->kill_deadline, now);
		if (c->exited)
			fold_deadline(&timeout, c->pipe_deadline, now);
		/* no pidfd: look at the child now and then */
		if (!c->exited && c->pidfd < 0 && (timeout < 0 || timeout > 5))
			timeout = 5;

		int got = poll(pf, (nfds_t)n, timeout);
		if (got < 0 && errno != EINTR)
			got = 0; /* cannot happen with valid fds; keep going */
		if (got <= 0) {
			if (!c->exited && c->pidfd < 0 && exited_nowait(c->pid))
				goto child_exited;
			continue;
		}
		if (i_out >= 0 && pf[i_out].revents)
			drain(&c->out_fd, &r->out);
		if (i_err >= 0 && pf[i_err].revents)
			drain(&c->err_fd, &r->err);
		if (i_in >= 0 && pf[i_in].revents)
			feed(c);
		if (i_cancel >= 0 && pf[i_cancel].revents) {
			r->cancelled = 1;
			begin_kill(c, o, now_ms());
		}
		if ((i_pid >= 0 && pf[i_pid].revents) ||
		    (c->pidfd < 0 && exited_nowait(c->pid)))
			goto child_exited;
		continue;
	child_exited:
		c->exited = 1;
		now = now_ms();
		c->pipe_deadline = now + SPAWN_PIPE_GRACE_MS;
		if (c->killing && !c->killed_hard && c->kill_deadline > now)
			c->pipe_deadline =
				c->kill_deadline + SPAWN_PIPE_GRACE_MS;
	}
	/* what is already in the pipes still belongs to the output */
	if (c->out_fd >= 0)
		drain(&c->out_fd, &r->out);
	if (c->err_fd >= 0)
		drain(&c->err_fd, &r->err);
	close_fd(&c->out_fd);
	close_fd(&c->err_fd);
	close_fd(&c->in_fd);
}

/* Reaps the child (only it: never waitpid(-1)) and fills the status. */
static void reap(struct child *c, struct spawn_result *r)
{
	int st = 0;
	pid_t got;
	do
		got = waitpid(c->pid, &st, 0);
	while (got < 0 && errno == EINTR);
	if (got != c->pid) {
		/* reaped by someone else (SIGCHLD ignored): status unknown */
		r->exited = 0;
		r->signal = 0;
		r->status = -1;
		return;
	}
	if (WIFEXITED(st)) {
		r->exited = 1;
		r->status = WEXITSTATUS(st);
	} else if (WIFSIGNALED(st)) {
		r->signal = WTERMSIG(st);
	}
}

/* Whether a process of group `pgid` is still alive (zombies do not
 * count: they are dead, waiting for their parent or for init). */
static int group_alive(pid_t pgid)
{
	if (kill(-pgid, 0) < 0 && errno == ESRCH)
		return 0;
	DIR *d = opendir("/proc");
	if (!d)
		return 1;
	int alive = 0;
	char path[32], buf[512];
	for (struct dirent *e; !alive && (e = readdir(d));) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (pid <= 0 || *end)
			continue;
		snprintf(path, sizeof(path), "%ld/stat", pid);
		int fd = openat(dirfd(d), path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		/* "PID (COMM) STATE PPID PGRP ...": COMM may hold anything */
		char *p = strrchr(buf, ')');
		char state;
		long ppid, pgrp;
		if (p &&
		    sscanf(p + 1, " %c %ld %ld", &state, &ppid, &pgrp) == 3)
			alive = pgrp == pgid && state != 'Z' && state != 'X';
	}
	closedir(d);
	return alive;
}

/*
 * After a timeout or cancellation: waits until no process of the group is
 * alive, reaping those that were reparented to us (when itest is a child
 * subreaper).  The leader is already reaped; the group id stays pinned
 * while any member, even a zombie, exists.
 */
static void wait_group_gone(pid_t pgid)
{
	double give_up = now_ms() + SPAWN_GROUP_WAIT_MS;
	int alive;
	do {
		while (waitpid(-pgid, NULL, WNOHANG) > 0)
			;
		alive = group_alive(pgid);
		if (alive) {
			struct timespec ts = {0, 2000000};
			nanosleep(&ts, NULL);
		}
	} while (alive && now_ms() < give_up);
	/* those that died since the last pass and are ours */
	while (waitpid(-pgid, NULL, WNOHANG) > 0)
		;
}

int spawn_run(const struct spawn_opts *o, struct spawn_result *r,
	      struct itest_err *err)
{
	struct child c = {0};
	c.pidfd = c.in_fd = c.out_fd = c.err_fd = -1;
	sigset_t pipe_set, old_mask;
	int pipe_was_pending = 0, masked = 0;

	r->exited = r->status = r->signal = 0;
	r->timed_out = r->cancelled = 0;
	strbuf_reset(&r->out);
	strbuf_reset(&r->err);
	r->out.dropped = r->err.dropped = 0;
	r->out.cap = r->err.cap = o->out_cap ? o->out_cap : SPAWN_DEFAULT_CAP;
	r->elapsed_ms = 0;
	if (!o->argv || !o->argv[0])
		return err_set(err, NULL, "cannot run an empty command");

	/*
	 * Writing to a pipe whose reader is gone raises SIGPIPE in this
	 * thread.  Block it here and swallow the one we may cause, so the
	 * caller's disposition does not matter (the child gets an empty
	 * mask and a default SIGPIPE through the spawn attributes).
	 */
	if (o->stdin_data) {
		sigset_t pending;
		sigemptyset(&pipe_set);
		sigaddset(&pipe_set, SIGPIPE);
		sigpending(&pending);
		pipe_was_pending = sigismember(&pending, SIGPIPE);
		masked = !pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);
	}

	double start = now_ms();
	int ret = start_child(o, &c, -1, 0, err);
	if (ret < 0)
		goto out;
	c.pidfd = (int)syscall(SYS_pidfd_open, c.pid, 0); /* close-on-exec */
	set_nonblock(c.out_fd);
	set_nonblock(c.err_fd);
	if (c.in_fd >= 0) {
		set_nonblock(c.in_fd);
		c.in_data = o->stdin_data;
		c.in_left = o->stdin_len;
		feed(&c);
	}

	supervise(&c, o, r, start);
	/* the leader is a zombie now: its pid pins the group id */
	if (c.killing)
		kill_group(&c, SIGKILL);
	reap(&c, r);
	if (c.killing)
		wait_group_gone(c.pid);
	close_fd(&c.pidfd);
	r->elapsed_ms = now_ms() - start;
out:
	if (masked) {
		sigset_t pending;
		sigpending(&pending);
		if (!pipe_was_pending && sigismember(&pending, SIGPIPE)) {
			struct timespec zero = {0, 0};
			sigtimedwait(&pipe_set, NULL, &zero);
		}
		pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	}
	return ret;
}

/* ---- background processes ---- */

struct spawn_proc {
	pid_t pid;  /* the leader; also the group id */
	int pidfd;  /* -1 when pidfd_open is unavailable */
	int dead;   /* the leader has exited; `status` is set */
	int status; /* its wait status, -1 when unknown */
	int stopping;
	int stopped; /* reaped: the group id is no longer ours */
	double stop_deadline;
};

/* A wait(2) status from the siginfo of waitid(). */
static int wait_status(const siginfo_t *si)
{
	switch (si->si_code) {
	case CLD_EXITED:
		return (si->si_status & 0xff) << 8;
	case CLD_KILLED:
		return si->si_status & 0x7f;
	case CLD_DUMPED:
		return (si->si_status & 0x7f) | 0x80;
	}
	return -1;
}

/* Notes whether the leader has exited, without reaping it.  `flags`:
 * WNOHANG to look, 0 to wait. */
static void look(struct spawn_proc *p, int flags)
{
	siginfo_t si;
	int rc;
	if (p->dead)
		return;
	memset(&si, 0, sizeof(si));
	do
		rc = waitid(P_PID, (id_t)p->pid, &si,
			    WEXITED | WNOWAIT | flags);
	while (rc < 0 && errno == EINTR);
	if (rc < 0) {
		/* ECHILD: reaped by someone else (SIGCHLD ignored) */
		p->dead = 1;
		p->status = -1;
	} else if (si.si_pid == p->pid) {
		p->dead = 1;
		p->status = wait_status(&si);
	}
}

/* Opens (creates with mode 0600) a log file for appending, or /dev/null
 * when `path` is NULL, at an fd >= 3: see make_pipe(), 0, 1 and 2 stay
 * free for the dup2()s.  The fd, or -1 with err. */
static int open_log(const char *path, struct itest_err *err)
{
	int fd = path ? open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
			     0600)
		      : open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd >= 0 && fd < 3) {
		int hi = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		close(fd);
		fd = hi;
	}
	if (fd < 0)
		return err_set(err, NULL, "cannot open '%s': %s",
			       path ? path : "/dev/null", strerror(errno));
	return fd;
}

int spawn_start(const struct spawn_opts *o, const char *log_path,
		struct spawn_proc **out, struct itest_err *err)
{
	struct child c = {0};
	*out = NULL;
	if (!o->argv || !o->argv[0])
		return err_set(err, NULL, "cannot run an empty command");
	int fd = open_log(log_path, err);
	if (fd < 0)
		return -1;
	int rc = start_child(o, &c, fd, 0, err);
	close(fd);
	if (rc < 0)
		return -1;
	struct spawn_proc *p = xcalloc(1, sizeof(*p));
	p->pid = c.pid;
	p->pidfd = (int)syscall(SYS_pidfd_open, c.pid, 0); /* close-on-exec */
	*out = p;
	return 0;
}

int spawn_coproc_start(const struct spawn_opts *o, const char *log_path,
		       struct spawn_proc **out, int *in_fd, int *out_fd,
		       struct itest_err *err)
{
	struct child c = {0};
	c.in_fd = c.out_fd = c.err_fd = -1;
	*out = NULL;
	*in_fd = *out_fd = -1;
	if (!o->argv || !o->argv[0])
		return err_set(err, NULL, "cannot run an empty command");
	int fd = open_log(log_path, err);
	if (fd < 0)
		return -1;
	int rc = start_child(o, &c, fd, 1, err);
	close(fd);
	if (rc < 0)
		return -1;
	set_nonblock(c.in_fd);
	set_nonblock(c.out_fd);
	struct spawn_proc *p = xcalloc(1, sizeof(*p));
	p->pid = c.pid;
	p->pidfd = (int)syscall(SYS_pidfd_open, c.pid, 0); /* close-on-exec */
	*out = p;
	*in_fd = c.in_fd;
	*out_fd = c.out_fd;
	return 0;
}

int spawn_pipe_write(int fd, const char *data, size_t len, double deadline,
		     int cancel_fd)
{
	sigset_t pipe_set, old_mask, pending;
	int was_pending, masked, ret = 0, e = 0;
	/* as in spawn_run(): block SIGPIPE and swallow the one we cause */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	masked = !pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);
	while (len) {
		ssize_t n = write(fd, data, len > 65536 ? 65536 : len);
		if (n > 0) {
			data += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN) {
			e = errno;
			break;
		}
		int timeout = -1;
		if (deadline > 0) {
			double now = now_ms();
			if (now >= deadline) {
				e = ETIMEDOUT;
				break;
			}
			fold_deadline(&timeout, deadline, now);
		}
		struct pollfd pf[2] = {{fd, POLLOUT, 0},
				       {cancel_fd, POLLIN, 0}};
		int got = poll(pf, cancel_fd >= 0 ? 2 : 1, timeout);
		if (got > 0 && cancel_fd >= 0 && pf[1].revents) {
			e = ECANCELED;
			break;
		}
	}
	if (e)
		ret = -1;
	if (masked) {
		sigpending(&pending);
		if (!was_pending && sigismember(&pending, SIGPIPE)) {
			struct timespec zero = {0, 0};
			sigtimedwait(&pipe_set, NULL, &zero);
		}
		pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	}
	errno = e;
	return ret;
}

pid_t spawn_pid(const struct spawn_proc *p)
{
	return p->pid;
}

int spawn_fd(const struct spawn_proc *p)
{
	return p->pidfd;
}

int spawn_alive(struct spawn_proc *p, int *status)
{
	look(p, WNOHANG);
	if (status)
		*status = p->dead ? p->status : 0;
	return !p->dead;
}

int spawn_group_alive(struct spawn_proc *p)
{
	look(p, WNOHANG);
	if (p->stopped || (p->dead && p->status < 0))
		return 0; /* the group id may belong to strangers */
	return !p->dead || group_alive(p->pid);
}

void spawn_status_text(struct strbuf *out, int status)
{
	if (status < 0) {
		strbuf_addstr(out, "ended (its exit status is unknown)");
	} else if (WIFEXITED(status)) {
		strbuf_addf(out, "exited with status %d", WEXITSTATUS(status));
	} else if (WIFSIGNALED(status)) {
		const char *name = sigabbrev_np(WTERMSIG(status));
		if (name)
			strbuf_addf(out, "was killed by SIG%s", name);
		else
			strbuf_addf(out, "was killed by signal %d",
				    WTERMSIG(status));
	} else {
		strbuf_addf(out, "ended with wait status %d", status);
	}
}

void spawn_stop_begin(struct spawn_proc *p, int sig, int64_t grace_ms)
{
	if (p->stopping)
		return;
	p->stopping = 1;
	look(p, WNOHANG);
	/* the leader, alive or a zombie, pins the group id (unless someone
	 * else reaped it: then the id may belong to strangers by now) */
	if (p->status >= 0 || !p->dead)
		kill(-p->pid, sig);
	p->stop_deadline = now_ms() + (sig == SIGKILL ? 0 : (double)grace_ms);
}

/* Sleeps until the leader exits or `ms` pass. */
static void wait_exit(struct spawn_proc *p, double ms)
{
	int t = ms > 1e9 ? 1000000000 : (int)ms + 1;
	if (p->pidfd >= 0) {
		struct pollfd pf = {p->pidfd, POLLIN, 0};
		poll(&pf, 1, t);
		return;
	}
	struct timespec ts = {0, 5000000};
	if (t < 5)
		ts.tv_nsec = (long)t * 1000000L;
	nanosleep(&ts, NULL);
}

void spawn_stop_end(struct spawn_proc *p)
{
	if (p->stopped)
		return;
	if (!p->stopping)
		spawn_stop_begin(p, SIGKILL, 0);
	/* the grace: until the whole group is gone, or the deadline */
	for (;;) {
		look(p, WNOHANG);
		double left = p->stop_deadline - now_ms();
		if (left <= 0)
			break;
		if (!p->dead) {
			wait_exit(p, left);
			continue;
		}
		if (p->status < 0 || !group_alive(p->pid))
			break;
		struct timespec ts = {0, left < 10 ? (long)left * 1000000L
						   : 10000000L};
		nanosleep(&ts, NULL);
	}
	if (p->status >= 0 || !p->dead) {
		kill(-p->pid, SIGKILL);
		look(p, 0);
		/* reaps the leader and the members that are our children */
		wait_group_gone(p->pid);
		while (waitpid(p->pid, NULL, WNOHANG) < 0 && errno == EINTR)
			;
	}
	p->stopped = 1;
	close_fd(&p->pidfd);
}

void spawn_stop(struct spawn_proc *p, int sig, int64_t grace_ms)
{
	spawn_stop_begin(p, sig, grace_ms);
	spawn_stop_end(p);
}

void spawn_proc_free(struct spawn_proc *p)
{
	if (!p)
		return;
	spawn_stop_end(p);
	close_fd(&p->pidfd);
	free(p);
}

void spawn_proc_release(struct spawn_proc *p)
{
	if (!p)
		return;
	close_fd(&p->pidfd);
	free(p);
}

/* ---- strays ---- */

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

/* State, parent, group and session of a process from /proc/PID/stat; -1
 * if gone. */
static int proc_state(long pid, char *state, long *ppid, long *pgrp, long *sid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	return p && sscanf(p + 1, " %c %ld %ld %ld", state, ppid, pgrp, sid) ==
				       4
		       ? 0
		       : -1;
}

/*
 * A dead child of ours that no caller of this module waits for: a zombie
 * that leads no process group (an orphan reparented to us), or one that
 * leads a session (a daemon's first child, the reaper).  Our own
 * children lead their groups and cannot lead a session: setsid() fails
 * for a group leader.
 */
static int is_stray(long pid, long self)
{
	char state;
	long ppid, pgrp, sid;
	return proc_state(pid, &state, &ppid, &pgrp, &sid) == 0 &&
	       state == 'Z' && ppid == self && (pgrp != pid || sid == pid);
}

static void reap_stray(long pid, long self)
{
	if (!is_stray(pid, self))
		return;
	/* the pidfd pins this very process; checked again through it, the
	 * pid cannot have passed to another child in between */
	int fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	if (fd < 0)
		return;
	if (is_stray(pid, self)) {
		siginfo_t si;
		memset(&si, 0, sizeof(si));
		while (waitid((idtype_t)P_PIDFD, (id_t)fd, &si,
			      WEXITED | WNOHANG) < 0 &&
		       errno == EINTR)
			;
	}
	close(fd);
}

void spawn_reap_strays(void)
{
	long self = (long)getpid();
	char path[320];
	DIR *tasks = opendir("/proc/self/task");
	if (!tasks)
		return;
	/* the children of every thread: where orphans are reparented */
	for (struct dirent *t; (t = readdir(tasks));) {
		if (t->d_name[0] < '0' || t->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/children",
			 t->d_name);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		long pid;
		while (fscanf(f, "%ld", &pid) == 1)
			reap_stray(pid, self);
		fclose(f);
	}
	closedir(tasks);
}
