/*
 * JSON Schema (draft 2020-12) validation over the value tree: the
 * `schema:` expectation of SPEC 6.1.  A schema is compiled once at load
 * time; a keyword itest does not implement is a load error, never
 * silently ignored.  A compiled schema is read-only: safe to share
 * between threads.
 */
#ifndef ITEST_SCHEMA_H
#define ITEST_SCHEMA_H

#include "value.h"
#include "yaml.h"

struct jschema;

/*
 * Loads a schema file (JSON or YAML) and every file its `$ref`s reach
 * (relative to the referring file).  Errors name the file, line and
 * column of the offending keyword.  `sl` records the files read.
 */
struct jschema *schema_load(struct srclist *sl, const char *path,
			    struct itest_err *err);
/* Compiles a schema given as a value (inline in a suite); `base_dir`
 * resolves relative `$ref`s to files. */
struct jschema *schema_compile(struct srclist *sl, const struct ivalue *doc,
			       const char *base_dir, struct itest_err *err);
void schema_free(struct jschema *s);

/*
 * Validates an instance.  Returns 1 when valid; 0 when not, appending one
 * line per error to `why`: the instance path, the keyword's schema path,
 * and what was expected, e.g.
 *   $.items[0].qty: minimum 1 (at #/properties/items/items/properties/qty), got
 * 0 Returns -1 on an internal limit (recursion too deep), said in `why`.
 */
int schema_validate(const struct jschema *s, const struct ivalue *instance,
		    struct strbuf *why);

#endif
