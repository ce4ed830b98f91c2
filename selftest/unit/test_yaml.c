/*
 * Unit tests of runner/yaml.c: core-schema typing, node and key
 * locations, duplicate keys, anchors, aliases and merges, the expansion
 * cap, documents, libyaml errors and their locations, tags, block
 * scalars, loading a file, and documents kept in an arena.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <unistd.h>

#include "arena.h"
#include "yaml.h"

static char src_path[] = "t.yml";
static const struct itest_src src = {src_path, NULL, 0, 0};

static struct ivalue *parse(const char *text)
{
	struct itest_err err = ITEST_ERR_INIT;
	struct ivalue *v = yaml_parse(text, strlen(text), &src, &err);
	if (!v)
		fail_msg("unexpected error %d:%d: %s", err.loc.line,
			 err.loc.col, err.msg);
	assert_int_equal(err.set, 0);
	return v;
}

/* Parses text that must fail with a message starting with `prefix` at
 * line:col. */
static void expect_error_n(const char *text, size_t len, const char *prefix,
			   int line, int col)
{
	struct itest_err err = ITEST_ERR_INIT;
	struct ivalue *v = yaml_parse(text, len, &src, &err);
	assert_null(v);
	assert_int_equal(err.set, 1);
	if (strncmp(err.msg, prefix, strlen(prefix)) != 0)
		fail_msg("message '%s' does not start with '%s'", err.msg,
			 prefix);
	assert_ptr_equal(err.loc.src, &src);
	if (err.loc.line != line || err.loc.col != col)
		fail_msg("'%s' at %d:%d, expected %d:%d", err.msg, err.loc.line,
			 err.loc.col, line, col);
}

static void expect_error(const char *text, const char *prefix, int line,
			 int col)
{
	expect_error_n(text, strlen(text), prefix, line, col);
}

static void assert_loc(const struct itest_loc *loc, int line, int col)
{
	assert_ptr_equal(loc->src, &src);
	if (loc->line != line || loc->col != col)
		fail_msg("at %d:%d, expected %d:%d", loc->line, loc->col, line,
			 col);
}

static const struct ivalue *get(const struct ivalue *obj, const char *key)
{
	const struct ivalue *v = iv_get(obj, key);
	if (!v)
		fail_msg("no key '%s'", key);
	return v;
}

static void assert_str(const struct ivalue *v, const char *s, int quoted)
{
	assert_int_equal(v->type, IV_STR);
	assert_string_equal(v->u.str.s, s);
	assert_int_equal(v->u.str.len, strlen(s));
	assert_int_equal(!!(v->flags & IVF_QUOTED), quoted);
}

static void assert_int_num(const struct ivalue *v, int64_t i, const char *text)
{
	assert_int_equal(v->type, IV_NUM);
	assert_true(v->flags & IVF_INT);
	assert_true(v->u.num.i == i);
	assert_string_equal(v->u.num.text, text);
}

