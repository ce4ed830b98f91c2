/*
 * Secret masking: the one output path.  Every byte itest writes itself
 * (console, logs it captures, JUnit, run.json, reports, messages) goes
 * through a masker, which replaces each secret value -- and its base64,
 * URL-encoded, JSON-escaped and XML-escaped forms -- by "***".
 *
 * A masker is filled at load time, then only read: safe to share between
 * threads once the run starts.
 */
#ifndef ITEST_MASK_H
#define ITEST_MASK_H

#include "err.h"

struct masker {
	char **forms; /* longest first */
	size_t n, alloc;
};

#define MASKER_INIT                                                            \
	{                                                                      \
		NULL, 0, 0                                                     \
	}

/* Adds a secret value; values shorter than 3 bytes are masked only as a
 * whole line, to avoid masking every "a" in the output. */
void mask_add(struct masker *m, const char *secret, size_t len);
void mask_release(struct masker *m);
/* Replaces every secret form in `sb` by "***". */
void mask_apply(const struct masker *m, struct strbuf *sb);
/* A masked copy of s; caller frees. */
char *mask_dup(const struct masker *m, const char *s);
/* Masks `sb` in place and returns its string, trimmed to its length
 * (caller frees); `sb` is left empty, its cap kept.  No copy: for big
 * buffers such as a test's log. */
char *mask_detach(const struct masker *m, struct strbuf *sb);
/* Writes `content`, masked, to `path` through a temp file and rename. */
int mask_write_file(const struct masker *m, const char *path,
		    const struct strbuf *content, struct itest_err *err);

#endif
