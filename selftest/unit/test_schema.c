/*
 * Unit tests of runner/schema.c: every group of the JSON Schema Test
 * Suite for draft 2020-12 (selftest/data/json-schema-2020-12/), where a
 * group that needs what itest deliberately lacks must fail to compile,
 * then focused cases: failure messages (instance path, keyword, schema
 * path), exact numbers, `$ref` to other files (written to a temporary
 * folder), load errors with line and column, limits, and sharing a
 * compiled schema between threads.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "schema.h"

#define SUITE_DIR "selftest/data/json-schema-2020-12"

/*
 * Groups that must fail to compile, with what the error says and why.
 * `group` NULL: every group of the file.  `skip`: reported as skipped
 * (the group needs the suite's remotes served), else as unsupported.
 */
static const struct {
	const char *file, *group, *error, *why;
	int skip;
} expected_fail[] = {
	{"refRemote.json", NULL, "remote $ref",
	 "needs the suite's remotes served at http://localhost:1234", 1},
	{"dynamicRef.json",
	 "strict-tree schema, guards against misspelled properties",
	 "remote $ref", "needs http://localhost:1234/draft2020-12/tree.json",
	 1},
	{"dynamicRef.json",
	 "tests for implementation dynamic anchor and reference link",
	 "remote $ref", "needs http://localhost:1234 (extendible-dynamic-ref)",
	 1},
	{"dynamicRef.json",
	 "$ref and $dynamicAnchor are independent of order - $ref first",
	 "remote $ref", "needs http://localhost:1234 (extendible-dynamic-ref)",
	 1},
	{"dynamicRef.json", "$ref to $dynamicRef finds detached $dynamicAnchor",
	 "remote $ref", "needs http://localhost:1234 (detached-dynamicref)", 1},
	{"defs.json", NULL,
	 "remote $ref 'https://json-schema.org/draft/2020-12/schema'",
	 "validates against the meta-schema by its URL: not bundled, no "
	 "network",
	 0},
	{"ref.json", "remote ref, containing refs itself",
	 "remote $ref 'https://json-schema.org/draft/2020-12/schema'",
	 "refers to the meta-schema by its URL: not bundled, no network", 0},
	{"vocabulary.json", NULL, "unsupported $schema",
	 "custom meta-schemas and $vocabulary are not supported", 0},
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

static struct ivalue *J(const char *text)
{
	struct itest_err err = ITEST_ERR_INIT;
	struct ivalue *v = json_parse(text, strlen(text), NULL, &err);
	if (!v)
		fail_msg("bad JSON in the test: %s: %s", text, err.msg);
	return v;
}

static int expected_failure(const char *file, const char *group)
{
	for (size_t i = 0; i < ARRAY_SIZE(expected_fail); i++)
		if (!strcmp(expected_fail[i].file, file) &&
		    (!expected_fail[i].group ||
		     !strcmp(expected_fail[i].group, group)))
			return (int)i;
	return -1;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct tally {
	int files, groups, cases, passed, unsupported, skipped;
	int used[ARRAY_SIZE(expected_fail)];
};

static void run_file(const char *name, struct tally *t)
{
	char *path = xasprintf("%s/%s", SUITE_DIR, name);
	size_t len;
	char *text = slurp(path, &len);
	struct itest_err err = ITEST_ERR_INIT;
	struct ivalue *groups;
	if (!text)
		fail_msg("cannot read %s", path);
	groups = json_parse(text, len, NULL, &err);
	if (!groups || groups->type != IV_ARR)
		fail_msg("%s: not a list of groups: %s", path, err.msg);
	t->files++;
	for (size_t g = 0; g < groups->u.arr.n; g++) {
		const struct ivalue *grp = groups->u.arr.v[g];
		const char *desc = iv_strval(iv_get(grp, "description"));
		const struct ivalue *tests = iv_get(grp, "tests");
		struct srclist sl = SRCLIST_INIT;
		struct jschema *s;
		int xf = expected_failure(name, desc);
		t->groups++;
		err_clear(&err);
		s = schema_compile(&sl, iv_get(grp, "schema"), SUITE_DIR, &err);
		if (xf >= 0) {
			if (s)
				fail_msg("%s: '%s' compiled, but it should "
					 "fail (%s)",
					 name, desc, expected_fail[xf].why);
			if (!strstr(err.msg, expected_fail[xf].error))
				fail_msg("%s: '%s': wanted an error with '%s', "
					 "got '%s'",
					 name, desc, expected_fail[xf].error,
					 err.msg);
			t->used[xf]++;
			if (expected_fail[xf].skip)
				t->skipped++;
			else
				t->unsupported++;
			srclist_release(&sl);
			continue;
		}
		if (!s)
			fail_msg("%s: '%s' does not compile: %s", name, desc,
				 err.msg);
		for (size_t i = 0; i < tests->u.arr.n; i++) {
			const struct ivalue *tc = tests->u.arr.v[i];
			struct strbuf why = STRBUF_INIT;
			int want = iv_get(tc, "valid")->u.b;
			int got = schema_validate(s, iv_get(tc, "data"), &why);
			t->cases++;
			if (got != want)
				fail_msg("%s: '%s' / '%s': got %d, wanted %d "
					 "(%s)",
					 name, desc,
					 iv_strval(iv_get(tc, "description")),
					 got, want, why.buf);
			/* a failure says why; a pass says nothing */
			if (want)
				assert_string_equal(why.buf, "");
			else
				assert_true(why.len > 0);
			t->passed++;
			strbuf_release(&why);
		}
		schema_free(s);
		srclist_release(&sl);
	}
	iv_free(groups);
	free(text);
	free(path);
}

static void test_conformance(void **state)
{
	DIR *d = opendir(SUITE_DIR);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, alloc = 0;
	struct tally t;
	(void)state;
	memset(&t, 0, sizeof(t));
	assert_non_null(d);
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len > 5 && !strcmp(e->d_name + len - 5, ".json")) {
			XGROW(names, alloc, n + 1);
			names[n++] = xstrdup(e->d_name);
		}
	}
	closedir(d);
	qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		run_file(names[i], &t);
		free(names[i]);
	}
	free(names);
	print_message("JSON Schema Test Suite 2020-12: %d files, %d groups, "
		      "%d cases passed; %d groups unsupported, %d skipped\n",
		      t.files, t.groups, t.passed, t.unsupported, t.skipped);
	for (size_t i = 0; i < ARRAY_SIZE(expected_fail); i++) {
		print_message("  %-8s %s%s%s: %s\n",
			      expected_fail[i].skip ? "skipped" : "unsupp.",
			      expected_fail[i].file,
			      expected_fail[i].group ? " / " : "",
			      expected_fail[i].group ? expected_fail[i].group
						     : "",
			      expected_fail[i].why);
		/* every entry of the table is still needed */
		if (!t.used[i])
			fail_msg("no group matched the entry for %s / %s",
				 expected_fail[i].file,
				 expected_fail[i].group ? expected_fail[i].group
							: "(all)");
	}
	assert_int_equal(t.files, 46);
	assert_true(t.passed > 900);
	assert_int_equal(t.passed, t.cases);
}

