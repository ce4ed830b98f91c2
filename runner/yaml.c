/*
 * YAML to value trees: libyaml's event parser drives a small recursive
 * composer that types plain scalars by the YAML 1.2 core schema, keeps the
 * location of every node and key, rejects duplicate keys, and expands
 * anchors, aliases and `<<` merges within a node, byte and depth budget.
 */
#include <errno.h>
#include <math.h>
#include <yaml.h> /* libyaml's: the project's headers are -iquote */

#include "arena.h"
#include "yaml.h"

#define YAML_MAX_DEPTH	256
#define YAML_MAX_BYTES	((size_t)256 << 20) /* string bytes per document */
#define YAML_MAX_FILE	((size_t)64 << 20)
#define YAML_TAG_PREFIX "tag:yaml.org,2002:"

/* ---- a small string-keyed hash table (keys are borrowed) ---- */

struct smap_ent {
	const char *k; /* NULL: free slot */
	size_t klen;
	size_t val;
};

struct smap {
	struct smap_ent *t;
	size_t cap, n;
};

#define SMAP_INIT                                                              \
	{                                                                      \
		NULL, 0, 0                                                     \
	}

static size_t smap_hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return (size_t)h;
}

static struct smap_ent *smap_slot(const struct smap *m, const char *k,
				  size_t klen)
{
	size_t i = smap_hash(k, klen) & (m->cap - 1);
	for (;;) {
		struct smap_ent *e = &m->t[i];
		if (!e->k || (e->klen == klen && !memcmp(e->k, k, klen)))
			return e;
		i = (i + 1) & (m->cap - 1);
	}
}

static struct smap_ent *smap_find(const struct smap *m, const char *k,
				  size_t klen)
{
	if (!m->cap)
		return NULL;
	struct smap_ent *e = smap_slot(m, k, klen);
	return e->k ? e : NULL;
}

/* Sets k to val (k must outlive the map). */
static void smap_put(struct smap *m, const char *k, size_t klen, size_t val)
{
	if ((m->n + 1) * 2 > m->cap) {
		struct smap old = *m;
		m->cap = old.cap ? old.cap * 2 : 16;
		m->t = xcalloc(m->cap, sizeof(*m->t));
		for (size_t i = 0; i < old.cap; i++)
			if (old.t[i].k)
				*smap_slot(m, old.t[i].k, old.t[i].klen) =
					old.t[i];
		free(old.t);
	}
	struct smap_ent *e = smap_slot(m, k, klen);
	if (!e->k) {
		e->k = k;
		e->klen = klen;
		m->n++;
	}
	e->val = val;
}

static void smap_release(struct smap *m)
{
	free(m->t);
	m->t = NULL;
	m->cap = m->n = 0;
}

/* ---- the composer ---- */

struct anchor {
	char *name;
	struct ivalue *node; /* NULL while the node is being read */
};

/* What a subtree costs: nodes, string bytes, height. */
struct cost {
	size_t nodes, bytes;
	int height;
};

/* A map merged by `<<`: borrowed from an anchor or from `dead`. */
struct msrc {
	const struct ivalue *map;
	struct itest_loc loc;
};

struct msrcs {
	struct msrc *v;
	size_t n, alloc;
};

struct yp {
	yaml_parser_t parser;
	yaml_event_t ev;
	int have_ev;
	const char *text;
	size_t len;
	const struct itest_src *src;
	struct itest_err *err;
	struct anchor *anchors;
	size_t nanchors, aalloc;
	struct smap anames;   /* anchor name -> index in anchors */
	struct ivalue **dead; /* parsed but not in the tree (merge sources) */
	size_t ndead, dalloc;
	size_t nodes, bytes;
	int depth;
	struct arena *arena; /* NULL: an ordinary tree */
};

static int parse_node(struct yp *yp, struct ivalue **out);

static struct itest_loc mark_loc(const struct yp *yp, yaml_mark_t m)
{
	struct itest_loc loc = {yp->src, (int)m.line + 1, (int)m.column + 1};
	if (m.line >= INT32_MAX || m.column >= INT32_MAX)
		loc.line = loc.col = 0;
	return loc;
}

/* Line and column of a byte offset (libyaml's reader errors have no
 * mark); columns count characters as libyaml's marks do. */
