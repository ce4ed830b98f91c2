/*
 * JSON Schema 2020-12 (schema.h): compiles a schema document (and every
 * file its `$ref`s reach) into a read-only tree of nodes, then validates
 * instances against it with annotation tracking for the `unevaluated*`
 * keywords.  Every keyword is either implemented, accepted as an
 * annotation, or a load error at its place: none is silently ignored.
 *
 * References resolve as RFC 3986 URIs: a document read from a file has a
 * `file:` URI, an inline schema the URI of its base folder; `$id` changes
 * the base; `#/json/pointer` and `#anchor` fragments find their node in
 * the resource the URI names.  A `file:` URI that no loaded document
 * claims is read from disk; `http(s):` ones are not (no network).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <errno.h>
#include <math.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "schema.h"

#define DIALECT "https://json-schema.org/draft/2020-12/schema"
/* $ref hops at one instance location before it counts as a loop. */
#define REF_HOPS_MAX 128
/* Nested evaluations of one validation. */
#define DEPTH_MAX 2048
/* Nesting of subschemas in one document. */
#define NEST_MAX 512
/* Files one schema may reach through $ref. */
#define FILES_MAX 256
/* Error lines one validation reports. */
#define ERRORS_MAX 20
/* Backtracking steps one regex match may take. */
#define REGEX_MATCH_LIMIT 1000000
/* Bytes of a value shown in a message before it is cut. */
#define SHOW_MAX 200

/* ---- the compiled form ---- */

enum {
	JT_NULL = 1,
	JT_BOOL = 2,
	JT_INT = 4,
	JT_NUM = 8,
	JT_STR = 16,
	JT_ARR = 32,
	JT_OBJ = 64,
};

static const char *const type_names[] = {
	"null",	  "boolean", "integer", "number",
	"string", "array",   "object",	NULL,
};

struct snode;

struct sprop {
	const char *key;
	size_t klen;
	struct snode *s;
};

struct spat {
	pcre2_code *re;
	const char *pat; /* as written */
	struct snode *s;
};

struct sdep {
	const char *key;
	size_t klen;
	const struct ivalue *names; /* dependentRequired: array of strings */
	struct snode *s;	    /* dependentSchemas */
};

struct snode {
	int boolv; /* -1: an object schema; else a boolean schema */
	const struct ivalue *src;
	char *path; /* "#/properties/a", "other.json#/$defs/x" */
	unsigned types;
	const struct ivalue *enumv, *constv;
	const struct ivalue *minimum, *maximum, *xminimum, *xmaximum;
	const struct ivalue *multiple_of;
	uint64_t min_len, max_len, min_items, max_items, min_props, max_props;
	uint64_t min_contains, max_contains;
	pcre2_code *pattern;
	const struct ivalue *pattern_src;
	int unique;
	struct sprop *props; /* sorted by key */
	size_t nprops;
	struct spat *pats;
	size_t npats;
	struct snode *addl;
	struct snode **prefix;
	size_t nprefix;
	struct snode *items, *contains, *not, *if_, *then_, *else_;
	struct snode *names, *uprops, *uitems;
	struct snode **all, **any, **one;
	size_t nall, nany, none;
	const struct ivalue *required; /* array of strings */
	struct sdep *dreq, *dsch;
	size_t ndreq, ndsch;
	char *ref_uri; /* absolute */
	const struct ivalue *ref_src;
	struct snode *ref;
	char *dref_uri; /* $dynamicRef, absolute */
	const struct ivalue *dref_src;
	struct snode *dref;
	const char *dref_name;	/* its fragment when that is an anchor name */
	const char *res_uri;	/* the resource it is in (interned) */
	const char *dyn_anchor; /* its $dynamicAnchor */
};

/* A resource: a document or a subschema with an `$id`. */
struct resource {
	char *uri; /* absolute, without fragment */
	const struct ivalue *root;
};

struct anchor {
	char *uri; /* base URI "#" name */
	struct snode *node;
};

struct jschema {
	struct ivalue **docs; /* owned trees */
	size_t ndocs, adocs;
	struct snode **nodes;
	size_t nnodes, anodes;
	struct resource *res;
	size_t nres, ares;
	struct anchor *anc; /* $anchor and $dynamicAnchor */
	size_t nanc, aanc;
	struct anchor *danc; /* $dynamicAnchor */
	size_t ndanc, adanc;
	char **strs; /* base URIs and doc names the nodes point to */
	size_t nstrs, astrs;
	struct snode *root;
};

static const char *keep_str(struct jschema *s, char *str)
{
	XGROW(s->strs, s->astrs, s->nstrs + 1);
	s->strs[s->nstrs++] = str;
	return str;
}

static void node_free(struct snode *n)
{
	free(n->path);
	pcre2_code_free(n->pattern);
	free(n->props);
	for (size_t i = 0; i < n->npats; i++)
		pcre2_code_free(n->pats[i].re);
	free(n->pats);
	free(n->prefix);
	free(n->all);
	free(n->any);
	free(n->one);
	free(n->dreq);
	free(n->dsch);
	free(n->ref_uri);
	free(n->dref_uri);
	free(n);
}

void schema_free(struct jschema *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nnodes; i++)
		node_free(s->nodes[i]);
	free(s->nodes);
	for (size_t i = 0; i < s->ndocs; i++)
		iv_free(s->docs[i]);
	free(s->docs);
	for (size_t i = 0; i < s->nres; i++)
		free(s->res[i].uri);
	free(s->res);
	for (size_t i = 0; i < s->nanc; i++)
		free(s->anc[i].uri);
	free(s->anc);
	for (size_t i = 0; i < s->ndanc; i++)
		free(s->danc[i].uri);
	free(s->danc);
	for (size_t i = 0; i < s->nstrs; i++)
		free(s->strs[i]);
	free(s->strs);
	free(s);
}

/* ---- URIs (RFC 3986) ---- */

struct uri {
	const char *s;
	size_t scheme; /* length, without ':'; 0: none */
	int has_auth, has_query, has_frag;
	size_t auth_off, auth_len, path_off, path_len, q_off, q_len, f_off;
};

static int is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static void uri_parse(const char *s, struct uri *u)
{
	size_t i = 0, n = strlen(s), j;
	memset(u, 0, sizeof(*u));
	u->s = s;
	if (n && is_alpha((unsigned char)s[0])) {
		for (j = 1; j < n; j++) {
			int c = (unsigned char)s[j];
			if (!is_alpha(c) && !is_digit(c) && c != '+' &&
			    c != '-' && c != '.')
				break;
		}
		if (j < n && s[j] == ':') {
			u->scheme = j;
			i = j + 1;
		}
	}
	if (i + 1 < n && s[i] == '/' && s[i + 1] == '/') {
		u->has_auth = 1;
		i += 2;
		u->auth_off = i;
		while (i < n && s[i] != '/' && s[i] != '?' && s[i] != '#')
			i++;
		u->auth_len = i - u->auth_off;
	}
	u->path_off = i;
	while (i < n && s[i] != '?' && s[i] != '#')
		i++;
	u->path_len = i - u->path_off;
	if (i < n && s[i] == '?') {
		u->has_query = 1;
		u->q_off = ++i;
		while (i < n && s[i] != '#')
			i++;
		u->q_len = i - u->q_off;
	}
	if (i < n && s[i] == '#') {
		u->has_frag = 1;
		u->f_off = i + 1;
	}
}

/* RFC 3986 5.2.4: appends `in` without its "." and ".." segments. */
static void remove_dots(struct strbuf *out, const char *in, size_t len)
{
	size_t start = out->len;
	const char *p = in, *end = in + len;
	while (p < end) {
		size_t left = (size_t)(end - p);
		if (left >= 3 && !memcmp(p, "../", 3)) {
			p += 3;
		} else if (left >= 2 && !memcmp(p, "./", 2)) {
			p += 2;
		} else if (left >= 3 && !memcmp(p, "/./", 3)) {
			p += 2;
		} else if (left == 2 && !memcmp(p, "/.", 2)) {
			p += 1;
			strbuf_addch(out, '/');
			break;
		} else if ((left >= 4 && !memcmp(p, "/../", 4)) ||
			   (left == 3 && !memcmp(p, "/..", 3))) {
			size_t k = out->len;
			while (k > start && out->buf[k - 1] != '/')
				k--;
			strbuf_setlen(out, k > start ? k - 1 : start);
			if (left == 3) {
				strbuf_addch(out, '/');
				break;
			}
			p += 3;
		} else if ((left == 1 && *p == '.') ||
			   (left == 2 && !memcmp(p, "..", 2))) {
			break;
		} else {
			const char *q = p + (*p == '/');
			while (q < end && *q != '/')
				q++;
			strbuf_add(out, p, (size_t)(q - p));
			p = q;
		}
	}
}

/* RFC 3986 5.2.2: `ref` resolved against the absolute URI `base`. */
static char *uri_resolve(const char *base, const char *ref)
{
	struct uri b, r;
	struct strbuf out = STRBUF_INIT;
	const struct uri *auth, *query;
	uri_parse(base, &b);
	uri_parse(ref, &r);
	if (r.scheme) {
		strbuf_add(&out, ref, r.scheme + 1);
		auth = &r;
	} else {
		strbuf_add(&out, base, b.scheme + !!b.scheme);
		auth = r.has_auth ? &r : &b;
	}
	if (auth->has_auth) {
		strbuf_addstr(&out, "//");
		strbuf_add(&out, auth->s + auth->auth_off, auth->auth_len);
	}
	query = &r;
	if (r.scheme || r.has_auth) {
		remove_dots(&out, ref + r.path_off, r.path_len);
	} else if (!r.path_len) {
		strbuf_add(&out, base + b.path_off, b.path_len);
		if (!r.has_query)
			query = &b;
	} else if (ref[r.path_off] == '/') {
		remove_dots(&out, ref + r.path_off, r.path_len);
	} else {
		struct strbuf merged = STRBUF_INIT;
		if (b.has_auth && !b.path_len) {
			strbuf_addch(&merged, '/');
		} else {
			size_t k = b.path_len;
			while (k && base[b.path_off + k - 1] != '/')
				k--;
			strbuf_add(&merged, base + b.path_off, k);
		}
		strbuf_add(&merged, ref + r.path_off, r.path_len);
		remove_dots(&out, merged.buf, merged.len);
		strbuf_release(&merged);
	}
	if (query->has_query) {
		strbuf_addch(&out, '?');
		strbuf_add(&out, query->s + query->q_off, query->q_len);
	}
	if (r.has_frag) {
		strbuf_addch(&out, '#');
		strbuf_addstr(&out, ref + r.f_off);
	}
	return strbuf_detach(&out, NULL);
}

