/*
 * The bump allocator of arena.h: chunks of ARENA_CHUNK bytes; a block
 * bigger than a quarter of that gets a chunk of its own, so a chunk never
 * wastes more than a quarter of itself at its end.
 */
#include <stdalign.h>

#include "arena.h"

#define ARENA_CHUNK ((size_t)64 << 10)
/* pointers, 64-bit integers and doubles: what value trees hold */
#define ARENA_ALIGN                                                            \
	(alignof(double) > alignof(void *) ? alignof(double) : alignof(void *))

/* Strings longer than this are not shared: they seldom repeat. */
#define ARENA_INTERN_MAX 64

struct arena_str {
	const char *s; /* NULL: a free slot */
	size_t n;
};

struct arena_set {
	struct arena_str *t;
	size_t cap, n; /* cap: a power of two */
};

struct arena_chunk {
	struct arena_chunk *next;
	alignas(max_align_t) char data[];
};

/* A fresh chunk with at least n bytes of room; when `current` the arena
 * allocates from it next, else it is linked behind the newest. */
static char *new_chunk(struct arena *a, size_t n, int current)
{
	if (n > SIZE_MAX - sizeof(struct arena_chunk)) {
		fputs("itest: out of memory\n", stderr);
		exit(2);
	}
	struct arena_chunk *c = xmalloc(sizeof(*c) + n);
	if (current || !a->chunks) {
		c->next = a->chunks;
		a->chunks = c;
		a->p = c->data;
		a->end = c->data + n;
	} else {
		c->next = a->chunks->next;
		a->chunks->next = c;
	}
	return c->data;
}

static void *bump(struct arena *a, size_t n, size_t align)
{
	size_t room = a->p ? (size_t)(a->end - a->p) : 0;
	size_t pad = a->p ? (size_t)(-(uintptr_t)a->p & (align - 1)) : 0;
	if (pad <= room && n <= room - pad) {
		char *r = a->p + pad;
		a->p = r + n;
		return r;
	}
	if (n > ARENA_CHUNK / 4)
		return new_chunk(a, n, 0);
	char *r = new_chunk(a, ARENA_CHUNK, 1);
	a->p = r + n;
	return r;
}

void *arena_alloc(struct arena *a, size_t n)
{
	return bump(a, n ? n : 1, ARENA_ALIGN);
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	if (n == SIZE_MAX)
		n--; /* cannot happen for a real string; keeps n + 1 sane */
	char *r = bump(a, n + 1, 1);
	memcpy(r, s, n);
	r[n] = '\0';
	return r;
}

static size_t str_hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return (size_t)h;
}

static struct arena_str *set_slot(const struct arena_set *set, const char *s,
				  size_t n)
{
	size_t i = str_hash(s, n) & (set->cap - 1);
	for (;;) {
		struct arena_str *e = &set->t[i];
		if (!e->s || (e->n == n && !memcmp(e->s, s, n)))
			return e;
		i = (i + 1) & (set->cap - 1);
	}
}

const char *arena_intern(struct arena *a, const char *s, size_t n)
{
	if (n > ARENA_INTERN_MAX)
		return arena_strndup(a, s, n);
	if (!a->set)
		a->set = xcalloc(1, sizeof(*a->set));
	struct arena_set *set = a->set;
	if ((set->n + 1) * 2 > set->cap) {
		struct arena_set old = *set;
		set->cap = old.cap ? old.cap * 2 : 64;
		set->t = xcalloc(set->cap, sizeof(*set->t));
		for (size_t i = 0; i < old.cap; i++)
			if (old.t[i].s)
				*set_slot(set, old.t[i].s, old.t[i].n) =
					old.t[i];
		free(old.t);
	}
	struct arena_str *e = set_slot(set, s, n);
	if (!e->s) {
		e->s = arena_strndup(a, s, n);
		e->n = n;
		set->n++;
	}
	return e->s;
}

void arena_intern_end(struct arena *a)
{
	if (a->set)
		free(a->set->t);
	free(a->set);
	a->set = NULL;
}

void arena_release(struct arena *a)
{
	arena_intern_end(a);
	struct arena_chunk *c = a->chunks;
	while (c) {
		struct arena_chunk *next = c->next;
		free(c);
		c = next;
	}
	a->chunks = NULL;
	a->p = a->end = NULL;
}
