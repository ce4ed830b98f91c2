/*
 * Unit tests of expect.c: every predicate passing and failing with its
 * exact message, the rules of SPEC 8 "Predicates" one by one (one-of
 * lists, trailing newlines, predicate maps against literal maps, `eq`
 * escaping, missing against null, exact 64-bit numbers), durations,
 * subset matching with distinct array elements, JSONPath singular and
 * list queries, repeated headers, every kind of capture, JSON Schema
 * (files and inline) and XPath (HTML, XML, namespaces) expectations and
 * captures on hand-built results, and the load-time errors with their
 * line and column.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <unistd.h>

#include "expect.h"
#include "yaml.h"

static const char *const shell_parts[] = {"exit", "stdout",   "stderr",
					  "json", "duration", NULL};
static const char *const http_parts[] = {
	"status",   "headers", "body",	"json",
	"duration", "cookies", "xpath", NULL,
};

static struct ivalue *J(const char *text)
{
	struct itest_err err = ITEST_ERR_INIT;
	struct ivalue *v = json_parse(text, strlen(text), NULL, &err);
	if (!v)
		fail_msg("bad JSON in the test: %s: %s", text, err.msg);
	return v;
}

/*
 * predicate_eval on JSON texts (`act` NULL: missing).  Asserts the
 * outcome and, when `msg` is given, the exact message; a pass must leave
 * no message.
 */
static void check(const char *exp, const char *act, const char *part, int want,
		  const char *msg)
{
	struct ivalue *x = J(exp), *a = act ? J(act) : NULL;
	struct strbuf why = STRBUF_INIT;
	int got = predicate_eval(x, a, part, &why);
	if (got != want)
		fail_msg("%s against %s on '%s': got %d (%s), wanted %d", exp,
			 act ? act : "(missing)", part, got, why.buf, want);
	if (want)
		assert_string_equal(why.buf, "");
	else if (msg)
		assert_string_equal(why.buf, msg);
	else
		assert_true(why.len > 0);
	strbuf_release(&why);
	iv_free(x);
	iv_free(a);
}

#define PASS(exp, act, part)	   check(exp, act, part, 1, NULL)
#define FAILS(exp, act, part, msg) check(exp, act, part, 0, msg)

static void test_equality(void **state)
{
	(void)state;
	PASS("0", "0", "exit");
	FAILS("0", "1", "exit", "expected 0, got 1");
	PASS("201", "201", "status");
	FAILS("\"201\"", "201", "status", "expected \"201\", got 201");
	FAILS("201", "\"201\"", "json", "expected 201, got \"201\"");
	PASS("\"a\"", "\"a\"", "json");
	PASS("1", "1.0", "json");
	PASS("1.0", "1", "json");
	PASS("1e2", "100", "json");
	PASS("9007199254740993", "9007199254740993", "json");
	FAILS("9007199254740993", "9007199254740992", "json",
	      "expected 9007199254740993, got 9007199254740992");
	FAILS("9007199254740992", "9007199254740993", "json", NULL);
	PASS("null", "null", "json");
	PASS("true", "true", "json");
	FAILS("true", "1", "json", "expected true, got 1");
	PASS("{\"a\": [1, {\"b\": null}]}", "{\"a\": [1, {\"b\": null}]}",
	     "json");
	FAILS("{\"a\": 1}", "{\"a\": 1, \"b\": 2}", "json",
	      "expected {\"a\":1}, got {\"a\":1,\"b\":2}");
}

static void test_text_parts(void **state)
{
	(void)state;
	/* an expected number or boolean is compared by its text */
	PASS("42", "\"42\\n\"", "stdout");
	PASS("42", "\"42\"", "body");
	PASS("true", "\"true\\n\"", "stderr");
	PASS("1.50", "\"1.50\"", "body");
	FAILS("1.5", "\"1.50\"", "body", "expected 1.5, got \"1.50\"");
	FAILS("42", "\"42\"", "json", "expected 42, got \"42\"");
	/* one trailing newline is ignored on stdout and stderr only */
	PASS("\"ok\"", "\"ok\\n\"", "stdout");
	PASS("\"ok\\n\"", "\"ok\\n\"", "stdout");
	PASS("\"\"", "\"\\n\"", "stderr");
	FAILS("\"ok\"", "\"ok\\n\\n\"", "stdout",
	      "expected \"ok\", got \"ok\\n\\n\"");
	FAILS("\"ok\"", "\"ok\\n\"", "body", "expected \"ok\", got \"ok\\n\"");
	FAILS("\"ok\"", "\"ok\\n\"", "json", NULL);
	PASS("{\"eq\": \"ok\"}", "\"ok\\n\"", "stdout");
	PASS("{\"one-of\": [\"a\", \"ok\"]}", "\"ok\\n\"", "stdout");
	FAILS("{\"ne\": \"ok\"}", "\"ok\\n\"", "stdout",
	      "expected a value != \"ok\", got \"ok\\n\"");
	/* ordering a number against text that reads as one */
	PASS("{\"gt\": 5}", "\"17\\n\"", "stdout");
	FAILS("{\"gt\": 5}", "\"3\\n\"", "stdout",
	      "expected a value > 5, got \"3\\n\"");
	FAILS("{\"gt\": 5}", "\"many\"", "stdout", NULL);
	FAILS("{\"gt\": 5}", "\"17\"", "json", NULL);
}

static void test_regex(void **state)
{
	(void)state;
	PASS("\"~^ok\"", "\"ok\\n\"", "stdout");
	FAILS("\"~^ok\"", "\"nope\\n\"", "stdout",
	      "expected to match ~^ok, got \"nope\\n\"");
	PASS("\"~rld\"", "\"hello world\"", "body"); /* a search */
	FAILS("\"~^rld\"", "\"hello world\"", "body", NULL);
	PASS("\"~done$\"", "\"done\\n\"", "stdout");
	/* a number actual is searched by its text */
	PASS("\"~^2\\\\d\\\\d$\"", "201", "status");
	FAILS("\"~^2\\\\d\\\\d$\"", "404", "status",
	      "expected to match ~^2\\d\\d$, got 404");
	FAILS("\"~x\"", "null", "json", "expected to match ~x, got null");
	FAILS("\"~x\"", NULL, "json", "expected to match ~x, got (missing)");
	/* UTF-8 subjects match by character, others by byte */
	PASS("\"~^.$\"", "\"\\u00e9\"", "body");
	PASS("\"~^\\\\w+$\"", "\"\\u00e9t\\u00e9\"", "body");
	PASS("{\"matches\": \"^ok\"}", "\"ok\"", "body");
	PASS("{\"matches\": \"~^ok\"}", "\"ok\"", "body");
	FAILS("{\"matches\": \"^ok$\"}", "\"ok!\"", "body",
	      "expected to match ~^ok$, got \"ok!\"");
	/* `eq` takes a string starting with ~ literally */
	PASS("{\"eq\": \"~x\"}", "\"~x\"", "body");
	FAILS("{\"eq\": \"~x\"}", "\"x\"", "body", NULL);

	struct ivalue *x = iv_str("~^.$");
	struct ivalue *a = iv_strn("\xff", 1);
	assert_int_equal(predicate_eval(x, a, "stdout", NULL), 1);
	iv_free(a);
	a = iv_strn("\xc3\xa9", 2);
	assert_int_equal(predicate_eval(x, a, "stdout", NULL), 1);
	iv_free(a);
	iv_free(x);
}

static void test_regex_errors(void **state)
{
	struct strbuf why = STRBUF_INIT, subj = STRBUF_INIT;
	struct itest_result res;
	(void)state;
	for (int i = 0; i < 40; i++)
		strbuf_addch(&subj, 'a');
	strbuf_addch(&subj, 'b');
	struct ivalue *x = iv_str("~^(a+)+$");
	struct ivalue *a = iv_str(subj.buf);
	assert_int_equal(predicate_eval(x, a, "stdout", &why), 0);
	assert_string_equal(why.buf, "regex ~^(a+)+$ exceeded its match limit");
	iv_free(a);
	iv_free(x);

	/* in expect_eval that is an ERROR, and so is a bad pattern */
	result_init(&res);
	iv_set(res.parts, "stdout", iv_str(subj.buf));
	iv_set(res.parts, "exit", iv_int(1));
	struct ivalue *e = J("{\"stdout\": \"~^(a+)+$\", \"exit\": 0}");
	strbuf_reset(&why);
	assert_int_equal(expect_eval(e, &res, NULL, &why), IT_ERROR);
	assert_string_equal(why.buf,
			    "stdout: regex ~^(a+)+$ exceeded its match limit\n"
			    "exit: expected 0, got 1\n");
	iv_free(e);
	e = J("{\"stdout\": {\"matches\": \"(\"}}");
	strbuf_reset(&why);
	assert_int_equal(expect_eval(e, &res, NULL, &why), IT_ERROR);
	assert_string_equal(why.buf, "stdout: invalid regex '(': missing "
				     "closing parenthesis at offset 1\n");
	iv_free(e);
	result_release(&res);
	strbuf_release(&subj);
	strbuf_release(&why);
}

