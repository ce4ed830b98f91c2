/*
 * Unit tests of the JUnit reporter: files written from hand-built run
 * models are validated against the Jenkins xunit junit-10.xsd with
 * libxml2 (the in-repo copy, and ../shared's when it is there) and read
 * back with XPath, so counts and texts are checked as a consumer sees
 * them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/xmlschemas.h>
#include <libxml/xpath.h>

#include "reporter.h"

#define XSD	   "selftest/data/junit/jenkins-xunit-junit-10.xsd"
#define SHARED_XSD "../shared/schemas/junit/jenkins-xunit-junit-10.xsd"

/* 2026-11-26T18:02:25.123 UTC */
#define T0 INT64_C(1795716145123)

struct fx {
	struct rep_attempt att[2];
	struct rep_case cases[5];
	struct rep_stage stages[3];
	struct rep_run run;
	char *attach[2];
	char dir[64];
	char path[128]; /* dir/junit.xml */
	struct rep_opts o;
};

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void mkcase(struct rep_case *c, const char *name, enum itest_status s,
		   double t, const char *msg, const char *detail,
		   const char *log)
{
	memset(c, 0, sizeof(*c));
	c->classname = "shop";
	c->name = name;
	c->file = "suites/shop.yml";
	c->line = 10;
	c->status = s;
	c->attempts = 1;
	c->time_s = t;
	c->message = dup_or_null(msg);
	c->detail = dup_or_null(detail);
	c->log = dup_or_null(log);
}

static void mkstage(struct rep_stage *g, struct rep_case *cases, size_t n)
{
	memset(g, 0, sizeof(*g));
	g->suite = "shop";
	g->file = "suites/shop.yml";
	g->number = g->nstages = 1;
	g->strategy = "big-bang";
	g->stream = "main";
	g->layer = -1;
	g->real = "inventory,orders";
	g->stubbed = "payments";
	g->cases = cases;
	g->ncases = n;
	g->start_wall_ms = T0;
	g->time_s = 65.4321;
}

/* One stage: pass (attachments), fail, error, skip, flaky pass. */
static void fx_init(struct fx *x)
{
	memset(x, 0, sizeof(*x));
	mkcase(&x->cases[0], "create order", IT_PASS, 0.0123, NULL, NULL,
	       "POST /orders -> 201");
	x->attach[0] = xstrdup("/abs/shot.png");
	x->attach[1] = xstrdup("artifacts/shop/create order/page.html");
	x->cases[0].attachments = x->attach;
	x->cases[0].nattach = 2;
	mkcase(&x->cases[1], "reserve [qty=2]", IT_FAIL, 1234.5678,
	       "status: expected 201, got 500",
	       "status: expected 201, got 500\nPOST /reserve", "step 1 failed");
	mkcase(&x->cases[2], "pay", IT_ERROR, 2, "connection refused",
	       "connection refused\nlast log lines: ...", NULL);
	mkcase(&x->cases[3], "later", IT_SKIP, 0, "not ready", NULL, NULL);
	mkcase(&x->cases[4], "flaky one", IT_PASS, 0.5, NULL, NULL,
	       "third time lucky");
	x->cases[4].flaky = 1;
	x->cases[4].attempts = 3;
	x->cases[4].line = 40;
	x->att[0] = (struct rep_attempt){IT_FAIL, xstrdup("expected 1, got 2"),
					 xstrdup("expected 1, got 2\nat $.n"),
					 xstrdup("attempt one log"), 0.1};
	x->att[1] = (struct rep_attempt){IT_ERROR, xstrdup("timed out"),
					 xstrdup("timed out after 1s"),
					 xstrdup("attempt two log"), 1.0};
	x->cases[4].failed = x->att;
	x->cases[4].nfailed = 2;
	mkstage(&x->stages[0], x->cases, 5);

	x->run.run_id = "20261126-180225-3f9c";
	x->run.start_wall_ms = T0;
	x->run.time_s = 70.25;
	x->run.stages = x->stages;
	x->run.nstages = 1;

	snprintf(x->dir, sizeof(x->dir), "/tmp/itest-junit-XXXXXX");
	assert_non_null(mkdtemp(x->dir));
	snprintf(x->path, sizeof(x->path), "%s/junit.xml", x->dir);
	x->run.run_dir = x->dir;
}

