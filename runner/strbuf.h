/*
 * A growable string buffer.  Invariants (as git's strbuf): `buf` is never
 * NULL and always NUL-terminated; ownership of the bytes leaves only
 * through strbuf_detach().  A non-zero `cap` bounds `len` (as curl's
 * dynbuf): bytes beyond it are dropped and counted in `dropped`, so a huge
 * command output or response body cannot eat the machine.
 */
#ifndef ITEST_STRBUF_H
#define ITEST_STRBUF_H

#include "common.h"

struct strbuf {
	size_t alloc;
	size_t len;
	size_t cap;	/* 0: unbounded */
	size_t dropped; /* bytes not stored because of cap */
	char *buf;
};

extern char strbuf_slopbuf[];
#define STRBUF_INIT                                                            \
	{                                                                      \
		0, 0, 0, 0, strbuf_slopbuf                                     \
	}

void strbuf_init(struct strbuf *sb, size_t hint);
/* Frees the contents; the buffer is empty and usable afterwards. */
void strbuf_release(struct strbuf *sb);
/* Returns the string (caller owns it) and resets the buffer. */
char *strbuf_detach(struct strbuf *sb, size_t *len);
void strbuf_grow(struct strbuf *sb, size_t extra);
void strbuf_setlen(struct strbuf *sb, size_t len);
#define strbuf_reset(sb) strbuf_setlen((sb), 0)

void strbuf_add(struct strbuf *sb, const void *data, size_t len);
void strbuf_addstr(struct strbuf *sb, const char *s);
void strbuf_addch(struct strbuf *sb, int c);
ITEST_PRINTF(2, 3) void strbuf_addf(struct strbuf *sb, const char *fmt, ...);
ITEST_PRINTF(2, 0)
void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap);
/* Removes trailing white space. */
void strbuf_rtrim(struct strbuf *sb);
/* Appends `s` with JSON string escaping, without the quotes. */
void strbuf_add_json_escaped(struct strbuf *sb, const char *s, size_t len);
/* Appends a Unicode code point as UTF-8. */
void strbuf_add_utf8(struct strbuf *sb, uint32_t cp);
/* Appends `s` in base64, with its '=' padding when `pad`. */
void strbuf_add_base64(struct strbuf *sb, const char *s, size_t len, int pad);
/* Appends `s` with & < > " ' as XML (and HTML) character references. */
void strbuf_add_xml_escaped(struct strbuf *sb, const char *s, size_t len);
/* Appends `s` percent-encoded (all but A-Z a-z 0-9 - _ . ~). */
void strbuf_add_url_encoded(struct strbuf *sb, const char *s, size_t len);
/* Appends `text` cut at `max` bytes (at a character boundary), followed by
 * "… (TOTAL bytes)" when it was cut. */
void strbuf_add_cut(struct strbuf *sb, const char *text, size_t len, size_t max,
		    size_t total);
/* Appends a duration as people write it: "2s", "1m", "250ms". */
void strbuf_add_duration(struct strbuf *sb, int64_t ms);
/* Replaces every occurrence of `from` (flen bytes) by `to`. */
void strbuf_replace_all(struct strbuf *sb, const char *from, size_t flen,
			const char *to);

#endif
