/*
 * The value tree of value.h: construction, lookup, equality, and JSON
 * parsing and emission that keep numbers exact.
 */
#include <errno.h>
#include <math.h>
#include <strings.h>

#include "arena.h"
#include "value.h"

#define JSON_MAX_DEPTH 512

struct ivalue *iv_new(enum iv_type t)
{
	struct ivalue *v = xcalloc(1, sizeof(*v));
	v->type = t;
	return v;
}

struct ivalue *iv_null(void)
{
	return iv_new(IV_NULL);
}

struct ivalue *iv_bool(int b)
{
	struct ivalue *v = iv_new(IV_BOOL);
	v->u.b = !!b;
	return v;
}

/* The decimal text of `i`, as "%lld" writes it (no printf: iv_int is
 * hot, a few per step result). */
static char *int_text(int64_t i)
{
	char buf[24];
	char *p = buf + sizeof(buf);
	uint64_t u = i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i;
	*--p = '\0';
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (i < 0)
		*--p = '-';
	return xstrndup(p, (size_t)(buf + sizeof(buf) - 1 - p));
}

struct ivalue *iv_int(int64_t i)
{
	struct ivalue *v = iv_new(IV_NUM);
	v->u.num.text = int_text(i);
	v->u.num.i = i;
	v->u.num.d = (double)i;
	v->flags |= IVF_INT;
	return v;
}

struct ivalue *iv_double(double d)
{
	if (d == floor(d) && fabs(d) < 9007199254740992.0)
		return iv_int((int64_t)d);
	struct ivalue *v = iv_new(IV_NUM);
	if (isnan(d))
		v->u.num.text = xstrdup("NaN");
	else if (isinf(d))
		v->u.num.text = xstrdup(d > 0 ? "Infinity" : "-Infinity");
	else
		v->u.num.text = xasprintf("%.17g", d);
	/* prefer the shortest text that reads back the same */
	for (int prec = 1; prec <= 17 && isfinite(d); prec++) {
		char buf[40];
		snprintf(buf, sizeof(buf), "%.*g", prec, d);
		if (strtod(buf, NULL) == d) {
			free(v->u.num.text);
			v->u.num.text = xstrdup(buf);
			break;
		}
	}
	v->u.num.d = d;
	return v;
}

/* Parses an integer written in `base` without sign; 0 on overflow. */
static int parse_uint(const char *s, size_t len, int base, uint64_t *out)
{
	uint64_t v = 0;
	if (!len)
		return 0;
	for (size_t i = 0; i < len; i++) {
		int c = s[i], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return 0;
		if (d >= base)
			return 0;
		if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
			return 0;
		v = v * (uint64_t)base + (uint64_t)d;
	}
	*out = v;
	return 1;
}

/* Is s[0..len) a decimal number as JSON (or YAML core) writes it? */
static int is_decimal(const char *s, size_t len, int *is_integer)
{
	size_t i = 0;
	int digits = 0, frac = 0;
	if (i < len && (s[i] == '-' || s[i] == '+'))
		i++;
	while (i < len && s[i] >= '0' && s[i] <= '9')
		i++, digits++;
	if (i < len && s[i] == '.') {
		i++;
		frac = 1;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++, digits++;
	}
	if (!digits)
		return 0;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		frac = 1;
		i++;
		if (i < len && (s[i] == '-' || s[i] == '+'))
			i++;
		int ed = 0;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++, ed++;
		if (!ed)
			return 0;
	}
	*is_integer = !frac;
	return i == len;
}

