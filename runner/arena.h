/*
 * A bump allocator: many small blocks carved out of a few big chunks,
 * with no per-block header and no per-block free.  Everything goes at
 * once with arena_release().  Used for the value trees of loaded YAML
 * documents (value.h, IVF_ARENA), which live as long as their suite.
 */
#ifndef ITEST_ARENA_H
#define ITEST_ARENA_H

#include "common.h"

struct arena_chunk;
struct arena_set;

struct arena {
	struct arena_chunk *chunks; /* newest first */
	char *p, *end;		    /* free space in the newest chunk */
	struct arena_set *set;	    /* arena_intern's strings */
};

#define ARENA_INIT                                                             \
	{                                                                      \
		NULL, NULL, NULL, NULL                                         \
	}

/* n bytes aligned for pointers, int64_t and double (not for
 * max_align_t); the arena owns them.  Dies on
 * out-of-memory like xmalloc. */
void *arena_alloc(struct arena *a, size_t n);
/* A copy of s[0..n) plus a NUL, byte-aligned; the arena owns it. */
char *arena_strndup(struct arena *a, const char *s, size_t n);
/* As arena_strndup, but short strings are shared: the same bytes give
 * the same pointer, so the result must never be written to. */
const char *arena_intern(struct arena *a, const char *s, size_t n);
/* Forgets which strings arena_intern made (frees its table, not the
 * strings): for an arena that will not intern any more. */
void arena_intern_end(struct arena *a);
/* Frees every block; the arena is empty and usable afterwards. */
void arena_release(struct arena *a);

#endif
