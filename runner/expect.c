/*
 * Expectations and captures (SPEC 6.1 and 8 "Predicates"): the load-time
 * checks of `expect` and `capture` maps against a driver's parts, the
 * predicates (equality, regexes, the named predicates, subset matching),
 * JSON Schema (schema.c) and XPath (xpath.c) expectations, and the
 * failure messages that say part, path, expected and actual.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "expect.h"
#include "jsonpath.h"
#include "schema.h"
#include "template.h"
#include "xpath.h"

/* Backtracking steps one regex match may take before it gives up. */
#define REGEX_MATCH_LIMIT 1000000
/* Bytes of a value shown in a message before it is cut. */
#define SHOW_MAX 200
/* Element comparisons one subset predicate may make. */
#define SUBSET_BUDGET 1000000

const char *const predicate_names[] = {
	"eq",	     "ne",	 "gt",		 "ge",	    "lt",
	"le",	     "contains", "not-contains", "matches", "starts-with",
	"ends-with", "one-of",	 "type",	 "length",  "exists",
	"empty",     "subset",	 NULL,
};

static const char *const type_names[] = {
	"null",	  "boolean", "integer", "number",
	"string", "array",   "object",	NULL,
};

/* Parts whose value is text: an expected number or boolean is compared
 * with the text by its own text. */
static const char *const text_parts[] = {
	"stdout", "stderr", "body",  "headers", "text",
	"title",  "url",    "xpath", NULL,
};

static const char *const capture_sources[] = {
	"header", "regex", "stdout", "cookie", "xpath", NULL,
};

/* Does a driver with these result parts have `name`?  NULL parts (an
 * external driver's) may be anything. */
static int offers(const char *const *parts, const char *name)
{
	return !parts || str_in_list(name, parts);
}

static int is_text_part(const char *part)
{
	return part && str_in_list(part, text_parts);
}

/* Equality on these parts ignores one trailing newline of the actual. */
static int strips_newline(const char *part)
{
	return part && (!strcmp(part, "stdout") || !strcmp(part, "stderr"));
}

/* A list is "one of" only for these. */
static int is_oneof_part(const char *part)
{
	return part && (!strcmp(part, "status") || !strcmp(part, "exit"));
}

static int is_pred_map(const struct ivalue *v)
{
	if (!v || v->type != IV_OBJ || !v->u.obj.n)
		return 0;
	for (size_t i = 0; i < v->u.obj.n; i++)
		if (!str_in_list(v->u.obj.m[i].key, predicate_names))
			return 0;
	return 1;
}

static int is_regex_str(const struct ivalue *v)
{
	return v && v->type == IV_STR && v->u.str.len && v->u.str.s[0] == '~';
}

/* The text of a scalar (strings, numbers by their text, booleans). */
static int scalar_text(const struct ivalue *v, const char **s, size_t *len)
{
	if (!v)
		return 0;
	switch (v->type) {
	case IV_STR:
		*s = v->u.str.s;
		*len = v->u.str.len;
		return 1;
	case IV_NUM:
		*s = v->u.num.text;
		*len = strlen(v->u.num.text);
		return 1;
	case IV_BOOL:
		*s = v->u.b ? "true" : "false";
		*len = strlen(*s);
		return 1;
	default:
		return 0;
	}
}

static int utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	while (p < end) {
		unsigned c = *p++;
		size_t more;
		unsigned cp, min;
		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf)
			more = 1, cp = c & 0x1f, min = 0x80;
		else if (c >= 0xe0 && c <= 0xef)
			more = 2, cp = c & 0x0f, min = 0x800;
		else if (c >= 0xf0 && c <= 0xf4)
			more = 3, cp = c & 0x07, min = 0x10000;
		else
			return 0;
		if ((size_t)(end - p) < more)
			return 0;
		for (size_t i = 0; i < more; i++, p++) {
			if ((*p & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (*p & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
	}
	return 1;
}

/* Code points of UTF-8 text (bytes that do not continue a sequence). */
static size_t utf8_count(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	return n;
}

/* ---- showing values in messages ---- */

/* A value as compact JSON (strings quoted), cut when long. */
static void show(struct strbuf *out, const struct ivalue *v)
{
	struct strbuf t = STRBUF_INIT;
	if (!v) {
		strbuf_addstr(out, "(missing)");
		return;
	}
	json_emit(&t, v, 0);
	strbuf_add_cut(out, t.buf, t.len, SHOW_MAX,
		       v->type == IV_STR ? v->u.str.len : t.len);
	strbuf_release(&t);
}

/* A pattern as `~PATTERN`, with control characters made visible. */
static void show_pattern(struct strbuf *out, const char *pat, size_t len)
{
	struct strbuf t = STRBUF_INIT;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)pat[i];
		if (c == '\n')
			strbuf_addstr(&t, "\\n");
		else if (c == '\r')
			strbuf_addstr(&t, "\\r");
		else if (c == '\t')
			strbuf_addstr(&t, "\\t");
		else if (c < 0x20 || c == 0x7f)
			strbuf_addf(&t, "\\x%02x", c);
		else
			strbuf_addch(&t, c);
	}
	strbuf_addch(out, '~');
	strbuf_add_cut(out, t.buf, t.len, SHOW_MAX, len);
	strbuf_release(&t);
}

/* ---- regular expressions (PCRE2) ---- */

static pcre2_code *regex_compile(const char *pat, size_t len, int utf,
				 struct strbuf *msg)
{
	int code;
	PCRE2_SIZE off;
	uint32_t opts = utf ? PCRE2_UTF | PCRE2_UCP : 0;
	pcre2_code *re =
		pcre2_compile((PCRE2_SPTR)pat, len, opts, &code, &off, NULL);
	if (!re) {
		PCRE2_UCHAR text[256];
		pcre2_get_error_message(code, text, sizeof(text));
		strbuf_addstr(msg, "invalid regex '");
		strbuf_add(msg, pat, len);
		strbuf_addf(msg, "': %s at offset %zu", (const char *)text,
			    (size_t)off);
	}
	return re;
}

/*
 * Searches `subj` for `pat`.  1: found, with the first group (else the
 * whole match) in [*ms, *me); 0: not found; -1: an error, said in `msg`.
 */
static int regex_search(const char *pat, size_t plen, const char *subj,
			size_t slen, size_t *ms, size_t *me, struct strbuf *msg)
{
	int utf = utf8_valid(pat, plen) && utf8_valid(subj, slen);
	pcre2_code *re = regex_compile(pat, plen, utf, msg);
	pcre2_match_data *md = NULL;
	pcre2_match_context *mc = NULL;
	int ret = -1;
	if (!re)
		return -1;
	md = pcre2_match_data_create_from_pattern(re, NULL);
	mc = pcre2_match_context_create(NULL);
	if (!md || !mc) {
		strbuf_addstr(msg, "out of memory for a regex match");
		goto out;
	}
	pcre2_set_match_limit(mc, REGEX_MATCH_LIMIT);
	int rc = pcre2_match(re, (PCRE2_SPTR)subj, slen, 0, 0, md, mc);
	if (rc == PCRE2_ERROR_NOMATCH) {
		ret = 0;
	} else if (rc == PCRE2_ERROR_MATCHLIMIT ||
		   rc == PCRE2_ERROR_DEPTHLIMIT ||
		   rc == PCRE2_ERROR_HEAPLIMIT) {
		strbuf_addstr(msg, "regex ");
		show_pattern(msg, pat, plen);
		strbuf_addstr(msg, " exceeded its match limit");
	} else if (rc < 0) {
		PCRE2_UCHAR text[256];
		pcre2_get_error_message(rc, text, sizeof(text));
		strbuf_addstr(msg, "regex ");
		show_pattern(msg, pat, plen);
		strbuf_addf(msg, " failed: %s", (const char *)text);
	} else {
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		uint32_t groups = 0;
		pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &groups);
		int g = groups >= 1 && rc >= 2 && ov[2] != PCRE2_UNSET;
		*ms = ov[g ? 2 : 0];
		*me = ov[g ? 3 : 1];
		ret = 1;
	}
out:
	pcre2_match_context_free(mc);
	pcre2_match_data_free(md);
	pcre2_code_free(re);
	return ret;
}

/* ---- evaluation ---- */

