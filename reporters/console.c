/*
 * The console reporter: one line per test as results become final,
 * failure details, an optional live status line on a terminal, and the
 * summary at the end.  Every byte goes through the masker.
 */
#include <sys/ioctl.h>
#include <unistd.h>

#include "reporter.h"

#define CLEAR_LINE "\r\033[K"
#define INDENT	   "      "

struct console {
	struct rep_opts o;
	FILE *out;
	char *status;	     /* masked live status text, or NULL */
	struct strbuf stage; /* key of the stage of the last test line */
	int printed;	     /* a test line was printed */
};

static const struct {
	const char *word, *color;
} words[] = {
	[IT_PASS] = {"PASS", "\033[32m"},
	[IT_FAIL] = {"FAIL", "\033[31m"},
	[IT_ERROR] = {"ERROR", "\033[1;31m"},
	[IT_SKIP] = {"SKIP", "\033[33m"},
};

/* 0.012 -> "12ms", 1.234 -> "1.23s", 62.4 -> "1m02s" */
static void add_time(struct strbuf *sb, double secs)
{
	long ms = secs > 0 ? (long)(secs * 1000 + 0.5) : 0;
	if (ms < 1000) {
		strbuf_addf(sb, "%ldms", ms);
		return;
	}
	long cs = (ms + 5) / 10;
	if (cs < 6000) {
		strbuf_addf(sb, "%ld.%02lds", cs / 100, cs % 100);
		return;
	}
	long s = (ms + 500) / 1000;
	strbuf_addf(sb, "%ldm%02lds", s / 60, s % 60);
}

