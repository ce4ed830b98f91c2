/*
 * Allocation wrappers, clocks and duration parsing shared by all of itest.
 */
#include <errno.h>
#include <math.h>
#include <sys/stat.h>
#include <time.h>

#include "common.h"

ITEST_NORETURN static void die_oom(size_t n)
{
	fprintf(stderr, "itest: fatal: out of memory allocating %zu bytes\n",
		n);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		die_oom(n);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		die_oom(n * size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		die_oom(n);
	return q;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	va_start(ap, fmt);
	int n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0)
		die_oom(0);
	return p;
}

void xgrow(void **p, size_t *alloc, size_t need, size_t size)
{
	if (need <= *alloc)
		return;
	size_t n = *alloc ? *alloc : 1; /* most maps hold one or two keys */
	while (n < need)
		n = n * 3 / 2 + 1;
	*p = xrealloc(*p, n * size);
	*alloc = n;
}

double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t duration_parse_ms(const char *s)
{
	char *end;
	if (!s || !*s || (*s != '.' && (*s < '0' || *s > '9')))
		return -1;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -1;
	double mult;
	if (!strcmp(end, "ms"))
		mult = 1;
	else if (!strcmp(end, "s"))
		mult = 1e3;
	else if (!strcmp(end, "m"))
		mult = 60e3;
	else if (!strcmp(end, "h"))
		mult = 3600e3;
	else
		return -1;
	v *= mult;
	if (v > 1e15)
		return -1;
	return (int64_t)llround(v);
}

int mkdir_p(const char *path, unsigned mode)
{
	if (!*path) {
		errno = ENOENT;
		return -1;
	}
	char *p = xstrdup(path);
	int ret = 0;
	for (char *s = p + 1; !ret; s++) {
		if (*s && *s != '/')
			continue;
		char keep = *s;
		*s = '\0';
		if (mkdir(p, (mode_t)mode) < 0 && errno != EEXIST)
			ret = -1;
		*s = keep;
		if (!keep)
			break;
	}
	int saved = errno;
	free(p);
	errno = saved;
	return ret;
}

void strlist_push(struct strlist *l, char *s)
{
	XGROW(l->v, l->alloc, l->n + 2);
	l->v[l->n++] = s;
	l->v[l->n] = NULL;
}

void strlist_release(struct strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

int str_in_list(const char *s, const char *const *list)
{
	for (; list && *list; list++)
		if (!strcmp(s, *list))
			return 1;
	return 0;
}
