/*
 * The growable string buffer of strbuf.h.
 */
#include "strbuf.h"

char strbuf_slopbuf[1];

void strbuf_init(struct strbuf *sb, size_t hint)
{
	sb->alloc = sb->len = sb->cap = sb->dropped = 0;
	sb->buf = strbuf_slopbuf;
	if (hint)
		strbuf_grow(sb, hint);
}

void strbuf_release(struct strbuf *sb)
{
	if (sb->alloc)
		free(sb->buf);
	size_t cap = sb->cap;
	strbuf_init(sb, 0);
	sb->cap = cap;
}

char *strbuf_detach(struct strbuf *sb, size_t *len)
{
	char *res;
	if (len)
		*len = sb->len;
	if (sb->alloc)
		res = sb->buf;
	else
		res = xstrdup("");
	size_t cap = sb->cap;
	strbuf_init(sb, 0);
	sb->cap = cap;
	return res;
}

void strbuf_grow(struct strbuf *sb, size_t extra)
{
	size_t need = sb->len + extra + 1;
	if (need <= sb->alloc)
		return;
	if (!sb->alloc)
		sb->buf = NULL;
	size_t n = sb->alloc ? sb->alloc : 64;
	while (n < need)
		n *= 2;
	/* a capped buffer never needs more than its cap */
	if (sb->cap && n > sb->cap + 1)
		n = need > sb->cap + 1 ? need : sb->cap + 1;
	sb->buf = xrealloc(sb->buf, n);
	sb->alloc = n;
	if (!sb->len)
		sb->buf[0] = '\0';
}

void strbuf_setlen(struct strbuf *sb, size_t len)
{
	if (!sb->alloc) {
		if (len)
			strbuf_grow(sb, len);
		else
			return;
	}
	sb->len = len;
	sb->buf[len] = '\0';
}

void strbuf_add(struct strbuf *sb, const void *data, size_t len)
{
	if (sb->cap && sb->len + len > sb->cap) {
		size_t room = sb->cap > sb->len ? sb->cap - sb->len : 0;
		sb->dropped += len - room;
		len = room;
	}
	if (!len)
		return;
	strbuf_grow(sb, len);
	memcpy(sb->buf + sb->len, data, len);
	sb->len += len;
	sb->buf[sb->len] = '\0';
}

void strbuf_addstr(struct strbuf *sb, const char *s)
{
	strbuf_add(sb, s, strlen(s));
}

void strbuf_addch(struct strbuf *sb, int c)
{
	char ch = (char)c;
	strbuf_add(sb, &ch, 1);
}

void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap)
{
	char small[256];
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(small, sizeof(small), fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		strbuf_add(sb, small, (size_t)n);
		return;
	}
	char *big = xmalloc((size_t)n + 1);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	strbuf_add(sb, big, (size_t)n);
	free(big);
}

void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	strbuf_vaddf(sb, fmt, ap);
	va_end(ap);
}

void strbuf_rtrim(struct strbuf *sb)
{
	size_t n = sb->len;
	while (n && (sb->buf[n - 1] == ' ' || sb->buf[n - 1] == '\t' ||
		     sb->buf[n - 1] == '\n' || sb->buf[n - 1] == '\r'))
		n--;
	strbuf_setlen(sb, n);
}

void strbuf_add_json_escaped(struct strbuf *sb, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"':
			strbuf_add(sb, "\\\"", 2);
			break;
		case '\\':
			strbuf_add(sb, "\\\\", 2);
			break;
		case '\n':
			strbuf_add(sb, "\\n", 2);
			break;
		case '\r':
			strbuf_add(sb, "\\r", 2);
			break;
		case '\t':
			strbuf_add(sb, "\\t", 2);
			break;
		case '\b':
			strbuf_add(sb, "\\b", 2);
			break;
		case '\f':
			strbuf_add(sb, "\\f", 2);
			break;
		default:
			if (c < 0x20) {
				char u[6] = {'\\', 'u',		'0',
					     '0',  hex[c >> 4], hex[c & 15]};
				strbuf_add(sb, u, 6);
			} else {
				strbuf_addch(sb, c);
			}
		}
	}
}

