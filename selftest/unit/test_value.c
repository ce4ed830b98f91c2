/*
 * Unit tests of runner/value.c: JSON parsing and emission (exact numbers,
 * escapes, errors with line and column, the depth cap), equality, and the
 * tree operations (clone, set, delete) and number texts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "value.h"

static struct ivalue *parse(const char *json)
{
	struct itest_err err = ITEST_ERR_INIT;
	struct ivalue *v = json_parse(json, strlen(json), NULL, &err);
	if (!v)
		fail_msg("'%s': %s", json, err.msg);
	return v;
}

/* Parses `json` and checks its compact emission against `want`. */
static void check_emit(const char *json, const char *want)
{
	struct ivalue *v = parse(json);
	struct strbuf sb = STRBUF_INIT;
	json_emit(&sb, v, 0);
	if (strcmp(sb.buf, want) != 0)
		fail_msg("'%s' emitted as '%s', want '%s'", json, sb.buf, want);
	/* and what was emitted reads back to an equal value */
	struct ivalue *again = parse(sb.buf);
	assert_true(iv_equal(v, again));
	iv_free(again);
	strbuf_release(&sb);
	iv_free(v);
}

/* Parses `json`, which must fail at line:col with exactly `msg`. */
static void check_error(const char *json, size_t len, int line, int col,
			const char *msg)
{
	struct itest_src src = {(char *)"body.json", NULL, 0, 0};
	struct itest_err err = ITEST_ERR_INIT;
	assert_null(json_parse(json, len, &src, &err));
	assert_true(err.set);
	assert_ptr_equal(err.loc.src, &src);
	if (err.loc.line != line || err.loc.col != col ||
	    strcmp(err.msg, msg) != 0)
		fail_msg("'%s': got %d:%d '%s', want %d:%d '%s'", json,
			 err.loc.line, err.loc.col, err.msg, line, col, msg);
}

static void test_round_trip(void **state)
{
	const char *doc = "{\"a\":[1,2.5,-3e-2,true,false,null],"
			  "\"b\":{\"c\":\"d\",\"e\":{}},\"f\":[],\"g\":\"\"}";
	struct strbuf sb = STRBUF_INIT;
	(void)state;
	check_emit(doc, doc);
	check_emit(" \t\r\n[ 1 , { \"x\" : [ ] } ]\n", "[1,{\"x\":[]}]");
	check_emit("\xef\xbb\xbf\"bom\"", "\"bom\"");
	/* member order is kept; a duplicate key: the last wins, in place */
	check_emit("{\"z\":1,\"a\":2,\"z\":3}", "{\"z\":3,\"a\":2}");

	struct ivalue *v = parse("{\"a\":[1,{\"b\":null}],\"c\":{}}");
	json_emit(&sb, v, 2);
	assert_string_equal(sb.buf, "{\n"
				    "  \"a\": [\n"
				    "    1,\n"
				    "    {\n"
				    "      \"b\": null\n"
				    "    }\n"
				    "  ],\n"
				    "  \"c\": {}\n"
				    "}");
	iv_free(v);
	strbuf_release(&sb);
}