/* Where failure lines go, and what they start with. */
struct pctx {
	const char *part;   /* for the part rules of SPEC 8 */
	const char *prefix; /* "exit", "json $.price"; "" for none */
	struct strbuf *why;
	size_t start; /* why->len when evaluation began */
	int lines;    /* end every line with '\n' (else: separate them) */
	long *budget; /* subset comparisons left */
};

static void line_begin(struct pctx *c)
{
	if (!c->lines && c->why->len > c->start)
		strbuf_addch(c->why, '\n');
	if (c->prefix && *c->prefix) {
		strbuf_addstr(c->why, c->prefix);
		strbuf_addstr(c->why, ": ");
	}
}

static void line_end(struct pctx *c)
{
	if (c->lines)
		strbuf_addch(c->why, '\n');
}

/* "expected <desc>, got <actual><suffix>"; returns 0. */
static int report(struct pctx *c, const struct strbuf *desc,
		  const struct ivalue *act, const char *suffix)
{
	line_begin(c);
	strbuf_addstr(c->why, "expected ");
	strbuf_add(c->why, desc->buf, desc->len);
	strbuf_addstr(c->why, ", got ");
	show(c->why, act);
	if (suffix)
		strbuf_addstr(c->why, suffix);
	line_end(c);
	return 0;
}

/* A line saying why a predicate could not be evaluated; returns -1. */
ITEST_PRINTF(2, 3) static int eval_error(struct pctx *c, const char *fmt, ...)
{
	va_list ap;
	line_begin(c);
	va_start(ap, fmt);
	strbuf_vaddf(c->why, fmt, ap);
	va_end(ap);
	line_end(c);
	return -1;
}

static int pred(const struct ivalue *x, const struct ivalue *act,
		struct pctx *c);

/* Equality with the part rules: text parts compare an expected scalar by
 * its text; stdout and stderr may have one more trailing newline. */
static int eq_holds(const struct ivalue *x, const struct ivalue *act,
		    const char *part)
{
	const char *s;
	size_t len;
	if (!act)
		return 0;
	if (act->type == IV_STR && is_text_part(part) &&
	    scalar_text(x, &s, &len)) {
		const char *a = act->u.str.s;
		size_t alen = act->u.str.len;
		if (alen == len && !memcmp(a, s, len))
			return 1;
		return strips_newline(part) && alen == len + 1 &&
		       a[len] == '\n' && !memcmp(a, s, len);
	}
	return iv_equal(x, act);
}

static int contains_holds(const struct ivalue *x, const struct ivalue *act)
{
	const char *s;
	size_t len;
	if (!act)
		return 0;
	switch (act->type) {
	case IV_STR:
		if (!scalar_text(x, &s, &len))
			return 0;
		return !len || memmem(act->u.str.s, act->u.str.len, s, len);
	case IV_ARR:
		for (size_t i = 0; i < act->u.arr.n; i++)
			if (iv_equal(x, act->u.arr.v[i]))
				return 1;
		return 0;
	case IV_OBJ:
		return x->type == IV_STR &&
		       iv_getn(act, x->u.str.s, x->u.str.len);
	default:
		return 0;
	}
}

/*
 * Orders the actual against the expected for gt/ge/lt/le: numbers by
 * value, strings by bytes (code points), a duration string against a
 * number (or a duration string) in milliseconds, and on text parts a
 * number against text that reads as a number.  Returns 1 with *cmp set
 * (actual <=> expected), or 0 when they do not compare.
 */
static int order_cmp(const struct ivalue *x, const struct ivalue *act,
		     const char *part, int *cmp, int *dur)
{
	struct ivalue *tmp = NULL, *tmp2 = NULL;
	int ok = 0;
	*dur = 0;
	if (!act)
		return 0;
	if (x->type == IV_NUM && act->type == IV_NUM) {
		*cmp = iv_num_cmp(act, x);
		ok = *cmp != 2;
	} else if (x->type == IV_STR && duration_parse_ms(x->u.str.s) >= 0 &&
		   (act->type == IV_NUM ||
		    (act->type == IV_STR &&
		     duration_parse_ms(act->u.str.s) >= 0))) {
		tmp = iv_int(duration_parse_ms(x->u.str.s));
		if (act->type == IV_STR)
			act = tmp2 = iv_int(duration_parse_ms(act->u.str.s));
		*cmp = iv_num_cmp(act, tmp);
		ok = *cmp != 2;
		*dur = 1;
	} else if (x->type == IV_STR && act->type == IV_STR) {
		size_t a = act->u.str.len, b = x->u.str.len;
		int r = memcmp(act->u.str.s, x->u.str.s, a < b ? a : b);
		*cmp = r < 0 ? -1 : r > 0 ? 1 : a < b ? -1 : a > b;
		ok = 1;
	} else if (x->type == IV_NUM && act->type == IV_STR &&
		   is_text_part(part)) {
		const char *s = act->u.str.s;
		size_t len = act->u.str.len;
		while (len && strchr(" \t\r\n", s[len - 1]))
			len--;
		while (len && strchr(" \t\r\n", *s))
			s++, len--;
		tmp = iv_num_text(s, len);
		if (tmp) {
			*cmp = iv_num_cmp(tmp, x);
			ok = *cmp != 2;
		}
	}
	iv_free(tmp);
	iv_free(tmp2);
	return ok;
}

/* ---- subset ---- */

static int subset_match(const struct ivalue *x, const struct ivalue *act,
			long *budget);

/* Kuhn's augmenting path for expected element i. */
static int augment(size_t i, const unsigned char *ok, size_t n, size_t *owner,
		   unsigned char *seen)
{
	for (size_t j = 0; j < n; j++) {
		if (!ok[i * n + j] || seen[j])
			continue;
		seen[j] = 1;
		if (owner[j] == SIZE_MAX ||
		    augment(owner[j], ok, n, owner, seen)) {
			owner[j] = i;
			return 1;
		}
	}
	return 0;
}

/* Each expected element matches a distinct actual element. */
static int subset_array(const struct ivalue *x, const struct ivalue *act,
			long *budget)
{
	size_t m = x->u.arr.n, n = act->u.arr.n;
	int ret = 1;
	if (m > n)
		return 0;
	if (!m)
		return 1;
	if ((double)m * (double)n > (double)*budget) {
		*budget = -1;
		return -1;
	}
	unsigned char *ok = xcalloc(m * n, 1);
	size_t *owner = xmalloc(n * sizeof(*owner));
	unsigned char *seen = xmalloc(n);
	for (size_t i = 0; i < m && ret > 0; i++) {
		int any = 0;
		for (size_t j = 0; j < n; j++) {
			int r = subset_match(x->u.arr.v[i], act->u.arr.v[j],
					     budget);
			if (r < 0) {
				ret = -1;
				break;
			}
			ok[i * n + j] = (unsigned char)r;
			any |= r;
		}
		if (ret > 0 && !any)
			ret = 0;
	}
	for (size_t j = 0; j < n; j++)
		owner[j] = SIZE_MAX;
	for (size_t i = 0; i < m && ret > 0; i++) {
		memset(seen, 0, n);
		if (!augment(i, ok, n, owner, seen))
			ret = 0;
	}
	free(seen);
	free(owner);
	free(ok);
	return ret;
}

/* 1: `act` holds at least what `x` says; 0: not; -1: too large. */
static int subset_match(const struct ivalue *x, const struct ivalue *act,
			long *budget)
{
	if (--*budget < 0)
		return -1;
	if (x->type == IV_OBJ) {
		if (act->type != IV_OBJ)
			return 0;
		for (size_t i = 0; i < x->u.obj.n; i++) {
			const struct imember *m = &x->u.obj.m[i];
			const struct ivalue *a = iv_getn(act, m->key, m->klen);
			int r = a ? subset_match(m->val, a, budget) : 0;
			if (r <= 0)
				return r;
		}
		return 1;
	}
	if (x->type == IV_ARR)
		return act->type == IV_ARR ? subset_array(x, act, budget) : 0;
	return iv_equal(x, act);
}

static void add_key_path(struct strbuf *out, const char *key, size_t len)
{
	int ident = len > 0 && !(key[0] >= '0' && key[0] <= '9');
	for (size_t i = 0; i < len && ident; i++) {
		char ch = key[i];
		ident = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			(ch >= '0' && ch <= '9') || ch == '_';
	}
	if (ident) {
		strbuf_addch(out, '.');
		strbuf_add(out, key, len);
	} else {
		strbuf_addstr(out, "[\"");
		strbuf_add_json_escaped(out, key, len);
		strbuf_addstr(out, "\"]");
	}
}

