/*
 * Templates: parsing `${...}` references, resolving names through a
 * scope, and rendering value trees with the substitutions made.
 */
#include "template.h"

#define TPL_MAX_DEPTH 32

void scope_push(struct scope *sc, const struct ivalue *layer)
{
	if (layer && sc->nlayers < SCOPE_MAX_LAYERS)
		sc->layers[sc->nlayers++] = layer;
}

/* One parsed reference: ${name:-default|f1|f2}. */
struct ref {
	const char *name;
	size_t namelen;
	const char *def; /* NULL: no default */
	size_t deflen;
	const char *filters; /* "|sh|url" or "" */
	size_t flen;
	size_t end; /* offset just past the closing brace */
};

static int is_name_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

/* Line `line` (1-based) of a file, without its newline; NULL if absent. */
static char *source_line(const char *path, int line)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t cap = 0;
	ssize_t n = -1;
	if (!f)
		return NULL;
	for (int i = 0; i < line; i++)
		if ((n = getline(&text, &cap, f)) < 0)
			break;
	fclose(f);
	if (n < 0) {
		free(text);
		return NULL;
	}
	while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
		text[--n] = '\0';
	return text;
}

/* Characters (not bytes) in s[0..n): libyaml's columns count characters. */
static int chars(const char *s, size_t n)
{
	int c = 0;
	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xc0) != 0x80;
	return c;
}

/* The byte index of character column `col` (1-based) in `line`. */
static size_t byte_at_col(const char *line, int col)
{
	size_t i = 0;
	for (int c = 1; line[i] && c < col; c++) {
		i++;
		while (((unsigned char)line[i] & 0xc0) == 0x80)
			i++;
	}
	return i;
}

/* In a quoted scalar's source (from just after its opening quote), the
 * byte where decoded byte `offset` starts; -1 when it cannot tell. */
static long quoted_source_at(const char *src, char quote, size_t offset)
{
	size_t dec = 0, i = 0;
	while (src[i] && dec < offset) {
		if (quote == '\'' && src[i] == '\'' && src[i + 1] == '\'') {
			i += 2;
			dec++;
		} else if (quote == '"' && src[i] == '\\') {
			int hex = src[i + 1] == 'x'   ? 2
				  : src[i + 1] == 'u' ? 4
				  : src[i + 1] == 'U' ? 8
						      : 0;
			i += 2 + (size_t)hex;
			/* an escape decodes to 1 to 4 bytes: count it as the
			 * bytes of one character */
			dec += hex >= 4 ? 3 : 1;
		} else if (src[i] == quote) {
			return -1;
		} else {
			i++;
			dec++;
		}
	}
	return dec == offset ? (long)i : -1;
}

struct itest_loc tpl_loc_at(const struct ivalue *scalar, size_t offset)
{
	struct itest_loc loc = scalar ? scalar->loc : (struct itest_loc){0};
	if (!scalar || !loc.line || !loc.src || scalar->type != IV_STR)
		return loc;
	const char *s = scalar->u.str.s;
	size_t len = scalar->u.str.len;
	if (offset > len)
		offset = len;
	const char *nl = memchr(s, '\n', offset);
	if (!(scalar->flags & IVF_QUOTED)) {
		if (!nl)
			loc.col += chars(s, offset);
		return loc;
	}
	char *line = source_line(loc.src->path, loc.line);
	if (!line)
		return loc;
	size_t at = byte_at_col(line, loc.col);
	char c = line[at];
	if ((c == '"' || c == '\'') && !nl) {
		long b = quoted_source_at(line + at + 1, c, offset);
		if (b >= 0)
			loc.col += 1 + chars(line + at + 1, (size_t)b);
	} else if (c == '|') {
		/* a literal block: content lines follow, each indented */
		int k = 0;
		size_t last = 0;
		for (size_t i = 0; i < offset; i++)
			if (s[i] == '\n') {
				k++;
				last = i + 1;
			}
		char *content = source_line(loc.src->path, loc.line + 1 + k);
		if (content) {
			int indent = 0;
			while (content[indent] == ' ')
				indent++;
			loc.line += 1 + k;
			loc.col = indent + 1 + chars(s + last, offset - last);
			free(content);
		}
	}
	free(line);
	return loc;
}