static void rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[512];
	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

static int dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void fx_release(struct fx *x)
{
	for (size_t i = 0; i < ARRAY_SIZE(x->cases); i++) {
		free(x->cases[i].message);
		free(x->cases[i].detail);
		free(x->cases[i].log);
	}
	for (size_t i = 0; i < ARRAY_SIZE(x->att); i++) {
		free(x->att[i].message);
		free(x->att[i].detail);
		free(x->att[i].log);
	}
	for (size_t i = 0; i < ARRAY_SIZE(x->attach); i++)
		free(x->attach[i]);
	rm_dir(x->dir);
}

/* Runs the reporter as the runner does: open, case_done, finish, close. */
static int fx_write(struct fx *x, struct itest_err *err)
{
	void *st = junit_reporter.open(&x->o);
	int ret;
	assert_non_null(st);
	junit_reporter.status(st, "running");
	for (size_t i = 0; i < x->run.nstages; i++)
		for (size_t k = 0; k < x->stages[i].ncases; k++)
			junit_reporter.case_done(st, &x->stages[i],
						 &x->stages[i].cases[k]);
	ret = junit_reporter.finish(st, &x->run, err);
	junit_reporter.close(st);
	return ret;
}

static void fx_write_ok(struct fx *x)
{
	struct itest_err err = ITEST_ERR_INIT;
	if (fx_write(x, &err) < 0)
		fail_msg("finish: %s", err.msg);
	/* written through a temp file: nothing but junit.xml is left */
	assert_int_equal(dir_entries(x->dir), 1);
}

static int valid_against(const char *xsd, const char *xml)
{
	xmlSchemaParserCtxtPtr pc = xmlSchemaNewParserCtxt(xsd);
	xmlSchemaPtr schema = pc ? xmlSchemaParse(pc) : NULL;
	xmlSchemaValidCtxtPtr vc =
		schema ? xmlSchemaNewValidCtxt(schema) : NULL;
	int ret = vc ? xmlSchemaValidateFile(vc, xml, 0) : -1;
	xmlSchemaFreeValidCtxt(vc);
	xmlSchemaFree(schema);
	xmlSchemaFreeParserCtxt(pc);
	return ret == 0;
}

/* Valid against the in-repo schema, and ../shared's when present. */
static void assert_valid(const char *xml)
{
	assert_true(valid_against(XSD, xml));
	if (!access(SHARED_XSD, R_OK))
		assert_true(valid_against(SHARED_XSD, xml));
}

static xmlDocPtr parse(const char *path)
{
	xmlDocPtr doc = xmlReadFile(path, NULL, XML_PARSE_NONET);
	assert_non_null(doc);
	return doc;
}

static double xp_num(xmlDocPtr doc, const char *expr)
{
	xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
	xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST expr, ctx);
	double v;
	assert_non_null(o);
	v = xmlXPathCastToNumber(o);
	xmlXPathFreeObject(o);
	xmlXPathFreeContext(ctx);
	return v;
}

/* Asserts that the string value of `expr` is `want`. */
static void xp_eq(xmlDocPtr doc, const char *expr, const char *want)
{
	xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
	xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST expr, ctx);
	xmlChar *s;
	assert_non_null(o);
	s = xmlXPathCastToString(o);
	if (strcmp((const char *)s, want))
		print_error("%s: '%s' != '%s'\n", expr, (const char *)s, want);
	assert_string_equal((const char *)s, want);
	xmlFree(s);
	xmlXPathFreeObject(o);
	xmlXPathFreeContext(ctx);
}

