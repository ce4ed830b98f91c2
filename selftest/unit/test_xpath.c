/*
 * Unit tests of runner/xpath.c: XML with namespaces, sloppy HTML, every
 * kind of XPath result (node text, several nodes, none, numbers,
 * booleans, strings, NaN), bad expressions with their messages, XXE and
 * entity-expansion attempts, the load-time check, the Content-Type test,
 * that libxml2 prints nothing to stderr, and parallel use from threads.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xpath.h"

static struct xdoc *parse(const char *text, int html)
{
	struct strbuf why = STRBUF_INIT;
	struct xdoc *d = xdoc_parse(text, strlen(text), html, &why);
	if (!d)
		fail_msg("cannot parse %s: %s", text, why.buf);
	assert_string_equal(why.buf, "");
	strbuf_release(&why);
	return d;
}

/* Evaluates `expr`; asserts the result as compact JSON ("missing": no
 * node) and that nothing was said. */
static void eval(struct xdoc *d, const char *expr, const struct ivalue *ns,
		 const char *want)
{
	struct strbuf why = STRBUF_INIT, got = STRBUF_INIT;
	struct ivalue *v = xpath_eval(d, expr, ns, &why);
	if (!v && why.len)
		fail_msg("%s: %s", expr, why.buf);
	if (v)
		json_emit(&got, v, 0);
	else
		strbuf_addstr(&got, "missing");
	if (strcmp(got.buf, want))
		fail_msg("%s: got %s, wanted %s", expr, got.buf, want);
	assert_string_equal(why.buf, "");
	iv_free(v);
	strbuf_release(&why);
	strbuf_release(&got);
}

/* Evaluates a bad expression; asserts NULL and the message. */
static void eval_bad(struct xdoc *d, const char *expr, const char *msg)
{
	struct strbuf why = STRBUF_INIT;
	struct ivalue *v = xpath_eval(d, expr, NULL, &why);
	assert_null(v);
	assert_string_equal(why.buf, msg);
	strbuf_release(&why);
}