static void test_numbers_exact(void **state)
{
	(void)state;
	/* beyond 2^53 an integer stays exact through parse and emit */
	check_emit("[9007199254740993,-9223372036854775808,"
		   "18446744073709551616]",
		   "[9007199254740993,-9223372036854775808,"
		   "18446744073709551616]");
	struct ivalue *a = parse("9007199254740993");
	struct ivalue *b = parse("9007199254740992");
	struct ivalue *c = parse("9007199254740992.0");
	assert_true(a->flags & IVF_INT);
	assert_true(a->u.num.i == INT64_C(9007199254740993));
	assert_false(iv_equal(a, b));
	assert_int_equal(iv_num_cmp(a, b), 1);
	/* an exact integer against a double of nearly the same value */
	assert_false(iv_equal(a, c));
	assert_int_equal(iv_num_cmp(a, c), 1);
	assert_int_equal(iv_num_cmp(c, a), -1);
	assert_true(iv_equal(b, c));
	iv_free(a);
	iv_free(b);
	iv_free(c);

	/* -0, 1.0 == 1, 0.1, huge exponents; texts kept as written */
	check_emit("[-0,1.0,0.1,1E2,1e400,-1e400]",
		   "[-0,1.0,0.1,1E2,1e400,-1e400]");
	a = parse("-0");
	b = parse("0");
	assert_true(iv_equal(a, b));
	assert_true(signbit(a->u.num.d));
	iv_free(a);
	iv_free(b);
	a = parse("1.0");
	b = parse("1");
	assert_true(iv_equal(a, b));
	assert_string_equal(iv_kind(a), "integer");
	iv_free(b);
	b = parse("1.5");
	assert_string_equal(iv_kind(b), "number");
	assert_int_equal(iv_num_cmp(a, b), -1);
	iv_free(a);
	iv_free(b);
	a = parse("0.1");
	assert_true(a->u.num.d == 0.1);
	assert_false(a->flags & IVF_INT);
	iv_free(a);
	a = parse("1e400");
	b = parse("-1e400");
	assert_true(isinf(a->u.num.d) && a->u.num.d > 0);
	assert_int_equal(iv_num_cmp(b, a), -1);
	iv_free(a);
	iv_free(b);

	/* bad numbers */
	check_error("01", 2, 1, 2,
		    "invalid JSON: trailing characters after "
		    "the value");
	check_error("[1.]", 4, 1, 2, "invalid JSON: bad number");
	check_error("-", 1, 1, 1, "invalid JSON: bad number");
	check_error("[.5]", 4, 1, 2, "invalid JSON: unexpected character");
	check_error("+1", 2, 1, 1, "invalid JSON: unexpected character");
}

static void test_num_text(void **state)
{
	static const struct {
		const char *text, *json;
	} cases[] = {
		{"0x1F", "31"},	   {"0o17", "15"},   {"+5", "5"},
		{".5", "0.5"},	   {"5.", "5"},	     {"-.5", "-0.5"},
		{"007", "7"},	   {"1e3", "1e3"},   {".inf", "null"},
		{"-.Inf", "null"}, {".nan", "null"},
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct ivalue *v =
			iv_num_text(cases[i].text, strlen(cases[i].text));
		struct strbuf sb = STRBUF_INIT;
		assert_non_null(v);
		/* whatever the YAML spelling, the JSON is valid */
		json_emit(&sb, v, 0);
		if (strcmp(sb.buf, cases[i].json) != 0)
			fail_msg("'%s' emitted as '%s', want '%s'",
				 cases[i].text, sb.buf, cases[i].json);
		strbuf_release(&sb);
		iv_free(v);
	}
	assert_null(iv_num_text("abc", 3));
	assert_null(iv_num_text("1e", 2));
	assert_null(iv_num_text("", 0));
	assert_null(iv_num_text("0x", 2));
	assert_null(iv_num_text("0xFFFFFFFFFFFFFFFFF", 19));
	struct ivalue *nan = iv_num_text(".nan", 4);
	assert_int_equal(iv_num_cmp(nan, nan), 2);
	assert_false(iv_equal(nan, nan));
	iv_free(nan);
}