static void test_lists(void **state)
{
	(void)state;
	PASS("[200, 201]", "201", "status");
	FAILS("[200, 201]", "404", "status",
	      "expected one of [200,201], got 404");
	PASS("[0, 1]", "1", "exit");
	/* elsewhere a list is a literal array */
	PASS("[1, 2]", "[1, 2]", "json");
	FAILS("[1, 2]", "1", "json", "expected [1,2], got 1");
	FAILS("[1, 2]", "[2, 1]", "json", NULL);
	FAILS("[\"a\", \"b\"]", "\"a\"", "stdout", NULL);
	/* `eq` of a list on status is equality, not one-of */
	FAILS("{\"eq\": [200, 201]}", "201", "status",
	      "expected [200,201], got 201");
	PASS("{\"one-of\": [1, \"x\"]}", "\"x\"", "json");
	FAILS("{\"one-of\": [1, \"x\"]}", "2", "json",
	      "expected one of [1,\"x\"], got 2");
	FAILS("{\"one-of\": [1]}", NULL, "json", NULL);
}

static void test_predicate_maps(void **state)
{
	(void)state;
	PASS("{\"gt\": 5}", "6", "json");
	PASS("{\"gt\": 5, \"le\": 10}", "10", "json");
	FAILS("{\"gt\": 5, \"le\": 10}", "11", "json",
	      "expected a value <= 10, got 11");
	/* each failed entry is a line of its own */
	FAILS("{\"gt\": 5, \"type\": \"string\"}", "3", "json",
	      "expected a value > 5, got 3\n"
	      "expected type string, got 3 (integer)");
	/* a map with any other key is a literal */
	PASS("{\"gt\": 5, \"foo\": 1}", "{\"foo\": 1, \"gt\": 5}", "json");
	FAILS("{\"gt\": 5, \"foo\": 1}", "6", "json",
	      "expected {\"gt\":5,\"foo\":1}, got 6");
	PASS("{}", "{}", "json");
	FAILS("{}", "{\"a\": 1}", "json", NULL);
	/* eq escapes a literal map that looks like a predicate */
	PASS("{\"eq\": {\"gt\": 5}}", "{\"gt\": 5}", "json");
	FAILS("{\"eq\": {\"gt\": 5}}", "6", "json",
	      "expected {\"gt\":5}, got 6");
	PASS("{\"ne\": {\"gt\": 5}}", "6", "json");
}

static void test_missing_and_null(void **state)
{
	(void)state;
	PASS("{\"exists\": true}", "null", "json");
	FAILS("{\"exists\": true}", NULL, "json",
	      "expected to exist, got (missing)");
	PASS("{\"exists\": false}", NULL, "json");
	FAILS("{\"exists\": false}", "null", "json",
	      "expected not to exist, got null");
	FAILS("{\"exists\": false}", "0", "json",
	      "expected not to exist, got 0");
	FAILS("null", NULL, "json", "expected null, got (missing)");
	PASS("null", "null", "json");
	/* missing fails everything but exists: false and ne */
	PASS("{\"ne\": 5}", NULL, "json");
	FAILS("{\"gt\": 1}", NULL, "json",
	      "expected a value > 1, got (missing)");
	FAILS("{\"empty\": true}", NULL, "json", NULL);
	FAILS("{\"empty\": false}", NULL, "json",
	      "expected not to be empty, got (missing)");
	FAILS("{\"not-contains\": 1}", NULL, "json", NULL);
	FAILS("{\"type\": \"null\"}", NULL, "json",
	      "expected type null, got (missing)");
	FAILS("{\"length\": 0}", NULL, "json",
	      "expected length 0, got (missing)");
	FAILS("{\"subset\": {}}", NULL, "json", NULL);
	FAILS("{\"contains\": \"a\"}", NULL, "json", NULL);
	FAILS("{\"starts-with\": \"a\"}", NULL, "json", NULL);
	FAILS("\"~.*\"", NULL, "json", NULL);
	FAILS("[1]", NULL, "status", NULL);
}

static void test_ordering(void **state)
{
	(void)state;
	PASS("{\"gt\": 5}", "5.5", "json");
	FAILS("{\"gt\": 5}", "5", "json", "expected a value > 5, got 5");
	PASS("{\"ge\": 5}", "5", "json");
	FAILS("{\"ge\": 5}", "4.999", "json",
	      "expected a value >= 5, got 4.999");
	PASS("{\"lt\": 5}", "-1", "json");
	FAILS("{\"lt\": 5}", "5", "json", "expected a value < 5, got 5");
	PASS("{\"le\": 5}", "5.0", "json");
	FAILS("{\"le\": 5}", "6", "json", "expected a value <= 5, got 6");
	PASS("{\"gt\": 9007199254740992}", "9007199254740993", "json");
	/* strings lexicographically */
	PASS("{\"gt\": \"abc\"}", "\"abd\"", "json");
	PASS("{\"lt\": \"abc\"}", "\"ab\"", "json");
	FAILS("{\"lt\": \"abc\"}", "\"b\"", "json",
	      "expected a value < \"abc\", got \"b\"");
	/* a number does not order against a string, nor strings against
	 * numbers on structured parts */
	FAILS("{\"gt\": 1}", "\"2\"", "json",
	      "expected a value > 1, got \"2\"");
	FAILS("{\"gt\": \"a\"}", "2", "json", NULL);
	FAILS("{\"gt\": 1}", "[2]", "json", NULL);
}

static void test_durations(void **state)
{
	(void)state;
	PASS("{\"lt\": \"500ms\"}", "499", "duration");
	FAILS("{\"lt\": \"500ms\"}", "734", "duration",
	      "expected a value < 500ms, got 734ms");
	PASS("{\"ge\": \"2s\"}", "2000", "duration");
	FAILS("{\"ge\": \"2s\"}", "1999.5", "duration",
	      "expected a value >= 2s, got 1999.5ms");
	PASS("{\"le\": \"1m\"}", "60000", "duration");
	PASS("{\"gt\": \"1.5s\"}", "1501", "json");
	/* two duration strings compare as durations, not as text */
	PASS("{\"lt\": \"10s\"}", "\"9s\"", "json");
	PASS("{\"gt\": 100}", "250", "duration");
}

static void test_contains(void **state)
{
	(void)state;
	PASS("{\"contains\": \"wid\"}", "\"a widget\"", "body");
	FAILS("{\"contains\": \"gadget\"}", "\"a widget\"", "body",
	      "expected to contain \"gadget\", got \"a widget\"");
	PASS("{\"contains\": 1}", "\"count: 1\\n\"", "stdout");
	PASS("{\"contains\": \"a\"}", "[\"b\", \"a\"]", "json");
	PASS("{\"contains\": {\"x\": 1}}", "[{\"x\": 1}]", "json");
	FAILS("{\"contains\": \"a\"}", "[\"ab\"]", "json",
	      "expected to contain \"a\", got [\"ab\"]");
	PASS("{\"contains\": \"k\"}", "{\"k\": null}", "json");
	FAILS("{\"contains\": \"v\"}", "{\"k\": \"v\"}", "json", NULL);
	FAILS("{\"contains\": 1}", "1", "json", NULL);

	PASS("{\"not-contains\": \"error\"}", "\"all fine\\n\"", "stderr");
	FAILS("{\"not-contains\": \"error\"}", "\"an error\\n\"", "stderr",
	      "expected not to contain \"error\", got \"an error\\n\"");
	PASS("{\"not-contains\": 3}", "[1, 2]", "json");
	FAILS("{\"not-contains\": 2}", "[1, 2]", "json",
	      "expected not to contain 2, got [1,2]");
	FAILS("{\"not-contains\": \"k\"}", "{\"k\": 1}", "json", NULL);
}

static void test_affixes(void **state)
{
	(void)state;
	PASS("{\"starts-with\": \"HTTP/\"}", "\"HTTP/1.1\"", "body");
	FAILS("{\"starts-with\": \"HTTP/\"}", "\"http/1.1\"", "body",
	      "expected to start with \"HTTP/\", got \"http/1.1\"");
	PASS("{\"ends-with\": \".json\"}", "\"a.json\"", "json");
	FAILS("{\"ends-with\": \".json\"}", "\"a.jso\"", "json",
	      "expected to end with \".json\", got \"a.jso\"");
	FAILS("{\"ends-with\": \"long suffix\"}", "\"fix\"", "json", NULL);
	PASS("{\"starts-with\": 12}", "\"123\"", "body");
	PASS("{\"starts-with\": \"\"}", "\"\"", "body");
	FAILS("{\"starts-with\": \"a\"}", "[\"a\"]", "json", NULL);
}

