/*
 * The one module that starts child processes: commands run to their end
 * (spawn_run), background processes (spawn_start) and co-processes that
 * are talked to through pipes (spawn_coproc_start).  Every child runs
 * in a process group of its own, so a timeout, an interruption or a stop
 * ends the whole group (the command and everything it started); whoever
 * else starts a child (the reaper) must make it lead a group or a session
 * too, for spawn_reap_strays().  Captured
 * output is capped in memory.  Safe to call from several threads at once:
 * nothing here uses globals or SIGCHLD.
 */
#ifndef ITEST_SPAWN_H
#define ITEST_SPAWN_H

#include <sys/types.h>

#include "err.h"

struct spawn_opts {
	const char *const *argv; /* argv[0] is looked up in PATH */
	const char *const *env;	 /* "NAME=VALUE" set over the inherited
				    environment; NULL-terminated; may be NULL */
	const char *cwd;	 /* NULL: itest's own */
	const char *stdin_data;	 /* NULL: stdin is /dev/null */
	size_t stdin_len;
	size_t out_cap;	       /* cap for stdout and stderr each; 0: 1 MiB */
	int64_t timeout_ms;    /* 0: none */
	int cancel_fd;	       /* -1, or an fd that turns readable to cancel */
	int64_t kill_grace_ms; /* after timeout/cancel: TERM, then KILL after
				  this (0: KILL at once) */
};

struct spawn_result {
	int exited; /* 1: exited normally; `status` is the exit code */
	int status;
	int signal;	   /* the signal that ended it, when !exited */
	int timed_out;	   /* ended by us because of timeout_ms */
	int cancelled;	   /* ended by us because cancel_fd turned readable */
	struct strbuf out; /* stdout (capped; out.dropped counts the rest) */
	struct strbuf err; /* stderr (capped) */
	double elapsed_ms;
};

void spawn_result_init(struct spawn_result *r);
void spawn_result_release(struct spawn_result *r);

/*
 * Runs a command to its end (or to its timeout or cancellation), feeding
 * stdin and collecting stdout and stderr.  Returns 0 when the command ran
 * (whatever its exit status), -1 when it could not be started (err says
 * why, e.g. "cannot run 'foo': No such file or directory").
 */
int spawn_run(const struct spawn_opts *o, struct spawn_result *r,
	      struct itest_err *err);

/*
 * Background processes (the components of a deployment).  A process runs
 * in a group of its own with stdin from /dev/null and stdout and stderr
 * appended to a log file.  Its leader is never reaped behind the caller's
 * back: a leader that exits stays a zombie, pinning the group id, until
 * spawn_stop_end() or spawn_proc_free(), so signalling the group is
 * always safe.  One spawn_proc is used by one thread at a time; different
 * ones may be used from different threads.
 */
struct spawn_proc;

/*
 * Starts o->argv (looked up as spawn_run does, with o->env over the
 * inherited environment and in o->cwd); its output is appended to
 * `log_path` (created with mode 0600 when missing).  The other fields of
 * `o` are not used.  0 with *out set (caller owns it: spawn_proc_free),
 * or -1 with err.
 */
int spawn_start(const struct spawn_opts *o, const char *log_path,
		struct spawn_proc **out, struct itest_err *err);

/*
 * A long-lived child that is talked to through pipes (an external
 * driver): starts o->argv as spawn_start() does, in a group of its own,
 * but with its stdin and stdout on pipes whose other ends are returned
 * in *in_fd and *out_fd (O_NONBLOCK and close-on-exec; the caller owns
 * and closes them: closing *in_fd is the child's end of input).  Its
 * stderr is appended to `log_path` (created with mode 0600 when
 * missing), or goes to /dev/null when that is NULL.  The other fields of
 * `o` are not used.  Everything else about *out is as for spawn_start():
 * spawn_fd(), spawn_alive(), the stop functions, spawn_proc_free().
 * 0, or -1 with err (and nothing to release).
 */
int spawn_coproc_start(const struct spawn_opts *o, const char *log_path,
		       struct spawn_proc **out, int *in_fd, int *out_fd,
		       struct itest_err *err);

/*
 * Writes all of `data` to a non-blocking pipe, waiting for room until
 * `deadline` (now_ms() time; 0: no limit) or until `cancel_fd` (or -1)
 * turns readable.  A reader that is gone is an EPIPE error, never a
 * SIGPIPE.  0, or -1 with errno: EPIPE, ETIMEDOUT, ECANCELED, ...
 */
int spawn_pipe_write(int fd, const char *data, size_t len, double deadline,
		     int cancel_fd);

/* The leader's pid, which is also the id of the process group. */
pid_t spawn_pid(const struct spawn_proc *p);

/* An fd that turns readable (poll POLLIN) once the leader has exited, or
 * -1 when the kernel has no pidfd: then poll spawn_alive() instead.
 * Owned by `p`. */
int spawn_fd(const struct spawn_proc *p);

/*
 * Is the leader still running?  Never blocks.  1: yes.  0: it has exited
 * (or it was stopped); *status (may be NULL) is then its wait(2) status,
 * for WIFEXITED() and WTERMSIG(), or -1 when unknown (it was reaped by
 * someone else).
 */
int spawn_alive(struct spawn_proc *p, int *status);

/* Is any process of its group alive (not a zombie), the leader or what
 * it left running in the background?  0 once stopped. */
int spawn_group_alive(struct spawn_proc *p);

/* Appends "exited with status 3", "was killed by SIGKILL" for a status
 * from spawn_alive(). */
void spawn_status_text(struct strbuf *out, int status);

/*
 * Stopping, in two halves so that a caller can stop several processes at
 * once: spawn_stop_begin() sends `sig` to the whole group and starts the
 * grace period; spawn_stop_end() waits for the rest of the grace until
 * the leader and every other live process of its group are gone, sends
 * SIGKILL to the group, reaps the leader and the members that are its
 * children (itest as a child subreaper), and waits a little for the
 * stragglers to vanish.  Both do nothing when the process is already
 * stopped; spawn_stop_end() without a begin kills at once.
 */
void spawn_stop_begin(struct spawn_proc *p, int sig, int64_t grace_ms);
void spawn_stop_end(struct spawn_proc *p);
/* Both halves. */
void spawn_stop(struct spawn_proc *p, int sig, int64_t grace_ms);

/* Stops the group (SIGKILL at once) unless stopped already, then frees.
 * Accepts NULL. */
void spawn_proc_free(struct spawn_proc *p);

/* Frees without stopping: the process runs on (--keep).  Accepts NULL. */
void spawn_proc_release(struct spawn_proc *p);

/*
 * Reaps the zombies among this process's children that no caller waits
 * for: orphans that were reparented to itest as a child subreaper (the
 * background processes of finished commands, the first child of a
 * daemonizing component), recognised by leading no process group, or by
 * leading a session.  Every child this module starts leads its group and
 * cannot lead a session, so no status that spawn_run() or spawn_alive()
 * waits for is ever taken here.  Each zombie is reaped through a pidfd
 * after its state was checked, so a reused pid cannot be reaped by
 * mistake.  Safe from any thread.
 */
void spawn_reap_strays(void);

#endif
