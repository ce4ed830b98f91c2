/*
 * The JUnit reporter: at the end of the run, RUN_DIR/junit.xml (and the
 * --junit copy) with one <testsuite> per suite and stage.  The default
 * flavor is valid against the Jenkins xunit junit-10.xsd; the rich flavor
 * adds `file` and `line` to each <testcase>.
 *
 * Every value is masked before it is escaped, field by field, rather than
 * masking the finished document: a secret such as "test" would otherwise
 * turn "<testcase" into "<***case" and break the file.  Text that XML 1.0
 * cannot hold (control characters, invalid UTF-8, U+FFFE/U+FFFF) is
 * replaced so that the file always parses.
 */
#include <limits.h>
#include <time.h>
#include <unistd.h>

#include "reporter.h"

struct junit {
	struct rep_opts o;
	struct strbuf tmp; /* scratch for masking */
};

/*
 * Length of the UTF-8 sequence at `p` (at most `n` bytes) and its code
 * point, or 0 when the bytes are not well-formed UTF-8 (overlong forms,
 * surrogates and values above U+10FFFF are not).
 */
static size_t utf8_decode(const unsigned char *p, size_t n, unsigned *cp)
{
	size_t len;
	unsigned v, min;
	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	} else if ((p[0] & 0xe0) == 0xc0) {
		len = 2, v = p[0] & 0x1f, min = 0x80;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3, v = p[0] & 0x0f, min = 0x800;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4, v = p[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (p[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

/* An ASCII byte that add_esc copies unchanged. */
static int copies_as_is(unsigned char c, int attr)
{
	if (c == '\n' || c == '\t')
		return !attr;
	if (c == '"' || c == '\'')
		return !attr;
	return c >= 0x20 && c < 0x7f && c != '&' && c != '<' && c != '>';
}

/*
 * Appends `s` masked and escaped: & < > always, " ' and the white space
 * that attribute normalisation would eat when `attr`.  A byte XML cannot
 * hold becomes a visible "\xNN"; U+FFFE and U+FFFF become U+FFFD.
 */
static void add_esc(struct junit *st, struct strbuf *sb, const char *s,
		    int attr)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p);
	/* without secrets there is nothing to mask: no copy of a big log */
	if (st->o.mask && st->o.mask->n) {
		strbuf_reset(&st->tmp);
		strbuf_add(&st->tmp, p, n);
		mask_apply(st->o.mask, &st->tmp);
		p = (const unsigned char *)st->tmp.buf;
		n = st->tmp.len;
	}
	for (size_t i = 0; i < n;) {
		size_t plain = i;
		while (plain < n && copies_as_is(p[plain], attr))
			plain++;
		if (plain > i) {
			strbuf_add(sb, p + i, plain - i);
			i = plain;
			continue;
		}
		unsigned cp;
		size_t len = utf8_decode(p + i, n - i, &cp);
		if (!len) {
			strbuf_addf(sb, "\\x%02X", p[i]);
			i++;
			continue;
		}
		switch (cp) {
		case '&':
			strbuf_addstr(sb, "&amp;");
			break;
		case '<':
			strbuf_addstr(sb, "&lt;");
			break;
		case '>':
			strbuf_addstr(sb, "&gt;");
			break;
		case '"':
			strbuf_addstr(sb, attr ? "&quot;" : "\"");
			break;
		case '\'':
			strbuf_addstr(sb, attr ? "&apos;" : "'");
			break;
		case '\r':
			strbuf_addstr(sb, "&#13;");
			break;
		case '\t':
		case '\n':
			if (attr)
				strbuf_addf(sb, "&#%u;", cp);
			else
				strbuf_addch(sb, (int)cp);
			break;
		case 0xfffe:
		case 0xffff:
			strbuf_addstr(sb, "\xef\xbf\xbd");
			break;
		default:
			if (cp < 0x20 || cp == 0x7f)
				strbuf_addf(sb, "\\x%02X", cp);
			else
				strbuf_add(sb, p + i, len);
		}
		i += len;
	}
}

/* ` name="value"` */
static void add_attr(struct junit *st, struct strbuf *sb, const char *name,
		     const char *value)
{
	strbuf_addf(sb, " %s=\"", name);
	add_esc(st, sb, value, 1);
	strbuf_addch(sb, '"');
}

/* At most 3 decimals, never negative: the SUREFIRE_TIME pattern. */
static void add_time_attr(struct strbuf *sb, double secs)
{
	if (!(secs > 0))
		secs = 0;
	strbuf_addf(sb, " time=\"%.3f\"", secs);
}

static void add_count_attrs(struct strbuf *sb, const struct rep_counts *n,
			    int skipped)
{
	strbuf_addf(sb, " tests=\"%zu\" failures=\"%zu\" errors=\"%zu\"",
		    n->total, n->failed, n->errors);
	if (skipped)
		strbuf_addf(sb, " skipped=\"%zu\"", n->skipped);
}

static void add_property(struct junit *st, struct strbuf *sb, const char *name,
			 const char *value)
{
	strbuf_addstr(sb, "      <property");
	add_attr(st, sb, "name", name);
	add_attr(st, sb, "value", value);
	strbuf_addstr(sb, "/>\n");
}

/* "/abs/dir" of a relative path, from the working directory. */
static void add_abs(struct strbuf *sb, const char *path)
{
	if (path[0] != '/') {
		char cwd[PATH_MAX];
		if (getcwd(cwd, sizeof(cwd)))
			strbuf_addf(sb, "%s/", cwd);
	}
	strbuf_addstr(sb, path);
}

/* <system-out>: the log, then the attachments as Jenkins reads them
 * (absolute paths; a relative one is taken from the run folder). */
static void add_system_out(struct junit *st, struct strbuf *sb,
			   const struct rep_run *run, const struct rep_case *c)
{
	struct strbuf text = STRBUF_INIT;
	size_t loglen = c->log ? strlen(c->log) : 0;
	if (loglen && c->log[loglen - 1] == '\n' && !c->nattach) {
		/* the log alone, as it is: no copy of it */
		strbuf_addstr(sb, "      <system-out>");
		add_esc(st, sb, c->log, 0);
		strbuf_addstr(sb, "</system-out>\n");
		return;
	}
	if (loglen) {
		strbuf_addstr(&text, c->log);
		if (text.buf[text.len - 1] != '\n')
			strbuf_addch(&text, '\n');
	}
	for (size_t i = 0; i < c->nattach; i++) {
		const char *a = c->attachments[i];
		strbuf_addstr(&text, "[[ATTACHMENT|");
		if (a[0] != '/' && run->run_dir) {
			add_abs(&text, run->run_dir);
			strbuf_addch(&text, '/');
			strbuf_addstr(&text, a);
		} else {
			add_abs(&text, a);
		}
		strbuf_addstr(&text, "]]\n");
	}
	if (text.len) {
		strbuf_addstr(sb, "      <system-out>");
		add_esc(st, sb, text.buf, 0);
		strbuf_addstr(sb, "</system-out>\n");
	}
	strbuf_release(&text);
}

/* One earlier failed attempt: <flakyFailure> in a passing case,
 * <rerunFailure> in a failing one. */
static void add_attempt(struct junit *st, struct strbuf *sb, const char *elem,
			const struct rep_attempt *a)
{
	strbuf_addf(sb, "      <%s", elem);
	add_attr(st, sb, "message", a->message);
	add_attr(st, sb, "type", a->status == IT_ERROR ? "error" : "assertion");
	strbuf_addstr(sb, ">\n");
	if (a->detail && *a->detail) {
		strbuf_addstr(sb, "        <stackTrace>");
		add_esc(st, sb, a->detail, 0);
		strbuf_addstr(sb, "</stackTrace>\n");
	}
	if (a->log && *a->log) {
		strbuf_addstr(sb, "        <system-out>");
		add_esc(st, sb, a->log, 0);
		strbuf_addstr(sb, "</system-out>\n");
	}
	strbuf_addf(sb, "      </%s>\n", elem);
}

static void add_case(struct junit *st, struct strbuf *sb,
		     const struct rep_run *run, const struct rep_stage *g,
		     const struct rep_case *c)
{
	strbuf_addstr(sb, "    <testcase");
	add_attr(st, sb, "classname", c->classname ? c->classname : g->suite);
	add_attr(st, sb, "name", c->name);
	add_time_attr(sb, c->time_s);
	if (st->o.junit_rich) {
		const char *file = c->file ? c->file : g->file;
		if (file)
			add_attr(st, sb, "file", file);
		if (c->line > 0)
			strbuf_addf(sb, " line=\"%d\"", c->line);
	}
	strbuf_addstr(sb, ">\n");
	if (c->status == IT_FAIL || c->status == IT_ERROR) {
		const char *elem = c->status == IT_FAIL ? "failure" : "error";
		strbuf_addf(sb, "      <%s", elem);
		add_attr(st, sb, "message", c->message);
		add_attr(st, sb, "type",
			 c->status == IT_FAIL ? "assertion" : "error");
		strbuf_addch(sb, '>');
		add_esc(st, sb,
			c->detail && *c->detail ? c->detail : c->message, 0);
		strbuf_addf(sb, "</%s>\n", elem);
	} else if (c->status == IT_SKIP) {
		strbuf_addstr(sb, "      <skipped");
		if (c->message)
			add_attr(st, sb, "message", c->message);
		strbuf_addstr(sb, "/>\n");
	}
	for (size_t i = 0; i < c->nfailed; i++)
		add_attempt(st, sb,
			    c->status == IT_PASS ? "flakyFailure"
						 : "rerunFailure",
			    &c->failed[i]);
	add_system_out(st, sb, run, c);
	strbuf_addstr(sb, "    </testcase>\n");
}

static void add_stage(struct junit *st, struct strbuf *sb,
		      const struct rep_run *run, const struct rep_stage *g,
		      const char *host)
{
	struct rep_counts n = {0};
	struct strbuf name = STRBUF_INIT;
	char stamp[32] = "";
	int64_t ms = g->start_wall_ms ? g->start_wall_ms : run->start_wall_ms;
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	rep_count_stage(g, &n);
	strbuf_addstr(&name, g->suite);
	if (g->nstages > 1)
		strbuf_addf(&name, "/stage-%d", g->number);
	if (gmtime_r(&t, &tm))
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);

	strbuf_addstr(sb, "  <testsuite");
	add_attr(st, sb, "name", name.buf);
	add_count_attrs(sb, &n, 1);
	add_time_attr(sb, g->time_s);
	add_attr(st, sb, "timestamp", stamp);
	add_attr(st, sb, "hostname", host);
	strbuf_addstr(sb, ">\n    <properties>\n");
	add_property(st, sb, "itest.run_id", run->run_id);
	add_property(st, sb, "itest.strategy", g->strategy);
	strbuf_reset(&name);
	strbuf_addf(&name, "%d", g->number);
	add_property(st, sb, "itest.stage", name.buf);
	add_property(st, sb, "itest.real", g->real);
	add_property(st, sb, "itest.stubbed", g->stubbed);
	add_property(st, sb, "itest.stream", g->stream);
	/* SPEC 8 lists itest.layer for every stage: empty when the stage
	 * is not one layer's (big-bang, a sandwich's last stage) */
	strbuf_reset(&name);
	if (g->layer >= 0)
		strbuf_addf(&name, "%d", g->layer);
	add_property(st, sb, "itest.layer", name.buf);
	strbuf_addstr(sb, "    </properties>\n");
	for (size_t i = 0; i < g->ncases; i++)
		add_case(st, sb, run, g, &g->cases[i]);
	strbuf_addstr(sb, "  </testsuite>\n");
	strbuf_release(&name);
}

static void *junit_open(const struct rep_opts *o)
{
	struct junit *st = xcalloc(1, sizeof(*st));
	st->o = *o;
	strbuf_init(&st->tmp, 0);
	return st;
}

static void junit_case_done(void *st, const struct rep_stage *g,
			    const struct rep_case *c)
{
	(void)st, (void)g, (void)c;
}

static void junit_status(void *st, const char *text)
{
	(void)st, (void)text;
}

static int junit_finish(void *p, const struct rep_run *run,
			struct itest_err *err)
{
	struct junit *st = p;
	struct strbuf doc = STRBUF_INIT, path = STRBUF_INIT;
	struct rep_counts n = {0};
	char host[256] = "localhost";
	int ret = -1;

	if (!run->run_dir) {
		err_set(err, NULL, "no run folder to write 'junit.xml' to");
		goto out;
	}
	if (gethostname(host, sizeof(host)) < 0 || !host[0])
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	for (size_t i = 0; i < run->nstages; i++)
		rep_count_stage(&run->stages[i], &n);

	strbuf_addstr(&doc, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			    "<testsuites name=\"itest\"");
	/* junit-10.xsd has no `skipped` on <testsuites> */
	add_count_attrs(&doc, &n, 0);
	add_time_attr(&doc, run->time_s);
	strbuf_addstr(&doc, ">\n");
	for (size_t i = 0; i < run->nstages; i++)
		add_stage(st, &doc, run, &run->stages[i], host);
	strbuf_addstr(&doc, "</testsuites>\n");

	/* every field is masked already (see the top of this file) */
	strbuf_addf(&path, "%s/junit.xml", run->run_dir);
	if (mask_write_file(NULL, path.buf, &doc, err) < 0)
		goto out;
	if (st->o.junit_path &&
	    mask_write_file(NULL, st->o.junit_path, &doc, err) < 0)
		goto out;
	ret = 0;
out:
	strbuf_release(&doc);
	strbuf_release(&path);
	return ret;
}

static void junit_close(void *p)
{
	struct junit *st = p;
	if (!st)
		return;
	strbuf_release(&st->tmp);
	free(st);
}

const struct reporter junit_reporter = {
	.name = "junit",
	.open = junit_open,
	.case_done = junit_case_done,
	.status = junit_status,
	.finish = junit_finish,
	.close = junit_close,
};