static void test_core_schema(void **state)
{
	(void)state;
	struct ivalue *v = parse("n1: ~\n"
				 "n2: null\n"
				 "n3: Null\n"
				 "n4: NULL\n"
				 "n5:\n"
				 "b1: true\n"
				 "b2: True\n"
				 "b3: FALSE\n"
				 "b4: false\n"
				 "s1: yes\n"
				 "s2: no\n"
				 "s3: on\n"
				 "s4: off\n"
				 "s5: y\n"
				 "s6: n\n"
				 "s7: 0x\n"
				 "s8: 1_000\n"
				 "s9: -0x1F\n"
				 "s10: nulls\n"
				 "s11: -.nan\n"
				 "s12: 0X1F\n"
				 "s13: 1.2.3\n"
				 "i1: 42\n"
				 "i2: -7\n"
				 "i3: +12\n"
				 "i4: 0x1F\n"
				 "i5: 0o17\n"
				 "i6: 007\n"
				 "f1: 1e3\n"
				 "f2: 3.25\n"
				 "f3: .inf\n"
				 "f4: -.Inf\n"
				 "f5: .NaN\n"
				 "f6: .5\n"
				 "f7: 1.\n"
				 "f8: -.5e2\n"
				 "q1: \"1\"\n"
				 "q2: 'true'\n"
				 "q3: \"null\"\n"
				 "q4: \"\"\n"
				 "big: 9007199254740993\n"
				 "neg: -9223372036854775808\n");
	const char *nulls[] = {"n1", "n2", "n3", "n4", "n5"};
	for (size_t i = 0; i < ARRAY_SIZE(nulls); i++)
		assert_int_equal(get(v, nulls[i])->type, IV_NULL);
	assert_int_equal(get(v, "b1")->type, IV_BOOL);
	assert_int_equal(get(v, "b1")->u.b, 1);
	assert_int_equal(get(v, "b2")->u.b, 1);
	assert_int_equal(get(v, "b3")->type, IV_BOOL);
	assert_int_equal(get(v, "b3")->u.b, 0);
	assert_int_equal(get(v, "b4")->u.b, 0);
	assert_str(get(v, "s1"), "yes", 0);
	assert_str(get(v, "s2"), "no", 0);
	assert_str(get(v, "s3"), "on", 0);
	assert_str(get(v, "s4"), "off", 0);
	assert_str(get(v, "s5"), "y", 0);
	assert_str(get(v, "s6"), "n", 0);
	assert_str(get(v, "s7"), "0x", 0);
	assert_str(get(v, "s8"), "1_000", 0);
	assert_str(get(v, "s9"), "-0x1F", 0);
	assert_str(get(v, "s10"), "nulls", 0);
	assert_str(get(v, "s11"), "-.nan", 0);
	assert_str(get(v, "s12"), "0X1F", 0);
	assert_str(get(v, "s13"), "1.2.3", 0);
	assert_int_num(get(v, "i1"), 42, "42");
	assert_int_num(get(v, "i2"), -7, "-7");
	assert_int_num(get(v, "i3"), 12, "12");
	assert_int_num(get(v, "i4"), 31, "31");
	assert_int_num(get(v, "i5"), 15, "15");
	assert_int_num(get(v, "i6"), 7, "7");
	const struct ivalue *f = get(v, "f1");
	assert_int_equal(f->type, IV_NUM);
	assert_true(f->u.num.d == 1000.0);
	assert_string_equal(f->u.num.text, "1e3");
	f = get(v, "f2");
	assert_true(f->u.num.d == 3.25);
	assert_false(f->flags & IVF_INT);
	assert_string_equal(f->u.num.text, "3.25");
	f = get(v, "f3");
	assert_int_equal(f->type, IV_NUM);
	assert_true(isinf(f->u.num.d) && f->u.num.d > 0);
	f = get(v, "f4");
	assert_true(isinf(f->u.num.d) && f->u.num.d < 0);
	f = get(v, "f5");
	assert_int_equal(f->type, IV_NUM);
	assert_true(isnan(f->u.num.d));
	/* texts JSON would not read are rewritten, digit for digit */
	assert_string_equal(get(v, "f6")->u.num.text, "0.5");
	assert_string_equal(get(v, "f7")->u.num.text, "1");
	assert_string_equal(get(v, "f8")->u.num.text, "-0.5e2");
	assert_true(get(v, "f8")->u.num.d == -50.0);
	assert_str(get(v, "q1"), "1", 1);
	assert_str(get(v, "q2"), "true", 1);
	assert_str(get(v, "q3"), "null", 1);
	assert_str(get(v, "q4"), "", 1);
	assert_int_num(get(v, "big"), 9007199254740993LL, "9007199254740993");
	assert_int_num(get(v, "neg"), INT64_MIN, "-9223372036854775808");
	iv_free(v);

	/* a scalar document */
	v = parse("0x10");
	assert_int_num(v, 16, "16");
	assert_loc(&v->loc, 1, 1);
	iv_free(v);

	expect_error("a: 0xFFFFFFFFFFFFFFFFFF\n", "number '0xFFFF", 1, 4);
}