struct ivalue *iv_num_text(const char *text, size_t len)
{
	struct ivalue *v;
	int isint = 0;
	if (len >= 3 && text[0] == '0' && (text[1] == 'x' || text[1] == 'o')) {
		uint64_t u;
		if (!parse_uint(text + 2, len - 2, text[1] == 'x' ? 16 : 8,
				&u) ||
		    u > INT64_MAX)
			return NULL;
		return iv_int((int64_t)u);
	}
	if (len == 4 && (!memcmp(text, ".inf", 4) || !memcmp(text, ".Inf", 4) ||
			 !memcmp(text, ".INF", 4)))
		return iv_double(INFINITY);
	if (len == 5 && text[0] == '+' &&
	    (!memcmp(text + 1, ".inf", 4) || !memcmp(text + 1, ".Inf", 4) ||
	     !memcmp(text + 1, ".INF", 4)))
		return iv_double(INFINITY);
	if (len == 5 && text[0] == '-' &&
	    (!memcmp(text + 1, ".inf", 4) || !memcmp(text + 1, ".Inf", 4) ||
	     !memcmp(text + 1, ".INF", 4)))
		return iv_double(-INFINITY);
	if (len == 4 && (!memcmp(text, ".nan", 4) || !memcmp(text, ".NaN", 4) ||
			 !memcmp(text, ".NAN", 4)))
		return iv_double(NAN);
	if (!is_decimal(text, len, &isint))
		return NULL;
	v = iv_new(IV_NUM);
	const char *t = text;
	size_t tl = len;
	if (t[0] == '+')
		t++, tl--;
	v->u.num.text = xstrndup(t, tl);
	v->u.num.d = strtod(v->u.num.text, NULL);
	if (isint) {
		uint64_t u;
		int neg = t[0] == '-';
		if (parse_uint(t + neg, tl - (size_t)neg, 10, &u) &&
		    u <= (uint64_t)INT64_MAX + (uint64_t)neg) {
			v->flags |= IVF_INT;
			v->u.num.i = neg ? (int64_t)(0 - u) : (int64_t)u;
		}
	} else if (v->u.num.d == floor(v->u.num.d) &&
		   fabs(v->u.num.d) < 9007199254740992.0) {
		/* 1.0 is an integer in value, though written as a float */
		v->u.num.i = (int64_t)v->u.num.d;
		v->flags |= IVF_INT;
	}
	return v;
}

struct ivalue *iv_strn(const char *s, size_t len)
{
	struct ivalue *v = iv_new(IV_STR);
	v->u.str.s = xstrndup(s, len);
	v->u.str.len = len;
	return v;
}

struct ivalue *iv_str(const char *s)
{
	return iv_strn(s, strlen(s));
}

struct ivalue *iv_str_own(char *s, size_t len)
{
	struct ivalue *v = iv_new(IV_STR);
	v->u.str.s = s;
	v->u.str.len = len;
	return v;
}

struct ivalue *iv_arr(void)
{
	return iv_new(IV_ARR);
}

struct ivalue *iv_obj(void)
{
	return iv_new(IV_OBJ);
}

/* An arena document: the arena and the root node, so that iv_free() of
 * the root finds the arena. */
struct iv_doc {
	struct arena arena;
	struct ivalue root;
};

void iv_free(struct ivalue *v)
{
	if (!v)
		return;
	int own = !(v->flags & IVF_ARENA); /* else the arena owns the blocks */
	switch (v->type) {
	case IV_NUM:
		if (own)
			free(v->u.num.text);
		break;
	case IV_STR:
		if (own)
			free(v->u.str.s);
		break;
	case IV_ARR:
		for (size_t i = 0; i < v->u.arr.n; i++)
			iv_free(v->u.arr.v[i]);
		if (own)
			free(v->u.arr.v);
		break;
	case IV_OBJ:
		for (size_t i = 0; i < v->u.obj.n; i++) {
			if (own)
				free(v->u.obj.m[i].key);
			iv_free(v->u.obj.m[i].val);
		}
		if (own)
			free(v->u.obj.m);
		break;
	default:
		break;
	}
	if (v->flags & IVF_ARENA_ROOT) {
		struct iv_doc *d =
			(struct iv_doc *)(void *)((char *)v -
						  offsetof(struct iv_doc,
							   root));
		arena_release(&d->arena);
		free(d);
	} else if (own) {
		free(v);
	}
}

