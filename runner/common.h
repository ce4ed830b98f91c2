/*
 * Things every itest source file wants: standard headers, the attribute
 * macros, the allocation wrappers that die on out-of-memory, and the
 * banned-functions list (last, so that it sees every declaration).
 */
#ifndef ITEST_COMMON_H
#define ITEST_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ITEST_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define ITEST_NORETURN	   __attribute__((noreturn))
#define ARRAY_SIZE(a)	   (sizeof(a) / sizeof((a)[0]))

/* Allocation that cannot fail: on out-of-memory itest prints and exits. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
ITEST_PRINTF(1, 2) char *xasprintf(const char *fmt, ...);

/* Grow *p (an array of *alloc elements of size `size`) to hold `need`. */
void xgrow(void **p, size_t *alloc, size_t need, size_t size);
#define XGROW(p, alloc, need)                                                  \
	xgrow((void **)&(p), &(alloc), (need), sizeof(*(p)))

/* Monotonic clock in milliseconds (fractional) and wall clock in ms. */
double now_ms(void);
int64_t wall_ms(void);

/* Parse a duration "250ms", "2s", "1m", "1.5s"; -1 on error. */
int64_t duration_parse_ms(const char *s);

/* Is `s` one of the strings of a NULL-ended list (NULL: an empty one)? */
int str_in_list(const char *s, const char *const *list);

/* mkdir -p: creates `path` and its missing parents with `mode`.  0, or
 * -1 with errno set (an existing folder is fine). */
int mkdir_p(const char *path, unsigned mode);

/* A NULL-terminated list of strings that owns them (argv, envp). */
struct strlist {
	char **v;
	size_t n, alloc;
};
/* Appends `s`, which the list then owns. */
void strlist_push(struct strlist *l, char *s);
void strlist_release(struct strlist *l);

#include "banned.h"

#endif