/* Parses the reference whose "${" starts at s[at]. */
static int parse_ref(const char *s, size_t len, size_t at, struct ref *r,
		     struct strbuf *why)
{
	size_t i = at + 2;
	memset(r, 0, sizeof(*r));
	r->name = s + i;
	while (i < len && is_name_char(s[i]) &&
	       !(s[i] == '-' && i > at + 2 && s[i - 1] == ':'))
		i++;
	r->namelen = (size_t)(s + i - r->name);
	if (!r->namelen) {
		strbuf_addstr(why, "empty variable name");
		return -1;
	}
	if (r->name[0] == '.' || r->name[r->namelen - 1] == '.' ||
	    memmem(r->name, r->namelen, "..", 2)) {
		strbuf_addf(why, "bad variable name '%.*s'", (int)r->namelen,
			    r->name);
		return -1;
	}
	if (i + 1 < len && s[i] == ':' && s[i + 1] == '-') {
		i += 2;
		r->def = s + i;
		while (i < len && s[i] != '}' && s[i] != '|')
			i++;
		r->deflen = (size_t)(s + i - r->def);
	}
	r->filters = s + i;
	while (i < len && s[i] == '|') {
		i++;
		size_t f = i;
		while (i < len && s[i] >= 'a' && s[i] <= 'z')
			i++;
		size_t fl = i - f;
		if (!((fl == 2 && !memcmp(s + f, "sh", 2)) ||
		      (fl == 3 && !memcmp(s + f, "url", 3)) ||
		      (fl == 4 && !memcmp(s + f, "json", 4)))) {
			while (i < len && s[i] != '}' && s[i] != '|')
				i++;
			strbuf_addf(why,
				    "unknown filter '%.*s' (sh, url and json "
				    "exist)",
				    (int)(i - f), s + f);
			return -1;
		}
	}
	r->flen = (size_t)(s + i - r->filters);
	if (i >= len || s[i] != '}') {
		if (i >= len)
			strbuf_addstr(why, "unterminated '${'");
		else
			strbuf_addf(why,
				    "unexpected character '%c' in '${...}'",
				    s[i]);
		return -1;
	}
	r->end = i + 1;
	return 0;
}

int tpl_has_vars(const char *s, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (s[i] == '$' && s[i + 1] == '$' && i + 2 < len &&
		    s[i + 2] == '{') {
			i += 2;
			continue;
		}
		if (s[i] == '$' && s[i + 1] == '{')
			return 1;
	}
	return 0;
}

int tpl_refs(const struct ivalue *scalar, tpl_ref_fn fn, void *data,
	     struct itest_err *err)
{
	const char *s = scalar->u.str.s;
	size_t len = scalar->u.str.len;
	for (size_t i = 0; i + 1 < len; i++) {
		if (s[i] != '$')
			continue;
		if (s[i + 1] == '$' && i + 2 < len && s[i + 2] == '{') {
			i += 2;
			continue;
		}
		if (s[i + 1] != '{')
			continue;
		struct ref r;
		struct strbuf why = STRBUF_INIT;
		if (parse_ref(s, len, i, &r, &why) < 0) {
			struct itest_loc loc = tpl_loc_at(scalar, i);
			err_set(err, &loc, "bad template: %s", why.buf);
			strbuf_release(&why);
			return -1;
		}
		const char *dot = memchr(r.name, '.', r.namelen);
		size_t rootlen = dot ? (size_t)(dot - r.name) : r.namelen;
		int rc = fn(data, r.name, rootlen, r.name, r.namelen,
			    r.def != NULL, i);
		if (rc)
			return rc;
		i = r.end - 1;
	}
	return 0;
}

/* Walks the dotted rest of a name into a value; NULL if absent. */
static const struct ivalue *walk(const struct ivalue *v, const char *rest,
				 size_t len)
{
	while (v && len) {
		const char *dot = memchr(rest, '.', len);
		size_t seg = dot ? (size_t)(dot - rest) : len;
		if (v->type == IV_OBJ) {
			v = iv_getn(v, rest, seg);
		} else if (v->type == IV_ARR) {
			size_t idx = 0;
			if (!seg)
				return NULL;
			for (size_t k = 0; k < seg; k++) {
				if (rest[k] < '0' || rest[k] > '9' ||
				    idx > SIZE_MAX / 10 - 10)
					return NULL;
				idx = idx * 10 + (size_t)(rest[k] - '0');
			}
			v = idx < v->u.arr.n ? v->u.arr.v[idx] : NULL;
		} else {
			return NULL;
		}
		rest += seg;
		len -= seg;
		if (len) {
			rest++;
			len--;
		}
	}
	return v;
}

/*
 * Resolves a name.  Returns the value in *out: borrowed, or owned (then
 * *owned is set) when it had to be made (a rendered suite var, an env
 * value).  0 found, 1 not found, -1 error (err set).
 */