/* ---- focused cases ---- */

/* Compiles a schema (JSON text), asserting that it compiles. */
static struct jschema *S(const char *schema)
{
	struct srclist sl = SRCLIST_INIT;
	struct itest_err err = ITEST_ERR_INIT;
	struct ivalue *doc = J(schema);
	struct jschema *s = schema_compile(&sl, doc, NULL, &err);
	if (!s)
		fail_msg("%s: %s", schema, err.msg);
	iv_free(doc);
	srclist_release(&sl);
	return s;
}

/* Validates JSON text; asserts the result and the exact message. */
static void check(const struct jschema *s, const char *data, int want,
		  const char *msg)
{
	struct ivalue *v = J(data);
	struct strbuf why = STRBUF_INIT;
	int got = schema_validate(s, v, &why);
	if (got != want)
		fail_msg("%s: got %d (%s), wanted %d", data, got, why.buf,
			 want);
	if (msg)
		assert_string_equal(why.buf, msg);
	strbuf_release(&why);
	iv_free(v);
}

static void test_messages(void **state)
{
	(void)state;
	struct jschema *s = S(
		"{\"type\": \"object\", \"required\": [\"items\"], "
		"\"properties\": {\"items\": {\"type\": \"array\", \"items\": "
		"{\"type\": \"object\", \"properties\": {\"qty\": {\"type\": "
		"\"integer\", \"minimum\": 1}, \"sku\": {\"type\": \"string\", "
		"\"pattern\": \"^[A-Z]{3}\", \"minLength\": 4}}, "
		"\"additionalProperties\": false}}, \"a-b\": {\"enum\": [1, "
		"2]}, \"kind\": {\"oneOf\": [{\"type\": \"number\"}, "
		"{\"type\": "
		"\"integer\"}]}, \"any\": {\"anyOf\": [{\"type\": \"string\"}, "
		"{\"type\": \"null\"}]}}}");
	check(s, "{\"items\": [{\"qty\": 2, \"sku\": \"ABCD\"}]}", 1, "");
	check(s, "{\"items\": [{\"qty\": 0}]}", 0,
	      "$.items[0].qty: minimum 1 (at "
	      "#/properties/items/items/properties/qty), got 0\n");
	check(s,
	      "{\"items\": [{\"qty\": 1.5, \"sku\": \"ab\", \"x\": 1}], "
	      "\"a-b\": "
	      "3, \"kind\": 1, \"any\": 2}",
	      0,
	      "$.items[0].qty: type integer (at "
	      "#/properties/items/items/properties/qty), got 1.5\n"
	      "$.items[0].sku: minLength 4 (at "
	      "#/properties/items/items/properties/sku), got \"ab\"\n"
	      "$.items[0].sku: pattern \"^[A-Z]{3}\" (at "
	      "#/properties/items/items/properties/sku), got \"ab\"\n"
	      "$.items[0].x: not allowed (at "
	      "#/properties/items/items/additionalProperties), got 1\n"
	      "$[\"a-b\"]: enum [1,2] (at #/properties/a-b), got 3\n"
	      "$.kind: oneOf: subschemas 0 and 1 both match (at "
	      "#/properties/kind), got 1\n"
	      "$.any: anyOf: none of the 2 subschemas matches (at "
	      "#/properties/any), got 2\n");
	check(s, "[]", 0, "$: type object (at #), got []\n");
	check(s, "{}", 0, "$: required property \"items\" is missing (at #)\n");
	schema_free(s);

	/* many errors: the first 20 lines, then a count */
	s = S("{\"items\": {\"type\": \"string\"}}");
	struct strbuf data = STRBUF_INIT;
	strbuf_addch(&data, '[');
	for (int i = 0; i < 25; i++)
		strbuf_addf(&data, "%s%d", i ? "," : "", i);
	strbuf_addch(&data, ']');
	struct ivalue *v = J(data.buf);
	struct strbuf why = STRBUF_INIT;
	assert_int_equal(schema_validate(s, v, &why), 0);
	assert_non_null(strstr(why.buf, "$[19]: type string (at #/items), "
					"got 19\n(5 more errors)\n"));
	assert_null(strstr(why.buf, "$[20]"));
	strbuf_release(&why);
	strbuf_release(&data);
	iv_free(v);
	schema_free(s);

	/* keys that need escaping in a schema path */
	s = S("{\"$defs\": {\"a/b\": {\"type\": \"string\"}, \"c~d\": "
	      "{\"$ref\": \"#/$defs/a~1b\"}}, \"$ref\": \"#/$defs/c~0d\"}");
	check(s, "1", 0, "$: type string (at #/$defs/a~1b), got 1\n");
	schema_free(s);
	s = S("false");
	check(s, "{}", 0, "$: not allowed (at #), got {}\n");
	schema_free(s);
}