struct ivalue *iv_to_arena(struct arena *a, struct ivalue *v)
{
	struct ivalue *n = arena_alloc(a, sizeof(*n));
	*n = *v;
	n->flags |= IVF_ARENA;
	switch (v->type) {
	case IV_NUM:
		n->u.num.text = (char *)arena_intern(a, v->u.num.text,
						     strlen(v->u.num.text));
		free(v->u.num.text);
		break;
	case IV_STR:
		n->u.str.s = (char *)arena_intern(a, v->u.str.s, v->u.str.len);
		free(v->u.str.s);
		break;
	case IV_ARR:
		n->u.arr.v = NULL;
		n->u.arr.alloc = v->u.arr.n;
		if (v->u.arr.n) {
			n->u.arr.v = arena_alloc(
				a, v->u.arr.n * sizeof(*n->u.arr.v));
			memcpy(n->u.arr.v, v->u.arr.v,
			       v->u.arr.n * sizeof(*n->u.arr.v));
		}
		free(v->u.arr.v);
		break;
	case IV_OBJ:
		n->u.obj.m = NULL;
		n->u.obj.alloc = v->u.obj.n;
		if (v->u.obj.n)
			n->u.obj.m = arena_alloc(
				a, v->u.obj.n * sizeof(*n->u.obj.m));
		for (size_t i = 0; i < v->u.obj.n; i++) {
			struct imember *m = &v->u.obj.m[i];
			n->u.obj.m[i] = *m;
			n->u.obj.m[i].key =
				(char *)arena_intern(a, m->key, m->klen);
			free(m->key);
		}
		free(v->u.obj.m);
		break;
	default:
		break;
	}
	free(v);
	return n;
}

struct ivalue *iv_arena_doc(struct arena *a, struct ivalue *root)
{
	struct iv_doc *d = xmalloc(sizeof(*d));
	d->arena = *a;
	*a = (struct arena)ARENA_INIT;
	if (!(root->flags & IVF_ARENA))
		root = iv_to_arena(&d->arena, root);
	d->root = *root; /* the arena copy is abandoned */
	arena_intern_end(&d->arena);
	d->root.flags |= IVF_ARENA_ROOT;
	return &d->root;
}

struct ivalue *iv_clone(const struct ivalue *v)
{
	if (!v)
		return NULL;
	struct ivalue *c = iv_new(v->type);
	c->flags = v->flags & IVF_INHERITED;
	c->loc = v->loc;
	switch (v->type) {
	case IV_BOOL:
		c->u.b = v->u.b;
		break;
	case IV_NUM:
		c->u.num = v->u.num;
		c->u.num.text = xstrdup(v->u.num.text);
		break;
	case IV_STR:
		c->u.str.s = xstrndup(v->u.str.s, v->u.str.len);
		c->u.str.len = v->u.str.len;
		break;
	case IV_ARR:
		for (size_t i = 0; i < v->u.arr.n; i++)
			iv_push(c, iv_clone(v->u.arr.v[i]));
		break;
	case IV_OBJ:
		for (size_t i = 0; i < v->u.obj.n; i++) {
			const struct imember *m = &v->u.obj.m[i];
			struct imember *cm =
				iv_append(c, m->key, m->klen, iv_clone(m->val));
			cm->kloc = m->kloc;
		}
		break;
	default:
		break;
	}
	return c;
}

/* Arena containers do not grow (value.h). */
static void check_growable(const struct ivalue *v)
{
	if (v->flags & IVF_ARENA) {
		fputs("itest: internal error: growing an arena container\n",
		      stderr);
		abort();
	}
}

void iv_push(struct ivalue *arr, struct ivalue *item)
{
	check_growable(arr);
	XGROW(arr->u.arr.v, arr->u.arr.alloc, arr->u.arr.n + 1);
	arr->u.arr.v[arr->u.arr.n++] = item;
}

struct imember *iv_append(struct ivalue *obj, const char *key, size_t klen,
			  struct ivalue *val)
{
	check_growable(obj);
	XGROW(obj->u.obj.m, obj->u.obj.alloc, obj->u.obj.n + 1);
	struct imember *m = &obj->u.obj.m[obj->u.obj.n++];
	m->key = xstrndup(key, klen);
	m->klen = klen;
	memset(&m->kloc, 0, sizeof(m->kloc));
	m->val = val;
	return m;
}

static struct imember *find_member(const struct ivalue *obj, const char *key,
				   size_t klen)
{
	if (!obj || obj->type != IV_OBJ)
		return NULL;
	for (size_t i = 0; i < obj->u.obj.n; i++) {
		struct imember *m = &obj->u.obj.m[i];
		if (m->klen == klen && !memcmp(m->key, key, klen))
			return m;
	}
	return NULL;
}

