/*
 * Unit tests of the console reporter: test lines, details, colours,
 * quiet and verbose modes, stage headers, the live status line, masking
 * and the summary, all written to a memory stream.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "reporter.h"

struct fx {
	struct rep_attempt att[2];
	struct rep_case cases[5];
	struct rep_stage stage;
	struct rep_run run;
	char *buf; /* what the reporter printed */
	size_t len;
	FILE *f;
	struct rep_opts o;
	void *st;
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
	c->line = 12;
	c->status = s;
	c->attempts = 1;
	c->time_s = t;
	c->message = dup_or_null(msg);
	c->detail = dup_or_null(detail);
	c->log = dup_or_null(log);
}

/* The model of the tests: pass, fail, error, skip, flaky. */
static void fx_init(struct fx *x)
{
	memset(x, 0, sizeof(*x));
	mkcase(&x->cases[0], "create order", IT_PASS, 0.012, NULL, NULL,
	       "POST /orders -> 201\n");
	mkcase(&x->cases[1], "reserve", IT_FAIL, 1.234,
	       "status: expected 201, got 500",
	       "status: expected 201, got 500\n  POST /reserve\n\nbody: {}\n",
	       NULL);
	mkcase(&x->cases[2], "pay", IT_ERROR, 62.4, "connection refused", NULL,
	       NULL);
	mkcase(&x->cases[3], "later", IT_SKIP, 0, "not ready", NULL, NULL);
	mkcase(&x->cases[4], "flaky one", IT_PASS, 0.5, NULL, NULL, NULL);
	x->cases[4].flaky = 1;
	x->cases[4].attempts = 3;
	x->att[0].status = IT_FAIL;
	x->att[0].message = xstrdup("expected 1, got 2");
	x->att[1].status = IT_ERROR;
	x->att[1].message = xstrdup("timed out");
	x->cases[4].failed = x->att;
	x->cases[4].nfailed = 2;

	x->stage.suite = "shop";
	x->stage.file = "suites/shop.yml";
	x->stage.number = x->stage.nstages = 1;
	x->stage.strategy = "big-bang";
	x->stage.stream = "main";
	x->stage.layer = -1;
	x->stage.real = "inventory,orders";
	x->stage.stubbed = "";
	x->stage.cases = x->cases;
	x->stage.ncases = 5;

	x->run.run_id = "run1";
	x->run.run_dir = "/tmp/out/run1";
	x->run.time_s = 65.0;
	x->run.stages = &x->stage;
	x->run.nstages = 1;

	x->f = open_memstream(&x->buf, &x->len);
	assert_non_null(x->f);
	x->o.console = x->f;
}

static void fx_open(struct fx *x)
{
	x->st = console_reporter.open(&x->o);
	assert_non_null(x->st);
}

/* Reports every case, then finishes. */
static void fx_run(struct fx *x)
{
	struct itest_err err = ITEST_ERR_INIT;
	fx_open(x);
	for (size_t i = 0; i < x->stage.ncases; i++)
		console_reporter.case_done(x->st, &x->stage, &x->cases[i]);
	assert_int_equal(console_reporter.finish(x->st, &x->run, &err), 0);
}

/* Closes the reporter and the stream; x->buf holds the output. */
static void fx_flush(struct fx *x)
{
	if (x->st)
		console_reporter.close(x->st);
	x->st = NULL;
	fclose(x->f);
	x->f = NULL;
}

static void fx_release(struct fx *x)
{
	if (x->f)
		fx_flush(x);
	for (size_t i = 0; i < ARRAY_SIZE(x->cases); i++) {
		free(x->cases[i].message);
		free(x->cases[i].detail);
		free(x->cases[i].log);
	}
	for (size_t i = 0; i < ARRAY_SIZE(x->att); i++)
		free(x->att[i].message);
	free(x->buf);
}

static const char summary[] =
	"\n2 passed, 1 failed, 1 error, 1 skipped, 1 flaky (5 tests in 1m05s)\n"
	"run folder: /tmp/out/run1\n"
	"junit: /tmp/out/run1/junit.xml\n";

static void test_plain(void **state)
{
	struct fx x;
	(void)state;
	fx_init(&x);
	fx_run(&x);
	fx_flush(&x);
	assert_string_equal(
		x.buf,
		"PASS  shop/create order  12ms\n"
		"FAIL  shop/reserve  1.23s\n"
		"      status: expected 201, got 500\n"
		"        POST /reserve\n"
		"\n"
		"      body: {}\n"
		"ERROR shop/pay  1m02s\n"
		"      connection refused\n"
		"SKIP  shop/later  (not ready)\n"
		"PASS  shop/flaky one  500ms  (flaky: passed on attempt 3)\n"
		"\n"
		"2 passed, 1 failed, 1 error, 1 skipped, 1 flaky "
		"(5 tests in 1m05s)\n"
		"run folder: /tmp/out/run1\n"
		"junit: /tmp/out/run1/junit.xml\n");
	fx_release(&x);
}

