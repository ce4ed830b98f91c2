/*
 * RUN_DIR/report.html (SPEC 7): the run as one self-contained page for
 * people -- the counts, the integration coverage, the latency of each
 * component and driver as a chart, then every stage with its tests, the
 * failures with their step logs, and the files the drivers saved
 * (screenshots shown inline as data: URLs, other files linked relative to
 * the run folder).  No script, no external resource: it opens from a CI
 * artifact store as well as from disk.  Every string in the run model is
 * masked already; the page is written through the masker again.
 */
#include <strings.h>
#include <sys/stat.h>

#include "common.h"
#include "reporter.h"

/* An image bigger than this is linked, not embedded. */
#define HTML_IMAGE_MAX ((size_t)4 << 20)
/* The page shows this much of a test's step log (junit.xml has it all). */
#define HTML_LOG_MAX ((size_t)64 << 10)

struct html {
	struct rep_opts o;
};

static void *html_open(const struct rep_opts *o)
{
	struct html *st = xcalloc(1, sizeof(*st));
	st->o = *o;
	return st;
}

static void esc(struct strbuf *sb, const char *s)
{
	if (s)
		strbuf_add_xml_escaped(sb, s, strlen(s));
}

static const char *status_class(enum itest_status s)
{
	static const char *const names[] = {"pass", "fail", "error", "skip"};
	return names[s];
}

static const char page_style[] =
	"body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
	"h1{margin-bottom:0}.sub{color:#666;margin-top:.2em}"
	"table{border-collapse:collapse;margin:.5em 0 1.5em}"
	"td,th{padding:.25em .7em;border-bottom:1px solid #ddd;"
	"text-align:left;vertical-align:top}"
	"th{background:#f4f4f4}td.n{text-align:right}"
	".badge{display:inline-block;padding:.2em .6em;margin-right:.4em;"
	"border-radius:.3em;font-weight:600}"
	".pass{background:#d8f3dc}.fail{background:#ffd6d6}"
	".error{background:#ffe5b4}.skip{background:#e9ecef}"
	".flaky{background:#fff3bf}"
	"pre{background:#f8f8f8;padding:.6em;overflow-x:auto;"
	"white-space:pre-wrap;max-height:30em;overflow-y:auto}"
	"details{margin:.3em 0}img.shot{max-width:100%;border:1px solid #ccc}"
	"h2{margin-top:1.5em}.stage{color:#555;font-weight:normal}"
	"svg text{font-size:12px;font-family:system-ui,sans-serif}";

static void add_counts(struct strbuf *sb, const struct rep_counts *n)
{
	strbuf_addf(sb,
		    "<p><span class=\"badge pass\">%zu passed</span>"
		    "<span class=\"badge fail\">%zu failed</span>"
		    "<span class=\"badge error\">%zu %s</span>"
		    "<span class=\"badge skip\">%zu skipped</span>",
		    n->passed, n->failed, n->errors,
		    n->errors == 1 ? "error" : "errors", n->skipped);
	if (n->flaky)
		strbuf_addf(sb, "<span class=\"badge flaky\">%zu flaky</span>",
			    n->flaky);
	strbuf_addstr(sb, "</p>\n");
}

