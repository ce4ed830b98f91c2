/*
 * Unit tests of runner/jsonpath.c: every case of the JSONPath Compliance
 * Test Suite (selftest/data/jsonpath-cts/cts.json), then focused cases for
 * what the suite does not cover: singular queries, error messages, exact
 * numbers, regexes, limits and sharing a compiled path between threads.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>

#include "jsonpath.h"

#define CTS_PATH "selftest/data/jsonpath-cts/cts.json"

/* CTS cases that cannot pass, by name, with the reason (none so far). */
static const struct {
	const char *name, *why;
} cts_skip[] = {
	{NULL, NULL},
};

static char *slurp(const char *path, size_t *len)
{
	struct strbuf sb = STRBUF_INIT;
	char buf[8192];
	size_t n;
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		strbuf_add(&sb, buf, n);
	fclose(f);
	return strbuf_detach(&sb, len);
}

static struct ivalue *parse(const char *json)
{
	struct itest_err err = ITEST_ERR_INIT;
	struct ivalue *v = json_parse(json, strlen(json), NULL, &err);
	if (!v)
		fail_msg("bad test JSON: %s", err.msg);
	return v;
}

static int nodes_match(const struct jp_nodes *nl, const struct ivalue *want)
{
	if (!want || want->type != IV_ARR || want->u.arr.n != nl->n)
		return 0;
	for (size_t i = 0; i < nl->n; i++)
		if (!iv_equal(nl->v[i], want->u.arr.v[i]))
			return 0;
	return 1;
}

static const char *skip_reason(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(cts_skip); i++)
		if (cts_skip[i].name && !strcmp(cts_skip[i].name, name))
			return cts_skip[i].why;
	return NULL;
}

/* Runs one CTS case; returns 1 if it passes. */
static int cts_case(const struct ivalue *t)
{
	const char *name = iv_strval(iv_get(t, "name"));
	const struct ivalue *sel = iv_get(t, "selector");
	const struct ivalue *inv = iv_get(t, "invalid_selector");
	struct itest_err err = ITEST_ERR_INIT;
	struct jp_nodes nl = {0};
	struct jsonpath *p;
	int ok = 0;

	assert_non_null(name);
	assert_non_null(sel);
	/* a selector with a NUL in it cannot be a C string: it reaches the
	 * compiler cut short, which must still reject it */
	p = jsonpath_compile(sel->u.str.s, &err);
	if (inv && inv->type == IV_BOOL && inv->u.b) {
		if (p) {
			fprintf(stderr, "cts FAIL %s: '%s' compiled\n", name,
				sel->u.str.s);
			jsonpath_free(p);
			return 0;
		}
		if (strncmp(err.msg, "invalid JSONPath '", 18) != 0) {
			fprintf(stderr, "cts FAIL %s: message '%s'\n", name,
				err.msg);
			return 0;
		}
		return 1;
	}
	if (!p) {
		fprintf(stderr, "cts FAIL %s: %s\n", name, err.msg);
		return 0;
	}
	jsonpath_eval(p, iv_get(t, "document"), &nl);
	const struct ivalue *res = iv_get(t, "result");
	const struct ivalue *alts = iv_get(t, "results");
	if (res) {
		ok = nodes_match(&nl, res);
	} else if (alts && alts->type == IV_ARR) {
		for (size_t i = 0; i < alts->u.arr.n && !ok; i++)
			ok = nodes_match(&nl, alts->u.arr.v[i]);
	}
	if (!ok) {
		struct strbuf sb = STRBUF_INIT;
		for (size_t i = 0; i < nl.n; i++) {
			strbuf_addstr(&sb, i ? ", " : "");
			json_emit(&sb, nl.v[i], 0);
		}
		fprintf(stderr, "cts FAIL %s: '%s' gave [%s]\n", name,
			sel->u.str.s, sb.buf);
		strbuf_release(&sb);
	}
	jp_nodes_release(&nl);
	jsonpath_free(p);
	return ok;
}