static void test_tags(void **state)
{
	(void)state;
	struct ivalue *v = parse("s: !!str 12\n"
				 "i: !!int \"12\"\n"
				 "f: !!float 1\n"
				 "b: !!bool \"true\"\n"
				 "n: !!null ''\n"
				 "m: !!map {a: 1}\n"
				 "l: !!seq [1]\n"
				 "x: ! 12\n"
				 "h: !!int 0x10\n");
	assert_str(get(v, "s"), "12", 1);
	assert_int_num(get(v, "i"), 12, "12");
	assert_int_equal(get(v, "f")->type, IV_NUM);
	assert_true(get(v, "f")->u.num.d == 1.0);
	assert_int_equal(get(v, "b")->type, IV_BOOL);
	assert_int_equal(get(v, "b")->u.b, 1);
	assert_int_equal(get(v, "n")->type, IV_NULL);
	assert_int_equal(get(v, "m")->type, IV_OBJ);
	assert_int_equal(get(v, "l")->type, IV_ARR);
	assert_str(get(v, "x"), "12", 1);
	assert_int_num(get(v, "h"), 16, "16");
	iv_free(v);

	expect_error("a: 1\nb: !foo x\n", "unsupported tag '!foo'", 2, 4);
	expect_error("b: !!binary aGk=\n", "unsupported tag '!!binary'", 1, 4);
	expect_error("a:\n  - !!int abc\n", "'abc' is not a valid !!int", 2, 5);
	expect_error("a: !!int 1.5\n", "'1.5' is not a valid !!int", 1, 4);
	expect_error("a: !!float x\n", "'x' is not a valid !!float", 1, 4);
	expect_error("a: !!bool yes\n", "'yes' is not a valid !!bool", 1, 4);
	expect_error("a: !!null 0\n", "'0' is not a valid !!null", 1, 4);
	expect_error("a: !!map 1\n", "scalar with collection tag '!!map'", 1,
		     4);
	expect_error("a: !!seq {b: 1}\n", "map with tag '!!seq'", 1, 4);
	expect_error("a: !!str [1]\n", "list with tag '!!str'", 1, 4);
	expect_error("a: !bar [1]\n", "unsupported tag '!bar'", 1, 4);
}

static void test_locations(void **state)
{
	(void)state;
	struct ivalue *v = parse("name: shop\n"
				 "tests:\n"
				 "  - id: one\n"
				 "    list: [a, {k: v}]\n"
				 "  -   deep:\n"
				 "        x: 1\n");
	assert_loc(&v->loc, 1, 1);
	assert_int_equal(v->u.obj.n, 2);
	assert_string_equal(v->u.obj.m[0].key, "name");
	assert_loc(&v->u.obj.m[0].kloc, 1, 1);
	assert_loc(&v->u.obj.m[0].val->loc, 1, 7);
	assert_string_equal(v->u.obj.m[1].key, "tests");
	assert_loc(&v->u.obj.m[1].kloc, 2, 1);
	const struct ivalue *tests = v->u.obj.m[1].val;
	assert_int_equal(tests->type, IV_ARR);
	assert_loc(&tests->loc, 3, 3);
	const struct ivalue *t0 = tests->u.arr.v[0];
	assert_loc(&t0->loc, 3, 5);
	assert_loc(&t0->u.obj.m[0].kloc, 3, 5);
	assert_loc(&t0->u.obj.m[0].val->loc, 3, 9);
	assert_string_equal(t0->u.obj.m[1].key, "list");
	assert_loc(&t0->u.obj.m[1].kloc, 4, 5);
	const struct ivalue *list = t0->u.obj.m[1].val;
	assert_loc(&list->loc, 4, 11);
	assert_loc(&list->u.arr.v[0]->loc, 4, 12);
	const struct ivalue *fm = list->u.arr.v[1];
	assert_int_equal(fm->type, IV_OBJ);
	assert_loc(&fm->loc, 4, 15);
	assert_loc(&fm->u.obj.m[0].kloc, 4, 16);
	assert_loc(&fm->u.obj.m[0].val->loc, 4, 19);
	const struct ivalue *t1 = tests->u.arr.v[1];
	assert_loc(&t1->loc, 5, 7);
	assert_loc(&t1->u.obj.m[0].kloc, 5, 7);
	const struct ivalue *deep = t1->u.obj.m[0].val;
	assert_loc(&deep->loc, 6, 9);
	assert_loc(&deep->u.obj.m[0].kloc, 6, 9);
	assert_loc(&deep->u.obj.m[0].val->loc, 6, 12);
	iv_free(v);

	/* columns count characters, as libyaml's marks do */
	v = parse("\"\xc3\xa9t\xc3\xa9\": [x]\n");
	assert_loc(&v->u.obj.m[0].val->loc, 1, 8);
	iv_free(v);
}

