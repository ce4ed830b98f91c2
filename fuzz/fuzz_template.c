/*
 * Fuzz target: template parsing and rendering (`${...}`, filters,
 * defaults, `$${`) against a small fixed scope.
 */
#include <stdint.h>

#include "template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct itest_err err = ITEST_ERR_INIT;
	struct ivalue *vars = iv_obj(), *sv = iv_obj(), *bi = iv_obj();
	struct ivalue *obj = iv_obj(), *arr = iv_arr();
	iv_push(arr, iv_int(1));
	iv_push(arr, iv_str("two"));
	iv_set(obj, "list", arr);
	iv_set(vars, "o", obj);
	iv_set(vars, "s", iv_str("a b'c"));
	iv_set(sv, "self", iv_str("${self}"));
	iv_set(sv, "t", iv_str("${s}-${o.list.1}"));
	struct scope sc = {0};
	scope_push(&sc, vars);
	sc.suite_vars = sv;
	sc.builtins = bi;
	struct ivalue *in = iv_strn((const char *)data, size);
	struct ivalue *out = tpl_render(in, &sc, &err);
	if (!out && !err.set)
		__builtin_trap(); /* a failure always says why */
	iv_free(out);
	iv_free(in);
	iv_free(vars);
	iv_free(sv);
	iv_free(bi);
	return 0;
}