static void test_cts(void **state)
{
	struct itest_err err = ITEST_ERR_INIT;
	size_t len, checked = 0, failed = 0, skipped = 0;
	char *text = slurp(CTS_PATH, &len);
	(void)state;
	if (!text)
		fail_msg("cannot read %s (run from the repository root)",
			 CTS_PATH);
	struct ivalue *doc = json_parse(text, len, NULL, &err);
	free(text);
	if (!doc)
		fail_msg("%s: %d:%d: %s", CTS_PATH, err.loc.line, err.loc.col,
			 err.msg);
	const struct ivalue *tests = iv_get(doc, "tests");
	assert_true(iv_is(tests, IV_ARR));
	assert_true(tests->u.arr.n > 500);
	for (size_t i = 0; i < tests->u.arr.n; i++) {
		const struct ivalue *t = tests->u.arr.v[i];
		const char *why = skip_reason(iv_strval(iv_get(t, "name")));
		if (why) {
			fprintf(stderr, "cts skip %s: %s\n",
				iv_strval(iv_get(t, "name")), why);
			skipped++;
			continue;
		}
		checked++;
		if (!cts_case(t))
			failed++;
	}
	printf("jsonpath-cts: %zu cases checked, %zu failed, %zu skipped\n",
	       checked, failed, skipped);
	size_t total = tests->u.arr.n;
	iv_free(doc);
	assert_int_equal(failed, 0);
	assert_int_equal(checked + skipped, total);
}

/* Evaluates `expr` on `json` and returns the node list as compact JSON. */
static char *run(const char *expr, const char *json)
{
	struct itest_err err = ITEST_ERR_INIT;
	struct jsonpath *p = jsonpath_compile(expr, &err);
	struct jp_nodes nl = {0};
	struct strbuf sb = STRBUF_INIT;
	if (!p)
		fail_msg("'%s' did not compile: %s", expr, err.msg);
	struct ivalue *doc = parse(json);
	jsonpath_eval(p, doc, &nl);
	strbuf_addch(&sb, '[');
	for (size_t i = 0; i < nl.n; i++) {
		if (i)
			strbuf_addch(&sb, ',');
		json_emit(&sb, nl.v[i], 0);
	}
	strbuf_addch(&sb, ']');
	jp_nodes_release(&nl);
	iv_free(doc);
	jsonpath_free(p);
	return strbuf_detach(&sb, NULL);
}

static void check_run(const char *expr, const char *json, const char *want)
{
	char *got = run(expr, json);
	if (strcmp(got, want) != 0) {
		fprintf(stderr, "%s on %s: got %s, want %s\n", expr, json, got,
			want);
		free(got);
		fail();
	}
	free(got);
}

/* Compiles `expr`, which must fail with a message containing `part`. */
static void check_error(const char *expr, const char *part)
{
	struct itest_err err = ITEST_ERR_INIT;
	struct jsonpath *p = jsonpath_compile(expr, &err);
	if (p) {
		jsonpath_free(p);
		fail_msg("'%s' compiled", expr);
	}
	assert_true(err.set);
	assert_null(err.loc.src);
	if (!strstr(err.msg, part))
		fail_msg("'%s': message '%s' lacks '%s'", expr, err.msg, part);
}

