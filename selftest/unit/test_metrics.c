/*
 * runner/metrics.c: series per component and driver, merging the workers'
 * tables, nearest-rank quantiles, rates over the active time, and the
 * JSON and Prometheus forms.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "metrics.h"

static void test_series_and_quantiles(void **state)
{
	struct metrics m = {0};
	(void)state;
	/* 1..100 ms on orders/http, one of them an error */
	for (int i = 1; i <= 100; i++)
		metrics_add(&m, "orders", "http", 1000.0 + i * 10, i, i == 50);
	metrics_add(&m, NULL, "shell", 0, 5, 0);
	metrics_finish(&m);
	assert_int_equal(m.n, 2);
	/* sorted by component: "" (none) first */
	assert_string_equal(m.v[0].component, "");
	assert_string_equal(m.v[0].driver, "shell");
	const struct metric_series *s = &m.v[1];
	assert_string_equal(s->component, "orders");
	assert_int_equal(s->requests, 100);
	assert_int_equal(s->errors, 1);
	assert_true(s->max_ms == 100);
	assert_true(metrics_quantile(s, 0.95) == 95);
	assert_true(metrics_quantile(s, 0.5) == 50);
	assert_true(metrics_quantile(s, 1) == 100);
	/* active from 1010 to 2100 ms: 1.09 s */
	assert_true(s->first_ms == 1010 && s->last_ms == 2100);
	double rpm = metrics_per_minute(s, s->requests);
	assert_true(rpm > 5504 && rpm < 5505);
	/* a single quick request counts over at least a second */
	assert_true(metrics_per_minute(&m.v[0], 1) == 60);
	metrics_release(&m);
}

static void test_merge(void **state)
{
	struct metrics a = {0}, b = {0}, all = {0};
	(void)state;
	metrics_add(&a, "web", "http", 0, 1, 0);
	metrics_add(&a, "web", "browser", 0, 30, 1);
	metrics_add(&b, "web", "http", 500, 3, 0);
	metrics_add(&b, "web", "http", 700, 2, 0);
	metrics_merge(&all, &a);
	metrics_merge(&all, &b);
	metrics_finish(&all);
	assert_int_equal(all.n, 2);
	assert_string_equal(all.v[0].driver, "browser");
	assert_int_equal(all.v[0].errors, 1);
	assert_int_equal(all.v[1].requests, 3);
	assert_true(all.v[1].sum_ms == 6);
	assert_true(all.v[1].first_ms == 0 && all.v[1].last_ms == 702);
	assert_true(metrics_quantile(&all.v[1], 0.95) == 3);
	metrics_release(&a);
	metrics_release(&b);
	metrics_release(&all);
}

static void test_json_and_prom(void **state)
{
	struct metrics m = {0};
	struct strbuf sb = STRBUF_INIT;
	(void)state;
	metrics_add(&m, "we\"b", "http", 0, 1.5, 0);
	metrics_add(&m, "we\"b", "http", 10, 2.5, 1);
	metrics_finish(&m);
	struct ivalue *j = metrics_json(&m);
	json_emit(&sb, j, 0);
	assert_string_equal(
		sb.buf,
		"[{\"component\":\"we\\\"b\",\"driver\":\"http\","
		"\"requests\":2,\"errors\":1,\"requests_per_minute\":120,"
		"\"errors_per_minute\":60,\"latency_ms\":{\"avg\":2,"
		"\"p95\":2.5,\"max\":2.5}}]");
	iv_free(j);
	strbuf_reset(&sb);
	metrics_prom(&m, "r1", &sb);
	assert_non_null(strstr(sb.buf, "# TYPE itest_requests_total counter\n"
				       "itest_requests_total{run_id=\"r1\","
				       "component=\"we\\\"b\",driver=\"http\"} "
				       "2\n"));
	assert_non_null(strstr(sb.buf, "itest_request_duration_seconds{run_id="
				       "\"r1\",component=\"we\\\"b\",driver="
				       "\"http\",quantile=\"0.95\"} 0.0025\n"));
	assert_non_null(
		strstr(sb.buf, "itest_request_duration_seconds_count{"));
	assert_non_null(strstr(sb.buf, "# TYPE itest_request_duration_seconds "
				       "summary\n"));
	strbuf_release(&sb);
	metrics_release(&m);
	/* an empty table writes nothing */
	struct metrics none = {0};
	metrics_prom(&none, "r1", &sb);
	assert_int_equal(sb.len, 0);
	strbuf_release(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_series_and_quantiles),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_json_and_prom),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
