/*
 * The planner: layers to stages for each strategy, stub requirements,
 * placement of tests, and the blocking chain between stages.
 */
#include "plan.h"

static const char *const strategies[] = {"big-bang", "bottom-up", "top-down",
					 "sandwich", NULL};

/* Adds a stage; real/stubbed are filled by the caller. */
static struct pstage *add_stage(struct plan *p, const char *stream, int layer,
				int dep)
{
	size_t nc = p->suite->ncomponents;
	p->stages = xrealloc(p->stages, (p->n + 1) * sizeof(*p->stages));
	struct pstage *st = &p->stages[p->n];
	memset(st, 0, sizeof(*st));
	st->number = (int)p->n + 1;
	st->stream = stream;
	st->layer = layer;
	st->real = xcalloc(nc + 1, 1);
	st->stubbed = xcalloc(nc + 1, 1);
	st->tests = xcalloc(p->suite->ntests + 1, sizeof(*st->tests));
	st->deps[0] = dep;
	st->deps[1] = -1;
	p->n++;
	return st;
}

/* Real: layers lo..hi of the components that can run; stubbed: always
 * stubs, and components below `stub_below` (which must have a stub). */
static int fill(struct plan *p, struct pstage *st, int lo, int hi,
		int stub_below, struct itest_err *err)
{
	const struct suite *s = p->suite;
	for (size_t i = 0; i < s->ncomponents; i++) {
		const struct component *c = &s->components[i];
		if (c->always_stub) {
			st->stubbed[i] = 1;
		} else if (c->layer >= lo && c->layer <= hi) {
			st->real[i] = 1;
		} else if (c->layer < stub_below) {
			if (!c->stub)
				return err_set(err, &c->kloc,
					       "strategy %s needs a stub for "
					       "'%s' (layer %d), which has no "
					       "'stub'",
					       p->strategy, c->name, c->layer);
			st->stubbed[i] = 1;
		}
	}
	return 0;
}

static char *names(const struct suite *s, const unsigned char *set,
		   const unsigned char *minus)
{
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < s->ncomponents; i++) {
		if (!set[i] || (minus && minus[i]))
			continue;
		strbuf_addf(&sb, "%s%s", sb.len ? ", " : "",
			    s->components[i].name);
	}
	if (!sb.len)
		strbuf_addch(&sb, '-');
	return strbuf_detach(&sb, NULL);
}

/* The layers a test covers among components that can run. */
static void covered_layers(const struct suite *s, const struct test *t, int *lo,
			   int *hi)
{
	*lo = -1;
	*hi = -1;
	for (size_t i = 0; i < s->ncomponents; i++) {
		const struct component *c = &s->components[i];
		if (!t->covers[i] || c->always_stub)
			continue;
		if (*lo < 0 || c->layer < *lo)
			*lo = c->layer;
		if (c->layer > *hi)
			*hi = c->layer;
	}
}

static struct pstage *stage_at(struct plan *p, const char *stream, int layer)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->stages[i].stream, stream) &&
		    p->stages[i].layer == layer)
			return &p->stages[i];
	return NULL;
}