static void test_singular(void **state)
{
	static const struct {
		const char *expr;
		int singular;
	} cases[] = {
		{"$", 1},	  {"$.a", 1},
		{"$['a']", 1},	  {"$[0]", 1},
		{"$[-1]", 1},	  {"$.a[0].b", 1},
		{"$ .a [1]", 1},  {"$['a\\u0000b']", 1},
		{"$.*", 0},	  {"$[*]", 0},
		{"$..a", 0},	  {"$['a','b']", 0},
		{"$[0,1]", 0},	  {"$[0:1]", 0},
		{"$[?@]", 0},	  {"$.a..b", 0},
		{"$.a[0][*]", 0}, {"$[ 'a' ]", 0},
		{"$['a' ]", 0},	  {"$[\n0]", 0},
		{"$.a [0]", 1},
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct itest_err err = ITEST_ERR_INIT;
		struct jsonpath *p = jsonpath_compile(cases[i].expr, &err);
		if (!p)
			fail_msg("'%s': %s", cases[i].expr, err.msg);
		if (jsonpath_is_singular(p) != cases[i].singular)
			fail_msg("'%s': singular should be %d", cases[i].expr,
				 cases[i].singular);
		jsonpath_free(p);
	}
}

static void test_error_messages(void **state)
{
	struct itest_err err = ITEST_ERR_INIT;
	(void)state;
	assert_null(jsonpath_compile("$.a[", &err));
	assert_string_equal(err.msg, "invalid JSONPath '$.a[': expected a "
				     "selector, found end of expression at "
				     "offset 4");
	check_error("a", "expected '$', found 'a' at offset 0");
	check_error("$ ", "found blank space at offset 1");
	check_error("$.a.", "at offset 4");
	check_error("$[01]", "leading zeros are not allowed at offset 2");
	check_error("$[9007199254740992]", "integer out of range at offset 2");
	check_error("$[-9007199254740992]", "integer out of range");
	check_error("$['\\x']", "invalid escape in string at offset 3");
	check_error("$['\\ud800']", "high surrogate without a low one");
	check_error("$['\\udc00']", "lone low surrogate");
	check_error("$[?@.a]]", "at offset 7");
	/* well-typedness (RFC 9535 2.4.3) is checked at compile time */
	check_error("$[?@.* == 1]", "non-singular query is not comparable");
	check_error("$[?@..a == 1]", "non-singular query");
	/* the singular-query grammar has no blank space inside brackets */
	check_error("$[?@[ 'a' ] == 1]", "non-singular query");
	check_error("$[?@[0 ] == 1]", "non-singular query");
	check_error("$[?length(@['a' ]) == 1]", "must be a singular query");
	check_error("$[?length(@.*) == 1]",
		    "argument 1 of length() must be a singular query");
	check_error("$[?length(@)]", "length() yields a value");
	check_error("$[?count(1) == 1]", "argument 1 of count() must be a "
					 "query");
	check_error("$[?match(@.a, 'x') == true]",
		    "match() yields a logical result");
	check_error("$[?value(@..a)]", "value() yields a value");
	check_error("$[?count(@.*, 1) == 1]",
		    "count() takes 1 argument, not 2");
	check_error("$[?foo(@) == 1]", "unknown function 'foo' at offset 3");
	check_error("$[?true]", "a literal is not a test expression");
	check_error("$[?length (@) == 1]", "at offset 9");
	check_error("$[?@.a == 01]", "leading zeros");
	check_error("$[?@.a == 1.]", "expected a digit after '.'");
	check_error("$[?!@.a == 1]", "at offset 8");
	check_error("$[?@.a = 1]", "'=' is not an operator: use '==' at "
				   "offset 7");
	check_error("$..", "expected a member name, '*' or '['");
	check_error("$.\xff", "expected a member name or '*', found byte 0xff");
	check_error("$['\xc0\xaf']", "invalid UTF-8 at offset 3");
}

static void test_long_expression_message(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	struct itest_err err = ITEST_ERR_INIT;
	(void)state;
	strbuf_addstr(&sb, "$");
	for (int i = 0; i < 100; i++)
		strbuf_addstr(&sb, ".abcd");
	strbuf_addstr(&sb, ".1");
	for (int i = 0; i < 100; i++)
		strbuf_addstr(&sb, ".efgh");
	assert_null(jsonpath_compile(sb.buf, &err));
	/* the expression is cut to a window around the error */
	assert_true(strlen(err.msg) < 200);
	assert_non_null(strstr(err.msg, "invalid JSONPath '..."));
	assert_non_null(strstr(err.msg, "abcd.1.efgh"));
	assert_non_null(strstr(err.msg, "...': expected a member name or '*', "
					"found '1' at offset 502"));
	strbuf_release(&sb);

	/* control characters are shown escaped */
	err_clear(&err);
	assert_null(jsonpath_compile("$['a\n']", &err));
	assert_string_equal(err.msg, "invalid JSONPath '$['a\\x0a']': control "
				     "character in string at offset 4");
}