static void test_color(void **state)
{
	struct fx x;
	(void)state;
	fx_init(&x);
	x.o.color = 1;
	fx_run(&x);
	fx_flush(&x);
	assert_non_null(strstr(
		x.buf, "\033[32mPASS\033[0m  shop/create order  12ms\n"));
	assert_non_null(strstr(x.buf,
			       "\033[31mFAIL\033[0m  shop/reserve  1.23s\n"
			       "      status: expected 201"));
	assert_non_null(
		strstr(x.buf, "\033[1;31mERROR\033[0m shop/pay  1m02s\n"));
	assert_non_null(strstr(
		x.buf, "\033[33mSKIP\033[0m  shop/later  (not ready)\n"));
	/* only the status word is coloured: the summary is plain */
	assert_non_null(strstr(x.buf, summary));
	fx_release(&x);
}

static void test_quiet(void **state)
{
	struct fx x;
	(void)state;
	fx_init(&x);
	x.o.quiet = 1;
	x.run.interrupted = 1;
	fx_run(&x);
	fx_flush(&x);
	assert_string_equal(x.buf,
			    "FAIL  shop/reserve  1.23s\n"
			    "      status: expected 201, got 500\n"
			    "        POST /reserve\n"
			    "\n"
			    "      body: {}\n"
			    "ERROR shop/pay  1m02s\n"
			    "      connection refused\n"
			    "\n"
			    "2 passed, 1 failed, 1 error, 1 skipped, 1 flaky "
			    "(5 tests in 1m05s)\n"
			    "interrupted\n"
			    "run folder: /tmp/out/run1\n"
			    "junit: /tmp/out/run1/junit.xml\n");
	fx_release(&x);
}

static void test_quiet_all_pass(void **state)
{
	struct fx x;
	(void)state;
	fx_init(&x);
	x.o.quiet = 1;
	x.o.junit_path = "out/junit.xml";
	x.stage.ncases = 1;
	x.run.time_s = 0.0301;
	fx_run(&x);
	fx_flush(&x);
	/* nothing printed before it: no blank line; singular "test" */
	assert_string_equal(x.buf, "1 passed, 0 failed, 0 errors, 0 skipped "
				   "(1 test in 30ms)\n"
				   "run folder: /tmp/out/run1\n"
				   "junit: /tmp/out/run1/junit.xml\n"
				   "junit: out/junit.xml\n");
	fx_release(&x);
}

static void test_verbose(void **state)
{
	struct fx x;
	(void)state;
	fx_init(&x);
	x.o.verbose = 1;
	fx_run(&x);
	fx_flush(&x);
	assert_non_null(strstr(x.buf, "PASS  shop/create order  12ms\n"
				      "      POST /orders -> 201\n"
				      "FAIL  shop/reserve"));
	assert_non_null(strstr(x.buf,
			       "(flaky: passed on attempt 3)\n"
			       "      attempt 1: FAIL  expected 1, got 2\n"
			       "      attempt 2: ERROR  timed out\n"));
	fx_release(&x);
}

static void test_times(void **state)
{
	static const struct {
		double secs;
		const char *text;
	} cases[] = {
		{0, "0ms"},	    {0.0004, "0ms"},   {0.012, "12ms"},
		{0.9994, "999ms"},  {0.9996, "1.00s"}, {1.234, "1.23s"},
		{59.994, "59.99s"}, {59.996, "1m00s"}, {62.4, "1m02s"},
		{3723, "62m03s"},   {-1, "0ms"},
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct fx x;
		char want[128];
		fx_init(&x);
		x.cases[0].time_s = cases[i].secs;
		x.stage.ncases = 1;
		fx_open(&x);
		console_reporter.case_done(x.st, &x.stage, &x.cases[0]);
		fx_flush(&x);
		snprintf(want, sizeof(want), "PASS  shop/create order  %s\n",
			 cases[i].text);
		assert_string_equal(x.buf, want);
		fx_release(&x);
	}
}

static void test_stage_headers(void **state)
{
	struct fx x;
	struct rep_stage s2;
	(void)state;
	fx_init(&x);
	x.stage.nstages = 3;
	x.stage.number = 2;
	x.stage.strategy = "bottom-up";
	x.stage.layer = 1;
	x.stage.real = "inventory, orders";
	s2 = x.stage;
	s2.number = 2;
	s2.stream = "top";
	s2.layer = -1;
	s2.real = NULL;
	s2.stubbed = "payments";
	fx_open(&x);
	console_reporter.case_done(x.st, &x.stage, &x.cases[0]);
	console_reporter.case_done(x.st, &x.stage, &x.cases[3]);
	console_reporter.case_done(x.st, &s2, &x.cases[0]);
	fx_flush(&x);
	assert_string_equal(x.buf,
			    "== shop: stage 2/3 (bottom-up, main stream, "
			    "layer 1) real: inventory, orders; stubbed: -\n"
			    "PASS  shop/create order  12ms\n"
			    "SKIP  shop/later  (not ready)\n"
			    "== shop: stage 2/3 (bottom-up, top stream) "
			    "real: -; stubbed: payments\n"
			    "PASS  shop/create order  12ms\n");
	fx_release(&x);
}