static const char order_xml[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<order xmlns=\"urn:shop\" xmlns:p=\"urn:pay\" id=\"42\">\n"
	"  <item sku=\"a\"><qty>2</qty><price>1.50</price></item>\n"
	"  <item sku=\"b\"><qty>1</qty><price>3</price></item>\n"
	"  <p:status>paid</p:status>\n"
	"  <note>caf\xc3\xa9</note>\n"
	"</order>\n";

static void test_xml_namespaces(void **state)
{
	(void)state;
	struct xdoc *d = parse(order_xml, 0);
	struct ivalue *ns = iv_obj();
	iv_set(ns, "s", iv_str("urn:shop"));
	iv_set(ns, "pay", iv_str("urn:pay"));
	eval(d, "/s:order/@id", ns, "\"42\"");
	eval(d, "//s:item/@sku", ns, "[\"a\",\"b\"]");
	eval(d, "//s:qty", ns, "[\"2\",\"1\"]");
	eval(d, "//pay:status", ns, "\"paid\"");
	eval(d, "//s:note", ns, "\"caf\xc3\xa9\"");
	eval(d, "string-length(//s:note)", ns, "4");
	/* names without a prefix are in no namespace: nothing matches */
	eval(d, "//item", ns, "missing");
	eval(d, "//*[local-name()='item'][2]/*[local-name()='price']", NULL,
	     "\"3\"");
	/* number, boolean and string results */
	eval(d, "count(//s:item)", ns, "2");
	eval(d, "sum(//s:price)", ns, "4.5");
	eval(d, "sum(//s:qty) * 2", ns, "6");
	eval(d, "count(//s:item) > 1", ns, "true");
	eval(d, "boolean(//s:none)", ns, "false");
	eval(d, "string(//s:item[1]/@sku)", ns, "\"a\"");
	eval(d, "concat(//s:item[2]/@sku, '-', //pay:status)", ns,
	     "\"b-paid\"");
	/* what JSON cannot hold comes as XPath's text */
	eval(d, "number('x')", ns, "\"NaN\"");
	eval(d, "1 div 0", ns, "\"Infinity\"");
	eval(d, "-1 div 0", ns, "\"-Infinity\"");
	eval(d, "9007199254740993", ns, "9007199254740992");
	eval(d, "-0.25", ns, "-0.25");
	/* node text is the string-value: descendants' text in order */
	eval(d, "//s:item[1]", ns, "\"21.50\"");
	/* a prefix the map does not declare */
	eval_bad(d, "//x:item",
		 "invalid XPath '//x:item': undefined namespace prefix "
		 "(declare it in 'namespaces') at offset 8");
	/* a namespaces value that is not a URI */
	struct ivalue *badns = iv_obj();
	struct strbuf why = STRBUF_INIT;
	iv_set(badns, "s", iv_int(1));
	assert_null(xpath_eval(d, "//s:item", badns, &why));
	assert_string_equal(why.buf, "namespace 's' needs a URI, got integer");
	strbuf_release(&why);
	iv_free(badns);
	iv_free(ns);
	xdoc_free(d);
}

static void test_html(void **state)
{
	(void)state;
	/* unclosed tags, no html/body, an unquoted attribute, a stray </b> */
	struct xdoc *d =
		parse("<title>Shop</title><h1 class=big>Welcome</h1></b>"
		      "<ul><li>one<li>two<li>three</ul>"
		      "<p>caf&eacute; &amp; bar<br>next",
		      1);
	eval(d, "//h1", NULL, "\"Welcome\"");
	eval(d, "//h1/@class", NULL, "\"big\"");
	eval(d, "//li", NULL, "[\"one\",\"two\",\"three\"]");
	eval(d, "count(//li)", NULL, "3");
	eval(d, "//li[last()]", NULL, "\"three\"");
	eval(d, "//title", NULL, "\"Shop\"");
	eval(d, "normalize-space(//p)", NULL, "\"caf\xc3\xa9 & barnext\"");
	eval(d, "//table", NULL, "missing");
	eval(d, "count(/html/body)", NULL, "1");
	xdoc_free(d);
}

static void test_bad_expressions(void **state)
{
	(void)state;
	struct xdoc *d = parse("<a><b>1</b></a>", 0);
	eval_bad(d, "//b[",
		 "invalid XPath '//b[': invalid expression at "
		 "offset 4");
	eval_bad(d, "//b[@x='1'",
		 "invalid XPath '//b[@x='1'': invalid predicate at offset 10");
	eval_bad(d, "foo()",
		 "invalid XPath 'foo()': unknown function at "
		 "offset 5");
	eval_bad(d, "count(1, 2)",
		 "invalid XPath 'count(1, 2)': wrong number of arguments at "
		 "offset 11");
	eval_bad(d, "$v", "invalid XPath '$v': undefined variable at offset 2");
	xdoc_free(d);

	struct strbuf why = STRBUF_INIT;
	assert_int_equal(xpath_check("//a[@id='x']/b | //c", &why), 0);
	assert_int_equal(xpath_check("count(//li) > 2", &why), 0);
	assert_string_equal(why.buf, "");
	assert_int_equal(xpath_check("//a[", &why), -1);
	assert_string_equal(why.buf, "invalid XPath '//a[': invalid "
				     "expression at offset 4");
	strbuf_reset(&why);
	assert_int_equal(xpath_check("'unclosed", &why), -1);
	assert_string_equal(why.buf, "invalid XPath ''unclosed': unfinished "
				     "string literal at offset 9");
	strbuf_release(&why);
}

static void test_bad_documents(void **state)
{
	struct strbuf why = STRBUF_INIT;
	(void)state;
	assert_null(xdoc_parse("<a><b></a>", 10, 0, &why));
	assert_string_equal(why.buf,
			    "the body is not well-formed XML (line 1: opening "
			    "and ending tag mismatch: b line 1 and a)");
	strbuf_reset(&why);
	assert_null(xdoc_parse("{\"json\": 1}", 11, 0, &why));
	assert_string_equal(why.buf, "the body is not well-formed XML (line 1: "
				     "start tag expected, '<' not found)");
	strbuf_reset(&why);
	assert_null(xdoc_parse("", 0, 0, &why));
	assert_string_equal(why.buf, "the body is empty");
	strbuf_reset(&why);
	assert_null(xdoc_parse("", 0, 1, &why));
	assert_string_equal(why.buf, "the body is empty");
	strbuf_release(&why);
}

/* External entities are not loaded; entity bombs are refused. */
static void test_xxe(void **state)
{
	char path[] = "/tmp/itest-xxe-XXXXXX";
	struct strbuf doc = STRBUF_INIT, why = STRBUF_INIT;
	(void)state;
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "TOP-SECRET", 10), 10);
	close(fd);
	strbuf_addf(&doc,
		    "<?xml version=\"1.0\"?>\n"
		    "<!DOCTYPE r [<!ENTITY xxe SYSTEM \"file://%s\">\n"
		    "<!ENTITY param \"inner\">]>\n"
		    "<r><a>&xxe;</a><b>&param;</b></r>",
		    path);
	struct xdoc *d = parse(doc.buf, 0);
	eval(d, "//a", NULL, "\"\"");
	eval(d, "contains(string(/), 'SECRET')", NULL, "false");
	eval(d, "//b", NULL, "\"inner\"");
	xdoc_free(d);
	/* the same document as HTML */
	d = parse(doc.buf, 1);
	eval(d, "contains(string(/), 'SECRET')", NULL, "false");
	xdoc_free(d);
	unlink(path);

	/* a billion laughs */
	strbuf_reset(&doc);
	strbuf_addstr(&doc, "<?xml version=\"1.0\"?>\n<!DOCTYPE l [\n"
			    "<!ENTITY l0 \"lol\">\n");
	for (int i = 1; i <= 9; i++) {
		strbuf_addf(&doc, "<!ENTITY l%d \"", i);
		for (int k = 0; k < 10; k++)
			strbuf_addf(&doc, "&l%d;", i - 1);
		strbuf_addstr(&doc, "\">\n");
	}
	strbuf_addstr(&doc, "]>\n<l>&l9;</l>");
	assert_null(xdoc_parse(doc.buf, doc.len, 0, &why));
	assert_true(!strncmp(why.buf, "the body is not well-formed XML",
			     strlen("the body is not well-formed XML")));
	strbuf_release(&why);
	strbuf_release(&doc);
}

