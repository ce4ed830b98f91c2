/*
 * The table of built-in drivers (one line per driver), and what every
 * driver shares: result parts, the attachment list, the output log.
 */
#include "driver.h"

extern const struct itest_driver shell_driver;
extern const struct itest_driver http_driver;
extern const struct itest_driver stub_driver;
extern const struct itest_driver ssh_driver;
extern const struct itest_driver external_driver;
extern const struct itest_driver browser_driver;

/* one driver per line */
/* clang-format off */
const struct itest_driver *const itest_drivers[] = {
	&shell_driver,
	&http_driver,
	&stub_driver,
	&ssh_driver,
	&external_driver,
	&browser_driver,
	NULL,
};
/* clang-format on */

const struct itest_driver *driver_find(const char *name)
{
	for (size_t i = 0; itest_drivers[i]; i++)
		if (!itest_drivers[i]->external &&
		    !strcmp(itest_drivers[i]->name, name))
			return itest_drivers[i];
	return NULL;
}

const char *status_name(enum itest_status s)
{
	static const char *const names[] = {"PASS", "FAIL", "ERROR", "SKIP"};
	return names[s];
}

void driver_log_stream(struct strbuf *log, const char *name,
		       const struct strbuf *text, size_t max)
{
	if (!text->len && !text->dropped)
		return;
	strbuf_addf(log, "%s:\n", name);
	size_t n = text->len;
	if (n > max) {
		n = max;
		while (n && ((unsigned char)text->buf[n] & 0xC0) == 0x80)
			n--;
	}
	const char *p = text->buf, *end = text->buf + n;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *stop = nl ? nl : end;
		strbuf_addstr(log, "  ");
		for (const char *q = p; q < stop; q++) {
			if (*q)
				strbuf_addch(log, *q);
			else
				strbuf_addstr(log, "\\0");
		}
		strbuf_addch(log, '\n');
		p = nl ? nl + 1 : end;
	}
	if (n < text->len)
		strbuf_addf(log, "  ... (%zu more bytes)\n", text->len - n);
	if (text->dropped)
		strbuf_addf(log,
			    "  (%zu more bytes dropped at the capture cap of "
			    "%zu bytes)\n",
			    text->dropped, text->cap);
}

void stepctx_attach(const struct itest_stepctx *ctx, const char *path)
{
	struct itest_attachments *a = ctx->attach;
	if (!a || !path)
		return;
	a->paths = xrealloc(a->paths, (a->n + 1) * sizeof(*a->paths));
	a->paths[a->n++] = xstrdup(path);
}

void result_init(struct itest_result *r)
{
	r->parts = iv_obj();
	r->json_from = NULL;
	r->keyed = NULL;
	r->lazy = NULL;
	r->lazy_data = NULL;
	r->target_host[0] = '\0';
	r->target_port = 0;
	r->target_request = NULL;
	strbuf_init(&r->message, 0);
}

void result_release(struct itest_result *r)
{
	iv_free(r->parts);
	r->parts = NULL;
	free(r->target_request);
	r->target_request = NULL;
	strbuf_release(&r->message);
}

const struct ivalue *result_part(struct itest_result *r, const char *name,
				 struct strbuf *why)
{
	const struct ivalue *v = iv_get(r->parts, name);
	if (v)
		return v;
	if (r->lazy && (strcmp(name, "json") || !r->json_from)) {
		struct ivalue *built = r->lazy(r, name);
		if (built)
			iv_set(r->parts, name, built);
		return built;
	}
	if (strcmp(name, "json") || !r->json_from)
		return v;
	const struct ivalue *text = iv_get(r->parts, r->json_from);
	if (!text || text->type != IV_STR) {
		if (why)
			strbuf_addf(why,
				    "the result has no '%s' to read as JSON",
				    r->json_from);
		return NULL;
	}
	struct itest_err err = ITEST_ERR_INIT;
	struct ivalue *j =
		json_parse(text->u.str.s, text->u.str.len, NULL, &err);
	if (!j) {
		if (why)
			strbuf_addf(why,
				    "%s is not JSON (line %d, column %d: %s)",
				    r->json_from, err.loc.line, err.loc.col,
				    err.msg);
		return NULL;
	}
	iv_set(r->parts, "json", j);
	return j;
}
