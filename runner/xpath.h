/*
 * XPath 1.0 over XML and HTML bodies (libxml2): the `xpath:` expectation
 * and capture of SPEC 6.1.
 */
#ifndef ITEST_XPATH_H
#define ITEST_XPATH_H

#include "value.h"

struct xdoc;

/* Parses a body: as HTML (libxml2's forgiving HTML parser) when `html`,
 * else as XML.  NULL with a reason in `why` when it cannot be parsed. */
struct xdoc *xdoc_parse(const char *body, size_t len, int html,
			struct strbuf *why);
void xdoc_free(struct xdoc *d);

/*
 * Evaluates `expr` with the namespace prefixes of `namespaces` (an object
 * prefix -> URI, or NULL).  Result values: a node-set of one node gives
 * that node's text (string-value), of several nodes an array of their
 * texts, of none NULL with `why` empty (missing); a number gives a
 * number (integers exact), a boolean a boolean, a string a string.  On a
 * bad expression returns NULL with the reason in `why`.
 */
struct ivalue *xpath_eval(struct xdoc *d, const char *expr,
			  const struct ivalue *namespaces, struct strbuf *why);

/* Compiles an expression to check it at load time; 0 or -1 (why set). */
int xpath_check(const char *expr, struct strbuf *why);

/* Does a Content-Type name an HTML body? */
int xpath_is_html(const char *content_type);

#endif