static struct itest_loc offset_loc(const struct yp *yp, size_t off)
{
	struct itest_loc loc = {yp->src, 1, 1};
	if (off > yp->len)
		off = yp->len;
	for (size_t i = 0; i < off; i++) {
		unsigned char c = (unsigned char)yp->text[i];
		if (c == '\n' || (c == '\r' && (i + 1 >= yp->len ||
						yp->text[i + 1] != '\n'))) {
			if (loc.line < INT32_MAX)
				loc.line++;
			loc.col = 1;
		} else if ((c & 0xc0) != 0x80 && c != '\r' &&
			   loc.col < INT32_MAX) {
			loc.col++;
		}
	}
	return loc;
}

static int libyaml_error(struct yp *yp)
{
	const yaml_parser_t *p = &yp->parser;
	struct itest_loc loc = {yp->src, 0, 0};
	const char *problem = p->problem ? p->problem : "unknown error";
	if (p->error == YAML_MEMORY_ERROR)
		problem = "out of memory";
	if (p->error == YAML_READER_ERROR)
		loc = offset_loc(yp, p->problem_offset);
	else if (p->error == YAML_SCANNER_ERROR ||
		 p->error == YAML_PARSER_ERROR)
		loc = mark_loc(yp, p->problem_mark);
	/* at the end of the input, the place where the unfinished thing
	 * (a quoted scalar, a flow collection) began says more */
	if (p->context && p->problem_mark.index >= yp->len &&
	    p->context_mark.index < yp->len)
		loc = mark_loc(yp, p->context_mark);
	/* libyaml's words for a tab in the indentation are obscure */
	if (p->error == YAML_SCANNER_ERROR && p->problem_mark.index < yp->len &&
	    yp->text[p->problem_mark.index] == '\t' && p->problem &&
	    strstr(p->problem, "cannot start any token"))
		return err_set(yp->err, &loc,
			       "invalid YAML: tab in indentation (YAML "
			       "indents with spaces)");
	return err_set(yp->err, &loc, "invalid YAML: %s%s%s", problem,
		       p->context ? " " : "", p->context ? p->context : "");
}

static int next_event(struct yp *yp)
{
	if (yp->have_ev) {
		yaml_event_delete(&yp->ev);
		yp->have_ev = 0;
	}
	if (!yaml_parser_parse(&yp->parser, &yp->ev))
		return libyaml_error(yp);
	yp->have_ev = 1;
	return 0;
}

/* Counts one node read from the text. */
static int count_node(struct yp *yp, const struct itest_loc *loc, size_t bytes)
{
	yp->nodes++;
	yp->bytes += bytes;
	if (yp->nodes > YAML_MAX_NODES)
		return err_set(yp->err, loc, "document exceeds %d nodes",
			       YAML_MAX_NODES);
	if (yp->bytes > YAML_MAX_BYTES)
		return err_set(yp->err, loc, "document exceeds %zu bytes",
			       YAML_MAX_BYTES);
	return 0;
}

/* Measures v, stopping once the budget is exceeded anyway. */
static void measure(const struct ivalue *v, int level, struct cost *c)
{
	c->nodes++;
	if (level > c->height)
		c->height = level;
	if (v->type == IV_STR)
		c->bytes += v->u.str.len;
	if (c->nodes > YAML_MAX_NODES || c->bytes > YAML_MAX_BYTES)
		return;
	if (v->type == IV_ARR) {
		for (size_t i = 0; i < v->u.arr.n; i++)
			measure(v->u.arr.v[i], level + 1, c);
	} else if (v->type == IV_OBJ) {
		for (size_t i = 0; i < v->u.obj.n; i++) {
			c->bytes += v->u.obj.m[i].klen;
			measure(v->u.obj.m[i].val, level + 1, c);
		}
	}
}

/* Charges a copy of v placed at `depth` (1: the document) to the budget. */
static int charge_copy(struct yp *yp, const struct ivalue *v, int depth,
		       const struct itest_loc *loc)
{
	struct cost c = {0, 0, 0};
	measure(v, 1, &c);
	if (c.nodes > YAML_MAX_NODES - yp->nodes)
		return err_set(yp->err, loc, "alias expansion exceeds %d nodes",
			       YAML_MAX_NODES);
	if (c.bytes > YAML_MAX_BYTES - yp->bytes)
		return err_set(yp->err, loc,
			       "alias expansion exceeds %zu bytes",
			       YAML_MAX_BYTES);
	if (depth - 1 + c.height > YAML_MAX_DEPTH)
		return err_set(yp->err, loc, "nesting too deep");
	yp->nodes += c.nodes;
	yp->bytes += c.bytes;
	return 0;
}

