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

void arena_release(struct arena *a)
{
	struct arena_chunk *c = a->chunks;
	while (c) {
		struct arena_chunk *next = c->next;
		free(c);
		c = next;
	}
	a->chunks = NULL;
	a->p = a->end = NULL;
}
