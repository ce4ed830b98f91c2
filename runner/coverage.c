/*
 * Integration coverage: components and interfaces covered by passing
 * tests (see coverage.h).
 */
#include "common.h"
#include "coverage.h"
#include "openapi.h"

struct cov_comp {
	char *name;
	size_t tests, passed; /* tests that covered it while it was real */
};

struct cov_edge {
	char *from, *to; /* from needs to */
	size_t tests, passed;
};

struct cov_op {
	char *component, *op; /* "orders", "GET /orders/{id}" */
	size_t requests;
};

struct coverage_map {
	struct cov_comp *comps;
	size_t ncomps;
	struct cov_edge *edges;
	size_t nedges;
	struct cov_op *ops; /* in the order the documents list them */
	size_t nops;
};

struct coverage_map *coverage_new(void)
{
	return xcalloc(1, sizeof(struct coverage_map));
}

void coverage_free(struct coverage_map *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->ncomps; i++)
		free(c->comps[i].name);
	for (size_t i = 0; i < c->nedges; i++) {
		free(c->edges[i].from);
		free(c->edges[i].to);
	}
	for (size_t i = 0; i < c->nops; i++) {
		free(c->ops[i].component);
		free(c->ops[i].op);
	}
	free(c->comps);
	free(c->edges);
	free(c->ops);
	free(c);
}

static struct cov_comp *comp_get(struct coverage_map *c, const char *name)
{
	for (size_t i = 0; i < c->ncomps; i++)
		if (!strcmp(c->comps[i].name, name))
			return &c->comps[i];
	c->comps = xrealloc(c->comps, (c->ncomps + 1) * sizeof(*c->comps));
	struct cov_comp *k = &c->comps[c->ncomps++];
	memset(k, 0, sizeof(*k));
	k->name = xstrdup(name);
	return k;
}

static struct cov_edge *edge_get(struct coverage_map *c, const char *from,
				 const char *to)
{
	for (size_t i = 0; i < c->nedges; i++)
		if (!strcmp(c->edges[i].from, from) &&
		    !strcmp(c->edges[i].to, to))
			return &c->edges[i];
	c->edges = xrealloc(c->edges, (c->nedges + 1) * sizeof(*c->edges));
	struct cov_edge *e = &c->edges[c->nedges++];
	memset(e, 0, sizeof(*e));
	e->from = xstrdup(from);
	e->to = xstrdup(to);
	return e;
}

static struct cov_op *op_get(struct coverage_map *c, const char *component,
			     const char *op)
{
	for (size_t i = 0; i < c->nops; i++)
		if (!strcmp(c->ops[i].component, component) &&
		    !strcmp(c->ops[i].op, op))
			return &c->ops[i];
	c->ops = xrealloc(c->ops, (c->nops + 1) * sizeof(*c->ops));
	struct cov_op *o = &c->ops[c->nops++];
	o->component = xstrdup(component);
	o->op = xstrdup(op);
	o->requests = 0;
	return o;
}

void coverage_add_api_hit(struct coverage_map *c, const char *component,
			  const char *op, size_t requests)
{
	op_get(c, component, op)->requests += requests;
}

void coverage_add_suite(struct coverage_map *c, const struct suite *su)
{
	for (size_t i = 0; i < su->ncomponents; i++) {
		const struct component *k = &su->components[i];
		if (k->always_stub)
			continue;
		comp_get(c, k->name);
		for (size_t o = 0; o < openapi_count(k->api); o++)
			op_get(c, k->name, openapi_op(k->api, o));
		for (size_t n = 0; n < k->nneeds; n++) {
			const struct component *to =
				&su->components[k->needs[n]];
			if (!to->always_stub)
				edge_get(c, k->name, to->name);
		}
	}
}

void coverage_add_test(struct coverage_map *c, const struct suite *su,
		       const struct test *t, const unsigned char *real,
		       enum itest_status status)
{
	int passed = status == IT_PASS;
	if (status == IT_SKIP)
		return; /* it exercised nothing */
	/* what the test covered that ran for real in its stage */
	for (size_t i = 0; i < su->ncomponents; i++) {
		const struct component *k = &su->components[i];
		if (k->always_stub || !t->covers[i] || !real[i])
			continue;
		struct cov_comp *cc = comp_get(c, k->name);
		cc->tests++;
		cc->passed += passed != 0;
		for (size_t n = 0; n < k->nneeds; n++) {
			size_t to = k->needs[n];
			const struct component *tk = &su->components[to];
			/* k's requests to a real `to` exercise the edge */
			if (tk->always_stub || !real[to])
				continue;
			struct cov_edge *e = edge_get(c, k->name, tk->name);
			e->tests++;
			e->passed += passed != 0;
		}
	}
}