static void test_keys(void **state)
{
	(void)state;
	struct ivalue *v = parse("1: one\n"
				 "~: tilde\n"
				 "null: word\n"
				 "\"\": empty\n"
				 "true: t\n"
				 "'<<': quoted\n");
	assert_int_equal(v->u.obj.n, 6);
	assert_str(get(v, "1"), "one", 0);
	assert_str(get(v, "~"), "tilde", 0);
	assert_str(get(v, "null"), "word", 0);
	assert_str(get(v, ""), "empty", 0);
	assert_str(get(v, "true"), "t", 0);
	assert_str(get(v, "<<"), "quoted", 0);
	iv_free(v);

	expect_error("a: 1\n? [a]\n: 1\n", "a map key must be a scalar", 2, 3);
	expect_error("a: &x 1\n*x : 2\n", "an alias cannot be a map key", 2, 1);
	expect_error("? \n: 1\n", "empty map key", 1, 2);
	expect_error("a: 1\n!!seq b: 2\n", "scalar with collection tag", 2, 1);
	expect_error("a: 1\n!foo b: 2\n", "unsupported tag '!foo'", 2, 1);
}

static void test_duplicate_key(void **state)
{
	(void)state;
	expect_error("a: 1\n"
		     "b:\n"
		     "  c: 1\n"
		     "  d: 2\n"
		     "  c: 3\n",
		     "duplicate key 'c' (first at line 3)", 5, 3);
	expect_error("x: {a: 1, a: 2}\n", "duplicate key 'a' (first at line 1)",
		     1, 11);
	/* the same key in two maps is fine; "1" and 1 are the same key */
	struct ivalue *v = parse("a: {k: 1}\nb: {k: 2}\n");
	iv_free(v);
	expect_error("1: a\n\"1\": b\n", "duplicate key '1' (first at line 1)",
		     2, 1);
}

static void test_anchors_aliases(void **state)
{
	(void)state;
	struct ivalue *v = parse("base: &b\n"
				 "  x: 1\n"
				 "  y: [1, 2]\n"
				 "copy: *b\n"
				 "s: &s hello\n"
				 "list: [*s, *s]\n"
				 "&k key: v\n"
				 "kv: *k\n");
	const struct ivalue *base = get(v, "base");
	const struct ivalue *copy = get(v, "copy");
	assert_int_equal(copy->type, IV_OBJ);
	assert_ptr_not_equal(copy, base);
	assert_true(iv_equal(base, copy));
	/* the copy keeps the locations of the anchored node, which starts
	 * at its anchor */
	assert_loc(&copy->loc, 1, 7);
	assert_loc(&copy->u.obj.m[1].kloc, 3, 3);
	const struct ivalue *list = get(v, "list");
	assert_int_equal(list->u.arr.n, 2);
	assert_str(list->u.arr.v[1], "hello", 0);
	assert_str(get(v, "kv"), "key", 0);
	iv_free(v);

	expect_error("a: 1\nb: *nope\n", "undefined alias '*nope'", 2, 4);
	expect_error("a: &x [1, *x]\n",
		     "alias '*x' refers to a node that contains it", 1, 11);
	/* a redefined anchor: the alias takes the latest */
	v = parse("a: &x 1\nb: &x 2\nc: *x\n");
	assert_int_num(get(v, "c"), 2, "2");
	iv_free(v);
}