/* "a,b" -> "a, b"; empty -> "-" */
static void add_list(struct strbuf *sb, const char *list)
{
	int any = 0;
	const char *p = list ? list : "";
	while (*p) {
		size_t n = strcspn(p, ",");
		const char *s = p, *e = p + n;
		while (s < e && *s == ' ')
			s++;
		while (e > s && e[-1] == ' ')
			e--;
		if (e > s) {
			if (any)
				strbuf_addstr(sb, ", ");
			strbuf_add(sb, s, (size_t)(e - s));
			any = 1;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	if (!any)
		strbuf_addch(sb, '-');
}

/* Each line of `text` indented; empty lines stay empty, no trailing
 * newline of the text makes a blank line. */
static void add_indented(struct strbuf *sb, const char *text)
{
	const char *p = text;
	while (p && *p) {
		size_t n = strcspn(p, "\n");
		if (n)
			strbuf_addstr(sb, INDENT);
		strbuf_add(sb, p, n);
		strbuf_addch(sb, '\n');
		p += n;
		if (*p == '\n')
			p++;
	}
}

static size_t term_width(FILE *f)
{
	struct winsize ws;
	int fd = fileno(f);
	if (fd >= 0 && !ioctl(fd, TIOCGWINSZ, &ws) && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

/* The status text cut to fit one line (one column is left free so that
 * the terminal never wraps), without splitting a UTF-8 character. */
static void add_status(struct console *st, struct strbuf *sb)
{
	size_t width = term_width(st->out), cols = 0;
	width = width > 1 ? width - 1 : 1;
	strbuf_addstr(sb, CLEAR_LINE);
	for (const char *p = st->status; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if ((c & 0xc0) != 0x80 && cols++ == width)
			break;
		strbuf_addch(sb, c < 0x20 || c == 0x7f ? ' ' : c);
	}
}

static void put(struct console *st, const struct strbuf *sb)
{
	fwrite(sb->buf, 1, sb->len, st->out);
	fflush(st->out);
}

/* Masks `lines`, then prints them under the live status line. */
static void emit(struct console *st, struct strbuf *lines)
{
	struct strbuf sb = STRBUF_INIT;
	mask_apply(st->o.mask, lines);
	if (st->status)
		strbuf_addstr(&sb, CLEAR_LINE);
	strbuf_add(&sb, lines->buf, lines->len);
	if (st->status)
		add_status(st, &sb);
	put(st, &sb);
	strbuf_release(&sb);
}

static void *console_open(const struct rep_opts *o)
{
	struct console *st = xcalloc(1, sizeof(*st));
	st->o = *o;
	st->out = o->console ? o->console : stdout;
	strbuf_init(&st->stage, 0);
	return st;
}

static void add_word(struct console *st, struct strbuf *sb, enum itest_status s)
{
	const char *w = words[s].word;
	if (st->o.color)
		strbuf_addf(sb, "%s%s\033[0m", words[s].color, w);
	else
		strbuf_addstr(sb, w);
	strbuf_addf(sb, "%*s", (int)(6 - strlen(w)), "");
}

static void add_header(struct strbuf *sb, const struct rep_stage *g)
{
	strbuf_addf(sb, "== %s: stage %d/%d (%s, %s stream", g->suite,
		    g->number, g->nstages, g->strategy ? g->strategy : "-",
		    g->stream ? g->stream : "main");
	if (g->layer >= 0)
		strbuf_addf(sb, ", layer %d", g->layer);
	strbuf_addstr(sb, ") real: ");
	add_list(sb, g->real);
	strbuf_addstr(sb, "; stubbed: ");
	add_list(sb, g->stubbed);
	strbuf_addch(sb, '\n');
}

static void console_case_done(void *p, const struct rep_stage *g,
			      const struct rep_case *c)
{
	struct console *st = p;
	struct strbuf sb = STRBUF_INIT, key = STRBUF_INIT;
	int bad = c->status == IT_FAIL || c->status == IT_ERROR;
	if (st->o.quiet && !bad)
		return;
	if (!st->o.quiet && g->nstages > 1) {
		/* a header whenever the stage changes, so that stages of
		 * suites running side by side stay readable */
		strbuf_addf(&key, "%s\n%s\n%d", g->suite,
			    g->stream ? g->stream : "", g->number);
		if (strcmp(key.buf, st->stage.buf)) {
			add_header(&sb, g);
			strbuf_reset(&st->stage);
			strbuf_addstr(&st->stage, key.buf);
		}
	}
	add_word(st, &sb, c->status);
	strbuf_addf(&sb, "%s/%s", c->classname ? c->classname : g->suite,
		    c->name);
	if (c->status == IT_SKIP) {
		if (c->message && *c->message)
			strbuf_addf(&sb, "  (%s)", c->message);
	} else {
		strbuf_addstr(&sb, "  ");
		add_time(&sb, c->time_s);
		if (c->status == IT_PASS && c->flaky)
			strbuf_addf(&sb, "  (flaky: passed on attempt %d)",
				    c->attempts > 0 ? c->attempts
						    : (int)c->nfailed + 1);
	}
	strbuf_addch(&sb, '\n');
	if (bad)
		add_indented(&sb,
			     c->detail && *c->detail ? c->detail : c->message);
	if (st->o.verbose) {
		for (size_t i = 0; i < c->nfailed; i++)
			strbuf_addf(&sb, INDENT "attempt %zu: %s  %s\n", i + 1,
				    words[c->failed[i].status].word,
				    c->failed[i].message ? c->failed[i].message
							 : "");
		add_indented(&sb, c->log);
	}
	emit(st, &sb);
	st->printed = 1;
	strbuf_release(&sb);
	strbuf_release(&key);
}

static void console_status(void *p, const char *text)
{
	struct console *st = p;
	struct strbuf sb = STRBUF_INIT;
	if (!st->o.tty)
		return;
	if (!text || !*text) {
		if (st->status) {
			strbuf_addstr(&sb, CLEAR_LINE);
			put(st, &sb);
		}
		free(st->status);
		st->status = NULL;
	} else {
		free(st->status);
		st->status = mask_dup(st->o.mask, text);
		add_status(st, &sb);
		put(st, &sb);
	}
	strbuf_release(&sb);
}

static const char *plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* One line per component and driver that steps reached (local commands,
 * reaching none, are left out): "latency: orders via http: 12 requests,
 * 0 errors, avg 1.2ms, p95 2.0ms, max 3.1ms". */
static void add_latency(struct strbuf *sb, const struct metrics *m)
{
	for (size_t i = 0; m && i < m->n; i++) {
		const struct metric_series *s = &m->v[i];
		if (!*s->component)
			continue;
		strbuf_addf(sb,
			    "latency: %s via %s: %zu %s, %zu %s, avg %.1fms, "
			    "p95 %.1fms, max %.1fms\n",
			    s->component, s->driver, s->requests,
			    plural(s->requests, "request", "requests"),
			    s->errors, plural(s->errors, "error", "errors"),
			    s->sum_ms / (double)s->requests,
			    metrics_quantile(s, 0.95), s->max_ms);
	}
}

static int console_finish(void *p, const struct rep_run *run,
			  struct itest_err *err)
{
	struct console *st = p;
	struct strbuf sb = STRBUF_INIT;
	struct rep_counts n = {0};
	(void)err;
	console_status(st, NULL);
	for (size_t i = 0; i < run->nstages; i++)
		rep_count_stage(&run->stages[i], &n);
	if (st->printed)
		strbuf_addch(&sb, '\n');
	strbuf_addf(&sb, "%zu passed, %zu failed, %zu %s, %zu skipped",
		    n.passed, n.failed, n.errors,
		    plural(n.errors, "error", "errors"), n.skipped);
	if (n.flaky)
		strbuf_addf(&sb, ", %zu flaky", n.flaky);
	strbuf_addf(&sb, " (%zu %s in ", n.total,
		    plural(n.total, "test", "tests"));
	add_time(&sb, run->time_s);
	strbuf_addstr(&sb, ")\n");
	if (run->interrupted)
		strbuf_addstr(&sb, "interrupted\n");
	if (run->coverage) {
		size_t cc, ct, ic, it;
		coverage_counts(run->coverage, &cc, &ct, &ic, &it);
		size_t oh, ot;
		coverage_api_counts(run->coverage, &oh, &ot);
		if (ct) {
			strbuf_addf(
				&sb, "coverage: %zu of %zu %s, %zu of %zu %s",
				cc, ct, plural(ct, "component", "components"),
				ic, it, plural(it, "interface", "interfaces"));
			if (ot)
				strbuf_addf(
					&sb, ", %zu of %zu API %s", oh, ot,
					plural(ot, "operation", "operations"));
			strbuf_addch(&sb, '\n');
		}
	}
	if (run->code && run->code->files)
		strbuf_addf(&sb,
			    "code coverage: %.1f%% of %zu lines in %zu %s "
			    "(coverage/lcov.info, coverage/cobertura.xml)\n",
			    100.0 * (double)run->code->covered /
				    (double)(run->code->lines ? run->code->lines
							      : 1),
			    run->code->lines, run->code->files,
			    plural(run->code->files, "file", "files"));
	add_latency(&sb, run->metrics);
	if (run->run_dir) {
		strbuf_addf(&sb, "run folder: %s\n", run->run_dir);
		strbuf_addf(&sb, "junit: %s/junit.xml\n", run->run_dir);
	}
	if (st->o.junit_path)
		strbuf_addf(&sb, "junit: %s\n", st->o.junit_path);
	emit(st, &sb);
	strbuf_release(&sb);
	return 0;
}

static void console_close(void *p)
{
	struct console *st = p;
	if (!st)
		return;
	console_status(st, NULL);
	strbuf_release(&st->stage);
	free(st);
}

const struct reporter console_reporter = {
	.name = "console",
	.open = console_open,
	.case_done = console_case_done,
	.status = console_status,
	.finish = console_finish,
	.close = console_close,
};
