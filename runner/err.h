/*
 * Source locations and the error record every fallible function fills.
 *
 * Functions return 0 on success and -1 on error after filling a
 * struct itest_err; the first error is kept (later calls to err_set on an
 * error that is already set do nothing), as curl's error buffer.
 */
#ifndef ITEST_ERR_H
#define ITEST_ERR_H

#include "strbuf.h"

/*
 * A source file that the loader read.  `parent` and `pline`/`pcol` say
 * where it was included from, for the include chain in messages.  Owned
 * by the loader's source list; lives as long as the loaded suites.
 */
struct itest_src {
	char *path; /* as shown in messages: relative to the cwd if possible */
	const struct itest_src *parent;
	int pline, pcol;
};

/* A position in a source file; line and col are 1-based, 0 if unknown. */
struct itest_loc {
	const struct itest_src *src;
	int line, col;
};

#define ITEST_ERRMSG 1024

struct itest_err {
	int set;
	struct itest_loc loc;
	char msg[ITEST_ERRMSG];
};

#define ITEST_ERR_INIT                                                         \
	{                                                                      \
		0, {NULL, 0, 0},                                               \
		{                                                              \
			0                                                      \
		}                                                              \
	}

/* Records the error unless one is set already.  Always returns -1.
 * `loc` may be NULL.  The message is lowercase without a period. */
ITEST_PRINTF(3, 4)
int err_set(struct itest_err *e, const struct itest_loc *loc, const char *fmt,
	    ...);
ITEST_PRINTF(3, 0)
int err_vset(struct itest_err *e, const struct itest_loc *loc, const char *fmt,
	     va_list ap);
void err_clear(struct itest_err *e);

/*
 * Formats "FILE:LINE:COL: error: MSG", then the source line with a caret
 * under the column, then "  included from FILE:LINE:COL" for each include.
 */
void err_format(struct strbuf *out, const struct itest_err *e);
/* err_format() to stderr. */
void err_print(const struct itest_err *e);

/* "FILE:LINE:COL" (or less when unknown) of a location. */
void loc_format(struct strbuf *out, const struct itest_loc *loc);

/*
 * The candidate in `names` (NULL-terminated) nearest to `word` by edit
 * distance, when it is near enough to be a likely typo; else NULL.
 */
const char *suggest_name(const char *word, const char *const *names);

#endif