int plan_build(const struct suite *s, const char *strategy,
	       const unsigned char *selected, struct plan *p,
	       struct itest_err *err)
{
	memset(p, 0, sizeof(*p));
	p->suite = s;
	p->strategy = strategy;
	p->top = components_top(s);
	p->target = -1;
	int top = p->top < 0 ? 0 : p->top;
	struct pstage *st;
	int i;
	int known = 0;
	for (size_t k = 0; strategies[k]; k++)
		known |= !strcmp(strategies[k], strategy);
	if (!known)
		return err_set(err, NULL, "unknown strategy '%s'", strategy);
	if (!strcmp(strategy, "big-bang") || p->top <= 0) {
		/* one stage: a single layer makes every strategy big-bang */
		st = add_stage(p, "main", -1, -1);
		if (fill(p, st, 0, top, -1, err) < 0)
			goto fail;
	} else if (!strcmp(strategy, "bottom-up")) {
		for (i = 0; i <= top; i++) {
			st = add_stage(p, "main", i, (int)p->n - 1);
			if (fill(p, st, 0, i, -1, err) < 0)
				goto fail;
		}
	} else if (!strcmp(strategy, "top-down")) {
		for (i = top; i >= 0; i--) {
			st = add_stage(p, "main", i, (int)p->n - 1);
			if (fill(p, st, i, top, i, err) < 0)
				goto fail;
		}
	} else {
		int t = s->target_layer >= 0 ? s->target_layer : (top + 1) / 2;
		const struct ivalue *sv = iv_get(s->doc, "strategy");
		struct itest_loc at = {s->src, 1, 1};
		if (sv)
			at = sv->loc;
		if (top < 2)
			return err_set(err, &at,
				       "sandwich needs at least three layers; "
				       "this suite has %d",
				       top + 1);
		if (t < 1 || t > top - 1) {
			const struct ivalue *v = iv_get(s->doc, "target-layer");
			return err_set(err, v ? &v->loc : &at,
				       "'target-layer' must lie in 1..%d",
				       top - 1);
		}
		p->target = t;
		int last_top = -1, last_bottom = -1;
		for (i = top; i > t; i--) {
			st = add_stage(p, "top", i, last_top);
			if (fill(p, st, i, top, i, err) < 0)
				goto fail;
			last_top = (int)p->n - 1;
		}
		for (i = 0; i < t; i++) {
			st = add_stage(p, "bottom", i, last_bottom);
			if (fill(p, st, 0, i, -1, err) < 0)
				goto fail;
			last_bottom = (int)p->n - 1;
		}
		/* the last stage reuses the bottom stream's deployment */
		st = add_stage(p, "bottom", -1, last_bottom);
		st->deps[1] = last_top;
		if (fill(p, st, 0, top, -1, err) < 0)
			goto fail;
	}
	/* what each stage makes real that its predecessor did not */
	for (size_t k = 0; k < p->n; k++) {
		struct pstage *g = &p->stages[k];
		g->real_names = names(s, g->real, NULL);
		g->stubbed_names = names(s, g->stubbed, NULL);
		g->new_names = names(
			s, g->real,
			g->deps[0] >= 0 ? p->stages[g->deps[0]].real : NULL);
	}
	/* placement */
	for (size_t k = 0; k < s->ntests; k++) {
		const struct test *t = &s->tests[k];
		int lo, hi;
		if (selected && !selected[k])
			continue;
		covered_layers(s, t, &lo, &hi);
		struct pstage *g = &p->stages[p->n - 1];
		if (lo >= 0 && p->n > 1) {
			if (!strcmp(strategy, "bottom-up"))
				g = stage_at(p, "main", hi);
			else if (!strcmp(strategy, "top-down"))
				g = stage_at(p, "main", lo);
			else if (lo > p->target)
				g = stage_at(p, "top", lo);
			else if (hi < p->target)
				g = stage_at(p, "bottom", hi);
		}
		/* with `covers` derived, everything the test uses must be
		 * there, real or stub */
		for (size_t c = 0; !t->covers_explicit && c < s->ncomponents;
		     c++) {
			if (!t->covers[c] || g->real[c] || g->stubbed[c])
				continue;
			const struct ivalue *n = iv_get(t->node, "name");
			err_set(err, &n->loc,
				"test '%s' uses '%s', which stage %d does not "
				"deploy (give it an explicit 'covers')",
				t->name, s->components[c].name, g->number);
			goto fail;
		}
		g->tests[g->ntests++] = k;
	}
	return 0;
fail:
	plan_release(p);
	return -1;
}

void plan_release(struct plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		struct pstage *g = &p->stages[i];
		free(g->real);
		free(g->stubbed);
		free(g->tests);
		free(g->real_names);
		free(g->stubbed_names);
		free(g->new_names);
	}
	free(p->stages);
	p->stages = NULL;
	p->n = 0;
}

void plan_format(const struct plan *p, struct strbuf *out)
{
	const struct suite *s = p->suite;
	strbuf_addf(out, "%s: %s", s->name, p->strategy);
	if (p->target >= 0)
		strbuf_addf(out, " (target layer %d)", p->target);
	strbuf_addf(out, ", %zu stage%s\n", p->n, p->n == 1 ? "" : "s");
	for (size_t i = 0; i < p->n; i++) {
		const struct pstage *g = &p->stages[i];
		strbuf_addf(out, "  stage %d: %s stream, ", g->number,
			    g->stream);
		if (g->layer >= 0)
			strbuf_addf(out, "layer %d\n", g->layer);
		else
			strbuf_addstr(out, "all layers\n");
		strbuf_addf(out, "    real:    %s\n", g->real_names);
		strbuf_addf(out, "    stubbed: %s\n", g->stubbed_names);
		if (!g->ntests)
			strbuf_addstr(out,
				      "    tests:   (none: not deployed)\n");
		for (size_t k = 0; k < g->ntests; k++)
			strbuf_addf(out, "    %s %s\n",
				    k ? "        " : "tests:  ",
				    s->tests[g->tests[k]].name);
	}
}