static void test_single_stage_no_header(void **state)
{
	struct fx x;
	(void)state;
	fx_init(&x);
	fx_open(&x);
	console_reporter.case_done(x.st, &x.stage, &x.cases[0]);
	fx_flush(&x);
	assert_null(strstr(x.buf, "=="));
	fx_release(&x);
}

static void test_status_line(void **state)
{
	struct fx x;
	char long_text[201], want[128];
	(void)state;
	fx_init(&x);
	x.o.tty = 1;
	fx_open(&x);
	console_reporter.status(x.st, "stage 1: 2 running, 3s");
	console_reporter.case_done(x.st, &x.stage, &x.cases[0]);
	console_reporter.status(x.st, NULL);
	console_reporter.status(x.st, NULL); /* nothing to clear twice */
	fx_flush(&x);
	assert_string_equal(x.buf, "\r\033[Kstage 1: 2 running, 3s"
				   "\r\033[KPASS  shop/create order  12ms\n"
				   "\r\033[Kstage 1: 2 running, 3s"
				   "\r\033[K");
	fx_release(&x);

	/* a memory stream has no window size: 80 columns, 79 used; close
	 * clears the line */
	fx_init(&x);
	x.o.tty = 1;
	memset(long_text, 'x', 200);
	long_text[200] = '\0';
	fx_open(&x);
	console_reporter.status(x.st, long_text);
	fx_flush(&x);
	memcpy(want, "\r\033[K", 4);
	memset(want + 4, 'x', 79);
	memcpy(want + 83, "\r\033[K", 5);
	assert_string_equal(x.buf, want);
	fx_release(&x);

	/* cut by characters, never inside a UTF-8 sequence */
	fx_init(&x);
	x.o.tty = 1;
	for (size_t i = 0; i < 100; i++)
		memcpy(long_text + 2 * i, "\xc3\xa9", 2);
	long_text[200] = '\0';
	fx_open(&x);
	console_reporter.status(x.st, long_text);
	fx_flush(&x);
	assert_int_equal(x.len, 4 + 79 * 2 + 4);
	assert_memory_equal(x.buf + 4, long_text, 79 * 2);
	fx_release(&x);

	/* control characters cannot break the line */
	fx_init(&x);
	x.o.tty = 1;
	fx_open(&x);
	console_reporter.status(x.st, "a\nb");
	fx_flush(&x);
	assert_string_equal(x.buf, "\r\033[Ka b\r\033[K");
	fx_release(&x);
}

static void test_status_needs_tty(void **state)
{
	struct fx x;
	(void)state;
	fx_init(&x);
	fx_open(&x);
	console_reporter.status(x.st, "stage 1: running");
	console_reporter.case_done(x.st, &x.stage, &x.cases[0]);
	fx_flush(&x);
	assert_string_equal(x.buf, "PASS  shop/create order  12ms\n");
	fx_release(&x);
}

static void test_masked(void **state)
{
	struct fx x;
	struct masker m = MASKER_INIT;
	(void)state;
	mask_add(&m, "s3cr3t-token", 12);
	fx_init(&x);
	x.o.mask = &m;
	x.o.tty = 1;
	free(x.cases[1].detail);
	x.cases[1].detail = xstrdup("header Authorization: s3cr3t-token");
	fx_open(&x);
	console_reporter.status(x.st, "calling with s3cr3t-token");
	console_reporter.case_done(x.st, &x.stage, &x.cases[1]);
	fx_flush(&x);
	assert_null(strstr(x.buf, "s3cr3t"));
	assert_non_null(strstr(x.buf, "      header Authorization: ***\n"));
	assert_non_null(strstr(x.buf, "\r\033[Kcalling with ***"));
	fx_release(&x);
	mask_release(&m);
}

static void test_count_stage(void **state)
{
	struct fx x;
	struct rep_counts n = {0};
	(void)state;
	fx_init(&x);
	rep_count_stage(&x.stage, &n);
	assert_int_equal(n.total, 5);
	assert_int_equal(n.passed, 2);
	assert_int_equal(n.failed, 1);
	assert_int_equal(n.errors, 1);
	assert_int_equal(n.skipped, 1);
	assert_int_equal(n.flaky, 1);
	/* a second stage adds to the counts */
	rep_count_stage(&x.stage, &n);
	assert_int_equal(n.total, 10);
	assert_int_equal(n.flaky, 2);
	fx_release(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_color),
		cmocka_unit_test(test_quiet),
		cmocka_unit_test(test_quiet_all_pass),
		cmocka_unit_test(test_verbose),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_stage_headers),
		cmocka_unit_test(test_single_stage_no_header),
		cmocka_unit_test(test_status_line),
		cmocka_unit_test(test_status_needs_tty),
		cmocka_unit_test(test_masked),
		cmocka_unit_test(test_count_stage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