static void test_numbers(void **state)
{
	(void)state;
	struct jschema *s = S("{\"type\": \"integer\"}");
	check(s, "1.0", 1, "");
	check(s, "1e2", 1, "");
	check(s, "1.5e1", 1, "");
	check(s, "9007199254740993", 1, "");
	check(s, "1e400", 1, "");
	check(s, "1.5", 0, "$: type integer (at #), got 1.5\n");
	schema_free(s);
	/* exact 64-bit comparisons */
	s = S("{\"minimum\": 9007199254740993, \"const\": 9007199254740993}");
	check(s, "9007199254740993", 1, "");
	check(s, "9007199254740992", 0,
	      "$: const 9007199254740993 (at #), got 9007199254740992\n"
	      "$: minimum 9007199254740993 (at #), got 9007199254740992\n");
	schema_free(s);
	/* multipleOf: exact with decimals */
	s = S("{\"multipleOf\": 0.01}");
	check(s, "19.99", 1, "");
	check(s, "0.07", 1, "");
	check(s, "1e300", 1, "");
	check(s, "19.999", 0, "$: multipleOf 0.01 (at #), got 19.999\n");
	schema_free(s);
	s = S("{\"multipleOf\": 3}");
	check(s, "9007199254740993", 1, "");
	check(s, "9007199254740994", 0, NULL);
	check(s, "-6", 1, "");
	check(s, "4.5", 0, NULL);
	schema_free(s);
	s = S("{\"exclusiveMinimum\": 0, \"exclusiveMaximum\": 1}");
	check(s, "0.5", 1, "");
	check(s, "0", 0, "$: exclusiveMinimum 0 (at #), got 0\n");
	check(s, "1.0", 0, "$: exclusiveMaximum 1 (at #), got 1.0\n");
	schema_free(s);
}

