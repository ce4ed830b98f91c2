/*
 * Integration coverage (SPEC 7 "Coverage"): which components of the
 * system under test a passing test covered while they ran for real, and
 * which interfaces -- `needs` edges -- a passing test exercised with both
 * ends real.  Components are counted by name across suites (the shop suites
 * include one system.yml, so `orders` is one component); components that
 * are always stubs (no `run`, no `deploy`) are third parties, not part of
 * the system, and are left out.  A component with an `openapi:` document
 * adds its operations, each hit or missed by the HTTP steps that reached
 * the component.
 */
#ifndef ITEST_COVERAGE_H
#define ITEST_COVERAGE_H

#include "suite.h"

struct coverage_map;

struct coverage_map *coverage_new(void);
void coverage_free(struct coverage_map *c);

/* Adds a suite's components and needs edges (once per suite). */
void coverage_add_suite(struct coverage_map *c, const struct suite *su);
/*
 * Adds a test of a stage: `real` flags the suite's components that ran
 * for real there (the plan's pstage->real).  A component counts when the
 * test covers it and it was real; an interface a -> b counts when the
 * test covers a and both were real, since a's requests to b then reached
 * the real b.  A passing test (a flaky pass too) covers them; a skipped
 * one is not counted at all.
 */
void coverage_add_test(struct coverage_map *c, const struct suite *su,
		       const struct test *t, const unsigned char *real,
		       enum itest_status status);

/* `requests` more requests (HTTP steps) matched the operation `op`
 * ("GET /orders/{id}") of the component's OpenAPI document. */
void coverage_add_api_hit(struct coverage_map *c, const char *component,
			  const char *op, size_t requests);
/* Operations of the components' OpenAPI documents: hit and in all. */
void coverage_api_counts(const struct coverage_map *c, size_t *hit,
			 size_t *total);

/* Counts for the console: covered / total components and interfaces. */
void coverage_counts(const struct coverage_map *c, size_t *comp_cov,
		     size_t *comp_total, size_t *if_cov, size_t *if_total);
/* {"summary": {...}, "components": [...], "interfaces": [...],
 *  "operations": [...]} */
struct ivalue *coverage_json(const struct coverage_map *c);

#endif
