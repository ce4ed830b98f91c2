/*
 * libFuzzer target for JSONPath: the first line of the input is the
 * expression, the rest a JSON document.  Compiling must give a path or an
 * error in the documented form; evaluating must not crash, leak or hang,
 * must select only nodes of the document, and must give the same nodes
 * again on a second run.
 */
#include "jsonpath.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Is v the root or one of its descendants?  (Iterative: depth <= 512.) */
static int in_tree(const struct ivalue *root, const struct ivalue *v)
{
	struct jp_nodes stack = {0};
	int found = 0;
	XGROW(stack.v, stack.alloc, 1);
	stack.v[stack.n++] = root;
	while (stack.n && !found) {
		const struct ivalue *d = stack.v[--stack.n];
		size_t n = d->type == IV_ARR   ? d->u.arr.n
			   : d->type == IV_OBJ ? d->u.obj.n
					       : 0;
		found = d == v;
		XGROW(stack.v, stack.alloc, stack.n + n);
		for (size_t i = 0; i < n; i++)
			stack.v[stack.n++] = d->type == IV_ARR
						     ? d->u.arr.v[i]
						     : d->u.obj.m[i].val;
	}
	jp_nodes_release(&stack);
	return found;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const char *nl = memchr(text, '\n', size);
	size_t elen = nl ? (size_t)(nl - text) : size;
	char *expr = xstrndup(text, elen);
	struct itest_err err = ITEST_ERR_INIT;
	struct jsonpath *p = jsonpath_compile(expr, &err);
	struct ivalue *doc = NULL;
	struct jp_nodes a = {0}, b = {0};

	if (!p && (!err.set || strncmp(err.msg, "invalid JSONPath '", 18) ||
		   !strstr(err.msg, " at offset ")))
		__builtin_trap();
	if (p && err.set)
		__builtin_trap();
	if (p && nl) {
		err_clear(&err);
		doc = json_parse(nl + 1, size - elen - 1, NULL, &err);
	}
	if (doc) {
		jsonpath_eval(p, doc, &a);
		jsonpath_eval(p, doc, &b);
		if (a.n != b.n || (a.n && memcmp(a.v, b.v, a.n * sizeof(*a.v))))
			__builtin_trap();
		if (jsonpath_is_singular(p) && a.n > 1)
			__builtin_trap();
		for (size_t i = 0; i < a.n && i < 64; i++)
			if (!in_tree(doc, a.v[i]))
				__builtin_trap();
	}
	jp_nodes_release(&a);
	jp_nodes_release(&b);
	iv_free(doc);
	jsonpath_free(p);
	free(expr);
	return 0;
}