static int hexval(int c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void pct_decode(struct strbuf *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		int h, l;
		if (s[i] == '%' && i + 2 < len &&
		    (h = hexval((unsigned char)s[i + 1])) >= 0 &&
		    (l = hexval((unsigned char)s[i + 2])) >= 0) {
			strbuf_addch(out, h * 16 + l);
			i += 2;
		} else {
			strbuf_addch(out, s[i]);
		}
	}
}

/* A file path as the path of a file: URI. */
static void pct_encode_path(struct strbuf *out, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (is_alpha(c) || is_digit(c) ||
		    strchr("-._~/!$&'()*+,;=:@", c))
			strbuf_addch(out, c);
		else
			strbuf_addf(out, "%%%02X", c);
	}
}

static int has_scheme(const char *uri, const char *scheme)
{
	size_t n = strlen(scheme);
	return !strncasecmp(uri, scheme, n) && uri[n] == ':';
}

/* The absolute, normalised path of `path` (relative to the cwd). */
static char *abs_path(const char *path)
{
	struct strbuf raw = STRBUF_INIT, out = STRBUF_INIT;
	if (path[0] != '/') {
		char *cwd = getcwd(NULL, 0);
		strbuf_addstr(&raw, cwd ? cwd : ".");
		free(cwd);
		strbuf_addch(&raw, '/');
	}
	strbuf_addstr(&raw, path);
	remove_dots(&out, raw.buf, raw.len);
	strbuf_release(&raw);
	return strbuf_detach(&out, NULL);
}

/* The canonical file: URI of an absolute path. */
static char *file_uri(const char *abs)
{
	struct strbuf out = STRBUF_INIT;
	strbuf_addstr(&out, "file://");
	pct_encode_path(&out, abs);
	return strbuf_detach(&out, NULL);
}

/* A file: URI in canonical form (its path decoded and encoded again);
 * `uri` has no fragment.  NULL when it has a host or a query. */
static char *file_uri_canon(const char *uri, char **path)
{
	struct uri u;
	struct strbuf p = STRBUF_INIT;
	uri_parse(uri, &u);
	if ((u.has_auth && u.auth_len &&
	     !(u.auth_len == 9 &&
	       !strncasecmp(uri + u.auth_off, "localhost", 9))) ||
	    u.has_query || !u.path_len || uri[u.path_off] != '/')
		return NULL;
	pct_decode(&p, uri + u.path_off, u.path_len);
	*path = strbuf_detach(&p, NULL);
	return file_uri(*path);
}

/* ---- compiling ---- */

struct comp {
	struct jschema *s;
	struct srclist *sl;
	struct itest_err *err;
	const char *docname; /* prefix of node paths: "" for the first doc */
	struct strbuf path;  /* JSON pointer of the node being compiled */
	int depth;
	size_t nfiles;
	struct snode **sorted; /* the nodes by `src`, for $ref targets */
	size_t nsorted;
};

enum kw {
	K_SCHEMA,
	K_ID,
	K_ANCHOR,
	K_STRING, /* annotations whose value is a string */
	K_BOOL,	  /* annotations whose value is a boolean */
	K_ANY,	  /* annotations of any value */
	K_ARRAY,  /* annotations whose value is an array */
	K_DEFS,
	K_REF,
	K_TYPE,
	K_ENUM,
	K_CONST,
	K_PROPS,
	K_PATPROPS,
	K_ADDL,
	K_REQUIRED,
	K_DREQ,
	K_DSCH,
	K_PNAMES,
	K_ITEMS,
	K_PREFIX,
	K_CONTAINS,
	K_MINC,
	K_MAXC,
	K_MINITEMS,
	K_MAXITEMS,
	K_UNIQUE,
	K_MINLEN,
	K_MAXLEN,
	K_PATTERN,
	K_MIN,
	K_MAX,
	K_XMIN,
	K_XMAX,
	K_MULT,
	K_ALL,
	K_ANYOF,
	K_ONE,
	K_NOT,
	K_IF,
	K_THEN,
	K_ELSE,
	K_UPROPS,
	K_UITEMS,
	K_MINPROPS,
	K_MAXPROPS,
	K_CSCHEMA,
	K_DYNREF,
	K_UNSUPPORTED,
};

/* Every keyword of 2020-12 and what itest does with it. */
static const struct {
	const char *name;
	enum kw kind;
} keywords[] = {
	{"$schema", K_SCHEMA},
	{"$id", K_ID},
	{"$anchor", K_ANCHOR},
	{"$comment", K_STRING},
	{"title", K_STRING},
	{"description", K_STRING},
	{"format", K_STRING},
	{"contentMediaType", K_STRING},
	{"contentEncoding", K_STRING},
	{"deprecated", K_BOOL},
	{"readOnly", K_BOOL},
	{"writeOnly", K_BOOL},
	{"default", K_ANY},
	{"examples", K_ARRAY},
	{"$defs", K_DEFS},
	{"$ref", K_REF},
	{"type", K_TYPE},
	{"enum", K_ENUM},
	{"const", K_CONST},
	{"properties", K_PROPS},
	{"patternProperties", K_PATPROPS},
	{"additionalProperties", K_ADDL},
	{"required", K_REQUIRED},
	{"dependentRequired", K_DREQ},
	{"dependentSchemas", K_DSCH},
	{"propertyNames", K_PNAMES},
	{"items", K_ITEMS},
	{"prefixItems", K_PREFIX},
	{"contains", K_CONTAINS},
	{"minContains", K_MINC},
	{"maxContains", K_MAXC},
	{"minItems", K_MINITEMS},
	{"maxItems", K_MAXITEMS},
	{"uniqueItems", K_UNIQUE},
	{"minLength", K_MINLEN},
	{"maxLength", K_MAXLEN},
	{"pattern", K_PATTERN},
	{"minimum", K_MIN},
	{"maximum", K_MAX},
	{"exclusiveMinimum", K_XMIN},
	{"exclusiveMaximum", K_XMAX},
	{"multipleOf", K_MULT},
	{"allOf", K_ALL},
	{"anyOf", K_ANYOF},
	{"oneOf", K_ONE},
	{"not", K_NOT},
	{"if", K_IF},
	{"then", K_THEN},
	{"else", K_ELSE},
	{"unevaluatedProperties", K_UPROPS},
	{"unevaluatedItems", K_UITEMS},
	{"minProperties", K_MINPROPS},
	{"maxProperties", K_MAXPROPS},
	{"contentSchema", K_CSCHEMA},
	{"$dynamicRef", K_DYNREF},
	{"$dynamicAnchor", K_ANCHOR},
	{"$vocabulary", K_UNSUPPORTED},
};

/* Keywords of other drafts and dialects, with what 2020-12 says. */
static const char *const legacy[][2] = {
	{"definitions", "'$defs'"},
	{"dependencies", "'dependentRequired' or 'dependentSchemas'"},
	{"additionalItems", "'items' after 'prefixItems'"},
	{"$recursiveRef", "'$dynamicRef'"},
	{"$recursiveAnchor", "'$dynamicAnchor'"},
	{"nullable", "a type list such as [string, \"null\"]"},
};

static int kw_find(const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(keywords); i++)
		if (!strcmp(key, keywords[i].name))
			return (int)i;
	return -1;
}

static struct snode *compile(struct comp *cc, const struct ivalue *v,
			     const char *base);

/* Appends "/token" (JSON pointer escaping) to the path. */
static void path_push(struct strbuf *p, const char *tok, size_t len)
{
	strbuf_addch(p, '/');
	for (size_t i = 0; i < len; i++) {
		if (tok[i] == '~')
			strbuf_addstr(p, "~0");
		else if (tok[i] == '/')
			strbuf_addstr(p, "~1");
		else
			strbuf_addch(p, tok[i]);
	}
}

/* Compiles the subschema `v` found under the path token(s) given. */
static struct snode *sub(struct comp *cc, const struct ivalue *v,
			 const char *base, const char *tok, size_t toklen,
			 const char *tok2, size_t tok2len)
{
	size_t keep = cc->path.len;
	struct snode *n;
	path_push(&cc->path, tok, toklen);
	if (tok2)
		path_push(&cc->path, tok2, tok2len);
	n = compile(cc, v, base);
	strbuf_setlen(&cc->path, keep);
	return n;
}

static struct snode *sub_key(struct comp *cc, const struct imember *m,
			     const char *base)
{
	return sub(cc, m->val, base, m->key, m->klen, NULL, 0);
}

/* Is the number an integer in value (1.0 and 1e2 are)? */
static int num_is_integer(const struct ivalue *v);

static int get_count(struct comp *cc, const struct imember *m, uint64_t *out)
{
	const struct ivalue *v = m->val;
	if (v->type != IV_NUM || !num_is_integer(v) || v->u.num.d < 0)
		return err_set(cc->err, &v->loc,
			       "'%s' needs a non-negative integer, got %s",
			       m->key,
			       v->type == IV_NUM ? v->u.num.text : iv_kind(v));
	if (v->flags & IVF_INT)
		*out = (uint64_t)v->u.num.i;
	else
		*out = v->u.num.d >= 18446744073709551615.0
			       ? UINT64_MAX
			       : (uint64_t)v->u.num.d;
	return 0;
}

static int need_type(struct comp *cc, const struct imember *m, enum iv_type t,
		     const char *what)
{
	if (m->val->type == t)
		return 0;
	return err_set(cc->err, &m->val->loc, "'%s' needs %s, got %s", m->key,
		       what, iv_kind(m->val));
}

/* Unicode General_Category long names (ECMA-262 accepts them in \p{}),
 * with the short names PCRE2 knows. */
