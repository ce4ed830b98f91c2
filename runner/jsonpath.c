/*
 * JSONPath as RFC 9535 defines it: a recursive-descent compiler that checks
 * well-typedness (2.4.3) at compile time, and an evaluator over the value
 * tree that walks descendants with an explicit stack.  The regular
 * expressions of match() and search() are I-Regexps (RFC 9485), translated
 * to PCRE2 patterns; literal ones are compiled into the compiled path,
 * which is read-only afterwards and so may be shared between threads.
 *
 * One reading differs from RFC 9485's grammar, where '^' and '$' are
 * ordinary characters: outside a character class they anchor at the start
 * and the end of the string, as the JSONPath Compliance Test Suite (and
 * every implementation built on a native regex engine) has it.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "jsonpath.h"

#define JP_MAX_DEPTH   64		  /* nesting of expressions */
#define JP_MAX_INT     9007199254740991LL /* I-JSON: 2^53 - 1 */
#define JP_SHOW_MAX    64		  /* expression bytes in a message */
#define JP_MATCH_LIMIT 1000000		  /* PCRE2 backtracking steps */

enum sel_kind { SEL_NAME, SEL_WILD, SEL_INDEX, SEL_SLICE, SEL_FILTER };

struct jp_expr;

struct jp_sel {
	enum sel_kind kind;
	char *name; /* SEL_NAME: may contain NULs */
	size_t nlen;
	int64_t index;		  /* SEL_INDEX */
	int64_t start, end, step; /* SEL_SLICE */
	int has_start, has_end;
	struct jp_expr *filter; /* SEL_FILTER */
};

struct jp_seg {
	int desc;   /* a descendant segment (..) */
	int spaced; /* blank space inside its brackets */
	struct jp_sel *sel;
	size_t n, alloc;
};

struct jp_query {
	int absolute; /* starts at $ rather than @ */
	int singular; /* RFC 9535 2.3.5.1 */
	struct jp_seg *seg;
	size_t n, alloc;
};

/* The types of function parameters and results (RFC 9535 2.4.1). */
enum jp_type { T_VALUE, T_LOGICAL, T_NODES };

enum ex_kind { EX_OR, EX_AND, EX_NOT, EX_CMP, EX_LIT, EX_QUERY, EX_FUNC };
enum cmp_op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };
enum fn_id { FN_LENGTH, FN_COUNT, FN_MATCH, FN_SEARCH, FN_VALUE };
enum re_state { RE_RUNTIME, RE_READY, RE_INVALID };

struct fn_def {
	const char *name;
	enum fn_id id;
	enum jp_type ret;
	size_t nargs;
	enum jp_type arg[2];
};

static const struct fn_def fn_defs[] = {
	{"length", FN_LENGTH, T_VALUE, 1, {T_VALUE, T_VALUE}},
	{"count", FN_COUNT, T_VALUE, 1, {T_NODES, T_NODES}},
	{"match", FN_MATCH, T_LOGICAL, 2, {T_VALUE, T_VALUE}},
	{"search", FN_SEARCH, T_LOGICAL, 2, {T_VALUE, T_VALUE}},
	{"value", FN_VALUE, T_VALUE, 1, {T_NODES, T_NODES}},
};

struct jp_expr {
	enum ex_kind kind;
	size_t off; /* where it starts in the expression text */
	/* OR, AND: the operands; NOT: 1; CMP: 2; FUNC: the arguments */
	struct jp_expr **kid;
	size_t n, alloc;
	enum cmp_op op;
	struct ivalue *lit;	 /* EX_LIT */
	struct jp_query q;	 /* EX_QUERY */
	const struct fn_def *fn; /* EX_FUNC */
	enum re_state re_state;	 /* FN_MATCH, FN_SEARCH */
	pcre2_code *re;		 /* RE_READY */
};

struct jsonpath {
	struct jp_query q;
};

/* ---- freeing ---- */

static void expr_free(struct jp_expr *e);

static void query_release(struct jp_query *q)
{
	for (size_t i = 0; i < q->n; i++) {
		struct jp_seg *s = &q->seg[i];
		for (size_t j = 0; j < s->n; j++) {
			free(s->sel[j].name);
			expr_free(s->sel[j].filter);
		}
		free(s->sel);
	}
	free(q->seg);
	memset(q, 0, sizeof(*q));
}

static void expr_free(struct jp_expr *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n; i++)
		expr_free(e->kid[i]);
	free(e->kid);
	iv_free(e->lit);
	query_release(&e->q);
	if (e->re)
		pcre2_code_free(e->re);
	free(e);
}

void jsonpath_free(struct jsonpath *p)
{
	if (!p)
		return;
	query_release(&p->q);
	free(p);
}

/* ---- UTF-8 ---- */

/*
 * Decodes one UTF-8 sequence of at most `len` bytes strictly (no overlong
 * forms, no surrogates, nothing above U+10FFFF); returns its length, or 0
 * if it is invalid.
 */