void iv_setn(struct ivalue *obj, const char *key, size_t klen,
	     struct ivalue *val)
{
	struct imember *m = find_member(obj, key, klen);
	if (m) {
		iv_free(m->val);
		m->val = val;
		return;
	}
	iv_append(obj, key, klen, val);
}

void iv_set(struct ivalue *obj, const char *key, struct ivalue *val)
{
	iv_setn(obj, key, strlen(key), val);
}

int iv_del(struct ivalue *obj, const char *key)
{
	struct imember *m = find_member(obj, key, strlen(key));
	if (!m)
		return -1;
	if (!(obj->flags & IVF_ARENA))
		free(m->key);
	iv_free(m->val);
	size_t i = (size_t)(m - obj->u.obj.m);
	memmove(m, m + 1, (obj->u.obj.n - i - 1) * sizeof(*m));
	obj->u.obj.n--;
	return 0;
}

struct ivalue *iv_getn(const struct ivalue *obj, const char *key, size_t klen)
{
	struct imember *m = find_member(obj, key, klen);
	return m ? m->val : NULL;
}

struct ivalue *iv_get(const struct ivalue *obj, const char *key)
{
	return iv_getn(obj, key, strlen(key));
}

struct imember *iv_member(const struct ivalue *obj, const char *key)
{
	return find_member(obj, key, strlen(key));
}

struct ivalue *iv_get_nocase(const struct ivalue *obj, const char *key)
{
	if (!obj || obj->type != IV_OBJ)
		return NULL;
	for (size_t i = 0; i < obj->u.obj.n; i++)
		if (!strcasecmp(obj->u.obj.m[i].key, key))
			return obj->u.obj.m[i].val;
	return NULL;
}

const char *iv_strval(const struct ivalue *v)
{
	return v && v->type == IV_STR ? v->u.str.s : NULL;
}

int iv_is(const struct ivalue *v, enum iv_type t)
{
	return v && v->type == t;
}

const char *iv_type_name(enum iv_type t)
{
	static const char *const names[] = {"null",   "boolean", "number",
					    "string", "array",	 "object"};
	return names[t];
}

const char *iv_kind(const struct ivalue *v)
{
	if (v->type == IV_NUM && (v->flags & IVF_INT))
		return "integer";
	return iv_type_name(v->type);
}

/* Compares the exact integer i with d (not NaN) without rounding i. */
static int cmp_int_double(int64_t i, double d)
{
	if (d >= 9223372036854775808.0)
		return -1;
	if (d < -9223372036854775808.0)
		return 1;
	double t = trunc(d);
	int64_t ti = (int64_t)t;
	if (i != ti)
		return i < ti ? -1 : 1;
	return d > t ? -1 : d < t;
}

int iv_num_cmp(const struct ivalue *a, const struct ivalue *b)
{
	if ((a->flags & IVF_INT) && (b->flags & IVF_INT))
		return a->u.num.i < b->u.num.i ? -1 : a->u.num.i > b->u.num.i;
	double x = a->u.num.d, y = b->u.num.d;
	if (isnan(x) || isnan(y))
		return 2;
	if (a->flags & IVF_INT)
		return cmp_int_double(a->u.num.i, y);
	if (b->flags & IVF_INT)
		return -cmp_int_double(b->u.num.i, x);
	return x < y ? -1 : x > y;
}

int iv_equal(const struct ivalue *a, const struct ivalue *b)
{
	if (!a || !b)
		return a == b;
	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case IV_NULL:
		return 1;
	case IV_BOOL:
		return a->u.b == b->u.b;
	case IV_NUM:
		return iv_num_cmp(a, b) == 0;
	case IV_STR:
		return a->u.str.len == b->u.str.len &&
		       !memcmp(a->u.str.s, b->u.str.s, a->u.str.len);
	case IV_ARR:
		if (a->u.arr.n != b->u.arr.n)
			return 0;
		for (size_t i = 0; i < a->u.arr.n; i++)
			if (!iv_equal(a->u.arr.v[i], b->u.arr.v[i]))
				return 0;
		return 1;
	case IV_OBJ:
		if (a->u.obj.n != b->u.obj.n)
			return 0;
		for (size_t i = 0; i < a->u.obj.n; i++) {
			const struct imember *m = &a->u.obj.m[i];
			if (!iv_equal(m->val, iv_getn(b, m->key, m->klen)))
				return 0;
		}
		return 1;
	}
	return 0;
}