static void test_strings(void **state)
{
	(void)state;
	/* lengths count code points; patterns search, unanchored */
	struct jschema *s =
		S("{\"minLength\": 5, \"maxLength\": 5, \"pattern\": \"l+\"}");
	check(s, "\"h\\u00e9llo\"", 1, "");
	check(s, "\"\\ud83d\\ude00abcl\"", 1, "");
	check(s, "\"hello!\"", 0, "$: maxLength 5 (at #), got \"hello!\"\n");
	check(s, "\"abcde\"", 0, "$: pattern \"l+\" (at #), got \"abcde\"\n");
	schema_free(s);
	/* ECMA-262 long property names */
	s = S("{\"pattern\": \"^\\\\p{Letter}+$\"}");
	check(s, "\"\\u00e9t\\u00e9\"", 1, "");
	check(s, "\"a1\"", 0, NULL);
	schema_free(s);
	/* a pattern that backtracks too much stops validation (-1) */
	s = S("{\"pattern\": \"^(a+)+$\"}");
	struct strbuf data = STRBUF_INIT;
	strbuf_addch(&data, '"');
	for (int i = 0; i < 40; i++)
		strbuf_addch(&data, 'a');
	strbuf_addstr(&data, "b\"");
	check(s, data.buf, -1, "$: regex '^(a+)+$' exceeded its match limit\n");
	strbuf_release(&data);
	schema_free(s);
}