static void test_merge(void **state)
{
	(void)state;
	struct ivalue *v = parse("defaults: &d\n"
				 "  a: 1\n"
				 "  b: 2\n"
				 "more: &m\n"
				 "  b: 20\n"
				 "  c: 30\n"
				 "one:\n"
				 "  b: 3\n"
				 "  <<: *d\n"
				 "two:\n"
				 "  <<: [*d, *m]\n"
				 "  a: 10\n"
				 "three:\n"
				 "  <<: {z: 9}\n"
				 "  y: 8\n");
	const struct ivalue *one = get(v, "one");
	assert_int_equal(one->u.obj.n, 2);
	/* the explicit key wins although written before the merge */
	assert_int_num(get(one, "b"), 3, "3");
	assert_int_num(get(one, "a"), 1, "1");
	assert_null(iv_get(one, "<<"));
	/* merged keys stand where `<<` was written */
	assert_string_equal(one->u.obj.m[0].key, "b");
	assert_string_equal(one->u.obj.m[1].key, "a");
	assert_loc(&one->u.obj.m[1].kloc, 2, 3);

	const struct ivalue *two = get(v, "two");
	assert_int_equal(two->u.obj.n, 3);
	assert_int_num(get(two, "a"), 10, "10");
	assert_int_num(get(two, "b"), 2, "2"); /* the first source wins */
	assert_int_num(get(two, "c"), 30, "30");
	assert_string_equal(two->u.obj.m[0].key, "b");
	assert_loc(&two->u.obj.m[0].kloc, 3, 3);
	assert_string_equal(two->u.obj.m[1].key, "c");
	assert_string_equal(two->u.obj.m[2].key, "a");

	const struct ivalue *three = get(v, "three");
	assert_int_equal(three->u.obj.n, 2);
	assert_int_num(get(three, "z"), 9, "9");
	assert_int_num(get(three, "y"), 8, "8");
	iv_free(v);

	/* an anchor inside an inline merge source stays usable */
	v = parse("a:\n  <<: &in {k: 1}\nb: *in\n");
	assert_int_num(get(get(v, "b"), "k"), 1, "1");
	iv_free(v);

	expect_error("a:\n  <<: 1\n",
		     "merge key '<<' needs a map or a list of maps", 2, 7);
	expect_error("d: &d {x: 1}\na:\n  <<: [*d, [1]]\n",
		     "merge key '<<' needs a map or a list of maps", 3, 12);
	expect_error("s: &s str\na:\n  <<: *s\n",
		     "merge key '<<' needs a map or a list of maps", 3, 7);
	/* an explicit key written twice is still a duplicate */
	expect_error("d: &d {x: 1}\n"
		     "a:\n"
		     "  <<: *d\n"
		     "  x: 2\n"
		     "  x: 3\n",
		     "duplicate key 'x' (first at line 4)", 5, 3);
	expect_error("d: &d {x: 1}\n"
		     "a:\n"
		     "  <<: *d\n"
		     "  <<: *d\n",
		     "duplicate key '<<' (first at line 3)", 4, 3);
}

static void test_billion_laughs(void **state)
{
	(void)state;
	struct strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb, "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
	for (int i = 1; i <= 9; i++) {
		strbuf_addf(&sb, "l%d: &l%d [", i, i);
		for (int j = 0; j < 10; j++)
			strbuf_addf(&sb, "%s*l%d", j ? ", " : "", i - 1);
		strbuf_addstr(&sb, "]\n");
	}
	/*
	 * l4 holds 111111 nodes; with the 123462 nodes read by then, the
	 * eighth alias of line 6 ("l5: &l5 [*l4, ..."), at column 45,
	 * passes 1000000.
	 */
	double t0 = now_ms();
	expect_error(sb.buf, "alias expansion exceeds 1000000 nodes", 6, 45);
	assert_true(now_ms() - t0 < 10000);
	strbuf_release(&sb);

	/* merges are charged as well */
	strbuf_addstr(&sb, "m0: &m0 {");
	for (int j = 0; j < 1000; j++)
		strbuf_addf(&sb, "%sk%d: 1", j ? ", " : "", j);
	strbuf_addstr(&sb, "}\nall: [");
	for (int j = 0; j < 2000; j++)
		strbuf_addf(&sb, "%s{<<: *m0}", j ? ", " : "");
	strbuf_addstr(&sb, "]\n");
	/*
	 * 2004 nodes before the list items, 2002 per item (the map, its key
	 * and two per merged member): the 500th member of the 499th item
	 * passes the cap, reported at that item's alias, at column
	 * 7 + 11 * 498 + 5.
	 */
	expect_error(sb.buf, "alias expansion exceeds 1000000 nodes", 2, 5490);
	strbuf_release(&sb);
}

static void test_depth(void **state)
{
	(void)state;
	struct strbuf sb = STRBUF_INIT;
	for (int i = 0; i < 300; i++)
		strbuf_addch(&sb, '[');
	for (int i = 0; i < 300; i++)
		strbuf_addch(&sb, ']');
	expect_error(sb.buf, "nesting too deep", 1, 257);
	strbuf_reset(&sb);

	/* 256 levels are fine */
	for (int i = 0; i < 255; i++)
		strbuf_addch(&sb, '[');
	strbuf_addch(&sb, '1');
	for (int i = 0; i < 255; i++)
		strbuf_addch(&sb, ']');
	struct ivalue *v = parse(sb.buf);
	iv_free(v);
	strbuf_reset(&sb);

	/* an alias cannot stack nesting past the cap either */
	strbuf_addstr(&sb, "a: &a ");
	for (int i = 0; i < 200; i++)
		strbuf_addch(&sb, '[');
	for (int i = 0; i < 200; i++)
		strbuf_addch(&sb, ']');
	strbuf_addstr(&sb, "\nb: ");
	for (int i = 0; i < 100; i++)
		strbuf_addch(&sb, '[');
	strbuf_addstr(&sb, "*a");
	for (int i = 0; i < 100; i++)
		strbuf_addch(&sb, ']');
	strbuf_addch(&sb, '\n');
	expect_error(sb.buf, "nesting too deep", 2, 104);
	strbuf_release(&sb);
}