/* ---- JSON parsing ---- */

struct jp {
	const char *s, *end, *p;
	const struct itest_src *src;
	struct itest_err *err;
	int depth;
};

static int jp_error(struct jp *jp, const char *what)
{
	int line = 1, col = 1;
	for (const char *q = jp->s; q < jp->p && q < jp->end; q++) {
		if (*q == '\n') {
			line++;
			col = 1;
		} else if (((unsigned char)*q & 0xc0) != 0x80) {
			col++;
		}
	}
	struct itest_loc loc = {jp->src, line, col};
	if (jp->p >= jp->end)
		return err_set(jp->err, &loc,
			       "invalid JSON: %s at end of input", what);
	return err_set(jp->err, &loc, "invalid JSON: %s", what);
}

static void jp_ws(struct jp *jp)
{
	while (jp->p < jp->end && (*jp->p == ' ' || *jp->p == '\t' ||
				   *jp->p == '\n' || *jp->p == '\r'))
		jp->p++;
}

static int hex4(const char *p, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		int c = p[i], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v * 16 + (unsigned)d;
	}
	*out = v;
	return 0;
}

/* Parses a string at jp->p (which is on the opening quote). */
static int jp_string(struct jp *jp, struct strbuf *sb)
{
	jp->p++;
	for (;;) {
		const char *run = jp->p;
		while (jp->p < jp->end && *jp->p != '"' && *jp->p != '\\' &&
		       (unsigned char)*jp->p >= 0x20)
			jp->p++;
		strbuf_add(sb, run, (size_t)(jp->p - run));
		if (jp->p >= jp->end)
			return jp_error(jp, "unterminated string");
		char c = *jp->p;
		if (c == '"') {
			jp->p++;
			return 0;
		}
		if (c != '\\')
			return jp_error(jp, "control character in string");
		jp->p++;
		if (jp->p >= jp->end)
			return jp_error(jp, "unterminated string");
		c = *jp->p++;
		switch (c) {
		case '"':
		case '\\':
		case '/':
			strbuf_addch(sb, c);
			break;
		case 'b':
			strbuf_addch(sb, '\b');
			break;
		case 'f':
			strbuf_addch(sb, '\f');
			break;
		case 'n':
			strbuf_addch(sb, '\n');
			break;
		case 'r':
			strbuf_addch(sb, '\r');
			break;
		case 't':
			strbuf_addch(sb, '\t');
			break;
		case 'u': {
			unsigned cp, lo;
			if (jp->end - jp->p < 4 || hex4(jp->p, &cp))
				return jp_error(jp, "bad \\u escape");
			jp->p += 4;
			if (cp >= 0xd800 && cp < 0xdc00) {
				if (jp->end - jp->p < 6 || jp->p[0] != '\\' ||
				    jp->p[1] != 'u' || hex4(jp->p + 2, &lo) ||
				    lo < 0xdc00 || lo > 0xdfff)
					return jp_error(
						jp, "lone surrogate in string");
				jp->p += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				     (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp < 0xe000) {
				return jp_error(jp, "lone surrogate in string");
			}
			strbuf_add_utf8(sb, cp);
			break;
		}
		default:
			jp->p--;
			return jp_error(jp, "bad escape in string");
		}
	}
}

static struct ivalue *jp_value(struct jp *jp);

/* The length of the JSON number at p (RFC 8259 grammar), 0 if none. */
static size_t json_number_len(const char *p, size_t left)
{
	size_t i = 0;
#define DIGIT(k) ((k) < left && p[k] >= '0' && p[k] <= '9')
	if (i < left && p[i] == '-')
		i++;
	if (!DIGIT(i))
		return 0;
	if (p[i] == '0')
		i++;
	else
		while (DIGIT(i))
			i++;
	if (i < left && p[i] == '.') {
		i++;
		if (!DIGIT(i))
			return 0;
		while (DIGIT(i))
			i++;
	}
	if (i < left && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < left && (p[i] == '+' || p[i] == '-'))
			i++;
		if (!DIGIT(i))
			return 0;
		while (DIGIT(i))
			i++;
	}
#undef DIGIT
	return i;
}