/* Moves the ordinary tree v into the arena, children first. */
static struct ivalue *to_arena(struct arena *a, struct ivalue *v)
{
	if (v->flags & IVF_ARENA)
		return v;
	if (v->type == IV_ARR)
		for (size_t i = 0; i < v->u.arr.n; i++)
			v->u.arr.v[i] = to_arena(a, v->u.arr.v[i]);
	if (v->type == IV_OBJ)
		for (size_t i = 0; i < v->u.obj.n; i++)
			v->u.obj.m[i].val = to_arena(a, v->u.obj.m[i].val);
	return iv_to_arena(a, v);
}

/* A copy of v (an alias, a merged member) in the document's kind of
 * tree. */
static struct ivalue *copy_node(struct yp *yp, const struct ivalue *v)
{
	struct ivalue *c = iv_clone(v);
	return yp->arena ? to_arena(yp->arena, c) : c;
}

static void bury(struct yp *yp, struct ivalue *v)
{
	XGROW(yp->dead, yp->dalloc, yp->ndead + 1);
	yp->dead[yp->ndead++] = v;
}

/* ---- anchors ---- */

static size_t anchor_open(struct yp *yp, const yaml_char_t *name)
{
	XGROW(yp->anchors, yp->aalloc, yp->nanchors + 1);
	struct anchor *a = &yp->anchors[yp->nanchors];
	a->name = xstrdup((const char *)name);
	a->node = NULL;
	smap_put(&yp->anames, a->name, strlen(a->name), yp->nanchors);
	return yp->nanchors++;
}

/* The node an alias names; NULL with err set if there is none. */
static const struct ivalue *anchor_find(struct yp *yp, const yaml_char_t *name,
					const struct itest_loc *loc)
{
	const char *s = (const char *)name;
	struct smap_ent *e = smap_find(&yp->anames, s, strlen(s));
	if (!e) {
		err_set(yp->err, loc, "undefined alias '*%s'", s);
		return NULL;
	}
	if (!yp->anchors[e->val].node) {
		err_set(yp->err, loc,
			"alias '*%s' refers to a node that "
			"contains it",
			s);
		return NULL;
	}
	return yp->anchors[e->val].node;
}

/* ---- scalars ---- */

enum ytag {
	YT_NONE,
	YT_BANG, /* "!": not plain, so a string */
	YT_STR,
	YT_INT,
	YT_FLOAT,
	YT_BOOL,
	YT_NULL,
	YT_MAP,
	YT_SEQ,
	YT_OTHER
};

static enum ytag tag_kind(const yaml_char_t *tag)
{
	static const struct {
		const char *name;
		enum ytag kind;
	} known[] = {
		{"str", YT_STR},   {"int", YT_INT},   {"float", YT_FLOAT},
		{"bool", YT_BOOL}, {"null", YT_NULL}, {"map", YT_MAP},
		{"seq", YT_SEQ},
	};
	const char *t = (const char *)tag;
	size_t plen = strlen(YAML_TAG_PREFIX);
	if (!t)
		return YT_NONE;
	if (!strcmp(t, "!"))
		return YT_BANG;
	if (strncmp(t, YAML_TAG_PREFIX, plen) != 0)
		return YT_OTHER;
	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		if (!strcmp(t + plen, known[i].name))
			return known[i].kind;
	return YT_OTHER;
}

/* An error naming a tag in its short form. */
static int tag_error(struct yp *yp, const struct itest_loc *loc,
		     const char *what, const yaml_char_t *tag)
{
	const char *t = (const char *)tag;
	size_t plen = strlen(YAML_TAG_PREFIX);
	if (!strncmp(t, YAML_TAG_PREFIX, plen))
		return err_set(yp->err, loc, "%s '!!%s'", what, t + plen);
	return err_set(yp->err, loc, "%s '%s'", what, t);
}

static int word_is(const char *s, size_t n, const char *w)
{
	return strlen(w) == n && !memcmp(s, w, n);
}

static int is_null_word(const char *s, size_t n)
{
	return !n || word_is(s, n, "~") || word_is(s, n, "null") ||
	       word_is(s, n, "Null") || word_is(s, n, "NULL");
}

/* 1 true, 0 false, -1 not a boolean. */
static int bool_word(const char *s, size_t n)
{
	if (word_is(s, n, "true") || word_is(s, n, "True") ||
	    word_is(s, n, "TRUE"))
		return 1;
	if (word_is(s, n, "false") || word_is(s, n, "False") ||
	    word_is(s, n, "FALSE"))
		return 0;
	return -1;
}

