/*
 * Run metrics (SPEC 7 "Metrics"): every step a driver runs is one request
 * of a series keyed by (component, driver) -- the component being the one
 * whose address the step reached, "" when it reached none (a local
 * command).  A series counts requests and errors, keeps each latency for
 * exact quantiles, and remembers when it was active, for rates per
 * minute.  Each worker fills a table of its own (no locks); the runner
 * merges them at the end of the run.
 */
#ifndef ITEST_METRICS_H
#define ITEST_METRICS_H

#include <stddef.h>

#include "strbuf.h"
#include "value.h"

struct metric_series {
	const char *component; /* "" for none; borrowed (the suite's) */
	const char *driver;    /* borrowed (the driver table's) */
	size_t requests, errors;
	double sum_ms, max_ms;
	double first_ms, last_ms; /* monotonic: first start, last end */
	float *lat_ms;		  /* every latency; sorted by metrics_finish */
	size_t nlat, alat;
};

struct metrics {
	struct metric_series *v;
	size_t n, alloc;
};

/* One request that started at `start_ms` (monotonic) and took `ms`. */
void metrics_add(struct metrics *m, const char *component, const char *driver,
		 double start_ms, double ms, int error);
/* Adds every series of `from` into `into`. */
void metrics_merge(struct metrics *into, const struct metrics *from);
/* Sorts the series (by component, then driver) and their latencies. */
void metrics_finish(struct metrics *m);
void metrics_release(struct metrics *m);

/* After metrics_finish: the q-quantile (0..1) of a series' latencies,
 * nearest rank. */
double metrics_quantile(const struct metric_series *s, double q);
/* Requests (or errors) per minute over the time the series was active
 * (at least one second, so that one quick request is not 60,000/min). */
double metrics_per_minute(const struct metric_series *s, size_t count);

/* The table as JSON: [{component, driver, requests, errors,
 * requests_per_minute, errors_per_minute, latency_ms: {avg, p95, max}}] */
struct ivalue *metrics_json(const struct metrics *m);
/* The table in the Prometheus text format, labelled with the run id. */
void metrics_prom(const struct metrics *m, const char *run_id,
		  struct strbuf *out);

#endif
