/*
 * XPath 1.0 over XML and HTML bodies with libxml2 (xpath.h): the parsing
 * of a body, the evaluation of one expression into a value of the value
 * tree, and the load-time compilation check.
 *
 * Bodies come from the system under test, so parsing is XXE-safe: no
 * entity substitution, no DTD loading, no network.  libxml2 reports
 * errors through per-thread handlers, which every entry point here
 * points at a buffer for its duration (and then restores), so nothing
 * is printed to stderr and parallel workers do not see each other's
 * errors.  libxml2 is loaded on first use (lazy.h): without it, XPath
 * fails with the reason and the rest of itest works.
 */
#include <limits.h>
#include <math.h>
#include <strings.h>

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "lazy.h"
#include "xpath.h"

/* XPath operations one evaluation may take (libxml2's opLimit). */
#define XPATH_OP_LIMIT 50000000UL

#if LIBXML_VERSION >= 21200
#define XERR_CONST const
#else
#define XERR_CONST
#endif

struct xdoc {
	const struct lazy_xml *x; /* libxml2's functions */
	xmlDocPtr doc;
};

/* The first error libxml2 reports while a `quiet` is in force. */
struct quiet {
	const struct lazy_xml *x;
	struct strbuf msg;
	int line, col;
	int offset; /* in an XPath expression; -1 unknown */
	xmlStructuredErrorFunc serr;
	void *sctx;
	xmlGenericErrorFunc gerr;
	void *gctx;
};

/* What an XPath error code (xmlXPathError) means; libxml2 2.9 leaves
 * the message of XPath errors empty. */
static const char *xpath_msg(int code)
{
	switch (code) {
	case XPATH_NUMBER_ERROR:
		return "invalid number";
	case XPATH_UNFINISHED_LITERAL_ERROR:
		return "unfinished string literal";
	case XPATH_START_LITERAL_ERROR:
		return "expected a string literal";
	case XPATH_VARIABLE_REF_ERROR:
		return "invalid variable reference";
	case XPATH_UNDEF_VARIABLE_ERROR:
		return "undefined variable";
	case XPATH_INVALID_PREDICATE_ERROR:
		return "invalid predicate";
	case XPATH_EXPR_ERROR:
		return "invalid expression";
	case XPATH_UNCLOSED_ERROR:
		return "missing closing bracket or parenthesis";
	case XPATH_UNKNOWN_FUNC_ERROR:
		return "unknown function";
	case XPATH_INVALID_OPERAND:
		return "invalid operand";
	case XPATH_INVALID_TYPE:
		return "argument of the wrong type";
	case XPATH_INVALID_ARITY:
		return "wrong number of arguments";
	case XPATH_UNDEF_PREFIX_ERROR:
		return "undefined namespace prefix (declare it in "
		       "'namespaces')";
	case XPATH_ENCODING_ERROR:
		return "invalid encoding";
	case XPATH_INVALID_CHAR_ERROR:
		return "invalid character";
	case XPATH_FORBID_VARIABLE_ERROR:
		return "variables are not allowed";
	case XPATH_OP_LIMIT_EXCEEDED:
		return "operation limit exceeded";
	case XPATH_RECURSION_LIMIT_EXCEEDED:
		return "recursion limit exceeded";
	case XPATH_MEMORY_ERROR:
		return "out of memory";
	default:
		return "evaluation failed";
	}
}

static void on_error(void *data, XERR_CONST xmlError *e)
{
	struct quiet *q = data;
	const char *m;
	if (!q || !e || q->msg.len)
		return;
	if (e->domain == XML_FROM_XPATH && !e->message) {
		strbuf_addstr(&q->msg,
			      xpath_msg(e->code - XML_XPATH_EXPRESSION_OK));
		q->offset = e->int1;
		return;
	}
	if (!(m = e->message))
		return;
	strbuf_addstr(&q->msg, m);
	strbuf_rtrim(&q->msg);
	/* libxml2's messages start with a capital: ours do not */
	if (q->msg.len > 1 && q->msg.buf[0] >= 'A' && q->msg.buf[0] <= 'Z' &&
	    !(q->msg.buf[1] >= 'A' && q->msg.buf[1] <= 'Z'))
		q->msg.buf[0] = (char)(q->msg.buf[0] - 'A' + 'a');
	q->line = e->line;
	q->col = e->int2;
}

