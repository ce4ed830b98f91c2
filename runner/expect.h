/*
 * Expectations and captures (SPEC 6.1 and 8 "Predicates"): checked once
 * at load time against the parts a driver declares, then evaluated
 * against each step's result.
 *
 * Messages say the part or path, the expected and the actual value:
 *   json $.price: expected a value > 5, got 3
 *   exit: expected 0, got 2
 */
#ifndef ITEST_EXPECT_H
#define ITEST_EXPECT_H

#include "driver.h"

struct srclist;

/*
 * Load-time checks of a step's `expect` and `capture` maps (not rendered:
 * strings may still hold ${...} templates, which must then be accepted
 * wherever a template could render to something valid).  Unknown part
 * names (with a suggestion from `parts`), bad JSONPaths, bad regexes,
 * bad XPaths, bad durations and malformed predicates are errors at their
 * node.  `schema` (allowed for every driver) is compiled here, the file
 * path relative to `base_dir` (the suite's folder; NULL: the cwd); `sl`
 * records the schema files read, for error locations (NULL: errors are
 * reported at the `schema` node instead).  `xpath` and `namespaces` are
 * allowed when `parts` lists "xpath", and so is the capture
 * `{ xpath: X }`, which may carry `namespaces: { PREFIX: URI }` too.
 * The parts in `keyed` (NULL-ended, or NULL) take a map of key ->
 * predicate, as `headers` does.
 */
int expect_check_spec_at(const struct ivalue *expect, const char *const *parts,
			 const char *const *keyed, const char *base_dir,
			 struct srclist *sl, struct itest_err *err);
/* The same with the cwd as `base_dir` and no source list. */
int expect_check_spec(const struct ivalue *expect, const char *const *parts,
		      struct itest_err *err);
int capture_check_spec(const struct ivalue *capture, const char *const *parts,
		       struct itest_err *err);

/*
 * Evaluates every predicate of a rendered `expect` map.  IT_PASS, or
 * IT_FAIL with one line per failed predicate appended to `why`, or
 * IT_ERROR when something could not be evaluated (a bad pattern that
 * only a template revealed).  `base_dir` resolves a `schema` file path
 * as in expect_check_spec_at (the schema is compiled again on each call).
 */
enum itest_status expect_eval(const struct ivalue *expect,
			      struct itest_result *res, const char *base_dir,
			      struct strbuf *why);

/*
 * Evaluates a rendered `capture` map and sets each variable in `vars`
 * (an object).  A capture that matches nothing is IT_FAIL with a message.
 */
enum itest_status capture_eval(const struct ivalue *capture,
			       struct itest_result *res, struct ivalue *vars,
			       struct strbuf *why);

/*
 * One predicate: does `actual` (NULL: missing) satisfy `expected`?
 * `part` is the result part it applies to ("stdout", "json", ...), for
 * the part-specific rules of SPEC 8.  Returns 1 or 0; on 0 appends the
 * reason ("expected ..., got ...") to `why`.
 */
int predicate_eval(const struct ivalue *expected, const struct ivalue *actual,
		   const char *part, struct strbuf *why);

/* The predicate names, NULL-terminated. */
extern const char *const predicate_names[];

#endif
