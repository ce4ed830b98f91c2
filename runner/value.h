/*
 * The value model: one tree type for YAML documents, JSON bodies,
 * variables, driver results and expectations.
 *
 * Every value may carry the source location of the YAML node it came from
 * (zero for values made at run time).  Numbers keep the text they were
 * written with and an exact 64-bit integer where the text is one, so
 * 9007199254740993 survives a capture and a JSON body unchanged, while
 * comparisons treat 1 and 1.0 as equal.
 *
 * Ownership: a container owns its children.  Functions documented as
 * "consumes" take ownership of their value argument.
 *
 * Arena nodes (IVF_ARENA, made by iv_to_arena) keep the node, its text,
 * its array and its keys in an arena of a document (yaml_load_doc): no
 * per-block malloc; equal short texts and keys share their bytes, so they
 * are read-only.  iv_free() of an arena node frees only the ordinary
 * subtrees attached below it; the arena goes with the document's root
 * (IVF_ARENA_ROOT, from iv_arena_doc).  Members of an arena map may be
 * replaced (iv_set) or deleted (iv_del), but arena containers do not grow:
 * iv_push / iv_append on one aborts.  iv_clone() gives an ordinary tree.
 */
#ifndef ITEST_VALUE_H
#define ITEST_VALUE_H

#include "err.h"

enum iv_type { IV_NULL, IV_BOOL, IV_NUM, IV_STR, IV_ARR, IV_OBJ };

/* flags */
#define IVF_QUOTED     0x1  /* a YAML scalar that was quoted: always a string */
#define IVF_SECRET     0x2  /* the value of a secret variable */
#define IVF_ARENA      0x4  /* node, text, array and keys are in an arena */
#define IVF_ARENA_ROOT 0x8  /* the arena node that owns its arena */
#define IVF_INT	       0x10 /* a number whose value is the integer u.num.i */
/* What a node made from another (a copy, a rendering) may inherit. */
#define IVF_INHERITED (IVF_QUOTED | IVF_SECRET | IVF_INT)

struct ivalue;

struct imember {
	char *key; /* NUL-terminated; klen excludes the NUL */
	size_t klen;
	struct itest_loc kloc; /* where the key was written */
	struct ivalue *val;
};

struct ivalue {
	enum iv_type type;
	unsigned flags;
	struct itest_loc loc;
	union {
		int b;
		struct {
			char *text; /* as written (JSON syntax), never NULL */
			double d;   /* always set */
			int64_t i;  /* valid with IVF_INT */
		} num;
		struct {
			char *s; /* NUL-terminated; may contain NULs */
			size_t len;
		} str;
		struct {
			struct ivalue **v;
			size_t n, alloc;
		} arr;
		struct {
			struct imember *m;
			size_t n, alloc;
		} obj;
	} u;
};

/* Constructors; the caller owns the result. */
struct ivalue *iv_new(enum iv_type t);
struct ivalue *iv_null(void);
struct ivalue *iv_bool(int b);
struct ivalue *iv_int(int64_t i);
struct ivalue *iv_double(double d);
/* A number from its text (JSON or YAML 1.2 core syntax); NULL if the text
 * is not a number.  Accepts "0x1F", "0o17", ".inf", "-.inf", ".nan". */
struct ivalue *iv_num_text(const char *text, size_t len);
struct ivalue *iv_str(const char *s);
struct ivalue *iv_strn(const char *s, size_t len);
/* Takes ownership of `s` (malloc'd, NUL-terminated at len). */
struct ivalue *iv_str_own(char *s, size_t len);
struct ivalue *iv_arr(void);
struct ivalue *iv_obj(void);

void iv_free(struct ivalue *v);
struct ivalue *iv_clone(const struct ivalue *v);

struct arena;
/* Moves the node v (not its children: they stay as they are) into the
 * arena `a`: its text, its array and its keys too.  Consumes v (an
 * ordinary node); returns the arena node. */
struct ivalue *iv_to_arena(struct arena *a, struct ivalue *v);
/* Makes root (an arena node of *a, or an ordinary one) the root of a
 * document that owns the arena: takes over *a (left empty) and consumes
 * root.  iv_free() of the result frees the arena. */
struct ivalue *iv_arena_doc(struct arena *a, struct ivalue *root);

/* Appends to an array; consumes `item`. */
void iv_push(struct ivalue *arr, struct ivalue *item);
/* Sets a member, replacing an existing one of that key; consumes `val`. */
void iv_set(struct ivalue *obj, const char *key, struct ivalue *val);
void iv_setn(struct ivalue *obj, const char *key, size_t klen,
	     struct ivalue *val);
/* Appends a member without looking for an existing key (for loaders that
 * check duplicates themselves); consumes `val`; returns the member. */
struct imember *iv_append(struct ivalue *obj, const char *key, size_t klen,
			  struct ivalue *val);
/* Removes and frees a member; returns 0 if it was there, -1 if not. */
int iv_del(struct ivalue *obj, const char *key);

/* Member lookups; NULL when `obj` is not an object or lacks the key. */
struct ivalue *iv_get(const struct ivalue *obj, const char *key);
struct ivalue *iv_getn(const struct ivalue *obj, const char *key, size_t klen);
struct imember *iv_member(const struct ivalue *obj, const char *key);
/* Case-insensitive lookup (HTTP headers). */
struct ivalue *iv_get_nocase(const struct ivalue *obj, const char *key);

/* Typed accessors; NULL / fallback when the type does not match. */
const char *iv_strval(const struct ivalue *v);
int iv_is(const struct ivalue *v, enum iv_type t);

const char *iv_type_name(enum iv_type t);
/* The name predicates use for `type:`: null boolean integer number string
 * array object. */
const char *iv_kind(const struct ivalue *v);

/* Deep equality; numbers compare by value (1 == 1.0, exact for int64). */
int iv_equal(const struct ivalue *a, const struct ivalue *b);
/* Compares two numbers: -1, 0, 1 (NaN compares as unordered: 2). */
int iv_num_cmp(const struct ivalue *a, const struct ivalue *b);

/* JSON text.  Parse errors fill err with line and column of `src` (which
 * may be NULL) relative to the text.  Duplicate keys: the last wins. */
struct ivalue *json_parse(const char *text, size_t len,
			  const struct itest_src *src, struct itest_err *err);
/* Appends the JSON text of v; pretty > 0 indents by that many spaces. */
void json_emit(struct strbuf *out, const struct ivalue *v, int pretty);
/* A value as people read it in messages: strings as they are, anything
 * else as compact JSON. */
void iv_display(struct strbuf *out, const struct ivalue *v);
/* A value as a string for substitution into a larger string: strings as
 * they are, null as "", numbers by their text, containers as JSON. */
void iv_to_text(struct strbuf *out, const struct ivalue *v);
/* The same as a malloc'd string. */
char *iv_text_dup(const struct ivalue *v);
/* A boolean, or the string "true" or "false" (a rendered template): 0
 * with *out set, else -1. */
int iv_bool_of(const struct ivalue *v, int *out);

#endif
