/*
 * The masker of mask.h: secret values and their encoded forms replaced
 * by "***" in everything itest writes.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "mask.h"

static void add_form(struct masker *m, const char *s, size_t len)
{
	if (len < 3)
		return;
	for (size_t i = 0; i < m->n; i++)
		if (strlen(m->forms[i]) == len && !memcmp(m->forms[i], s, len))
			return;
	XGROW(m->forms, m->alloc, m->n + 1);
	/* keep the longest first, so that a secret that contains another
	 * is masked whole */
	size_t at = 0;
	while (at < m->n && strlen(m->forms[at]) >= len)
		at++;
	memmove(m->forms + at + 1, m->forms + at,
		(m->n - at) * sizeof(*m->forms));
	m->forms[at] = xstrndup(s, len);
	m->n++;
}

void mask_add(struct masker *m, const char *secret, size_t len)
{
	struct strbuf sb = STRBUF_INIT;
	add_form(m, secret, len);
	/* base64: the whole value (padded), and the characters that the
	 * secret alone determines at each of the three alignments it can
	 * take inside a longer encoded string ("user:secret" in Basic) */
	strbuf_add_base64(&sb, secret, len, 0);
	while (sb.len % 4)
		strbuf_addch(&sb, '=');
	add_form(m, sb.buf, sb.len);
	strbuf_reset(&sb);
	for (size_t shift = 0; shift < 3; shift++) {
		struct strbuf pre = STRBUF_INIT;
		strbuf_add(&pre, "\0\0", shift);
		strbuf_add(&pre, secret, len);
		strbuf_add_base64(&sb, pre.buf, pre.len, 0);
		size_t skip = (shift * 8 + 5) / 6;
		size_t end = (shift + len) * 8 / 6;
		if (end > skip && end - skip >= 4)
			add_form(m, sb.buf + skip, end - skip);
		strbuf_reset(&sb);
		strbuf_release(&pre);
	}
	strbuf_add_url_encoded(&sb, secret, len);
	add_form(m, sb.buf, sb.len);
	strbuf_reset(&sb);
	strbuf_add_json_escaped(&sb, secret, len);
	add_form(m, sb.buf, sb.len);
	/* escaped twice: a JSON value shown quoted in a failure message */
	struct strbuf twice = STRBUF_INIT;
	strbuf_add_json_escaped(&twice, sb.buf, sb.len);
	add_form(m, twice.buf, twice.len);
	strbuf_release(&twice);
	strbuf_reset(&sb);
	strbuf_add_xml_escaped(&sb, secret, len);
	add_form(m, sb.buf, sb.len);
	strbuf_release(&sb);
}

void mask_release(struct masker *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->forms[i]);
	free(m->forms);
	m->forms = NULL;
	m->n = m->alloc = 0;
}

void mask_apply(const struct masker *m, struct strbuf *sb)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		strbuf_replace_all(sb, m->forms[i], strlen(m->forms[i]), "***");
}

char *mask_dup(const struct masker *m, const char *s)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb, s);
	mask_apply(m, &sb);
	return strbuf_detach(&sb, NULL);
}

char *mask_detach(const struct masker *m, struct strbuf *sb)
{
	size_t len;
	mask_apply(m, sb);
	char *s = strbuf_detach(sb, &len);
	return xrealloc(s, len + 1);
}

int mask_write_file(const struct masker *m, const char *path,
		    const struct strbuf *content, struct itest_err *err)
{
	struct strbuf body = STRBUF_INIT, tmp = STRBUF_INIT;
	int fd = -1, ret = -1;
	const char *data = content->buf;
	size_t len = content->len;
	if (m && m->n) {
		/* a masked copy; without secrets the content goes as it is */
		strbuf_add(&body, content->buf, content->len);
		mask_apply(m, &body);
		data = body.buf;
		len = body.len;
	}
	strbuf_addf(&tmp, "%s.tmp.%ld", path, (long)getpid());
	fd = open(tmp.buf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		err_set(err, NULL, "cannot write '%s': %s", tmp.buf,
			strerror(errno));
		goto out;
	}
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err_set(err, NULL, "cannot write '%s': %s", tmp.buf,
				strerror(errno));
			goto out;
		}
		off += (size_t)n;
	}
	if (close(fd) < 0) {
		fd = -1;
		err_set(err, NULL, "cannot write '%s': %s", tmp.buf,
			strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp.buf, path) < 0) {
		err_set(err, NULL, "cannot rename '%s' to '%s': %s", tmp.buf,
			path, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (ret < 0)
		unlink(tmp.buf);
	strbuf_release(&body);
	strbuf_release(&tmp);
	return ret;
}