ITEST_PRINTF(2, 3) static void on_generic(void *data, const char *fmt, ...)
{
	(void)data;
	(void)fmt;
}

/* Loads libxml2 and points this thread's error handlers at `q`; -1
 * (why set) when libxml2 cannot be loaded. */
static int quiet_begin(struct quiet *q, struct strbuf *why)
{
	const char *e;
	const struct lazy_xml *x = lazy_xml_load(&e);
	if (!x) {
		strbuf_addf(why, "XPath needs libxml2 (libxml2): %s", e);
		return -1;
	}
	q->x = x;
	strbuf_init(&q->msg, 0);
	q->line = q->col = 0;
	q->offset = -1;
	/* what the macros xmlStructuredError & co. read */
	q->serr = *x->__xmlStructuredError();
	q->sctx = *x->__xmlStructuredErrorContext();
	q->gerr = *x->__xmlGenericError();
	q->gctx = *x->__xmlGenericErrorContext();
	x->xmlSetStructuredErrorFunc(q, on_error);
	x->xmlSetGenericErrorFunc(NULL, on_generic);
	return 0;
}

static void quiet_end(struct quiet *q)
{
	q->x->xmlSetStructuredErrorFunc(q->sctx, q->serr);
	q->x->xmlSetGenericErrorFunc(q->gctx, q->gerr);
	strbuf_release(&q->msg);
}

struct xdoc *xdoc_parse(const char *body, size_t len, int html,
			struct strbuf *why)
{
	struct quiet q;
	xmlDocPtr doc;
	struct xdoc *d;
	if (len > INT_MAX) {
		strbuf_addstr(why, "the body is too large to parse");
		return NULL;
	}
	if (!len) {
		strbuf_addstr(why, "the body is empty");
		return NULL;
	}
	if (quiet_begin(&q, why))
		return NULL;
	if (html)
		doc = q.x->htmlReadMemory(
			body, (int)len, NULL, NULL,
			HTML_PARSE_RECOVER | HTML_PARSE_NOERROR |
				HTML_PARSE_NOWARNING | HTML_PARSE_NONET);
	else
		doc = q.x->xmlReadMemory(body, (int)len, NULL, NULL,
					 XML_PARSE_NONET | XML_PARSE_NOERROR |
						 XML_PARSE_NOWARNING);
	if (!doc) {
		strbuf_addstr(why, html ? "the body is not HTML"
					: "the body is not well-formed XML");
		if (q.msg.len && q.line)
			strbuf_addf(why, " (line %d: %s)", q.line, q.msg.buf);
		else if (q.msg.len)
			strbuf_addf(why, " (%s)", q.msg.buf);
	}
	quiet_end(&q);
	if (!doc)
		return NULL;
	d = xmalloc(sizeof(*d));
	d->x = q.x;
	d->doc = doc;
	return d;
}

void xdoc_free(struct xdoc *d)
{
	if (!d)
		return;
	d->x->xmlFreeDoc(d->doc);
	free(d);
}

static void xpath_error(struct strbuf *why, const char *expr,
			const struct quiet *q)
{
	strbuf_addf(why, "invalid XPath '%s'", expr);
	if (q->msg.len)
		strbuf_addf(why, ": %s", q->msg.buf);
	if (q->offset >= 0 && (size_t)q->offset <= strlen(expr))
		strbuf_addf(why, " at offset %d", q->offset);
}

static struct ivalue *node_text(const struct lazy_xml *x, xmlNodePtr node)
{
	xmlChar *s = x->xmlXPathCastNodeToString(node);
	struct ivalue *v = iv_str(s ? (const char *)s : "");
	(*x->xmlFree)(s);
	return v;
}

/* A number: an integer when it is one, XPath's text for NaN and the
 * infinities (JSON has no number for them). */
static struct ivalue *number(double d)
{
	if (isnan(d))
		return iv_str("NaN");
	if (isinf(d))
		return iv_str(d > 0 ? "Infinity" : "-Infinity");
	if (d == floor(d) && fabs(d) < 9223372036854775808.0)
		return iv_int((int64_t)d);
	return iv_double(d);
}

