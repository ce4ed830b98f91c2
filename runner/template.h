/*
 * Variables and templates (SPEC 3 and 8 "Variables"): `${name}` in any
 * string, dotted access into object values (`${user.name}`, `${items.0}`),
 * `${env.X}` and `${env.X:-default}`, filters `|sh`, `|url`, `|json`,
 * `$${` for a literal `${`.  A string that is exactly one `${x}` (no
 * filter) keeps the value's JSON type.
 */
#ifndef ITEST_TEMPLATE_H
#define ITEST_TEMPLATE_H

#include "value.h"

/*
 * Where names resolve.  `layers` are objects searched in order (block
 * parameters, captures of this test, the `each` row, setup captures,
 * --var, --vars/--env file); then `suite_vars`, whose values are
 * templates themselves, rendered in this same scope on use; then the
 * built-ins (run.*, test.*, env.*).  Nothing here is owned.
 */
#define SCOPE_MAX_LAYERS 8

struct scope {
	const struct ivalue *layers[SCOPE_MAX_LAYERS];
	size_t nlayers;
	/* searched after these layers (a block's scope: its caller's) */
	const struct scope *parent;
	const struct ivalue *suite_vars;
	const struct ivalue *builtins; /* {"run": {...}, "test": {...}} */
	int depth;		       /* suite var recursion guard */
};

void scope_push(struct scope *sc, const struct ivalue *layer);

/*
 * Renders a value: a deep copy in which every string (and map key) has
 * its templates substituted.  On an undefined variable or a bad template
 * returns NULL with err at the string's location.
 */
struct ivalue *tpl_render(const struct ivalue *v, const struct scope *sc,
			  struct itest_err *err);

/*
 * Would tpl_render return an equal copy of the value whatever the scope
 * (no string holds a `$`, no map key a template)?  Then the value itself
 * can stand for its rendering.
 */
int tpl_is_static(const struct ivalue *v);

/* Renders one string to text (a lone `${x}` becomes its text form). */
int tpl_render_text(const char *s, size_t len, const struct scope *sc,
		    struct strbuf *out, const struct itest_loc *loc,
		    struct itest_err *err);

/* Does the string hold a template (`${` not escaped as `$${`)? */
int tpl_has_vars(const char *s, size_t len);
/* Is `v` a string that holds a template? */
int tpl_value_has_vars(const struct ivalue *v);

/*
 * Calls `fn` for each variable reference in the string `scalar`, with the
 * root name (the part before the first '.'), the full dotted name, and the
 * byte offset of its `${`.  Returns -1 with err at the exact place of a
 * syntax error, else the first non-zero value `fn` returned, else 0.
 */
typedef int (*tpl_ref_fn)(void *data, const char *root, size_t rootlen,
			  const char *name, size_t namelen, int has_default,
			  size_t offset);
int tpl_refs(const struct ivalue *scalar, tpl_ref_fn fn, void *data,
	     struct itest_err *err);

/* The source location of byte `offset` of a string read from YAML: exact
 * for plain and quoted one-line scalars (escapes counted) and for literal
 * blocks; the scalar's own location otherwise. */
struct itest_loc tpl_loc_at(const struct ivalue *scalar, size_t offset);

/* The truth of a rendered `skip-if`: non-empty and not "false"/"0". */
int tpl_truthy(const struct ivalue *v);

/* Appends `s` quoted for /bin/sh. */
void sh_quote(struct strbuf *out, const char *s, size_t len);

#endif