static const char *const gc_names[][2] = {
	{"Other", "C"},
	{"Control", "Cc"},
	{"Format", "Cf"},
	{"Unassigned", "Cn"},
	{"Private_Use", "Co"},
	{"Surrogate", "Cs"},
	{"Letter", "L"},
	{"Cased_Letter", "L&"},
	{"Lowercase_Letter", "Ll"},
	{"Modifier_Letter", "Lm"},
	{"Other_Letter", "Lo"},
	{"Titlecase_Letter", "Lt"},
	{"Uppercase_Letter", "Lu"},
	{"Mark", "M"},
	{"Combining_Mark", "M"},
	{"Spacing_Mark", "Mc"},
	{"Enclosing_Mark", "Me"},
	{"Nonspacing_Mark", "Mn"},
	{"Number", "N"},
	{"Decimal_Number", "Nd"},
	{"Letter_Number", "Nl"},
	{"Other_Number", "No"},
	{"Punctuation", "P"},
	{"Connector_Punctuation", "Pc"},
	{"Dash_Punctuation", "Pd"},
	{"Close_Punctuation", "Pe"},
	{"Final_Punctuation", "Pf"},
	{"Initial_Punctuation", "Pi"},
	{"Other_Punctuation", "Po"},
	{"Open_Punctuation", "Ps"},
	{"Symbol", "S"},
	{"Currency_Symbol", "Sc"},
	{"Modifier_Symbol", "Sk"},
	{"Math_Symbol", "Sm"},
	{"Other_Symbol", "So"},
	{"Separator", "Z"},
	{"Line_Separator", "Zl"},
	{"Paragraph_Separator", "Zp"},
	{"Space_Separator", "Zs"},
};

/* Appends the pattern with ECMA-262's \p{Long_Name}, \p{gc=X} and
 * \p{Script=X} written as PCRE2 10.42 reads them. */
static void ecma_pattern(struct strbuf *out, const char *p, size_t len)
{
	static const char *const prefixes[] = {
		"General_Category=", "gc=", "Script_Extensions=", "scx=",
		"Script=",	     "sc=",
	};
	for (size_t i = 0; i < len; i++) {
		const char *close;
		if (p[i] != '\\' || i + 1 >= len) {
			strbuf_addch(out, p[i]);
			continue;
		}
		if ((p[i + 1] != 'p' && p[i + 1] != 'P') || i + 2 >= len ||
		    p[i + 2] != '{' ||
		    !(close = memchr(p + i + 3, '}', len - i - 3))) {
			strbuf_add(out, p + i, 2);
			i++;
			continue;
		}
		const char *name = p + i + 3;
		size_t nlen = (size_t)(close - name);
		for (size_t k = 0; k < ARRAY_SIZE(prefixes); k++) {
			size_t pl = strlen(prefixes[k]);
			if (nlen > pl && !memcmp(name, prefixes[k], pl)) {
				name += pl;
				nlen -= pl;
				break;
			}
		}
		for (size_t k = 0; k < ARRAY_SIZE(gc_names); k++)
			if (strlen(gc_names[k][0]) == nlen &&
			    !memcmp(name, gc_names[k][0], nlen)) {
				name = gc_names[k][1];
				nlen = strlen(name);
				break;
			}
		strbuf_add(out, p + i, 3);
		strbuf_add(out, name, nlen);
		strbuf_addch(out, '}');
		i = (size_t)(close - p);
	}
}

static pcre2_code *regex_compile(struct comp *cc, const struct ivalue *v)
{
	int code;
	PCRE2_SIZE off;
	struct strbuf pat = STRBUF_INIT;
	pcre2_code *re;
	ecma_pattern(&pat, v->u.str.s, v->u.str.len);
	re = pcre2_compile((PCRE2_SPTR)pat.buf, pat.len, PCRE2_UTF, &code, &off,
			   NULL);
	if (!re) {
		PCRE2_UCHAR text[256];
		pcre2_get_error_message(code, text, sizeof(text));
		err_set(cc->err, &v->loc,
			"invalid regex '%s': %s at offset %zu", v->u.str.s,
			(const char *)text, (size_t)off);
	}
	strbuf_release(&pat);
	return re;
}

/* A non-empty array of schemas. */
static int schema_list(struct comp *cc, const struct imember *m,
		       const char *base, struct snode ***out, size_t *n)
{
	const struct ivalue *v = m->val;
	if (v->type != IV_ARR || !v->u.arr.n)
		return err_set(cc->err, &v->loc,
			       "'%s' needs a non-empty list of schemas, got %s",
			       m->key,
			       v->type == IV_ARR ? "an empty list"
						 : iv_kind(v));
	*out = xcalloc(v->u.arr.n, sizeof(**out));
	*n = v->u.arr.n;
	for (size_t i = 0; i < v->u.arr.n; i++) {
		char idx[24];
		snprintf(idx, sizeof(idx), "%zu", i);
		(*out)[i] = sub(cc, v->u.arr.v[i], base, m->key, m->klen, idx,
				strlen(idx));
		if (!(*out)[i])
			return -1;
	}
	return 0;
}

/* An array of distinct strings (required, dependentRequired). */
static int string_set(struct comp *cc, const char *kw, const struct ivalue *v)
{
	if (v->type != IV_ARR)
		return err_set(cc->err, &v->loc,
			       "'%s' needs a list of property names, got %s",
			       kw, iv_kind(v));
	for (size_t i = 0; i < v->u.arr.n; i++) {
		const struct ivalue *e = v->u.arr.v[i];
		if (e->type != IV_STR)
			return err_set(cc->err, &e->loc,
				       "'%s' needs property names, got %s", kw,
				       iv_kind(e));
		for (size_t j = 0; j < i; j++)
			if (iv_equal(e, v->u.arr.v[j]))
				return err_set(cc->err, &e->loc,
					       "duplicate name '%s' in '%s'",
					       e->u.str.s, kw);
	}
	return 0;
}

static int prop_cmp(const void *a, const void *b)
{
	const struct sprop *x = a, *y = b;
	size_t n = x->klen < y->klen ? x->klen : y->klen;
	int r = memcmp(x->key, y->key, n);
	if (r)
		return r;
	return x->klen < y->klen ? -1 : x->klen > y->klen;
}

static int compile_type(struct comp *cc, struct snode *n,
			const struct ivalue *v)
{
	const struct ivalue *one = v;
	size_t count = 1;
	if (v->type == IV_ARR) {
		count = v->u.arr.n;
		if (!count)
			return err_set(cc->err, &v->loc,
				       "'type' needs a type name or a "
				       "non-empty list of them");
	}
	for (size_t i = 0; i < count; i++) {
		if (v->type == IV_ARR)
			one = v->u.arr.v[i];
		if (one->type == IV_NULL)
			return err_set(cc->err, &one->loc,
				       "'type' needs a type name, got null "
				       "(in YAML, write \"null\" in quotes)");
		if (one->type != IV_STR)
			return err_set(cc->err, &one->loc,
				       "'type' needs a type name, got %s",
				       iv_kind(one));
		size_t k = 0;
		while (type_names[k] && strcmp(type_names[k], one->u.str.s))
			k++;
		if (!type_names[k]) {
			const char *hint =
				suggest_name(one->u.str.s, type_names);
			if (hint)
				return err_set(cc->err, &one->loc,
					       "unknown type '%s' (did you "
					       "mean '%s'?)",
					       one->u.str.s, hint);
			return err_set(cc->err, &one->loc,
				       "unknown type '%s' (use null, boolean, "
				       "integer, number, string, array or "
				       "object)",
				       one->u.str.s);
		}
		if (n->types & (1u << k))
			return err_set(cc->err, &one->loc,
				       "duplicate type '%s' in 'type'",
				       one->u.str.s);
		n->types |= 1u << k;
	}
	return 0;
}

static int add_resource(struct comp *cc, const char *uri,
			const struct ivalue *root, const struct itest_loc *loc)
{
	struct jschema *s = cc->s;
	for (size_t i = 0; i < s->nres; i++)
		if (!strcmp(s->res[i].uri, uri)) {
			if (s->res[i].root == root)
				return 0;
			return err_set(cc->err, loc,
				       "'$id' '%s' names two schemas", uri);
		}
	XGROW(s->res, s->ares, s->nres + 1);
	s->res[s->nres].uri = xstrdup(uri);
	s->res[s->nres++].root = root;
	return 0;
}

static int valid_anchor(const char *a)
{
	if (!is_alpha((unsigned char)*a) && *a != '_')
		return 0;
	for (a++; *a; a++) {
		int c = (unsigned char)*a;
		if (!is_alpha(c) && !is_digit(c) && !strchr("-._", c))
			return 0;
	}
	return 1;
}

/* Registers $anchor (or $dynamicAnchor, which is an anchor too). */
static int add_anchor(struct comp *cc, struct snode *n, const struct imember *m,
		      const char *base, int dynamic)
{
	struct jschema *s = cc->s;
	char *uri;
	if (m->val->type != IV_STR)
		return need_type(cc, m, IV_STR, "a name");
	if (!valid_anchor(m->val->u.str.s))
		return err_set(cc->err, &m->val->loc,
			       "invalid %s '%s' (a letter or '_', then "
			       "letters, digits, '-', '.', '_')",
			       m->key, m->val->u.str.s);
	uri = xasprintf("%s#%s", base, m->val->u.str.s);
	for (size_t i = 0; i < s->nanc; i++)
		if (!strcmp(s->anc[i].uri, uri) && s->anc[i].node != n) {
			free(uri);
			return err_set(cc->err, &m->val->loc,
				       "duplicate anchor '%s'",
				       m->val->u.str.s);
		}
	XGROW(s->anc, s->aanc, s->nanc + 1);
	s->anc[s->nanc].uri = uri;
	s->anc[s->nanc++].node = n;
	if (dynamic) {
		n->dyn_anchor = m->val->u.str.s;
		XGROW(s->danc, s->adanc, s->ndanc + 1);
		s->danc[s->ndanc].uri = xstrdup(uri);
		s->danc[s->ndanc++].node = n;
	}
	return 0;
}

/* $schema, $id and $anchor: before the other keywords, since $id
 * changes the base URI they resolve against. */