/* Says where a failed subset first differs: " (at .a.b: ...)". */
static void subset_where(struct strbuf *out, const struct ivalue *x,
			 const struct ivalue *act, struct strbuf *path)
{
	long budget = SUBSET_BUDGET;
	if (x->type == IV_OBJ && act->type == IV_OBJ) {
		for (size_t i = 0; i < x->u.obj.n; i++) {
			const struct imember *m = &x->u.obj.m[i];
			const struct ivalue *a = iv_getn(act, m->key, m->klen);
			if (a && subset_match(m->val, a, &budget) > 0)
				continue;
			add_key_path(path, m->key, m->klen);
			if (a) {
				subset_where(out, m->val, a, path);
			} else {
				strbuf_addf(out, " (at %s: missing)",
					    path->buf);
			}
			return;
		}
	}
	strbuf_addf(out, " (at %s: ", path->len ? path->buf : "the top");
	if (x->type == IV_ARR && act->type == IV_ARR)
		strbuf_addstr(out, "no distinct match for every element");
	else if (x->type == IV_OBJ || x->type == IV_ARR)
		strbuf_addf(out, "expected an %s, got %s",
			    x->type == IV_OBJ ? "object" : "array",
			    iv_kind(act));
	else {
		strbuf_addstr(out, "expected ");
		show(out, x);
		strbuf_addstr(out, ", got ");
		show(out, act);
	}
	strbuf_addch(out, ')');
}

/* ---- the named predicates ---- */

/* A boolean operand (a rendered template may give "true"/"false"). */
static int bool_operand(const struct ivalue *x, int *b)
{
	if (x->type == IV_BOOL) {
		*b = x->u.b;
		return 1;
	}
	if (x->type == IV_STR &&
	    (!strcmp(x->u.str.s, "true") || !strcmp(x->u.str.s, "false"))) {
		*b = x->u.str.s[0] == 't';
		return 1;
	}
	return 0;
}

static int op_regex(const char *pat, size_t plen, const struct ivalue *act,
		    struct pctx *c)
{
	struct strbuf desc = STRBUF_INIT, msg = STRBUF_INIT;
	const char *s;
	size_t len, ms, me;
	int r = 0;
	if (scalar_text(act, &s, &len)) {
		r = regex_search(pat, plen, s, len, &ms, &me, &msg);
		if (r < 0) {
			eval_error(c, "%s", msg.buf);
			strbuf_release(&msg);
			return -1;
		}
	}
	if (!r) {
		strbuf_addstr(&desc, "to match ");
		show_pattern(&desc, pat, plen);
		report(c, &desc, act, NULL);
	}
	strbuf_release(&desc);
	strbuf_release(&msg);
	return r;
}

static int op_length(const struct ivalue *x, const struct ivalue *act,
		     struct pctx *c)
{
	struct strbuf desc = STRBUF_INIT, sfx = STRBUF_INIT;
	const struct ivalue *want = x;
	struct ivalue *tmp = NULL;
	size_t len = 0;
	int has_len = 1, holds, ret;
	if (act && act->type == IV_STR)
		len = utf8_count(act->u.str.s, act->u.str.len);
	else if (act && act->type == IV_ARR)
		len = act->u.arr.n;
	else if (act && act->type == IV_OBJ)
		len = act->u.obj.n;
	else
		has_len = 0;
	if (is_pred_map(x)) {
		struct strbuf pre = STRBUF_INIT;
		struct pctx nc = *c;
		if (!has_len) {
			strbuf_addstr(&desc, "a string, array or object");
			report(c, &desc, act, NULL);
			strbuf_release(&desc);
			return 0;
		}
		strbuf_addstr(&pre, c->prefix ? c->prefix : "");
		strbuf_addstr(&pre, pre.len ? " length" : "length");
		nc.part = "length";
		nc.prefix = pre.buf;
		tmp = iv_int((int64_t)len);
		ret = pred(x, tmp, &nc);
		iv_free(tmp);
		strbuf_release(&pre);
		return ret;
	}
	if (x->type == IV_STR)
		want = tmp = iv_num_text(x->u.str.s, x->u.str.len);
	if (!want || want->type != IV_NUM || !(want->flags & IVF_INT) ||
	    want->u.num.i < 0) {
		iv_free(tmp);
		strbuf_addstr(&desc, "'length' needs a non-negative integer "
				     "or a predicate map, got ");
		show(&desc, x);
		eval_error(c, "%s", desc.buf);
		strbuf_release(&desc);
		return -1;
	}
	holds = has_len && (uint64_t)want->u.num.i == (uint64_t)len;
	if (!holds) {
		strbuf_addf(&desc, "length %lld", (long long)want->u.num.i);
		if (has_len)
			strbuf_addf(&sfx, " (length %zu)", len);
		else if (act)
			strbuf_addf(&sfx, " (%s has no length)", iv_kind(act));
		report(c, &desc, act, act ? sfx.buf : NULL);
	}
	iv_free(tmp);
	strbuf_release(&desc);
	strbuf_release(&sfx);
	return holds;
}

static int op_order(const char *op, const struct ivalue *x,
		    const struct ivalue *act, struct pctx *c)
{
	struct strbuf desc = STRBUF_INIT;
	int cmp = 0, dur = 0, holds = 0;
	const char *sym = !strcmp(op, "gt")   ? ">"
			  : !strcmp(op, "ge") ? ">="
			  : !strcmp(op, "lt") ? "<"
					      : "<=";
	if (x->type != IV_NUM && x->type != IV_STR)
		return eval_error(c,
				  "'%s' needs a number, a string or a "
				  "duration",
				  op);
	if (order_cmp(x, act, c->part, &cmp, &dur)) {
		if (!strcmp(op, "gt"))
			holds = cmp > 0;
		else if (!strcmp(op, "ge"))
			holds = cmp >= 0;
		else if (!strcmp(op, "lt"))
			holds = cmp < 0;
		else
			holds = cmp <= 0;
	}
	if (!holds) {
		strbuf_addf(&desc, "a value %s ", sym);
		if (dur)
			strbuf_add(&desc, x->u.str.s, x->u.str.len);
		else
			show(&desc, x);
		report(c, &desc, act, dur && act->type == IV_NUM ? "ms" : NULL);
	}
	strbuf_release(&desc);
	return holds;
}

static int op_affix(const char *op, const struct ivalue *x,
		    const struct ivalue *act, struct pctx *c)
{
	struct strbuf desc = STRBUF_INIT;
	const char *s, *a;
	size_t len, alen;
	int start = !strcmp(op, "starts-with"), holds = 0;
	if (!scalar_text(x, &s, &len))
		return eval_error(c, "'%s' needs a string", op);
	if (act && act->type != IV_NULL && act->type != IV_BOOL &&
	    scalar_text(act, &a, &alen) && alen >= len)
		holds = !memcmp(start ? a : a + alen - len, s, len);
	if (!holds) {
		strbuf_addstr(&desc, start ? "to start with " : "to end with ");
		show(&desc, x);
		report(c, &desc, act, NULL);
	}
	strbuf_release(&desc);
	return holds;
}

