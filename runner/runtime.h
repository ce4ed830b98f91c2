/*
 * The runtime folder of this user (SPEC 4): $XDG_RUNTIME_DIR/itest, or
 * /tmp/itest-$UID, mode 0700.  It holds
 *
 *   ports/N.lock           a port reserved by a deployment (deploy.c)
 *   locks/NAME.lock        a suite's `lock: NAME`; the holder's run id
 *   runs/KEY.json          the registry entry of a live (or kept) run,
 *                          KEY = RUN_ID.TOKEN (runs may share a run id):
 *                          {run_id, key, pid, starttime, boot_id, start,
 *                          run_dir, cwd, kept}; its itest holds a shared
 *                          flock on it for its whole life, so a lock that
 *                          can be taken means that itest is gone
 *   runs/KEY/pgids         "PGID SIGNAL GRACE_MS START" per component
 *                          started (START: its leader's start time)
 *   runs/KEY/down-NAME.json  an engine's `down` command, until it ran
 *
 * Every process of a run carries ITEST_RUN_ID=RUN_ID and ITEST_RUN_KEY=KEY
 * in its environment.
 *
 * The reaper and `itest gc` (reaper.c) read the registry.
 */
#ifndef ITEST_RUNTIME_H
#define ITEST_RUNTIME_H

#include <sys/types.h>

#include "value.h"

/* The runtime folder (created private when missing) into `out`. */
int runtime_dir(struct strbuf *out, struct itest_err *err);
/* A folder of it, e.g. "ports" (created private when missing). */
int runtime_subdir(struct strbuf *out, const char *name, struct itest_err *err);

/* What /proc/PID/stat says about a process. */
struct proc_stat {
	char state; /* 'R', 'S', 'Z', ... */
	pid_t ppid, pgrp;
	unsigned long long start; /* clock ticks after boot */
};
/* 0, or -1 when the process does not exist (any more). */
int runtime_proc_stat(pid_t pid, struct proc_stat *st);
/* Whether the environment of `pid` holds each entry of `want`
 * ("NAME=VALUE", NULL-terminated) as a whole; 0 when it cannot be
 * read. */
int runtime_proc_has_env(pid_t pid, const char *const *want);

/* ---- this run's entry (itest's side) ---- */

struct runtime_reg;

/*
 * Writes the entry of a starting run (atomically, already locked) under a
 * new key, and its folder.  NULL with err on failure.
 */
struct runtime_reg *runtime_register(const char *run_id, const char *run_dir,
				     struct itest_err *err);
/* Its key in the registry: RUN_ID.TOKEN (borrowed). */
const char *runtime_reg_key(const struct runtime_reg *r);
/* The start time of this itest, as runtime_proc_stat() gives it. */
unsigned long long runtime_reg_start(const struct runtime_reg *r);
/* Marks the entry kept (--keep): plain `itest gc` leaves it alone. */
int runtime_mark_kept(struct runtime_reg *r, struct itest_err *err);
/* Removes the entry (the normal end) and frees `r`.  Accepts NULL. */
void runtime_unregister(struct runtime_reg *r);
/* Frees `r`, leaving the entry in place (--keep).  Accepts NULL. */
void runtime_reg_free(struct runtime_reg *r);

/*
 * Notes a component's process group in the entry of run `key`: the
 * reaper and `itest gc` signal it with `sig`, then SIGKILL after
 * `grace_ms` (at most 5 s).  Does nothing when `key` is NULL or not
 * registered (unit tests).
 */
void runtime_add_pgid(const char *key, pid_t pgid, int sig, int64_t grace_ms);
/*
 * Notes an engine's `down` command ({component, text, argv, env, cwd,
 * log}) under `name`, to be run by the reaper or `itest gc` unless
 * runtime_del_down() says that it ran.  Does nothing when `key` is NULL
 * or not registered.
 */
void runtime_add_down(const char *key, const char *name,
		      const struct ivalue *cmd);
void runtime_del_down(const char *key, const char *name);

/* ---- reading the registry (the reaper, `itest gc`) ---- */

struct runtime_entry {
	char *run_id;
	char *key;
	struct ivalue *doc; /* the entry's JSON */
	pid_t pid;
	unsigned long long start;
	int kept;
	int fd; /* the entry, locked exclusively */
};

/* The keys of the registry, sorted (caller frees each and the array). */
int runtime_list(char ***ids, size_t *n, struct itest_err *err);

/*
 * Opens the entry of key and takes its exclusive lock: at once (`wait` 0)
 * or waiting for it.  0: got it (release with runtime_entry_close() or
 * runtime_entry_remove()); 1: busy (its itest, its reaper or another
 * `itest gc` holds it); -1: no such run (err says so) or another error.
 */
int runtime_entry_open(const char *run_id, int wait, struct runtime_entry *e,
		       struct itest_err *err);
/* Whether its itest process is still alive (same pid, same start). */
int runtime_entry_itest_alive(const struct runtime_entry *e);
/* Whether the entry was written since the machine last booted. */
int runtime_entry_this_boot(const struct runtime_entry *e);

struct runtime_group {
	pid_t pgid;
	int sig;
	int64_t grace_ms;
	unsigned long long start; /* its leader's start time; 0: unknown */
};
/* The groups noted (caller frees *v). */
void runtime_entry_groups(const struct runtime_entry *e,
			  struct runtime_group **v, size_t *n);
/* The `down` commands noted, as an array of objects, each with "key"
 * added (caller owns it). */
struct ivalue *runtime_entry_downs(const struct runtime_entry *e);

/* Removes the entry and everything under runs/KEY/, then closes. */
void runtime_entry_remove(struct runtime_entry *e);
/* Closes without removing. */
void runtime_entry_close(struct runtime_entry *e);

/* ---- locks (`lock: NAME`) ---- */

/*
 * Takes the machine-wide lock NAME (locks/NAME.lock) for run `run_id`.
 * While another run holds it, prints once on stderr
 *   itest: waiting for lock 'NAME' (held by run RUN_ID)
 * and waits; gives up when `cancel_fd` (may be -1) turns readable.
 * Returns the fd that holds the lock (close it to release), or -1 with
 * err.
 */
int runtime_lock(const char *name, const char *run_id, int cancel_fd,
		 struct itest_err *err);

#endif