static void test_type(void **state)
{
	(void)state;
	PASS("{\"type\": \"integer\"}", "1", "json");
	PASS("{\"type\": \"number\"}", "1", "json");
	PASS("{\"type\": \"number\"}", "1.5", "json");
	FAILS("{\"type\": \"integer\"}", "1.5", "json",
	      "expected type integer, got 1.5 (number)");
	FAILS("{\"type\": \"integer\"}", "\"5\"", "json",
	      "expected type integer, got \"5\" (string)");
	PASS("{\"type\": \"string\"}", "\"\"", "json");
	PASS("{\"type\": \"null\"}", "null", "json");
	PASS("{\"type\": \"boolean\"}", "false", "json");
	PASS("{\"type\": \"array\"}", "[]", "json");
	PASS("{\"type\": \"object\"}", "{}", "json");
	FAILS("{\"type\": \"object\"}", "[]", "json",
	      "expected type object, got [] (array)");
}

static void test_length(void **state)
{
	(void)state;
	PASS("{\"length\": 5}", "\"h\\u00e9llo\"", "json"); /* code points */
	PASS("{\"length\": 3}", "[1, 2, 3]", "json");
	FAILS("{\"length\": 2}", "[1, 2, 3]", "json",
	      "expected length 2, got [1,2,3] (length 3)");
	PASS("{\"length\": 1}", "{\"a\": 1}", "json");
	PASS("{\"length\": 0}", "\"\"", "json");
	FAILS("{\"length\": 1}", "5", "json",
	      "expected length 1, got 5 (integer has no length)");
	PASS("{\"length\": {\"gt\": 2}}", "[1, 2, 3]", "json");
	FAILS("{\"length\": {\"gt\": 2}}", "[1]", "json",
	      "length: expected a value > 2, got 1");
	PASS("{\"length\": {\"one-of\": [1, 3]}}", "\"abc\"", "json");
	FAILS("{\"length\": {\"gt\": 0}}", "true", "json",
	      "expected a string, array or object, got true");
}

static void test_empty(void **state)
{
	(void)state;
	PASS("{\"empty\": true}", "\"\"", "stderr");
	PASS("{\"empty\": true}", "[]", "json");
	PASS("{\"empty\": true}", "{}", "json");
	FAILS("{\"empty\": true}", "\"x\"", "stderr",
	      "expected to be empty, got \"x\"");
	FAILS("{\"empty\": true}", "null", "json",
	      "expected to be empty, got null");
	FAILS("{\"empty\": true}", "0", "json", NULL);
	PASS("{\"empty\": false}", "[0]", "json");
	PASS("{\"empty\": false}", "null", "json");
	FAILS("{\"empty\": false}", "{}", "json",
	      "expected not to be empty, got {}");
}

static void test_subset(void **state)
{
	(void)state;
	PASS("{\"subset\": {\"status\": \"reserved\"}}",
	     "{\"status\": \"reserved\", \"id\": 7}", "json");
	PASS("{\"subset\": {\"status\": \"reserved\", \"items\": [{\"qty\": "
	     "2}]}}",
	     "{\"status\": \"reserved\", \"items\": [{\"sku\": \"a\", \"qty\": "
	     "1}, {\"sku\": \"b\", \"qty\": 2}]}",
	     "json");
	FAILS("{\"subset\": {\"status\": \"reserved\"}}",
	      "{\"status\": \"new\"}", "json",
	      "expected a superset of {\"status\":\"reserved\"}, got "
	      "{\"status\":\"new\"} (at .status: expected \"reserved\", got "
	      "\"new\")");
	FAILS("{\"subset\": {\"a\": {\"b\": 1}}}", "{\"a\": {}}", "json",
	      "expected a superset of {\"a\":{\"b\":1}}, got {\"a\":{}} (at "
	      ".a.b: missing)");
	FAILS("{\"subset\": {\"a\": 1}}", "[1]", "json",
	      "expected a superset of {\"a\":1}, got [1] (at the top: "
	      "expected an object, got array)");
	/* numbers by value, nulls as values */
	PASS("{\"subset\": {\"n\": 1, \"z\": null}}",
	     "{\"n\": 1.0, \"z\": null}", "json");
	FAILS("{\"subset\": {\"z\": null}}", "{}", "json", NULL);
	/* each expected element needs a distinct actual element */
	PASS("{\"subset\": [{\"qty\": 2}, {\"qty\": 2}]}",
	     "[{\"qty\": 2}, {\"qty\": 2, \"b\": 1}]", "json");
	FAILS("{\"subset\": [{\"qty\": 2}, {\"qty\": 2}]}",
	      "[{\"qty\": 2, \"a\": 1}, {\"qty\": 3}]", "json",
	      "expected a superset of [{\"qty\":2},{\"qty\":2}], got "
	      "[{\"qty\":2,\"a\":1},{\"qty\":3}] (at the top: no distinct "
	      "match for every element)");
	FAILS("{\"subset\": [1, 1]}", "[1]", "json", NULL);
	/* a greedy first choice would fail here; matching must not */
	PASS("{\"subset\": [{\"a\": 1}, {\"a\": 1, \"b\": 2}]}",
	     "[{\"a\": 1, \"b\": 2}, {\"a\": 1}]", "json");
	PASS("{\"subset\": [[1], [1, 2]]}", "[[1, 2, 3], [1, 9]]", "json");
	FAILS("{\"subset\": {\"items\": [{\"qty\": 5}]}}",
	      "{\"items\": [{\"qty\": 2}]}", "json",
	      "expected a superset of {\"items\":[{\"qty\":5}]}, got "
	      "{\"items\":[{\"qty\":2}]} (at .items: no distinct match for "
	      "every element)");
	/* keys that are not identifiers are shown bracketed */
	FAILS("{\"subset\": {\"a-b\": 1}}", "{\"a-b\": 2}", "json",
	      "expected a superset of {\"a-b\":1}, got {\"a-b\":2} (at "
	      "[\"a-b\"]: expected 1, got 2)");
}

static void test_subset_budget(void **state)
{
	struct ivalue *x = iv_obj(), *a = iv_arr(), *xs = iv_arr();
	struct strbuf why = STRBUF_INIT;
	(void)state;
	for (int i = 0; i < 2000; i++) {
		iv_push(xs, iv_int(i));
		iv_push(a, iv_int(i));
	}
	iv_set(x, "subset", xs);
	assert_int_equal(predicate_eval(x, a, "json", &why), 0);
	assert_string_equal(why.buf, "'subset' comparison is too large");
	strbuf_release(&why);
	iv_free(x);
	iv_free(a);
}

static void test_truncation(void **state)
{
	struct strbuf why = STRBUF_INIT, want = STRBUF_INIT, s = STRBUF_INIT;
	(void)state;
	for (int i = 0; i < 300; i++)
		strbuf_addch(&s, 'a');
	struct ivalue *x = iv_str("b"), *a = iv_str(s.buf);
	assert_int_equal(predicate_eval(x, a, "body", &why), 0);
	strbuf_addstr(&want, "expected \"b\", got \"");
	strbuf_add(&want, s.buf, 199);
	strbuf_addstr(&want, "\xe2\x80\xa6 (300 bytes)");
	assert_string_equal(why.buf, want.buf);
	strbuf_release(&why);
	strbuf_release(&want);
	strbuf_release(&s);
	iv_free(x);
	iv_free(a);
}

/* ---- expect_eval ---- */

static void shell_result(struct itest_result *res, int code, const char *out)
{
	result_init(res);
	iv_set(res->parts, "exit", iv_int(code));
	iv_set(res->parts, "stdout", iv_str(out));
	iv_set(res->parts, "stderr", iv_str(""));
	iv_set(res->parts, "duration", iv_int(120));
	res->json_from = "stdout";
}

/* expect_eval of a JSON expect map; asserts status and message. */
static void eval(struct itest_result *res, const char *expect,
		 enum itest_status want, const char *msg)
{
	struct ivalue *e = J(expect);
	struct strbuf why = STRBUF_INIT;
	enum itest_status got = expect_eval(e, res, NULL, &why);
	if (got != want)
		fail_msg("%s: got %s (%s), wanted %s", expect, status_name(got),
			 why.buf, status_name(want));
	/* a message ending in "..." is a prefix (the rest is value.c's) */
	size_t n = strlen(msg);
	if (n >= 3 && !strcmp(msg + n - 3, "..."))
		assert_memory_equal(why.buf, msg, n - 3);
	else
		assert_string_equal(why.buf, msg);
	strbuf_release(&why);
	iv_free(e);
}

