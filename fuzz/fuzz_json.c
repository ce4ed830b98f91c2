/*
 * libFuzzer target for the JSON parser and emitter, with an oracle: what
 * json_parse accepts, json_emit writes as JSON that parses again to an
 * equal value (compact and pretty); what it rejects has a line and column.
 */
#include "value.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(const struct ivalue *v, int pretty)
{
	struct strbuf sb = STRBUF_INIT;
	struct itest_err err = ITEST_ERR_INIT;
	json_emit(&sb, v, pretty);
	struct ivalue *again = json_parse(sb.buf, sb.len, NULL, &err);
	if (!again || !iv_equal(v, again) || !iv_equal(again, v))
		__builtin_trap();
	iv_free(again);
	strbuf_release(&sb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[] = "fuzz.json";
	const struct itest_src src = {path, NULL, 0, 0};
	struct itest_err err = ITEST_ERR_INIT;
	struct ivalue *v = json_parse((const char *)data, size, &src, &err);
	if (!v) {
		if (!err.set || err.loc.src != &src || err.loc.line < 1 ||
		    err.loc.col < 1)
			__builtin_trap();
		return 0;
	}
	if (err.set)
		__builtin_trap();
	round_trip(v, 0);
	round_trip(v, 2);
	struct ivalue *c = iv_clone(v);
	if (!iv_equal(v, c))
		__builtin_trap();
	iv_free(c);
	iv_free(v);
	return 0;
}
