/*
 * Reporters: streaming callbacks (console, live status) and end-of-run
 * writers (JUnit, run.json, metrics.prom, coverage.json, report.html) in
 * one table.
 *
 * The runner owns the run model below and fills it; reporters only read
 * it.  Every string in it is already masked (mask.h); writers still send
 * their output through the masker (mask_write_file) as a second guard.
 * Callbacks are called from one thread at a time (the runner serialises
 * them), so reporters need no locking.
 */
#ifndef ITEST_REPORTER_H
#define ITEST_REPORTER_H

#include "driver.h"
#include "mask.h"
#include "coverage.h"
#include "gcov.h"
#include "metrics.h"

/* An earlier failed attempt of a test that was retried. */
struct rep_attempt {
	enum itest_status status; /* IT_FAIL or IT_ERROR */
	char *message;		  /* one line */
	char *detail;		  /* full text */
	char *log;		  /* that attempt's step log */
	double time_s;
};

struct rep_case {
	const char *classname; /* the suite name */
	const char *name;      /* the test name, with its `each` row */
	const char *file;      /* suite file, and line of the test */
	int line;
	enum itest_status status;
	int flaky;     /* passed after failed attempts */
	int attempts;  /* how many times it ran */
	double time_s; /* of the last attempt */
	char *message; /* FAIL/ERROR: first line of the reason; SKIP: why */
	char *detail;  /* FAIL/ERROR: the full failure text */
	char *log;     /* the step log (JUnit system-out) */
	struct rep_attempt *failed; /* earlier failed attempts */
	size_t nfailed;
	char **attachments; /* paths of saved files (screenshots, ...) */
	size_t nattach;
};

/* One suite in one stage: a JUnit <testsuite>. */
struct rep_stage {
	const char *suite;    /* suite name */
	const char *file;     /* suite file */
	int number, nstages;  /* stage K of N (1-based) */
	const char *strategy; /* big-bang, ... */
	const char *stream;   /* "main", "top", "bottom" */
	int layer;	      /* -1 when not meaningful */
	const char *real;     /* comma-separated component names */
	const char *stubbed;
	struct rep_case *cases; /* in file order */
	size_t ncases;
	int64_t start_wall_ms; /* when the stage began (UTC ms) */
	double time_s;
};

struct rep_counts {
	size_t total, passed, failed, errors, skipped, flaky;
};

struct rep_run {
	const char *run_id;
	const char *run_dir;
	int64_t start_wall_ms;
	double time_s;
	int interrupted;
	struct rep_stage *stages;
	size_t nstages;
	struct rep_counts counts;
	const struct metrics *metrics;	     /* per component and driver */
	const struct coverage_map *coverage; /* integration coverage */
	const struct gcov_summary *code; /* gcov-built components, or NULL */
};

struct rep_opts {
	const struct masker *mask;
	FILE *console; /* stdout normally */
	int color;     /* resolved from --color, NO_COLOR and isatty */
	int tty;       /* console is a terminal: live status line */
	int verbose, quiet;
	const char *junit_path; /* --junit FILE, or NULL */
	int junit_rich;		/* --junit-flavor rich */
};

struct reporter {
	const char *name;
	void *(*open)(const struct rep_opts *o);
	/* A test finished; called in file order within a stage. */
	void (*case_done)(void *st, const struct rep_stage *stage,
			  const struct rep_case *c);
	/* The live status text changed (NULL: nothing running). */
	void (*status)(void *st, const char *text);
	/* The run ended: write files, print the summary. */
	int (*finish)(void *st, const struct rep_run *run,
		      struct itest_err *err);
	void (*close)(void *st);
};

extern const struct reporter console_reporter;
extern const struct reporter junit_reporter;
extern const struct reporter runjson_reporter;
extern const struct reporter prom_reporter;
extern const struct reporter coverage_reporter;
extern const struct reporter html_reporter;

/* Counts the cases of a stage (or of a run, summing its stages). */
void rep_count_stage(const struct rep_stage *s, struct rep_counts *c);

#endif