static int register_ns(const struct lazy_xml *x, xmlXPathContextPtr ctx,
		       const struct ivalue *ns, struct strbuf *why)
{
	if (!ns || ns->type == IV_NULL)
		return 0;
	if (ns->type != IV_OBJ) {
		strbuf_addstr(why, "'namespaces' needs a map of prefixes to "
				   "URIs");
		return -1;
	}
	for (size_t i = 0; i < ns->u.obj.n; i++) {
		const struct imember *m = &ns->u.obj.m[i];
		const char *uri = iv_strval(m->val);
		if (!uri) {
			strbuf_addf(why, "namespace '%s' needs a URI, got %s",
				    m->key, iv_kind(m->val));
			return -1;
		}
		if (!m->klen ||
		    x->xmlXPathRegisterNs(ctx, (const xmlChar *)m->key,
					  (const xmlChar *)uri) < 0) {
			strbuf_addf(why, "cannot register namespace '%s'",
				    m->key);
			return -1;
		}
	}
	return 0;
}

struct ivalue *xpath_eval(struct xdoc *d, const char *expr,
			  const struct ivalue *namespaces, struct strbuf *why)
{
	struct quiet q;
	xmlXPathContextPtr ctx;
	xmlXPathObjectPtr obj = NULL;
	struct ivalue *v = NULL;
	if (quiet_begin(&q, why))
		return NULL;
	ctx = q.x->xmlXPathNewContext(d->doc);
	if (!ctx) {
		strbuf_addstr(why, "out of memory for an XPath context");
		goto out;
	}
	ctx->error = on_error;
	ctx->userData = &q;
	ctx->opLimit = XPATH_OP_LIMIT;
	if (register_ns(q.x, ctx, namespaces, why))
		goto out;
	obj = q.x->xmlXPathEval((const xmlChar *)expr, ctx);
	if (!obj) {
		xpath_error(why, expr, &q);
		goto out;
	}
	switch (obj->type) {
	case XPATH_NODESET:
	case XPATH_XSLT_TREE: {
		xmlNodeSetPtr ns = obj->nodesetval;
		int n = ns ? ns->nodeNr : 0;
		if (n == 1) {
			v = node_text(q.x, ns->nodeTab[0]);
		} else if (n > 1) {
			v = iv_arr();
			for (int i = 0; i < n; i++)
				iv_push(v, node_text(q.x, ns->nodeTab[i]));
		}
		break;
	}
	case XPATH_BOOLEAN:
		v = iv_bool(obj->boolval);
		break;
	case XPATH_NUMBER:
		v = number(obj->floatval);
		break;
	case XPATH_STRING:
		v = iv_str(obj->stringval ? (const char *)obj->stringval : "");
		break;
	default:
		strbuf_addf(why,
			    "XPath '%s' gave a result of an unsupported "
			    "type",
			    expr);
		break;
	}
out:
	q.x->xmlXPathFreeObject(obj);
	q.x->xmlXPathFreeContext(ctx);
	quiet_end(&q);
	return v;
}

int xpath_check(const char *expr, struct strbuf *why)
{
	struct quiet q;
	xmlXPathContextPtr ctx;
	xmlXPathCompExprPtr comp = NULL;
	int ret = -1;
	if (quiet_begin(&q, why))
		return -1;
	ctx = q.x->xmlXPathNewContext(NULL);
	if (!ctx) {
		strbuf_addstr(why, "out of memory for an XPath context");
		goto out;
	}
	ctx->error = on_error;
	ctx->userData = &q;
	comp = q.x->xmlXPathCtxtCompile(ctx, (const xmlChar *)expr);
	if (comp)
		ret = 0;
	else
		xpath_error(why, expr, &q);
out:
	q.x->xmlXPathFreeCompExpr(comp);
	q.x->xmlXPathFreeContext(ctx);
	quiet_end(&q);
	return ret;
}

int xpath_is_html(const char *content_type)
{
	static const char html[] = "text/html";
	const char *p = content_type;
	size_t n = sizeof(html) - 1;
	if (!p)
		return 0;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncasecmp(p, html, n))
		return 0;
	p += n;
	return !*p || *p == ';' || *p == ' ' || *p == '\t';
}
