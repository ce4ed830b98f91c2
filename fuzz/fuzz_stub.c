/*
 * libFuzzer target for the stub file check: any bytes, parsed as YAML,
 * must be accepted or rejected with an error that names its place in the
 * file, without a crash, a leak or a hang.
 */
#include "stubsrv.h"
#include "yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[] = "fuzz-stub.yml";
	const struct itest_src src = {path, NULL, 0, 0};
	struct itest_err err = ITEST_ERR_INIT;
	struct ivalue *doc = yaml_parse((const char *)data, size, &src, &err);
	if (!doc)
		return 0;
	if (stub_check_spec(doc, &err) < 0 &&
	    (!err.set || err.loc.src != &src || !err.loc.line))
		__builtin_trap(); /* a rejection always says where */
	iv_free(doc);
	return 0;
}
