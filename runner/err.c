/*
 * Error records with source locations, their formatting with the source
 * line and a caret, and the "did you mean" suggestion.
 */
#include "err.h"

int err_vset(struct itest_err *e, const struct itest_loc *loc, const char *fmt,
	     va_list ap)
{
	if (!e || e->set)
		return -1;
	e->set = 1;
	if (loc)
		e->loc = *loc;
	else
		memset(&e->loc, 0, sizeof(e->loc));
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	return -1;
}

int err_set(struct itest_err *e, const struct itest_loc *loc, const char *fmt,
	    ...)
{
	va_list ap;
	va_start(ap, fmt);
	err_vset(e, loc, fmt, ap);
	va_end(ap);
	return -1;
}

void err_clear(struct itest_err *e)
{
	memset(e, 0, sizeof(*e));
}

void loc_format(struct strbuf *out, const struct itest_loc *loc)
{
	if (!loc->src)
		return;
	strbuf_addstr(out, loc->src->path);
	if (loc->line)
		strbuf_addf(out, ":%d", loc->line);
	if (loc->line && loc->col)
		strbuf_addf(out, ":%d", loc->col);
}

/* Appends line `line` of `path` and a caret under `col`. */
static void add_source_line(struct strbuf *out, const char *path, int line,
			    int col)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	char *text = NULL;
	size_t cap = 0;
	ssize_t n = 0;
	for (int i = 0; i < line; i++) {
		n = getline(&text, &cap, f);
		if (n < 0)
			break;
	}
	fclose(f);
	if (n > 0) {
		while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
			n--;
		strbuf_addstr(out, "  ");
		strbuf_add(out, text, (size_t)n);
		strbuf_addstr(out, "\n  ");
		for (int i = 0; col > 0 && i < col - 1 && i < n; i++)
			strbuf_addch(out, text[i] == '\t' ? '\t' : ' ');
		strbuf_addstr(out, "^\n");
	}
	free(text);
}

void err_format(struct strbuf *out, const struct itest_err *e)
{
	if (e->loc.src) {
		loc_format(out, &e->loc);
		strbuf_addstr(out, ": ");
	} else {
		strbuf_addstr(out, "itest: ");
	}
	strbuf_addf(out, "error: %s\n", e->msg);
	if (e->loc.src && e->loc.line)
		add_source_line(out, e->loc.src->path, e->loc.line, e->loc.col);
	for (const struct itest_src *s = e->loc.src; s && s->parent;
	     s = s->parent)
		strbuf_addf(out, "  included from %s:%d:%d\n", s->parent->path,
			    s->pline, s->pcol);
}

void err_print(const struct itest_err *e)
{
	struct strbuf sb = STRBUF_INIT;
	err_format(&sb, e);
	fputs(sb.buf, stderr);
	strbuf_release(&sb);
}

/* Edit distance where swapping two neighbours counts as one edit (the
 * "optimal string alignment" distance): "tset" is two edits from
 * "tests", a swap and an insertion. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return SIZE_MAX;
	size_t d[65][65];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t best = d[i - 1][j - 1] + cost;
			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

const char *suggest_name(const char *word, const char *const *names)
{
	const char *best = NULL;
	size_t bestd = SIZE_MAX;
	for (; names && *names; names++) {
		size_t d = edit_distance(word, *names);
		if (d < bestd) {
			bestd = d;
			best = *names;
		}
	}
	size_t len = strlen(word);
	size_t limit = len <= 3 ? 1 : len <= 6 ? 2 : 3;
	return bestd <= limit ? best : NULL;
}