static void test_expect_parts(void **state)
{
	struct itest_result res;
	(void)state;
	shell_result(&res, 1, "nope\n");
	eval(&res,
	     "{\"exit\": 1, \"stdout\": \"nope\", \"stderr\": {\"empty\": "
	     "true}, \"duration\": {\"lt\": \"1s\"}}",
	     IT_PASS, "");
	eval(&res, "{\"exit\": 0, \"stdout\": \"~^ok\", \"stderr\": \"\"}",
	     IT_FAIL,
	     "exit: expected 0, got 1\n"
	     "stdout: expected to match ~^ok, got \"nope\\n\"\n");
	eval(&res, "{\"exit\": [0, 2]}", IT_FAIL,
	     "exit: expected one of [0,2], got 1\n");
	eval(&res, "{\"duration\": {\"lt\": \"100ms\"}}", IT_FAIL,
	     "duration: expected a value < 100ms, got 120ms\n");
	/* the json part of text that is not JSON */
	eval(&res, "{\"json\": {\"$.id\": 1}}", IT_FAIL,
	     "json: stdout is not JSON (line 1, column 1: invalid JSON: ...");
	eval(&res, "{}", IT_PASS, "");
	/* xpath reads the body, which a shell result does not have */
	eval(&res, "{\"xpath\": {\"//h1\": \"x\"}}", IT_FAIL,
	     "xpath: the result has no body\n");
	result_release(&res);
}

static void test_expect_json(void **state)
{
	struct itest_result res;
	(void)state;
	shell_result(&res, 0,
		     "{\"id\": 9007199254740993, \"price\": 3, \"note\": null, "
		     "\"items\": [{\"qty\": 2, \"sku\": \"a\"}, {\"qty\": 1}], "
		     "\"tags\": [\"a\", \"b\"]}\n");
	eval(&res,
	     "{\"json\": {\"$.id\": 9007199254740993, \"$.price\": {\"gt\": 2, "
	     "\"le\": 3}, \"$.tags\": {\"length\": 2, \"contains\": \"a\"}, "
	     "\"$['note']\": null, \"$.gone\": {\"exists\": false}, "
	     "\"$.note\": {\"exists\": true}, \"$.items[0].qty\": 2}}",
	     IT_PASS, "");
	/* non-singular queries yield the node list */
	eval(&res,
	     "{\"json\": {\"$.items[*].qty\": [2, 1], \"$..qty\": {\"length\": "
	     "2}, \"$.items[?@.qty > 1].sku\": [\"a\"], \"$.items[5:]\": [], "
	     "\"$.tags[0,1]\": [\"a\", \"b\"], \"$.nothing[*]\": {\"empty\": "
	     "true}}}",
	     IT_PASS, "");
	eval(&res, "{\"json\": {\"$.items[*].qty\": 2}}", IT_FAIL,
	     "json $.items[*].qty: expected 2, got [2,1]\n");
	eval(&res,
	     "{\"json\": {\"$.id\": 9007199254740992, \"$.price\": {\"gt\": "
	     "5}, \"$.missing\": {\"exists\": true}, \"$.note\": {\"exists\": "
	     "false}}}",
	     IT_FAIL,
	     "json $.id: expected 9007199254740992, got 9007199254740993\n"
	     "json $.price: expected a value > 5, got 3\n"
	     "json $.missing: expected to exist, got (missing)\n"
	     "json $.note: expected not to exist, got null\n");
	/* a value that is not a map of paths applies to the whole document */
	eval(&res,
	     "{\"json\": {\"subset\": {\"price\": 3, \"items\": [{\"qty\": "
	     "1}]}}}",
	     IT_PASS, "");
	eval(&res, "{\"json\": {\"type\": \"array\"}}", IT_FAIL,
	     "json: expected type array, got {\"id\":9007199254740993,"
	     "\"price\":3,\"note\":null,\"items\":[{\"qty\":2,\"sku\":\"a\"},"
	     "{\"qty\":1}],\"tags\":[\"a\",\"b\"]} (object)\n");
	result_release(&res);
}

static void test_expect_json_bad_path_message(void **state)
{
	struct itest_result res;
	struct strbuf why = STRBUF_INIT;
	(void)state;
	shell_result(&res, 0, "{}");
	struct ivalue *e = J("{\"json\": {\"$.a[\": 1}}");
	assert_int_equal(expect_eval(e, &res, NULL, &why), IT_ERROR);
	assert_true(!strncmp(why.buf, "json $.a[: invalid JSONPath '$.a[': ",
			     strlen("json $.a[: invalid JSONPath '$.a[': ")));
	iv_free(e);
	strbuf_release(&why);
	result_release(&res);
}

static void test_expect_headers(void **state)
{
	struct itest_result res;
	(void)state;
	result_init(&res);
	iv_set(res.parts, "status", iv_int(201));
	iv_set(res.parts, "body", iv_str("{\"ok\": true}"));
	res.json_from = "body";
	struct ivalue *h = J("{\"Content-Type\": \"application/json\", "
			     "\"Set-Cookie\": [\"a=1; Path=/\", \"b=2\"]}");
	iv_set(res.parts, "headers", h);
	eval(&res,
	     "{\"status\": 201, \"headers\": {\"content-type\": "
	     "\"~^application/json\", \"CONTENT-TYPE\": {\"contains\": "
	     "\"json\"}}, \"json\": {\"$.ok\": true}}",
	     IT_PASS, "");
	/* a repeated header: the list as a whole, or one of its values */
	eval(&res,
	     "{\"headers\": {\"set-cookie\": \"b=2\", \"Set-Cookie\": "
	     "\"~^a=\", \"set-cookie \": {\"exists\": false}}}",
	     IT_PASS, "");
	eval(&res,
	     "{\"headers\": {\"set-cookie\": {\"contains\": \"Path\", "
	     "\"starts-with\": \"a\"}}}",
	     IT_PASS, "");
	eval(&res, "{\"headers\": {\"set-cookie\": {\"length\": 2}}}", IT_PASS,
	     "");
	eval(&res,
	     "{\"headers\": {\"set-cookie\": [\"a=1; Path=/\", \"b=2\"]}}",
	     IT_PASS, "");
	eval(&res, "{\"headers\": {\"set-cookie\": \"c=3\"}}", IT_FAIL,
	     "headers set-cookie: expected \"c=3\", got [\"a=1; Path=/\","
	     "\"b=2\"]\n");
	/* negative predicates hold only for the whole list */
	eval(&res, "{\"headers\": {\"set-cookie\": {\"ne\": \"b=2\"}}}",
	     IT_PASS, "");
	eval(&res,
	     "{\"headers\": {\"set-cookie\": {\"not-contains\": \"b=2\"}}}",
	     IT_FAIL,
	     "headers set-cookie: expected not to contain \"b=2\", got "
	     "[\"a=1; Path=/\",\"b=2\"]\n");
	eval(&res, "{\"headers\": {\"x-request-id\": {\"exists\": true}}}",
	     IT_FAIL,
	     "headers x-request-id: expected to exist, got (missing)\n");
	eval(&res,
	     "{\"status\": [200, 204], \"headers\": {\"content-type\": "
	     "\"text/html\"}}",
	     IT_FAIL,
	     "status: expected one of [200,204], got 201\n"
	     "headers content-type: expected \"text/html\", got "
	     "\"application/json\"\n");
	result_release(&res);
}

/* ---- captures ---- */

static void test_captures(void **state)
{
	struct itest_result res;
	struct strbuf why = STRBUF_INIT, t = STRBUF_INIT;
	struct ivalue *vars = iv_obj();
	(void)state;
	shell_result(&res, 0,
		     "{\"id\": 9007199254740993, \"items\": [{\"qty\": 2}, "
		     "{\"qty\": 1.50}], \"name\": \"w\"}\n");
	struct ivalue *c =
		J("{\"id\": \"$.id\", \"qtys\": \"$.items[*].qty\", "
		  "\"none\": \"$.gone[*]\", \"obj\": \"$.items[0]\", "
		  "\"out\": {\"stdout\": true}, \"num\": {\"regex\": "
		  "\"\\\"id\\\": (\\\\d+)\"}, \"whole\": {\"regex\": "
		  "\"\\\"name\\\": \\\"\\\\w+\\\"\"}}");
	assert_int_equal(capture_eval(c, &res, vars, &why), IT_PASS);
	assert_string_equal(why.buf, "");
	json_emit(&t, vars, 0);
	assert_string_equal(
		t.buf,
		"{\"id\":9007199254740993,\"qtys\":[2,1.50],\"none\":[],"
		"\"obj\":{\"qty\":2},\"out\":\"{\\\"id\\\": 9007199254740993, "
		"\\\"items\\\": [{\\\"qty\\\": 2}, {\\\"qty\\\": 1.50}], "
		"\\\"name\\\": \\\"w\\\"}\",\"num\":\"9007199254740993\","
		"\"whole\":\"\\\"name\\\": \\\"w\\\"\"}");
	/* the captured number keeps its exact value */
	const struct ivalue *id = iv_get(vars, "id");
	assert_true(id->flags & IVF_INT);
	assert_true(id->u.num.i == INT64_C(9007199254740993));
	iv_free(c);

	/* what matches nothing is a FAIL; the other captures still happen */
	strbuf_reset(&why);
	c = J("{\"x\": \"$.nope\", \"y\": {\"regex\": \"zzz(\\\\d)\"}, \"n\": "
	      "\"$.name\"}");
	assert_int_equal(capture_eval(c, &res, vars, &why), IT_FAIL);
	assert_string_equal(
		why.buf, "capture 'x': $.nope matched nothing\n"
			 "capture 'y': ~zzz(\\d) matched nothing in stdout\n");
	assert_string_equal(iv_strval(iv_get(vars, "n")), "w");
	assert_null(iv_get(vars, "x"));
	iv_free(c);

	strbuf_reset(&why);
	c = J("{\"y\": {\"regex\": \"(a+)+$\"}, \"z\": {\"xpath\": \"//a\"}}");
	iv_set(res.parts, "stdout", iv_str("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab"));
	iv_del(res.parts, "json"); /* parsed (and kept) by the first capture */
	assert_int_equal(capture_eval(c, &res, vars, &why), IT_ERROR);
	assert_string_equal(why.buf,
			    "capture 'y': regex ~(a+)+$ exceeded its match "
			    "limit\n"
			    "capture 'z': the result has no body\n");
	iv_free(c);

	/* the json part of text that is not JSON */
	strbuf_reset(&why);
	c = J("{\"x\": \"$.id\"}");
	assert_int_equal(capture_eval(c, &res, vars, &why), IT_FAIL);
	assert_memory_equal(why.buf,
			    "capture 'x': stdout is not JSON (line 1, column "
			    "1: invalid JSON: ",
			    strlen("capture 'x': stdout is not JSON (line 1, "
				   "column 1: invalid JSON: "));
	assert_int_equal(why.buf[why.len - 1], '\n');
	iv_free(c);

	result_release(&res);
	iv_free(vars);
	strbuf_release(&why);
	strbuf_release(&t);
}