static int resolve(const struct scope *sc, const char *name, size_t len,
		   const struct ivalue **out, struct ivalue **owned,
		   struct itest_err *err)
{
	const char *dot = memchr(name, '.', len);
	size_t rootlen = dot ? (size_t)(dot - name) : len;
	const char *rest = dot ? dot + 1 : name + len;
	size_t restlen = dot ? len - rootlen - 1 : 0;
	*owned = NULL;
	*out = NULL;
	if (rootlen == 3 && !memcmp(name, "env", 3)) {
		if (!restlen)
			return 1;
		char *var = xstrndup(rest, restlen);
		const char *val = getenv(var);
		free(var);
		if (!val)
			return 1;
		*owned = iv_str(val);
		*out = *owned;
		return 0;
	}
	for (const struct scope *s = sc; s; s = s->parent) {
		for (size_t i = 0; i < s->nlayers; i++) {
			const struct ivalue *v =
				iv_getn(s->layers[i], name, rootlen);
			if (v) {
				*out = walk(v, rest, restlen);
				return *out ? 0 : 1;
			}
		}
	}
	const struct ivalue *tv = iv_getn(sc->suite_vars, name, rootlen);
	if (tv) {
		if (sc->depth >= TPL_MAX_DEPTH)
			return err_set(err, NULL,
				       "variable '%.*s' refers to itself",
				       (int)rootlen, name);
		struct scope inner = *sc;
		inner.depth++;
		struct ivalue *r = tpl_render(tv, &inner, err);
		if (!r)
			return -1;
		const struct ivalue *w = walk(r, rest, restlen);
		if (!w) {
			iv_free(r);
			return 1;
		}
		if (w != r) {
			struct ivalue *c = iv_clone(w);
			iv_free(r);
			r = c;
		}
		*owned = r;
		*out = r;
		return 0;
	}
	const struct ivalue *bv = iv_getn(sc->builtins, name, rootlen);
	if (bv) {
		*out = walk(bv, rest, restlen);
		return *out ? 0 : 1;
	}
	return 1;
}

void sh_quote(struct strbuf *out, const char *s, size_t len)
{
	int plain = len > 0;
	for (size_t i = 0; i < len && plain; i++) {
		char c = s[i];
		plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || strchr("-_./:=@%+,", c);
	}
	if (plain) {
		strbuf_add(out, s, len);
		return;
	}
	strbuf_addch(out, '\'');
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\'')
			strbuf_addstr(out, "'\\''");
		else
			strbuf_addch(out, s[i]);
	}
	strbuf_addch(out, '\'');
}

/*
 * Evaluates one reference to a value: *res is owned by the caller.
 * Filters turn the value into a string.
 */
static int eval_ref(const struct ref *r, const struct scope *sc,
		    struct ivalue **res, struct itest_err *err)
{
	const struct ivalue *v;
	struct ivalue *owned;
	int rc = resolve(sc, r->name, r->namelen, &v, &owned, err);
	if (rc < 0)
		return -1;
	int empty = rc == 0 && v->type == IV_STR && !v->u.str.len;
	if (r->def && (rc == 1 || empty)) {
		iv_free(owned);
		owned = iv_strn(r->def, r->deflen);
		v = owned;
	} else if (rc == 1) {
		if (r->namelen > 4 && !memcmp(r->name, "env.", 4)) {
			/* an unset environment variable is empty */
			owned = iv_str("");
			v = owned;
		} else {
			return err_set(err, NULL, "undefined variable '%.*s'",
				       (int)r->namelen, r->name);
		}
	}
	struct ivalue *cur = owned ? owned : iv_clone(v);
	const char *f = r->filters, *fend = r->filters + r->flen;
	while (f < fend) {
		f++;
		const char *e = f;
		while (e < fend && *e != '|')
			e++;
		struct strbuf sb = STRBUF_INIT, text = STRBUF_INIT;
		if (e - f == 4) { /* json */
			json_emit(&sb, cur, 0);
		} else {
			iv_to_text(&text, cur);
			if (e - f == 2)
				sh_quote(&sb, text.buf, text.len);
			else
				strbuf_add_url_encoded(&sb, text.buf, text.len);
		}
		unsigned flags = cur->flags & IVF_SECRET;
		iv_free(cur);
		size_t n;
		char *s = strbuf_detach(&sb, &n);
		cur = iv_str_own(s, n);
		cur->flags |= flags;
		strbuf_release(&text);
		f = e;
	}
	*res = cur;
	return 0;
}

