/*
 * libFuzzer target for OpenAPI documents and request matching: the first
 * line of the input is a request ("GET /orders/42?x"), the rest the
 * document.  Loading must give operations or an error; matching must
 * give -1 or an operation of the same method, and the same answer twice.
 */
#include <strings.h>

#include "openapi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const char *nl = memchr(text, '\n', size);
	size_t rlen = nl ? (size_t)(nl - text) : size;
	char *req = xstrndup(text, rlen);
	const char *doc = nl ? nl + 1 : text + size;
	struct itest_err err = ITEST_ERR_INIT;
	struct openapi *a =
		openapi_parse(doc, size - (size_t)(doc - text), NULL, &err);
	if (!a) {
		if (!err.set)
			abort();
		free(req);
		return 0;
	}
	char *sp = strchr(req, ' ');
	if (sp) {
		*sp = '\0';
		long op = openapi_match(a, req, sp + 1);
		if (op != openapi_match(a, req, sp + 1))
			abort();
		if (op >= 0) {
			if ((size_t)op >= openapi_count(a))
				abort();
			const char *t = openapi_op(a, (size_t)op);
			if (strncasecmp(t, req, strlen(req)) ||
			    t[strlen(req)] != ' ')
				abort();
		}
	}
	openapi_free(a);
	free(req);
	return 0;
}