static size_t span(const char *s, size_t n, const char *set)
{
	size_t i = 0;
	while (i < n && s[i] && strchr(set, s[i]))
		i++;
	return i;
}

#define DIGITS "0123456789"

/* [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+ */
static int is_core_int(const char *s, size_t n)
{
	if (n > 2 && s[0] == '0' && s[1] == 'o')
		return span(s + 2, n - 2, "01234567") == n - 2;
	if (n > 2 && s[0] == '0' && s[1] == 'x')
		return span(s + 2, n - 2, DIGITS "abcdefABCDEF") == n - 2;
	size_t i = n && (s[0] == '-' || s[0] == '+');
	return i < n && span(s + i, n - i, DIGITS) == n - i;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?, [-+]?\.inf, \.nan */
static int is_core_float(const char *s, size_t n)
{
	size_t i = n && (s[0] == '-' || s[0] == '+');
	if (word_is(s + i, n - i, ".inf") || word_is(s + i, n - i, ".Inf") ||
	    word_is(s + i, n - i, ".INF"))
		return 1;
	if (word_is(s, n, ".nan") || word_is(s, n, ".NaN") ||
	    word_is(s, n, ".NAN"))
		return 1;
	size_t d = span(s + i, n - i, DIGITS);
	i += d;
	if (i < n && s[i] == '.') {
		size_t f = span(s + i + 1, n - i - 1, DIGITS);
		if (!d && !f)
			return 0;
		i += 1 + f;
	} else if (!d) {
		return 0;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '-' || s[i] == '+'))
			i++;
		size_t e = span(s + i, n - i, DIGITS);
		if (!e)
			return 0;
		i += e;
	}
	return i == n;
}

/* Rewrites a finite number's text that JSON would not read ("01", ".5",
 * "1.", "1.e3") to the same number in JSON syntax, digit for digit. */
static void num_json_text(struct ivalue *v)
{
	const char *t = v->u.num.text;
	struct strbuf sb = STRBUF_INIT;
	if (!isfinite(v->u.num.d))
		return;
	if (*t == '-')
		strbuf_addch(&sb, *t++);
	while (t[0] == '0' && t[1] >= '0' && t[1] <= '9')
		t++;
	if (*t == '.' || *t == 'e' || *t == 'E')
		strbuf_addch(&sb, '0');
	while (*t >= '0' && *t <= '9')
		strbuf_addch(&sb, *t++);
	if (*t == '.') {
		t++;
		if (*t >= '0' && *t <= '9')
			strbuf_addch(&sb, '.');
		while (*t >= '0' && *t <= '9')
			strbuf_addch(&sb, *t++);
	}
	strbuf_addstr(&sb, t);
	if (strcmp(sb.buf, v->u.num.text) != 0) {
		free(v->u.num.text);
		v->u.num.text = strbuf_detach(&sb, NULL);
	}
	strbuf_release(&sb);
}

static struct ivalue *make_num(struct yp *yp, const char *s, size_t n,
			       const struct itest_loc *loc)
{
	struct ivalue *v = iv_num_text(s, n);
	if (!v) {
		err_set(yp->err, loc, "number '%.*s' is out of range",
			(int)(n > 64 ? 64 : n), s);
		return NULL;
	}
	num_json_text(v);
	return v;
}