#define assert_xp(doc, expr, n) assert_int_equal((int)xp_num(doc, expr), n)

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct strbuf sb = STRBUF_INIT;
	char chunk[4096];
	size_t n;
	assert_non_null(f);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		strbuf_add(&sb, chunk, n);
	fclose(f);
	return strbuf_detach(&sb, len);
}

static void test_single_stage(void **state)
{
	struct fx x;
	xmlDocPtr doc;
	char host[256] = "", want[512], *text;
	(void)state;
	fx_init(&x);
	fx_write_ok(&x);
	assert_valid(x.path);
	doc = parse(x.path);

	assert_xp(doc, "count(/testsuites)", 1);
	xp_eq(doc, "/testsuites/@name", "itest");
	xp_eq(doc, "/testsuites/@tests", "5");
	xp_eq(doc, "/testsuites/@failures", "1");
	xp_eq(doc, "/testsuites/@errors", "1");
	xp_eq(doc, "/testsuites/@time", "70.250");
	assert_xp(doc, "count(/testsuites/@skipped)", 0);

	assert_xp(doc, "count(/testsuites/testsuite)", 1);
	xp_eq(doc, "/testsuites/testsuite/@name", "shop");
	xp_eq(doc, "//testsuite/@tests", "5");
	xp_eq(doc, "//testsuite/@failures", "1");
	xp_eq(doc, "//testsuite/@errors", "1");
	xp_eq(doc, "//testsuite/@skipped", "1");
	xp_eq(doc, "//testsuite/@time", "65.432");
	xp_eq(doc, "//testsuite/@timestamp", "2026-11-26T18:02:25");
	gethostname(host, sizeof(host) - 1);
	xp_eq(doc, "//testsuite/@hostname", host);

	/* counts agree with the cases */
	assert_xp(doc, "count(//testcase)", 5);
	assert_xp(doc, "count(//testcase/failure)", 1);
	assert_xp(doc, "count(//testcase/error)", 1);
	assert_xp(doc, "count(//testcase/skipped)", 1);
	assert_xp(doc, "count(//testcase[@classname='shop'])", 5);

	xp_eq(doc, "//property[@name='itest.run_id']/@value",
	      "20261126-180225-3f9c");
	xp_eq(doc, "//property[@name='itest.strategy']/@value", "big-bang");
	xp_eq(doc, "//property[@name='itest.stage']/@value", "1");
	xp_eq(doc, "//property[@name='itest.real']/@value", "inventory,orders");
	xp_eq(doc, "//property[@name='itest.stubbed']/@value", "payments");
	xp_eq(doc, "//property[@name='itest.stream']/@value", "main");
	/* SPEC 8: itest.layer on every stage, empty when not one layer's */
	xp_eq(doc, "//property[@name='itest.layer']/@value", "");

	/* cases in order, times with 3 decimals */
	xp_eq(doc, "//testcase[1]/@name", "create order");
	xp_eq(doc, "//testcase[1]/@time", "0.012");
	xp_eq(doc, "//testcase[2]/@name", "reserve [qty=2]");
	xp_eq(doc, "//testcase[2]/@time", "1234.568");
	xp_eq(doc, "//testcase[2]/failure/@type", "assertion");
	xp_eq(doc, "//testcase[2]/failure/@message",
	      "status: expected 201, got 500");
	xp_eq(doc, "//testcase[2]/failure",
	      "status: expected 201, got 500\nPOST /reserve");
	xp_eq(doc, "//testcase[2]/system-out", "step 1 failed\n");
	xp_eq(doc, "//testcase[3]/error/@type", "error");
	xp_eq(doc, "//testcase[3]/error/@message", "connection refused");
	xp_eq(doc, "//testcase[3]/error",
	      "connection refused\nlast log lines: ...");
	assert_xp(doc, "count(//testcase[3]/system-out)", 0);
	xp_eq(doc, "//testcase[4]/skipped/@message", "not ready");

	/* the flaky pass: one flakyFailure per failed attempt, each with
	 * its own log */
	assert_xp(doc, "count(//testcase[5]/failure)", 0);
	assert_xp(doc, "count(//testcase[5]/flakyFailure)", 2);
	xp_eq(doc, "//testcase[5]/flakyFailure[1]/@type", "assertion");
	xp_eq(doc, "//testcase[5]/flakyFailure[1]/@message",
	      "expected 1, got 2");
	xp_eq(doc, "//testcase[5]/flakyFailure[1]/stackTrace",
	      "expected 1, got 2\nat $.n");
	xp_eq(doc, "//testcase[5]/flakyFailure[1]/system-out",
	      "attempt one log");
	xp_eq(doc, "//testcase[5]/flakyFailure[2]/@type", "error");
	xp_eq(doc, "//testcase[5]/flakyFailure[2]/system-out",
	      "attempt two log");
	xp_eq(doc, "//testcase[5]/system-out", "third time lucky\n");

	/* attachments: absolute paths, relative ones from the run folder */
	snprintf(want, sizeof(want),
		 "POST /orders -> 201\n[[ATTACHMENT|/abs/shot.png]]\n"
		 "[[ATTACHMENT|%s/artifacts/shop/create order/page.html]]\n",
		 x.dir);
	xp_eq(doc, "//testcase[1]/system-out", want);

	/* the default flavor has no file/line */
	assert_xp(doc, "count(//testcase/@file)", 0);
	assert_xp(doc, "count(//testcase/@line)", 0);
	xmlFreeDoc(doc);

	text = slurp(x.path, NULL);
	assert_true(!strncmp(
		text, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", 39));
	free(text);
	fx_release(&x);
}

static void test_multi_stage(void **state)
{
	struct fx x;
	xmlDocPtr doc;
	(void)state;
	fx_init(&x);
	mkstage(&x.stages[0], x.cases, 2);
	mkstage(&x.stages[1], x.cases + 2, 2);
	mkstage(&x.stages[2], x.cases + 4, 1);
	for (int i = 0; i < 3; i++) {
		x.stages[i].nstages = 3;
		x.stages[i].number = i + 1;
		x.stages[i].strategy = "bottom-up";
		x.stages[i].layer = i;
		x.stages[i].start_wall_ms = T0 + i * 60000;
	}
	x.stages[1].stream = "bottom";
	x.stages[2].real = "";
	x.stages[2].stubbed = NULL;
	x.run.nstages = 3;
	fx_write_ok(&x);
	assert_valid(x.path);
	doc = parse(x.path);
	xp_eq(doc, "/testsuites/@tests", "5");
	assert_xp(doc, "count(/testsuites/testsuite)", 3);
	xp_eq(doc, "/testsuites/testsuite[1]/@name", "shop/stage-1");
	xp_eq(doc, "/testsuites/testsuite[2]/@name", "shop/stage-2");
	xp_eq(doc, "/testsuites/testsuite[3]/@name", "shop/stage-3");
	xp_eq(doc, "//testsuite[1]/@tests", "2");
	xp_eq(doc, "//testsuite[1]/@failures", "1");
	xp_eq(doc, "//testsuite[1]/@errors", "0");
	xp_eq(doc, "//testsuite[1]/@skipped", "0");
	xp_eq(doc, "//testsuite[2]/@tests", "2");
	xp_eq(doc, "//testsuite[2]/@errors", "1");
	xp_eq(doc, "//testsuite[2]/@skipped", "1");
	xp_eq(doc, "//testsuite[3]/@tests", "1");
	xp_eq(doc, "//testsuite[2]/@timestamp", "2026-11-26T18:03:25");
	xp_eq(doc, "//testsuite[2]//property[@name='itest.stage']/@value", "2");
	xp_eq(doc, "//testsuite[2]//property[@name='itest.strategy']/@value",
	      "bottom-up");
	xp_eq(doc, "//testsuite[2]//property[@name='itest.stream']/@value",
	      "bottom");
	xp_eq(doc, "//testsuite[1]//property[@name='itest.layer']/@value", "0");
	xp_eq(doc, "//testsuite[3]//property[@name='itest.layer']/@value", "2");
	xp_eq(doc, "//testsuite[3]//property[@name='itest.real']/@value", "");
	xp_eq(doc, "//testsuite[3]//property[@name='itest.stubbed']/@value",
	      "");
	/* classname stays the suite name whatever the stage */
	assert_xp(doc, "count(//testcase[@classname='shop'])", 5);
	xmlFreeDoc(doc);
	fx_release(&x);
}

static void test_nasty_text(void **state)
{
	struct fx x;
	xmlDocPtr doc;
	(void)state;
	fx_init(&x);
	free(x.cases[1].message);
	free(x.cases[1].detail);
	free(x.cases[1].log);
	/* control characters, an ANSI escape, invalid UTF-8 (a lone
	 * continuation byte, an overlong '/', a surrogate, a truncated
	 * sequence), U+FFFE, and markup-looking text */
	x.cases[1].message = xstrdup("a\x01"
				     "b\x1b[31m \"q\" 'a' <x> & ]]> \xe9\t|");
	x.cases[1].detail = xstrdup("\x80|\xc0\xaf|\xed\xa0\x80|\xef\xbf\xbe|"
				    "]]></failure><x>\r\n\xe2\x82");
	x.cases[1].log = xstrdup("caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80 "
				 "<![CDATA[ x ]]> \x7f");
	x.cases[1].name = "nasty \"<&>\" 'name'\x02";
	fx_write_ok(&x);
	assert_valid(x.path);
	doc = parse(x.path);
	xp_eq(doc, "//testcase[2]/failure/@message",
	      "a\\x01b\\x1B[31m \"q\" 'a' <x> & ]]> \\xE9\t|");
	xp_eq(doc, "//testcase[2]/failure",
	      "\\x80|\\xC0\\xAF|\\xED\\xA0\\x80|\xef\xbf\xbd|"
	      "]]></failure><x>\r\n\\xE2\\x82");
	/* valid UTF-8 goes through untouched */
	xp_eq(doc, "//testcase[2]/system-out",
	      "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80 "
	      "<![CDATA[ x ]]> \\x7F\n");
	xp_eq(doc, "//testcase[2]/@name", "nasty \"<&>\" 'name'\\x02");
	xmlFreeDoc(doc);
	fx_release(&x);
}

static void test_masked(void **state)
{
	struct fx x;
	struct masker m = MASKER_INIT;
	xmlDocPtr doc;
	char *text;
	(void)state;
	mask_add(&m, "hunter2-secret", 14);
	/* a weak secret that is also markup must not break the file */
	mask_add(&m, "testcase", 8);
	fx_init(&x);
	x.o.mask = &m;
	free(x.cases[1].message);
	x.cases[1].message = xstrdup("login as admin:hunter2-secret failed");
	free(x.cases[1].log);
	x.cases[1].log = xstrdup("Authorization: Basic "
				 "YWRtaW46aHVudGVyMi1zZWNyZXQ=\n"
				 "url: /login?p=hunter2-secret\n");
	x.cases[0].name = "testcase one";
	fx_write_ok(&x);
	text = slurp(x.path, NULL);
	assert_null(strstr(text, "hunter2"));
	assert_null(strstr(text, "aHVudGVyMi1zZWNyZXQ"));
	free(text);
	assert_valid(x.path);
	doc = parse(x.path);
	assert_xp(doc, "count(//testcase)", 5);
	xp_eq(doc, "//testcase[2]/failure/@message",
	      "login as admin:*** failed");
	xp_eq(doc, "//testcase[1]/@name", "*** one");
	xmlFreeDoc(doc);
	fx_release(&x);
	mask_release(&m);
}

static void test_rich_and_copy(void **state)
{
	struct fx x;
	char dir2[64] = "/tmp/itest-junit2-XXXXXX", copy[128];
	char *a, *b;
	size_t alen, blen;
	xmlDocPtr doc;
	(void)state;
	fx_init(&x);
	assert_non_null(mkdtemp(dir2));
	snprintf(copy, sizeof(copy), "%s/report.xml", dir2);
	x.o.junit_rich = 1;
	x.o.junit_path = copy;
	fx_write_ok(&x);
	assert_int_equal(dir_entries(dir2), 1);

	a = slurp(x.path, &alen);
	b = slurp(copy, &blen);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);
	free(a);
	free(b);

	/* rich adds attributes junit-10.xsd lacks: well-formed, and read */
	doc = parse(x.path);
	assert_xp(doc, "count(//testcase[@file='suites/shop.yml'])", 5);
	xp_eq(doc, "//testcase[1]/@line", "10");
	xp_eq(doc, "//testcase[5]/@line", "40");
	assert_xp(doc, "count(//testcase)", 5);
	xmlFreeDoc(doc);
	rm_dir(dir2);
	fx_release(&x);
}

static void test_write_errors(void **state)
{
	struct fx x;
	struct itest_err err = ITEST_ERR_INIT;
	(void)state;
	fx_init(&x);
	x.o.junit_path = "/nonexistent-itest-dir/report.xml";
	assert_int_equal(fx_write(&x, &err), -1);
	assert_true(err.set);
	assert_non_null(strstr(err.msg, "/nonexistent-itest-dir/report.xml"));
	/* junit.xml itself was written, and no temp file is left */
	assert_int_equal(dir_entries(x.dir), 1);

	err_clear(&err);
	x.o.junit_path = NULL;
	x.run.run_dir = NULL;
	assert_int_equal(fx_write(&x, &err), -1);
	assert_true(err.set);
	fx_release(&x);
}

/* A test that failed on every attempt: the earlier ones are reruns. */
static void test_rerun_failure(void **state)
{
	struct fx x;
	xmlDocPtr doc;
	(void)state;
	fx_init(&x);
	x.cases[4].status = IT_FAIL;
	x.cases[4].flaky = 0;
	x.cases[4].message = xstrdup("still failing");
	fx_write_ok(&x);
	assert_valid(x.path);
	doc = parse(x.path);
	xp_eq(doc, "/testsuites/@failures", "2");
	assert_xp(doc, "count(//flakyFailure)", 0);
	assert_xp(doc, "count(//testcase[5]/failure)", 1);
	assert_xp(doc, "count(//testcase[5]/rerunFailure)", 2);
	xp_eq(doc, "//testcase[5]/rerunFailure[2]/@type", "error");
	xp_eq(doc, "//testcase[5]/failure", "still failing");
	xmlFreeDoc(doc);
	fx_release(&x);
}

static void test_empty_run(void **state)
{
	struct fx x;
	xmlDocPtr doc;
	(void)state;
	fx_init(&x);
	x.run.nstages = 0;
	x.run.time_s = -0.5;
	fx_write_ok(&x);
	assert_valid(x.path);
	doc = parse(x.path);
	xp_eq(doc, "/testsuites/@tests", "0");
	xp_eq(doc, "/testsuites/@time", "0.000");
	xmlFreeDoc(doc);
	fx_release(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_stage),
		cmocka_unit_test(test_multi_stage),
		cmocka_unit_test(test_nasty_text),
		cmocka_unit_test(test_masked),
		cmocka_unit_test(test_rich_and_copy),
		cmocka_unit_test(test_write_errors),
		cmocka_unit_test(test_rerun_failure),
		cmocka_unit_test(test_empty_run),
	};
	int ret = cmocka_run_group_tests(tests, NULL, NULL);
	xmlCleanupParser();
	return ret;
}