static void test_documents(void **state)
{
	(void)state;
	expect_error("a: 1\n---\nb: 2\n",
		     "a suite file holds one YAML document", 2, 1);
	expect_error("---\na: 1\n--- x\n",
		     "a suite file holds one YAML document", 3, 1);

	const char *empty[] = {"", "# only\n# comments\n", "\n\n"};
	for (size_t i = 0; i < ARRAY_SIZE(empty); i++) {
		struct ivalue *v = parse(empty[i]);
		assert_int_equal(v->type, IV_NULL);
		assert_loc(&v->loc, 1, 1);
		iv_free(v);
	}
	/* an explicit document with a single `---` and a trailing `...` */
	struct ivalue *v = parse("# c\n---\na: 1\n...\n");
	assert_loc(&v->loc, 3, 1);
	iv_free(v);
}

static void test_syntax_errors(void **state)
{
	(void)state;
	expect_error("a:\n  b: 1\n c: 2\n",
		     "invalid YAML: did not find expected key while parsing a "
		     "block mapping",
		     3, 2);
	/* a tab used for indentation */
	expect_error("a:\n\tb: 1\n",
		     "invalid YAML: tab in indentation (YAML indents with "
		     "spaces)",
		     2, 1);
	expect_error("a: 1\n  b: 2\n",
		     "invalid YAML: mapping values are not allowed in this "
		     "context",
		     2, 4);
	/* at the end of input: where the quoted scalar began */
	expect_error("a: 1\nb: \"open\n",
		     "invalid YAML: found unexpected end of stream while "
		     "scanning a quoted scalar",
		     2, 4);
	/* reader errors have no mark: the offset gives the place */
	expect_error("a: 1\nb: x\xff\n",
		     "invalid YAML: invalid leading UTF-8 octet", 2, 5);
	expect_error_n("a: 1\nb: x\0y\n", 11,
		       "invalid YAML: control characters are not allowed", 2,
		       5);
	expect_error("a: 1\n...\nb: 2\n",
		     "invalid YAML: did not find expected <document start>", 3,
		     1);
}

static void test_block_scalars(void **state)
{
	(void)state;
	struct ivalue *v = parse("lit: |\n"
				 "  line1\n"
				 "  line2\n"
				 "fold: >\n"
				 "  a\n"
				 "  b\n"
				 "num: |-\n"
				 "  12\n"
				 "t: >-\n"
				 "  true\n");
	assert_str(get(v, "lit"), "line1\nline2\n", 1);
	assert_str(get(v, "fold"), "a b\n", 1);
	assert_str(get(v, "num"), "12", 1);
	assert_str(get(v, "t"), "true", 1);
	assert_loc(&get(v, "lit")->loc, 1, 6);
	iv_free(v);

	/* a double-quoted escape may put a NUL inside a string */
	v = parse("s: \"a\\0b\"\n");
	const struct ivalue *s = get(v, "s");
	assert_int_equal(s->u.str.len, 3);
	assert_memory_equal(s->u.str.s, "a\0b", 3);
	iv_free(v);
}

static void test_too_many_nodes(void **state)
{
	(void)state;
	struct strbuf sb = STRBUF_INIT;
	strbuf_addch(&sb, '[');
	for (int i = 0; i < YAML_MAX_NODES; i++)
		strbuf_addstr(&sb, "0,");
	strbuf_addstr(&sb, "0]");
	/* the list itself is a node: the last element is one too many */
	expect_error(sb.buf, "document exceeds 1000000 nodes", 1,
		     2 * YAML_MAX_NODES);
	strbuf_release(&sb);
}

