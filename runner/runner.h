/*
 * The runner: turns loaded suites into stages, runs their tests on a pool
 * of worker threads (-j), and feeds the reporters.  It thinks in stages
 * from the start: today every suite is one big-bang stage; strategies add
 * more stages to the same machinery.
 */
#ifndef ITEST_RUNNER_H
#define ITEST_RUNNER_H

#include "cli.h"
#include "mask.h"
#include "suite.h"

/* Exit statuses of SPEC 1. */
#define EXIT_PASS	 0
#define EXIT_TESTFAIL	 1
#define EXIT_USAGE	 2
#define EXIT_DEPLOY	 3
#define EXIT_INTERRUPTED 130

/*
 * Runs the selected tests of `suites`.  Returns the exit status; when the
 * run was interrupted, *signo is the signal (the caller ends by it after
 * everything is written), else 0.
 */
int runner_run(const struct itest_opts *o, struct suite **suites, size_t n,
	       const struct ivalue *file_vars, struct masker *mask, int *signo);

#endif