static int compile_ids(struct comp *cc, struct snode *n, const struct ivalue *v,
		       const char **base)
{
	const struct imember *m;
	if ((m = iv_member(v, "$schema"))) {
		const char *d = iv_strval(m->val);
		size_t len = d ? strlen(d) : 0;
		if (!d)
			return need_type(cc, m, IV_STR, "a URI");
		if (len && d[len - 1] == '#')
			len--;
		if (len != strlen(DIALECT) || memcmp(d, DIALECT, len))
			return err_set(cc->err, &m->val->loc,
				       "unsupported $schema '%s' (itest "
				       "validates JSON Schema 2020-12: '%s')",
				       d, DIALECT);
	}
	if ((m = iv_member(v, "$id"))) {
		struct uri u;
		if (m->val->type != IV_STR)
			return need_type(cc, m, IV_STR, "a URI");
		uri_parse(m->val->u.str.s, &u);
		if (u.has_frag && m->val->u.str.s[u.f_off])
			return err_set(cc->err, &m->val->loc,
				       "'$id' '%s' must not have a fragment "
				       "(use '$anchor')",
				       m->val->u.str.s);
		char *id = uri_resolve(*base, m->val->u.str.s);
		size_t len = strlen(id);
		if (len && id[len - 1] == '#')
			id[len - 1] = '\0';
		*base = keep_str(cc->s, id);
		if (add_resource(cc, id, v, &m->val->loc))
			return -1;
	}
	n->res_uri = *base;
	if ((m = iv_member(v, "$anchor")) && add_anchor(cc, n, m, *base, 0))
		return -1;
	if ((m = iv_member(v, "$dynamicAnchor")) &&
	    add_anchor(cc, n, m, *base, 1))
		return -1;
	return 0;
}

/* A map whose values are schemas: properties, $defs, dependentSchemas. */
static int schema_map(struct comp *cc, const struct imember *m,
		      const char *base, struct sprop **out, size_t *n)
{
	const struct ivalue *v = m->val;
	if (v->type != IV_OBJ)
		return need_type(cc, m, IV_OBJ, "a map of schemas");
	if (out) {
		*out = xcalloc(v->u.obj.n ? v->u.obj.n : 1, sizeof(**out));
		*n = v->u.obj.n;
	}
	for (size_t i = 0; i < v->u.obj.n; i++) {
		const struct imember *e = &v->u.obj.m[i];
		struct snode *s =
			sub(cc, e->val, base, m->key, m->klen, e->key, e->klen);
		if (!s)
			return -1;
		if (out)
			(*out)[i] = (struct sprop){e->key, e->klen, s};
	}
	return 0;
}

static int compile_kw(struct comp *cc, struct snode *n, const struct imember *m,
		      enum kw k, const char *base)
{
	const struct ivalue *v = m->val;
	struct sprop *tmp = NULL;
	size_t ntmp = 0;
	switch (k) {
	case K_SCHEMA:
	case K_ID:
	case K_ANCHOR:
	case K_ANY:
		return 0;
	case K_STRING:
		return need_type(cc, m, IV_STR, "a string");
	case K_BOOL:
		return need_type(cc, m, IV_BOOL, "true or false");
	case K_ARRAY:
		return need_type(cc, m, IV_ARR, "a list");
	case K_DEFS:
		return schema_map(cc, m, base, NULL, NULL);
	case K_REF: {
		if (v->type != IV_STR)
			return need_type(cc, m, IV_STR, "a URI reference");
		n->ref_uri = uri_resolve(base, v->u.str.s);
		n->ref_src = v;
		return 0;
	}
	case K_DYNREF: {
		const char *hash;
		if (v->type != IV_STR)
			return need_type(cc, m, IV_STR, "a URI reference");
		n->dref_uri = uri_resolve(base, v->u.str.s);
		n->dref_src = v;
		hash = strchr(n->dref_uri, '#');
		if (hash && valid_anchor(hash + 1))
			n->dref_name = hash + 1;
		return 0;
	}
	case K_TYPE:
		return compile_type(cc, n, v);
	case K_ENUM:
		if (v->type != IV_ARR)
			return need_type(cc, m, IV_ARR, "a list of values");
		n->enumv = v;
		return 0;
	case K_CONST:
		n->constv = v;
		return 0;
	case K_PROPS:
		if (schema_map(cc, m, base, &n->props, &n->nprops))
			return -1;
		qsort(n->props, n->nprops, sizeof(*n->props), prop_cmp);
		return 0;
	case K_PATPROPS:
		if (v->type != IV_OBJ)
			return need_type(cc, m, IV_OBJ,
					 "a map of patterns to schemas");
		n->pats =
			xcalloc(v->u.obj.n ? v->u.obj.n : 1, sizeof(*n->pats));
		for (size_t i = 0; i < v->u.obj.n; i++) {
			const struct imember *e = &v->u.obj.m[i];
			struct ivalue key;
			memset(&key, 0, sizeof(key));
			key.type = IV_STR;
			key.loc = e->kloc;
			key.u.str.s = e->key;
			key.u.str.len = e->klen;
			n->pats[i].re = regex_compile(cc, &key);
			if (!n->pats[i].re)
				return -1;
			n->npats = i + 1;
			n->pats[i].pat = e->key;
			n->pats[i].s = sub(cc, e->val, base, m->key, m->klen,
					   e->key, e->klen);
			if (!n->pats[i].s)
				return -1;
		}
		return 0;
	case K_ADDL:
		return !(n->addl = sub_key(cc, m, base)) ? -1 : 0;
	case K_REQUIRED:
		if (string_set(cc, m->key, v))
			return -1;
		n->required = v;
		return 0;
	case K_DREQ:
		if (v->type != IV_OBJ)
			return need_type(cc, m, IV_OBJ,
					 "a map of property names to lists");
		n->dreq =
			xcalloc(v->u.obj.n ? v->u.obj.n : 1, sizeof(*n->dreq));
		n->ndreq = v->u.obj.n;
		for (size_t i = 0; i < v->u.obj.n; i++) {
			const struct imember *e = &v->u.obj.m[i];
			if (string_set(cc, m->key, e->val))
				return -1;
			n->dreq[i] =
				(struct sdep){e->key, e->klen, e->val, NULL};
		}
		return 0;
	case K_DSCH:
		if (schema_map(cc, m, base, &tmp, &ntmp)) {
			free(tmp);
			return -1;
		}
		n->dsch = xcalloc(ntmp ? ntmp : 1, sizeof(*n->dsch));
		n->ndsch = ntmp;
		for (size_t i = 0; i < ntmp; i++)
			n->dsch[i] = (struct sdep){tmp[i].key, tmp[i].klen,
						   NULL, tmp[i].s};
		free(tmp);
		return 0;
	case K_PNAMES:
		return !(n->names = sub_key(cc, m, base)) ? -1 : 0;
	case K_ITEMS:
		return !(n->items = sub_key(cc, m, base)) ? -1 : 0;
	case K_PREFIX:
		return schema_list(cc, m, base, &n->prefix, &n->nprefix);
	case K_CONTAINS:
		return !(n->contains = sub_key(cc, m, base)) ? -1 : 0;
	case K_MINC:
		return get_count(cc, m, &n->min_contains);
	case K_MAXC:
		return get_count(cc, m, &n->max_contains);
	case K_MINITEMS:
		return get_count(cc, m, &n->min_items);
	case K_MAXITEMS:
		return get_count(cc, m, &n->max_items);
	case K_UNIQUE:
		if (need_type(cc, m, IV_BOOL, "true or false"))
			return -1;
		n->unique = v->u.b;
		return 0;
	case K_MINLEN:
		return get_count(cc, m, &n->min_len);
	case K_MAXLEN:
		return get_count(cc, m, &n->max_len);
	case K_PATTERN:
		if (need_type(cc, m, IV_STR, "a regex"))
			return -1;
		n->pattern_src = v;
		return !(n->pattern = regex_compile(cc, v)) ? -1 : 0;
	case K_MIN:
	case K_MAX:
	case K_XMIN:
	case K_XMAX:
	case K_MULT:
		if (need_type(cc, m, IV_NUM, "a number"))
			return -1;
		if (isnan(v->u.num.d))
			return err_set(cc->err, &v->loc,
				       "'%s' needs a number, got NaN", m->key);
		if (k == K_MIN)
			n->minimum = v;
		else if (k == K_MAX)
			n->maximum = v;
		else if (k == K_XMIN)
			n->xminimum = v;
		else if (k == K_XMAX)
			n->xmaximum = v;
		else if (v->u.num.d <= 0)
			return err_set(cc->err, &v->loc,
				       "'multipleOf' needs a number greater "
				       "than 0, got %s",
				       v->u.num.text);
		else
			n->multiple_of = v;
		return 0;
	case K_ALL:
		return schema_list(cc, m, base, &n->all, &n->nall);
	case K_ANYOF:
		return schema_list(cc, m, base, &n->any, &n->nany);
	case K_ONE:
		return schema_list(cc, m, base, &n->one, &n->none);
	case K_NOT:
		return !(n->not = sub_key(cc, m, base)) ? -1 : 0;
	case K_IF:
		return !(n->if_ = sub_key(cc, m, base)) ? -1 : 0;
	case K_THEN:
		return !(n->then_ = sub_key(cc, m, base)) ? -1 : 0;
	case K_ELSE:
		return !(n->else_ = sub_key(cc, m, base)) ? -1 : 0;
	case K_UPROPS:
		return !(n->uprops = sub_key(cc, m, base)) ? -1 : 0;
	case K_UITEMS:
		return !(n->uitems = sub_key(cc, m, base)) ? -1 : 0;
	case K_MINPROPS:
		return get_count(cc, m, &n->min_props);
	case K_MAXPROPS:
		return get_count(cc, m, &n->max_props);
	case K_CSCHEMA:
		/* an annotation, but its keywords are checked all the same */
		return !sub_key(cc, m, base) ? -1 : 0;
	case K_UNSUPPORTED:
		return err_set(cc->err, &m->kloc,
			       "keyword '%s' is not supported", m->key);
	}
	return 0;
}

static int unknown_keyword(struct comp *cc, const struct imember *m)
{
	const char *names[ARRAY_SIZE(keywords) + 1], *hint;
	for (size_t i = 0; i < ARRAY_SIZE(legacy); i++)
		if (!strcmp(m->key, legacy[i][0]))
			return err_set(cc->err, &m->kloc,
				       "unknown JSON Schema keyword '%s' (in "
				       "2020-12: %s)",
				       m->key, legacy[i][1]);
	for (size_t i = 0; i < ARRAY_SIZE(keywords); i++)
		names[i] = keywords[i].name;
	names[ARRAY_SIZE(keywords)] = NULL;
	hint = suggest_name(m->key, names);
	if (hint)
		return err_set(cc->err, &m->kloc,
			       "unknown JSON Schema keyword '%s' (did you "
			       "mean '%s'?)",
			       m->key, hint);
	return err_set(cc->err, &m->kloc, "unknown JSON Schema keyword '%s'",
		       m->key);
}