static void test_double_text(void **state)
{
	static const struct {
		double d;
		const char *text;
		int is_int;
	} cases[] = {
		{0.1, "0.1", 0},
		{2.5, "2.5", 0},
		{3.0, "3", 1},
		{-0.0, "0", 1},
		{1.0 / 3, "0.3333333333333333", 0},
		{0.1 + 0.2, "0.30000000000000004", 0},
		{1e21, "1e+21", 0},
		{5e-324, "5e-324", 0},
		{9007199254740991.0, "9007199254740991", 1},
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct ivalue *v = iv_double(cases[i].d);
		if (strcmp(v->u.num.text, cases[i].text) != 0)
			fail_msg("%.17g: text '%s', want '%s'", cases[i].d,
				 v->u.num.text, cases[i].text);
		assert_int_equal(!!(v->flags & IVF_INT), cases[i].is_int);
		assert_true(v->u.num.d == cases[i].d);
		iv_free(v);
	}
	struct ivalue *inf = iv_double(INFINITY);
	struct strbuf sb = STRBUF_INIT;
	json_emit(&sb, inf, 0);
	assert_string_equal(sb.buf, "null");
	strbuf_release(&sb);
	iv_free(inf);
	struct ivalue *i = iv_int(INT64_MIN);
	assert_string_equal(i->u.num.text, "-9223372036854775808");
	iv_free(i);
}

static void test_strings(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	(void)state;
	struct ivalue *v = parse("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9"
				 "\\ud83d\\ude00\\u20AC\"");
	assert_int_equal(v->type, IV_STR);
	assert_int_equal(v->u.str.len, 8 + 2 + 4 + 3);
	assert_memory_equal(
		v->u.str.s,
		"\"\\/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80\xe2\x82\xac", 17);
	json_emit(&sb, v, 0);
	assert_string_equal(sb.buf, "\"\\\"\\\\/\\b\\f\\n\\r\\t\xc3\xa9"
				    "\xf0\x9f\x98\x80\xe2\x82\xac\"");
	strbuf_release(&sb);
	iv_free(v);

	/* NUL inside a string and inside a key */
	v = parse("{\"k\\u0000\":\"a\\u0000b\",\"k\":1}");
	assert_int_equal(v->u.obj.n, 2);
	assert_int_equal(v->u.obj.m[0].klen, 2);
	assert_memory_equal(v->u.obj.m[0].key, "k\0", 3);
	const struct ivalue *s = iv_getn(v, "k\0", 2);
	assert_non_null(s);
	assert_int_equal(s->u.str.len, 3);
	assert_memory_equal(s->u.str.s, "a\0b", 4);
	assert_int_equal(iv_get(v, "k")->type, IV_NUM);
	json_emit(&sb, v, 0);
	assert_string_equal(sb.buf, "{\"k\\u0000\":\"a\\u0000b\",\"k\":1}");
	strbuf_release(&sb);
	iv_free(v);

	/* other control characters come back escaped */
	check_emit("\"\\u0001\\u001f\\u007f\"", "\"\\u0001\\u001f\x7f\"");

	check_error("\"\\ud800\"", 8, 1, 8,
		    "invalid JSON: lone surrogate in string");
	check_error("\"\\udc00x\"", 9, 1, 8,
		    "invalid JSON: lone surrogate in string");
	check_error("\"\\u12G4\"", 8, 1, 4, "invalid JSON: bad \\u escape");
	check_error("\"\\x\"", 4, 1, 3, "invalid JSON: bad escape in string");
	check_error("\"a\nb\"", 5, 1, 3,
		    "invalid JSON: control character in string");
	check_error("\"abc", 4, 1, 5,
		    "invalid JSON: unterminated string at end of input");
	/* a NUL byte in the text (not escaped) is a control character */
	check_error("\"a\0\"", 4, 1, 3,
		    "invalid JSON: control character in string");
}