/* The value of a scalar event; NULL with err set on error. */
static struct ivalue *make_scalar(struct yp *yp, const yaml_event_t *ev,
				  const struct itest_loc *loc)
{
	const char *s = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;
	const yaml_char_t *tag = ev->data.scalar.tag;
	enum ytag kind = tag_kind(tag);
	int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	int shown = n > 64 ? 64 : (int)n;
	struct ivalue *v = NULL;
	int b;

	if (count_node(yp, loc, n))
		return NULL;
	if (kind == YT_NONE && !plain)
		kind = YT_BANG;
	switch (kind) {
	case YT_NONE:
		if (is_null_word(s, n))
			v = iv_null();
		else if ((b = bool_word(s, n)) >= 0)
			v = iv_bool(b);
		else if (is_core_int(s, n) || is_core_float(s, n))
			v = make_num(yp, s, n, loc);
		else
			v = iv_strn(s, n);
		break;
	case YT_BANG:
	case YT_STR:
		v = iv_strn(s, n);
		v->flags |= IVF_QUOTED;
		break;
	case YT_INT:
		if (!is_core_int(s, n))
			err_set(yp->err, loc, "'%.*s' is not a valid !!int",
				shown, s);
		else
			v = make_num(yp, s, n, loc);
		break;
	case YT_FLOAT:
		if (!is_core_int(s, n) && !is_core_float(s, n))
			err_set(yp->err, loc, "'%.*s' is not a valid !!float",
				shown, s);
		else
			v = make_num(yp, s, n, loc);
		break;
	case YT_BOOL:
		if ((b = bool_word(s, n)) < 0)
			err_set(yp->err, loc, "'%.*s' is not a valid !!bool",
				shown, s);
		else
			v = iv_bool(b);
		break;
	case YT_NULL:
		if (!is_null_word(s, n))
			err_set(yp->err, loc, "'%.*s' is not a valid !!null",
				shown, s);
		else
			v = iv_null();
		break;
	case YT_MAP:
	case YT_SEQ:
		tag_error(yp, loc, "scalar with collection tag", tag);
		break;
	case YT_OTHER:
		tag_error(yp, loc, "unsupported tag", tag);
		break;
	}
	if (v)
		v->loc = *loc;
	return v;
}

/* Checks the tag of a collection whose tag must be `want`. */
static int check_coll_tag(struct yp *yp, const yaml_char_t *tag, enum ytag want,
			  const struct itest_loc *loc)
{
	enum ytag kind = tag_kind(tag);
	if (kind == YT_NONE || kind == YT_BANG || kind == want)
		return 0;
	if (kind == YT_OTHER)
		return tag_error(yp, loc, "unsupported tag", tag);
	return tag_error(yp, loc,
			 want == YT_MAP ? "map with tag" : "list with tag",
			 tag);
}

/* ---- collections ---- */

static int parse_alias(struct yp *yp, const struct itest_loc *loc,
		       struct ivalue **out)
{
	const struct ivalue *a = anchor_find(yp, yp->ev.data.alias.anchor, loc);
	if (!a || charge_copy(yp, a, yp->depth + 1, loc))
		return -1;
	*out = copy_node(yp, a);
	return 0;
}

static int parse_seq(struct yp *yp, const struct itest_loc *loc,
		     struct ivalue **out)
{
	struct ivalue *arr = NULL, *item = NULL;
	if (check_coll_tag(yp, yp->ev.data.sequence_start.tag, YT_SEQ, loc) ||
	    count_node(yp, loc, 0))
		return -1;
	arr = iv_arr();
	arr->loc = *loc;
	for (;;) {
		if (next_event(yp))
			goto fail;
		if (yp->ev.type == YAML_SEQUENCE_END_EVENT)
			break;
		if (parse_node(yp, &item))
			goto fail;
		iv_push(arr, item);
	}
	*out = arr;
	return 0;
fail:
	iv_free(arr);
	return -1;
}

static int merge_error(struct yp *yp, const struct itest_loc *loc)
{
	return err_set(yp->err, loc,
		       "merge key '<<' needs a map or a list of maps");
}

/* Adds a map named by the current event (an alias or a map) as a merge
 * source. */
static int merge_item(struct yp *yp, struct msrcs *ms)
{
	struct itest_loc loc = mark_loc(yp, yp->ev.start_mark);
	const struct ivalue *map;
	struct ivalue *v;
	if (yp->ev.type == YAML_ALIAS_EVENT) {
		map = anchor_find(yp, yp->ev.data.alias.anchor, &loc);
		if (!map)
			return -1;
	} else if (yp->ev.type == YAML_MAPPING_START_EVENT) {
		if (parse_node(yp, &v))
			return -1;
		bury(yp, v);
		map = v;
	} else {
		return merge_error(yp, &loc);
	}
	if (map->type != IV_OBJ)
		return merge_error(yp, &loc);
	XGROW(ms->v, ms->alloc, ms->n + 1);
	ms->v[ms->n].map = map;
	ms->v[ms->n++].loc = loc;
	return 0;
}