/* Evaluates one named predicate; 1 holds, 0 fails, -1 error. */
static int op_eval(const char *op, const struct ivalue *x,
		   const struct ivalue *act, struct pctx *c)
{
	struct strbuf desc = STRBUF_INIT, sfx = STRBUF_INIT;
	int holds, b;
	const char *sfxs = NULL;

	if (!strcmp(op, "gt") || !strcmp(op, "ge") || !strcmp(op, "lt") ||
	    !strcmp(op, "le"))
		return op_order(op, x, act, c);
	if (!strcmp(op, "starts-with") || !strcmp(op, "ends-with"))
		return op_affix(op, x, act, c);
	if (!strcmp(op, "length"))
		return op_length(x, act, c);
	if (!strcmp(op, "matches")) {
		if (x->type != IV_STR)
			return eval_error(c, "'matches' needs a string");
		size_t skip = is_regex_str(x); /* `matches: ~re` is fine too */
		return op_regex(x->u.str.s + skip, x->u.str.len - skip, act, c);
	}

	if (!strcmp(op, "eq")) {
		holds = eq_holds(x, act, c->part);
		show(&desc, x);
	} else if (!strcmp(op, "ne")) {
		holds = !act || !eq_holds(x, act, c->part);
		strbuf_addstr(&desc, "a value != ");
		show(&desc, x);
	} else if (!strcmp(op, "contains")) {
		holds = contains_holds(x, act);
		strbuf_addstr(&desc, "to contain ");
		show(&desc, x);
	} else if (!strcmp(op, "not-contains")) {
		holds = act && !contains_holds(x, act);
		strbuf_addstr(&desc, "not to contain ");
		show(&desc, x);
	} else if (!strcmp(op, "one-of")) {
		if (x->type != IV_ARR)
			return eval_error(c, "'one-of' needs a list");
		holds = 0;
		for (size_t i = 0; i < x->u.arr.n && !holds; i++)
			holds = eq_holds(x->u.arr.v[i], act, c->part);
		strbuf_addstr(&desc, "one of ");
		show(&desc, x);
	} else if (!strcmp(op, "type")) {
		/* an unquoted `type: null` is YAML's null: the type null */
		const char *t = x->type == IV_NULL ? "null" : iv_strval(x);
		if (!t || !str_in_list(t, type_names))
			return eval_error(c, "'type' needs one of null, "
					     "boolean, integer, number, "
					     "string, array, object");
		const char *k = act ? iv_kind(act) : NULL;
		holds = k && (!strcmp(t, k) ||
			      (!strcmp(t, "number") && !strcmp(k, "integer")));
		strbuf_addf(&desc, "type %s", t);
		if (k) {
			strbuf_addf(&sfx, " (%s)", k);
			sfxs = sfx.buf;
		}
	} else if (!strcmp(op, "exists")) {
		if (!bool_operand(x, &b))
			return eval_error(c, "'exists' needs true or false");
		holds = !!act == b;
		strbuf_addstr(&desc, b ? "to exist" : "not to exist");
	} else if (!strcmp(op, "empty")) {
		if (!bool_operand(x, &b))
			return eval_error(c, "'empty' needs true or false");
		int e = act && ((act->type == IV_STR && !act->u.str.len) ||
				(act->type == IV_ARR && !act->u.arr.n) ||
				(act->type == IV_OBJ && !act->u.obj.n));
		holds = act && e == b;
		strbuf_addstr(&desc, b ? "to be empty" : "not to be empty");
	} else if (!strcmp(op, "subset")) {
		if (x->type != IV_OBJ && x->type != IV_ARR)
			return eval_error(c, "'subset' needs a map or a list");
		holds = 0;
		if (act) {
			holds = subset_match(x, act, c->budget);
			if (holds < 0)
				return eval_error(c, "'subset' comparison is "
						     "too large");
		}
		strbuf_addstr(&desc, "a superset of ");
		show(&desc, x);
		if (act && !holds) {
			struct strbuf path = STRBUF_INIT;
			subset_where(&sfx, x, act, &path);
			strbuf_release(&path);
			sfxs = sfx.buf;
		}
	} else {
		return eval_error(c, "unknown predicate '%s'", op);
	}
	if (!holds)
		report(c, &desc, act, sfxs);
	strbuf_release(&desc);
	strbuf_release(&sfx);
	return holds;
}

/* A predicate: a predicate map, `~regex`, a one-of list, or a literal. */
static int pred(const struct ivalue *x, const struct ivalue *act,
		struct pctx *c)
{
	if (is_pred_map(x)) {
		int res = 1;
		for (size_t i = 0; i < x->u.obj.n; i++) {
			const struct imember *m = &x->u.obj.m[i];
			int r = op_eval(m->key, m->val, act, c);
			if (r < 0)
				res = -1;
			else if (!r && res > 0)
				res = 0;
		}
		return res;
	}
	if (is_regex_str(x))
		return op_regex(x->u.str.s + 1, x->u.str.len - 1, act, c);
	if (x->type == IV_ARR && is_oneof_part(c->part))
		return op_eval("one-of", x, act, c);
	return op_eval("eq", x, act, c);
}

int predicate_eval(const struct ivalue *expected, const struct ivalue *actual,
		   const char *part, struct strbuf *why)
{
	long budget = SUBSET_BUDGET;
	struct strbuf scratch = STRBUF_INIT;
	struct pctx c = {part, "", why ? why : &scratch, 0, 0, &budget};
	c.start = c.why->len;
	int r = pred(expected, actual, &c);
	strbuf_release(&scratch);
	return r > 0;
}

/* Can a predicate on a repeated header hold for one of its values? */
static int elementwise(const struct ivalue *x)
{
	static const char *const ops[] = {
		"eq",	     "contains", "matches", "starts-with",
		"ends-with", "one-of",	 NULL,
	};
	if (!x)
		return 0;
	if (x->type == IV_STR || x->type == IV_NUM || x->type == IV_BOOL)
		return 1;
	if (!is_pred_map(x))
		return 0;
	for (size_t i = 0; i < x->u.obj.n; i++)
		if (!str_in_list(x->u.obj.m[i].key, ops))
			return 0;
	return 1;
}

/* A header: the predicate holds for the value, or for a repeated
 * header's list as a whole, or (positive predicates) for one item. */
static int header_pred(const struct ivalue *x, const struct ivalue *act,
		       struct pctx *c)
{
	if (act && act->type == IV_ARR && elementwise(x)) {
		struct strbuf scratch = STRBUF_INIT;
		struct pctx q = *c;
		int found = 0;
		q.why = &scratch;
		q.start = 0;
		found = pred(x, act, &q) > 0;
		for (size_t i = 0; i < act->u.arr.n && !found; i++)
			found = pred(x, act->u.arr.v[i], &q) > 0;
		strbuf_release(&scratch);
		if (found)
			return 1;
	}
	return pred(x, act, c);
}

/* Do the keys of `x` name JSONPaths?  1 all, 0 none, -1 mixed (the
 * first offending member in *bad). */
static int path_keys(const struct ivalue *x, const struct imember **bad)
{
	size_t paths = 0;
	if (!x || x->type != IV_OBJ)
		return 0;
	for (size_t i = 0; i < x->u.obj.n; i++)
		paths += x->u.obj.m[i].key[0] == '$';
	if (!paths)
		return 0;
	if (paths == x->u.obj.n)
		return 1;
	for (size_t i = 0; i < x->u.obj.n; i++) {
		const struct imember *m = &x->u.obj.m[i];
		if ((m->key[0] == '$') != (x->u.obj.m[0].key[0] == '$')) {
			*bad = m;
			break;
		}
	}
	return -1;
}

/* Evaluates `path` against `doc` and the predicate against its result. */
static int json_path_pred(const char *path, const struct ivalue *x,
			  const struct ivalue *doc, struct pctx *c)
{
	struct itest_err err = ITEST_ERR_INIT;
	struct jsonpath *jp = jsonpath_compile(path, &err);
	struct jp_nodes nl = {NULL, 0, 0};
	int r;
	if (!jp)
		return eval_error(c, "%s", err.msg);
	jsonpath_eval(jp, doc, &nl);
	if (jsonpath_is_singular(jp)) {
		r = pred(x, nl.n ? nl.v[0] : NULL, c);
	} else {
		/* the node list as an array that borrows the nodes */
		struct ivalue list;
		memset(&list, 0, sizeof(list));
		list.type = IV_ARR;
		list.u.arr.v = (struct ivalue **)(void *)nl.v;
		list.u.arr.n = nl.n;
		list.u.arr.alloc = nl.alloc;
		r = pred(x, &list, c);
	}
	jp_nodes_release(&nl);
	jsonpath_free(jp);
	return r;
}

static int eval_json(const struct ivalue *x, struct itest_result *res,
		     struct pctx *c)
{
	struct strbuf reason = STRBUF_INIT, pre = STRBUF_INIT;
	const struct imember *bad = NULL;
	const struct ivalue *doc = result_part(res, "json", &reason);
	int kind = path_keys(x, &bad), ret = 1;
	if (!doc) {
		c->prefix = "json";
		line_begin(c);
		strbuf_addstr(c->why, reason.len ? reason.buf
						 : "the result has no JSON");
		line_end(c);
		strbuf_release(&reason);
		return 0;
	}
	strbuf_release(&reason);
	if (kind < 0) {
		c->prefix = "json";
		return eval_error(c, "'%s' mixes JSONPath keys and other keys",
				  bad->key);
	}
	if (!kind) {
		c->prefix = "json";
		return pred(x, doc, c);
	}
	for (size_t i = 0; i < x->u.obj.n; i++) {
		const struct imember *m = &x->u.obj.m[i];
		strbuf_reset(&pre);
		strbuf_addf(&pre, "json %s", m->key);
		c->prefix = pre.buf;
		int r = json_path_pred(m->key, m->val, doc, c);
		if (r < 0)
			ret = -1;
		else if (!r && ret > 0)
			ret = 0;
	}
	strbuf_release(&pre);
	return ret;
}