/* Renders a string value; returns a new value or NULL. */
static struct ivalue *render_string(const struct ivalue *sv,
				    const struct scope *sc,
				    struct itest_err *err)
{
	const char *s = sv->u.str.s;
	size_t len = sv->u.str.len;
	struct strbuf out = STRBUF_INIT;
	unsigned flags = sv->flags & IVF_INHERITED;
	if (!memchr(s, '$', len))
		return iv_clone(sv);
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '$' || i + 1 >= len) {
			strbuf_addch(&out, s[i]);
			continue;
		}
		if (s[i + 1] == '$' && i + 2 < len && s[i + 2] == '{') {
			strbuf_addstr(&out, "${");
			i += 2;
			continue;
		}
		if (s[i + 1] != '{') {
			strbuf_addch(&out, s[i]);
			continue;
		}
		struct ref r;
		struct strbuf why = STRBUF_INIT;
		if (parse_ref(s, len, i, &r, &why) < 0) {
			struct itest_loc loc = tpl_loc_at(sv, i);
			err_set(err, &loc, "bad template: %s", why.buf);
			strbuf_release(&why);
			goto fail;
		}
		struct ivalue *v = NULL;
		if (eval_ref(&r, sc, &v, err) < 0) {
			struct itest_loc loc = tpl_loc_at(sv, i);
			err->loc = loc;
			goto fail;
		}
		if (i == 0 && r.end == len) {
			/* a lone ${x} keeps its type */
			strbuf_release(&out);
			v->loc = sv->loc;
			return v;
		}
		flags |= v->flags & IVF_SECRET;
		iv_to_text(&out, v);
		iv_free(v);
		i = r.end - 1;
	}
	size_t n;
	char *text = strbuf_detach(&out, &n);
	struct ivalue *res = iv_str_own(text, n);
	res->loc = sv->loc;
	res->flags = flags;
	return res;
fail:
	strbuf_release(&out);
	return NULL;
}

struct ivalue *tpl_render(const struct ivalue *v, const struct scope *sc,
			  struct itest_err *err)
{
	struct ivalue *res;
	switch (v->type) {
	case IV_STR:
		return render_string(v, sc, err);
	case IV_ARR:
		res = iv_arr();
		res->loc = v->loc;
		for (size_t i = 0; i < v->u.arr.n; i++) {
			struct ivalue *c = tpl_render(v->u.arr.v[i], sc, err);
			if (!c) {
				iv_free(res);
				return NULL;
			}
			iv_push(res, c);
		}
		return res;
	case IV_OBJ:
		res = iv_obj();
		res->loc = v->loc;
		for (size_t i = 0; i < v->u.obj.n; i++) {
			const struct imember *m = &v->u.obj.m[i];
			struct ivalue *c = tpl_render(m->val, sc, err);
			if (!c) {
				iv_free(res);
				return NULL;
			}
			struct imember *nm;
			if (tpl_has_vars(m->key, m->klen)) {
				struct strbuf key = STRBUF_INIT;
				if (tpl_render_text(m->key, m->klen, sc, &key,
						    &m->kloc, err) < 0) {
					strbuf_release(&key);
					iv_free(c);
					iv_free(res);
					return NULL;
				}
				nm = iv_append(res, key.buf, key.len, c);
				strbuf_release(&key);
			} else {
				nm = iv_append(res, m->key, m->klen, c);
			}
			nm->kloc = m->kloc;
		}
		return res;
	default:
		return iv_clone(v);
	}
}

int tpl_is_static(const struct ivalue *v)
{
	switch (v->type) {
	case IV_STR:
		return !memchr(v->u.str.s, '$', v->u.str.len);
	case IV_ARR:
		for (size_t i = 0; i < v->u.arr.n; i++)
			if (!tpl_is_static(v->u.arr.v[i]))
				return 0;
		return 1;
	case IV_OBJ:
		for (size_t i = 0; i < v->u.obj.n; i++) {
			const struct imember *m = &v->u.obj.m[i];
			if (tpl_has_vars(m->key, m->klen) ||
			    !tpl_is_static(m->val))
				return 0;
		}
		return 1;
	default:
		return 1;
	}
}

int tpl_render_text(const char *s, size_t len, const struct scope *sc,
		    struct strbuf *out, const struct itest_loc *loc,
		    struct itest_err *err)
{
	struct ivalue tmp = {.type = IV_STR};
	tmp.u.str.s = (char *)s;
	tmp.u.str.len = len;
	if (loc)
		tmp.loc = *loc;
	struct ivalue *r = render_string(&tmp, sc, err);
	if (!r)
		return -1;
	iv_to_text(out, r);
	iv_free(r);
	return 0;
}

int tpl_truthy(const struct ivalue *v)
{
	if (!v)
		return 0;
	switch (v->type) {
	case IV_NULL:
		return 0;
	case IV_BOOL:
		return v->u.b;
	case IV_NUM:
		return v->u.num.d != 0;
	case IV_STR: {
		const char *s = v->u.str.s;
		return v->u.str.len && strcmp(s, "false") && strcmp(s, "0");
	}
	default:
		return 1;
	}
}

int tpl_value_has_vars(const struct ivalue *v)
{
	return v && v->type == IV_STR && tpl_has_vars(v->u.str.s, v->u.str.len);
}
