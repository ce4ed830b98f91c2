/*
 * libFuzzer target for the YAML loader: any bytes must give a value tree
 * or an error with a location, without a crash, a leak or a hang.
 */
#include "yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[] = "fuzz.yml";
	const struct itest_src src = {path, NULL, 0, 0};
	struct itest_err err = ITEST_ERR_INIT;
	struct ivalue *v = yaml_parse((const char *)data, size, &src, &err);
	if (!v && (!err.set || err.loc.src != &src))
		__builtin_trap(); /* an error always says where */
	if (v && err.set)
		__builtin_trap();
	iv_free(v);
	return 0;
}
