/*
 * Ending what a run left behind (SPEC 4, 8): the reaper, a small process
 * that itest starts before anything is deployed and that holds the read
 * end of a close-on-exec pipe from it, and `itest gc`.  Both do the same
 * teardown from the registry of live runs (runtime.h): the stop signal
 * to each component's process group, the grace (5 s at most), SIGKILL;
 * the engines' `down` commands; then SIGKILL to every process whose
 * environment carries ITEST_RUN_ID=RUN_ID (and the run's ITEST_RUN_KEY)
 * and that started after the run began.
 */
#ifndef ITEST_REAPER_H
#define ITEST_REAPER_H

#include "err.h"

struct reaper;

/*
 * Starts `itest __reaper KEY 3` in a session of its own for the run
 * registered under KEY (runtime.h).  NULL with err on failure.
 */
struct reaper *reaper_start(const char *key, struct itest_err *err);

/*
 * Tells the reaper how the run ended and waits for it to exit: "bye"
 * (everything was torn down) or "keep" (--keep: leave it all).  Frees
 * `r`; accepts NULL.
 */
void reaper_end(struct reaper *r, const char *word);

/* The hidden command `itest __reaper KEY FD` (argv[0] is
 * "__reaper"). */
int reaper_main(int argc, char **argv);

/* `itest gc [--run RUN_ID]` (argv[0] is "gc"): ends the leftovers of
 * runs whose itest died, or of one run (a kept one, say). */
int reaper_gc_main(int argc, char **argv);

#endif
