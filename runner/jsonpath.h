/*
 * JSONPath as RFC 9535 defines it, over the value tree of value.h:
 * compiled once, evaluated many times, safe to share between threads once
 * compiled.
 */
#ifndef ITEST_JSONPATH_H
#define ITEST_JSONPATH_H

#include "value.h"

struct jsonpath;

/* A node list: pointers into the queried tree (borrowed). */
struct jp_nodes {
	const struct ivalue **v;
	size_t n, alloc;
};

/*
 * Compiles `expr`.  On error returns NULL and sets err (location NULL;
 * the message names the offset: "invalid JSONPath '$.a[': ... at offset
 * 4"), for the caller to place at its YAML node.
 */
struct jsonpath *jsonpath_compile(const char *expr, struct itest_err *err);
void jsonpath_free(struct jsonpath *p);

/* A singular query (RFC 9535 2.3.5.1): at most one node, and a query
 * that matches nothing means "missing". */
int jsonpath_is_singular(const struct jsonpath *p);

/* Appends the nodes `p` selects in `root` to `out`, in RFC order. */
void jsonpath_eval(const struct jsonpath *p, const struct ivalue *root,
		   struct jp_nodes *out);
void jp_nodes_release(struct jp_nodes *nl);

#endif