static struct snode *compile(struct comp *cc, const struct ivalue *v,
			     const char *base)
{
	struct jschema *s = cc->s;
	struct snode *n;
	if (v->type != IV_OBJ && v->type != IV_BOOL) {
		err_set(cc->err, &v->loc,
			"a schema must be a map or a boolean, got %s",
			iv_kind(v));
		return NULL;
	}
	if (cc->depth >= NEST_MAX) {
		err_set(cc->err, &v->loc, "schema nested too deeply");
		return NULL;
	}
	n = xcalloc(1, sizeof(*n));
	n->src = v;
	n->path = xasprintf("%s#%s", cc->docname, cc->path.buf);
	n->max_len = n->max_items = n->max_props = UINT64_MAX;
	n->max_contains = UINT64_MAX;
	n->min_contains = 1;
	XGROW(s->nodes, s->anodes, s->nnodes + 1);
	s->nodes[s->nnodes++] = n;
	if (v->type == IV_BOOL) {
		n->boolv = v->u.b;
		return n;
	}
	n->boolv = -1;
	cc->depth++;
	if (compile_ids(cc, n, v, &base))
		goto fail;
	for (size_t i = 0; i < v->u.obj.n; i++) {
		const struct imember *m = &v->u.obj.m[i];
		int k = kw_find(m->key);
		if (k < 0) {
			unknown_keyword(cc, m);
			goto fail;
		}
		if (compile_kw(cc, n, m, keywords[k].kind, base))
			goto fail;
	}
	cc->depth--;
	return n;
fail:
	cc->depth--;
	return NULL;
}

/* Compiles document `doc` (owned by the schema from now on). */
static struct snode *compile_doc(struct comp *cc, struct ivalue *doc,
				 const char *uri, const char *docname)
{
	struct jschema *s = cc->s;
	const char *save = cc->docname, *base;
	struct snode *n;
	XGROW(s->docs, s->adocs, s->ndocs + 1);
	s->docs[s->ndocs++] = doc;
	if (add_resource(cc, uri, doc, &doc->loc))
		return NULL;
	cc->docname = docname;
	strbuf_reset(&cc->path);
	base = keep_str(s, xstrdup(uri));
	n = compile(cc, doc, base);
	cc->docname = save;
	return n;
}

/* ---- resolving references ---- */

static int node_cmp(const void *a, const void *b)
{
	const struct snode *x = *(const struct snode *const *)a;
	const struct snode *y = *(const struct snode *const *)b;
	uintptr_t p = (uintptr_t)x->src, q = (uintptr_t)y->src;
	return p < q ? -1 : p > q;
}