static void test_selectors(void **state)
{
	const char *arr = "[0,1,2,3,4,5,6,7,8,9]";
	(void)state;
	check_run("$[1:3]", arr, "[1,2]");
	check_run("$[::-3]", arr, "[9,6,3,0]");
	check_run("$[-2:]", arr, "[8,9]");
	check_run("$[7:2:-2]", arr, "[7,5,3]");
	check_run("$[-100:100:4]", arr, "[0,4,8]");
	check_run("$[::0]", arr, "[]");
	check_run("$[9007199254740991:]", arr, "[]");
	check_run("$[:-9007199254740991:-1]", arr, "[9,8,7,6,5,4,3,2,1,0]");
	check_run("$[0,0,-1]", arr, "[0,0,9]");
	check_run("$[1:3,*,5]", "[10,11,12]", "[11,12,10,11,12]");
	check_run("$[-4]", "[1,2,3]", "[]");
	check_run("$.a", "[1]", "[]");
	check_run("$[0]", "{\"0\":1}", "[]");
	/* member order is the document's */
	check_run("$.*", "{\"b\":1,\"a\":2}", "[1,2]");
	check_run("$['a\\u0000b']", "{\"a\\u0000b\":1,\"a\":2}", "[1]");
	check_run("$[\"\\ud834\\udd1e\"]", "{\"\xf0\x9d\x84\x9e\":1}", "[1]");
	check_run("$.\xc3\xa9t\xc3\xa9", "{\"\xc3\xa9t\xc3\xa9\":true}",
		  "[true]");
	/* descendants: the node, then its descendants, pre-order */
	check_run("$..a", "{\"a\":{\"a\":1},\"b\":[{\"a\":2}]}",
		  "[{\"a\":1},1,2]");
	check_run("$..[0]", "[[1,[2]],3]", "[[1,[2]],1,2]");
	check_run("$..*", "{\"x\":[1,{\"y\":2}],\"z\":3}",
		  "[[1,{\"y\":2}],3,1,{\"y\":2},2]");
}