/* `headers` and a driver's keyed parts: a map of key -> predicate, each
 * judged on the part's member of that key (any case for headers). */
static int eval_keyed(const struct ivalue *x, const char *part, int nocase,
		      struct itest_result *res, struct pctx *c)
{
	struct strbuf pre = STRBUF_INIT;
	const struct ivalue *map = result_part(res, part, NULL);
	int ret = 1;
	if (!x || x->type != IV_OBJ) {
		c->prefix = part;
		strbuf_addf(&pre, "'%s' needs a map of %s", part,
			    nocase ? "header names" : "keys");
		ret = eval_error(c, "%s", pre.buf);
		strbuf_release(&pre);
		return ret;
	}
	for (size_t i = 0; i < x->u.obj.n; i++) {
		const struct imember *m = &x->u.obj.m[i];
		strbuf_reset(&pre);
		strbuf_addf(&pre, "%s %s", part, m->key);
		c->prefix = pre.buf;
		const struct ivalue *v = nocase ? iv_get_nocase(map, m->key)
						: iv_get(map, m->key);
		int r = nocase ? header_pred(m->val, v, c) : pred(m->val, v, c);
		if (r < 0)
			ret = -1;
		else if (!r && ret > 0)
			ret = 0;
	}
	strbuf_release(&pre);
	return ret;
}

/* ---- schema ---- */

/* The path of a schema file: relative to the suite's folder. */
static char *schema_path(const char *base_dir, const char *path)
{
	if (path[0] == '/' || !base_dir || !*base_dir || !strcmp(base_dir, "."))
		return xstrdup(path);
	return xasprintf("%s/%s", base_dir, path);
}

/* Does a value hold a template anywhere (in a string or a key)? */
static int has_tpl(const struct ivalue *v)
{
	if (v->type == IV_STR)
		return tpl_value_has_vars(v);
	if (v->type == IV_ARR)
		for (size_t i = 0; i < v->u.arr.n; i++)
			if (has_tpl(v->u.arr.v[i]))
				return 1;
	if (v->type == IV_OBJ)
		for (size_t i = 0; i < v->u.obj.n; i++)
			if (tpl_has_vars(v->u.obj.m[i].key,
					 v->u.obj.m[i].klen) ||
			    has_tpl(v->u.obj.m[i].val))
				return 1;
	return 0;
}

/*
 * Compiles the value of `schema:` (a file path or an inline schema).
 * Errors go to `err` with their place in `sl`; a missing file is an
 * error at the `schema` node.
 */
static struct jschema *schema_of(const struct ivalue *x, const char *base_dir,
				 struct srclist *sl, struct itest_err *err)
{
	struct jschema *s = NULL;
	struct stat st;
	char *path;
	if (x->type == IV_OBJ || x->type == IV_BOOL)
		return schema_compile(sl, x, base_dir, err);
	if (x->type != IV_STR || !x->u.str.len) {
		err_set(err, &x->loc,
			"'schema' needs a file path or a schema map, got %s",
			x->type == IV_STR ? "an empty string" : iv_kind(x));
		return NULL;
	}
	path = schema_path(base_dir, x->u.str.s);
	if (stat(path, &st) < 0 || access(path, R_OK) < 0)
		err_set(err, &x->loc, "cannot read schema file '%s': %s", path,
			strerror(errno));
	else if (!S_ISREG(st.st_mode))
		err_set(err, &x->loc,
			"cannot read schema file '%s': not a regular file",
			path);
	else
		s = schema_load(sl, path, err);
	free(path);
	return s;
}

/* An error whose place is in a source list that is about to go, as one
 * message: "FILE:LINE:COL: MESSAGE". */
static void err_text(struct strbuf *out, const struct itest_err *e)
{
	loc_format(out, &e->loc);
	if (out->len)
		strbuf_addstr(out, ": ");
	strbuf_addstr(out, e->msg);
}

/* Appends each line of `text` as a line of the expectation's message. */
static void add_lines(struct pctx *c, const char *text)
{
	while (*text) {
		const char *nl = strchr(text, '\n');
		size_t len = nl ? (size_t)(nl - text) : strlen(text);
		line_begin(c);
		strbuf_add(c->why, text, len);
		line_end(c);
		text += len + !!nl;
	}
}

static int eval_schema(const struct ivalue *x, struct itest_result *res,
		       const char *base_dir, struct pctx *c)
{
	struct strbuf reason = STRBUF_INIT;
	struct srclist sl = SRCLIST_INIT;
	struct itest_err err = ITEST_ERR_INIT;
	const struct ivalue *doc = result_part(res, "json", &reason);
	struct jschema *s;
	int r;
	if (!doc) {
		add_lines(c,
			  reason.len ? reason.buf : "the result has no JSON");
		strbuf_release(&reason);
		return 0;
	}
	s = schema_of(x, base_dir, &sl, &err);
	if (!s) {
		err_text(&reason, &err);
		r = eval_error(c, "%s", reason.buf);
	} else {
		r = schema_validate(s, doc, &reason);
		add_lines(c, reason.buf);
	}
	schema_free(s);
	srclist_release(&sl);
	strbuf_release(&reason);
	return r;
}

/* ---- xpath ---- */

/* The first value of a header (a repeated one is a list). */
static const char *header_value(struct itest_result *res, const char *name)
{
	const struct ivalue *v =
		iv_get_nocase(result_part(res, "headers", NULL), name);
	if (iv_is(v, IV_ARR))
		v = v->u.arr.n ? v->u.arr.v[0] : NULL;
	return iv_strval(v);
}

/*
 * Parses the body for XPath: as HTML when the Content-Type says
 * text/html, else as XML; without a Content-Type, as XML and, when that
 * is not well-formed, as HTML after all.
 */
static struct xdoc *parse_body(struct itest_result *res, struct strbuf *why)
{
	const struct ivalue *body = result_part(res, "body", NULL);
	const char *ct = header_value(res, "content-type");
	struct strbuf scratch = STRBUF_INIT;
	struct xdoc *d;
	if (!iv_is(body, IV_STR)) {
		strbuf_addstr(why, "the result has no body");
		return NULL;
	}
	if (xpath_is_html(ct))
		return xdoc_parse(body->u.str.s, body->u.str.len, 1, why);
	d = xdoc_parse(body->u.str.s, body->u.str.len, 0, why);
	if (!d && body->u.str.len && !ct &&
	    (d = xdoc_parse(body->u.str.s, body->u.str.len, 1, &scratch)))
		strbuf_reset(why);
	strbuf_release(&scratch);
	return d;
}

static int eval_xpath(const struct ivalue *x, const struct ivalue *ns,
		      struct itest_result *res, struct pctx *c)
{
	struct strbuf why = STRBUF_INIT, pre = STRBUF_INIT;
	struct xdoc *d;
	int ret = 1;
	if (!x || x->type != IV_OBJ)
		return eval_error(c, "'xpath' needs a map of XPath "
				     "expressions");
	d = parse_body(res, &why);
	if (!d) {
		add_lines(c, why.buf);
		strbuf_release(&why);
		return 0;
	}
	for (size_t i = 0; i < x->u.obj.n; i++) {
		const struct imember *m = &x->u.obj.m[i];
		struct ivalue *v;
		int r;
		strbuf_reset(&why);
		strbuf_reset(&pre);
		strbuf_addf(&pre, "xpath %s", m->key);
		c->prefix = pre.buf;
		v = xpath_eval(d, m->key, ns, &why);
		if (!v && why.len)
			r = eval_error(c, "%s", why.buf);
		else
			r = pred(m->val, v, c);
		iv_free(v);
		if (r < 0)
			ret = -1;
		else if (!r && ret > 0)
			ret = 0;
	}
	xdoc_free(d);
	strbuf_release(&why);
	strbuf_release(&pre);
	return ret;
}