static struct snode *node_at(struct comp *cc, const struct ivalue *v)
{
	struct jschema *s = cc->s;
	struct snode **sorted;
	size_t lo = 0, hi = s->nnodes;
	if (cc->nsorted != s->nnodes) {
		free(cc->sorted);
		cc->sorted = xmalloc(s->nnodes * sizeof(*cc->sorted));
		memcpy(cc->sorted, s->nodes, s->nnodes * sizeof(*cc->sorted));
		qsort(cc->sorted, s->nnodes, sizeof(*cc->sorted), node_cmp);
		cc->nsorted = s->nnodes;
	}
	sorted = cc->sorted;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uintptr_t p = (uintptr_t)sorted[mid]->src;
		if (p == (uintptr_t)v)
			return sorted[mid];
		if (p < (uintptr_t)v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static const struct resource *find_resource(const struct jschema *s,
					    const char *uri)
{
	for (size_t i = 0; i < s->nres; i++)
		if (!strcmp(s->res[i].uri, uri))
			return &s->res[i];
	return NULL;
}

/* The path to show for a file: relative to the cwd when inside it. */
static char *display_path(const char *abs)
{
	char *cwd = getcwd(NULL, 0);
	char *out = NULL;
	size_t n = cwd ? strlen(cwd) : 0;
	if (n && !strncmp(abs, cwd, n) && abs[n] == '/')
		out = xstrdup(abs + n + 1);
	else if (n == 1 && abs[0] == '/')
		out = xstrdup(abs + 1);
	free(cwd);
	return out ? out : xstrdup(abs);
}

/* Can `path` be read as a schema (a regular file: not /dev/zero or a
 * FIFO that would never end)?  `shown` names it in the message. */
static int readable_file(const char *path, struct itest_err *err,
			 const struct itest_loc *loc, const char *shown)
{
	struct stat st;
	if (stat(path, &st) < 0 || access(path, R_OK) < 0)
		return err_set(err, loc, "cannot read schema file '%s': %s",
			       shown, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return err_set(err, loc,
			       "cannot read schema file '%s': not a regular "
			       "file",
			       shown);
	return 0;
}

/* Reads the file `path` as a document of the schema. */
static struct snode *load_file(struct comp *cc, const char *path,
			       const char *uri, const struct itest_loc *from)
{
	struct itest_err yerr = ITEST_ERR_INIT;
	char *shown = display_path(path);
	const struct itest_src *src;
	struct ivalue *doc;
	if (++cc->nfiles > FILES_MAX) {
		err_set(cc->err, from, "a schema may reach at most %d files",
			FILES_MAX);
		free(shown);
		return NULL;
	}
	if (readable_file(path, cc->err, from, shown)) {
		free(shown);
		return NULL;
	}
	src = srclist_add(cc->sl, shown, from ? from->src : NULL,
			  from ? from->line : 0, from ? from->col : 0);
	doc = yaml_load_file(src, &yerr);
	if (!doc) {
		if (!cc->err->set)
			*cc->err = yerr;
		free(shown);
		return NULL;
	}
	struct snode *n = compile_doc(cc, doc, uri, keep_str(cc->s, shown));
	return n;
}

/* The node a JSON pointer (already percent-decoded) names in `root`. */
static const struct ivalue *pointer_walk(const struct ivalue *root,
					 const char *ptr)
{
	const struct ivalue *v = root;
	struct strbuf tok = STRBUF_INIT;
	if (*ptr && *ptr != '/')
		return NULL;
	while (v && *ptr == '/') {
		ptr++;
		strbuf_reset(&tok);
		for (; *ptr && *ptr != '/'; ptr++) {
			if (*ptr == '~' && (ptr[1] == '0' || ptr[1] == '1')) {
				strbuf_addch(&tok, ptr[1] == '0' ? '~' : '/');
				ptr++;
			} else {
				strbuf_addch(&tok, *ptr);
			}
		}
		if (v->type == IV_OBJ) {
			v = iv_getn(v, tok.buf, tok.len);
		} else if (v->type == IV_ARR) {
			size_t idx = 0;
			int ok = tok.len > 0 &&
				 (tok.len == 1 || tok.buf[0] != '0');
			for (size_t i = 0; i < tok.len && ok; i++) {
				if (!is_digit((unsigned char)tok.buf[i]) ||
				    idx > (SIZE_MAX - 9) / 10)
					ok = 0;
				else
					idx = idx * 10 +
					      (size_t)(tok.buf[i] - '0');
			}
			v = ok && idx < v->u.arr.n ? v->u.arr.v[idx] : NULL;
		} else {
			v = NULL;
		}
	}
	strbuf_release(&tok);
	return v;
}

/* The node the absolute URI `uri` names; `src` is the reference as
 * written, for messages. */
static struct snode *resolve(struct comp *cc, const char *uri,
			     const struct ivalue *src)
{
	struct jschema *s = cc->s;
	const struct itest_loc *loc = &src->loc;
	const char *written = src->u.str.s;
	const char *hash = strchr(uri, '#');
	char *abs = xstrndup(uri, hash ? (size_t)(hash - uri) : strlen(uri));
	struct snode *node = NULL;
	struct strbuf frag = STRBUF_INIT;
	const struct resource *r;
	if (hash)
		pct_decode(&frag, hash + 1, strlen(hash + 1));
	if (has_scheme(abs, "file")) {
		char *path = NULL, *canon = file_uri_canon(abs, &path);
		if (!canon) {
			err_set(cc->err, loc, "cannot resolve $ref '%s'",
				written);
			free(path);
			goto out;
		}
		free(abs);
		abs = canon;
		if (!find_resource(s, abs) && !load_file(cc, path, abs, loc)) {
			free(path);
			goto out;
		}
		free(path);
	}
	r = find_resource(s, abs);
	if (!r) {
		if (has_scheme(abs, "http") || has_scheme(abs, "https"))
			err_set(cc->err, loc,
				"remote $ref '%s' is not supported (itest "
				"reads schemas from local files only)",
				abs);
		else
			err_set(cc->err, loc,
				"cannot resolve $ref '%s' (no schema has the "
				"URI '%s')",
				written, abs);
		goto out;
	}
	if (frag.len && frag.buf[0] != '/') {
		char *key = xasprintf("%s#%s", abs, frag.buf);
		for (size_t i = 0; i < s->nanc && !node; i++)
			if (!strcmp(s->anc[i].uri, key))
				node = s->anc[i].node;
		free(key);
		if (!node)
			err_set(cc->err, loc, "$ref '%s': no $anchor '%s'",
				written, frag.buf);
		goto out;
	}
	const struct ivalue *target = pointer_walk(r->root, frag.buf);
	if (!target) {
		err_set(cc->err, loc, "$ref '%s' points to nothing", written);
		goto out;
	}
	node = node_at(cc, target);
	if (!node)
		err_set(cc->err, loc, "$ref '%s' does not point to a schema",
			written);
out:
	free(abs);
	strbuf_release(&frag);
	return node;
}

static int link_refs(struct comp *cc, struct snode *n)
{
	if (n->ref_uri && !n->ref &&
	    !(n->ref = resolve(cc, n->ref_uri, n->ref_src)))
		return -1;
	if (n->dref_uri && !n->dref &&
	    !(n->dref = resolve(cc, n->dref_uri, n->dref_src)))
		return -1;
	return 0;
}

static struct jschema *finish(struct comp *cc, struct snode *root)
{
	struct jschema *s = cc->s;
	if (root) {
		s->root = root;
		/* loading a file appends nodes: walk until none is left */
		for (size_t i = 0; i < s->nnodes; i++) {
			struct snode *n = s->nodes[i];
			if (link_refs(cc, n))
				break;
		}
	}
	strbuf_release(&cc->path);
	free(cc->sorted);
	if (cc->err->set) {
		schema_free(s);
		return NULL;
	}
	return s;
}

struct jschema *schema_load(struct srclist *sl, const char *path,
			    struct itest_err *err)
{
	struct comp cc = {xcalloc(1, sizeof(struct jschema)),
			  sl,
			  err,
			  "",
			  STRBUF_INIT,
			  0,
			  0,
			  NULL,
			  0};
	char *abs = abs_path(path);
	char *uri = file_uri(abs);
	const struct itest_src *src = srclist_add(sl, path, NULL, 0, 0);
	struct itest_loc at = {src, 0, 0};
	struct ivalue *doc = NULL;
	struct snode *root = NULL;
	cc.nfiles = 1;
	if (!readable_file(path, err, &at, path))
		doc = yaml_load_file(src, err);
	if (doc)
		root = compile_doc(&cc, doc, uri, "");
	free(abs);
	free(uri);
	return finish(&cc, root);
}

struct jschema *schema_compile(struct srclist *sl, const struct ivalue *doc,
			       const char *base_dir, struct itest_err *err)
{
	struct comp cc = {xcalloc(1, sizeof(struct jschema)),
			  sl,
			  err,
			  "",
			  STRBUF_INIT,
			  0,
			  0,
			  NULL,
			  0};
	char *abs = abs_path(base_dir && *base_dir ? base_dir : ".");
	struct strbuf uri = STRBUF_INIT;
	struct snode *root;
	strbuf_addstr(&uri, "file://");
	pct_encode_path(&uri, abs);
	if (uri.buf[uri.len - 1] != '/')
		strbuf_addch(&uri, '/');
	root = compile_doc(&cc, iv_clone(doc), uri.buf, "");
	strbuf_release(&uri);
	free(abs);
	return finish(&cc, root);
}

/* ---- numbers ---- */

/* A decimal as digits * 10^exp, digits without leading or trailing
 * zeros (none at all for zero). */
struct dec {
	char *dig;
	size_t ndig;
	int64_t exp;
};

static int dec_parse(const char *t, struct dec *d)
{
	const char *p = t;
	int64_t e = 0, frac = 0;
	size_t n = 0, lead = 0;
	d->dig = xmalloc(strlen(t) + 1);
	d->ndig = 0;
	d->exp = 0;
	if (*p == '-' || *p == '+')
		p++;
	if (!is_digit((unsigned char)*p) && *p != '.')
		goto bad;
	for (; is_digit((unsigned char)*p); p++)
		d->dig[n++] = *p;
	if (*p == '.') {
		for (p++; is_digit((unsigned char)*p); p++, frac++)
			d->dig[n++] = *p;
	}
	if (!n)
		goto bad;
	if (*p == 'e' || *p == 'E') {
		int neg = 0;
		p++;
		if (*p == '-' || *p == '+')
			neg = *p++ == '-';
		if (!is_digit((unsigned char)*p))
			goto bad;
		for (; is_digit((unsigned char)*p); p++) {
			if (e > 100000000)
				goto bad;
			e = e * 10 + (*p - '0');
		}
		if (neg)
			e = -e;
	}
	if (*p)
		goto bad;
	while (lead < n && d->dig[lead] == '0')
		lead++;
	memmove(d->dig, d->dig + lead, n - lead);
	n -= lead;
	d->exp = e - frac;
	while (n && d->dig[n - 1] == '0') {
		n--;
		d->exp++;
	}
	d->ndig = n;
	return 1;
bad:
	free(d->dig);
	d->dig = NULL;
	return 0;
}

static int num_is_integer(const struct ivalue *v)
{
	struct dec d;
	int r;
	if (v->flags & IVF_INT)
		return 1;
	if (!dec_parse(v->u.num.text, &d))
		return isfinite(v->u.num.d) && floor(v->u.num.d) == v->u.num.d;
	r = !d.ndig || d.exp >= 0;
	free(d.dig);
	return r;
}

__extension__ typedef unsigned __int128 u128;

static uint64_t pow10_mod(int64_t k, uint64_t m)
{
	uint64_t r = 1 % m, b = 10 % m;
	while (k > 0) {
		if (k & 1)
			r = (uint64_t)((u128)r * b % m);
		b = (uint64_t)((u128)b * b % m);
		k >>= 1;
	}
	return r;
}

/* Is `v` a multiple of `m` (> 0)?  Exact for every decimal whose
 * divisor has at most 19 significant digits. */
static int multiple_of(const struct ivalue *v, const struct ivalue *m)
{
	struct dec a, b;
	int r = -1;
	if ((v->flags & IVF_INT) && (m->flags & IVF_INT))
		return m->u.num.i > 0 && v->u.num.i % m->u.num.i == 0;
	if (dec_parse(v->u.num.text, &a)) {
		if (dec_parse(m->u.num.text, &b)) {
			if (!a.ndig) {
				r = 1;
			} else if (a.exp < b.exp) {
				r = 0;
			} else if (b.ndig && b.ndig <= 19) {
				uint64_t mod = 0, rem = 0;
				for (size_t i = 0; i < b.ndig; i++)
					mod = mod * 10 +
					      (uint64_t)(b.dig[i] - '0');
				for (size_t i = 0; i < a.ndig; i++)
					rem = (uint64_t)(((u128)rem * 10 +
							  (uint64_t)(a.dig[i] -
								     '0')) %
							 mod);
				rem = (uint64_t)((u128)rem *
						 pow10_mod(a.exp - b.exp, mod) %
						 mod);
				r = rem == 0;
			}
			free(b.dig);
		}
		free(a.dig);
	}
	if (r < 0) {
		double q = v->u.num.d / m->u.num.d;
		r = isfinite(q) && fabs(q - nearbyint(q)) < 1e-9;
	}
	return r;
}

/* ---- validating ---- */

struct vctx {
	const struct jschema *s;
	const char **scope; /* the dynamic scope: resources entered */
	size_t nscope, ascope;
	struct strbuf *why;
	struct strbuf ipath; /* "$.items[0]" */
	int quiet;	     /* > 0: failures are not reported */
	int depth, hops;
	int lines, dropped;
	struct strbuf limit; /* why validation stopped (-1) */
	pcre2_match_context *mc;
};

static void show(struct strbuf *out, const struct ivalue *v)
{
	struct strbuf t = STRBUF_INIT;
	json_emit(&t, v, 0);
	strbuf_add_cut(out, t.buf, t.len, SHOW_MAX,
		       v->type == IV_STR ? v->u.str.len : t.len);
	strbuf_release(&t);
}

/*
 * A failure line: "IPATH: WHAT (at SCHEMAPATH), got VALUE"; `inst` NULL
 * leaves out the value.  Nothing while quiet; at most ERRORS_MAX lines.
 */
ITEST_PRINTF(4, 5)
static void fail(struct vctx *c, const struct snode *n,
		 const struct ivalue *inst, const char *fmt, ...)
{
	va_list ap;
	if (c->quiet)
		return;
	if (c->lines >= ERRORS_MAX) {
		c->dropped++;
		return;
	}
	c->lines++;
	strbuf_add(c->why, c->ipath.buf, c->ipath.len);
	strbuf_addstr(c->why, ": ");
	va_start(ap, fmt);
	strbuf_vaddf(c->why, fmt, ap);
	va_end(ap);
	strbuf_addf(c->why, " (at %s)", n->path);
	if (inst) {
		strbuf_addstr(c->why, ", got ");
		show(c->why, inst);
	}
	strbuf_addch(c->why, '\n');
}

ITEST_PRINTF(2, 3) static int limit(struct vctx *c, const char *fmt, ...)
{
	va_list ap;
	if (c->limit.len)
		return -1;
	strbuf_add(&c->limit, c->ipath.buf, c->ipath.len);
	strbuf_addstr(&c->limit, ": ");
	va_start(ap, fmt);
	strbuf_vaddf(&c->limit, fmt, ap);
	va_end(ap);
	return -1;
}

static void ipath_key(struct strbuf *p, const char *key, size_t len)
{
	int ident = len > 0 && !is_digit((unsigned char)key[0]);
	for (size_t i = 0; i < len && ident; i++) {
		int ch = (unsigned char)key[i];
		ident = is_alpha(ch) || is_digit(ch) || ch == '_';
	}
	if (ident) {
		strbuf_addch(p, '.');
		strbuf_add(p, key, len);
	} else {
		strbuf_addstr(p, "[\"");
		strbuf_add_json_escaped(p, key, len);
		strbuf_addstr(p, "\"]");
	}
}

static size_t utf8_len(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	return n;
}

/* 1: the regex finds a match in s; 0: not; -1: match limit. */
static int regex_search(struct vctx *c, const pcre2_code *re, const char *pat,
			const char *s, size_t len)
{
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
	int rc;
	if (!md)
		return limit(c, "out of memory for a regex match");
	rc = pcre2_match(re, (PCRE2_SPTR)s, len, 0, 0, md, c->mc);
	pcre2_match_data_free(md);
	if (rc >= 0)
		return 1;
	if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
	    rc == PCRE2_ERROR_HEAPLIMIT)
		return limit(c, "regex '%s' exceeded its match limit", pat);
	return 0; /* no match, or a subject that is not UTF-8 */
}

static int validate(struct vctx *c, const struct snode *n,
		    const struct ivalue *inst, unsigned char *ev);

static size_t nchildren(const struct ivalue *v)
{
	if (v->type == IV_ARR)
		return v->u.arr.n;
	if (v->type == IV_OBJ)
		return v->u.obj.n;
	return 0;
}

/*
 * Applies subschema `s` to the same instance.  When the caller tracks
 * evaluated children (`ev`), the subschema gets a scope of its own whose
 * annotations join `ev` when it holds (or always, with `always`).
 */
static int apply(struct vctx *c, const struct snode *s,
		 const struct ivalue *inst, unsigned char *ev, int always)
{
	size_t n = nchildren(inst);
	unsigned char small[64], *tmp = NULL;
	int r;
	if (!ev || !n)
		return validate(c, s, inst, NULL);
	tmp = n <= sizeof(small) ? small : xmalloc(n);
	memset(tmp, 0, n);
	r = validate(c, s, inst, tmp);
	if (r > 0 || (r == 0 && always))
		for (size_t i = 0; i < n; i++)
			ev[i] |= tmp[i];
	if (tmp != small)
		free(tmp);
	return r;
}

/* Validates a child instance (an item or a member value). */
static int child(struct vctx *c, const struct snode *s, const struct ivalue *v,
		 const char *key, size_t klen, size_t idx)
{
	size_t keep = c->ipath.len;
	int hops = c->hops, r;
	if (key)
		ipath_key(&c->ipath, key, klen);
	else
		strbuf_addf(&c->ipath, "[%zu]", idx);
	c->hops = 0;
	r = validate(c, s, v, NULL);
	c->hops = hops;
	strbuf_setlen(&c->ipath, keep);
	return r;
}

static int has_type(const struct ivalue *v, unsigned types)
{
	switch (v->type) {
	case IV_NULL:
		return types & JT_NULL;
	case IV_BOOL:
		return types & JT_BOOL;
	case IV_NUM:
		return (types & JT_NUM) ||
		       ((types & JT_INT) && num_is_integer(v));
	case IV_STR:
		return types & JT_STR;
	case IV_ARR:
		return types & JT_ARR;
	case IV_OBJ:
		return types & JT_OBJ;
	}
	return 0;
}

static void type_list(struct strbuf *out, unsigned types)
{
	int first = 1;
	for (size_t k = 0; type_names[k]; k++) {
		if (!(types & (1u << k)))
			continue;
		if (!first)
			strbuf_addstr(out, " or ");
		strbuf_addstr(out, type_names[k]);
		first = 0;
	}
}

/* Records a result: 1 holds, 0 fails (quiet: stop now), -1 stops. */
#define CHECK(expr)                                                            \
	do {                                                                   \
		int r_ = (expr);                                               \
		if (r_ < 0) {                                                  \
			ret = -1;                                              \
			goto out;                                              \
		}                                                              \
		if (!r_) {                                                     \
			ret = 0;                                               \
			if (c->quiet)                                          \
				goto out;                                      \
		}                                                              \
	} while (0)

static int check_number(struct vctx *c, const struct snode *n,
			const struct ivalue *v)
{
	int ok = 1;
	if (n->minimum && iv_num_cmp(v, n->minimum) == -1) {
		fail(c, n, v, "minimum %s", n->minimum->u.num.text);
		ok = 0;
	}
	if (n->maximum && iv_num_cmp(v, n->maximum) == 1) {
		fail(c, n, v, "maximum %s", n->maximum->u.num.text);
		ok = 0;
	}
	if (n->xminimum && iv_num_cmp(v, n->xminimum) != 1) {
		fail(c, n, v, "exclusiveMinimum %s", n->xminimum->u.num.text);
		ok = 0;
	}
	if (n->xmaximum && iv_num_cmp(v, n->xmaximum) != -1) {
		fail(c, n, v, "exclusiveMaximum %s", n->xmaximum->u.num.text);
		ok = 0;
	}
	if (n->multiple_of && !multiple_of(v, n->multiple_of)) {
		fail(c, n, v, "multipleOf %s", n->multiple_of->u.num.text);
		ok = 0;
	}
	return ok;
}

static int check_string(struct vctx *c, const struct snode *n,
			const struct ivalue *v)
{
	int ok = 1;
	if (n->min_len || n->max_len != UINT64_MAX) {
		size_t len = utf8_len(v->u.str.s, v->u.str.len);
		if (len < n->min_len) {
			fail(c, n, v, "minLength %llu",
			     (unsigned long long)n->min_len);
			ok = 0;
		}
		if (len > n->max_len) {
			fail(c, n, v, "maxLength %llu",
			     (unsigned long long)n->max_len);
			ok = 0;
		}
	}
	if (n->pattern) {
		int r = regex_search(c, n->pattern, n->pattern_src->u.str.s,
				     v->u.str.s, v->u.str.len);
		if (r < 0)
			return -1;
		if (!r) {
			struct strbuf p = STRBUF_INIT;
			show(&p, n->pattern_src);
			fail(c, n, v, "pattern %s", p.buf);
			strbuf_release(&p);
			ok = 0;
		}
	}
	return ok;
}

/* A hash that agrees with iv_equal: equal numbers have the same double
 * (each is its exact value correctly rounded); members in any order. */
static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64_C(0xc4ceb9fe1a85ec53);
	return h ^ (h >> 33);
}

static uint64_t hash_bytes(const char *s, size_t len)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * UINT64_C(0x100000001b3);
	return h;
}

