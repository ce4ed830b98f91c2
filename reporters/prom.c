/*
 * RUN_DIR/metrics.prom (SPEC 7 "Metrics"): the run's metrics in the
 * Prometheus text format, for a node_exporter textfile collector -- the
 * test counts by status, and requests, errors, rates and latencies per
 * component and driver (runner/metrics.c), every sample labelled with the
 * run id.
 */
#include "common.h"
#include "reporter.h"

struct prom {
	struct rep_opts o;
};

static void *prom_open(const struct rep_opts *o)
{
	struct prom *st = xcalloc(1, sizeof(*st));
	st->o = *o;
	return st;
}

static int prom_finish(void *p, const struct rep_run *run,
		       struct itest_err *err)
{
	struct prom *st = p;
	struct rep_counts n = {0};
	struct strbuf doc = STRBUF_INIT, path = STRBUF_INIT;
	if (!run->run_dir)
		return err_set(err, NULL,
			       "no run folder to write 'metrics.prom' to");
	for (size_t i = 0; i < run->nstages; i++)
		rep_count_stage(&run->stages[i], &n);
	const char *id = run->run_id ? run->run_id : "";
	const struct {
		const char *status;
		size_t n;
	} by[] = {{"passed", n.passed},
		  {"failed", n.failed},
		  {"errors", n.errors},
		  {"skipped", n.skipped},
		  {"flaky", n.flaky}};
	strbuf_addstr(&doc, "# HELP itest_tests Tests of the run by outcome "
			    "(flaky ones passed, and count as passed too).\n"
			    "# TYPE itest_tests gauge\n");
	/* a run id is [a-z0-9-]: nothing to escape in a label */
	for (size_t i = 0; i < sizeof(by) / sizeof(by[0]); i++)
		strbuf_addf(&doc,
			    "itest_tests{run_id=\"%s\",status=\"%s\"} %zu\n",
			    id, by[i].status, by[i].n);
	strbuf_addf(&doc,
		    "# HELP itest_run_seconds How long the run took.\n"
		    "# TYPE itest_run_seconds gauge\n"
		    "itest_run_seconds{run_id=\"%s\"} %.3f\n",
		    id, run->time_s);
	if (run->metrics)
		metrics_prom(run->metrics, id, &doc);
	strbuf_addf(&path, "%s/metrics.prom", run->run_dir);
	int ret = mask_write_file(st->o.mask, path.buf, &doc, err);
	strbuf_release(&doc);
	strbuf_release(&path);
	return ret;
}

static void prom_close(void *p)
{
	free(p);
}

const struct reporter prom_reporter = {
	.name = "metrics.prom",
	.open = prom_open,
	.finish = prom_finish,
	.close = prom_close,
};