static size_t utf8_decode(const char *s, size_t len, uint32_t *cp)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n;
	uint32_t c, min;
	if (!len)
		return 0;
	if (u[0] < 0x80) {
		*cp = u[0];
		return 1;
	} else if ((u[0] & 0xe0) == 0xc0) {
		n = 2, c = u[0] & 0x1f, min = 0x80;
	} else if ((u[0] & 0xf0) == 0xe0) {
		n = 3, c = u[0] & 0x0f, min = 0x800;
	} else if ((u[0] & 0xf8) == 0xf0) {
		n = 4, c = u[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((u[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (u[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* ---- I-Regexp (RFC 9485) to PCRE2 ---- */

/* Appends code point `cp` as a PCRE2 literal. */
static void re_literal(struct strbuf *out, uint32_t cp)
{
	if ((cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') ||
	    (cp >= 'A' && cp <= 'Z'))
		strbuf_addch(out, (int)cp);
	else
		strbuf_addf(out, "\\x{%x}", (unsigned)cp);
}

/* Is s[i..] "\p{...}" or "\P{...}" with a valid category?  Appends it. */
static size_t re_category(const char *s, size_t len, size_t i,
			  struct strbuf *out)
{
	static const char *const cats[] = {
		"L",  "Ll", "Lm", "Lo", "Lt", "Lu", "M",  "Mc", "Me", "Mn",
		"N",  "Nd", "Nl", "No", "P",  "Pc", "Pd", "Pe", "Pf", "Pi",
		"Po", "Ps", "Z",  "Zl", "Zp", "Zs", "S",  "Sc", "Sk", "Sm",
		"So", "C",  "Cc", "Cf", "Cn", "Co", NULL};
	if (i + 3 >= len || s[i] != '\\' ||
	    (s[i + 1] != 'p' && s[i + 1] != 'P') || s[i + 2] != '{')
		return 0;
	size_t j = i + 3, k = j;
	while (k < len && s[k] != '}')
		k++;
	if (k >= len || k - j < 1 || k - j > 2)
		return 0;
	for (size_t c = 0; cats[c]; c++) {
		if (strlen(cats[c]) == k - j &&
		    !memcmp(cats[c], s + j, k - j)) {
			strbuf_add(out, s + i, k + 1 - i);
			return k + 1 - i;
		}
	}
	return 0;
}

/*
 * A character of I-Regexp at s[i]: SingleCharEsc or a plain character
 * (the caller has excluded the metacharacters).  Returns the bytes used,
 * 0 if invalid.
 */
static size_t re_char(const char *s, size_t len, size_t i, uint32_t *cp)
{
	if (s[i] != '\\')
		return utf8_decode(s + i, len - i, cp);
	if (i + 1 >= len)
		return 0;
	switch (s[i + 1]) {
	case 'n':
		*cp = '\n';
		return 2;
	case 'r':
		*cp = '\r';
		return 2;
	case 't':
		*cp = '\t';
		return 2;
	case '(':
	case ')':
	case '*':
	case '+':
	case '-':
	case '.':
	case '?':
	case '[':
	case '\\':
	case ']':
	case '^':
	case '{':
	case '|':
	case '}':
		*cp = (unsigned char)s[i + 1];
		return 2;
	default:
		return 0;
	}
}

/* A character class expression at s[i] ('['); returns bytes used or 0. */
static size_t re_class(const char *s, size_t len, size_t i, struct strbuf *out)
{
	size_t start = i;
	int first = 1;
	i++;
	strbuf_addch(out, '[');
	if (i < len && s[i] == '^') {
		strbuf_addch(out, '^');
		i++;
	}
	for (;;) {
		uint32_t lo, hi;
		size_t n;
		if (i >= len)
			return 0;
		if (s[i] == ']') {
			if (first)
				return 0;
			strbuf_addch(out, ']');
			return i + 1 - start;
		}
		if (s[i] == '-') {
			/* only first or last */
			if (!first && !(i + 1 < len && s[i + 1] == ']'))
				return 0;
			strbuf_addstr(out, "\\x{2d}");
			i++;
			first = 0;
			continue;
		}
		first = 0;
		n = re_category(s, len, i, out);
		if (n) {
			i += n;
			continue;
		}
		if (s[i] == '[')
			return 0;
		n = re_char(s, len, i, &lo);
		if (!n)
			return 0;
		i += n;
		re_literal(out, lo);
		if (i + 1 < len && s[i] == '-' && s[i + 1] != ']') {
			i++;
			if (s[i] == '-' || s[i] == '[')
				return 0;
			n = re_char(s, len, i, &hi);
			if (!n || hi < lo)
				return 0;
			i += n;
			strbuf_addch(out, '-');
			re_literal(out, hi);
		}
	}
}

/* A range quantifier at s[i] ('{'); returns bytes used or 0. */
static size_t re_range(const char *s, size_t len, size_t i, struct strbuf *out)
{
	size_t j = i + 1;
	int digits = 0;
	while (j < len && s[j] >= '0' && s[j] <= '9')
		j++, digits++;
	if (!digits)
		return 0;
	if (j < len && s[j] == ',') {
		j++;
		while (j < len && s[j] >= '0' && s[j] <= '9')
			j++;
	}
	if (j >= len || s[j] != '}')
		return 0;
	strbuf_add(out, s + i, j + 1 - i);
	return j + 1 - i;
}

/* Translates an I-Regexp to a PCRE2 pattern; -1 if it is not valid. */
static int iregexp_translate(const char *s, size_t len, int whole,
			     struct strbuf *out)
{
	size_t i = 0;
	int depth = 0, atom = 0;
	strbuf_addstr(out, whole ? "\\A(?:" : "(?:");
	while (i < len) {
		size_t n;
		uint32_t cp;
		char c = s[i];
		switch (c) {
		case '(':
			strbuf_addstr(out, "(?:");
			depth++;
			atom = 0;
			i++;
			continue;
		case ')':
			if (!depth)
				return -1;
			strbuf_addch(out, ')');
			depth--;
			atom = 1;
			i++;
			continue;
		case '|':
			strbuf_addch(out, '|');
			atom = 0;
			i++;
			continue;
		case '*':
		case '+':
		case '?':
			if (!atom)
				return -1;
			strbuf_addch(out, c);
			atom = 0;
			i++;
			continue;
		case '{':
			if (!atom)
				return -1;
			n = re_range(s, len, i, out);
			if (!n)
				return -1;
			atom = 0;
			i += n;
			continue;
		case '^':
		case '$':
			/* anchors, as the compliance suite reads them */
			strbuf_addstr(out, c == '^' ? "\\A" : "\\z");
			atom = 0;
			i++;
			continue;
		case '.':
			strbuf_addstr(out, "[^\\n\\r]");
			atom = 1;
			i++;
			continue;
		case '[':
			n = re_class(s, len, i, out);
			if (!n)
				return -1;
			atom = 1;
			i += n;
			continue;
		case ']':
		case '}':
			return -1;
		default:
			break;
		}
		n = re_category(s, len, i, out);
		if (!n) {
			n = re_char(s, len, i, &cp);
			if (!n)
				return -1;
			re_literal(out, cp);
		}
		atom = 1;
		i += n;
	}
	if (depth)
		return -1;
	strbuf_addstr(out, whole ? ")\\z" : ")");
	return 0;
}

/* Compiles an I-Regexp; NULL if it is not valid.  Caller frees. */
static pcre2_code *iregexp_compile(const char *s, size_t len, int whole)
{
	struct strbuf pat = STRBUF_INIT;
	pcre2_code *re = NULL;
	int code;
	PCRE2_SIZE off;
	if (!iregexp_translate(s, len, whole, &pat))
		re = pcre2_compile((PCRE2_SPTR)pat.buf, pat.len,
				   PCRE2_UTF | PCRE2_NEVER_BACKSLASH_C, &code,
				   &off, NULL);
	strbuf_release(&pat);
	return re;
}

static int regex_test(const pcre2_code *re, const struct ivalue *str)
{
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
	pcre2_match_context *mc = pcre2_match_context_create(NULL);
	int rc;
	if (!md || !mc) {
		fprintf(stderr, "itest: fatal: out of memory in pcre2\n");
		abort();
	}
	pcre2_set_match_limit(mc, JP_MATCH_LIMIT);
	rc = pcre2_match(re, (PCRE2_SPTR)str->u.str.s, str->u.str.len, 0, 0, md,
			 mc);
	pcre2_match_data_free(md);
	pcre2_match_context_free(mc);
	return rc >= 0;
}

/* ---- the compiler ---- */

struct parser {
	const char *s;
	size_t len, pos;
	int depth;
	int failed;
	size_t err_off;
	char msg[200];
};

ITEST_PRINTF(3, 4)
static int fail(struct parser *p, size_t off, const char *fmt, ...)
{
	va_list ap;
	if (p->failed)
		return -1;
	p->failed = 1;
	p->err_off = off;
	va_start(ap, fmt);
	vsnprintf(p->msg, sizeof(p->msg), fmt, ap);
	va_end(ap);
	return -1;
}

static int peek(const struct parser *p)
{
	return p->pos < p->len ? (unsigned char)p->s[p->pos] : -1;
}

static int peek_at(const struct parser *p, size_t k)
{
	return p->pos + k < p->len ? (unsigned char)p->s[p->pos + k] : -1;
}

static int is_blank(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void skip_s(struct parser *p)
{
	while (is_blank(peek(p)))
		p->pos++;
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* What the message calls the character at the current position. */
static const char *what_here(const struct parser *p, char *buf, size_t size)
{
	int c = peek(p);
	if (c < 0)
		return "end of expression";
	if (c >= 0x21 && c < 0x7f)
		snprintf(buf, size, "'%c'", c);
	else if (c == ' ')
		snprintf(buf, size, "blank space");
	else
		snprintf(buf, size, "byte 0x%02x", (unsigned)c);
	return buf;
}

static int unexpected(struct parser *p, const char *wanted)
{
	char buf[32];
	return fail(p, p->pos, "expected %s, found %s", wanted,
		    what_here(p, buf, sizeof(buf)));
}

/* int = "0" / (["-"] DIGIT1 *DIGIT), within the I-JSON range. */
static int parse_int(struct parser *p, int64_t *out)
{
	size_t start = p->pos;
	int neg = 0;
	int64_t v = 0;
	if (peek(p) == '-') {
		neg = 1;
		p->pos++;
	}
	if (!is_digit(peek(p)))
		return unexpected(p, "an integer");
	if (peek(p) == '0') {
		p->pos++;
		if (neg)
			return fail(p, start, "'-0' is not a valid integer");
		if (is_digit(peek(p)))
			return fail(p, start, "leading zeros are not allowed");
		*out = 0;
		return 0;
	}
	while (is_digit(peek(p))) {
		v = v * 10 + (peek(p) - '0');
		if (v > JP_MAX_INT)
			return fail(p, start, "integer out of range");
		p->pos++;
	}
	*out = neg ? -v : v;
	return 0;
}

/* A string literal at the current position (on its quote). */
static int parse_string(struct parser *p, struct strbuf *out)
{
	int q = peek(p);
	p->pos++;
	for (;;) {
		int c = peek(p);
		uint32_t cp;
		size_t n;
		if (c < 0)
			return fail(p, p->pos, "unterminated string");
		if (c == q) {
			p->pos++;
			return 0;
		}
		if (c < 0x20)
			return fail(p, p->pos, "control character in string");
		if (c < 0x80 && c != '\\') {
			strbuf_addch(out, c);
			p->pos++;
			continue;
		}
		if (c >= 0x80) {
			n = utf8_decode(p->s + p->pos, p->len - p->pos, &cp);
			if (!n)
				return fail(p, p->pos, "invalid UTF-8");
			strbuf_add(out, p->s + p->pos, n);
			p->pos += n;
			continue;
		}
		/* an escape */
		size_t esc = p->pos;
		p->pos++;
		c = peek(p);
		p->pos++;
		switch (c) {
		case 'b':
			strbuf_addch(out, '\b');
			continue;
		case 'f':
			strbuf_addch(out, '\f');
			continue;
		case 'n':
			strbuf_addch(out, '\n');
			continue;
		case 'r':
			strbuf_addch(out, '\r');
			continue;
		case 't':
			strbuf_addch(out, '\t');
			continue;
		case '/':
		case '\\':
			strbuf_addch(out, c);
			continue;
		case 'u':
			break;
		default:
			if (c == q) {
				strbuf_addch(out, c);
				continue;
			}
			return fail(p, esc, "invalid escape in string");
		}
		cp = 0;
		for (int k = 0; k < 4; k++) {
			int h = hexval(peek(p));
			if (h < 0)
				return fail(p, esc, "invalid \\u escape");
			cp = cp * 16 + (uint32_t)h;
			p->pos++;
		}
		if (cp >= 0xdc00 && cp <= 0xdfff)
			return fail(p, esc, "lone low surrogate in string");
		if (cp >= 0xd800 && cp <= 0xdbff) {
			uint32_t lo = 0;
			if (peek(p) != '\\' || peek_at(p, 1) != 'u')
				return fail(p, esc,
					    "high surrogate without a low one");
			p->pos += 2;
			for (int k = 0; k < 4; k++) {
				int h = hexval(peek(p));
				if (h < 0)
					return fail(p, esc,
						    "invalid \\u escape");
				lo = lo * 16 + (uint32_t)h;
				p->pos++;
			}
			if (lo < 0xdc00 || lo > 0xdfff)
				return fail(p, esc,
					    "high surrogate without a low one");
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		}
		strbuf_add_utf8(out, cp);
	}
}

/* Is the current position the start of member-name-shorthand? */
static size_t name_first_len(const struct parser *p)
{
	int c = peek(p);
	uint32_t cp;
	if (c < 0)
		return 0;
	if (is_alpha(c) || c == '_')
		return 1;
	if (c < 0x80)
		return 0;
	return utf8_decode(p->s + p->pos, p->len - p->pos, &cp);
}

static void parse_shorthand(struct parser *p, struct jp_sel *sel)
{
	size_t start = p->pos, n;
	while ((n = name_first_len(p)) || is_digit(peek(p)))
		p->pos += n ? n : 1;
	sel->kind = SEL_NAME;
	sel->nlen = p->pos - start;
	sel->name = xstrndup(p->s + start, sel->nlen);
}

static struct jp_expr *parse_or(struct parser *p);

/* index-selector or slice-selector */
static int parse_index_or_slice(struct parser *p, struct jp_sel *sel)
{
	size_t save;
	if (peek(p) != ':') {
		if (parse_int(p, &sel->start) < 0)
			return -1;
		sel->has_start = 1;
		save = p->pos;
		skip_s(p);
		if (peek(p) != ':') {
			p->pos = save;
			sel->kind = SEL_INDEX;
			sel->index = sel->start;
			return 0;
		}
	}
	sel->kind = SEL_SLICE;
	sel->step = 1;
	p->pos++; /* ':' */
	skip_s(p);
	if (peek(p) == '-' || is_digit(peek(p))) {
		if (parse_int(p, &sel->end) < 0)
			return -1;
		sel->has_end = 1;
		skip_s(p);
	}
	if (peek(p) == ':') {
		p->pos++;
		skip_s(p);
		if (peek(p) == '-' || is_digit(peek(p))) {
			if (parse_int(p, &sel->step) < 0)
				return -1;
		}
	}
	return 0;
}

static int parse_selector(struct parser *p, struct jp_sel *sel)
{
	int c = peek(p);
	if (c == '\'' || c == '"') {
		struct strbuf sb = STRBUF_INIT;
		if (parse_string(p, &sb) < 0) {
			strbuf_release(&sb);
			return -1;
		}
		sel->kind = SEL_NAME;
		sel->name = strbuf_detach(&sb, &sel->nlen);
		return 0;
	}
	if (c == '*') {
		sel->kind = SEL_WILD;
		p->pos++;
		return 0;
	}
	if (c == '?') {
		p->pos++;
		skip_s(p);
		sel->kind = SEL_FILTER;
		sel->filter = parse_or(p);
		return sel->filter ? 0 : -1;
	}
	if (c == ':' || c == '-' || is_digit(c))
		return parse_index_or_slice(p, sel);
	return unexpected(p, "a selector");
}

static struct jp_sel *seg_add(struct jp_seg *seg)
{
	XGROW(seg->sel, seg->alloc, seg->n + 1);
	struct jp_sel *sel = &seg->sel[seg->n++];
	memset(sel, 0, sizeof(*sel));
	return sel;
}

/* bracketed-selection, after its '[' */
static int parse_bracket(struct parser *p, struct jp_seg *seg)
{
	size_t at = p->pos;
	skip_s(p);
	seg->spaced = p->pos != at;
	for (;;) {
		if (parse_selector(p, seg_add(seg)) < 0)
			return -1;
		at = p->pos;
		skip_s(p);
		seg->spaced |= p->pos != at;
		if (peek(p) == ',') {
			p->pos++;
			skip_s(p);
			continue;
		}
		if (peek(p) == ']') {
			p->pos++;
			return 0;
		}
		return unexpected(p, "',' or ']'");
	}
}

static int parse_segment(struct parser *p, struct jp_query *q)
{
	XGROW(q->seg, q->alloc, q->n + 1);
	struct jp_seg *seg = &q->seg[q->n++];
	memset(seg, 0, sizeof(*seg));
	if (peek(p) == '[') {
		p->pos++;
		return parse_bracket(p, seg);
	}
	p->pos++; /* '.' */
	if (peek(p) == '.') {
		p->pos++;
		seg->desc = 1;
		if (peek(p) == '[') {
			p->pos++;
			return parse_bracket(p, seg);
		}
	}
	if (peek(p) == '*') {
		p->pos++;
		seg_add(seg)->kind = SEL_WILD;
		return 0;
	}
	if (!name_first_len(p))
		return unexpected(p, seg->desc ? "a member name, '*' or '['"
					       : "a member name or '*'");
	parse_shorthand(p, seg_add(seg));
	return 0;
}

/*
 * segments = *(S segment); blank space is not consumed after the last.
 * The query is singular when each segment is a name-segment or an
 * index-segment of the singular-query grammar, which has no room for
 * blank space inside the brackets: "@['a']" is singular, "@[ 'a' ]" not.
 */
static int parse_segments(struct parser *p, struct jp_query *q)
{
	for (;;) {
		size_t save = p->pos;
		skip_s(p);
		if (peek(p) != '.' && peek(p) != '[') {
			p->pos = save;
			break;
		}
		if (parse_segment(p, q) < 0)
			return -1;
	}
	q->singular = 1;
	for (size_t i = 0; i < q->n; i++) {
		const struct jp_seg *s = &q->seg[i];
		if (s->desc || s->n != 1 || s->spaced ||
		    (s->sel[0].kind != SEL_NAME && s->sel[0].kind != SEL_INDEX))
			q->singular = 0;
	}
	return 0;
}

static struct jp_expr *expr_new(enum ex_kind kind, size_t off)
{
	struct jp_expr *e = xcalloc(1, sizeof(*e));
	e->kind = kind;
	e->off = off;
	return e;
}

static void expr_add(struct jp_expr *e, struct jp_expr *kid)
{
	XGROW(e->kid, e->alloc, e->n + 1);
	e->kid[e->n++] = kid;
}

static int enter(struct parser *p)
{
	if (++p->depth > JP_MAX_DEPTH)
		return fail(p, p->pos, "expression nested too deeply");
	return 0;
}

/* number = (int / "-0") [ frac ] [ exp ] */
static struct jp_expr *parse_number(struct parser *p)
{
	size_t start = p->pos;
	if (peek(p) == '-')
		p->pos++;
	if (!is_digit(peek(p))) {
		unexpected(p, "a digit");
		return NULL;
	}
	if (peek(p) == '0') {
		p->pos++;
		if (is_digit(peek(p))) {
			fail(p, start, "leading zeros are not allowed");
			return NULL;
		}
	} else {
		while (is_digit(peek(p)))
			p->pos++;
	}
	if (peek(p) == '.') {
		p->pos++;
		if (!is_digit(peek(p))) {
			unexpected(p, "a digit after '.'");
			return NULL;
		}
		while (is_digit(peek(p)))
			p->pos++;
	}
	if (peek(p) == 'e' || peek(p) == 'E') {
		p->pos++;
		if (peek(p) == '+' || peek(p) == '-')
			p->pos++;
		if (!is_digit(peek(p))) {
			unexpected(p, "a digit in the exponent");
			return NULL;
		}
		while (is_digit(peek(p)))
			p->pos++;
	}
	struct ivalue *v = iv_num_text(p->s + start, p->pos - start);
	if (!v) {
		fail(p, start, "invalid number");
		return NULL;
	}
	struct jp_expr *e = expr_new(EX_LIT, start);
	e->lit = v;
	return e;
}

static enum jp_type expr_type(const struct jp_expr *e)
{
	switch (e->kind) {
	case EX_LIT:
		return T_VALUE;
	case EX_QUERY:
		return T_NODES;
	case EX_FUNC:
		return e->fn->ret;
	default:
		return T_LOGICAL;
	}
}

static struct jp_expr *parse_primary(struct parser *p);

/* Checks that `arg` fits parameter `i` of `fn` (RFC 9535 2.4.3). */
static int check_arg(struct parser *p, const struct fn_def *fn, size_t i,
		     const struct jp_expr *arg)
{
	switch (fn->arg[i]) {
	case T_VALUE:
		if (arg->kind == EX_QUERY && !arg->q.singular)
			return fail(p, arg->off,
				    "argument %zu of %s() must be a singular "
				    "query",
				    i + 1, fn->name);
		if (expr_type(arg) == T_LOGICAL ||
		    (arg->kind == EX_FUNC && arg->fn->ret != T_VALUE))
			return fail(p, arg->off,
				    "argument %zu of %s() must be a value",
				    i + 1, fn->name);
		return 0;
	case T_NODES:
		if (expr_type(arg) != T_NODES)
			return fail(p, arg->off,
				    "argument %zu of %s() must be a query",
				    i + 1, fn->name);
		return 0;
	case T_LOGICAL:
		if (arg->kind == EX_LIT)
			return fail(p, arg->off,
				    "argument %zu of %s() must be a logical "
				    "expression",
				    i + 1, fn->name);
		return 0;
	}
	return 0;
}

/* function-expr, at the '(' after the name */
static struct jp_expr *parse_call(struct parser *p, const struct fn_def *fn,
				  size_t start)
{
	struct jp_expr *e = expr_new(EX_FUNC, start);
	e->fn = fn;
	p->pos++; /* '(' */
	skip_s(p);
	if (peek(p) != ')') {
		for (;;) {
			struct jp_expr *arg = parse_primary(p);
			if (!arg)
				goto fail;
			expr_add(e, arg);
			skip_s(p);
			if (peek(p) == ',') {
				p->pos++;
				skip_s(p);
				continue;
			}
			if (peek(p) == ')')
				break;
			unexpected(p, "',' or ')'");
			goto fail;
		}
	}
	p->pos++; /* ')' */
	if (e->n != fn->nargs) {
		fail(p, start, "%s() takes %zu argument%s, not %zu", fn->name,
		     fn->nargs, fn->nargs == 1 ? "" : "s", e->n);
		goto fail;
	}
	for (size_t i = 0; i < e->n; i++)
		if (check_arg(p, fn, i, e->kid[i]) < 0)
			goto fail;
	if ((fn->id == FN_MATCH || fn->id == FN_SEARCH) &&
	    e->kid[1]->kind == EX_LIT && e->kid[1]->lit->type == IV_STR) {
		const struct ivalue *re = e->kid[1]->lit;
		e->re = iregexp_compile(re->u.str.s, re->u.str.len,
					fn->id == FN_MATCH);
		e->re_state = e->re ? RE_READY : RE_INVALID;
	}
	return e;
fail:
	expr_free(e);
	return NULL;
}

/* literal / filter-query / function-expr */
static struct jp_expr *parse_primary(struct parser *p)
{
	struct jp_expr *e = NULL;
	size_t start = p->pos;
	int c = peek(p);
	if (enter(p) < 0)
		return NULL;
	if (c == '@' || c == '$') {
		e = expr_new(EX_QUERY, start);
		e->q.absolute = c == '$';
		p->pos++;
		if (parse_segments(p, &e->q) < 0) {
			expr_free(e);
			e = NULL;
		}
	} else if (c == '\'' || c == '"') {
		struct strbuf sb = STRBUF_INIT;
		if (parse_string(p, &sb) < 0) {
			strbuf_release(&sb);
		} else {
			size_t len;
			char *s = strbuf_detach(&sb, &len);
			e = expr_new(EX_LIT, start);
			e->lit = iv_str_own(s, len);
		}
	} else if (c == '-' || is_digit(c)) {
		e = parse_number(p);
	} else if (c >= 'a' && c <= 'z') {
		while ((peek(p) >= 'a' && peek(p) <= 'z') ||
		       is_digit(peek(p)) || peek(p) == '_')
			p->pos++;
		const char *name = p->s + start;
		size_t n = p->pos - start;
		if (peek(p) == '(') {
			for (size_t i = 0; i < ARRAY_SIZE(fn_defs); i++)
				if (strlen(fn_defs[i].name) == n &&
				    !memcmp(fn_defs[i].name, name, n))
					e = parse_call(p, &fn_defs[i], start);
			if (!e && !p->failed)
				fail(p, start, "unknown function '%.*s'",
				     (int)n, name);
		} else if ((n == 4 && !memcmp(name, "true", 4)) ||
			   (n == 5 && !memcmp(name, "false", 5))) {
			e = expr_new(EX_LIT, start);
			e->lit = iv_bool(n == 4);
		} else if (n == 4 && !memcmp(name, "null", 4)) {
			e = expr_new(EX_LIT, start);
			e->lit = iv_null();
		} else {
			size_t blank = p->pos;
			skip_s(p);
			if (peek(p) == '(' && blank != p->pos)
				fail(p, blank,
				     "blank space after function name '%.*s'",
				     (int)n, name);
			else
				fail(p, start, "unexpected '%.*s'", (int)n,
				     name);
		}
	} else {
		unexpected(p, "a query, a literal or a function");
	}
	p->depth--;
	return e;
}

/* A test-expr: an existence test or a function of logical or nodes type. */
static int check_test(struct parser *p, const struct jp_expr *e)
{
	if (e->kind == EX_LIT)
		return fail(p, e->off, "a literal is not a test expression");
	if (e->kind == EX_FUNC && e->fn->ret == T_VALUE)
		return fail(p, e->off,
			    "%s() yields a value, not a logical result",
			    e->fn->name);
	return 0;
}

/* A comparable: a literal, a singular query or a value function. */
static int check_comparable(struct parser *p, const struct jp_expr *e)
{
	if (e->kind == EX_QUERY && !e->q.singular)
		return fail(p, e->off,
			    "a non-singular query is not comparable");
	if (e->kind == EX_FUNC && e->fn->ret != T_VALUE)
		return fail(p, e->off,
			    "%s() yields a logical result, which is not "
			    "comparable",
			    e->fn->name);
	return 0;
}

static int parse_cmp_op(struct parser *p, enum cmp_op *op)
{
	int c = peek(p), d = peek_at(p, 1);
	if (c == '=' && d == '=')
		*op = OP_EQ;
	else if (c == '!' && d == '=')
		*op = OP_NE;
	else if (c == '<' && d == '=')
		*op = OP_LE;
	else if (c == '>' && d == '=')
		*op = OP_GE;
	else if (c == '<')
		*op = OP_LT;
	else if (c == '>')
		*op = OP_GT;
	else
		return 0;
	p->pos += (*op == OP_LT || *op == OP_GT) ? 1 : 2;
	return 1;
}

/* paren-expr after its optional '!': "(" S logical-expr S ")" */
static struct jp_expr *parse_paren(struct parser *p)
{
	p->pos++;
	skip_s(p);
	struct jp_expr *e = parse_or(p);
	if (!e)
		return NULL;
	skip_s(p);
	if (peek(p) != ')') {
		unexpected(p, "')'");
		expr_free(e);
		return NULL;
	}
	p->pos++;
	return e;
}

/* basic-expr = paren-expr / comparison-expr / test-expr */
static struct jp_expr *parse_basic(struct parser *p)
{
	struct jp_expr *e = NULL, *r;
	size_t start = p->pos, save;
	enum cmp_op op;
	if (enter(p) < 0)
		return NULL;
	if (peek(p) == '!') {
		p->pos++;
		skip_s(p);
		if (peek(p) == '(') {
			r = parse_paren(p);
		} else {
			r = parse_primary(p);
			if (r && check_test(p, r) < 0) {
				expr_free(r);
				r = NULL;
			}
		}
		if (r) {
			e = expr_new(EX_NOT, start);
			expr_add(e, r);
		}
	} else if (peek(p) == '(') {
		e = parse_paren(p);
	} else {
		e = parse_primary(p);
		if (!e)
			goto out;
		save = p->pos;
		skip_s(p);
		if (!parse_cmp_op(p, &op)) {
			if (peek(p) == '=') {
				fail(p, p->pos,
				     "'=' is not an operator: use '=='");
				goto fail;
			}
			p->pos = save;
			if (check_test(p, e) < 0)
				goto fail;
			goto out;
		}
		if (check_comparable(p, e) < 0)
			goto fail;
		skip_s(p);
		r = parse_primary(p);
		if (!r || check_comparable(p, r) < 0) {
			expr_free(r);
			goto fail;
		}
		struct jp_expr *cmp = expr_new(EX_CMP, start);
		cmp->op = op;
		expr_add(cmp, e);
		expr_add(cmp, r);
		e = cmp;
	}
	goto out;
fail:
	expr_free(e);
	e = NULL;
out:
	p->depth--;
	return e;
}

/* logical-and-expr and logical-or-expr: n-ary, so long chains do not
 * nest. */
static struct jp_expr *parse_chain(struct parser *p, int is_or)
{
	const char *tok = is_or ? "||" : "&&";
	size_t start = p->pos, save;
	struct jp_expr *e, *first, *k;
	first = is_or ? parse_chain(p, 0) : parse_basic(p);
	if (!first)
		return NULL;
	save = p->pos;
	skip_s(p);
	if (peek(p) != tok[0] || peek_at(p, 1) != tok[1]) {
		p->pos = save;
		return first;
	}
	e = expr_new(is_or ? EX_OR : EX_AND, start);
	expr_add(e, first);
	while (peek(p) == tok[0] && peek_at(p, 1) == tok[1]) {
		p->pos += 2;
		skip_s(p);
		k = is_or ? parse_chain(p, 0) : parse_basic(p);
		if (!k) {
			expr_free(e);
			return NULL;
		}
		expr_add(e, k);
		save = p->pos;
		skip_s(p);
	}
	p->pos = save;
	return e;
}

static struct jp_expr *parse_or(struct parser *p)
{
	return parse_chain(p, 1);
}

/* The expression as a message shows it: control characters escaped, and
 * a long one cut to a window around the error. */
static void show_expr(struct strbuf *out, const char *s, size_t len, size_t off)
{
	size_t a = 0, b = len;
	if (len > JP_SHOW_MAX) {
		a = off > JP_SHOW_MAX / 2 ? off - JP_SHOW_MAX / 2 : 0;
		b = a + JP_SHOW_MAX;
		if (b > len) {
			b = len;
			a = len - JP_SHOW_MAX;
		}
		while (a > 0 && ((unsigned char)s[a] & 0xc0) == 0x80)
			a--;
		while (b < len && ((unsigned char)s[b] & 0xc0) == 0x80)
			b++;
	}
	if (a)
		strbuf_addstr(out, "...");
	for (size_t i = a; i < b; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			strbuf_addf(out, "\\x%02x", c);
		else
			strbuf_addch(out, c);
	}
	if (b < len)
		strbuf_addstr(out, "...");
}

struct jsonpath *jsonpath_compile(const char *expr, struct itest_err *err)
{
	struct parser p = {0};
	struct jsonpath *jp = xcalloc(1, sizeof(*jp));
	p.s = expr;
	p.len = strlen(expr);
	if (peek(&p) != '$')
		unexpected(&p, "'$'");
	else
		p.pos++;
	jp->q.absolute = 1;
	if (!p.failed && parse_segments(&p, &jp->q) == 0 && p.pos < p.len)
		unexpected(&p, "'.' or '['");
	if (p.failed) {
		struct strbuf shown = STRBUF_INIT;
		show_expr(&shown, p.s, p.len, p.err_off);
		err_set(err, NULL, "invalid JSONPath '%s': %s at offset %zu",
			shown.buf, p.msg, p.err_off);
		strbuf_release(&shown);
		jsonpath_free(jp);
		return NULL;
	}
	return jp;
}

int jsonpath_is_singular(const struct jsonpath *p)
{
	return p->q.singular;
}

/* ---- evaluation ---- */

static void nodes_push(struct jp_nodes *nl, const struct ivalue *v)
{
	XGROW(nl->v, nl->alloc, nl->n + 1);
	nl->v[nl->n++] = v;
}

void jp_nodes_release(struct jp_nodes *nl)
{
	free(nl->v);
	memset(nl, 0, sizeof(*nl));
}

/*
 * A value of ValueType: a node's value, a literal, a computed number, or
 * Nothing (v == NULL).  `num` holds a computed number that v points to,
 * so the struct must not be copied.
 */
struct jp_val {
	const struct ivalue *v;
	struct ivalue num;
	char text[24];
};

static void val_count(struct jp_val *out, size_t n)
{
	memset(&out->num, 0, sizeof(out->num));
	snprintf(out->text, sizeof(out->text), "%zu", n);
	out->num.type = IV_NUM;
	out->num.u.num.text = out->text;
	out->num.u.num.i = (int64_t)n;
	out->num.u.num.d = (double)n;
	out->num.flags |= IVF_INT;
	out->v = &out->num;
}

static int eval_logical(const struct jp_expr *e, const struct ivalue *root,
			const struct ivalue *cur);
static void eval_query(const struct jp_query *q, const struct ivalue *root,
		       const struct ivalue *cur, struct jp_nodes *out);

static int64_t norm_index(int64_t i, int64_t len)
{
	return i >= 0 ? i : len + i;
}

static int64_t clamp(int64_t v, int64_t lo, int64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static void select_slice(const struct jp_sel *sel, const struct ivalue *v,
			 struct jp_nodes *out)
{
	int64_t len = (int64_t)v->u.arr.n, step = sel->step, lo, hi, i;
	if (!step)
		return;
	if (step > 0) {
		int64_t start = sel->has_start ? sel->start : 0;
		int64_t end = sel->has_end ? sel->end : len;
		lo = clamp(norm_index(start, len), 0, len);
		hi = clamp(norm_index(end, len), 0, len);
		for (i = lo; i < hi; i += step)
			nodes_push(out, v->u.arr.v[i]);
	} else {
		int64_t start = sel->has_start ? sel->start : len - 1;
		int64_t end = sel->has_end ? sel->end : -len - 1;
		hi = clamp(norm_index(start, len), -1, len - 1);
		lo = clamp(norm_index(end, len), -1, len - 1);
		for (i = hi; lo < i; i += step)
			nodes_push(out, v->u.arr.v[i]);
	}
}

static void apply_selector(const struct jp_sel *sel, const struct ivalue *v,
			   const struct ivalue *root, struct jp_nodes *out)
{
	switch (sel->kind) {
	case SEL_NAME: {
		const struct ivalue *m = iv_getn(v, sel->name, sel->nlen);
		if (m)
			nodes_push(out, m);
		break;
	}
	case SEL_WILD:
		if (v->type == IV_ARR)
			for (size_t i = 0; i < v->u.arr.n; i++)
				nodes_push(out, v->u.arr.v[i]);
		else if (v->type == IV_OBJ)
			for (size_t i = 0; i < v->u.obj.n; i++)
				nodes_push(out, v->u.obj.m[i].val);
		break;
	case SEL_INDEX:
		if (v->type == IV_ARR) {
			int64_t i = norm_index(sel->index, (int64_t)v->u.arr.n);
			if (i >= 0 && i < (int64_t)v->u.arr.n)
				nodes_push(out, v->u.arr.v[i]);
		}
		break;
	case SEL_SLICE:
		if (v->type == IV_ARR)
			select_slice(sel, v, out);
		break;
	case SEL_FILTER:
		if (v->type == IV_ARR) {
			for (size_t i = 0; i < v->u.arr.n; i++)
				if (eval_logical(sel->filter, root,
						 v->u.arr.v[i]))
					nodes_push(out, v->u.arr.v[i]);
		} else if (v->type == IV_OBJ) {
			for (size_t i = 0; i < v->u.obj.n; i++)
				if (eval_logical(sel->filter, root,
						 v->u.obj.m[i].val))
					nodes_push(out, v->u.obj.m[i].val);
		}
		break;
	}
}

static void apply_segment(const struct jp_seg *seg, const struct ivalue *v,
			  const struct ivalue *root, struct jp_nodes *out)
{
	struct jp_nodes stack = {0};
	if (!seg->desc) {
		for (size_t i = 0; i < seg->n; i++)
			apply_selector(&seg->sel[i], v, root, out);
		return;
	}
	/* the node, then its descendants, in document order (pre-order) */
	nodes_push(&stack, v);
	while (stack.n) {
		const struct ivalue *d = stack.v[--stack.n];
		for (size_t i = 0; i < seg->n; i++)
			apply_selector(&seg->sel[i], d, root, out);
		if (d->type == IV_ARR)
			for (size_t i = d->u.arr.n; i-- > 0;)
				nodes_push(&stack, d->u.arr.v[i]);
		else if (d->type == IV_OBJ)
			for (size_t i = d->u.obj.n; i-- > 0;)
				nodes_push(&stack, d->u.obj.m[i].val);
	}
	jp_nodes_release(&stack);
}

static void eval_query(const struct jp_query *q, const struct ivalue *root,
		       const struct ivalue *cur, struct jp_nodes *out)
{
	struct jp_nodes a = {0}, b = {0}, t;
	nodes_push(&a, q->absolute ? root : cur);
	for (size_t i = 0; i < q->n && a.n; i++) {
		b.n = 0;
		for (size_t j = 0; j < a.n; j++)
			apply_segment(&q->seg[i], a.v[j], root, &b);
		t = a, a = b, b = t;
	}
	for (size_t j = 0; j < a.n; j++)
		nodes_push(out, a.v[j]);
	jp_nodes_release(&a);
	jp_nodes_release(&b);
}

/* The node of a singular query, or NULL for Nothing. */
static const struct ivalue *eval_singular(const struct jp_query *q,
					  const struct ivalue *root,
					  const struct ivalue *cur)
{
	const struct ivalue *v = q->absolute ? root : cur;
	for (size_t i = 0; i < q->n && v; i++) {
		const struct jp_sel *sel = &q->seg[i].sel[0];
		if (sel->kind == SEL_NAME) {
			v = iv_getn(v, sel->name, sel->nlen);
		} else if (v->type != IV_ARR) {
			v = NULL;
		} else {
			int64_t k = norm_index(sel->index, (int64_t)v->u.arr.n);
			v = k >= 0 && k < (int64_t)v->u.arr.n ? v->u.arr.v[k]
							      : NULL;
		}
	}
	return v;
}

static size_t utf8_count(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			n++;
	return n;
}

static void eval_value(const struct jp_expr *e, const struct ivalue *root,
		       const struct ivalue *cur, struct jp_val *out)
{
	struct jp_nodes nl = {0};
	struct jp_val arg;
	out->v = NULL;
	switch (e->kind) {
	case EX_LIT:
		out->v = e->lit;
		return;
	case EX_QUERY:
		out->v = eval_singular(&e->q, root, cur);
		return;
	case EX_FUNC:
		break;
	default:
		return; /* not a value: excluded at compile time */
	}
	switch (e->fn->id) {
	case FN_LENGTH:
		eval_value(e->kid[0], root, cur, &arg);
		if (!arg.v)
			return;
		if (arg.v->type == IV_STR)
			val_count(out,
				  utf8_count(arg.v->u.str.s, arg.v->u.str.len));
		else if (arg.v->type == IV_ARR)
			val_count(out, arg.v->u.arr.n);
		else if (arg.v->type == IV_OBJ)
			val_count(out, arg.v->u.obj.n);
		return;
	case FN_COUNT:
		eval_query(&e->kid[0]->q, root, cur, &nl);
		val_count(out, nl.n);
		break;
	case FN_VALUE:
		eval_query(&e->kid[0]->q, root, cur, &nl);
		if (nl.n == 1)
			out->v = nl.v[0];
		break;
	default:
		break;
	}
	jp_nodes_release(&nl);
}

static int value_eq(const struct ivalue *a, const struct ivalue *b)
{
	if (!a || !b)
		return !a && !b;
	return iv_equal(a, b);
}

static int value_lt(const struct ivalue *a, const struct ivalue *b)
{
	if (!a || !b || a->type != b->type)
		return 0;
	if (a->type == IV_NUM)
		return iv_num_cmp(a, b) == -1;
	if (a->type == IV_STR) {
		size_t n = a->u.str.len < b->u.str.len ? a->u.str.len
						       : b->u.str.len;
		int c = memcmp(a->u.str.s, b->u.str.s, n);
		return c < 0 || (c == 0 && a->u.str.len < b->u.str.len);
	}
	return 0;
}

static int compare(enum cmp_op op, const struct ivalue *a,
		   const struct ivalue *b)
{
	switch (op) {
	case OP_EQ:
		return value_eq(a, b);
	case OP_NE:
		return !value_eq(a, b);
	case OP_LT:
		return value_lt(a, b);
	case OP_LE:
		return value_lt(a, b) || value_eq(a, b);
	case OP_GT:
		return value_lt(b, a);
	case OP_GE:
		return value_lt(b, a) || value_eq(a, b);
	}
	return 0;
}

static int eval_regex(const struct jp_expr *e, const struct ivalue *root,
		      const struct ivalue *cur)
{
	struct jp_val s, r;
	pcre2_code *re;
	int ok;
	eval_value(e->kid[0], root, cur, &s);
	if (!s.v || s.v->type != IV_STR)
		return 0;
	if (e->re_state == RE_READY)
		return regex_test(e->re, s.v);
	if (e->re_state == RE_INVALID)
		return 0;
	eval_value(e->kid[1], root, cur, &r);
	if (!r.v || r.v->type != IV_STR)
		return 0;
	re = iregexp_compile(r.v->u.str.s, r.v->u.str.len,
			     e->fn->id == FN_MATCH);
	if (!re)
		return 0;
	ok = regex_test(re, s.v);
	pcre2_code_free(re);
	return ok;
}

static int eval_logical(const struct jp_expr *e, const struct ivalue *root,
			const struct ivalue *cur)
{
	struct jp_nodes nl = {0};
	struct jp_val a, b;
	int r;
	switch (e->kind) {
	case EX_OR:
		for (size_t i = 0; i < e->n; i++)
			if (eval_logical(e->kid[i], root, cur))
				return 1;
		return 0;
	case EX_AND:
		for (size_t i = 0; i < e->n; i++)
			if (!eval_logical(e->kid[i], root, cur))
				return 0;
		return 1;
	case EX_NOT:
		return !eval_logical(e->kid[0], root, cur);
	case EX_CMP:
		eval_value(e->kid[0], root, cur, &a);
		eval_value(e->kid[1], root, cur, &b);
		return compare(e->op, a.v, b.v);
	case EX_QUERY:
		if (e->q.singular)
			return eval_singular(&e->q, root, cur) != NULL;
		eval_query(&e->q, root, cur, &nl);
		r = nl.n > 0;
		jp_nodes_release(&nl);
		return r;
	case EX_FUNC:
		if (e->fn->id == FN_MATCH || e->fn->id == FN_SEARCH)
			return eval_regex(e, root, cur);
		return 0; /* value functions are not tests */
	case EX_LIT:
		return 0;
	}
	return 0;
}

void jsonpath_eval(const struct jsonpath *p, const struct ivalue *root,
		   struct jp_nodes *out)
{
	if (p->q.singular) {
		/* at most one node: no node lists to build */
		const struct ivalue *v = eval_singular(&p->q, root, root);
		if (v)
			nodes_push(out, v);
		return;
	}
	eval_query(&p->q, root, root, out);
}
