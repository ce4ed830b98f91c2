/*
 * OpenAPI documents of components (SPEC 4 `openapi:`, SPEC 7 "Coverage"):
 * the operations a document declares -- each path under `paths` with
 * each HTTP method under it -- and which of them a request matches, so
 * that coverage can say which operations the tests hit and which they
 * missed.  OpenAPI 3 and Swagger 2 alike (only `paths` is read), in YAML
 * or JSON.
 */
#ifndef ITEST_OPENAPI_H
#define ITEST_OPENAPI_H

#include "yaml.h"

struct openapi;

/*
 * Loads a document; `src` names the file (its parent is the `openapi:`
 * node, for the include chain).  NULL with err at the problem: a file
 * that cannot be read or parsed, no `paths` map, a path that does not
 * start with '/'.  A document with no operation is allowed.
 */
struct openapi *openapi_load(const struct itest_src *src,
			     struct itest_err *err);
/* The same from text in memory (`src` may be NULL). */
struct openapi *openapi_parse(const char *text, size_t len,
			      const struct itest_src *src,
			      struct itest_err *err);
void openapi_free(struct openapi *a);

size_t openapi_count(const struct openapi *a);
/* "GET /orders/{id}" */
const char *openapi_op(const struct openapi *a, size_t i);
/*
 * The operation a request matches: `method` (any case) and the path of
 * its URL (a query or fragment is ignored); a `{name}` segment matches
 * any one non-empty segment, and a literal segment wins over a template
 * where both match.  The index, or -1.
 */
long openapi_match(const struct openapi *a, const char *method,
		   const char *path);

#endif