static void test_filters(void **state)
{
	(void)state;
	/* numbers by value and exact beyond 2^53 */
	check_run("$[?@ == 1]", "[1, 1.0, 10e-1, \"1\", true]",
		  "[1,1.0,10e-1]");
	check_run("$[?@ == 9007199254740993]",
		  "[9007199254740992, 9007199254740993]", "[9007199254740993]");
	check_run("$[?@ == -0]", "[0, -0, 0.0, 1]", "[0,-0,0.0]");
	check_run("$[?@ > 1e2]", "[99, 100, 101, 1E2]", "[101]");
	check_run("$[?@ < 1e400]", "[1e308]", "[1e308]");
	check_run("$[?@ < 0.3]", "[0.1, 0.2, 0.30000000000000004, 0.3]",
		  "[0.1,0.2]");
	/* strings by Unicode scalar value */
	check_run("$[?@ < 'b']", "[\"a\",\"b\",\"\xc3\xa9\",\"B\",\"ab\"]",
		  "[\"a\",\"B\",\"ab\"]");
	check_run("$[?@ > '\xef\xbf\xbf']", "[\"\xf0\x9f\x98\x80\",\"z\"]",
		  "[\"\xf0\x9f\x98\x80\"]");
	/* nothing compared with nothing */
	check_run("$[?@.x == @.y]", "[{}, {\"x\":1}, {\"x\":1,\"y\":1}]",
		  "[{},{\"x\":1,\"y\":1}]");
	check_run("$[?@.x <= @.y]", "[{}, {\"x\":1}]", "[{}]");
	check_run("$[?@.x < @.y]", "[{}]", "[]");
	check_run("$[?@.x != 1]", "[{}, {\"x\":1}, {\"x\":2}]",
		  "[{},{\"x\":2}]");
	/* deep equality of containers, member order aside */
	check_run("$[?@ == $[0]]",
		  "[{\"a\":[1,{\"b\":2}],\"c\":null},"
		  "{\"c\":null,\"a\":[1,{\"b\":2}]},"
		  "{\"c\":null,\"a\":[1,{\"b\":3}]}]",
		  "[{\"a\":[1,{\"b\":2}],\"c\":null},"
		  "{\"c\":null,\"a\":[1,{\"b\":2}]}]");
	check_run("$[?@ < true]", "[false, true]", "[]");
	check_run("$[?@ >= null]", "[null, 0]", "[null]");
	check_run("$[?true == @.a && null != @.b]",
		  "[{\"a\":true}, {\"a\":true,\"b\":null}, {\"a\":1}]",
		  "[{\"a\":true}]");
	check_run("$[?@.a == false ]", "[{\"a\":false}, {\"a\":0}]",
		  "[{\"a\":false}]");
	/* logic and existence */
	check_run("$[?@.a && !@.b || @.c]",
		  "[{\"a\":1},{\"a\":1,\"b\":1},{\"c\":false},{}]",
		  "[{\"a\":1},{\"c\":false}]");
	check_run("$[?!(@.a == 1)]", "[{\"a\":1},{\"a\":2},{}]",
		  "[{\"a\":2},{}]");
	check_run("$[?@[ 'a' ]]", "[{\"a\":1}, {}]", "[{\"a\":1}]");
	check_run("$[?@ .a [0] == 5]", "[{\"a\":[5]}, {\"a\":5}]",
		  "[{\"a\":[5]}]");
	check_run("$[?@.*]", "[[], [0], {}, {\"k\":null}, 5]",
		  "[[0],{\"k\":null}]");
	check_run("$.a[?@ > $.min]", "{\"a\":[1,5,9],\"min\":4}", "[5,9]");
	check_run("$[?@[?@ > 2]]", "[[1,2],[3],[]]", "[[3]]");
	/* functions */
	check_run("$[?length(@) == 2]",
		  "[\"ab\", \"\xc3\xa9\xc3\xa9\", [1,2], {\"a\":1,\"b\":2}, 2, "
		  "\"abc\"]",
		  "[\"ab\",\"\xc3\xa9\xc3\xa9\",[1,2],{\"a\":1,\"b\":2}]");
	check_run("$[?count(@..*) == 3]", "[[1,[2]], [1,2,3], [1]]",
		  "[[1,[2]],[1,2,3]]");
	check_run("$[?value(@..x) == 1]",
		  "[{\"x\":1}, {\"x\":1,\"y\":{\"x\":1}}]", "[{\"x\":1}]");
	check_run("$[?length(value(@.a)) == 3]", "[{\"a\":\"abc\"},{\"a\":[]}]",
		  "[{\"a\":\"abc\"}]");
}