static void test_unique(void **state)
{
	(void)state;
	struct jschema *s = S("{\"uniqueItems\": true}");
	check(s, "[1, \"1\", true, null, [1], {\"a\": 1}]", 1, "");
	check(s, "[{\"a\": 1, \"b\": [2]}, {\"b\": [2.0], \"a\": 1.0}]", 0,
	      NULL);
	check(s, "[0, 1, 2, 1.0, 2]", 0,
	      "$: uniqueItems: items 1 and 3 are equal (at #), got "
	      "[0,1,2,1.0,2]\n");
	/* long arrays: hashed, the same first pair */
	struct strbuf data = STRBUF_INIT, want = STRBUF_INIT;
	strbuf_addch(&data, '[');
	for (int i = 0; i < 100000; i++)
		strbuf_addf(&data, "%s{\"k\": [%d, \"x\"]}", i ? "," : "",
			    i == 90000	 ? 700
			    : i == 95000 ? 500
					 : i);
	strbuf_addch(&data, ']');
	struct ivalue *v = J(data.buf);
	assert_int_equal(schema_validate(s, v, &want), 0);
	assert_true(!strncmp(want.buf,
			     "$: uniqueItems: items 500 and 95000 are equal",
			     strlen("$: uniqueItems: items 500 and 95000 "
				    "are equal")));
	iv_free(v);
	strbuf_release(&data);
	strbuf_release(&want);
	schema_free(s);
}

static void test_unevaluated(void **state)
{
	(void)state;
	struct jschema *s = S(
		"{\"properties\": {\"a\": true}, \"allOf\": [{\"properties\": "
		"{\"b\": true}}], \"unevaluatedProperties\": false}");
	check(s, "{\"a\": 1, \"b\": 2}", 1, "");
	check(s, "{\"a\": 1, \"c\": 3}", 0,
	      "$.c: not allowed (at #/unevaluatedProperties), got 3\n");
	schema_free(s);
	s = S("{\"prefixItems\": [{\"type\": \"string\"}], \"contains\": "
	      "{\"type\": \"integer\"}, \"unevaluatedItems\": false}");
	check(s, "[\"a\", 1, 2]", 1, "");
	check(s, "[\"a\", 1, null]", 0,
	      "$[2]: not allowed (at #/unevaluatedItems), got null\n");
	schema_free(s);
}