static void add_coverage(struct strbuf *sb, const struct coverage_map *c)
{
	size_t cc, ct, ic, it;
	if (!c)
		return;
	coverage_counts(c, &cc, &ct, &ic, &it);
	if (!ct)
		return;
	struct ivalue *j = coverage_json(c);
	const struct ivalue *comps = iv_get(j, "components");
	const struct ivalue *ifs = iv_get(j, "interfaces");
	strbuf_addf(sb,
		    "<h2>Integration coverage</h2>\n<p>%zu of %zu components, "
		    "%zu of %zu interfaces covered by passing tests.</p>\n"
		    "<table><tr><th>component or interface</th><th>tests</th>"
		    "<th>passed</th><th></th></tr>\n",
		    cc, ct, ic, it);
	for (size_t i = 0; i < comps->u.arr.n; i++) {
		const struct ivalue *k = comps->u.arr.v[i];
		int covered = iv_get(k, "covered")->u.b;
		strbuf_addstr(sb, "<tr><td>");
		esc(sb, iv_strval(iv_get(k, "name")));
		strbuf_addf(sb,
			    "</td><td class=\"n\">%s</td><td class=\"n\">%s"
			    "</td><td class=\"%s\">%s</td></tr>\n",
			    iv_get(k, "tests")->u.num.text,
			    iv_get(k, "passed")->u.num.text,
			    covered ? "pass" : "fail",
			    covered ? "covered" : "not covered");
	}
	for (size_t i = 0; i < ifs->u.arr.n; i++) {
		const struct ivalue *k = ifs->u.arr.v[i];
		int covered = iv_get(k, "covered")->u.b;
		strbuf_addstr(sb, "<tr><td>");
		esc(sb, iv_strval(iv_get(k, "from")));
		strbuf_addstr(sb, " &rarr; ");
		esc(sb, iv_strval(iv_get(k, "to")));
		strbuf_addf(sb,
			    "</td><td class=\"n\">%s</td><td class=\"n\">%s"
			    "</td><td class=\"%s\">%s</td></tr>\n",
			    iv_get(k, "tests")->u.num.text,
			    iv_get(k, "passed")->u.num.text,
			    covered ? "pass" : "fail",
			    covered ? "covered" : "not covered");
	}
	strbuf_addstr(sb, "</table>\n");
	const struct ivalue *ops = iv_get(j, "operations");
	if (ops->u.arr.n) {
		size_t hit, total;
		coverage_api_counts(c, &hit, &total);
		strbuf_addf(sb,
			    "<p>%zu of %zu API operations hit.</p>\n<table>"
			    "<tr><th>component</th><th>operation</th>"
			    "<th>requests</th></tr>\n",
			    hit, total);
		for (size_t i = 0; i < ops->u.arr.n; i++) {
			const struct ivalue *k = ops->u.arr.v[i];
			int h = iv_get(k, "hit")->u.b;
			strbuf_addstr(sb, "<tr><td>");
			esc(sb, iv_strval(iv_get(k, "component")));
			strbuf_addstr(sb, "</td><td>");
			esc(sb, iv_strval(iv_get(k, "operation")));
			strbuf_addf(sb,
				    "</td><td class=\"n %s\">%s</td></tr>\n",
				    h ? "pass" : "fail",
				    iv_get(k, "requests")->u.num.text);
		}
		strbuf_addstr(sb, "</table>\n");
	}
	iv_free(j);
}

/* "orders via http", or "(no component) via shell" */
static void series_name(struct strbuf *sb, const struct metric_series *s)
{
	if (*s->component)
		esc(sb, s->component);
	else
		strbuf_addstr(sb, "(no component)");
	strbuf_addstr(sb, " via ");
	esc(sb, s->driver);
}

/* Bars of avg and p95 latency, with a tick at max, on one scale. */
static void add_latency_chart(struct strbuf *sb, const struct metrics *m)
{
	double top = 0;
	for (size_t i = 0; i < m->n; i++)
		if (m->v[i].max_ms > top)
			top = m->v[i].max_ms;
	if (!(top > 0))
		return;
	const int label_w = 260, bar_w = 420, row_h = 34;
	int h = (int)m->n * row_h + 30;
	strbuf_addf(sb,
		    "<svg width=\"%d\" height=\"%d\" role=\"img\" "
		    "aria-label=\"latency per component and driver\">\n",
		    label_w + bar_w + 190, h);
	for (size_t i = 0; i < m->n; i++) {
		const struct metric_series *s = &m->v[i];
		double avg = s->requests ? s->sum_ms / (double)s->requests : 0;
		double p95 = metrics_quantile(s, 0.95);
		int y = (int)i * row_h + 4;
		strbuf_addf(sb, "<text x=\"0\" y=\"%d\">", y + 17);
		series_name(sb, s);
		strbuf_addstr(sb, "</text>\n");
		strbuf_addf(sb,
			    "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" "
			    "height=\"11\" fill=\"#74c0fc\"><title>avg %.3f ms"
			    "</title></rect>\n",
			    label_w, y + 2, bar_w * avg / top, avg);
		strbuf_addf(sb,
			    "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" "
			    "height=\"11\" fill=\"#1c7ed6\"><title>p95 %.3f ms"
			    "</title></rect>\n",
			    label_w, y + 14, bar_w * p95 / top, p95);
		strbuf_addf(sb,
			    "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" "
			    "stroke=\"#c92a2a\" stroke-width=\"2\"><title>max "
			    "%.3f ms</title></line>\n",
			    label_w + bar_w * s->max_ms / top,
			    label_w + bar_w * s->max_ms / top, y, y + 27,
			    s->max_ms);
		strbuf_addf(sb,
			    "<text x=\"%d\" y=\"%d\">%.1f / %.1f / %.1f ms"
			    "</text>\n",
			    label_w + bar_w + 8, y + 17, avg, p95, s->max_ms);
	}
	strbuf_addf(sb,
		    "<text x=\"%d\" y=\"%d\">light: avg, dark: p95, red: max "
		    "(0 to %.1f ms)</text>\n</svg>\n",
		    label_w, h - 6, top);
}