static void test_errors(void **state)
{
	(void)state;
	check_error("{\"a\":1,}", 8, 1, 8, "invalid JSON: trailing ','");
	check_error("[1,2,]", 6, 1, 6, "invalid JSON: trailing ','");
	check_error("{\"a\" 1}", 7, 1, 6, "invalid JSON: expected ':'");
	check_error("{1:2}", 5, 1, 2, "invalid JSON: expected a string key");
	check_error("[1 2]", 5, 1, 4, "invalid JSON: expected ',' or ']'");
	check_error("{\"a\":1 \"b\":2}", 13, 1, 8,
		    "invalid JSON: expected ',' or '}'");
	check_error("[1,\n  2,\n  x]", 13, 3, 3,
		    "invalid JSON: unexpected character");
	/* columns count characters, not bytes */
	check_error("[\"\xc3\xa9\xc3\xa9\", tru]", 13, 1, 8,
		    "invalid JSON: unexpected character");
	check_error("[1] x", 5, 1, 5,
		    "invalid JSON: trailing characters after the value");
	check_error("", 0, 1, 1,
		    "invalid JSON: expected a value at end of "
		    "input");
	check_error("[1,", 3, 1, 4,
		    "invalid JSON: expected a value at end of input");
	check_error("nul", 3, 1, 1, "invalid JSON: unexpected character");
	/* the length bounds the text: what follows is not read */
	check_error("[1]", 2, 1, 3,
		    "invalid JSON: expected ',' or ']' at end of input");
	struct itest_err err = ITEST_ERR_INIT;
	struct ivalue *v = json_parse("[1]trailing", 3, NULL, &err);
	assert_non_null(v);
	assert_null(err.loc.src);
	iv_free(v);
}

static void test_depth_cap(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	struct itest_err err = ITEST_ERR_INIT;
	(void)state;
	for (int i = 0; i < 600; i++)
		strbuf_addch(&sb, '[');
	for (int i = 0; i < 600; i++)
		strbuf_addch(&sb, ']');
	assert_null(json_parse(sb.buf, sb.len, NULL, &err));
	assert_string_equal(err.msg, "invalid JSON: nesting too deep");
	assert_int_equal(err.loc.col, 513);
	/* 512 levels are fine, 513 are not */
	strbuf_reset(&sb);
	for (int i = 0; i < 256; i++)
		strbuf_addstr(&sb, "{\"a\":[");
	for (int i = 0; i < 256; i++)
		strbuf_addstr(&sb, "]}");
	struct ivalue *v = parse(sb.buf);
	iv_free(v);
	strbuf_reset(&sb);
	strbuf_addch(&sb, '[');
	for (int i = 0; i < 256; i++)
		strbuf_addstr(&sb, "{\"a\":[");
	for (int i = 0; i < 256; i++)
		strbuf_addstr(&sb, "]}");
	strbuf_addch(&sb, ']');
	err_clear(&err);
	assert_null(json_parse(sb.buf, sb.len, NULL, &err));
	assert_string_equal(err.msg, "invalid JSON: nesting too deep");
	strbuf_release(&sb);
}

static void test_equal(void **state)
{
	(void)state;
	struct ivalue *a =
		parse("{\"a\":1,\"b\":[1,{\"c\":null}],\"d\":\"x\"}");
	struct ivalue *b = parse("{\"d\":\"x\",\"b\":[1.0,{\"c\":null}],"
				 "\"a\":1e0}");
	struct ivalue *c = parse("{\"d\":\"x\",\"b\":[{\"c\":null},1],"
				 "\"a\":1}");
	struct ivalue *d = parse("{\"a\":1,\"b\":[1,{\"c\":null}]}");
	struct ivalue *e =
		parse("{\"a\":1,\"b\":[1,{\"c\":null}],\"e\":\"x\"}");
	assert_true(iv_equal(a, b));
	assert_true(iv_equal(b, a));
	assert_false(iv_equal(a, c)); /* array order matters */
	assert_false(iv_equal(a, d));
	assert_false(iv_equal(d, a));
	assert_false(iv_equal(a, e));
	assert_false(iv_equal(a, NULL));
	assert_true(iv_equal(NULL, NULL));
	iv_free(a);
	iv_free(b);
	iv_free(c);
	iv_free(d);
	iv_free(e);
	a = parse("[\"1\",1,true,null,\"a\\u0000\"]");
	b = parse("[1,\"1\",1,false,\"a\"]");
	for (size_t i = 0; i < a->u.arr.n; i++)
		assert_false(iv_equal(a->u.arr.v[i], b->u.arr.v[i]));
	iv_free(a);
	iv_free(b);
}