static void test_captures_http(void **state)
{
	struct itest_result res;
	struct strbuf why = STRBUF_INIT;
	struct ivalue *vars = iv_obj();
	(void)state;
	result_init(&res);
	iv_set(res.parts, "body", iv_str("token=abc123; rest"));
	iv_set(res.parts, "headers",
	       J("{\"Location\": \"/orders/7\", \"Set-Cookie\": [\"s=1\", "
		 "\"t=2\"]}"));
	iv_set(res.parts, "cookies",
	       J("{\"session\": \"xyz\", \"csrf\": {\"value\": \"c1\", "
		 "\"path\": \"/\"}}"));
	struct ivalue *c =
		J("{\"loc\": {\"header\": \"location\"}, \"sc\": "
		  "{\"header\": \"SET-COOKIE\"}, \"tok\": "
		  "{\"regex\": \"token=(\\\\w+)\"}, \"sess\": "
		  "{\"cookie\": \"session\"}, \"csrf\": {\"cookie\": "
		  "\"csrf\"}}");
	assert_int_equal(capture_eval(c, &res, vars, &why), IT_PASS);
	assert_string_equal(iv_strval(iv_get(vars, "loc")), "/orders/7");
	assert_string_equal(iv_strval(iv_get(vars, "sc")), "s=1");
	assert_string_equal(iv_strval(iv_get(vars, "tok")), "abc123");
	assert_string_equal(iv_strval(iv_get(vars, "sess")), "xyz");
	assert_string_equal(iv_strval(iv_get(vars, "csrf")), "c1");
	iv_free(c);

	c = J("{\"a\": {\"header\": \"x-none\"}, \"b\": {\"cookie\": "
	      "\"Session\"}, \"d\": {\"stdout\": true}}");
	assert_int_equal(capture_eval(c, &res, vars, &why), IT_FAIL);
	assert_string_equal(why.buf, "capture 'a': no header 'x-none'\n"
				     "capture 'b': no cookie 'Session'\n"
				     "capture 'd': the result has no stdout\n");
	iv_free(c);

	/* a cookie jar as a list of cookies */
	strbuf_reset(&why);
	iv_set(res.parts, "cookies",
	       J("[{\"name\": \"a\", \"value\": \"1\"}, {\"name\": \"b\", "
		 "\"value\": \"2\"}]"));
	c = J("{\"b\": {\"cookie\": \"b\"}}");
	assert_int_equal(capture_eval(c, &res, vars, &why), IT_PASS);
	assert_string_equal(iv_strval(iv_get(vars, "b")), "2");
	iv_free(c);

	result_release(&res);
	iv_free(vars);
	strbuf_release(&why);
}

/* ---- load-time checks ---- */

static const struct itest_src test_src = {(char *)"suite.yml", NULL, 0, 0};

/* Gives every node and key of `v` a distinct location: line = the
 * order in which it is visited, column = depth + 1. */
static void number_locs(struct ivalue *v, int depth, int *line)
{
	v->loc = (struct itest_loc){&test_src, ++*line, depth + 1};
	if (v->type == IV_ARR)
		for (size_t i = 0; i < v->u.arr.n; i++)
			number_locs(v->u.arr.v[i], depth + 1, line);
	if (v->type == IV_OBJ)
		for (size_t i = 0; i < v->u.obj.n; i++) {
			struct imember *m = &v->u.obj.m[i];
			m->kloc = (struct itest_loc){&test_src, ++*line,
						     depth + 1};
			number_locs(m->val, depth + 1, line);
		}
}

/* Checks an expect (or capture) map; asserts the message and place. */
static void bad(int capture, const char *spec, const char *const *parts,
		const char *msg, int line, int col)
{
	struct itest_err err = ITEST_ERR_INIT;
	struct ivalue *v = J(spec);
	int n = 0;
	number_locs(v, 0, &n);
	int rc = capture ? capture_check_spec(v, parts, &err)
			 : expect_check_spec(v, parts, &err);
	if (!msg) {
		if (rc)
			fail_msg("%s: unexpected error %d:%d: %s", spec,
				 err.loc.line, err.loc.col, err.msg);
		iv_free(v);
		return;
	}
	if (!rc)
		fail_msg("%s: no error, wanted '%s'", spec, msg);
	assert_string_equal(err.msg, msg);
	assert_ptr_equal(err.loc.src, &test_src);
	assert_int_equal(err.loc.line, line);
	assert_int_equal(err.loc.col, col);
	iv_free(v);
}

#define BAD_EXPECT(spec, parts, msg, line, col)                                \
	bad(0, spec, parts, msg, line, col)
#define OK_EXPECT(spec, parts) bad(0, spec, parts, NULL, 0, 0)
#define BAD_CAPTURE(spec, parts, msg, line, col)                               \
	bad(1, spec, parts, msg, line, col)
#define OK_CAPTURE(spec, parts) bad(1, spec, parts, NULL, 0, 0)

