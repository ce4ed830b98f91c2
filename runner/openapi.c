/*
 * The operations of an OpenAPI document and matching requests to them
 * (see openapi.h).
 */
#include <strings.h>

#include "common.h"
#include "openapi.h"

struct api_op {
	char *text;   /* "GET /orders/{id}" */
	char *method; /* upper case */
	char **segs;  /* the path split at '/' (no empty ones) */
	size_t nsegs;
	size_t literal; /* segments that are not templates */
};

struct openapi {
	struct api_op *ops;
	size_t n;
};

static const char *const methods[] = {
	"get",	"put",	 "post",  "delete", "options",
	"head", "patch", "trace", NULL,
};

static void split(const char *path, size_t len, char ***segs, size_t *n)
{
	*segs = NULL;
	*n = 0;
	for (size_t i = 0; i < len;) {
		while (i < len && path[i] == '/')
			i++;
		size_t j = i;
		while (j < len && path[j] != '/')
			j++;
		if (j > i) {
			*segs = xrealloc(*segs, (*n + 1) * sizeof(**segs));
			(*segs)[(*n)++] = xstrndup(path + i, j - i);
		}
		i = j;
	}
}

static int is_template(const char *seg)
{
	size_t n = strlen(seg);
	return n >= 2 && seg[0] == '{' && seg[n - 1] == '}';
}

static void add_op(struct openapi *a, const char *method, const char *path)
{
	a->ops = xrealloc(a->ops, (a->n + 1) * sizeof(*a->ops));
	struct api_op *op = &a->ops[a->n++];
	memset(op, 0, sizeof(*op));
	op->method = xstrdup(method);
	for (char *p = op->method; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	op->text = xasprintf("%s %s", op->method, path);
	split(path, strlen(path), &op->segs, &op->nsegs);
	for (size_t i = 0; i < op->nsegs; i++)
		op->literal += !is_template(op->segs[i]);
}

/* The operations of a parsed document, which it frees. */
static struct openapi *from_doc(struct ivalue *doc, const struct itest_src *src,
				struct itest_err *err)
{
	struct openapi *a = NULL;
	const struct ivalue *paths = iv_get(doc, "paths");
	if (doc->type != IV_OBJ || !paths || paths->type != IV_OBJ) {
		struct itest_loc loc = {src, 1, 1};
		err_set(err, doc->type == IV_OBJ ? &doc->loc : &loc,
			"'%s' is not an OpenAPI document (no 'paths' map)",
			src ? src->path : "the text");
		goto out;
	}
	a = xcalloc(1, sizeof(*a));
	for (size_t i = 0; i < paths->u.obj.n; i++) {
		const struct imember *p = &paths->u.obj.m[i];
		if (p->key[0] != '/') {
			err_set(err, &p->kloc,
				"an OpenAPI path starts with '/', not '%s'",
				p->key);
			openapi_free(a);
			a = NULL;
			goto out;
		}
		if (p->val->type != IV_OBJ)
			continue;
		/* in the document's order; `parameters`, `summary`, ...
		 * are not operations */
		for (size_t k = 0; k < p->val->u.obj.n; k++) {
			const char *m = p->val->u.obj.m[k].key;
			for (size_t q = 0; methods[q]; q++)
				if (!strcmp(m, methods[q]))
					add_op(a, m, p->key);
		}
	}
out:
	iv_free(doc);
	return a;
}

struct openapi *openapi_load(const struct itest_src *src, struct itest_err *err)
{
	struct ivalue *doc = yaml_load_file(src, err);
	return doc ? from_doc(doc, src, err) : NULL;
}

struct openapi *openapi_parse(const char *text, size_t len,
			      const struct itest_src *src,
			      struct itest_err *err)
{
	struct ivalue *doc = yaml_parse(text, len, src, err);
	return doc ? from_doc(doc, src, err) : NULL;
}

void openapi_free(struct openapi *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++) {
		struct api_op *op = &a->ops[i];
		for (size_t k = 0; k < op->nsegs; k++)
			free(op->segs[k]);
		free(op->segs);
		free(op->method);
		free(op->text);
	}
	free(a->ops);
	free(a);
}

size_t openapi_count(const struct openapi *a)
{
	return a ? a->n : 0;
}

const char *openapi_op(const struct openapi *a, size_t i)
{
	return a->ops[i].text;
}

long openapi_match(const struct openapi *a, const char *method,
		   const char *path)
{
	if (!a || !method || !path)
		return -1;
	size_t len = strcspn(path, "?#");
	char **segs;
	size_t n;
	long best = -1;
	split(path, len, &segs, &n);
	for (size_t i = 0; i < a->n; i++) {
		const struct api_op *op = &a->ops[i];
		if (op->nsegs != n || strcasecmp(op->method, method))
			continue;
		size_t k = 0;
		while (k < n && (is_template(op->segs[k]) ||
				 !strcmp(op->segs[k], segs[k])))
			k++;
		if (k == n && (best < 0 || op->literal > a->ops[best].literal))
			best = (long)i;
	}
	for (size_t k = 0; k < n; k++)
		free(segs[k]);
	free(segs);
	return best;
}