static void test_load_file(void **state)
{
	(void)state;
	struct srclist sl = SRCLIST_INIT;
	char path[] = "/tmp/itest-yaml-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *text = "name: file\nvals:\n  - 9007199254740993\n";
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);

	const struct itest_src *top = srclist_add(&sl, path, NULL, 0, 0);
	const struct itest_src *inc = srclist_add(&sl, "other.yml", top, 4, 3);
	assert_ptr_not_equal(top->path, path); /* copied */
	assert_string_equal(top->path, path);
	assert_null(top->parent);
	assert_ptr_equal(inc->parent, top);
	assert_int_equal(inc->pline, 4);
	assert_int_equal(inc->pcol, 3);
	assert_int_equal(sl.n, 2);

	struct itest_err err = ITEST_ERR_INIT;
	struct ivalue *v = yaml_load_file(top, &err);
	assert_non_null(v);
	assert_str(get(v, "name"), "file", 0);
	const struct ivalue *n = get(v, "vals")->u.arr.v[0];
	assert_int_num(n, 9007199254740993LL, "9007199254740993");
	assert_ptr_equal(n->loc.src, top);
	assert_int_equal(n->loc.line, 3);
	assert_int_equal(n->loc.col, 5);
	iv_free(v);

	/* an error in a file carries the file */
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("a: 1\na: 2\n", f);
	fclose(f);
	v = yaml_load_file(top, &err);
	assert_null(v);
	assert_string_equal(err.msg, "duplicate key 'a' (first at line 1)");
	assert_ptr_equal(err.loc.src, top);
	assert_int_equal(err.loc.line, 2);
	assert_int_equal(err.loc.col, 1);
	unlink(path);

	/* a missing file: the source, no line */
	err_clear(&err);
	v = yaml_load_file(top, &err);
	assert_null(v);
	char *want =
		xasprintf("cannot read '%s': No such file or directory", path);
	assert_string_equal(err.msg, want);
	free(want);
	assert_ptr_equal(err.loc.src, top);
	assert_int_equal(err.loc.line, 0);
	assert_int_equal(err.loc.col, 0);

	/* a folder is not a file */
	const struct itest_src *dir = srclist_add(&sl, "/tmp", NULL, 0, 0);
	err_clear(&err);
	v = yaml_load_file(dir, &err);
	assert_null(v);
	assert_string_equal(err.msg, "cannot read '/tmp': Is a directory");

	srclist_release(&sl);
	assert_int_equal(sl.n, 0);
	assert_null(sl.v);
}

/* Every node of v is (or is not) an arena node. */
static void assert_arena_tree(const struct ivalue *v, int arena)
{
	assert_int_equal(!!(v->flags & IVF_ARENA), arena);
	if (v->type == IV_ARR)
		for (size_t i = 0; i < v->u.arr.n; i++)
			assert_arena_tree(v->u.arr.v[i], arena);
	if (v->type == IV_OBJ)
		for (size_t i = 0; i < v->u.obj.n; i++)
			assert_arena_tree(v->u.obj.m[i].val, arena);
}