enum itest_status expect_eval(const struct ivalue *expect,
			      struct itest_result *res, const char *base_dir,
			      struct strbuf *why)
{
	long budget = SUBSET_BUDGET;
	int failed = 0, error = 0;
	if (!expect || expect->type == IV_NULL)
		return IT_PASS;
	if (expect->type != IV_OBJ) {
		strbuf_addstr(why, "expect: needs a map of parts\n");
		return IT_ERROR;
	}
	for (size_t i = 0; i < expect->u.obj.n; i++) {
		const struct imember *m = &expect->u.obj.m[i];
		struct pctx c = {m->key, m->key, why, why->len, 1, &budget};
		int r;
		if (!strcmp(m->key, "json"))
			r = eval_json(m->val, res, &c);
		else if (!strcmp(m->key, "headers"))
			r = eval_keyed(m->val, "headers", 1, res, &c);
		else if (str_in_list(m->key, res->keyed))
			r = eval_keyed(m->val, m->key, 0, res, &c);
		else if (!strcmp(m->key, "namespaces"))
			r = 1; /* settings of `xpath` */
		else if (!strcmp(m->key, "xpath"))
			r = eval_xpath(m->val, iv_get(expect, "namespaces"),
				       res, &c);
		else if (!strcmp(m->key, "schema"))
			r = eval_schema(m->val, res, base_dir, &c);
		else
			r = pred(m->val, result_part(res, m->key, NULL), &c);
		if (r < 0)
			error = 1;
		else if (!r)
			failed = 1;
	}
	return error ? IT_ERROR : failed ? IT_FAIL : IT_PASS;
}

/* ---- captures ---- */

/* Appends "capture 'VAR': MESSAGE" as a line; returns `ret`. */
ITEST_PRINTF(4, 5)
static int capture_msg(struct strbuf *why, int ret, const char *var,
		       const char *fmt, ...)
{
	va_list ap;
	strbuf_addf(why, "capture '%s': ", var);
	va_start(ap, fmt);
	strbuf_vaddf(why, fmt, ap);
	va_end(ap);
	strbuf_addch(why, '\n');
	return ret;
}

static int capture_path(const char *var, const struct ivalue *src,
			struct itest_result *res, struct ivalue **out,
			struct strbuf *why)
{
	struct strbuf reason = STRBUF_INIT;
	struct itest_err err = ITEST_ERR_INIT;
	struct jp_nodes nl = {NULL, 0, 0};
	const struct ivalue *doc = result_part(res, "json", &reason);
	struct jsonpath *jp;
	int ret = 1;
	if (!doc) {
		capture_msg(why, 0, var, "%s",
			    reason.len ? reason.buf : "the result has no JSON");
		strbuf_release(&reason);
		return 0;
	}
	strbuf_release(&reason);
	jp = jsonpath_compile(src->u.str.s, &err);
	if (!jp)
		return capture_msg(why, -1, var, "%s", err.msg);
	jsonpath_eval(jp, doc, &nl);
	if (jsonpath_is_singular(jp)) {
		if (nl.n)
			*out = iv_clone(nl.v[0]);
		else
			ret = capture_msg(why, 0, var, "%s matched nothing",
					  src->u.str.s);
	} else {
		*out = iv_arr();
		for (size_t i = 0; i < nl.n; i++)
			iv_push(*out, iv_clone(nl.v[i]));
	}
	jp_nodes_release(&nl);
	jsonpath_free(jp);
	return ret;
}

/* The text a `regex` capture searches: the json_from part, else stdout,
 * else body. */
static const struct ivalue *capture_text(struct itest_result *res,
					 const char **name)
{
	static const char *const names[] = {"stdout", "body", NULL};
	const struct ivalue *v;
	if (res->json_from) {
		*name = res->json_from;
		return iv_get(res->parts, res->json_from);
	}
	for (size_t i = 0; names[i]; i++) {
		*name = names[i];
		if ((v = iv_get(res->parts, names[i])))
			return v;
	}
	return NULL;
}

static const struct ivalue *find_cookie(const struct ivalue *jar,
					const char *name)
{
	const struct ivalue *v = NULL;
	if (iv_is(jar, IV_OBJ)) {
		v = iv_get(jar, name);
	} else if (iv_is(jar, IV_ARR)) {
		for (size_t i = 0; i < jar->u.arr.n && !v; i++) {
			const char *n =
				iv_strval(iv_get(jar->u.arr.v[i], "name"));
			if (n && !strcmp(n, name))
				v = jar->u.arr.v[i];
		}
	}
	if (iv_is(v, IV_OBJ))
		v = iv_get(v, "value");
	return v;
}

/* Is `src` an xpath capture: { xpath: X } or { xpath: X, namespaces: N }? */
static int is_xpath_capture(const struct ivalue *src)
{
	return src->type == IV_OBJ && iv_get(src, "xpath") &&
	       (src->u.obj.n == 1 ||
		(src->u.obj.n == 2 && iv_get(src, "namespaces")));
}

static int capture_xpath(const char *var, const struct ivalue *src,
			 struct itest_result *res, struct ivalue **out,
			 struct strbuf *why)
{
	const char *expr = iv_strval(iv_get(src, "xpath"));
	struct strbuf msg = STRBUF_INIT;
	struct xdoc *d;
	int ret = 1;
	if (!expr)
		return capture_msg(why, -1, var, "'xpath' needs an expression");
	d = parse_body(res, &msg);
	if (!d) {
		capture_msg(why, 0, var, "%s", msg.buf);
		strbuf_release(&msg);
		return 0;
	}
	*out = xpath_eval(d, expr, iv_get(src, "namespaces"), &msg);
	if (!*out && msg.len)
		ret = capture_msg(why, -1, var, "%s", msg.buf);
	else if (!*out)
		ret = capture_msg(why, 0, var, "%s matched nothing", expr);
	xdoc_free(d);
	strbuf_release(&msg);
	return ret;
}

/* One capture; 1 with *out set, 0 failed, -1 could not run. */
static int capture_one(const char *var, const struct ivalue *src,
		       struct itest_result *res, struct ivalue **out,
		       struct strbuf *why)
{
	const struct ivalue *v;
	if (src->type == IV_STR && src->u.str.s[0] == '$')
		return capture_path(var, src, res, out, why);
	if (is_xpath_capture(src))
		return capture_xpath(var, src, res, out, why);
	if (src->type != IV_OBJ || src->u.obj.n != 1)
		return capture_msg(why, -1, var,
				   "needs a JSONPath or a map such "
				   "as { header: NAME }");
	const char *kind = src->u.obj.m[0].key;
	const struct ivalue *arg = src->u.obj.m[0].val;
	if (!strcmp(kind, "header")) {
		const char *name = iv_strval(arg);
		if (!name)
			return capture_msg(why, -1, var,
					   "'header' needs a name");
		v = iv_get_nocase(result_part(res, "headers", NULL), name);
		if (iv_is(v, IV_ARR))
			v = v->u.arr.n ? v->u.arr.v[0] : NULL;
		if (!v)
			return capture_msg(why, 0, var, "no header '%s'", name);
		*out = iv_clone(v);
		return 1;
	}
	if (!strcmp(kind, "regex")) {
		struct strbuf msg = STRBUF_INIT;
		const char *from = NULL;
		size_t ms = 0, me = 0;
		if (!iv_is(arg, IV_STR))
			return capture_msg(why, -1, var,
					   "'regex' needs a pattern");
		v = capture_text(res, &from);
		if (!iv_is(v, IV_STR))
			return capture_msg(why, 0, var, "the result has no %s",
					   from);
		int r = regex_search(arg->u.str.s, arg->u.str.len, v->u.str.s,
				     v->u.str.len, &ms, &me, &msg);
		if (r < 0)
			capture_msg(why, 0, var, "%s", msg.buf);
		else if (!r) {
			strbuf_reset(&msg);
			show_pattern(&msg, arg->u.str.s, arg->u.str.len);
			capture_msg(why, 0, var, "%s matched nothing in %s",
				    msg.buf, from);
		} else {
			*out = iv_strn(v->u.str.s + ms, me - ms);
		}
		strbuf_release(&msg);
		return r;
	}
	if (!strcmp(kind, "stdout")) {
		v = iv_get(res->parts, "stdout");
		if (!iv_is(v, IV_STR))
			return capture_msg(why, 0, var,
					   "the result has no stdout");
		size_t len = v->u.str.len;
		if (len && v->u.str.s[len - 1] == '\n')
			len--;
		*out = iv_strn(v->u.str.s, len);
		return 1;
	}
	if (!strcmp(kind, "cookie")) {
		const char *name = iv_strval(arg);
		if (!name)
			return capture_msg(why, -1, var,
					   "'cookie' needs a name");
		v = find_cookie(result_part(res, "cookies", NULL), name);
		if (!v)
			return capture_msg(why, 0, var, "no cookie '%s'", name);
		*out = iv_clone(v);
		return 1;
	}
	return capture_msg(why, -1, var, "unknown capture source '%s'", kind);
}

