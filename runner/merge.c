/*
 * `itest merge -o OUT.xml JUNIT...` (SPEC 1): one JUnit report from
 * several, e.g. the reports of the shards of a CI job (--shard I/N).
 * Every <testsuite> of every input (under a <testsuites> root, or the
 * root itself) is copied as it is, in the order of the arguments, under
 * one new <testsuites> whose counts and time are the sums of theirs.
 * The output is written atomically; an input that cannot be read or is
 * not JUnit is an error with its file:line (exit 2) and writes nothing.
 */
#include <errno.h>

#include "common.h"
#include "lazy.h"
#include "mask.h"
#include "merge.h"
#include "strbuf.h"

#if LIBXML_VERSION >= 21200
#define XERR_CONST const
#else
#define XERR_CONST
#endif

struct totals {
	long long tests, failures, errors;
	double time;
};

static void merge_usage(FILE *f)
{
	fputs("usage: itest merge -o OUT.xml JUNIT.xml...\n"
	      "merges JUnit reports (e.g. from CI shards) into one\n",
	      f);
}

ITEST_PRINTF(1, 2) static int merge_error(const char *fmt, ...)
{
	va_list ap;
	fputs("itest: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 2;
}

/* The libxml2 message of a parse failure, for "FILE:LINE: error: ...". */
struct parse_error {
	int line;
	char msg[256];
};

static void on_xml_error(void *data, XERR_CONST xmlError *e)
{
	struct parse_error *pe = data;
	if (pe->msg[0] || !e || !e->message)
		return;
	pe->line = e->line;
	snprintf(pe->msg, sizeof(pe->msg), "%s", e->message);
	size_t n = strlen(pe->msg);
	while (n && (pe->msg[n - 1] == '\n' || pe->msg[n - 1] == ' '))
		pe->msg[--n] = '\0';
}

static int is_element(const xmlNode *n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE &&
	       !strcmp((const char *)n->name, name);
}

/* A count attribute of a <testsuite> ("tests", ...); 0 when missing. */
static int add_count(const struct lazy_xml *x, const xmlNode *n,
		     const char *attr, long long *sum, const char *path)
{
	xmlChar *v = x->xmlGetProp(n, (const xmlChar *)attr);
	int ret = 0;
	if (v) {
		char *end;
		errno = 0;
		long long k = strtoll((const char *)v, &end, 10);
		if (errno || end == (char *)v || *end || k < 0)
			ret = merge_error(
				"%s:%d: error: <testsuite> has %s=\"%s\","
				" not a count",
				path, (int)n->line, attr, (char *)v);
		else
			*sum += k;
		(*x->xmlFree)(v);
	}
	return ret;
}

static int add_time(const struct lazy_xml *x, const xmlNode *n, double *sum,
		    const char *path)
{
	xmlChar *v = x->xmlGetProp(n, (const xmlChar *)"time");
	int ret = 0;
	if (v) {
		char *end;
		errno = 0;
		double t = strtod((const char *)v, &end);
		if (errno || end == (char *)v || *end || !(t >= 0))
			ret = merge_error("%s:%d: error: <testsuite> has "
					  "time=\"%s\", not seconds",
					  path, (int)n->line, (char *)v);
		else
			*sum += t;
		(*x->xmlFree)(v);
	}
	return ret;
}

/* Appends one <testsuite> as it is, and adds its counts. */
static int add_suite(const struct lazy_xml *x, xmlNode *n, xmlDoc *doc,
		     struct strbuf *out, struct totals *t, const char *path)
{
	if (add_count(x, n, "tests", &t->tests, path) ||
	    add_count(x, n, "failures", &t->failures, path) ||
	    add_count(x, n, "errors", &t->errors, path) ||
	    add_time(x, n, &t->time, path))
		return 2;
	xmlBuffer *b = x->xmlBufferCreate();
	if (!b || x->xmlNodeDump(b, doc, n, 1, 0) < 0) {
		if (b)
			x->xmlBufferFree(b);
		return merge_error("%s: error: cannot copy a <testsuite>",
				   path);
	}
	strbuf_addstr(out, "  ");
	strbuf_add(out, b->content, b->use);
	strbuf_addch(out, '\n');
	x->xmlBufferFree(b);
	return 0;
}

/* Reads one report and appends its test suites; 0 or 2. */
static int merge_one(const struct lazy_xml *x, const char *path,
		     struct strbuf *out, struct totals *t)
{
	struct strbuf text = STRBUF_INIT;
	struct parse_error pe = {0, ""};
	int ret = 2;
	FILE *f = fopen(path, "rb");
	if (!f)
		return merge_error("cannot read '%s': %s", path,
				   strerror(errno));
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		strbuf_add(&text, buf, n);
	int rerr = ferror(f);
	fclose(f);
	if (rerr) {
		strbuf_release(&text);
		return merge_error("cannot read '%s'", path);
	}
	x->xmlSetStructuredErrorFunc(&pe, on_xml_error);
	xmlDoc *doc = x->xmlReadMemory(text.buf, (int)text.len, path, NULL,
				       XML_PARSE_NONET);
	x->xmlSetStructuredErrorFunc(NULL, NULL);
	strbuf_release(&text);
	if (!doc) {
		merge_error("%s:%d: error: not XML: %s", path, pe.line,
			    pe.msg[0] ? pe.msg : "cannot parse");
		return 2;
	}
	xmlNode *root = doc->children;
	while (root && root->type != XML_ELEMENT_NODE)
		root = root->next;
	if (is_element(root, "testsuite")) {
		ret = add_suite(x, root, doc, out, t, path);
	} else if (is_element(root, "testsuites")) {
		ret = 0;
		for (xmlNode *c = root->children; c && !ret; c = c->next)
			if (is_element(c, "testsuite"))
				ret = add_suite(x, c, doc, out, t, path);
	} else {
		merge_error("%s:%d: error: not a JUnit report (the root is "
			    "<%s>, not <testsuites> or <testsuite>)",
			    path, root ? (int)root->line : 1,
			    root ? (const char *)root->name : "nothing");
	}
	x->xmlFreeDoc(doc);
	return ret;
}

int merge_main(int argc, char **argv)
{
	const char *outpath = NULL, *why = NULL;
	const char **in = xcalloc((size_t)argc + 1, sizeof(*in));
	size_t nin = 0;
	int ret = 2;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			merge_usage(stdout);
			free(in);
			return 0;
		}
		if (!strcmp(a, "-o") || !strcmp(a, "--out")) {
			if (i + 1 >= argc) {
				merge_error("%s needs a file", a);
				goto out;
			}
			outpath = argv[++i];
		} else if (!strncmp(a, "--out=", 6)) {
			outpath = a + 6;
		} else if (a[0] == '-' && a[1]) {
			merge_error("unknown option '%s' (see itest merge "
				    "--help)",
				    a);
			goto out;
		} else {
			in[nin++] = a;
		}
	}
	if (!outpath || !*outpath || !nin) {
		merge_error("'itest merge' needs -o OUT.xml and at least one "
			    "report (see itest merge --help)");
		goto out;
	}
	const struct lazy_xml *x = lazy_xml_load(&why);
	if (!x) {
		merge_error("'itest merge' needs libxml2 (libxml2): %s", why);
		goto out;
	}
	struct strbuf suites = STRBUF_INIT, doc = STRBUF_INIT;
	struct totals t = {0, 0, 0, 0};
	for (size_t i = 0; i < nin; i++)
		if (merge_one(x, in[i], &suites, &t)) {
			strbuf_release(&suites);
			goto out;
		}
	strbuf_addf(&doc,
		    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		    "<testsuites name=\"itest\" tests=\"%lld\" "
		    "failures=\"%lld\" errors=\"%lld\" time=\"%.3f\">\n",
		    t.tests, t.failures, t.errors, t.time);
	strbuf_add(&doc, suites.buf, suites.len);
	strbuf_addstr(&doc, "</testsuites>\n");
	strbuf_release(&suites);
	struct itest_err err = ITEST_ERR_INIT;
	if (mask_write_file(NULL, outpath, &doc, &err) < 0) {
		merge_error("%s", err.msg);
	} else {
		printf("merged %zu %s (%lld tests, %lld failures, %lld "
		       "errors) into %s\n",
		       nin, nin == 1 ? "report" : "reports", t.tests,
		       t.failures, t.errors, outpath);
		ret = 0;
	}
	strbuf_release(&doc);
out:
	free(in);
	return ret;
}