static uint64_t value_hash(const struct ivalue *v)
{
	uint64_t h = 0, bits;
	double d;
	switch (v->type) {
	case IV_NULL:
		return 1;
	case IV_BOOL:
		return 2 + (uint64_t)v->u.b;
	case IV_NUM:
		d = v->u.num.d == 0 ? 0.0 : v->u.num.d;
		memcpy(&bits, &d, sizeof(bits));
		return mix(bits ^ 3);
	case IV_STR:
		return mix(hash_bytes(v->u.str.s, v->u.str.len) ^ 4);
	case IV_ARR:
		h = 5;
		for (size_t i = 0; i < v->u.arr.n; i++)
			h = mix(h * 31 + value_hash(v->u.arr.v[i]));
		return h;
	case IV_OBJ:
		for (size_t i = 0; i < v->u.obj.n; i++) {
			const struct imember *m = &v->u.obj.m[i];
			h += mix(hash_bytes(m->key, m->klen) ^
				 mix(value_hash(m->val)));
		}
		return mix(h ^ 6);
	}
	return 0;
}

struct hidx {
	uint64_t h;
	size_t i;
};

static int hidx_cmp(const void *a, const void *b)
{
	const struct hidx *x = a, *y = b;
	if (x->h != y->h)
		return x->h < y->h ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* Two equal items of an array, the first pair (smallest *i, then *j);
 * O(n log n) by hashing for long arrays. */
static int find_equal(const struct ivalue *arr, size_t *i, size_t *j)
{
	size_t len = arr->u.arr.n, bi = SIZE_MAX, bj = SIZE_MAX;
	struct ivalue *const *a = arr->u.arr.v;
	struct hidx *hv;
	if (len <= 32) {
		for (*i = 0; *i < len; ++*i)
			for (*j = *i + 1; *j < len; ++*j)
				if (iv_equal(a[*i], a[*j]))
					return 1;
		return 0;
	}
	hv = xmalloc(len * sizeof(*hv));
	for (size_t k = 0; k < len; k++)
		hv[k] = (struct hidx){value_hash(a[k]), k};
	qsort(hv, len, sizeof(*hv), hidx_cmp);
	for (size_t g = 0, end; g < len; g = end) {
		for (end = g + 1; end < len && hv[end].h == hv[g].h; end++)
			;
		/* within a group: the first item with an equal later one */
		for (size_t x = g; x < end && hv[x].i < bi; x++) {
			size_t y = x + 1;
			while (y < end && !iv_equal(a[hv[x].i], a[hv[y].i]))
				y++;
			if (y < end) {
				bi = hv[x].i;
				bj = hv[y].i;
				break;
			}
		}
	}
	free(hv);
	*i = bi;
	*j = bj;
	return bi != SIZE_MAX;
}

static int check_array(struct vctx *c, const struct snode *n,
		       const struct ivalue *v, unsigned char *ev)
{
	size_t len = v->u.arr.n;
	int ret = 1;
	for (size_t i = 0; i < n->nprefix && i < len; i++) {
		CHECK(child(c, n->prefix[i], v->u.arr.v[i], NULL, 0, i));
		if (ev)
			ev[i] = 1;
	}
	if (n->items)
		for (size_t i = n->nprefix; i < len; i++) {
			CHECK(child(c, n->items, v->u.arr.v[i], NULL, 0, i));
			if (ev)
				ev[i] = 1;
		}
	if (n->contains) {
		uint64_t found = 0;
		int all = ev || n->max_contains != UINT64_MAX;
		c->quiet++;
		for (size_t i = 0; i < len; i++) {
			int r = child(c, n->contains, v->u.arr.v[i], NULL, 0,
				      i);
			if (r < 0) {
				c->quiet--;
				return -1;
			}
			if (r) {
				found++;
				if (ev)
					ev[i] = 1;
				if (!all && found >= n->min_contains)
					break;
			}
		}
		c->quiet--;
		if (found < n->min_contains) {
			if (n->min_contains == 1)
				fail(c, n, v, "contains: no item matches");
			else
				fail(c, n, v,
				     "minContains %llu: %llu items "
				     "match",
				     (unsigned long long)n->min_contains,
				     (unsigned long long)found);
			CHECK(0);
		}
		if (found > n->max_contains) {
			fail(c, n, v, "maxContains %llu: %llu items match",
			     (unsigned long long)n->max_contains,
			     (unsigned long long)found);
			CHECK(0);
		}
	}
	if (len < n->min_items) {
		fail(c, n, v, "minItems %llu",
		     (unsigned long long)n->min_items);
		CHECK(0);
	}
	if (len > n->max_items) {
		fail(c, n, v, "maxItems %llu",
		     (unsigned long long)n->max_items);
		CHECK(0);
	}
	if (n->unique) {
		size_t i, j;
		if (find_equal(v, &i, &j)) {
			fail(c, n, v,
			     "uniqueItems: items %zu and %zu are equal", i, j);
			CHECK(0);
		}
	}
out:
	return ret;
}

static const struct sprop *find_prop(const struct snode *n,
				     const struct imember *m)
{
	struct sprop key = {m->key, m->klen, NULL};
	if (!n->nprops)
		return NULL;
	return bsearch(&key, n->props, n->nprops, sizeof(key), prop_cmp);
}

static int check_object(struct vctx *c, const struct snode *n,
			const struct ivalue *v, unsigned char *ev)
{
	size_t len = v->u.obj.n;
	int ret = 1;
	for (size_t i = 0; i < len; i++) {
		const struct imember *m = &v->u.obj.m[i];
		const struct sprop *p = find_prop(n, m);
		int seen = 0;
		if (p) {
			CHECK(child(c, p->s, m->val, m->key, m->klen, 0));
			seen = 1;
		}
		for (size_t k = 0; k < n->npats; k++) {
			int r = regex_search(c, n->pats[k].re, n->pats[k].pat,
					     m->key, m->klen);
			if (r < 0)
				return -1;
			if (!r)
				continue;
			seen = 1;
			CHECK(child(c, n->pats[k].s, m->val, m->key, m->klen,
				    0));
		}
		if (!seen && n->addl) {
			seen = 1;
			CHECK(child(c, n->addl, m->val, m->key, m->klen, 0));
		}
		if (seen && ev)
			ev[i] = 1;
	}
	if (n->required)
		for (size_t i = 0; i < n->required->u.arr.n; i++) {
			const struct ivalue *k = n->required->u.arr.v[i];
			if (iv_getn(v, k->u.str.s, k->u.str.len))
				continue;
			fail(c, n, NULL, "required property \"%s\" is missing",
			     k->u.str.s);
			CHECK(0);
		}
	for (size_t i = 0; i < n->ndreq; i++) {
		const struct sdep *d = &n->dreq[i];
		if (!iv_getn(v, d->key, d->klen))
			continue;
		for (size_t j = 0; j < d->names->u.arr.n; j++) {
			const struct ivalue *k = d->names->u.arr.v[j];
			if (iv_getn(v, k->u.str.s, k->u.str.len))
				continue;
			fail(c, n, NULL,
			     "dependentRequired: property \"%s\" is missing "
			     "(\"%s\" needs it)",
			     k->u.str.s, d->key);
			CHECK(0);
		}
	}
	for (size_t i = 0; i < n->ndsch; i++) {
		const struct sdep *d = &n->dsch[i];
		if (iv_getn(v, d->key, d->klen))
			CHECK(apply(c, d->s, v, ev, 1));
	}
	if (n->names)
		for (size_t i = 0; i < len; i++) {
			const struct imember *m = &v->u.obj.m[i];
			struct ivalue name;
			int r;
			memset(&name, 0, sizeof(name));
			name.type = IV_STR;
			name.u.str.s = m->key;
			name.u.str.len = m->klen;
			c->quiet++;
			r = validate(c, n->names, &name, NULL);
			c->quiet--;
			if (r < 0)
				return -1;
			if (!r) {
				struct strbuf k = STRBUF_INIT;
				show(&k, &name);
				fail(c, n, NULL,
				     "propertyNames: name %s does not match",
				     k.buf);
				strbuf_release(&k);
				CHECK(0);
			}
		}
	if (len < n->min_props) {
		fail(c, n, v, "minProperties %llu",
		     (unsigned long long)n->min_props);
		CHECK(0);
	}
	if (len > n->max_props) {
		fail(c, n, v, "maxProperties %llu",
		     (unsigned long long)n->max_props);
		CHECK(0);
	}
out:
	return ret;
}

/* anyOf, oneOf, not, if/then/else. */
static int check_logic(struct vctx *c, const struct snode *n,
		       const struct ivalue *v, unsigned char *ev)
{
	int ret = 1, r;
	if (n->nany) {
		size_t matched = 0;
		c->quiet++;
		for (size_t i = 0; i < n->nany; i++) {
			r = apply(c, n->any[i], v, ev, 0);
			if (r < 0) {
				c->quiet--;
				return -1;
			}
			if (r)
				matched++;
			if (r && !ev)
				break;
		}
		c->quiet--;
		if (!matched) {
			fail(c, n, v,
			     "anyOf: none of the %zu subschemas "
			     "matches",
			     n->nany);
			CHECK(0);
		}
	}
	if (n->none) {
		size_t matched = 0, first = 0, second = 0;
		size_t len = ev ? nchildren(v) : 0;
		unsigned char *keep = len ? xcalloc(len, 1) : NULL;
		c->quiet++;
		for (size_t i = 0; i < n->none && matched < 2; i++) {
			r = apply(c, n->one[i], v, keep, 0);
			if (r < 0) {
				c->quiet--;
				free(keep);
				return -1;
			}
			if (r) {
				if (!matched)
					first = i;
				else
					second = i;
				matched++;
			}
		}
		c->quiet--;
		if (matched == 1 && keep)
			for (size_t i = 0; i < len; i++)
				ev[i] |= keep[i];
		free(keep);
		if (!matched)
			fail(c, n, v,
			     "oneOf: none of the %zu subschemas matches",
			     n->none);
		else if (matched > 1)
			fail(c, n, v,
			     "oneOf: subschemas %zu and %zu both match", first,
			     second);
		if (matched != 1)
			CHECK(0);
	}
	if (n->not ) {
		c->quiet++;
		r = validate(c, n->not, v, NULL);
		c->quiet--;
		if (r < 0)
			return -1;
		if (r) {
			fail(c, n, v,
			     "not: the value matches the 'not' schema");
			CHECK(0);
		}
	}
	if (n->if_) {
		c->quiet++;
		r = apply(c, n->if_, v, ev, 0);
		c->quiet--;
		if (r < 0)
			return -1;
		if (r && n->then_)
			CHECK(apply(c, n->then_, v, ev, 1));
		else if (!r && n->else_)
			CHECK(apply(c, n->else_, v, ev, 1));
	}
out:
	return ret;
}

static int check_unevaluated(struct vctx *c, const struct snode *n,
			     const struct ivalue *v, unsigned char *ev)
{
	int ret = 1;
	if (n->uprops && v->type == IV_OBJ)
		for (size_t i = 0; i < v->u.obj.n; i++) {
			const struct imember *m = &v->u.obj.m[i];
			if (ev[i])
				continue;
			CHECK(child(c, n->uprops, m->val, m->key, m->klen, 0));
			ev[i] = 1;
		}
	if (n->uitems && v->type == IV_ARR)
		for (size_t i = 0; i < v->u.arr.n; i++) {
			if (ev[i])
				continue;
			CHECK(child(c, n->uitems, v->u.arr.v[i], NULL, 0, i));
			ev[i] = 1;
		}
out:
	return ret;
}

/* Where a $dynamicRef leads: the outermost resource in the dynamic
 * scope with a matching $dynamicAnchor, when its static target has one
 * (2020-12 8.2.3.2); else the static target. */
static const struct snode *dynamic_target(const struct vctx *c,
					  const struct snode *n)
{
	const struct jschema *s = c->s;
	const char *name = n->dref_name;
	if (!name || !n->dref->dyn_anchor || strcmp(n->dref->dyn_anchor, name))
		return n->dref;
	for (size_t i = 0; i < c->nscope; i++) {
		size_t ulen = strlen(c->scope[i]);
		for (size_t k = 0; k < s->ndanc; k++) {
			const char *u = s->danc[k].uri;
			if (!strncmp(u, c->scope[i], ulen) && u[ulen] == '#' &&
			    !strcmp(u + ulen + 1, name))
				return s->danc[k].node;
		}
	}
	return n->dref;
}

/* Follows $ref or $dynamicRef to `t`, counting hops. */
static int follow(struct vctx *c, const struct snode *n, const struct snode *t,
		  const struct ivalue *v, unsigned char *ev)
{
	int r;
	if (++c->hops > REF_HOPS_MAX)
		r = limit(c,
			  "$ref loop: more than %d $ref hops without "
			  "progress (at %s)",
			  REF_HOPS_MAX, n->path);
	else
		r = apply(c, t, v, ev, 1);
	c->hops--;
	return r;
}

static int validate(struct vctx *c, const struct snode *n,
		    const struct ivalue *v, unsigned char *ev)
{
	unsigned char *own = NULL;
	size_t len = nchildren(v);
	int ret = 1, pushed = 0;
	if (n->boolv >= 0) {
		if (!n->boolv)
			fail(c, n, v, "not allowed");
		return n->boolv;
	}
	if (++c->depth > DEPTH_MAX) {
		ret = limit(c,
			    "schema evaluation nested deeper than %d (at "
			    "%s)",
			    DEPTH_MAX, n->path);
		goto out;
	}
	if (!c->nscope || c->scope[c->nscope - 1] != n->res_uri) {
		XGROW(c->scope, c->ascope, c->nscope + 1);
		c->scope[c->nscope++] = n->res_uri;
		pushed = 1;
	}
	if (!ev && len && (n->uprops || n->uitems))
		ev = own = xcalloc(len, 1);
	if (n->ref)
		CHECK(follow(c, n, n->ref, v, ev));
	if (n->dref)
		CHECK(follow(c, n, dynamic_target(c, n), v, ev));
	if (n->types && !has_type(v, n->types)) {
		struct strbuf t = STRBUF_INIT;
		type_list(&t, n->types);
		fail(c, n, v, "type %s", t.buf);
		strbuf_release(&t);
		CHECK(0);
	}
	if (n->enumv) {
		int found = 0;
		for (size_t i = 0; i < n->enumv->u.arr.n && !found; i++)
			found = iv_equal(v, n->enumv->u.arr.v[i]);
		if (!found) {
			struct strbuf e = STRBUF_INIT;
			show(&e, n->enumv);
			fail(c, n, v, "enum %s", e.buf);
			strbuf_release(&e);
			CHECK(0);
		}
	}
	if (n->constv && !iv_equal(v, n->constv)) {
		struct strbuf e = STRBUF_INIT;
		show(&e, n->constv);
		fail(c, n, v, "const %s", e.buf);
		strbuf_release(&e);
		CHECK(0);
	}
	if (v->type == IV_NUM)
		CHECK(check_number(c, n, v));
	else if (v->type == IV_STR)
		CHECK(check_string(c, n, v));
	else if (v->type == IV_ARR)
		CHECK(check_array(c, n, v, ev));
	else if (v->type == IV_OBJ)
		CHECK(check_object(c, n, v, ev));
	for (size_t i = 0; i < n->nall; i++)
		CHECK(apply(c, n->all[i], v, ev, 1));
	CHECK(check_logic(c, n, v, ev));
	if ((n->uprops || n->uitems) && len)
		CHECK(check_unevaluated(c, n, v, ev));
out:
	c->nscope -= (size_t)pushed;
	c->depth--;
	free(own);
	return ret;
}

int schema_validate(const struct jschema *s, const struct ivalue *instance,
		    struct strbuf *why)
{
	struct vctx c;
	int r;
	memset(&c, 0, sizeof(c));
	c.s = s;
	c.why = why;
	strbuf_init(&c.ipath, 64);
	strbuf_addch(&c.ipath, '$');
	strbuf_init(&c.limit, 0);
	c.mc = pcre2_match_context_create(NULL);
	if (!c.mc) {
		strbuf_addstr(why, "out of memory for a regex match\n");
		strbuf_release(&c.ipath);
		return -1;
	}
	pcre2_set_match_limit(c.mc, REGEX_MATCH_LIMIT);
	if (!instance) {
		strbuf_addstr(why, "$: no value to validate\n");
		r = 0;
	} else {
		r = validate(&c, s->root, instance, NULL);
	}
	if (r < 0) {
		strbuf_add(why, c.limit.buf, c.limit.len);
		strbuf_addch(why, '\n');
	} else if (c.dropped) {
		strbuf_addf(why, "(%d more errors)\n", c.dropped);
	}
	pcre2_match_context_free(c.mc);
	free(c.scope);
	strbuf_release(&c.limit);
	strbuf_release(&c.ipath);
	return r;
}