static void test_arena_doc(void **state)
{
	(void)state;
	static const char text[] =
		"base: &b {x: 1, y: \"two\", z: [0x1F, .5, null, true]}\n"
		"copy: *b\n"
		"merged:\n  <<: *b\n  y: 3\n"
		"list: [a, 'b', 9007199254740993, {k: v}]\n"
		"text: \"nul\\0inside\"\n"
		"empty: {}\n"
		"none: []\n";
	struct itest_err err = ITEST_ERR_INIT;
	struct ivalue *plain = parse(text);
	struct ivalue *doc = yaml_parse_doc(text, strlen(text), &src, &err);
	assert_non_null(doc);
	assert_true(doc->flags & IVF_ARENA_ROOT);
	assert_true(iv_equal(doc, plain));
	assert_arena_tree(plain, 0);
	assert_arena_tree(doc, 1); /* aliases and merges included */
	/* equal keys and short texts share their bytes */
	assert_ptr_equal(iv_member(iv_get(doc, "base"), "x")->key,
			 iv_member(iv_get(doc, "merged"), "x")->key);
	assert_ptr_equal(iv_get(iv_get(doc, "base"), "y")->u.str.s,
			 iv_get(iv_get(doc, "copy"), "y")->u.str.s);
	/* same texts, flags, locations and key locations */
	const struct ivalue *l = iv_get(doc, "list");
	assert_true(l->u.arr.v[1]->flags & IVF_QUOTED);
	assert_string_equal(l->u.arr.v[2]->u.num.text, "9007199254740993");
	assert_int_equal(l->u.arr.v[2]->loc.line, 6);
	assert_int_equal(iv_member(doc, "list")->kloc.line, 6);
	assert_int_equal(iv_get(doc, "text")->u.str.len, 10);
	assert_int_equal(iv_get(iv_get(doc, "merged"), "y")->u.num.i, 3);
	assert_string_equal(
		iv_get(iv_get(doc, "merged"), "z")->u.arr.v[0]->u.num.text,
		"31");

	/* a clone is an ordinary tree, with the other flags kept */
	struct ivalue *c = iv_clone(doc);
	assert_arena_tree(c, 0);
	assert_int_equal(c->flags & IVF_ARENA_ROOT, 0);
	assert_true(iv_get(c, "list")->u.arr.v[1]->flags & IVF_QUOTED);
	assert_true(iv_equal(c, plain));

	/* members of an arena map may be replaced (the arena node is let
	 * go) and deleted; ordinary values attached below arena nodes are
	 * freed with the document */
	struct ivalue *base = iv_get(doc, "base");
	iv_set(base, "x", iv_str("replaced"));
	iv_set(base, "y", iv_clone(plain));
	assert_int_equal(iv_del(base, "z"), 0);
	assert_int_equal(iv_del(base, "z"), -1);
	assert_int_equal(base->u.obj.n, 2);
	assert_string_equal(iv_strval(iv_get(base, "x")), "replaced");
	assert_int_equal(iv_del(doc, "copy"), 0);
	assert_null(iv_get(doc, "copy"));
	iv_free(c);
	iv_free(plain);
	iv_free(doc);

	/* an empty document and a failing one */
	doc = yaml_parse_doc("", 0, &src, &err);
	assert_non_null(doc);
	assert_int_equal(doc->type, IV_NULL);
	assert_true(doc->flags & IVF_ARENA_ROOT);
	iv_free(doc);
	static const char bad[] = "a: [1, 2, {b: *nope}]\n";
	doc = yaml_parse_doc(bad, strlen(bad), &src, &err);
	assert_null(doc);
	assert_int_equal(err.set, 1);
}

static void test_arena(void **state)
{
	(void)state;
	struct arena a = ARENA_INIT;
	char *small[1000];
	for (int i = 0; i < 1000; i++) {
		char w[16];
		int n = snprintf(w, sizeof(w), "w%d", i);
		small[i] = arena_strndup(&a, w, (size_t)n);
		int64_t *p = arena_alloc(&a, sizeof(*p) * 3);
		assert_int_equal((uintptr_t)p % sizeof(int64_t), 0);
		p[0] = p[1] = p[2] = i;
	}
	/* bigger than a chunk: a block of its own, the chunk goes on */
	char *big = arena_alloc(&a, (size_t)1 << 20);
	memset(big, 'x', (size_t)1 << 20);
	char *after = arena_strndup(&a, "after", 5);
	for (int i = 0; i < 1000; i++) {
		char w[16];
		snprintf(w, sizeof(w), "w%d", i);
		assert_string_equal(small[i], w);
	}
	assert_string_equal(after, "after");
	/* interned strings: equal bytes, one copy; long ones not shared */
	const char *k1 = arena_intern(&a, "key\0x", 5);
	const char *k2 = arena_intern(&a, "key\0x", 5);
	const char *k3 = arena_intern(&a, "key\0y", 5);
	assert_ptr_equal(k1, k2);
	assert_ptr_not_equal(k1, k3);
	assert_memory_equal(k3, "key\0y", 6);
	for (int i = 0; i < 1000; i++) {
		char w[16];
		int n = snprintf(w, sizeof(w), "w%d", i);
		assert_string_equal(arena_intern(&a, w, (size_t)n), w);
	}
	assert_ptr_equal(arena_intern(&a, "key\0x", 5), k1);
	char longer[100];
	memset(longer, 'l', sizeof(longer));
	assert_ptr_not_equal(arena_intern(&a, longer, sizeof(longer)),
			     arena_intern(&a, longer, sizeof(longer)));
	arena_intern_end(&a);
	assert_ptr_not_equal(arena_intern(&a, "key\0x", 5), k1);
	assert_string_equal(k1, "key"); /* the strings stay */
	arena_release(&a);
	assert_null(a.chunks);
	arena_release(&a); /* empty: nothing to do */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_schema),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_locations),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_duplicate_key),
		cmocka_unit_test(test_anchors_aliases),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_billion_laughs),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_documents),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_block_scalars),
		cmocka_unit_test(test_too_many_nodes),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_arena_doc),
		cmocka_unit_test(test_arena),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