void strbuf_add_utf8(struct strbuf *sb, uint32_t cp)
{
	char b[4];
	size_t n;
	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	strbuf_add(sb, b, n);
}

void strbuf_add_url_encoded(struct strbuf *sb, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '.' || c == '~')
			strbuf_addch(sb, c);
		else
			strbuf_addf(sb, "%%%02X", c);
	}
}

void strbuf_add_cut(struct strbuf *sb, const char *text, size_t len, size_t max,
		    size_t total)
{
	if (len <= max) {
		strbuf_add(sb, text, len);
		return;
	}
	size_t cut = max;
	while (cut && ((unsigned char)text[cut] & 0xc0) == 0x80)
		cut--;
	strbuf_add(sb, text, cut);
	strbuf_addf(sb, "\xe2\x80\xa6 (%zu bytes)", total);
}

void strbuf_add_duration(struct strbuf *sb, int64_t ms)
{
	if (ms && ms % 60000 == 0)
		strbuf_addf(sb, "%lldm", (long long)(ms / 60000));
	else if (ms && ms % 1000 == 0)
		strbuf_addf(sb, "%llds", (long long)(ms / 1000));
	else
		strbuf_addf(sb, "%lldms", (long long)ms);
}

void strbuf_replace_all(struct strbuf *sb, const char *from, size_t flen,
			const char *to)
{
	if (!flen || sb->len < flen)
		return;
	if (!memmem(sb->buf, sb->len, from, flen))
		return;
	struct strbuf out = STRBUF_INIT;
	size_t tlen = strlen(to);
	const char *p = sb->buf, *end = sb->buf + sb->len;
	while (p < end) {
		const char *hit = memmem(p, (size_t)(end - p), from, flen);
		if (!hit) {
			strbuf_add(&out, p, (size_t)(end - p));
			break;
		}
		strbuf_add(&out, p, (size_t)(hit - p));
		strbuf_add(&out, to, tlen);
		p = hit + flen;
	}
	size_t cap = sb->cap, dropped = sb->dropped;
	strbuf_release(sb);
	*sb = out;
	sb->cap = cap;
	sb->dropped = dropped;
}

void strbuf_add_base64(struct strbuf *out, const char *s, size_t len, int pad)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqr"
				  "stuvwxyz0123456789+/";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, start = out->len;
	for (; i + 2 < len; i += 3) {
		strbuf_addch(out, tab[p[i] >> 2]);
		strbuf_addch(out, tab[((p[i] & 3) << 4) | (p[i + 1] >> 4)]);
		strbuf_addch(out,
			     tab[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)]);
		strbuf_addch(out, tab[p[i + 2] & 63]);
	}
	if (len - i == 1) {
		strbuf_addch(out, tab[p[i] >> 2]);
		strbuf_addch(out, tab[(p[i] & 3) << 4]);
	} else if (len - i == 2) {
		strbuf_addch(out, tab[p[i] >> 2]);
		strbuf_addch(out, tab[((p[i] & 3) << 4) | (p[i + 1] >> 4)]);
		strbuf_addch(out, tab[(p[i + 1] & 15) << 2]);
	}
	if (pad)
		while ((out->len - start) % 4)
			strbuf_addch(out, '=');
}

void strbuf_add_xml_escaped(struct strbuf *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		switch (s[i]) {
		case '<':
			strbuf_addstr(out, "&lt;");
			break;
		case '>':
			strbuf_addstr(out, "&gt;");
			break;
		case '&':
			strbuf_addstr(out, "&amp;");
			break;
		case '"':
			strbuf_addstr(out, "&quot;");
			break;
		case '\'':
			strbuf_addstr(out, "&apos;");
			break;
		default:
			strbuf_addch(out, s[i]);
		}
	}
}
