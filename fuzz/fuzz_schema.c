/*
 * libFuzzer target for JSON Schema: the first line of the input is a
 * schema (JSON), the rest an instance (JSON).  Compiling must give a
 * schema or an error, never both; validating must not crash, leak or
 * hang, must say why exactly when the instance is invalid, and must give
 * the same answer and message on a second run.  File `$ref`s resolve
 * under a folder that does not exist.
 */
#include "schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const char *nl = memchr(text, '\n', size);
	size_t slen = nl ? (size_t)(nl - text) : size;
	struct itest_err err = ITEST_ERR_INIT;
	struct srclist sl = SRCLIST_INIT;
	struct ivalue *doc = json_parse(text, slen, NULL, &err);
	struct ivalue *inst = NULL;
	struct jschema *s = NULL;
	struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;

	if (doc) {
		err_clear(&err);
		s = schema_compile(&sl, doc, "/nonexistent/itest-fuzz", &err);
		if (!s == !err.set || (err.set && !err.msg[0]))
			__builtin_trap();
	}
	if (s && nl) {
		err_clear(&err);
		inst = json_parse(nl + 1, size - slen - 1, NULL, &err);
	}
	if (inst) {
		int r1 = schema_validate(s, inst, &a);
		int r2 = schema_validate(s, inst, &b);
		if (r1 != r2 || r1 < -1 || r1 > 1 || strcmp(a.buf, b.buf))
			__builtin_trap();
		if ((r1 == 1) != (a.len == 0))
			__builtin_trap();
	}
	strbuf_release(&a);
	strbuf_release(&b);
	iv_free(inst);
	schema_free(s);
	iv_free(doc);
	srclist_release(&sl);
	return 0;
}
