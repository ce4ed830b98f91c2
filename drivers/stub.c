/*
 * The `stub` step (SPEC 6.6): what a stub standing in for a component has
 * received since the test began.  Results: `count` (requests), `unmatched`
 * (requests no route matched), and `json`, the list of recorded requests
 * ({method, path, query, headers, body, json, matched, route, time}).
 */
#include "deploy.h"
#include "driver.h"
#include "stubsrv.h"

static const char *const stub_parts[] = {"count", "unmatched", "json", NULL};

static int stub_check_step(const struct ivalue *arg, struct itest_err *err)
{
	if (!arg->u.str.len)
		return err_set(err, &arg->loc,
			       "a 'stub' step names a component");
	return 0;
}

static enum itest_status stub_exec(void *session,
				   const struct itest_stepctx *ctx,
				   const struct ivalue *arg,
				   struct itest_result *res)
{
	const char *name = arg->u.str.s;
	(void)session;
	int c = ctx->suite ? component_find(ctx->suite, name, arg->u.str.len)
			   : -1;
	if (c < 0) {
		strbuf_addf(&res->message, "no component '%s'", name);
		return IT_ERROR;
	}
	struct stubsrv *srv = ctx->deployment
				      ? deploy_stub(ctx->deployment, (size_t)c)
				      : NULL;
	if (!srv) {
		strbuf_addf(&res->message,
			    "'%s' is not a stub in this stage (it runs for "
			    "real, or not at all)",
			    name);
		return IT_ERROR;
	}
	size_t since = ctx->stub_marks ? ctx->stub_marks[c] : 0;
	struct ivalue *calls = stubsrv_calls(srv, since);
	int64_t unmatched = 0;
	for (size_t i = 0; i < calls->u.arr.n; i++) {
		const struct ivalue *m = iv_get(calls->u.arr.v[i], "matched");
		unmatched += m && m->type == IV_BOOL && !m->u.b;
	}
	iv_set(res->parts, "count", iv_int((int64_t)calls->u.arr.n));
	iv_set(res->parts, "unmatched", iv_int(unmatched));
	strbuf_addf(ctx->log, "stub %s: %zu request%s since the test began",
		    name, calls->u.arr.n, calls->u.arr.n == 1 ? "" : "s");
	if (unmatched)
		strbuf_addf(ctx->log, ", %lld unmatched", (long long)unmatched);
	strbuf_addch(ctx->log, '\n');
	for (size_t i = 0; i < calls->u.arr.n && i < 20; i++) {
		const struct ivalue *r = calls->u.arr.v[i];
		const char *method = iv_strval(iv_get(r, "method"));
		const char *path = iv_strval(iv_get(r, "path"));
		const struct ivalue *m = iv_get(r, "matched");
		strbuf_addf(ctx->log, "  %s %s%s\n", method ? method : "?",
			    path ? path : "?",
			    m && m->type == IV_BOOL && !m->u.b ? " (unmatched)"
							       : "");
	}
	iv_set(res->parts, "json", calls);
	return IT_PASS;
}

static void stub_summary(const struct ivalue *arg, struct strbuf *out)
{
	strbuf_addf(out, "%s: calls since the test began", arg->u.str.s);
}

const struct itest_driver stub_driver = {
	.name = "stub",
	.arg_types = TY(STR),
	.keys = NULL,
	.parts = stub_parts,
	.session_size = 0,
	.check_step = stub_check_step,
	.exec = stub_exec,
	.summary = stub_summary,
};
