/*
 * Run metrics: requests, errors and latencies per component and driver
 * (see metrics.h).
 */
#include <math.h>

#include "common.h"
#include "metrics.h"

static struct metric_series *
series_for(struct metrics *m, const char *component, const char *driver)
{
	/* a run has a handful of series: a scan beats a hash here */
	for (size_t i = 0; i < m->n; i++) {
		struct metric_series *s = &m->v[i];
		if ((s->driver == driver || !strcmp(s->driver, driver)) &&
		    (s->component == component ||
		     !strcmp(s->component, component)))
			return s;
	}
	if (m->n == m->alloc) {
		m->alloc = m->alloc ? 2 * m->alloc : 4;
		m->v = xrealloc(m->v, m->alloc * sizeof(*m->v));
	}
	struct metric_series *s = &m->v[m->n++];
	memset(s, 0, sizeof(*s));
	s->component = component;
	s->driver = driver;
	return s;
}

static void add_latency(struct metric_series *s, float ms)
{
	if (s->nlat == s->alat) {
		s->alat = s->alat ? 2 * s->alat : 64;
		s->lat_ms = xrealloc(s->lat_ms, s->alat * sizeof(*s->lat_ms));
	}
	s->lat_ms[s->nlat++] = ms;
}

void metrics_add(struct metrics *m, const char *component, const char *driver,
		 double start_ms, double ms, int error)
{
	struct metric_series *s =
		series_for(m, component ? component : "", driver);
	if (!s->requests || start_ms < s->first_ms)
		s->first_ms = start_ms;
	if (start_ms + ms > s->last_ms)
		s->last_ms = start_ms + ms;
	s->requests++;
	s->errors += error != 0;
	s->sum_ms += ms;
	if (ms > s->max_ms)
		s->max_ms = ms;
	add_latency(s, (float)ms);
}

void metrics_merge(struct metrics *into, const struct metrics *from)
{
	for (size_t i = 0; i < from->n; i++) {
		const struct metric_series *f = &from->v[i];
		if (!f->requests)
			continue;
		struct metric_series *s =
			series_for(into, f->component, f->driver);
		if (!s->requests || f->first_ms < s->first_ms)
			s->first_ms = f->first_ms;
		if (f->last_ms > s->last_ms)
			s->last_ms = f->last_ms;
		s->requests += f->requests;
		s->errors += f->errors;
		s->sum_ms += f->sum_ms;
		if (f->max_ms > s->max_ms)
			s->max_ms = f->max_ms;
		for (size_t k = 0; k < f->nlat; k++)
			add_latency(s, f->lat_ms[k]);
	}
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

static int cmp_series(const void *a, const void *b)
{
	const struct metric_series *x = a, *y = b;
	int c = strcmp(x->component, y->component);
	return c ? c : strcmp(x->driver, y->driver);
}

void metrics_finish(struct metrics *m)
{
	if (m->n > 1)
		qsort(m->v, m->n, sizeof(*m->v), cmp_series);
	for (size_t i = 0; i < m->n; i++)
		if (m->v[i].nlat > 1)
			qsort(m->v[i].lat_ms, m->v[i].nlat, sizeof(float),
			      cmp_float);
}

void metrics_release(struct metrics *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].lat_ms);
	free(m->v);
	memset(m, 0, sizeof(*m));
}

double metrics_quantile(const struct metric_series *s, double q)
{
	if (!s->nlat)
		return 0;
	/* nearest rank: the smallest value with at least q of them at or
	 * below it */
	size_t rank = (size_t)ceil(q * (double)s->nlat);
	if (rank < 1)
		rank = 1;
	if (rank > s->nlat)
		rank = s->nlat;
	return s->lat_ms[rank - 1];
}

double metrics_per_minute(const struct metric_series *s, size_t count)
{
	double span = s->last_ms - s->first_ms;
	if (span < 1000)
		span = 1000;
	return (double)count * 60000.0 / span;
}

/* A number rounded to microseconds (or to 0.01 for a rate): readable
 * JSON, and no float noise from the float samples. */
static struct ivalue *rounded(double v, double unit)
{
	double r = round(v / unit) * unit;
	if (r == floor(r) && fabs(r) < 1e15)
		return iv_int((int64_t)r);
	return iv_double(r);
}