/* Loads `name` from `dir`; NULL with the error in `err`. */
static struct jschema *load(struct srclist *sl, const char *dir,
			    const char *name, struct itest_err *err)
{
	char *path = xasprintf("%s/%s", dir, name);
	struct jschema *s = schema_load(sl, path, err);
	free(path);
	return s;
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

static void test_file_refs(void **state)
{
	static const char *const files[] = {
		"main.json",	"sub/common.yaml", "sub/more.json",
		"bad-ref.json", "bad-kw.yaml",	   "loop.json",
		"remote.json",	"draft7.json",	   "no-anchor.json",
		NULL,
	};
	char dir[] = "/tmp/itest-schema-XXXXXX";
	struct srclist sl = SRCLIST_INIT;
	struct itest_err err = ITEST_ERR_INIT;
	struct jschema *s;
	(void)state;
	assert_non_null(mkdtemp(dir));
	char *sub = xasprintf("%s/sub", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	write_file(
		dir, "main.json",
		"{\"type\": \"object\",\n"
		" \"properties\": {\n"
		"  \"price\": {\"$ref\": \"sub/common.yaml#/$defs/money\"},\n"
		"  \"tax\": {\"$ref\": \"./sub/common.yaml#/$defs/money\"},\n"
		"  \"id\": {\"$ref\": \"sub/common.yaml#id\"},\n"
		"  \"tag\": {\"$ref\": \"sub/more.json\"},\n"
		"  \"sp\": {\"$ref\": \"#/$defs/with%20space\"}},\n"
		" \"$defs\": {\"with space\": {\"type\": \"boolean\"}}}\n");
	write_file(dir, "sub/common.yaml",
		   "$defs:\n"
		   "  money: { type: number, minimum: 0 }\n"
		   "  ident: { $anchor: id, type: integer }\n"
		   "  tag: { $ref: more.json }\n");
	write_file(dir, "sub/more.json",
		   "{\"type\": \"string\", \"maxLength\": 3}\n");
	s = load(&sl, dir, "main.json", &err);
	if (!s)
		fail_msg("main.json: %s", err.msg);
	/* each file read once: main, common, more */
	assert_int_equal(sl.n, 3);
	check(s,
	      "{\"price\": 1.5, \"tax\": 0, \"id\": 7, \"tag\": \"abc\", "
	      "\"sp\": true}",
	      1, "");
	struct strbuf want = STRBUF_INIT;
	strbuf_addf(&want,
		    "$.price: minimum 0 (at %s/sub/common.yaml#/$defs/money), "
		    "got -1\n"
		    "$.id: type integer (at %s/sub/common.yaml#/$defs/ident), "
		    "got \"7\"\n"
		    "$.tag: maxLength 3 (at %s/sub/more.json#), got \"abcd\"\n",
		    dir, dir, dir);
	check(s, "{\"price\": -1, \"id\": \"7\", \"tag\": \"abcd\"}", 0,
	      want.buf);
	strbuf_release(&want);
	schema_free(s);
	srclist_release(&sl);

	/* a missing file: at the $ref, line and column */
	write_file(
		dir, "bad-ref.json",
		"{\n  \"items\": {\n    \"$ref\": \"nope.json#/x\"\n  }\n}\n");
	err_clear(&err);
	assert_null(load(&sl, dir, "bad-ref.json", &err));
	assert_non_null(strstr(err.msg, "cannot read schema file '"));
	assert_non_null(strstr(err.msg, "nope.json': No such file"));
	assert_int_equal(err.loc.line, 3);
	assert_int_equal(err.loc.col, 13);
	srclist_release(&sl);

	/* a typo in a referenced YAML file: its own place */
	write_file(dir, "bad-kw.yaml",
		   "properties:\n  a:\n    $ref: sub/more.json\n  b:\n"
		   "    minLenght: 2\n");
	err_clear(&err);
	assert_null(load(&sl, dir, "bad-kw.yaml", &err));
	assert_string_equal(err.msg, "unknown JSON Schema keyword 'minLenght' "
				     "(did you mean 'minLength'?)");
	assert_int_equal(err.loc.line, 5);
	assert_int_equal(err.loc.col, 5);
	assert_non_null(strstr(err.loc.src->path, "bad-kw.yaml"));
	srclist_release(&sl);

	write_file(dir, "loop.json", "{\"$ref\": \"loop.json\"}\n");
	err_clear(&err);
	s = load(&sl, dir, "loop.json", &err);
	assert_non_null(s);
	check(s, "1", -1, NULL);
	schema_free(s);
	srclist_release(&sl);

	write_file(dir, "remote.json",
		   "{\"$ref\": \"https://example.com/s.json#/a\"}\n");
	err_clear(&err);
	assert_null(load(&sl, dir, "remote.json", &err));
	assert_string_equal(err.msg,
			    "remote $ref 'https://example.com/s.json' is not "
			    "supported (itest reads schemas from local files "
			    "only)");
	assert_int_equal(err.loc.line, 1);
	assert_int_equal(err.loc.col, 10);
	srclist_release(&sl);

	write_file(
		dir, "draft7.json",
		"{\"$schema\": \"http://json-schema.org/draft-07/schema#\"}");
	err_clear(&err);
	assert_null(load(&sl, dir, "draft7.json", &err));
	assert_string_equal(err.msg,
			    "unsupported $schema "
			    "'http://json-schema.org/draft-07/schema#' (itest "
			    "validates JSON Schema 2020-12: "
			    "'https://json-schema.org/draft/2020-12/schema')");
	srclist_release(&sl);

	write_file(dir, "no-anchor.json", "{\"$ref\": \"#nope\"}");
	err_clear(&err);
	assert_null(load(&sl, dir, "no-anchor.json", &err));
	assert_string_equal(err.msg, "$ref '#nope': no $anchor 'nope'");
	srclist_release(&sl);

	err_clear(&err);
	assert_null(load(&sl, dir, "absent.json", &err));
	srclist_release(&sl);

	for (size_t i = 0; files[i]; i++) {
		char *p = xasprintf("%s/%s", dir, files[i]);
		unlink(p);
		free(p);
	}
	rmdir(sub);
	rmdir(dir);
	free(sub);
}

/* Load errors on YAML text: message, line and column. */
static void bad_yaml(const char *yaml, const char *msg, int line, int col)
{
	static const struct itest_src src = {(char *)"inline.yml", NULL, 0, 0};
	struct srclist sl = SRCLIST_INIT;
	struct itest_err err = ITEST_ERR_INIT;
	struct ivalue *doc = yaml_parse(yaml, strlen(yaml), &src, &err);
	if (!doc)
		fail_msg("yaml: %s", err.msg);
	struct jschema *s = schema_compile(&sl, doc, NULL, &err);
	if (s)
		fail_msg("%s: compiled, wanted '%s'", yaml, msg);
	assert_string_equal(err.msg, msg);
	assert_ptr_equal(err.loc.src, &src);
	assert_int_equal(err.loc.line, line);
	assert_int_equal(err.loc.col, col);
	iv_free(doc);
	srclist_release(&sl);
}

static void test_load_errors(void **state)
{
	(void)state;
	bad_yaml("type: object\nproperties:\n  a: { minLenght: 1 }\n",
		 "unknown JSON Schema keyword 'minLenght' (did you mean "
		 "'minLength'?)",
		 3, 8);
	bad_yaml("definitions: {}\n",
		 "unknown JSON Schema keyword 'definitions' (in 2020-12: "
		 "'$defs')",
		 1, 1);
	bad_yaml("frobnicate: 1\n", "unknown JSON Schema keyword 'frobnicate'",
		 1, 1);
	bad_yaml("$vocabulary: {}\n", "keyword '$vocabulary' is not supported",
		 1, 1);
	bad_yaml("type: [string, nul]\n",
		 "unknown type 'nul' (did you mean 'null'?)", 1, 16);
	bad_yaml("type: null\n",
		 "'type' needs a type name, got null (in YAML, write \"null\" "
		 "in quotes)",
		 1, 7);
	bad_yaml("minLength: -1\n",
		 "'minLength' needs a non-negative integer, got -1", 1, 12);
	bad_yaml("maxItems: 1.5\n",
		 "'maxItems' needs a non-negative integer, got 1.5", 1, 11);
	bad_yaml("multipleOf: 0\n",
		 "'multipleOf' needs a number greater than 0, got 0", 1, 13);
	bad_yaml("pattern: '(a'\n",
		 "invalid regex '(a': missing closing parenthesis at offset 2",
		 1, 10);
	bad_yaml("patternProperties:\n  '[': true\n",
		 "invalid regex '[': missing terminating ] for character class "
		 "at offset 1",
		 2, 3);
	bad_yaml("required: [a, a]\n", "duplicate name 'a' in 'required'", 1,
		 15);
	bad_yaml("allOf: []\n",
		 "'allOf' needs a non-empty list of schemas, got an empty list",
		 1, 8);
	bad_yaml("items: 5\n",
		 "a schema must be a map or a boolean, got integer", 1, 8);
	bad_yaml("$ref: '#/$defs/missing'\n",
		 "$ref '#/$defs/missing' points to nothing", 1, 7);
	bad_yaml("$ref: '#/properties'\nproperties: {}\n",
		 "$ref '#/properties' does not point to a schema", 1, 7);
	bad_yaml("$id: 'x.json#frag'\n",
		 "'$id' 'x.json#frag' must not have a fragment (use '$anchor')",
		 1, 6);
	bad_yaml("$defs:\n  a: { $anchor: x }\n  b: { $anchor: x }\n",
		 "duplicate anchor 'x'", 3, 17);
	bad_yaml("$ref: 'urn:x:y'\n",
		 "cannot resolve $ref 'urn:x:y' (no schema has the URI "
		 "'urn:x:y')",
		 1, 7);
	bad_yaml("deprecated: maybe\n",
		 "'deprecated' needs true or false, got string", 1, 13);
}

static void test_ids_and_anchors(void **state)
{
	(void)state;
	struct jschema *s = S(
		"{\"$id\": \"https://example.com/root.json\", \"properties\": "
		"{\"a\": {\"$ref\": \"item.json\"}, \"b\": {\"$ref\": "
		"\"#positive\"}, \"c\": {\"$ref\": "
		"\"https://example.com/root.json#/$defs/pos\"}}, \"$defs\": "
		"{\"item\": {\"$id\": \"item.json\", \"type\": \"string\"}, "
		"\"pos\": {\"$anchor\": \"positive\", \"exclusiveMinimum\": "
		"0}}}");
	check(s, "{\"a\": \"x\", \"b\": 1, \"c\": 2}", 1, "");
	check(s, "{\"a\": 1, \"b\": 0}", 0,
	      "$.a: type string (at #/$defs/item), got 1\n"
	      "$.b: exclusiveMinimum 0 (at #/$defs/pos), got 0\n");
	schema_free(s);
}

static void test_limits(void **state)
{
	(void)state;
	/* a $ref cycle that makes no progress is an error, not a crash */
	struct jschema *s =
		S("{\"$defs\": {\"a\": {\"$ref\": \"#/$defs/b\"}, \"b\": "
		  "{\"$ref\": \"#/$defs/a\"}}, \"$ref\": \"#/$defs/a\"}");
	check(s, "1", -1,
	      "$: $ref loop: more than 128 $ref hops without progress (at "
	      "#/$defs/b)\n");
	schema_free(s);
	/* recursion that follows the instance is fine */
	s = S("{\"type\": \"object\", \"properties\": {\"next\": {\"$ref\": "
	      "\"#\"}}, \"unevaluatedProperties\": false}");
	struct strbuf data = STRBUF_INIT;
	for (int i = 0; i < 200; i++)
		strbuf_addstr(&data, "{\"next\": ");
	strbuf_addstr(&data, "{}");
	for (int i = 0; i < 200; i++)
		strbuf_addch(&data, '}');
	check(s, data.buf, 1, "");
	strbuf_release(&data);
	check(s, "{\"next\": {\"next\": {\"x\": 1}}}", 0,
	      "$.next.next.x: not allowed (at #/unevaluatedProperties), "
	      "got 1\n");
	schema_free(s);
}

struct job {
	const struct jschema *s;
	int ok;
};

static void *worker(void *arg)
{
	struct job *j = arg;
	struct ivalue *good = J("{\"id\": 1, \"tags\": [\"a\", \"b\"]}");
	struct ivalue *bad = J("{\"id\": \"x\", \"tags\": [\"a\", \"a\"]}");
	j->ok = 1;
	for (int i = 0; i < 200; i++) {
		struct strbuf why = STRBUF_INIT;
		if (schema_validate(j->s, good, &why) != 1 || why.len)
			j->ok = 0;
		strbuf_reset(&why);
		if (schema_validate(j->s, bad, &why) != 0 ||
		    strcmp(why.buf,
			   "$.id: type integer (at #/properties/id), got "
			   "\"x\"\n"
			   "$.tags: uniqueItems: items 0 and 1 are equal (at "
			   "#/properties/tags), got [\"a\",\"a\"]\n"))
			j->ok = 0;
		strbuf_release(&why);
	}
	iv_free(good);
	iv_free(bad);
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t th[4];
	struct job jobs[4];
	(void)state;
	struct jschema *s = S(
		"{\"properties\": {\"id\": {\"type\": \"integer\"}, \"tags\": "
		"{\"uniqueItems\": true, \"items\": {\"pattern\": "
		"\"^[a-z]$\"}}},"
		" \"unevaluatedProperties\": false}");
	for (int i = 0; i < 4; i++) {
		jobs[i].s = s;
		assert_int_equal(pthread_create(&th[i], NULL, worker, &jobs[i]),
				 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_true(jobs[i].ok);
	}
	schema_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conformance),
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_unique),
		cmocka_unit_test(test_unevaluated),
		cmocka_unit_test(test_file_refs),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_ids_and_anchors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
