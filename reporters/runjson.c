/*
 * RUN_DIR/run.json (SPEC 7): the whole run in one machine-readable file --
 * the counts, every stage with its tests (status, time, attempts, the
 * failure message, attached files) and the metrics per component and
 * driver.  Every string in the run model is masked already; the file is
 * written through the masker again, atomically.
 */
#include <time.h>

#include "common.h"
#include "reporter.h"

struct runjson {
	struct rep_opts o;
};

static void *runjson_open(const struct rep_opts *o)
{
	struct runjson *st = xcalloc(1, sizeof(*st));
	st->o = *o;
	return st;
}

/* "2026-11-27T18:02:25.123Z" */
static struct ivalue *utc_text(int64_t wall_ms)
{
	time_t t = (time_t)(wall_ms / 1000);
	struct tm tm;
	char buf[64];
	gmtime_r(&t, &tm);
	size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, sizeof(buf) - n, ".%03dZ", (int)(wall_ms % 1000));
	return iv_str(buf);
}

static struct ivalue *seconds(double s)
{
	return iv_double(s > 0 ? (double)(int64_t)(s * 1000 + 0.5) / 1000 : 0);
}

static struct ivalue *str_or_null(const char *s)
{
	return s ? iv_str(s) : iv_null();
}

/* "a,b" -> ["a", "b"] */
static struct ivalue *name_list(const char *csv)
{
	struct ivalue *a = iv_arr();
	while (csv && *csv) {
		const char *e = strchr(csv, ',');
		size_t n = e ? (size_t)(e - csv) : strlen(csv);
		if (n)
			iv_push(a, iv_strn(csv, n));
		csv += n + (e ? 1 : 0);
	}
	return a;
}

static struct ivalue *case_json(const struct rep_case *c)
{
	struct ivalue *o = iv_obj();
	iv_set(o, "name", iv_str(c->name));
	iv_set(o, "file", str_or_null(c->file));
	iv_set(o, "line", iv_int(c->line));
	iv_set(o, "status", iv_str(status_name(c->status)));
	iv_set(o, "flaky", iv_bool(c->flaky));
	iv_set(o, "attempts", iv_int(c->attempts));
	iv_set(o, "time_s", seconds(c->time_s));
	iv_set(o, "message", str_or_null(c->message));
	struct ivalue *att = iv_arr();
	for (size_t i = 0; i < c->nattach; i++)
		iv_push(att, iv_str(c->attachments[i]));
	iv_set(o, "attachments", att);
	return o;
}

static struct ivalue *stage_json(const struct rep_stage *s)
{
	struct ivalue *o = iv_obj(), *tests = iv_arr();
	struct rep_counts n = {0};
	rep_count_stage(s, &n);
	iv_set(o, "suite", iv_str(s->suite));
	iv_set(o, "file", str_or_null(s->file));
	iv_set(o, "stage", iv_int(s->number));
	iv_set(o, "stages", iv_int(s->nstages));
	iv_set(o, "strategy", str_or_null(s->strategy));
	iv_set(o, "stream", str_or_null(s->stream));
	iv_set(o, "layer", s->layer >= 0 ? iv_int(s->layer) : iv_null());
	iv_set(o, "real", name_list(s->real));
	iv_set(o, "stubbed", name_list(s->stubbed));
	iv_set(o, "time_s", seconds(s->time_s));
	iv_set(o, "tests_total", iv_int((int64_t)n.total));
	for (size_t i = 0; i < s->ncases; i++)
		iv_push(tests, case_json(&s->cases[i]));
	iv_set(o, "tests", tests);
	return o;
}

static int runjson_finish(void *p, const struct rep_run *run,
			  struct itest_err *err)
{
	struct runjson *st = p;
	struct rep_counts n = {0};
	struct strbuf doc = STRBUF_INIT, path = STRBUF_INIT;
	if (!run->run_dir)
		return err_set(err, NULL,
			       "no run folder to write 'run.json' to");
	struct ivalue *o = iv_obj(), *counts = iv_obj(), *stages = iv_arr();
	for (size_t i = 0; i < run->nstages; i++) {
		rep_count_stage(&run->stages[i], &n);
		iv_push(stages, stage_json(&run->stages[i]));
	}
	iv_set(o, "itest", iv_str(ITEST_VERSION));
	iv_set(o, "run_id", str_or_null(run->run_id));
	iv_set(o, "run_dir", iv_str(run->run_dir));
	iv_set(o, "started", utc_text(run->start_wall_ms));
	iv_set(o, "time_s", seconds(run->time_s));
	iv_set(o, "interrupted", iv_bool(run->interrupted));
	iv_set(counts, "tests", iv_int((int64_t)n.total));
	iv_set(counts, "passed", iv_int((int64_t)n.passed));
	iv_set(counts, "failed", iv_int((int64_t)n.failed));
	iv_set(counts, "errors", iv_int((int64_t)n.errors));
	iv_set(counts, "skipped", iv_int((int64_t)n.skipped));
	iv_set(counts, "flaky", iv_int((int64_t)n.flaky));
	iv_set(o, "counts", counts);
	iv_set(o, "stages", stages);
	iv_set(o, "metrics",
	       run->metrics ? metrics_json(run->metrics) : iv_arr());
	iv_set(o, "coverage",
	       run->coverage ? coverage_json(run->coverage) : iv_null());
	if (run->code) {
		struct ivalue *code = iv_obj();
		iv_set(code, "files", iv_int((int64_t)run->code->files));
		iv_set(code, "lines", iv_int((int64_t)run->code->lines));
		iv_set(code, "lines_covered",
		       iv_int((int64_t)run->code->covered));
		iv_set(code, "gcda_files", iv_int((int64_t)run->code->gcda));
		iv_set(o, "code_coverage", code);
	}
	json_emit(&doc, o, 1);
	strbuf_addch(&doc, '\n');
	strbuf_addf(&path, "%s/run.json", run->run_dir);
	int ret = mask_write_file(st->o.mask, path.buf, &doc, err);
	iv_free(o);
	strbuf_release(&doc);
	strbuf_release(&path);
	return ret;
}

static void runjson_close(void *p)
{
	free(p);
}

const struct reporter runjson_reporter = {
	.name = "run.json",
	.open = runjson_open,
	.finish = runjson_finish,
	.close = runjson_close,
};