static void test_regex(void **state)
{
	(void)state;
	check_run("$[?match(@, 'a.c')]",
		  "[\"abc\", \"a\\nc\", \"a\\rc\", "
		  "\"a\xe2\x80\xa8"
		  "c\", \"xabc\"]",
		  "[\"abc\",\"a\xe2\x80\xa8"
		  "c\"]");
	check_run("$[?search(@, 'b.')]", "[\"abc\", \"ab\", \"xbyz\", 1]",
		  "[\"abc\",\"xbyz\"]");
	/* match is anchored at both ends: no match before a final newline */
	check_run("$[?match(@, 'ab')]", "[\"ab\", \"ab\\n\", \"abab\"]",
		  "[\"ab\"]");
	/* '^' and '$' anchor (as the CTS wants), at the string's ends only */
	check_run("$[?match(@, '^a$')]", "[\"a\", \"^a$\"]", "[\"a\"]");
	check_run("$[?search(@, 'b$')]",
		  "[\"ab\", \"ab\\n\", \"b\\nb\", \"ba\"]",
		  "[\"ab\",\"b\\nb\"]");
	check_run("$[?search(@, '^b')]", "[\"a\\nb\", \"ba\"]", "[\"ba\"]");
	check_run("$[?search(@, '^*a')]", "[\"a\"]", "[]");
	/* PCRE metacharacters that are literal in I-Regexp */
	check_run("$[?match(@, 'a#b c')]", "[\"a#b c\", \"ab\"]",
		  "[\"a#b c\"]");
	check_run("$[?match(@, '[a-c]{2,3}\\\\.x?')]",
		  "[\"ab.\", \"abcx\", \"abc.x\", \"a.\"]",
		  "[\"ab.\",\"abc.x\"]");
	check_run("$[?match(@, '\\\\p{Lu}\\\\P{Lu}+')]",
		  "[\"Ab\", \"ab\", \"\xc3\x89t\xc3\xa9\", \"AB\"]",
		  "[\"Ab\",\"\xc3\x89t\xc3\xa9\"]");
	check_run("$[?match(@, '[^-a]')]", "[\"-\", \"a\", \"b\"]", "[\"b\"]");
	/* invalid I-Regexps yield false, not an error */
	check_run("$[?match(@, 'a**')]", "[\"a\", \"aa\"]", "[]");
	check_run("$[?!search(@, '\\\\d')]", "[\"1\"]", "[\"1\"]");
	check_run("$[?search(@, '(?i)a')]", "[\"A\"]", "[]");
	check_run("$[?search(@, 'a{,2}')]", "[\"a\"]", "[]");
	/* a regex taken from the document is compiled at run time */
	check_run("$.v[?match(@, $.re)]",
		  "{\"re\":\"x+y\",\"v\":[\"xxy\",\"xy\",\"y\",\"xyx\"]}",
		  "[\"xxy\",\"xy\"]");
	check_run("$.v[?match(@, $.re)]", "{\"re\":\"(\",\"v\":[\"(\"]}", "[]");
	check_run("$.v[?match(@, $.re)]", "{\"re\":5,\"v\":[\"5\"]}", "[]");
	check_run("$[?match(@.s, @.r)]",
		  "[{\"s\":\"aa\",\"r\":\"a*\"},{\"s\":\"ab\",\"r\":\"a*\"}]",
		  "[{\"s\":\"aa\",\"r\":\"a*\"}]");
}

static void test_nesting_limit(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	struct itest_err err = ITEST_ERR_INIT;
	struct jsonpath *p;
	(void)state;
	/* 60 parentheses are fine, 100 are refused, not a stack overflow */
	strbuf_addstr(&sb, "$[?");
	for (int i = 0; i < 60; i++)
		strbuf_addch(&sb, '(');
	strbuf_addstr(&sb, "@.a");
	for (int i = 0; i < 60; i++)
		strbuf_addch(&sb, ')');
	strbuf_addch(&sb, ']');
	p = jsonpath_compile(sb.buf, &err);
	assert_non_null(p);
	jsonpath_free(p);
	strbuf_reset(&sb);
	strbuf_addstr(&sb, "$[?");
	for (int i = 0; i < 100000; i++)
		strbuf_addstr(&sb, "!(");
	assert_null(jsonpath_compile(sb.buf, &err));
	assert_non_null(strstr(err.msg, "expression nested too deeply"));
	strbuf_reset(&sb);
	err_clear(&err);
	strbuf_addstr(&sb, "$[?");
	for (int i = 0; i < 100; i++)
		strbuf_addstr(&sb, "@[?");
	assert_null(jsonpath_compile(sb.buf, &err));
	assert_non_null(strstr(err.msg, "expression nested too deeply"));

	/* a long flat chain is not nesting */
	strbuf_reset(&sb);
	strbuf_addstr(&sb, "$[?@.x");
	for (int i = 0; i < 20000; i++)
		strbuf_addstr(&sb, i % 2 ? " || @.x" : " && @.y");
	strbuf_addch(&sb, ']');
	char *got = run(sb.buf, "[{\"x\":1},{\"y\":1}]");
	assert_string_equal(got, "[{\"x\":1}]");
	free(got);
	strbuf_release(&sb);
}