enum itest_status capture_eval(const struct ivalue *capture,
			       struct itest_result *res, struct ivalue *vars,
			       struct strbuf *why)
{
	int failed = 0, error = 0;
	if (!capture || capture->type == IV_NULL)
		return IT_PASS;
	if (capture->type != IV_OBJ) {
		strbuf_addstr(why, "capture: needs a map of variables\n");
		return IT_ERROR;
	}
	for (size_t i = 0; i < capture->u.obj.n; i++) {
		const struct imember *m = &capture->u.obj.m[i];
		struct ivalue *val = NULL;
		int r = capture_one(m->key, m->val, res, &val, why);
		if (r > 0)
			iv_setn(vars, m->key, m->klen, val);
		else if (r < 0)
			error = 1;
		else
			failed = 1;
	}
	return error ? IT_ERROR : failed ? IT_FAIL : IT_PASS;
}

/* ---- load-time checks ---- */

static int check_regex(const struct ivalue *v, size_t skip,
		       struct itest_err *err)
{
	struct strbuf msg = STRBUF_INIT;
	const char *pat = v->u.str.s + skip;
	size_t len = v->u.str.len - skip;
	pcre2_code *re;
	if (tpl_value_has_vars(v))
		return 0;
	re = regex_compile(pat, len, utf8_valid(pat, len), &msg);
	if (!re) {
		err_set(err, &v->loc, "%s", msg.buf);
		strbuf_release(&msg);
		return -1;
	}
	pcre2_code_free(re);
	return 0;
}

static int check_pred(const struct ivalue *x, const char *part,
		      struct itest_err *err);

static int check_op(const char *op, const struct ivalue *x, const char *part,
		    struct itest_err *err)
{
	const struct itest_loc *loc = &x->loc;
	if (!strcmp(op, "gt") || !strcmp(op, "ge") || !strcmp(op, "lt") ||
	    !strcmp(op, "le")) {
		if (tpl_value_has_vars(x) || x->type == IV_NUM)
			return 0;
		if (x->type != IV_STR)
			return err_set(err, loc,
				       "'%s' needs a number, a string or a "
				       "duration, got %s",
				       op, iv_kind(x));
		if (part && !strcmp(part, "duration") &&
		    duration_parse_ms(x->u.str.s) < 0)
			return err_set(err, loc,
				       "invalid duration '%s' in '%s' (write "
				       "250ms, 2s or 1m)",
				       x->u.str.s, op);
		return 0;
	}
	if (!strcmp(op, "matches")) {
		if (x->type != IV_STR)
			return err_set(err, loc,
				       "'matches' needs a pattern, got %s",
				       iv_kind(x));
		return check_regex(x, is_regex_str(x), err);
	}
	if (!strcmp(op, "starts-with") || !strcmp(op, "ends-with")) {
		if (x->type == IV_STR || x->type == IV_NUM ||
		    x->type == IV_BOOL)
			return 0;
		return err_set(err, loc, "'%s' needs a string, got %s", op,
			       iv_kind(x));
	}
	if (!strcmp(op, "one-of")) {
		if (x->type == IV_ARR || tpl_value_has_vars(x))
			return 0;
		return err_set(err, loc, "'one-of' needs a list, got %s",
			       iv_kind(x));
	}
	if (!strcmp(op, "type")) {
		const char *t = x->type == IV_NULL ? "null" : iv_strval(x),
			   *hint;
		if (tpl_value_has_vars(x) || (t && str_in_list(t, type_names)))
			return 0;
		if (!t)
			return err_set(err, loc,
				       "'type' needs a type name, got %s",
				       iv_kind(x));
		hint = suggest_name(t, type_names);
		if (hint)
			return err_set(err, loc,
				       "unknown type '%s' (did you mean "
				       "'%s'?)",
				       t, hint);
		return err_set(err, loc,
			       "unknown type '%s' (use null, boolean, "
			       "integer, number, string, array or object)",
			       t);
	}
	if (!strcmp(op, "length")) {
		if (tpl_value_has_vars(x) ||
		    (x->type == IV_NUM && (x->flags & IVF_INT) &&
		     x->u.num.i >= 0))
			return 0;
		if (is_pred_map(x))
			return check_pred(x, "length", err);
		return err_set(err, loc,
			       "'length' needs a non-negative integer or a "
			       "predicate map");
	}
	if (!strcmp(op, "exists") || !strcmp(op, "empty")) {
		if (x->type == IV_BOOL || tpl_value_has_vars(x))
			return 0;
		return err_set(err, loc, "'%s' needs true or false, got %s", op,
			       iv_kind(x));
	}
	if (!strcmp(op, "subset")) {
		if (x->type == IV_OBJ || x->type == IV_ARR ||
		    tpl_value_has_vars(x))
			return 0;
		return err_set(err, loc,
			       "'subset' needs a map or a list, got %s",
			       iv_kind(x));
	}
	return 0; /* eq ne contains not-contains: any value */
}

static int check_pred(const struct ivalue *x, const char *part,
		      struct itest_err *err)
{
	if (is_regex_str(x))
		return check_regex(x, 1, err);
	if (!is_pred_map(x))
		return 0;
	for (size_t i = 0; i < x->u.obj.n; i++) {
		const struct imember *m = &x->u.obj.m[i];
		if (check_op(m->key, m->val, part, err))
			return -1;
	}
	return 0;
}

static int check_path(const char *path, const struct itest_loc *loc,
		      struct itest_err *err)
{
	struct itest_err jerr = ITEST_ERR_INIT;
	struct jsonpath *jp;
	if (tpl_has_vars(path, strlen(path)))
		return 0;
	jp = jsonpath_compile(path, &jerr);
	if (!jp)
		return err_set(err, loc, "%s", jerr.msg);
	jsonpath_free(jp);
	return 0;
}

static int check_json(const struct ivalue *x, struct itest_err *err)
{
	const struct imember *bad = NULL;
	int kind = path_keys(x, &bad);
	if (kind < 0)
		return err_set(err, &bad->kloc,
			       "'%s' in 'json' mixes JSONPath keys (starting "
			       "with '$') and other keys",
			       bad->key);
	if (!kind)
		return check_pred(x, "json", err);
	for (size_t i = 0; i < x->u.obj.n; i++) {
		const struct imember *m = &x->u.obj.m[i];
		if (check_path(m->key, &m->kloc, err) ||
		    check_pred(m->val, "json", err))
			return -1;
	}
	return 0;
}

static int check_part_name(const char *key, const struct itest_loc *loc,
			   const char *const *parts, const char *where,
			   struct itest_err *err)
{
	const char *hint;
	if (offers(parts, key))
		return 0;
	hint = suggest_name(key, parts);
	if (hint)
		return err_set(err, loc,
			       "unknown part '%s' in %s (did you mean '%s'?)",
			       key, where, hint);
	return err_set(err, loc, "unknown part '%s' in %s", key, where);
}

/* An XPath expression (kept for run time when it holds a template). */
static int check_xpath_expr(const char *expr, const struct itest_loc *loc,
			    struct itest_err *err)
{
	struct strbuf why = STRBUF_INIT;
	if (tpl_has_vars(expr, strlen(expr)) || !xpath_check(expr, &why))
		return 0;
	err_set(err, loc, "%s", why.buf);
	strbuf_release(&why);
	return -1;
}

static int check_namespaces(const struct ivalue *x, struct itest_err *err)
{
	if (x->type != IV_OBJ)
		return err_set(err, &x->loc,
			       "'namespaces' needs a map of prefixes, got %s",
			       iv_kind(x));
	for (size_t i = 0; i < x->u.obj.n; i++) {
		const struct imember *m = &x->u.obj.m[i];
		if (m->val->type != IV_STR)
			return err_set(err, &m->val->loc,
				       "namespace '%s' needs a URI, got %s",
				       m->key, iv_kind(m->val));
	}
	return 0;
}