struct ivalue *metrics_json(const struct metrics *m)
{
	struct ivalue *arr = iv_arr();
	for (size_t i = 0; i < m->n; i++) {
		const struct metric_series *s = &m->v[i];
		struct ivalue *o = iv_obj(), *lat = iv_obj();
		iv_set(o, "component", iv_str(s->component));
		iv_set(o, "driver", iv_str(s->driver));
		iv_set(o, "requests", iv_int((int64_t)s->requests));
		iv_set(o, "errors", iv_int((int64_t)s->errors));
		iv_set(o, "requests_per_minute",
		       rounded(metrics_per_minute(s, s->requests), 0.01));
		iv_set(o, "errors_per_minute",
		       rounded(metrics_per_minute(s, s->errors), 0.01));
		iv_set(lat, "avg",
		       rounded(s->requests ? s->sum_ms / (double)s->requests
					   : 0,
			       0.001));
		iv_set(lat, "p95", rounded(metrics_quantile(s, 0.95), 0.001));
		iv_set(lat, "max", rounded(s->max_ms, 0.001));
		iv_set(o, "latency_ms", lat);
		iv_push(arr, o);
	}
	return arr;
}

/* A label value: backslash, double quote and newline escaped. */
static void add_label(struct strbuf *out, const char *name, const char *v)
{
	strbuf_addf(out, "%s=\"", name);
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			strbuf_addch(out, '\\');
		if (*v == '\n')
			strbuf_addstr(out, "\\n");
		else
			strbuf_addch(out, *v);
	}
	strbuf_addch(out, '"');
}

static void add_sample(struct strbuf *out, const char *metric,
		       const char *run_id, const struct metric_series *s,
		       const char *quantile, double value)
{
	strbuf_addf(out, "%s{", metric);
	add_label(out, "run_id", run_id);
	strbuf_addch(out, ',');
	add_label(out, "component", s->component);
	strbuf_addch(out, ',');
	add_label(out, "driver", s->driver);
	if (quantile) {
		strbuf_addch(out, ',');
		add_label(out, "quantile", quantile);
	}
	strbuf_addf(out, "} %.9g\n", value);
}

void metrics_prom(const struct metrics *m, const char *run_id,
		  struct strbuf *out)
{
	static const struct {
		const char *name, *type, *help;
	} fams[] = {
		{"itest_requests_total", "counter",
		 "Driver steps run, per component reached and driver."},
		{"itest_errors_total", "counter",
		 "Driver steps that could not run (ERROR)."},
		{"itest_requests_per_minute", "gauge",
		 "Requests per minute while the series was active."},
		{"itest_errors_per_minute", "gauge",
		 "Errors per minute while the series was active."},
		{"itest_request_duration_seconds", "summary",
		 "Latency of the driver steps."},
		{"itest_request_duration_max_seconds", "gauge",
		 "The slowest driver step."},
	};
	for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
		if (!m->n)
			break;
		strbuf_addf(out, "# HELP %s %s\n# TYPE %s %s\n", fams[f].name,
			    fams[f].help, fams[f].name, fams[f].type);
		for (size_t i = 0; i < m->n; i++) {
			const struct metric_series *s = &m->v[i];
			const char *name = fams[f].name;
			switch (f) {
			case 0:
				add_sample(out, name, run_id, s, NULL,
					   (double)s->requests);
				break;
			case 1:
				add_sample(out, name, run_id, s, NULL,
					   (double)s->errors);
				break;
			case 2:
				add_sample(out, name, run_id, s, NULL,
					   metrics_per_minute(s, s->requests));
				break;
			case 3:
				add_sample(out, name, run_id, s, NULL,
					   metrics_per_minute(s, s->errors));
				break;
			case 4: {
				struct strbuf n2 = STRBUF_INIT;
				add_sample(out, name, run_id, s, "0.5",
					   metrics_quantile(s, 0.5) / 1e3);
				add_sample(out, name, run_id, s, "0.95",
					   metrics_quantile(s, 0.95) / 1e3);
				strbuf_addf(&n2, "%s_sum", name);
				add_sample(out, n2.buf, run_id, s, NULL,
					   s->sum_ms / 1e3);
				strbuf_reset(&n2);
				strbuf_addf(&n2, "%s_count", name);
				add_sample(out, n2.buf, run_id, s, NULL,
					   (double)s->requests);
				strbuf_release(&n2);
				break;
			}
			default:
				add_sample(out, name, run_id, s, NULL,
					   s->max_ms / 1e3);
			}
		}
	}
}