static void test_is_html(void **state)
{
	(void)state;
	assert_true(xpath_is_html("text/html"));
	assert_true(xpath_is_html("Text/HTML; charset=utf-8"));
	assert_true(xpath_is_html("  text/html ;charset=x"));
	assert_false(xpath_is_html("text/htmlx"));
	assert_false(xpath_is_html("application/xhtml+xml"));
	assert_false(xpath_is_html("application/xml"));
	assert_false(xpath_is_html(""));
	assert_false(xpath_is_html(NULL));
}

/* Runs everything that fails once more with stderr pointing to a file,
 * which must stay empty: libxml2 must not print. */
static void test_silent(void **state)
{
	char path[] = "/tmp/itest-xpath-err-XXXXXX";
	struct strbuf why = STRBUF_INIT;
	struct stat st;
	(void)state;
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	fflush(stderr);
	int saved = dup(2);
	dup2(fd, 2);
	assert_null(xdoc_parse("<a><b></a>", 10, 0, &why));
	assert_null(xdoc_parse("<?xml version='1.0' encoding='bogus'?><a/>", 42,
			       0, &why));
	struct xdoc *d = xdoc_parse("<p>x<p>y</div>", 14, 1, &why);
	assert_non_null(d);
	assert_null(xpath_eval(d, "//p[", NULL, &why));
	assert_null(xpath_eval(d, "nosuch()", NULL, &why));
	assert_null(xpath_eval(d, "//q:p", NULL, &why));
	assert_int_equal(xpath_check("]]", &why), -1);
	xdoc_free(d);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	assert_int_equal(fstat(fd, &st), 0);
	close(fd);
	unlink(path);
	assert_int_equal(st.st_size, 0);
	strbuf_release(&why);
}

struct job {
	int ok;
};

static void *worker(void *arg)
{
	struct job *j = arg;
	j->ok = 1;
	for (int i = 0; i < 200 && j->ok; i++) {
		struct strbuf why = STRBUF_INIT;
		struct xdoc *d =
			xdoc_parse(order_xml, strlen(order_xml), 0, &why);
		struct ivalue *ns = iv_obj(), *v;
		iv_set(ns, "s", iv_str("urn:shop"));
		v = d ? xpath_eval(d, "count(//s:item)", ns, &why) : NULL;
		if (!v || v->type != IV_NUM || v->u.num.i != 2)
			j->ok = 0;
		iv_free(v);
		v = d ? xpath_eval(d, "//s:item[", ns, &why) : NULL;
		if (v || strcmp(why.buf, "invalid XPath '//s:item[': invalid "
					 "expression at offset 9"))
			j->ok = 0;
		iv_free(ns);
		xdoc_free(d);
		strbuf_release(&why);
	}
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t th[4];
	struct job jobs[4];
	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, worker, &jobs[i]),
				 0);
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_true(jobs[i].ok);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xml_namespaces),
		cmocka_unit_test(test_html),
		cmocka_unit_test(test_bad_expressions),
		cmocka_unit_test(test_bad_documents),
		cmocka_unit_test(test_xxe),
		cmocka_unit_test(test_is_html),
		cmocka_unit_test(test_silent),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