static int cmp_comp(const void *a, const void *b)
{
	return strcmp(((const struct cov_comp *)a)->name,
		      ((const struct cov_comp *)b)->name);
}

static int cmp_edge(const void *a, const void *b)
{
	const struct cov_edge *x = a, *y = b;
	int r = strcmp(x->from, y->from);
	return r ? r : strcmp(x->to, y->to);
}

void coverage_api_counts(const struct coverage_map *c, size_t *hit,
			 size_t *total)
{
	*hit = 0;
	*total = c->nops;
	for (size_t i = 0; i < c->nops; i++)
		*hit += c->ops[i].requests > 0;
}

void coverage_counts(const struct coverage_map *c, size_t *comp_cov,
		     size_t *comp_total, size_t *if_cov, size_t *if_total)
{
	*comp_cov = *if_cov = 0;
	*comp_total = c->ncomps;
	*if_total = c->nedges;
	for (size_t i = 0; i < c->ncomps; i++)
		*comp_cov += c->comps[i].passed > 0;
	for (size_t i = 0; i < c->nedges; i++)
		*if_cov += c->edges[i].passed > 0;
}

struct ivalue *coverage_json(const struct coverage_map *c)
{
	struct ivalue *o = iv_obj(), *comps = iv_arr(), *ifs = iv_arr();
	struct ivalue *sum = iv_obj();
	/* sorted copies: the same file whatever order suites ran in */
	struct cov_comp *cs = xcalloc(c->ncomps + 1, sizeof(*cs));
	struct cov_edge *es = xcalloc(c->nedges + 1, sizeof(*es));
	if (c->ncomps)
		memcpy(cs, c->comps, c->ncomps * sizeof(*cs));
	if (c->nedges)
		memcpy(es, c->edges, c->nedges * sizeof(*es));
	if (c->ncomps > 1)
		qsort(cs, c->ncomps, sizeof(*cs), cmp_comp);
	if (c->nedges > 1)
		qsort(es, c->nedges, sizeof(*es), cmp_edge);
	for (size_t i = 0; i < c->ncomps; i++) {
		struct ivalue *k = iv_obj();
		iv_set(k, "name", iv_str(cs[i].name));
		iv_set(k, "covered", iv_bool(cs[i].passed > 0));
		iv_set(k, "tests", iv_int((int64_t)cs[i].tests));
		iv_set(k, "passed", iv_int((int64_t)cs[i].passed));
		iv_push(comps, k);
	}
	for (size_t i = 0; i < c->nedges; i++) {
		struct ivalue *k = iv_obj();
		iv_set(k, "from", iv_str(es[i].from));
		iv_set(k, "to", iv_str(es[i].to));
		iv_set(k, "covered", iv_bool(es[i].passed > 0));
		iv_set(k, "tests", iv_int((int64_t)es[i].tests));
		iv_set(k, "passed", iv_int((int64_t)es[i].passed));
		iv_push(ifs, k);
	}
	free(cs);
	free(es);
	struct ivalue *ops = iv_arr();
	for (size_t i = 0; i < c->nops; i++) {
		struct ivalue *k = iv_obj();
		iv_set(k, "component", iv_str(c->ops[i].component));
		iv_set(k, "operation", iv_str(c->ops[i].op));
		iv_set(k, "hit", iv_bool(c->ops[i].requests > 0));
		iv_set(k, "requests", iv_int((int64_t)c->ops[i].requests));
		iv_push(ops, k);
	}
	size_t cc, ct, ic, it, oh, ot;
	coverage_counts(c, &cc, &ct, &ic, &it);
	coverage_api_counts(c, &oh, &ot);
	iv_set(sum, "components", iv_int((int64_t)ct));
	iv_set(sum, "components_covered", iv_int((int64_t)cc));
	iv_set(sum, "interfaces", iv_int((int64_t)it));
	iv_set(sum, "interfaces_covered", iv_int((int64_t)ic));
	iv_set(sum, "operations", iv_int((int64_t)ot));
	iv_set(sum, "operations_hit", iv_int((int64_t)oh));
	iv_set(o, "summary", sum);
	iv_set(o, "components", comps);
	iv_set(o, "interfaces", ifs);
	iv_set(o, "operations", ops);
	return o;
}