static struct ivalue *jp_container(struct jp *jp, int is_obj)
{
	struct ivalue *v = iv_new(is_obj ? IV_OBJ : IV_ARR);
	char close = is_obj ? '}' : ']';
	if (++jp->depth > JSON_MAX_DEPTH) {
		jp_error(jp, "nesting too deep");
		goto fail;
	}
	jp->p++;
	jp_ws(jp);
	if (jp->p < jp->end && *jp->p == close) {
		jp->p++;
		jp->depth--;
		return v;
	}
	for (;;) {
		jp_ws(jp);
		if (is_obj) {
			struct strbuf key = STRBUF_INIT;
			if (jp->p >= jp->end || *jp->p != '"') {
				jp_error(jp, "expected a string key");
				goto fail;
			}
			if (jp_string(jp, &key) < 0) {
				strbuf_release(&key);
				goto fail;
			}
			jp_ws(jp);
			if (jp->p >= jp->end || *jp->p != ':') {
				strbuf_release(&key);
				jp_error(jp, "expected ':'");
				goto fail;
			}
			jp->p++;
			struct ivalue *item = jp_value(jp);
			if (!item) {
				strbuf_release(&key);
				goto fail;
			}
			iv_setn(v, key.buf, key.len, item);
			strbuf_release(&key);
		} else {
			struct ivalue *item = jp_value(jp);
			if (!item)
				goto fail;
			iv_push(v, item);
		}
		jp_ws(jp);
		if (jp->p < jp->end && *jp->p == ',') {
			jp->p++;
			jp_ws(jp);
			if (jp->p < jp->end && *jp->p == close) {
				jp_error(jp, "trailing ','");
				goto fail;
			}
			continue;
		}
		if (jp->p < jp->end && *jp->p == close) {
			jp->p++;
			jp->depth--;
			return v;
		}
		jp_error(jp, is_obj ? "expected ',' or '}'"
				    : "expected ',' or ']'");
		goto fail;
	}
fail:
	iv_free(v);
	return NULL;
}

static struct ivalue *jp_value(struct jp *jp)
{
	jp_ws(jp);
	if (jp->p >= jp->end) {
		jp_error(jp, "expected a value");
		return NULL;
	}
	const char *p = jp->p;
	size_t left = (size_t)(jp->end - p);
	switch (*p) {
	case '{':
		return jp_container(jp, 1);
	case '[':
		return jp_container(jp, 0);
	case '"': {
		struct strbuf sb = STRBUF_INIT;
		if (jp_string(jp, &sb) < 0) {
			strbuf_release(&sb);
			return NULL;
		}
		size_t len;
		char *s = strbuf_detach(&sb, &len);
		return iv_str_own(s, len);
	}
	case 't':
		if (left >= 4 && !memcmp(p, "true", 4)) {
			jp->p += 4;
			return iv_bool(1);
		}
		break;
	case 'f':
		if (left >= 5 && !memcmp(p, "false", 5)) {
			jp->p += 5;
			return iv_bool(0);
		}
		break;
	case 'n':
		if (left >= 4 && !memcmp(p, "null", 4)) {
			jp->p += 4;
			return iv_null();
		}
		break;
	default:
		if (*p == '-' || (*p >= '0' && *p <= '9')) {
			size_t n = json_number_len(p, left);
			struct ivalue *v = n ? iv_num_text(p, n) : NULL;
			if (!v) {
				jp_error(jp, "bad number");
				return NULL;
			}
			const char *q = p + n;
			jp->p = q;
			return v;
		}
		break;
	}
	jp_error(jp, "unexpected character");
	return NULL;
}