static void test_deep_document(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	(void)state;
	for (int i = 0; i < 250; i++)
		strbuf_addstr(&sb, "{\"a\":[");
	strbuf_addstr(&sb, "7");
	for (int i = 0; i < 250; i++)
		strbuf_addstr(&sb, "]}");
	char *got = run("$..[?@ == 7]", sb.buf);
	assert_string_equal(got, "[7]");
	free(got);
	struct itest_err err = ITEST_ERR_INIT;
	struct jsonpath *p = jsonpath_compile("$..*", &err);
	struct ivalue *doc = parse(sb.buf);
	struct jp_nodes nl = {0};
	jsonpath_eval(p, doc, &nl);
	assert_int_equal(nl.n, 500);
	/* eval appends */
	jsonpath_eval(p, doc, &nl);
	assert_int_equal(nl.n, 1000);
	assert_ptr_equal(nl.v[999], nl.v[499]);
	jp_nodes_release(&nl);
	assert_null(nl.v);
	iv_free(doc);
	jsonpath_free(p);
	strbuf_release(&sb);
}

struct share {
	const struct jsonpath *p;
	const struct ivalue *doc;
	size_t want;
	int bad;
};

static void *share_worker(void *arg)
{
	struct share *s = arg;
	for (int i = 0; i < 300; i++) {
		struct jp_nodes nl = {0};
		jsonpath_eval(s->p, s->doc, &nl);
		if (nl.n != s->want)
			s->bad = 1;
		jp_nodes_release(&nl);
	}
	return NULL;
}

static void test_shared_between_threads(void **state)
{
	struct itest_err err = ITEST_ERR_INIT;
	struct jsonpath *p = jsonpath_compile(
		"$..[?match(@.name, 'it[a-z]+') && length(@.tags) >= 2 || "
		"search(@.name, $.pat)]",
		&err);
	struct ivalue *doc =
		parse("{\"pat\":\"z$\",\"items\":["
		      "{\"name\":\"item\",\"tags\":[1,2]},"
		      "{\"name\":\"itx\",\"tags\":[1]},"
		      "{\"name\":\"^xyz\"},"
		      "{\"sub\":{\"name\":\"itemz\",\"tags\":\"ab\"}}]}");
	struct share s[4];
	pthread_t th[4];
	struct jp_nodes nl = {0};
	(void)state;
	assert_non_null(p);
	jsonpath_eval(p, doc, &nl);
	assert_int_equal(nl.n, 3);
	for (int i = 0; i < 4; i++) {
		s[i] = (struct share){p, doc, nl.n, 0};
		assert_int_equal(
			pthread_create(&th[i], NULL, share_worker, &s[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(s[i].bad, 0);
	}
	jp_nodes_release(&nl);
	iv_free(doc);
	jsonpath_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cts),
		cmocka_unit_test(test_singular),
		cmocka_unit_test(test_error_messages),
		cmocka_unit_test(test_long_expression_message),
		cmocka_unit_test(test_selectors),
		cmocka_unit_test(test_filters),
		cmocka_unit_test(test_regex),
		cmocka_unit_test(test_nesting_limit),
		cmocka_unit_test(test_deep_document),
		cmocka_unit_test(test_shared_between_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