/* Reads the value of a `<<` key into merge sources. */
static int parse_merge_value(struct yp *yp, struct msrcs *ms)
{
	const yaml_event_t *ev = &yp->ev;
	struct itest_loc loc = mark_loc(yp, ev->start_mark);
	struct ivalue *v;
	int rc = 0;
	if (ev->type != YAML_SEQUENCE_START_EVENT)
		return merge_item(yp, ms);
	if (ev->data.sequence_start.anchor || ev->data.sequence_start.tag) {
		/* the list itself may be aliased later: keep it whole */
		if (parse_node(yp, &v))
			return -1;
		bury(yp, v);
		for (size_t i = 0; i < v->u.arr.n; i++) {
			const struct ivalue *m = v->u.arr.v[i];
			if (m->type != IV_OBJ)
				return merge_error(yp, &m->loc);
			XGROW(ms->v, ms->alloc, ms->n + 1);
			ms->v[ms->n].map = m;
			ms->v[ms->n++].loc = m->loc;
		}
		return 0;
	}
	if (yp->depth >= YAML_MAX_DEPTH)
		return err_set(yp->err, &loc, "nesting too deep");
	yp->depth++;
	for (;;) {
		rc = next_event(yp);
		if (rc || yp->ev.type == YAML_SEQUENCE_END_EVENT)
			break;
		rc = merge_item(yp, ms);
		if (rc)
			break;
	}
	yp->depth--;
	return rc;
}

/* Adds the members of the merge sources that obj lacks, where the `<<`
 * key was written (explicit keys win; among sources the first wins). */
static int apply_merges(struct yp *yp, struct ivalue *obj, struct smap *seen,
			const struct msrcs *ms, size_t at)
{
	struct imember *add = NULL;
	size_t nadd = 0, aalloc = 0;
	for (size_t i = 0; i < ms->n; i++) {
		const struct ivalue *map = ms->v[i].map;
		for (size_t j = 0; j < map->u.obj.n; j++) {
			const struct imember *m = &map->u.obj.m[j];
			/* a member looked at counts, so that merging the same
			 * big map again and again cannot take forever */
			if (yp->nodes >= YAML_MAX_NODES) {
				err_set(yp->err, &ms->v[i].loc,
					"alias expansion exceeds %d nodes",
					YAML_MAX_NODES);
				goto fail;
			}
			yp->nodes++;
			if (smap_find(seen, m->key, m->klen))
				continue;
			if (charge_copy(yp, m->val, yp->depth + 1,
					&ms->v[i].loc))
				goto fail;
			if (m->klen > YAML_MAX_BYTES - yp->bytes) {
				err_set(yp->err, &ms->v[i].loc,
					"alias expansion exceeds %zu bytes",
					YAML_MAX_BYTES);
				goto fail;
			}
			yp->bytes += m->klen;
			XGROW(add, aalloc, nadd + 1);
			add[nadd].key = xstrndup(m->key, m->klen);
			add[nadd].klen = m->klen;
			add[nadd].kloc = m->kloc;
			add[nadd++].val = copy_node(yp, m->val);
			smap_put(seen, m->key, m->klen, (size_t)m->kloc.line);
		}
	}
	if (!nadd)
		return 0;
	XGROW(obj->u.obj.m, obj->u.obj.alloc, obj->u.obj.n + nadd);
	memmove(obj->u.obj.m + at + nadd, obj->u.obj.m + at,
		(obj->u.obj.n - at) * sizeof(*add));
	memcpy(obj->u.obj.m + at, add, nadd * sizeof(*add));
	obj->u.obj.n += nadd;
	free(add);
	return 0;
fail:
	for (size_t i = 0; i < nadd; i++) {
		free(add[i].key);
		iv_free(add[i].val);
	}
	free(add);
	return -1;
}

/*
 * Reads a map key (the current event).  Sets *key to the scalar's text
 * (pointing into the event) and *merge for a plain `<<`.
 */
static int parse_key(struct yp *yp, const struct itest_loc *kloc,
		     const char **key, size_t *klen, int *merge)
{
	const yaml_event_t *ev = &yp->ev;
	if (ev->type == YAML_ALIAS_EVENT)
		return err_set(yp->err, kloc, "an alias cannot be a map key");
	if (ev->type != YAML_SCALAR_EVENT)
		return err_set(yp->err, kloc, "a map key must be a scalar");
	*key = (const char *)ev->data.scalar.value;
	*klen = ev->data.scalar.length;
	int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	*merge = plain && !ev->data.scalar.tag && word_is(*key, *klen, "<<");
	if (plain && !ev->data.scalar.tag && !*klen)
		return err_set(yp->err, kloc, "empty map key");
	if (ev->data.scalar.tag || ev->data.scalar.anchor) {
		/* checks the tag; an anchored key may be aliased as a value */
		size_t aidx = SIZE_MAX;
		if (ev->data.scalar.anchor)
			aidx = anchor_open(yp, ev->data.scalar.anchor);
		struct ivalue *v = make_scalar(yp, ev, kloc);
		if (!v)
			return -1;
		bury(yp, v);
		if (aidx != SIZE_MAX)
			yp->anchors[aidx].node = v;
	} else if (count_node(yp, kloc, *klen)) {
		return -1;
	}
	return 0;
}