struct ivalue *json_parse(const char *text, size_t len,
			  const struct itest_src *src, struct itest_err *err)
{
	struct jp jp = {text, text + len, text, src, err, 0};
	/* a UTF-8 byte order mark is tolerated */
	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
		jp.p += 3;
	struct ivalue *v = jp_value(&jp);
	if (!v)
		return NULL;
	jp_ws(&jp);
	if (jp.p != jp.end) {
		jp_error(&jp, "trailing characters after the value");
		iv_free(v);
		return NULL;
	}
	return v;
}

/* ---- JSON emission ---- */

/*
 * A number as JSON: its text when that is JSON syntax (so 1e400 and
 * 9007199254740993 stay as written), else the value (YAML's 0x1F, .5 or
 * 5.), and null for the infinities and NaN that JSON cannot write.
 */
static void emit_num(struct strbuf *out, const struct ivalue *v)
{
	const char *t = v->u.num.text;
	size_t tl = strlen(t);
	if (tl && json_number_len(t, tl) == tl) {
		strbuf_add(out, t, tl);
	} else if (v->flags & IVF_INT) {
		strbuf_addf(out, "%lld", (long long)v->u.num.i);
	} else if (!isfinite(v->u.num.d)) {
		strbuf_addstr(out, "null");
	} else {
		struct ivalue *d = iv_double(v->u.num.d);
		strbuf_addstr(out, d->u.num.text);
		iv_free(d);
	}
}

static void emit(struct strbuf *out, const struct ivalue *v, int pretty,
		 int indent)
{
	switch (v->type) {
	case IV_NULL:
		strbuf_addstr(out, "null");
		break;
	case IV_BOOL:
		strbuf_addstr(out, v->u.b ? "true" : "false");
		break;
	case IV_NUM:
		emit_num(out, v);
		break;
	case IV_STR:
		strbuf_addch(out, '"');
		strbuf_add_json_escaped(out, v->u.str.s, v->u.str.len);
		strbuf_addch(out, '"');
		break;
	case IV_ARR:
	case IV_OBJ: {
		int is_obj = v->type == IV_OBJ;
		size_t n = is_obj ? v->u.obj.n : v->u.arr.n;
		strbuf_addch(out, is_obj ? '{' : '[');
		for (size_t i = 0; i < n; i++) {
			if (i)
				strbuf_addch(out, ',');
			if (pretty)
				strbuf_addf(out, "\n%*s", indent + pretty, "");
			if (is_obj) {
				const struct imember *m = &v->u.obj.m[i];
				strbuf_addch(out, '"');
				strbuf_add_json_escaped(out, m->key, m->klen);
				strbuf_addstr(out, pretty ? "\": " : "\":");
				emit(out, m->val, pretty, indent + pretty);
			} else {
				emit(out, v->u.arr.v[i], pretty,
				     indent + pretty);
			}
		}
		if (pretty && n)
			strbuf_addf(out, "\n%*s", indent, "");
		strbuf_addch(out, is_obj ? '}' : ']');
		break;
	}
	}
}

void json_emit(struct strbuf *out, const struct ivalue *v, int pretty)
{
	emit(out, v, pretty, 0);
}

void iv_display(struct strbuf *out, const struct ivalue *v)
{
	if (!v)
		strbuf_addstr(out, "(missing)");
	else if (v->type == IV_STR)
		strbuf_add(out, v->u.str.s, v->u.str.len);
	else
		json_emit(out, v, 0);
}

void iv_to_text(struct strbuf *out, const struct ivalue *v)
{
	if (!v || v->type == IV_NULL)
		return;
	if (v->type == IV_STR)
		strbuf_add(out, v->u.str.s, v->u.str.len);
	else
		json_emit(out, v, 0);
}

int iv_bool_of(const struct ivalue *v, int *out)
{
	if (v->type == IV_BOOL) {
		*out = v->u.b;
		return 0;
	}
	if (v->type == IV_STR && !strcmp(v->u.str.s, "true")) {
		*out = 1;
		return 0;
	}
	if (v->type == IV_STR && !strcmp(v->u.str.s, "false")) {
		*out = 0;
		return 0;
	}
	return -1;
}

char *iv_text_dup(const struct ivalue *v)
{
	struct strbuf sb = STRBUF_INIT;
	iv_to_text(&sb, v);
	return strbuf_detach(&sb, NULL);
}
