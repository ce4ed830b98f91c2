/*
 * The one module that starts child processes.  Every child runs in a
 * process group of its own, so a timeout or an interruption ends the whole
 * group (the command and everything it started).  Captured output is
 * capped in memory.  Safe to call from several threads at once: nothing
 * here uses globals or SIGCHLD.
 */
#ifndef ITEST_SPAWN_H
#define ITEST_SPAWN_H

#include "err.h"

struct spawn_opts {
	const char *const *argv;  /* argv[0] is looked up in PATH */
	const char *const *env;   /* "NAME=VALUE" set over the inherited
				     environment; NULL-terminated; may be NULL */
	const char *cwd;          /* NULL: itest's own */
	const char *stdin_data;   /* NULL: stdin is /dev/null */
	size_t stdin_len;
	size_t out_cap;           /* cap for stdout and stderr each; 0: 1 MiB */
	int64_t timeout_ms;       /* 0: none */
	int cancel_fd;            /* -1, or an fd that turns readable to cancel */
	int64_t kill_grace_ms;    /* after timeout/cancel: TERM, then KILL after
				     this (0: KILL at once) */
};

struct spawn_result {
	int exited;         /* 1: exited normally; `status` is the exit code */
	int status;
	int signal;         /* the signal that ended it, when !exited */
	int timed_out;      /* ended by us because of timeout_ms */
	int cancelled;      /* ended by us because cancel_fd turned readable */
	struct strbuf out;  /* stdout (capped; out.dropped counts the rest) */
	struct strbuf err;  /* stderr (capped) */
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

#endif
