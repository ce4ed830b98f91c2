/*
 * Fuzz target: the whole suite loader (YAML, keys, steps, expectations,
 * templates, blocks) on arbitrary bytes, in check mode.
 */
#include <stdint.h>
#include <unistd.h>

#include "suite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	snprintf(path, sizeof(path), "/tmp/itest-fuzz-suite-%ld.yml",
		 (long)getpid());
	FILE *f = fopen(path, "wb");
	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	struct masker mask = MASKER_INIT;
	struct loader ld = {0};
	struct itest_err err = ITEST_ERR_INIT;
	struct suite *s = NULL;
	ld.mask = &mask;
	ld.check_only = 1;
	if (suite_load(&ld, path, &s, &err) == 0)
		suite_free(s);
	else if (!err.set)
		__builtin_trap(); /* a failed load always says why */
	srclist_release(&ld.srcs);
	mask_release(&mask);
	return 0;
}