static void test_check_expect(void **state)
{
	(void)state;
	OK_EXPECT(
		"{\"exit\": 0, \"stdout\": {\"contains\": \"1\"}, \"stderr\": "
		"{\"empty\": true}, \"json\": {\"$.a\": 1, \"$..b\": "
		"{\"length\": {\"gt\": 1}}}, \"duration\": {\"lt\": "
		"\"500ms\", \"gt\": 0}}",
		shell_parts);
	OK_EXPECT("null", shell_parts);
	OK_EXPECT("{\"status\": [200, 201], \"headers\": {\"content-type\": "
		  "\"~^application/json\"}, \"body\": {\"matches\": \"^ok\"}, "
		  "\"json\": {\"subset\": {\"a\": 1}}}",
		  http_parts);
	/* templates are only checked once rendered */
	OK_EXPECT("{\"stdout\": \"~(${x}\", \"json\": {\"${path}\": 1, "
		  "\"$.a\": {\"type\": \"${t}\", \"exists\": \"${e}\", "
		  "\"one-of\": \"${list}\", \"length\": \"${n}\"}}, "
		  "\"duration\": {\"lt\": \"${limit}\"}}",
		  shell_parts);
	/* a map with other keys is a literal: nothing to check in it */
	OK_EXPECT("{\"json\": {\"$.a\": {\"type\": 5, \"x\": 1}}}",
		  shell_parts);

	/* expect: { stauts: 200 }: the key is the 2nd location */
	BAD_EXPECT("{\"stauts\": 200}", http_parts,
		   "unknown part 'stauts' in expect (did you mean "
		   "'status'?)",
		   2, 1);
	BAD_EXPECT("{\"exit\": 0, \"bogus\": 1}", shell_parts,
		   "unknown part 'bogus' in expect", 4, 1);
	BAD_EXPECT("{\"exti\": 0}", shell_parts,
		   "unknown part 'exti' in expect (did you mean 'exit'?)", 2,
		   1);
	BAD_EXPECT("{\"status\": 200}", shell_parts,
		   "unknown part 'status' in expect", 2, 1);
	BAD_EXPECT("{\"xpath\": {\"//a\": 1}}", shell_parts,
		   "unknown part 'xpath' in expect", 2, 1);
	BAD_EXPECT("[1]", shell_parts,
		   "'expect' needs a map of parts, got "
		   "array",
		   1, 1);
	/* 1 {, 2 key stdout, 3 "~(" */
	BAD_EXPECT("{\"stdout\": \"~(\"}", shell_parts,
		   "invalid regex '(': missing closing parenthesis at offset "
		   "1",
		   3, 2);
	/* 1 {, 2 stdout, 3 {, 4 matches, 5 "a)" */
	BAD_EXPECT("{\"stdout\": {\"matches\": \"a)\"}}", shell_parts,
		   "invalid regex 'a)': unmatched closing parenthesis at "
		   "offset 1",
		   5, 3);
	BAD_EXPECT("{\"exit\": {\"one-of\": 1}}", shell_parts,
		   "'one-of' needs a list, got integer", 5, 3);
	BAD_EXPECT("{\"duration\": {\"lt\": \"fast\"}}", shell_parts,
		   "invalid duration 'fast' in 'lt' (write 250ms, 2s or 1m)", 5,
		   3);
	BAD_EXPECT("{\"duration\": {\"lt\": [1]}}", shell_parts,
		   "'lt' needs a number, a string or a duration, got array", 5,
		   3);
	/* json: 1 {, 2 json, 3 {, 4 $.a, 5 {, 6 type, 7 "integr" */
	BAD_EXPECT("{\"json\": {\"$.a\": {\"type\": \"integr\"}}}", shell_parts,
		   "unknown type 'integr' (did you mean 'integer'?)", 7, 4);
	BAD_EXPECT("{\"json\": {\"$.a\": {\"type\": \"widget\"}}}", shell_parts,
		   "unknown type 'widget' (use null, boolean, integer, number, "
		   "string, array or object)",
		   7, 4);
	BAD_EXPECT("{\"json\": {\"$.a\": {\"exists\": \"yes\"}}}", shell_parts,
		   "'exists' needs true or false, got string", 7, 4);
	BAD_EXPECT("{\"json\": {\"$.a\": {\"empty\": 1}}}", shell_parts,
		   "'empty' needs true or false, got integer", 7, 4);
	BAD_EXPECT("{\"json\": {\"$.a\": {\"length\": -1}}}", shell_parts,
		   "'length' needs a non-negative integer or a predicate map",
		   7, 4);
	BAD_EXPECT("{\"json\": {\"$.a\": {\"length\": 1.5}}}", shell_parts,
		   "'length' needs a non-negative integer or a predicate map",
		   7, 4);
	/* ... 6 length, 7 {, 8 type, 9 "x" */
	BAD_EXPECT("{\"json\": {\"$.a\": {\"length\": {\"type\": \"x\"}}}}",
		   shell_parts,
		   "unknown type 'x' (use null, boolean, integer, number, "
		   "string, array or object)",
		   9, 5);
	BAD_EXPECT("{\"json\": {\"$.a\": {\"subset\": \"a\"}}}", shell_parts,
		   "'subset' needs a map or a list, got string", 7, 4);
	BAD_EXPECT("{\"json\": {\"$.a\": {\"starts-with\": [1]}}}", shell_parts,
		   "'starts-with' needs a string, got array", 7, 4);
	BAD_EXPECT("{\"json\": {\"$.a\": {\"matches\": 5}}}", shell_parts,
		   "'matches' needs a pattern, got integer", 7, 4);
	BAD_EXPECT("{\"json\": {\"$.a\": \"~[\"}}", shell_parts,
		   "invalid regex '[': missing terminating ] for character "
		   "class at offset 1",
		   5, 3);
	/* 1 {, 2 json, 3 {, 4 $.a, 5 1, 6 b */
	BAD_EXPECT("{\"json\": {\"$.a\": 1, \"b\": 2}}", shell_parts,
		   "'b' in 'json' mixes JSONPath keys (starting with '$') "
		   "and other keys",
		   6, 2);
	BAD_EXPECT("{\"headers\": \"x\"}", http_parts,
		   "'headers' in expect needs a map of header names, got "
		   "string",
		   3, 2);
	BAD_EXPECT("{\"headers\": {\"a\": \"~(\"}}", http_parts,
		   "invalid regex '(': missing closing parenthesis at offset "
		   "1",
		   5, 3);
}

static void test_check_jsonpath(void **state)
{
	struct itest_err err = ITEST_ERR_INIT;
	(void)state;
	struct ivalue *v = J("{\"json\": {\"$.a\": 1, \"$.b[\": 2}}");
	int n = 0;
	number_locs(v, 0, &n);
	assert_int_equal(expect_check_spec(v, shell_parts, &err), -1);
	/* 1 {, 2 json, 3 {, 4 $.a, 5 1, 6 $.b[ */
	assert_int_equal(err.loc.line, 6);
	assert_int_equal(err.loc.col, 2);
	assert_true(!strncmp(err.msg, "invalid JSONPath '$.b[': ",
			     strlen("invalid JSONPath '$.b[': ")));
	iv_free(v);

	err_clear(&err);
	v = J("{\"id\": \"$..[\"}");
	n = 0;
	number_locs(v, 0, &n);
	assert_int_equal(capture_check_spec(v, shell_parts, &err), -1);
	assert_int_equal(err.loc.line, 3);
	assert_true(!strncmp(err.msg, "invalid JSONPath '$..[': ",
			     strlen("invalid JSONPath '$..[': ")));
	iv_free(v);
}

/* The same checks on a tree that yaml.c parsed, with its real places. */
static void test_check_yaml(void **state)
{
	static const char text[] = "expect:\n"
				   "  exit: 0\n"
				   "  json:\n"
				   "    $.a: { type: integer }\n"
				   "    $.b: \"~(\"\n"
				   "capture:\n"
				   "  id: $.id\n"
				   "  out: { stdout: true }\n"
				   "  page: { xpath: //a }\n";
	struct itest_err err = ITEST_ERR_INIT;
	(void)state;
	struct ivalue *doc = yaml_parse(text, strlen(text), &test_src, &err);
	if (!doc)
		fail_msg("yaml: %s", err.msg);
	assert_int_equal(
		expect_check_spec(iv_get(doc, "expect"), shell_parts, &err),
		-1);
	assert_string_equal(err.msg, "invalid regex '(': missing closing "
				     "parenthesis at offset 1");
	assert_int_equal(err.loc.line, 5);
	assert_int_equal(err.loc.col, 10);
	err_clear(&err);
	assert_int_equal(
		capture_check_spec(iv_get(doc, "capture"), shell_parts, &err),
		-1);
	assert_string_equal(err.msg, "capture source 'xpath' is not "
				     "available for this driver");
	assert_int_equal(err.loc.line, 9);
	assert_int_equal(err.loc.col, 11);
	iv_free(doc);

	static const char typo[] = "expect: { stauts: 200 }\n";
	err_clear(&err);
	doc = yaml_parse(typo, strlen(typo), &test_src, &err);
	if (!doc)
		fail_msg("yaml: %s", err.msg);
	assert_int_equal(
		expect_check_spec(iv_get(doc, "expect"), http_parts, &err), -1);
	assert_string_equal(err.msg, "unknown part 'stauts' in expect (did you "
				     "mean 'status'?)");
	assert_int_equal(err.loc.line, 1);
	assert_int_equal(err.loc.col, 11);
	iv_free(doc);
}

static void test_check_capture(void **state)
{
	(void)state;
	OK_CAPTURE(
		"{\"id\": \"$.id\", \"all\": \"$..id\", \"out\": {\"stdout\": "
		"true}, \"n\": {\"regex\": \"(\\\\d+)\"}, \"t\": \"${p}\"}",
		shell_parts);
	OK_CAPTURE("{\"loc\": {\"header\": \"Location\"}, \"s\": {\"cookie\": "
		   "\"sid\"}, \"r\": {\"regex\": \"(${x}\"}}",
		   http_parts);
	OK_CAPTURE("null", shell_parts);
	/* 1 {, 2 x, 3 {, 4 xpath, 5 "//a" */
	BAD_CAPTURE("{\"x\": {\"xpath\": \"//a\"}}", shell_parts,
		    "capture source 'xpath' is not available for this driver",
		    4, 2);
	BAD_CAPTURE("{\"x\": {\"header\": \"Location\"}}", shell_parts,
		    "capture source 'header' is not available for this driver",
		    4, 2);
	BAD_CAPTURE("{\"x\": {\"cookie\": \"a\"}}", shell_parts,
		    "capture source 'cookie' is not available for this driver",
		    4, 2);
	BAD_CAPTURE("{\"x\": {\"stdout\": true}}", http_parts,
		    "capture source 'stdout' is not available for this driver",
		    4, 2);
	BAD_CAPTURE("{\"x\": {\"hedaer\": \"a\"}}", http_parts,
		    "unknown capture source 'hedaer' (did you mean "
		    "'header'?)",
		    4, 2);
	BAD_CAPTURE("{\"x\": {\"foo\": \"a\"}}", http_parts,
		    "unknown capture source 'foo' (use header, regex, stdout, "
		    "cookie or xpath)",
		    4, 2);
	BAD_CAPTURE("{\"x\": {\"regex\": \"(\"}}", shell_parts,
		    "invalid regex '(': missing closing parenthesis at offset "
		    "1",
		    5, 3);
	BAD_CAPTURE("{\"x\": {\"stdout\": false}}", shell_parts,
		    "'stdout' in a capture takes true", 5, 3);
	BAD_CAPTURE("{\"x\": {\"header\": 1}}", http_parts,
		    "'header' in a capture needs a string, got integer", 5, 3);
	BAD_CAPTURE("{\"x\": \"id\"}", shell_parts,
		    "capture 'x' needs a JSONPath (starting with '$') or a map "
		    "such as { header: NAME }",
		    3, 2);
	BAD_CAPTURE("{\"x\": {\"header\": \"a\", \"regex\": \"b\"}}",
		    http_parts,
		    "capture 'x' needs a JSONPath or a map with one of header, "
		    "regex, stdout, cookie, xpath",
		    3, 2);
	OK_CAPTURE("{\"x\": \"$.a\"}", http_parts);
	BAD_CAPTURE("{\"run\": \"$.a\"}", shell_parts,
		    "cannot capture into 'run': the name is reserved", 2, 1);
	BAD_CAPTURE("[1]", shell_parts,
		    "'capture' needs a map of variables, got array", 1, 1);

	/* with a registered driver's parts, the message names the driver */
	const struct itest_driver *shell = driver_find("shell");
	assert_non_null(shell);
	BAD_CAPTURE("{\"x\": {\"xpath\": \"//a\"}}", shell->parts,
		    "capture source 'xpath' is not available for the 'shell' "
		    "driver",
		    4, 2);
}