static int parse_map(struct yp *yp, const struct itest_loc *loc,
		     struct ivalue **out)
{
	struct ivalue *obj = NULL;
	struct smap seen = SMAP_INIT;
	struct msrcs ms = {NULL, 0, 0};
	size_t merge_at = 0;
	int merge_line = 0;

	if (check_coll_tag(yp, yp->ev.data.mapping_start.tag, YT_MAP, loc) ||
	    count_node(yp, loc, 0))
		return -1;
	obj = iv_obj();
	obj->loc = *loc;
	for (;;) {
		struct itest_loc kloc;
		const char *key = NULL;
		size_t klen = 0;
		int merge = 0;
		if (next_event(yp))
			goto fail;
		if (yp->ev.type == YAML_MAPPING_END_EVENT)
			break;
		kloc = mark_loc(yp, yp->ev.start_mark);
		if (parse_key(yp, &kloc, &key, &klen, &merge))
			goto fail;
		if (merge) {
			if (merge_line) {
				err_set(yp->err, &kloc,
					"duplicate key '<<' (first at line %d)",
					merge_line);
				goto fail;
			}
			merge_line = kloc.line;
			merge_at = obj->u.obj.n;
			if (next_event(yp) || parse_merge_value(yp, &ms))
				goto fail;
			continue;
		}
		struct smap_ent *dup = smap_find(&seen, key, klen);
		if (dup) {
			err_set(yp->err, &kloc,
				"duplicate key '%.*s' (first at line %zu)",
				(int)(klen > 64 ? 64 : klen), key, dup->val);
			goto fail;
		}
		size_t idx = obj->u.obj.n;
		struct imember *m = iv_append(obj, key, klen, NULL);
		m->kloc = kloc;
		smap_put(&seen, m->key, m->klen, (size_t)kloc.line);
		struct ivalue *val;
		if (next_event(yp) || parse_node(yp, &val))
			goto fail;
		obj->u.obj.m[idx].val = val;
	}
	if (ms.n && apply_merges(yp, obj, &seen, &ms, merge_at))
		goto fail;
	smap_release(&seen);
	free(ms.v);
	*out = obj;
	return 0;
fail:
	smap_release(&seen);
	free(ms.v);
	iv_free(obj);
	return -1;
}

/*
 * Reads the node that starts with the current event; on success the
 * current event is its last one.
 */
static int parse_node(struct yp *yp, struct ivalue **out)
{
	const yaml_event_t *ev = &yp->ev;
	struct itest_loc loc = mark_loc(yp, ev->start_mark);
	const yaml_char_t *anchor;
	struct ivalue *v = NULL;
	size_t aidx = SIZE_MAX;
	int rc;

	*out = NULL;
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		return parse_alias(yp, &loc, out);
	case YAML_SCALAR_EVENT:
		anchor = ev->data.scalar.anchor;
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = ev->data.sequence_start.anchor;
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = ev->data.mapping_start.anchor;
		break;
	default:
		return err_set(yp->err, &loc, "invalid YAML: unexpected event");
	}
	if (yp->depth >= YAML_MAX_DEPTH)
		return err_set(yp->err, &loc, "nesting too deep");
	if (anchor)
		aidx = anchor_open(yp, anchor);
	yp->depth++;
	if (ev->type == YAML_SCALAR_EVENT) {
		v = make_scalar(yp, ev, &loc);
		rc = v ? 0 : -1;
	} else if (ev->type == YAML_SEQUENCE_START_EVENT) {
		rc = parse_seq(yp, &loc, &v);
	} else {
		rc = parse_map(yp, &loc, &v);
	}
	yp->depth--;
	if (rc)
		return -1;
	if (yp->arena)
		v = iv_to_arena(yp->arena, v);
	if (aidx != SIZE_MAX)
		yp->anchors[aidx].node = v;
	*out = v;
	return 0;
}

