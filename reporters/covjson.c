/*
 * RUN_DIR/coverage/coverage.json (SPEC 7 "Coverage"): the integration
 * coverage of the run (runner/coverage.c) -- the system's components and
 * `needs` interfaces, each with whether a passing test covered it while
 * it ran for real.
 */
#include <errno.h>
#include <sys/stat.h>

#include "common.h"
#include "reporter.h"

struct covjson {
	struct rep_opts o;
};

static void *covjson_open(const struct rep_opts *o)
{
	struct covjson *st = xcalloc(1, sizeof(*st));
	st->o = *o;
	return st;
}

static int covjson_finish(void *p, const struct rep_run *run,
			  struct itest_err *err)
{
	struct covjson *st = p;
	struct strbuf doc = STRBUF_INIT, path = STRBUF_INIT;
	int ret = -1;
	if (!run->run_dir || !run->coverage)
		return 0;
	strbuf_addf(&path, "%s/coverage", run->run_dir);
	if (mkdir(path.buf, 0700) < 0 && errno != EEXIST) {
		err_set(err, NULL, "cannot create '%s': %s", path.buf,
			strerror(errno));
		goto out;
	}
	struct ivalue *j = coverage_json(run->coverage);
	json_emit(&doc, j, 1);
	strbuf_addch(&doc, '\n');
	iv_free(j);
	strbuf_addstr(&path, "/coverage.json");
	ret = mask_write_file(st->o.mask, path.buf, &doc, err);
out:
	strbuf_release(&doc);
	strbuf_release(&path);
	return ret;
}

static void covjson_close(void *p)
{
	free(p);
}

const struct reporter coverage_reporter = {
	.name = "coverage.json",
	.open = covjson_open,
	.finish = covjson_finish,
	.close = covjson_close,
};