/* ---- schema and xpath ---- */

/* An HTTP result: status, headers { Content-Type }, body; json from body. */
static void http_result(struct itest_result *res, const char *ctype,
			const char *body)
{
	result_init(res);
	iv_set(res->parts, "status", iv_int(200));
	struct ivalue *h = iv_obj();
	if (ctype)
		iv_set(h, "Content-Type", iv_str(ctype));
	iv_set(res->parts, "headers", h);
	iv_set(res->parts, "body", iv_str(body));
	res->json_from = "body";
}

/* expect_eval with a base folder for schema files. */
static void eval_in(struct itest_result *res, const char *dir,
		    const char *expect, enum itest_status want, const char *msg)
{
	struct ivalue *e = J(expect);
	struct strbuf why = STRBUF_INIT;
	enum itest_status got = expect_eval(e, res, dir, &why);
	if (got != want)
		fail_msg("%s: got %s (%s), wanted %s", expect, status_name(got),
			 why.buf, status_name(want));
	size_t n = strlen(msg);
	if (n >= 3 && !strcmp(msg + n - 3, "..."))
		assert_memory_equal(why.buf, msg, n - 3);
	else
		assert_string_equal(why.buf, msg);
	strbuf_release(&why);
	iv_free(e);
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(path);
}

static void remove_files(const char *dir, const char *const *names)
{
	for (size_t i = 0; names[i]; i++) {
		char *path = xasprintf("%s/%s", dir, names[i]);
		unlink(path);
		free(path);
	}
	rmdir(dir);
}

static void test_expect_schema(void **state)
{
	static const char *const files[] = {"order.json", "money.yaml",
					    "broken.json", NULL};
	struct itest_result res;
	char dir[] = "/tmp/itest-expect-XXXXXX";
	(void)state;
	assert_non_null(mkdtemp(dir));
	write_file(dir, "order.json",
		   "{\"type\": \"object\", \"required\": [\"id\", \"total\"],\n"
		   " \"properties\": {\"id\": {\"type\": \"integer\"},\n"
		   "  \"total\": {\"$ref\": \"money.yaml#/$defs/money\"}}}\n");
	write_file(dir, "money.yaml",
		   "$defs:\n  money:\n    type: number\n    minimum: 0\n"
		   "    multipleOf: 0.01\n");
	write_file(dir, "broken.json", "{\"type\": \"strng\"}\n");
	http_result(&res, "application/json",
		    "{\"id\": 7, \"total\": 19.99, \"note\": null}");

	/* a file (relative to the base folder) and an inline schema */
	eval_in(&res, dir, "{\"status\": 200, \"schema\": \"order.json\"}",
		IT_PASS, "");
	eval_in(&res, NULL,
		"{\"schema\": {\"type\": \"object\", \"properties\": {\"id\": "
		"{\"const\": 7}}}}",
		IT_PASS, "");
	/* one line per error: instance path, keyword, schema path, value */
	eval_in(&res, NULL,
		"{\"schema\": {\"properties\": {\"id\": {\"type\": "
		"\"string\"}, \"note\": false}, \"required\": [\"name\"]}}",
		IT_FAIL,
		"schema: $.id: type string (at #/properties/id), got 7\n"
		"schema: $.note: not allowed (at #/properties/note), got null\n"
		"schema: $: required property \"name\" is missing (at #)\n");
	result_release(&res);

	/* errors inside a referenced file name that file */
	http_result(&res, "application/json", "{\"id\": 7, \"total\": 1.005}");
	struct strbuf want = STRBUF_INIT;
	char *money = xasprintf("%s/money.yaml", dir);
	strbuf_addf(&want,
		    "schema: $.total: multipleOf 0.01 (at %s#/$defs/money), "
		    "got 1.005\n",
		    money);
	eval_in(&res, dir, "{\"schema\": \"order.json\"}", IT_FAIL, want.buf);
	free(money);
	strbuf_release(&want);
	result_release(&res);

	/* `schema` applies to the json part of any driver */
	shell_result(&res, 0, "[1, 2, 3]\n");
	eval_in(&res, NULL,
		"{\"schema\": {\"type\": \"array\", \"maxItems\": 2}}", IT_FAIL,
		"schema: $: maxItems 2 (at #), got [1,2,3]\n");
	result_release(&res);

	/* a body that is not JSON fails; a schema that cannot load errs */
	http_result(&res, "text/plain", "hello");
	eval_in(&res, NULL, "{\"schema\": {\"type\": \"object\"}}", IT_FAIL,
		"schema: body is not JSON (line 1, column 1: ...");
	result_release(&res);
	http_result(&res, "application/json", "{}");
	eval_in(&res, dir, "{\"schema\": \"broken.json\"}", IT_ERROR,
		"schema: ...");
	eval_in(&res, dir, "{\"schema\": \"missing.json\"}", IT_ERROR,
		"schema: cannot read schema file '...");
	eval_in(&res, NULL, "{\"schema\": {\"minLenght\": 1}}", IT_ERROR,
		"schema: unknown JSON Schema keyword 'minLenght' (did you mean "
		"'minLength'?)\n");
	result_release(&res);
	remove_files(dir, files);
}

static void test_expect_xpath(void **state)
{
	struct itest_result res;
	(void)state;
	/* sloppy HTML, chosen by the Content-Type */
	http_result(&res, "text/html; charset=utf-8",
		    "<html><body><h1>Welcome</h1><ul><li>apple<li>banana"
		    "<li>cherry</ul><p class=price>5</body>");
	eval(&res,
	     "{\"status\": 200, \"xpath\": {\"//h1\": \"Welcome\", "
	     "\"count(//li)\": 3, \"//li\": {\"length\": 3, \"contains\": "
	     "\"banana\"}, \"//li[1]\": {\"starts-with\": \"app\"}, "
	     "\"//p[@class='price']\": {\"gt\": 4}, \"//nope\": {\"exists\": "
	     "false}, \"boolean(//h1)\": true, \"string(//h1)\": \"~^Wel\"}}",
	     IT_PASS, "");
	/* node text compares with an expected number by its text */
	eval(&res, "{\"xpath\": {\"//p\": 5}}", IT_PASS, "");
	eval(&res,
	     "{\"xpath\": {\"//h1\": \"Bye\", \"count(//li)\": 2, \"//h2\": "
	     "\"x\"}}",
	     IT_FAIL,
	     "xpath //h1: expected \"Bye\", got \"Welcome\"\n"
	     "xpath count(//li): expected 2, got 3\n"
	     "xpath //h2: expected \"x\", got (missing)\n");
	eval(&res, "{\"xpath\": {\"//a[\": 1}}", IT_ERROR,
	     "xpath //a[: invalid XPath '//a[': invalid expression at offset "
	     "4\n");
	result_release(&res);

	/* XML with namespaces */
	http_result(&res, "application/xml",
		    "<?xml version=\"1.0\"?><order xmlns=\"urn:shop\" "
		    "xmlns:p=\"urn:pay\"><id>42</id><p:status>paid</p:status>"
		    "</order>");
	eval(&res,
	     "{\"xpath\": {\"//s:id\": 42, \"//pay:status\": \"paid\", "
	     "\"//id\": {\"exists\": false}}, \"namespaces\": {\"s\": "
	     "\"urn:shop\", \"pay\": \"urn:pay\"}}",
	     IT_PASS, "");
	eval(&res, "{\"xpath\": {\"//s:id\": 42}}", IT_ERROR,
	     "xpath //s:id: invalid XPath '//s:id': undefined namespace "
	     "prefix (declare it in 'namespaces') at offset 6\n");
	result_release(&res);

	/* XML that is not well-formed: a FAIL, with libxml2's reason */
	http_result(&res, "application/xml", "<a><b></a>");
	eval(&res, "{\"xpath\": {\"//b\": \"\"}}", IT_FAIL,
	     "xpath: the body is not well-formed XML (line 1: opening and "
	     "ending tag mismatch: b line 1 and a)\n");
	result_release(&res);
	/* no Content-Type: XML first, then HTML */
	http_result(&res, NULL, "<p>one<p>two");
	eval(&res, "{\"xpath\": {\"//p\": [\"one\", \"two\"]}}", IT_PASS, "");
	result_release(&res);
	/* any other Content-Type: XML only */
	http_result(&res, "application/json", "<p>one<p>two");
	eval(&res, "{\"xpath\": {\"//p\": \"one\"}}", IT_FAIL,
	     "xpath: the body is not well-formed XML (line 1: ...");
	result_release(&res);
}