static void add_metrics(struct strbuf *sb, const struct metrics *m)
{
	if (!m || !m->n)
		return;
	strbuf_addstr(sb, "<h2>Latency</h2>\n");
	add_latency_chart(sb, m);
	strbuf_addstr(sb,
		      "<table><tr><th>component and driver</th>"
		      "<th>requests</th><th>errors</th><th>per minute</th>"
		      "<th>avg ms</th><th>p95 ms</th><th>max ms</th></tr>\n");
	for (size_t i = 0; i < m->n; i++) {
		const struct metric_series *s = &m->v[i];
		strbuf_addstr(sb, "<tr><td>");
		series_name(sb, s);
		strbuf_addf(sb,
			    "</td><td class=\"n\">%zu</td><td class=\"n\">%zu"
			    "</td><td class=\"n\">%.1f</td><td class=\"n\">%.3f"
			    "</td><td class=\"n\">%.3f</td><td class=\"n\">%.3f"
			    "</td></tr>\n",
			    s->requests, s->errors,
			    metrics_per_minute(s, s->requests),
			    s->requests ? s->sum_ms / (double)s->requests : 0,
			    metrics_quantile(s, 0.95), s->max_ms);
	}
	strbuf_addstr(sb, "</table>\n");
}

static int is_image(const char *path, const char **mime)
{
	const char *dot = strrchr(path, '.');
	if (!dot)
		return 0;
	if (!strcasecmp(dot, ".png"))
		*mime = "image/png";
	else if (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"))
		*mime = "image/jpeg";
	else if (!strcasecmp(dot, ".gif"))
		*mime = "image/gif";
	else
		return 0;
	return 1;
}

/* Reads a whole file of at most `max` bytes; 0 or -1. */
static int read_small(const char *path, size_t max, struct strbuf *out)
{
	struct stat st;
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	if (fstat(fileno(f), &st) < 0 || st.st_size < 0 ||
	    (size_t)st.st_size > max) {
		fclose(f);
		return -1;
	}
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		strbuf_add(out, buf, n);
	int bad = ferror(f);
	fclose(f);
	return bad ? -1 : 0;
}

/* An attached file: an image inline, anything else as a link relative to
 * the run folder (where the page is). */
static void add_attachment(struct strbuf *sb, const struct rep_run *run,
			   const char *path)
{
	size_t dl = strlen(run->run_dir);
	char *abs = path[0] == '/' ? xstrdup(path)
				   : xasprintf("%s/%s", run->run_dir, path);
	const char *rel = abs;
	if (!strncmp(abs, run->run_dir, dl) && abs[dl] == '/')
		rel = abs + dl + 1;
	const char *mime = NULL;
	struct strbuf data = STRBUF_INIT;
	if (is_image(abs, &mime) && !read_small(abs, HTML_IMAGE_MAX, &data)) {
		strbuf_addstr(sb, "<p>");
		esc(sb, rel);
		strbuf_addf(sb,
			    "<br><img class=\"shot\" alt=\"\" src=\"data:%s;"
			    "base64,",
			    mime);
		strbuf_add_base64(sb, data.buf, data.len, 1);
		strbuf_addstr(sb, "\"></p>\n");
	} else {
		strbuf_addstr(sb, "<p><a href=\"");
		for (const char *p = rel; *p; p++) {
			/* a relative URL: path characters kept, the rest
			 * percent-encoded */
			if (*p == '/' || *p == '.' || *p == '-' || *p == '_' ||
			    (*p >= 'a' && *p <= 'z') ||
			    (*p >= 'A' && *p <= 'Z') ||
			    (*p >= '0' && *p <= '9'))
				strbuf_addch(sb, *p);
			else
				strbuf_addf(sb, "%%%02X", (unsigned char)*p);
		}
		strbuf_addstr(sb, "\">");
		esc(sb, rel);
		strbuf_addstr(sb, "</a></p>\n");
	}
	strbuf_release(&data);
	free(abs);
}

static void add_case(struct strbuf *sb, const struct rep_run *run,
		     const struct rep_case *c)
{
	const char *label = status_name(c->status);
	strbuf_addf(sb, "<tr><td class=\"%s\">%s%s</td><td>",
		    c->flaky ? "flaky" : status_class(c->status), label,
		    c->flaky ? " (flaky)" : "");
	esc(sb, c->name);
	if (c->message && c->status == IT_SKIP) {
		strbuf_addstr(sb, " <span class=\"sub\">(");
		esc(sb, c->message);
		strbuf_addstr(sb, ")</span>");
	}
	int open = c->status == IT_FAIL || c->status == IT_ERROR;
	if (open && c->detail) {
		strbuf_addstr(sb, "<pre>");
		esc(sb, c->detail);
		strbuf_addstr(sb, "</pre>");
	}
	for (size_t i = 0; i < c->nattach; i++)
		add_attachment(sb, run, c->attachments[i]);
	if (c->log && *c->log) {
		size_t len = strlen(c->log), n = len;
		if (n > HTML_LOG_MAX) {
			n = HTML_LOG_MAX;
			while (n && ((unsigned char)c->log[n] & 0xC0) == 0x80)
				n--;
		}
		strbuf_addstr(sb, "<details><summary>step log</summary><pre>");
		strbuf_add_xml_escaped(sb, c->log, n);
		if (n < len)
			strbuf_addf(sb, "\n... (%zu more bytes: see junit.xml)",
				    len - n);
		strbuf_addstr(sb, "</pre></details>");
	}
	strbuf_addf(sb, "</td><td class=\"n\">%.3f s</td></tr>\n", c->time_s);
}

static void add_stage(struct strbuf *sb, const struct rep_run *run,
		      const struct rep_stage *s)
{
	strbuf_addstr(sb, "<h2>");
	esc(sb, s->suite);
	if (s->nstages > 1) {
		strbuf_addf(sb, " <span class=\"stage\">stage %d of %d (",
			    s->number, s->nstages);
		esc(sb, s->strategy);
		strbuf_addstr(sb, ", ");
		esc(sb, s->stream);
		strbuf_addstr(sb, " stream)</span>");
	}
	strbuf_addstr(sb, "</h2>\n");
	if ((s->real && *s->real) || (s->stubbed && *s->stubbed)) {
		strbuf_addstr(sb, "<p class=\"sub\">real: ");
		esc(sb, s->real && *s->real ? s->real : "-");
		strbuf_addstr(sb, "; stubbed: ");
		esc(sb, s->stubbed && *s->stubbed ? s->stubbed : "-");
		strbuf_addstr(sb, "</p>\n");
	}
	strbuf_addstr(sb, "<table><tr><th></th><th>test</th><th>time</th>"
			  "</tr>\n");
	for (size_t i = 0; i < s->ncases; i++)
		add_case(sb, run, &s->cases[i]);
	strbuf_addstr(sb, "</table>\n");
}

static int html_finish(void *p, const struct rep_run *run,
		       struct itest_err *err)
{
	struct html *st = p;
	struct rep_counts n = {0};
	struct strbuf doc = STRBUF_INIT, path = STRBUF_INIT;
	if (!run->run_dir)
		return err_set(err, NULL,
			       "no run folder to write 'report.html' to");
	for (size_t i = 0; i < run->nstages; i++)
		rep_count_stage(&run->stages[i], &n);
	strbuf_addstr(&doc, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
			    "<meta charset=\"utf-8\">\n<title>itest run ");
	esc(&doc, run->run_id);
	strbuf_addf(&doc, "</title>\n<style>%s</style>\n</head>\n<body>\n",
		    page_style);
	strbuf_addstr(&doc, "<h1>itest run ");
	esc(&doc, run->run_id);
	strbuf_addf(&doc, "</h1>\n<p class=\"sub\">%zu %s in %.2f s%s</p>\n",
		    n.total, n.total == 1 ? "test" : "tests", run->time_s,
		    run->interrupted ? ", interrupted" : "");
	add_counts(&doc, &n);
	add_coverage(&doc, run->coverage);
	add_metrics(&doc, run->metrics);
	for (size_t i = 0; i < run->nstages; i++)
		add_stage(&doc, run, &run->stages[i]);
	strbuf_addstr(&doc, "</body>\n</html>\n");
	strbuf_addf(&path, "%s/report.html", run->run_dir);
	int ret = mask_write_file(st->o.mask, path.buf, &doc, err);
	strbuf_release(&doc);
	strbuf_release(&path);
	return ret;
}

static void html_close(void *p)
{
	free(p);
}

const struct reporter html_reporter = {
	.name = "report.html",
	.open = html_open,
	.finish = html_finish,
	.close = html_close,
};
