/*
 * runner/openapi.c: the operations of a document (paths x methods, in
 * the document's order, `parameters` and the like left out) and the
 * matching of requests to them: templates, literal segments first, the
 * query ignored, the method in any case; load errors at their place.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <unistd.h>

#include "openapi.h"

static struct openapi *load_text(const char *text, struct itest_err *err)
{
	char path[] = "/tmp/itest-openapi-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	struct srclist sl = SRCLIST_INIT;
	struct openapi *a =
		openapi_load(srclist_add(&sl, path, NULL, 0, 0), err);
	unlink(path);
	/* the error's location points into the list: keep its text only */
	if (!a && err->loc.src)
		err->loc.src = NULL;
	srclist_release(&sl);
	return a;
}

static void test_operations_and_matching(void **state)
{
	struct itest_err err = ITEST_ERR_INIT;
	(void)state;
	struct openapi *a = load_text("openapi: 3.0.3\n"
				      "paths:\n"
				      "  /orders:\n"
				      "    get: {}\n"
				      "    post: {}\n"
				      "  /orders/{id}:\n"
				      "    parameters: []\n"
				      "    get: {}\n"
				      "    delete: {}\n"
				      "  /orders/latest:\n"
				      "    get: {}\n"
				      "  /:\n"
				      "    get: {}\n",
				      &err);
	assert_non_null(a);
	assert_int_equal(openapi_count(a), 6);
	assert_string_equal(openapi_op(a, 0), "GET /orders");
	assert_string_equal(openapi_op(a, 1), "POST /orders");
	assert_string_equal(openapi_op(a, 2), "GET /orders/{id}");
	assert_string_equal(openapi_op(a, 3), "DELETE /orders/{id}");
	assert_string_equal(openapi_op(a, 4), "GET /orders/latest");
	assert_string_equal(openapi_op(a, 5), "GET /");
	assert_int_equal(openapi_match(a, "GET", "/orders"), 0);
	assert_int_equal(openapi_match(a, "post", "/orders?dry=1"), 1);
	assert_int_equal(openapi_match(a, "GET", "/orders/42"), 2);
	assert_int_equal(openapi_match(a, "DELETE", "/orders/42/"), 3);
	/* a literal segment beats a template */
	assert_int_equal(openapi_match(a, "GET", "/orders/latest"), 4);
	assert_int_equal(openapi_match(a, "GET", "/"), 5);
	assert_int_equal(openapi_match(a, "PUT", "/orders"), -1);
	assert_int_equal(openapi_match(a, "GET", "/orders/42/items"), -1);
	assert_int_equal(openapi_match(a, "GET", "/order"), -1);
	openapi_free(a);
}

static void test_load_errors(void **state)
{
	struct itest_err err = ITEST_ERR_INIT;
	(void)state;
	assert_null(load_text("openapi: 3.0.3\ninfo: {}\n", &err));
	assert_non_null(strstr(err.msg, "is not an OpenAPI document (no "
					"'paths' map)"));
	err = (struct itest_err)ITEST_ERR_INIT;
	assert_null(load_text("paths:\n  orders:\n    get: {}\n", &err));
	assert_string_equal(err.msg,
			    "an OpenAPI path starts with '/', not 'orders'");
	assert_int_equal(err.loc.line, 2);
	err = (struct itest_err)ITEST_ERR_INIT;
	assert_null(load_text("paths: [\n", &err));
	/* JSON is YAML too, and an empty `paths` is allowed */
	struct openapi *a = load_text("{\"paths\": {}}", &err);
	assert_non_null(a);
	assert_int_equal(openapi_count(a), 0);
	openapi_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_operations_and_matching),
		cmocka_unit_test(test_load_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