static void test_capture_xpath(void **state)
{
	struct itest_result res;
	struct strbuf why = STRBUF_INIT;
	struct ivalue *vars = iv_obj();
	(void)state;
	http_result(&res, "text/xml",
		    "<r xmlns:s=\"urn:shop\"><s:id>9007199254740993</s:id>"
		    "<item>a</item><item>b</item></r>");
	struct ivalue *c =
		J("{\"id\": {\"xpath\": \"string(//s:id)\", \"namespaces\": "
		  "{\"s\": \"urn:shop\"}}, \"n\": {\"xpath\": "
		  "\"count(//item)\"}, \"items\": {\"xpath\": \"//item\"}}");
	assert_int_equal(capture_eval(c, &res, vars, &why), IT_PASS);
	struct strbuf t = STRBUF_INIT;
	json_emit(&t, vars, 0);
	assert_string_equal(t.buf, "{\"id\":\"9007199254740993\",\"n\":2,"
				   "\"items\":[\"a\",\"b\"]}");
	strbuf_release(&t);
	iv_free(c);

	c = J("{\"x\": {\"xpath\": \"//none\"}}");
	assert_int_equal(capture_eval(c, &res, vars, &why), IT_FAIL);
	assert_string_equal(why.buf, "capture 'x': //none matched nothing\n");
	iv_free(c);
	strbuf_reset(&why);
	c = J("{\"x\": {\"xpath\": \"//s:id\"}}");
	assert_int_equal(capture_eval(c, &res, vars, &why), IT_ERROR);
	assert_string_equal(why.buf,
			    "capture 'x': invalid XPath '//s:id': undefined "
			    "namespace prefix (declare it in 'namespaces') at "
			    "offset 6\n");
	iv_free(c);
	result_release(&res);
	iv_free(vars);
	strbuf_release(&why);
}

static void test_check_schema_xpath(void **state)
{
	(void)state;
	/* schema goes with every driver */
	OK_EXPECT("{\"schema\": {\"type\": \"object\"}}", shell_parts);
	OK_EXPECT("{\"schema\": true}", shell_parts);
	/* an inline schema with templates is checked once rendered */
	OK_EXPECT("{\"schema\": {\"const\": \"${id}\", \"${k}\": 1}}",
		  shell_parts);
	/* 1 {, 2 schema, 3 {, 4 type, 5 "object", 6 minLenght */
	BAD_EXPECT("{\"schema\": {\"type\": \"object\", \"minLenght\": 1}}",
		   shell_parts,
		   "unknown JSON Schema keyword 'minLenght' (did you mean "
		   "'minLength'?)",
		   6, 2);
	BAD_EXPECT("{\"schema\": {\"type\": \"strng\"}}", shell_parts,
		   "unknown type 'strng' (did you mean 'string'?)", 5, 3);
	BAD_EXPECT("{\"schema\": \"${dir}/a.json\"}", shell_parts,
		   "the 'schema' path cannot hold a template", 3, 2);
	BAD_EXPECT("{\"schema\": 5}", shell_parts,
		   "'schema' needs a file path or a schema map, got integer", 3,
		   2);
	BAD_EXPECT("{\"schema\": \"/nonexistent/itest/a.json\"}", shell_parts,
		   "cannot read schema file '/nonexistent/itest/a.json': No "
		   "such file or directory",
		   3, 2);

	OK_EXPECT("{\"xpath\": {\"//h1\": \"x\", \"count(//li)\": {\"gt\": 1}, "
		  "\"//a[@id='${id}']\": 1}, \"namespaces\": {\"s\": "
		  "\"urn:s\"}}",
		  http_parts);
	/* 1 {, 2 xpath, 3 {, 4 //a[, ... */
	BAD_EXPECT("{\"xpath\": {\"//a[\": 1}}", http_parts,
		   "invalid XPath '//a[': invalid expression at offset 4", 4,
		   2);
	BAD_EXPECT("{\"xpath\": {\"//a\": {\"matches\": \"(\"}}}", http_parts,
		   "invalid regex '(': missing closing parenthesis at offset "
		   "1",
		   7, 4);
	BAD_EXPECT("{\"xpath\": \"//a\"}", http_parts,
		   "'xpath' needs a map of XPath expressions to predicates, "
		   "got string",
		   3, 2);
	BAD_EXPECT("{\"namespaces\": {\"s\": 1}}", http_parts,
		   "namespace 's' needs a URI, got integer", 5, 3);
	BAD_EXPECT("{\"namespaces\": {\"s\": \"urn:s\"}}", shell_parts,
		   "unknown part 'namespaces' in expect", 2, 1);

	OK_CAPTURE("{\"t\": {\"xpath\": \"string(//h1)\"}, \"u\": {\"xpath\": "
		   "\"//s:a\", \"namespaces\": {\"s\": \"urn:s\"}}}",
		   http_parts);
	/* 1 {, 2 x, 3 {, 4 xpath, 5 "//a[" */
	BAD_CAPTURE("{\"x\": {\"xpath\": \"//a[\"}}", http_parts,
		    "invalid XPath '//a[': invalid expression at offset 4", 5,
		    3);
	BAD_CAPTURE("{\"x\": {\"xpath\": \"//a\", \"namespaces\": []}}",
		    http_parts,
		    "'namespaces' needs a map of prefixes, got array", 7, 3);
}

/* A schema file's load error names the file, line and column, and the
 * loader's source list records the files read. */
static void test_check_schema_file(void **state)
{
	static const char *const files[] = {"a.yaml", "b.json", NULL};
	struct srclist sl = SRCLIST_INIT;
	struct itest_err err = ITEST_ERR_INIT;
	char dir[] = "/tmp/itest-expect-XXXXXX";
	(void)state;
	assert_non_null(mkdtemp(dir));
	write_file(dir, "a.yaml",
		   "type: object\nproperties:\n  b:\n    $ref: b.json\n");
	write_file(dir, "b.json",
		   "{\n  \"type\": \"array\",\n  \"itmes\": {}\n}\n");
	struct ivalue *v = J("{\"schema\": \"a.yaml\"}");
	assert_int_equal(
		expect_check_spec_at(v, shell_parts, NULL, dir, &sl, &err), -1);
	assert_string_equal(err.msg, "unknown JSON Schema keyword 'itmes' "
				     "(did you mean 'items'?)");
	assert_non_null(err.loc.src);
	assert_non_null(strstr(err.loc.src->path, "b.json"));
	assert_int_equal(err.loc.line, 3);
	assert_int_equal(err.loc.col, 3);
	/* included from a.yaml's $ref */
	assert_non_null(err.loc.src->parent);
	assert_non_null(strstr(err.loc.src->parent->path, "a.yaml"));
	assert_int_equal(err.loc.src->pline, 4);
	assert_int_equal(err.loc.src->pcol, 11);
	assert_int_equal(sl.n, 2);
	iv_free(v);
	srclist_release(&sl);
	remove_files(dir, files);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_equality),
		cmocka_unit_test(test_text_parts),
		cmocka_unit_test(test_regex),
		cmocka_unit_test(test_regex_errors),
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_predicate_maps),
		cmocka_unit_test(test_missing_and_null),
		cmocka_unit_test(test_ordering),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_contains),
		cmocka_unit_test(test_affixes),
		cmocka_unit_test(test_type),
		cmocka_unit_test(test_length),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_subset),
		cmocka_unit_test(test_subset_budget),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_expect_parts),
		cmocka_unit_test(test_expect_json),
		cmocka_unit_test(test_expect_json_bad_path_message),
		cmocka_unit_test(test_expect_headers),
		cmocka_unit_test(test_captures),
		cmocka_unit_test(test_captures_http),
		cmocka_unit_test(test_check_expect),
		cmocka_unit_test(test_check_jsonpath),
		cmocka_unit_test(test_check_capture),
		cmocka_unit_test(test_check_yaml),
		cmocka_unit_test(test_expect_schema),
		cmocka_unit_test(test_expect_xpath),
		cmocka_unit_test(test_capture_xpath),
		cmocka_unit_test(test_check_schema_xpath),
		cmocka_unit_test(test_check_schema_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