static void test_tree_ops(void **state)
{
	(void)state;
	struct ivalue *o = iv_obj();
	iv_set(o, "a", iv_int(1));
	iv_set(o, "b", iv_str("x"));
	iv_set(o, "c", iv_arr());
	iv_push(iv_get(o, "c"), iv_bool(1));
	iv_push(iv_get(o, "c"), iv_null());
	o->flags = IVF_QUOTED;
	o->loc.line = 7;
	iv_member(o, "b")->kloc.col = 3;

	/* replace keeps the position and the count */
	iv_set(o, "a", iv_str("one"));
	assert_int_equal(o->u.obj.n, 3);
	assert_string_equal(o->u.obj.m[0].key, "a");
	assert_string_equal(iv_strval(iv_get(o, "a")), "one");

	struct ivalue *c = iv_clone(o);
	assert_true(iv_equal(o, c));
	assert_ptr_not_equal(c->u.obj.m[2].val, o->u.obj.m[2].val);
	assert_int_equal(c->flags, IVF_QUOTED);
	assert_int_equal(c->loc.line, 7);
	assert_int_equal(iv_member(c, "b")->kloc.col, 3);
	/* the clone is deep: changing it leaves the original alone */
	iv_push(iv_get(c, "c"), iv_int(3));
	iv_set(c, "b", iv_str("y"));
	assert_false(iv_equal(o, c));
	assert_int_equal(iv_get(o, "c")->u.arr.n, 2);
	assert_string_equal(iv_strval(iv_get(o, "b")), "x");

	/* delete keeps the order of the rest */
	assert_int_equal(iv_del(c, "a"), 0);
	assert_int_equal(iv_del(c, "a"), -1);
	assert_int_equal(iv_del(c, "zz"), -1);
	assert_int_equal(c->u.obj.n, 2);
	assert_string_equal(c->u.obj.m[0].key, "b");
	assert_string_equal(c->u.obj.m[1].key, "c");
	assert_null(iv_get(c, "a"));
	assert_int_equal(iv_del(c, "c"), 0);
	assert_int_equal(iv_del(c, "b"), 0);
	assert_int_equal(c->u.obj.n, 0);
	iv_set(c, "again", iv_null());
	assert_int_equal(c->u.obj.n, 1);

	/* lookups on the wrong type */
	assert_null(iv_get(iv_get(o, "c"), "a"));
	assert_null(iv_get(NULL, "a"));
	assert_null(iv_strval(iv_get(o, "c")));
	assert_int_equal(iv_del(iv_get(o, "c"), "a"), -1);

	struct ivalue *h = iv_obj();
	iv_set(h, "Content-Type", iv_str("text/plain"));
	assert_string_equal(iv_strval(iv_get_nocase(h, "content-type")),
			    "text/plain");
	assert_null(iv_get(h, "content-type"));
	iv_free(h);
	iv_free(c);
	iv_free(o);
	iv_free(NULL);
	assert_null(iv_clone(NULL));
}

static void test_display(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	(void)state;
	struct ivalue *v = parse("[\"a\\\"b\",null,2.50,{\"k\":[]}]");
	for (size_t i = 0; i < v->u.arr.n; i++) {
		strbuf_addch(&sb, '|');
		iv_display(&sb, v->u.arr.v[i]);
	}
	iv_display(&sb, NULL);
	assert_string_equal(sb.buf, "|a\"b|null|2.50|{\"k\":[]}(missing)");
	strbuf_reset(&sb);
	for (size_t i = 0; i < v->u.arr.n; i++) {
		strbuf_addch(&sb, '|');
		iv_to_text(&sb, v->u.arr.v[i]);
	}
	assert_string_equal(sb.buf, "|a\"b||2.50|{\"k\":[]}");
	strbuf_release(&sb);
	iv_free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_numbers_exact),
		cmocka_unit_test(test_num_text),
		cmocka_unit_test(test_double_text),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_depth_cap),
		cmocka_unit_test(test_equal),
		cmocka_unit_test(test_tree_ops),
		cmocka_unit_test(test_display),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