static void yp_release(struct yp *yp)
{
	if (yp->have_ev)
		yaml_event_delete(&yp->ev);
	yaml_parser_delete(&yp->parser);
	for (size_t i = 0; i < yp->nanchors; i++)
		free(yp->anchors[i].name);
	free(yp->anchors);
	smap_release(&yp->anames);
	for (size_t i = 0; i < yp->ndead; i++)
		iv_free(yp->dead[i]);
	free(yp->dead);
}

static struct ivalue *parse(const char *text, size_t len,
			    const struct itest_src *src, struct itest_err *err,
			    int in_arena)
{
	struct yp yp;
	struct ivalue *root = NULL;
	struct arena arena = ARENA_INIT;

	memset(&yp, 0, sizeof(yp));
	if (in_arena)
		yp.arena = &arena;
	yp.text = text;
	yp.len = len;
	yp.src = src;
	yp.err = err;
	if (!yaml_parser_initialize(&yp.parser)) {
		struct itest_loc loc = {src, 0, 0};
		err_set(err, &loc, "invalid YAML: out of memory");
		return NULL;
	}
	yaml_parser_set_input_string(&yp.parser, (const unsigned char *)text,
				     len);
	/* stream start, then a document start or the stream end */
	if (next_event(&yp) || next_event(&yp))
		goto fail;
	if (yp.ev.type == YAML_STREAM_END_EVENT) {
		root = iv_null();
		root->loc.src = src;
		root->loc.line = root->loc.col = 1;
		goto out;
	}
	if (next_event(&yp) || parse_node(&yp, &root))
		goto fail;
	/* document end, then the stream end or another document */
	if (next_event(&yp) || next_event(&yp))
		goto fail;
	if (yp.ev.type == YAML_DOCUMENT_START_EVENT) {
		struct itest_loc loc = mark_loc(&yp, yp.ev.start_mark);
		err_set(err, &loc, "a suite file holds one YAML document");
		goto fail;
	}
	goto out;
fail:
	iv_free(root);
	root = NULL;
out:
	yp_release(&yp);
	if (root && in_arena)
		root = iv_arena_doc(&arena, root);
	arena_release(&arena);
	return root;
}

struct ivalue *yaml_parse(const char *text, size_t len,
			  const struct itest_src *src, struct itest_err *err)
{
	return parse(text, len, src, err, 0);
}

struct ivalue *yaml_parse_doc(const char *text, size_t len,
			      const struct itest_src *src,
			      struct itest_err *err)
{
	return parse(text, len, src, err, 1);
}

static struct ivalue *load_file(const struct itest_src *src,
				struct itest_err *err, int in_arena)
{
	struct itest_loc loc = {src, 0, 0};
	struct strbuf sb = STRBUF_INIT;
	struct ivalue *v = NULL;
	char buf[16384];
	size_t n;
	FILE *f = fopen(src->path, "rb");
	if (!f) {
		err_set(err, &loc, "cannot read '%s': %s", src->path,
			strerror(errno));
		return NULL;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		if (n > YAML_MAX_FILE - sb.len) {
			err_set(err, &loc,
				"file too large: '%s' is over %zu MiB",
				src->path, YAML_MAX_FILE >> 20);
			goto out;
		}
		strbuf_add(&sb, buf, n);
	}
	if (ferror(f)) {
		err_set(err, &loc, "cannot read '%s': %s", src->path,
			strerror(errno ? errno : EIO));
		goto out;
	}
	v = parse(sb.buf, sb.len, src, err, in_arena);
out:
	fclose(f);
	strbuf_release(&sb);
	return v;
}

struct ivalue *yaml_load_file(const struct itest_src *src,
			      struct itest_err *err)
{
	return load_file(src, err, 0);
}

struct ivalue *yaml_load_doc(const struct itest_src *src, struct itest_err *err)
{
	return load_file(src, err, 1);
}

const struct itest_src *srclist_add(struct srclist *sl, const char *path,
				    const struct itest_src *parent, int pline,
				    int pcol)
{
	struct itest_src *s = xcalloc(1, sizeof(*s));
	s->path = xstrdup(path);
	s->parent = parent;
	s->pline = pline;
	s->pcol = pcol;
	XGROW(sl->v, sl->alloc, sl->n + 1);
	sl->v[sl->n++] = s;
	return s;
}

void srclist_release(struct srclist *sl)
{
	for (size_t i = 0; i < sl->n; i++) {
		free(sl->v[i]->path);
		free(sl->v[i]);
	}
	free(sl->v);
	sl->v = NULL;
	sl->n = sl->alloc = 0;
}
