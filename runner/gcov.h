/*
 * Code coverage of components built with gcov (SPEC 4 `coverage: gcov`,
 * SPEC 7 "Coverage"): such a component runs with GCOV_PREFIX set to
 * RUN_DIR/coverage/gcov/SUITE/COMPONENT, so each process writes its
 * .gcda files there when it exits (stopped by its stop signal, not
 * killed: a killed process writes nothing).  At the end of the run,
 * gcov_collect() puts each .gcno from the build beside its .gcda, asks
 * `gcov --json-format --stdout` for the line counts, adds them up per
 * source line over every process and suite, and writes
 * RUN_DIR/coverage/lcov.info and RUN_DIR/coverage/cobertura.xml.
 */
#ifndef ITEST_GCOV_H
#define ITEST_GCOV_H

#include "mask.h"
#include "strbuf.h"

struct gcov_summary {
	size_t files, lines, covered; /* executable lines, and those run */
	size_t gcda, missing_gcno;    /* data files read; ones without notes */
};

/*
 * Collects what the run's processes wrote.  0 (with *sum filled; nothing
 * is written when no .gcda was found) or -1 with err (gcov missing, a
 * file that cannot be written).  Problems with single files are counted
 * or appended to `notes`, one line each.
 */
int gcov_collect(const char *run_dir, const struct masker *mask,
		 struct gcov_summary *sum, struct strbuf *notes,
		 struct itest_err *err);

#endif
