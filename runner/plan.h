/*
 * The integration plan (SPEC 5): a strategy turns a suite into stages,
 * each deploying some components for real and stubs for others, with
 * every selected test placed in one stage.
 */
#ifndef ITEST_PLAN_H
#define ITEST_PLAN_H

#include "suite.h"

struct pstage {
	int number;	     /* 1-based, in run order */
	const char *stream;  /* "main", "top" or "bottom" */
	int layer;	     /* the stage's layer; -1: every layer */
	unsigned char *real; /* per component */
	unsigned char *stubbed;
	size_t *tests; /* indices into suite->tests, in file order */
	size_t ntests;
	int deps[2];	  /* stages whose failure blocks this one, or -1 */
	char *real_names; /* "a, b" (or "-") */
	char *stubbed_names;
	char *new_names; /* components that became real in this stage */
};

struct plan {
	const struct suite *suite;
	const char *strategy;
	int top;    /* highest layer, -1 without components */
	int target; /* sandwich target layer */
	struct pstage *stages;
	size_t n;
};

/*
 * Builds the plan of `s` under `strategy` for the tests marked in
 * `selected` (per test; NULL: all).  Errors (a stub the strategy needs
 * is missing, a bad target layer) are load errors at their node.
 */
int plan_build(const struct suite *s, const char *strategy,
	       const unsigned char *selected, struct plan *p,
	       struct itest_err *err);
void plan_release(struct plan *p);
/* The plan as `--plan` prints it. */
void plan_format(const struct plan *p, struct strbuf *out);

#endif
