/*
 * reporters/html.c: report.html has the counts, every test with its
 * status, a failure's text and log, a saved image inline (data: URL,
 * base64) and another file linked relative to the run folder, the
 * latency chart and table, all HTML-escaped.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reporter.h"

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct strbuf sb = STRBUF_INIT;
	char buf[4096];
	size_t n;
	assert_non_null(f);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		strbuf_add(&sb, buf, n);
	fclose(f);
	return strbuf_detach(&sb, NULL);
}

static void write_bytes(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void test_report(void **state)
{
	(void)state;
	char dir[] = "/tmp/itest-html-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *png = xasprintf("%s/shot.png", dir);
	char *txt = xasprintf("%s/body 1.txt", dir);
	write_bytes(png, "\x89PNG\r\n\x1a\n", 8);
	write_bytes(txt, "hello", 5);

	struct rep_case cases[2];
	memset(cases, 0, sizeof(cases));
	cases[0].name = "reads <the> page";
	cases[0].status = IT_PASS;
	cases[0].log = (char *)"--- step 1: open\n";
	cases[1].name = "fails & says why";
	cases[1].status = IT_FAIL;
	cases[1].detail = (char *)"expected \"a\" <b>";
	cases[1].log = (char *)"--- step 1\n";
	char *att[] = {png, (char *)"body 1.txt"};
	cases[1].attachments = att;
	cases[1].nattach = 2;
	struct rep_stage stage = {0};
	stage.suite = "web";
	stage.number = stage.nstages = 1;
	stage.cases = cases;
	stage.ncases = 2;
	struct metrics m = {0};
	metrics_add(&m, "web", "browser", 0, 12.5, 0);
	metrics_add(&m, NULL, "shell", 0, 1, 1);
	metrics_finish(&m);
	struct rep_run run = {0};
	run.run_id = "r1";
	run.run_dir = dir;
	run.stages = &stage;
	run.nstages = 1;
	run.metrics = &m;

	struct rep_opts o = {0};
	struct itest_err err = ITEST_ERR_INIT;
	void *st = html_reporter.open(&o);
	assert_int_equal(html_reporter.finish(st, &run, &err), 0);
	html_reporter.close(st);

	char *path = xasprintf("%s/report.html", dir);
	char *html = slurp(path);
	assert_non_null(strstr(html, "<title>itest run r1</title>"));
	assert_non_null(strstr(html, "1 passed</span>"));
	assert_non_null(strstr(html, "1 failed</span>"));
	assert_non_null(strstr(html, "reads &lt;the&gt; page"));
	assert_non_null(strstr(html, "fails &amp; says why"));
	assert_non_null(strstr(html, "<pre>expected &quot;a&quot; &lt;b&gt;"
				     "</pre>"));
	/* the image inline: base64 of the 8 bytes, padded */
	assert_non_null(strstr(html, "src=\"data:image/png;base64,"
				     "iVBORw0KGgo=\""));
	/* the other file linked relative to the run folder, encoded */
	assert_non_null(strstr(html, "<a href=\"body%201.txt\">body 1.txt"
				     "</a>"));
	/* the chart and the table */
	assert_non_null(strstr(html, "<svg "));
	assert_non_null(strstr(html, "web via browser"));
	assert_non_null(strstr(html, "(no component) via shell"));
	assert_null(strstr(html, "<script"));

	free(html);
	unlink(path);
	unlink(png);
	unlink(txt);
	rmdir(dir);
	free(path);
	free(png);
	free(txt);
	metrics_release(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_report),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