static int check_xpath(const struct ivalue *x, struct itest_err *err)
{
	if (x->type != IV_OBJ)
		return err_set(err, &x->loc,
			       "'xpath' needs a map of XPath expressions to "
			       "predicates, got %s",
			       iv_kind(x));
	for (size_t i = 0; i < x->u.obj.n; i++) {
		const struct imember *m = &x->u.obj.m[i];
		if (check_xpath_expr(m->key, &m->kloc, err) ||
		    check_pred(m->val, "xpath", err))
			return -1;
	}
	return 0;
}

/* Is `src` one of the records of `sl`? */
static int from_list(const struct srclist *sl, const struct itest_src *src)
{
	for (size_t i = 0; src && i < sl->n; i++)
		if (sl->v[i] == src)
			return 1;
	return 0;
}

/* Compiles the schema to check it; an inline schema with templates is
 * checked once rendered, at run time. */
static int check_schema(const struct ivalue *x, const char *base_dir,
			struct srclist *sl, struct itest_err *err)
{
	struct srclist own = SRCLIST_INIT;
	struct itest_err e = ITEST_ERR_INIT;
	struct jschema *s;
	if (x->type == IV_STR && tpl_value_has_vars(x))
		return err_set(err, &x->loc,
			       "the 'schema' path cannot hold a template");
	if (x->type == IV_OBJ && has_tpl(x))
		return 0;
	s = schema_of(x, base_dir, sl ? sl : &own, &e);
	if (!s && !from_list(&own, e.loc.src)) {
		if (!err->set)
			*err = e;
	} else if (!s) {
		struct strbuf t = STRBUF_INIT;
		err_text(&t, &e);
		err_set(err, &x->loc, "%s", t.buf);
		strbuf_release(&t);
	}
	schema_free(s);
	srclist_release(&own);
	return s ? 0 : -1;
}

int expect_check_spec_at(const struct ivalue *expect, const char *const *parts,
			 const char *const *keyed, const char *base_dir,
			 struct srclist *sl, struct itest_err *err)
{
	if (!expect || expect->type == IV_NULL)
		return 0;
	if (expect->type != IV_OBJ)
		return err_set(err, &expect->loc,
			       "'expect' needs a map of parts, got %s",
			       iv_kind(expect));
	for (size_t i = 0; i < expect->u.obj.n; i++) {
		const struct imember *m = &expect->u.obj.m[i];
		const struct ivalue *x = m->val;
		if (!strcmp(m->key, "schema")) {
			if (check_schema(x, base_dir, sl, err))
				return -1;
			continue;
		}
		/* `namespaces` goes with `xpath` */
		if (!(!strcmp(m->key, "namespaces") &&
		      offers(parts, "xpath")) &&
		    check_part_name(m->key, &m->kloc, parts, "expect", err))
			return -1;
		if (!strcmp(m->key, "json")) {
			if (check_json(x, err))
				return -1;
		} else if (!strcmp(m->key, "headers") ||
			   str_in_list(m->key, keyed)) {
			int h = !strcmp(m->key, "headers");
			if (x->type != IV_OBJ)
				return err_set(err, &x->loc,
					       "'%s' in expect needs a map of "
					       "%s, got %s",
					       m->key,
					       h ? "header names" : "keys",
					       iv_kind(x));
			for (size_t j = 0; j < x->u.obj.n; j++)
				if (check_pred(x->u.obj.m[j].val, m->key, err))
					return -1;
		} else if (!strcmp(m->key, "namespaces")) {
			if (check_namespaces(x, err))
				return -1;
		} else if (!strcmp(m->key, "xpath")) {
			if (check_xpath(x, err))
				return -1;
		} else if (check_pred(x, m->key, err)) {
			return -1;
		}
	}
	return 0;
}

int expect_check_spec(const struct ivalue *expect, const char *const *parts,
		      struct itest_err *err)
{
	return expect_check_spec_at(expect, parts, NULL, NULL, NULL, err);
}

/* The name of the driver whose parts list this is, for messages. */
static const char *driver_of(const char *const *parts)
{
	for (size_t i = 0; itest_drivers[i]; i++)
		if (itest_drivers[i]->parts == parts)
			return itest_drivers[i]->name;
	return NULL;
}

static int source_unavailable(const char *src, const char *const *parts,
			      const struct itest_loc *loc,
			      struct itest_err *err)
{
	const char *drv = driver_of(parts);
	if (drv)
		return err_set(err, loc,
			       "capture source '%s' is not available for the "
			       "'%s' driver",
			       src, drv);
	return err_set(err, loc,
		       "capture source '%s' is not available for this driver",
		       src);
}

static int check_xpath_capture(const struct ivalue *src,
			       const char *const *parts, struct itest_err *err)
{
	const struct imember *m = iv_member(src, "xpath");
	const struct ivalue *ns = iv_get(src, "namespaces");
	if (!offers(parts, "xpath"))
		return source_unavailable("xpath", parts, &m->kloc, err);
	if (m->val->type != IV_STR)
		return err_set(err, &m->val->loc,
			       "'xpath' in a capture needs a string, got %s",
			       iv_kind(m->val));
	if (ns && check_namespaces(ns, err))
		return -1;
	return check_xpath_expr(m->val->u.str.s, &m->val->loc, err);
}

static int check_capture(const struct imember *cm, const char *const *parts,
			 struct itest_err *err)
{
	static const char *const reserved[] = {"run", "env", "test", "request",
					       NULL};
	const struct ivalue *src = cm->val;
	const struct imember *m;
	const char *hint;
	if (str_in_list(cm->key, reserved))
		return err_set(err, &cm->kloc,
			       "cannot capture into '%s': the name is reserved",
			       cm->key);
	if (src->type == IV_STR) {
		if (src->u.str.s[0] != '$')
			return err_set(
				err, &src->loc,
				"capture '%s' needs a JSONPath (starting "
				"with '$') or a map such as { header: "
				"NAME }",
				cm->key);
		if (!offers(parts, "json"))
			return source_unavailable("json", parts, &src->loc,
						  err);
		return check_path(src->u.str.s, &src->loc, err);
	}
	if (is_xpath_capture(src))
		return check_xpath_capture(src, parts, err);
	if (src->type != IV_OBJ || src->u.obj.n != 1)
		return err_set(err, &src->loc,
			       "capture '%s' needs a JSONPath or a map with "
			       "one of header, regex, stdout, cookie, xpath",
			       cm->key);
	m = &src->u.obj.m[0];
	if (!str_in_list(m->key, capture_sources)) {
		hint = suggest_name(m->key, capture_sources);
		if (hint)
			return err_set(err, &m->kloc,
				       "unknown capture source '%s' (did you "
				       "mean '%s'?)",
				       m->key, hint);
		return err_set(err, &m->kloc,
			       "unknown capture source '%s' (use header, "
			       "regex, stdout, cookie or xpath)",
			       m->key);
	}
	if (!strcmp(m->key, "stdout")) {
		if (!offers(parts, "stdout"))
			return source_unavailable("stdout", parts, &m->kloc,
						  err);
		if (m->val->type != IV_BOOL || !m->val->u.b)
			return err_set(err, &m->val->loc,
				       "'stdout' in a capture takes true");
		return 0;
	}
	if (m->val->type != IV_STR)
		return err_set(err, &m->val->loc,
			       "'%s' in a capture needs a string, got %s",
			       m->key, iv_kind(m->val));
	if (!strcmp(m->key, "header")) {
		if (!offers(parts, "headers"))
			return source_unavailable("header", parts, &m->kloc,
						  err);
	} else if (!strcmp(m->key, "cookie")) {
		if (!offers(parts, "cookies"))
			return source_unavailable("cookie", parts, &m->kloc,
						  err);
	} else if (!strcmp(m->key, "regex")) {
		if (!offers(parts, "stdout") && !offers(parts, "body"))
			return source_unavailable("regex", parts, &m->kloc,
						  err);
		return check_regex(m->val, 0, err);
	}
	return 0;
}

int capture_check_spec(const struct ivalue *capture, const char *const *parts,
		       struct itest_err *err)
{
	if (!capture || capture->type == IV_NULL)
		return 0;
	if (capture->type != IV_OBJ)
		return err_set(err, &capture->loc,
			       "'capture' needs a map of variables, got %s",
			       iv_kind(capture));
	for (size_t i = 0; i < capture->u.obj.n; i++)
		if (check_capture(&capture->u.obj.m[i], parts, err))
			return -1;
	return 0;
}
