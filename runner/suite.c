/*
 * The suite loader: reads a suite file and its includes, checks every key,
 * type, duration, driver step, expectation and variable reference, and
 * builds the model of suite.h.  Nothing is run here.
 */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <sys/stat.h>

#include "expect.h"
#include "suite.h"
#include "template.h"

#define MAX_INCLUDE_DEPTH 16

static const struct itest_keyspec suite_keys[] = {
	{"name", TY(STR), 0},
	{"include", TY(ARR) | TY(STR), 0},
	{"strategy", TY(STR), 0},
	{"target-layer", TY(NUM), 0},
	{"vars", TY(OBJ) | TY(NULL), 0},
	{"components", TY(OBJ), 0},
	{"hosts", TY(OBJ), 0},
	{"browser", TY(OBJ), 0},
	{"lock", TY(STR), 0},
	{"isolation", TY(STR), 0},
	{"drivers", TY(OBJ), 0},
	{"tags", TY(ARR), 0},
	{"setup", TY(ARR) | TY(NULL), 0},
	{"teardown", TY(ARR) | TY(NULL), 0},
	{"blocks", TY(OBJ) | TY(NULL), 0},
	{"tests", TY(ARR), 1},
	{NULL, 0, 0},
};

static const struct itest_keyspec include_keys[] = {
	{"include", TY(ARR) | TY(STR), 0}, {"vars", TY(OBJ) | TY(NULL), 0},
	{"components", TY(OBJ), 0},	   {"hosts", TY(OBJ), 0},
	{"browser", TY(OBJ), 0},	   {"drivers", TY(OBJ), 0},
	{"blocks", TY(OBJ) | TY(NULL), 0}, {NULL, 0, 0},
};

/* Top-level keys that configure drivers (merged over the includes). */
static const char *const conf_keys[] = {
	"hosts",
	"browser",
	"drivers",
	NULL,
};

static const struct itest_keyspec test_keys[] = {
	{"name", TY(STR), 1},
	{"covers", TY(ARR), 0},
	{"tags", TY(ARR), 0},
	{"skip", TY(STR) | TY(BOOL), 0},
	{"timeout", TY(STR), 0},
	{"retries", TY(NUM), 0},
	{"skip-if", TY_SCALAR | TY(NULL), 0},
	{"each", TY(ARR), 0},
	{"steps", TY(ARR), 1},
	{NULL, 0, 0},
};

static const struct itest_keyspec block_keys[] = {
	{"params", TY(ARR), 0},
	{"steps", TY(ARR), 1},
	{NULL, 0, 0},
};

static const struct itest_keyspec retry_keys[] = {
	{"attempts", TY(NUM), 1},
	{"interval", TY(STR), 0},
	{NULL, 0, 0},
};

static const struct itest_keyspec var_source_keys[] = {
	{"env", TY(STR), 0},	   {"file", TY(STR), 0},
	{"value", TY_ANY, 0},	   {"secret", TY(BOOL), 0},
	{"default", TY_SCALAR, 0}, {NULL, 0, 0},
};

/* Step keys other than the driver key. */
static const char *const step_common[] = {
	"name", "expect", "capture", "retry", "timeout", "use", "with", NULL,
};

static const char *const reserved_names[] = {
	"run", "env", "test", "request", NULL,
};

static const char *types_text(unsigned types, struct strbuf *sb)
{
	static const char *const names[] = {"null",	"a boolean", "a number",
					    "a string", "a list",    "a map"};
	int first = 1;
	strbuf_reset(sb);
	for (int t = IV_NULL; t <= IV_OBJ; t++) {
		if (!(types & (1u << t)) || t == IV_NULL)
			continue;
		strbuf_addf(sb, "%s%s", first ? "" : " or ", names[t]);
		first = 0;
	}
	return sb->buf;
}

static const char *kind_text(const struct ivalue *v)
{
	static const char *const names[] = {"null",	"a boolean", "a number",
					    "a string", "a list",    "a map"};
	return names[v->type];
}

int keys_check(const struct ivalue *map, const struct itest_keyspec *keys,
	       const char *what, struct itest_err *err)
{
	struct strbuf sb = STRBUF_INIT;
	const char *names[64];
	size_t nn = 0;
	int ret = -1;
	if (!map || map->type != IV_OBJ) {
		err_set(err, map ? &map->loc : NULL, "%s must be a map, not %s",
			what, map ? kind_text(map) : "nothing");
		goto out;
	}
	for (const struct itest_keyspec *k = keys; k->name && nn < 63; k++)
		names[nn++] = k->name;
	names[nn] = NULL;
	for (size_t i = 0; i < map->u.obj.n; i++) {
		const struct imember *m = &map->u.obj.m[i];
		const struct itest_keyspec *k = keys;
		while (k->name && strcmp(k->name, m->key))
			k++;
		if (!k->name) {
			const char *s = suggest_name(m->key, names);
			if (s)
				err_set(err, &m->kloc,
					"unknown key '%s' in %s (did you mean "
					"'%s'?)",
					m->key, what, s);
			else
				err_set(err, &m->kloc, "unknown key '%s' in %s",
					m->key, what);
			goto out;
		}
		if (!(k->types & (1u << m->val->type))) {
			err_set(err, &m->val->loc,
				"'%s' in %s must be %s, not %s", m->key, what,
				types_text(k->types, &sb), kind_text(m->val));
			goto out;
		}
	}
	for (const struct itest_keyspec *k = keys; k->name; k++) {
		if (k->required && !iv_get(map, k->name)) {
			err_set(err, &map->loc,
				"%s lacks the required key '%s'", what,
				k->name);
			goto out;
		}
	}
	ret = 0;
out:
	strbuf_release(&sb);
	return ret;
}

/* A duration value: "250ms", "2s", "1m"; 0 when absent. */
static int get_duration(const struct ivalue *map, const char *key, int64_t *out,
			struct itest_err *err)
{
	const struct ivalue *v = iv_get(map, key);
	*out = 0;
	if (!v)
		return 0;
	int64_t ms = v->type == IV_STR ? duration_parse_ms(v->u.str.s) : -1;
	if (ms < 0)
		return err_set(err, &v->loc,
			       "bad duration for '%s' (write 250ms, 2s or 1m)",
			       key);
	*out = ms;
	return 0;
}

static int get_count(const struct ivalue *map, const char *key, int min,
		     int max, int *out, struct itest_err *err)
{
	const struct ivalue *v = iv_get(map, key);
	if (!v)
		return 0;
	if (v->type != IV_NUM || !(v->flags & IVF_INT) || v->u.num.i < min ||
	    v->u.num.i > max)
		return err_set(err, &v->loc,
			       "'%s' must be a whole number from %d to %d", key,
			       min, max);
	*out = (int)v->u.num.i;
	return 0;
}

/* ---- steps ---- */

struct build {
	struct loader *ld;
	struct suite *s;
	struct itest_err *err;
	/* `components` maps of the includes, then the suite's own */
	const struct ivalue **cmaps;
	char **cdirs;
	size_t ncmaps;
};

static void add_component_map(struct build *b, const struct ivalue *map,
			      const char *dir)
{
	if (!map)
		return;
	b->cmaps = xrealloc(b->cmaps, (b->ncmaps + 1) * sizeof(*b->cmaps));
	b->cdirs = xrealloc(b->cdirs, (b->ncmaps + 1) * sizeof(*b->cdirs));
	b->cmaps[b->ncmaps] = map;
	b->cdirs[b->ncmaps++] = xstrdup(dir);
}

static const struct block *find_block(const struct suite *s, const char *name)
{
	for (size_t i = 0; i < s->nblocks; i++)
		if (!strcmp(s->blocks[i].name, name))
			return &s->blocks[i];
	return NULL;
}

static int check_driver_arg(const struct itest_driver *drv,
			    const struct ivalue *arg, struct itest_err *err)
{
	struct strbuf sb = STRBUF_INIT;
	if (!(drv->arg_types & (1u << arg->type))) {
		err_set(err, &arg->loc, "'%s' step takes %s, not %s", drv->name,
			types_text(drv->arg_types, &sb), kind_text(arg));
		strbuf_release(&sb);
		return -1;
	}
	strbuf_release(&sb);
	if (arg->type == IV_OBJ && drv->keys) {
		char what[64];
		snprintf(what, sizeof(what), "'%s' step", drv->name);
		if (keys_check(arg, drv->keys, what, err) < 0)
			return -1;
	}
	if (drv->check_step && drv->check_step(arg, err) < 0)
		return -1;
	return 0;
}

static int parse_step(struct build *b, const struct ivalue *node,
		      struct step *st)
{
	struct itest_err *err = b->err;
	const struct imember *drvkey = NULL;
	memset(st, 0, sizeof(*st));
	st->node = node;
	st->retry_attempts = 1;
	if (node->type != IV_OBJ)
		return err_set(err, &node->loc,
			       "a step must be a map with a driver key, not %s",
			       kind_text(node));
	for (size_t i = 0; i < node->u.obj.n; i++) {
		const struct imember *m = &node->u.obj.m[i];
		if (str_in_list(m->key, step_common))
			continue;
		size_t d = 0;
		while (itest_drivers[d] &&
		       (itest_drivers[d]->external ||
			strcmp(itest_drivers[d]->name, m->key)))
			d++;
		if (!itest_drivers[d] && b->s->conf) {
			/* a name from the suite's `drivers:` */
			for (d = 0; itest_drivers[d]; d++)
				if (itest_drivers[d]->external &&
				    suite_driver_conf(b->s, itest_drivers[d],
						      m->key))
					break;
		}
		if (!itest_drivers[d]) {
			const char *names[64];
			size_t nn = 0;
			for (size_t k = 0; step_common[k]; k++)
				names[nn++] = step_common[k];
			for (size_t k = 0; itest_drivers[k] && nn < 31; k++)
				if (!itest_drivers[k]->external)
					names[nn++] = itest_drivers[k]->name;
			/* and the suite's external drivers */
			const struct ivalue *ext =
				b->s->conf ? iv_get(b->s->conf, "drivers")
					   : NULL;
			for (size_t k = 0; ext && k < ext->u.obj.n && nn < 63;
			     k++)
				names[nn++] = ext->u.obj.m[k].key;
			names[nn] = NULL;
			const char *sug = suggest_name(m->key, names);
			if (sug)
				return err_set(err, &m->kloc,
					       "unknown key '%s' in step (did "
					       "you mean '%s'?)",
					       m->key, sug);
			return err_set(err, &m->kloc,
				       "unknown key '%s' in step", m->key);
		}
		if (drvkey)
			return err_set(err, &m->kloc,
				       "step has two driver keys '%s' and '%s' "
				       "(a step does one thing)",
				       drvkey->key, m->key);
		drvkey = m;
		st->drv = itest_drivers[d];
		st->drv_index = d;
		st->drv_key = m->key;
		st->arg = m->val;
	}
	const struct ivalue *v;
	if ((v = iv_get(node, "name"))) {
		if (v->type != IV_STR)
			return err_set(err, &v->loc, "a step name is a string");
		st->name = v->u.str.s;
	}
	const struct imember *use = iv_member(node, "use");
	if (use && drvkey)
		return err_set(err, &drvkey->kloc,
			       "step has both 'use' and the driver key '%s'",
			       drvkey->key);
	if (!use && !drvkey) {
		struct strbuf names = STRBUF_INIT;
		for (size_t k = 0; itest_drivers[k]; k++)
			if (!itest_drivers[k]->external)
				strbuf_addf(&names, "%s, ",
					    itest_drivers[k]->name);
		err_set(err, &node->loc,
			"step has no driver key (one of: %suse)", names.buf);
		strbuf_release(&names);
		return -1;
	}
	if (use) {
		if (use->val->type != IV_STR)
			return err_set(err, &use->val->loc,
				       "'use' names a block");
		st->use = find_block(b->s, use->val->u.str.s);
		if (!st->use) {
			const char *names[64];
			size_t nn = 0;
			for (size_t k = 0; k < b->s->nblocks && nn < 63; k++)
				names[nn++] = b->s->blocks[k].name;
			names[nn] = NULL;
			const char *sug =
				suggest_name(use->val->u.str.s, names);
			return err_set(err, &use->val->loc,
				       "unknown block '%s'%s%s%s",
				       use->val->u.str.s,
				       sug ? " (did you mean '" : "",
				       sug ? sug : "", sug ? "'?)" : "");
		}
		st->with = iv_get(node, "with");
		if (st->with && st->with->type != IV_OBJ)
			return err_set(err, &st->with->loc,
				       "'with' must be a map of the block's "
				       "parameters");
		for (size_t i = 0; st->with && i < st->with->u.obj.n; i++) {
			const struct imember *m = &st->with->u.obj.m[i];
			int found = 0;
			const struct ivalue *p = st->use->params;
			for (size_t k = 0; p && k < p->u.arr.n; k++)
				found |=
					!strcmp(p->u.arr.v[k]->u.str.s, m->key);
			if (!found)
				return err_set(err, &m->kloc,
					       "block '%s' has no parameter "
					       "'%s'",
					       st->use->name, m->key);
		}
		const struct ivalue *p = st->use->params;
		for (size_t k = 0; p && k < p->u.arr.n; k++)
			if (!iv_get(st->with, p->u.arr.v[k]->u.str.s))
				return err_set(
					err,
					st->with ? &st->with->loc : &node->loc,
					"block '%s' needs the parameter "
					"'%s'",
					st->use->name, p->u.arr.v[k]->u.str.s);
		const char *bad[] = {"expect", "capture", "retry", NULL};
		for (size_t k = 0; bad[k]; k++) {
			const struct imember *m = iv_member(node, bad[k]);
			if (m)
				return err_set(err, &m->kloc,
					       "'%s' does not apply to a 'use' "
					       "step (put it in the block)",
					       bad[k]);
		}
	} else {
		const struct imember *m = iv_member(node, "with");
		if (m)
			return err_set(err, &m->kloc, "'with' goes with 'use'");
		if (check_driver_arg(st->drv, st->arg, err) < 0)
			return -1;
		if (st->drv->check_step_conf &&
		    st->drv->check_step_conf(
			    st->arg,
			    suite_driver_conf(b->s, st->drv, st->drv_key),
			    err) < 0)
			return -1;
	}
	if (get_duration(node, "timeout", &st->timeout_ms, err) < 0)
		return -1;
	if ((v = iv_get(node, "expect"))) {
		if (v->type != IV_OBJ)
			return err_set(err, &v->loc, "'expect' must be a map");
		if (expect_check_spec_at(v, st->drv->parts,
					 st->drv->keyed_parts, b->s->dir,
					 &b->ld->srcs, err) < 0)
			return -1;
		st->expect = v;
	}
	if ((v = iv_get(node, "capture"))) {
		if (v->type != IV_OBJ)
			return err_set(err, &v->loc, "'capture' must be a map");
		if (capture_check_spec(v, st->drv->parts, err) < 0)
			return -1;
		for (size_t i = 0; i < v->u.obj.n; i++)
			if (str_in_list(v->u.obj.m[i].key, reserved_names))
				return err_set(err, &v->u.obj.m[i].kloc,
					       "'%s' is a reserved name",
					       v->u.obj.m[i].key);
		st->capture = v;
	}
	if ((v = iv_get(node, "retry"))) {
		if (v->type == IV_NUM) {
			if (!(v->flags & IVF_INT) || v->u.num.i < 1 ||
			    v->u.num.i > 100000)
				return err_set(err, &v->loc,
					       "'retry' must be a whole number "
					       "of attempts from 1 to 100000");
			st->retry_attempts = (int)v->u.num.i;
			st->retry_interval_ms = 1000;
		} else {
			if (keys_check(v, retry_keys, "retry", err) < 0 ||
			    get_count(v, "attempts", 1, 100000,
				      &st->retry_attempts, err) < 0 ||
			    get_duration(v, "interval", &st->retry_interval_ms,
					 err) < 0)
				return -1;
			if (!iv_get(v, "interval"))
				st->retry_interval_ms = 1000;
		}
		if (!st->expect)
			return err_set(err, &v->loc,
				       "'retry' polls until 'expect' holds: "
				       "this step has no 'expect'");
	}
	return 0;
}

static int parse_steps(struct build *b, const struct ivalue *list,
		       struct steps *out)
{
	out->v = NULL;
	out->n = 0;
	if (!list || list->type != IV_ARR)
		return 0;
	out->v = xcalloc(list->u.arr.n, sizeof(*out->v));
	for (size_t i = 0; i < list->u.arr.n; i++) {
		if (parse_step(b, list->u.arr.v[i], &out->v[i]) < 0)
			return -1;
		out->n++;
	}
	return 0;
}

/* ---- variable names known at load time ---- */

struct names {
	const char **v;
	size_t n, alloc;
};

static void names_add(struct names *ns, const char *name)
{
	XGROW(ns->v, ns->alloc, ns->n + 1);
	ns->v[ns->n++] = name;
}

static void names_add_keys(struct names *ns, const struct ivalue *obj)
{
	for (size_t i = 0; obj && obj->type == IV_OBJ && i < obj->u.obj.n; i++)
		names_add(ns, obj->u.obj.m[i].key);
}

struct refcheck {
	const struct names *ns;
	const struct ivalue *scalar;
	struct itest_err *err;
};

static int ref_known(void *data, const char *root, size_t rootlen,
		     const char *name, size_t namelen, int has_default,
		     size_t offset)
{
	struct refcheck *rc = data;
	if (has_default)
		return 0;
	if (rootlen == 3 && !memcmp(root, "env", 3))
		return 0;
	for (size_t i = 0; i < rc->ns->n; i++) {
		const char *n = rc->ns->v[i];
		if (strlen(n) == rootlen && !memcmp(n, root, rootlen))
			return 0;
	}
	struct itest_loc loc = tpl_loc_at(rc->scalar, offset);
	return err_set(rc->err, &loc, "undefined variable '%.*s'", (int)namelen,
		       name);
}

/* Checks the templates in every string (and key) of a tree. */
static int check_refs(const struct ivalue *v, const struct names *ns,
		      struct itest_err *err)
{
	if (!v)
		return 0;
	switch (v->type) {
	case IV_STR: {
		struct refcheck rc = {ns, v, err};
		return tpl_refs(v, ref_known, &rc, err) ? -1 : 0;
	}
	case IV_ARR:
		for (size_t i = 0; i < v->u.arr.n; i++)
			if (check_refs(v->u.arr.v[i], ns, err) < 0)
				return -1;
		return 0;
	case IV_OBJ:
		for (size_t i = 0; i < v->u.obj.n; i++) {
			const struct imember *m = &v->u.obj.m[i];
			struct ivalue key = {.type = IV_STR, .loc = m->kloc};
			key.u.str.s = m->key;
			key.u.str.len = m->klen;
			if (check_refs(&key, ns, err) < 0 ||
			    check_refs(m->val, ns, err) < 0)
				return -1;
		}
		return 0;
	default:
		return 0;
	}
}

/* Checks a step list's references; adds its captures to `ns`.  `stack`
 * holds the blocks being expanded, for cycles. */
static int check_steps_refs(const struct steps *ss, struct names *ns,
			    const struct block **stack, size_t depth,
			    struct itest_err *err)
{
	for (size_t i = 0; i < ss->n; i++) {
		const struct step *st = &ss->v[i];
		if (st->use) {
			for (size_t k = 0; k < depth; k++) {
				if (stack[k] != st->use)
					continue;
				struct strbuf sb = STRBUF_INIT;
				for (size_t j = k; j < depth; j++)
					strbuf_addf(&sb, "%s -> ",
						    stack[j]->name);
				strbuf_addstr(&sb, st->use->name);
				err_set(err, &st->node->loc, "block cycle: %s",
					sb.buf);
				strbuf_release(&sb);
				return -1;
			}
			if (depth >= 32)
				return err_set(err, &st->node->loc,
					       "blocks nest too deep");
			if (check_refs(st->with, ns, err) < 0)
				return -1;
			size_t mark = ns->n;
			const struct ivalue *p = st->use->params;
			for (size_t k = 0; p && k < p->u.arr.n; k++)
				names_add(ns, p->u.arr.v[k]->u.str.s);
			stack[depth] = st->use;
			if (check_steps_refs(&st->use->steps, ns, stack,
					     depth + 1, err) < 0)
				return -1;
			/* parameters end with the block; captures return */
			size_t w = mark;
			for (size_t k = mark; k < ns->n; k++) {
				int is_param = 0;
				for (size_t j = 0; p && j < p->u.arr.n; j++)
					is_param |=
						!strcmp(ns->v[k],
							p->u.arr.v[j]->u.str.s);
				if (!is_param)
					ns->v[w++] = ns->v[k];
			}
			ns->n = w;
			continue;
		}
		if (check_refs(st->arg, ns, err) < 0 ||
		    check_refs(st->expect, ns, err) < 0 ||
		    check_refs(st->capture, ns, err) < 0)
			return -1;
		names_add_keys(ns, st->capture);
	}
	return 0;
}

/* ---- vars ---- */

static int is_var_source(const struct ivalue *v)
{
	if (v->type != IV_OBJ || !v->u.obj.n)
		return 0;
	for (size_t i = 0; i < v->u.obj.n; i++) {
		const char *k = v->u.obj.m[i].key;
		if (strcmp(k, "env") && strcmp(k, "file") &&
		    strcmp(k, "value") && strcmp(k, "secret") &&
		    strcmp(k, "default"))
			return 0;
	}
	return iv_get(v, "env") || iv_get(v, "file") || iv_get(v, "value");
}

static struct ivalue *read_text_file(const char *path, struct itest_err *err,
				     const struct itest_loc *loc)
{
	FILE *f = fopen(path, "rb");
	struct strbuf sb = STRBUF_INIT;
	if (!f) {
		err_set(err, loc, "cannot read '%s': %s", path,
			strerror(errno));
		return NULL;
	}
	char buf[8192];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		strbuf_add(&sb, buf, n);
	fclose(f);
	if (sb.len && sb.buf[sb.len - 1] == '\n')
		strbuf_setlen(&sb, sb.len - 1);
	if (sb.len && sb.buf[sb.len - 1] == '\r')
		strbuf_setlen(&sb, sb.len - 1);
	size_t len;
	char *s = strbuf_detach(&sb, &len);
	return iv_str_own(s, len);
}

/* Resolves `{env: X}`, `{file: F}` or `{value: V}`, with `secret`. */
static struct ivalue *var_from_source(struct build *b, const char *name,
				      const struct ivalue *spec,
				      const char *dir)
{
	struct itest_err *err = b->err;
	if (keys_check(spec, var_source_keys, "variable source", err) < 0)
		return NULL;
	int n = !!iv_get(spec, "env") + !!iv_get(spec, "file") +
		!!iv_get(spec, "value");
	if (n != 1) {
		err_set(err, &spec->loc,
			"variable '%s' takes one of 'env', 'file' or 'value'",
			name);
		return NULL;
	}
	const struct ivalue *sec = iv_get(spec, "secret");
	int secret = sec && sec->u.b;
	const struct ivalue *v;
	struct ivalue *res = NULL;
	if ((v = iv_get(spec, "value"))) {
		res = iv_clone(v);
	} else if ((v = iv_get(spec, "env"))) {
		const char *e = getenv(v->u.str.s);
		const struct ivalue *def = iv_get(spec, "default");
		if (e) {
			res = iv_str(e);
		} else if (def) {
			res = iv_clone(def);
		} else if (b->ld->check_only) {
			res = iv_str("");
		} else {
			err_set(err, &v->loc,
				"environment variable '%s' is not set (for "
				"variable '%s'; give it a 'default' if it may "
				"be unset)",
				v->u.str.s, name);
			return NULL;
		}
	} else {
		v = iv_get(spec, "file");
		char *path = v->u.str.s[0] == '/'
				     ? xstrdup(v->u.str.s)
				     : xasprintf("%s/%s", dir, v->u.str.s);
		if (b->ld->check_only) {
			res = iv_str("");
		} else {
			res = read_text_file(path, err, &v->loc);
		}
		free(path);
		if (!res)
			return NULL;
	}
	res->loc = spec->loc;
	if (secret) {
		res->flags |= IVF_SECRET;
		if (res->type == IV_STR && b->ld->mask)
			mask_add(b->ld->mask, res->u.str.s, res->u.str.len);
		else if (res->type == IV_NUM && b->ld->mask)
			mask_add(b->ld->mask, res->u.num.text,
				 strlen(res->u.num.text));
	}
	return res;
}

static int merge_vars(struct build *b, const struct ivalue *vars,
		      const char *dir)
{
	for (size_t i = 0; vars && vars->type == IV_OBJ && i < vars->u.obj.n;
	     i++) {
		const struct imember *m = &vars->u.obj.m[i];
		if (str_in_list(m->key, reserved_names))
			return err_set(b->err, &m->kloc,
				       "'%s' is a reserved name", m->key);
		struct ivalue *val;
		if (is_var_source(m->val)) {
			val = var_from_source(b, m->key, m->val, dir);
			if (!val)
				return -1;
		} else {
			val = iv_clone(m->val);
		}
		iv_set(b->s->vars, m->key, val);
		iv_member(b->s->vars, m->key)->kloc = m->kloc;
	}
	return 0;
}

/* ---- includes ---- */

static char *dir_of(const char *path)
{
	char *copy = xstrdup(path);
	char *d = xstrdup(dirname(copy));
	free(copy);
	return d;
}

/* ---- drivers' suite-level settings ---- */

/* The driver whose suite_key `key` is, or NULL. */
static const struct itest_driver *conf_owner(const char *key)
{
	for (size_t i = 0; itest_drivers[i]; i++)
		if (itest_drivers[i]->suite_key &&
		    !strcmp(itest_drivers[i]->suite_key, key))
			return itest_drivers[i];
	return NULL;
}

/* Adds a file's hosts/browser/drivers entries to the suite's: a file
 * merged later (the suite itself comes last) wins over earlier ones. */
static int merge_conf(struct build *b, const struct ivalue *doc)
{
	struct suite *s = b->s;
	for (size_t i = 0; conf_keys[i]; i++) {
		const struct imember *m = iv_member(doc, conf_keys[i]);
		if (!m)
			continue;
		if (!conf_owner(m->key))
			return err_set(b->err, &m->kloc,
				       "'%s' is not supported by this version "
				       "of itest",
				       m->key);
		if (!s->conf)
			s->conf = iv_obj();
		struct ivalue *into = (struct ivalue *)iv_get(s->conf, m->key);
		if (!into) {
			into = iv_obj();
			into->loc = m->val->loc;
			iv_set(s->conf, m->key, into);
		}
		for (size_t k = 0; k < m->val->u.obj.n; k++) {
			const struct imember *e = &m->val->u.obj.m[k];
			iv_setn(into, e->key, e->klen, iv_clone(e->val));
			/* errors about an entry point at its name */
			struct imember *mm = iv_member(into, e->key);
			if (mm)
				mm->kloc = e->kloc;
		}
	}
	return 0;
}

/* An external driver's name must not hide a step key. */
static int check_driver_names(const struct ivalue *drivers,
			      struct itest_err *err)
{
	for (size_t i = 0; i < drivers->u.obj.n; i++) {
		const struct imember *m = &drivers->u.obj.m[i];
		if (driver_find(m->key) || str_in_list(m->key, step_common) ||
		    !strcmp(m->key, "use"))
			return err_set(err, &m->val->loc,
				       "the external driver '%s' has the name "
				       "of a built-in step key",
				       m->key);
	}
	return 0;
}

static int check_conf(struct build *b)
{
	const struct ivalue *conf = b->s->conf;
	for (size_t i = 0; conf && i < conf->u.obj.n; i++) {
		const struct imember *m = &conf->u.obj.m[i];
		const struct itest_driver *d = conf_owner(m->key);
		if (d->external && check_driver_names(m->val, b->err) < 0)
			return -1;
		if (d->check_conf && d->check_conf(m->val, b->err) < 0)
			return -1;
	}
	return 0;
}

const struct ivalue *suite_driver_conf(const struct suite *s,
				       const struct itest_driver *drv,
				       const char *key)
{
	if (!drv || !drv->suite_key || !s->conf)
		return NULL;
	const struct ivalue *c = iv_get(s->conf, drv->suite_key);
	return drv->external ? iv_get(c, key) : c;
}

char *suite_path(const struct ivalue *node, const char *path)
{
	if (path[0] == '/')
		return xstrdup(path);
	if (path[0] == '~' && (path[1] == '/' || !path[1])) {
		const char *home = getenv("HOME");
		return xasprintf("%s%s", home && *home ? home : "/", path + 1);
	}
	const struct itest_src *src = node ? node->loc.src : NULL;
	if (!src || !src->path)
		return xstrdup(path);
	char *dir = dir_of(src->path);
	char *full = xasprintf("%s/%s", dir, path);
	free(dir);
	return full;
}

static int load_include(struct build *b, const struct ivalue *ref,
			const char *dir, const struct itest_src *parent,
			int depth);

static int process_includes(struct build *b, const struct ivalue *doc,
			    const char *dir, const struct itest_src *src,
			    int depth)
{
	const struct ivalue *inc = iv_get(doc, "include");
	if (!inc)
		return 0;
	if (inc->type == IV_STR)
		return load_include(b, inc, dir, src, depth);
	for (size_t i = 0; i < inc->u.arr.n; i++) {
		const struct ivalue *r = inc->u.arr.v[i];
		if (r->type != IV_STR)
			return err_set(b->err, &r->loc,
				       "'include' lists file paths");
		if (load_include(b, r, dir, src, depth) < 0)
			return -1;
	}
	return 0;
}

static int add_blocks(struct build *b, const struct ivalue *blocks);

static int load_include(struct build *b, const struct ivalue *ref,
			const char *dir, const struct itest_src *parent,
			int depth)
{
	struct itest_err *err = b->err;
	const char *rel = ref->u.str.s;
	char *path =
		rel[0] == '/' ? xstrdup(rel) : xasprintf("%s/%s", dir, rel);
	char *real = realpath(path, NULL);
	int ret = -1;
	if (!real) {
		err_set(err, &ref->loc, "cannot include '%s': %s", rel,
			strerror(errno));
		goto out;
	}
	for (const struct itest_src *s = parent; s; s = s->parent) {
		char *r2 = realpath(s->path, NULL);
		int same = r2 && !strcmp(r2, real);
		free(r2);
		if (same) {
			/* the chain from the file included first down to
			 * this include, then the file again: a -> b -> a */
			struct strbuf chain = STRBUF_INIT;
			const struct itest_src *v[MAX_INCLUDE_DEPTH + 2];
			size_t nv = 0;
			for (const struct itest_src *t = parent;
			     t && nv < MAX_INCLUDE_DEPTH + 1; t = t->parent) {
				v[nv++] = t;
				if (t == s)
					break;
			}
			while (nv)
				strbuf_addf(&chain, "%s -> ", v[--nv]->path);
			strbuf_addstr(&chain, path);
			err_set(err, &ref->loc, "include cycle: %s", chain.buf);
			strbuf_release(&chain);
			goto out;
		}
	}
	if (depth >= MAX_INCLUDE_DEPTH) {
		err_set(err, &ref->loc, "includes nest too deep");
		goto out;
	}
	const struct itest_src *src = srclist_add(&b->ld->srcs, path, parent,
						  ref->loc.line, ref->loc.col);
	struct ivalue *doc = yaml_load_doc(src, err);
	if (!doc)
		goto out;
	b->s->docs =
		xrealloc(b->s->docs, (b->s->ndocs + 1) * sizeof(*b->s->docs));
	b->s->docs[b->s->ndocs++] = doc;
	if (doc->type == IV_NULL) {
		ret = 0;
		goto out;
	}
	if (keys_check(doc, include_keys, "included file", err) < 0)
		goto out;
	char *idir = dir_of(path);
	ret = process_includes(b, doc, idir, src, depth + 1);
	if (!ret)
		ret = merge_conf(b, doc);
	if (!ret)
		ret = merge_vars(b, iv_get(doc, "vars"), idir);
	if (!ret)
		ret = add_blocks(b, iv_get(doc, "blocks"));
	if (!ret)
		add_component_map(b, iv_get(doc, "components"), idir);
	free(idir);
out:
	free(real);
	free(path);
	return ret;
}

/* Registers blocks (their steps are parsed once all are known). */
static int add_blocks(struct build *b, const struct ivalue *blocks)
{
	struct suite *s = b->s;
	for (size_t i = 0;
	     blocks && blocks->type == IV_OBJ && i < blocks->u.obj.n; i++) {
		const struct imember *m = &blocks->u.obj.m[i];
		if (keys_check(m->val, block_keys, "block", b->err) < 0)
			return -1;
		const struct ivalue *params = iv_get(m->val, "params");
		for (size_t k = 0; params && k < params->u.arr.n; k++) {
			const struct ivalue *p = params->u.arr.v[k];
			if (p->type != IV_STR)
				return err_set(b->err, &p->loc,
					       "block parameters are names");
			if (str_in_list(p->u.str.s, reserved_names))
				return err_set(b->err, &p->loc,
					       "'%s' is a reserved name",
					       p->u.str.s);
		}
		struct block *blk = (struct block *)find_block(s, m->key);
		if (!blk) {
			s->blocks =
				xrealloc(s->blocks,
					 (s->nblocks + 1) * sizeof(*s->blocks));
			blk = &s->blocks[s->nblocks++];
			memset(blk, 0, sizeof(*blk));
		}
		blk->name = m->key;
		blk->node = m->val;
		blk->params = params;
	}
	return 0;
}

/* ---- tests ---- */

static void free_steps(struct steps *ss);

static void add_row_name(struct strbuf *sb, const struct ivalue *row,
			 size_t nkeys)
{
	strbuf_addstr(sb, " [");
	for (size_t k = 0; k < nkeys && k < row->u.obj.n; k++) {
		if (k)
			strbuf_addstr(sb, ", ");
		strbuf_addf(sb, "%s=", row->u.obj.m[k].key);
		iv_to_text(sb, row->u.obj.m[k].val);
	}
	strbuf_addch(sb, ']');
}

/* How many leading keys make the names of all rows distinct. */
static size_t row_name_keys(const struct ivalue *each)
{
	size_t most = 0;
	for (size_t i = 0; i < each->u.arr.n; i++)
		if (each->u.arr.v[i]->u.obj.n > most)
			most = each->u.arr.v[i]->u.obj.n;
	for (size_t k = 1; k <= most; k++) {
		int distinct = 1;
		struct strbuf a = STRBUF_INIT, c = STRBUF_INIT;
		for (size_t i = 0; i < each->u.arr.n && distinct; i++) {
			strbuf_reset(&a);
			add_row_name(&a, each->u.arr.v[i], k);
			for (size_t j = 0; j < i && distinct; j++) {
				strbuf_reset(&c);
				add_row_name(&c, each->u.arr.v[j], k);
				distinct = strcmp(a.buf, c.buf) != 0;
			}
		}
		strbuf_release(&a);
		strbuf_release(&c);
		if (distinct)
			return k;
	}
	return most;
}

static int add_tests(struct build *b, const struct ivalue *list)
{
	struct suite *s = b->s;
	struct itest_err *err = b->err;
	const struct ivalue *stags = iv_get(s->doc, "tags");
	size_t total = 0;
	for (size_t i = 0; i < list->u.arr.n; i++) {
		const struct ivalue *t = list->u.arr.v[i];
		if (keys_check(t, test_keys, "test", err) < 0)
			return -1;
		const struct ivalue *each = iv_get(t, "each");
		if (each) {
			if (!each->u.arr.n)
				return err_set(err, &each->loc,
					       "'each' has no rows");
			for (size_t r = 0; r < each->u.arr.n; r++) {
				const struct ivalue *row = each->u.arr.v[r];
				if (row->type != IV_OBJ || !row->u.obj.n)
					return err_set(err, &row->loc,
						       "an 'each' row is a map "
						       "of variables");
				for (size_t k = 0; k < row->u.obj.n; k++)
					if (str_in_list(row->u.obj.m[k].key,
							reserved_names))
						return err_set(
							err,
							&row->u.obj.m[k].kloc,
							"'%s' is a reserved "
							"name",
							row->u.obj.m[k].key);
			}
		}
		total += each ? each->u.arr.n : 1;
	}
	s->tests = xcalloc(total, sizeof(*s->tests));
	for (size_t i = 0; i < list->u.arr.n; i++) {
		const struct ivalue *t = list->u.arr.v[i];
		/* one step list, shared by the rows of an `each` */
		struct steps *own = xcalloc(1, sizeof(*own));
		if (parse_steps(b, iv_get(t, "steps"), own) < 0) {
			free_steps(own);
			free(own);
			return -1;
		}
		const struct ivalue *each = iv_get(t, "each");
		size_t rows = each ? each->u.arr.n : 1;
		size_t nkeys = each ? row_name_keys(each) : 0;
		for (size_t r = 0; r < rows; r++) {
			struct test *tc = &s->tests[s->ntests];
			struct strbuf name = STRBUF_INIT;
			tc->suite = s;
			tc->index = s->ntests;
			tc->node = t;
			tc->steps = own;
			tc->retries = 0;
			strbuf_addstr(&name, iv_get(t, "name")->u.str.s);
			if (each) {
				const struct ivalue *row = each->u.arr.v[r];
				tc->row = iv_clone(row);
				add_row_name(&name, row, nkeys);
			}
			tc->name = strbuf_detach(&name, NULL);
			tc->id = xasprintf("%s/%s", s->name, tc->name);
			s->ntests++;
			for (size_t k = 0; k + 1 < s->ntests; k++) {
				if (strcmp(s->tests[k].name, tc->name))
					continue;
				const struct ivalue *n = iv_get(t, "name");
				return err_set(
					err, &n->loc,
					"duplicate test name '%s' (first "
					"at line %d)",
					tc->name,
					iv_get(s->tests[k].node, "name")
						->loc.line);
			}
			const struct ivalue *v;
			if (get_duration(t, "timeout", &tc->timeout_ms, err) <
				    0 ||
			    get_count(t, "retries", 0, 100, &tc->retries, err) <
				    0)
				return -1;
			if ((v = iv_get(t, "skip"))) {
				if (v->type == IV_STR)
					tc->skip = v->u.str.s;
				else if (v->u.b)
					tc->skip = "skipped";
			}
			tc->skip_if = iv_get(t, "skip-if");
			const struct ivalue *tt = iv_get(t, "tags");
			size_t nt = (stags ? stags->u.arr.n : 0) +
				    (tt ? tt->u.arr.n : 0);
			tc->tags = xcalloc(nt + 1, sizeof(*tc->tags));
			for (int pass = 0; pass < 2; pass++) {
				const struct ivalue *src = pass ? tt : stags;
				for (size_t k = 0; src && k < src->u.arr.n;
				     k++) {
					const struct ivalue *tag =
						src->u.arr.v[k];
					if (tag->type != IV_STR)
						return err_set(
							err, &tag->loc,
							"a tag is a string");
					tc->tags[tc->ntags++] = tag->u.str.s;
				}
			}
			const struct ivalue *cov = iv_get(t, "covers");
			tc->covers = xcalloc(s->ncomponents + 1, 1);
			tc->covers_explicit = cov != NULL;
			for (size_t k = 0; cov && k < cov->u.arr.n; k++) {
				const struct ivalue *e = cov->u.arr.v[k];
				int c = iv_strval(e)
						? component_find(s, e->u.str.s,
								 e->u.str.len)
						: -1;
				if (c < 0)
					return err_set(err, &e->loc,
						       "'covers' names no "
						       "component: '%s'",
						       iv_strval(e) ? e->u.str.s
								    : "?");
				tc->covers[c] = 1;
			}
		}
	}
	return 0;
}

/* ---- what a test covers ---- */

struct coverage {
	const struct suite *s;
	unsigned char *covers;	 /* per component; NULL: only check */
	unsigned char *var_seen; /* per suite var */
	int exclusive;		 /* a `stub` step was seen */
	struct itest_err *err;
};

static int cover_value(struct coverage *cv, const struct ivalue *v);

static int cover_ref(void *data, const char *root, size_t rootlen,
		     const char *name, size_t namelen, int has_default,
		     size_t offset)
{
	struct coverage *cv = data;
	const struct ivalue *vars = cv->s->vars;
	(void)name, (void)namelen, (void)has_default, (void)offset;
	int c = component_find(cv->s, root, rootlen);
	if (c >= 0) {
		if (cv->covers)
			cv->covers[c] = 1;
		return 0;
	}
	/* through suite vars, transitively */
	for (size_t i = 0; i < vars->u.obj.n; i++) {
		const struct imember *m = &vars->u.obj.m[i];
		if (m->klen != rootlen || memcmp(m->key, root, rootlen) ||
		    cv->var_seen[i])
			continue;
		cv->var_seen[i] = 1;
		return cover_value(cv, m->val);
	}
	return 0;
}

static int cover_value(struct coverage *cv, const struct ivalue *v)
{
	if (!v)
		return 0;
	if (v->type == IV_STR)
		return tpl_refs(v, cover_ref, cv, cv->err) < 0 ? -1 : 0;
	if (v->type == IV_ARR)
		for (size_t i = 0; i < v->u.arr.n; i++)
			if (cover_value(cv, v->u.arr.v[i]) < 0)
				return -1;
	if (v->type == IV_OBJ)
		for (size_t i = 0; i < v->u.obj.n; i++)
			if (cover_value(cv, v->u.obj.m[i].val) < 0)
				return -1;
	return 0;
}

/*
 * A `stub` step names a component that must have a stub; the test covers
 * it and runs alone in its stage (under -j the system's own calls could
 * not be told apart).
 */
static int cover_stub_step(struct coverage *cv, const struct step *st)
{
	const struct ivalue *a = st->arg;
	cv->exclusive = 1;
	if (tpl_has_vars(a->u.str.s, a->u.str.len))
		return 0;
	int c = component_find(cv->s, a->u.str.s, a->u.str.len);
	if (c < 0)
		return err_set(cv->err, &a->loc,
			       "the 'stub' step names no component: '%s'",
			       a->u.str.s);
	if (!cv->s->components[c].stub)
		return err_set(cv->err, &a->loc,
			       "component '%s' has no 'stub' to ask",
			       a->u.str.s);
	if (cv->covers)
		cv->covers[c] = 1;
	return 0;
}

static int cover_steps(struct coverage *cv, const struct steps *ss, int depth)
{
	for (size_t i = 0; i < ss->n && depth < 32; i++) {
		const struct step *st = &ss->v[i];
		if (st->use) {
			if (cover_value(cv, st->with) < 0 ||
			    cover_steps(cv, &st->use->steps, depth + 1) < 0)
				return -1;
			continue;
		}
		if (!strcmp(st->drv->name, "stub") &&
		    cover_stub_step(cv, st) < 0)
			return -1;
		const struct ivalue *conf =
			suite_driver_conf(cv->s, st->drv, st->drv_key);
		if (conf && st->drv->step_conf)
			conf = st->drv->step_conf(st->arg, conf);
		if (cover_value(cv, st->arg) < 0 ||
		    cover_value(cv, st->expect) < 0 ||
		    cover_value(cv, st->capture) < 0 ||
		    cover_value(cv, conf) < 0)
			return -1;
	}
	return 0;
}

/* `covers` defaults to the components whose ${C.*} a test uses: in its
 * steps, its blocks, its row and the suite vars they use.  Components
 * that are always stubs never move a test, so they are left out. */
static int derive_covers(struct build *b)
{
	struct suite *s = b->s;
	struct coverage cv = {s, NULL, NULL, 0, b->err};
	cv.var_seen = xcalloc(s->vars->u.obj.n + 1, 1);
	int ret = 0;
	for (size_t i = 0; i < s->ntests && !ret; i++) {
		struct test *t = &s->tests[i];
		memset(cv.var_seen, 0, s->vars->u.obj.n + 1);
		/* with explicit covers, the steps are only checked */
		cv.covers = t->covers_explicit ? NULL : t->covers;
		cv.exclusive = 0;
		ret = cover_steps(&cv, t->steps, 0);
		t->exclusive = cv.exclusive;
		if (t->covers_explicit)
			continue;
		if (!ret)
			ret = cover_value(&cv, t->row);
		for (size_t c = 0; c < s->ncomponents; c++)
			if (s->components[c].always_stub)
				t->covers[c] = 0;
	}
	free(cv.var_seen);
	return ret;
}

/* ---- the whole suite ---- */

static char *file_stem(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	const char *dot = strrchr(base, '.');
	size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
	return xstrndup(base, n);
}

static void free_steps(struct steps *ss)
{
	free(ss->v);
	ss->v = NULL;
	ss->n = 0;
}

void suite_free(struct suite *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->ntests; i++) {
		free(s->tests[i].name);
		free(s->tests[i].id);
		free(s->tests[i].tags);
		free(s->tests[i].covers);
		iv_free(s->tests[i].row);
	}
	components_free(s);
	iv_free(s->conf);
	for (size_t i = 0; i < s->ncdirs; i++)
		free(s->cdirs[i]);
	free(s->cdirs);
	/* test step lists are shared by the rows of one test definition:
	 * free each once */
	for (size_t i = 0; i < s->ntests; i++) {
		if (i && s->tests[i].steps == s->tests[i - 1].steps)
			continue;
		struct steps *ss = (struct steps *)s->tests[i].steps;
		free_steps(ss);
		free(ss);
	}
	free(s->tests);
	for (size_t i = 0; i < s->nblocks; i++)
		free_steps(&s->blocks[i].steps);
	free(s->blocks);
	free_steps(&s->setup);
	free_steps(&s->teardown);
	iv_free(s->vars);
	iv_free(s->doc);
	for (size_t i = 0; i < s->ndocs; i++)
		iv_free(s->docs[i]);
	free(s->docs);
	free(s->name);
	free(s->path);
	free(s->dir);
	free(s);
}

/* ---- suite variables that refer to each other ---- */

struct vargraph {
	const struct suite *s;
	const struct loader *ld;
	size_t from;
	unsigned char *edges; /* n x n */
};

static int var_index(const struct suite *s, const char *root, size_t len)
{
	for (size_t i = 0; i < s->vars->u.obj.n; i++) {
		const struct imember *m = &s->vars->u.obj.m[i];
		if (m->klen == len && !memcmp(m->key, root, len))
			return (int)i;
	}
	return -1;
}

static int var_edge(void *data, const char *root, size_t rootlen,
		    const char *name, size_t namelen, int has_default,
		    size_t offset)
{
	struct vargraph *g = data;
	(void)name, (void)namelen, (void)has_default, (void)offset;
	/* --var and --vars come first in the lookup: they break a cycle */
	if (iv_getn(g->ld->cli_vars, root, rootlen) ||
	    iv_getn(g->ld->file_vars, root, rootlen))
		return 0;
	int to = var_index(g->s, root, rootlen);
	size_t n = g->s->vars->u.obj.n;
	if (to >= 0)
		g->edges[g->from * n + (size_t)to] = 1;
	return 0;
}

static int collect_edges(const struct ivalue *v, struct vargraph *g,
			 struct itest_err *err)
{
	if (v->type == IV_STR)
		return tpl_refs(v, var_edge, g, err) < 0 ? -1 : 0;
	if (v->type == IV_ARR) {
		for (size_t i = 0; i < v->u.arr.n; i++)
			if (collect_edges(v->u.arr.v[i], g, err) < 0)
				return -1;
	} else if (v->type == IV_OBJ) {
		for (size_t i = 0; i < v->u.obj.n; i++)
			if (collect_edges(v->u.obj.m[i].val, g, err) < 0)
				return -1;
	}
	return 0;
}

/* Depth-first search; state 1: on the path, 2: done. */
static int find_cycle(const struct vargraph *g, size_t v, unsigned char *state,
		      size_t *path, size_t depth, struct itest_err *err)
{
	size_t n = g->s->vars->u.obj.n;
	state[v] = 1;
	path[depth] = v;
	for (size_t w = 0; w < n; w++) {
		if (!g->edges[v * n + w])
			continue;
		if (state[w] == 1) {
			struct strbuf sb = STRBUF_INIT;
			size_t k = 0;
			while (path[k] != w)
				k++;
			for (; k <= depth; k++)
				strbuf_addf(&sb, "%s -> ",
					    g->s->vars->u.obj.m[path[k]].key);
			strbuf_addstr(&sb, g->s->vars->u.obj.m[w].key);
			err_set(err, &g->s->vars->u.obj.m[w].val->loc,
				"variable cycle: %s", sb.buf);
			strbuf_release(&sb);
			return -1;
		}
		if (!state[w] &&
		    find_cycle(g, w, state, path, depth + 1, err) < 0)
			return -1;
	}
	state[v] = 2;
	return 0;
}

static int check_var_cycles(struct build *b)
{
	size_t n = b->s->vars->u.obj.n;
	struct vargraph g = {b->s, b->ld, 0, NULL};
	unsigned char *state = xcalloc(n + 1, 1);
	size_t *path = xcalloc(n + 1, sizeof(*path));
	int ret = 0;
	g.edges = xcalloc(n * n + 1, 1);
	for (g.from = 0; g.from < n && !ret; g.from++)
		ret = collect_edges(b->s->vars->u.obj.m[g.from].val, &g,
				    b->err);
	for (size_t v = 0; v < n && !ret; v++)
		if (!state[v])
			ret = find_cycle(&g, v, state, path, 0, b->err);
	free(g.edges);
	free(state);
	free(path);
	return ret;
}

static int check_all_refs(struct build *b)
{
	struct suite *s = b->s;
	struct names base = {0}, ns = {0};
	const struct block *stack[33];
	int ret = -1;
	names_add_keys(&base, s->vars);
	names_add_keys(&base, b->ld->cli_vars);
	names_add_keys(&base, b->ld->file_vars);
	names_add(&base, "run");
	names_add(&base, "test");
	for (size_t i = 0; i < s->ncomponents; i++)
		names_add(&base, s->components[i].name);
	/* suite vars may use each other and the built-ins, in no circle */
	if (check_refs(s->vars, &base, b->err) < 0 || check_var_cycles(b) < 0)
		goto out;
	if (check_steps_refs(&s->setup, &base, stack, 0, b->err) < 0)
		goto out;
	for (size_t i = 0; i < s->ntests; i++) {
		const struct test *t = &s->tests[i];
		ns.n = 0;
		for (size_t k = 0; k < base.n; k++)
			names_add(&ns, base.v[k]);
		names_add_keys(&ns, t->row);
		if (check_refs(t->skip_if, &ns, b->err) < 0 ||
		    check_steps_refs(t->steps, &ns, stack, 0, b->err) < 0)
			goto out;
	}
	ns.n = 0;
	for (size_t k = 0; k < base.n; k++)
		names_add(&ns, base.v[k]);
	if (check_steps_refs(&s->teardown, &ns, stack, 0, b->err) < 0)
		goto out;
	/* blocks nobody uses are still checked for cycles and syntax */
	for (size_t i = 0; i < s->nblocks; i++) {
		struct steps one = {NULL, 0};
		struct step st = {0};
		st.use = &s->blocks[i];
		st.node = s->blocks[i].node;
		one.v = &st;
		one.n = 1;
		ns.n = 0;
		for (size_t k = 0; k < base.n; k++)
			names_add(&ns, base.v[k]);
		/* unknown callers: accept any name inside unused blocks by
		 * checking syntax only */
		struct itest_err tmp = ITEST_ERR_INIT;
		if (check_steps_refs(&one, &ns, stack, 0, &tmp) < 0 &&
		    (strstr(tmp.msg, "cycle") || strstr(tmp.msg, "template"))) {
			*b->err = tmp;
			goto out;
		}
	}
	ret = 0;
out:
	free(base.v);
	free(ns.v);
	return ret;
}

/* `lock: NAME` names a file in the runtime folder; `isolation: netns`
 * cannot hold an engine's services (SPEC 8). */
static int check_lock_isolation(const struct suite *s, struct itest_err *err)
{
	const struct ivalue *v;
	if ((v = iv_get(s->doc, "lock"))) {
		const char *p = v->u.str.s;
		int ok = v->u.str.len >= 1 && v->u.str.len <= 64 && p[0] != '.';
		for (size_t i = 0; ok && i < v->u.str.len; i++)
			ok = (p[i] >= 'a' && p[i] <= 'z') ||
			     (p[i] >= 'A' && p[i] <= 'Z') ||
			     (p[i] >= '0' && p[i] <= '9') || p[i] == '.' ||
			     p[i] == '_' || p[i] == '-';
		if (!ok)
			return err_set(
				err, &v->loc,
				"a lock name is 1 to 64 letters, digits, "
				"'.', '_' or '-', not starting with '.'");
	}
	if (!(v = iv_get(s->doc, "isolation")))
		return 0;
	if (strcmp(v->u.str.s, "netns"))
		return err_set(err, &v->loc,
			       "unknown isolation '%s' (the one kind is "
			       "'netns')",
			       v->u.str.s);
	for (size_t i = 0; i < s->ncomponents; i++)
		if (s->components[i].deploy)
			return err_set(
				err,
				&iv_member(s->components[i].node, "deploy")
					 ->kloc,
				"component '%s': 'deploy' cannot be used with "
				"'isolation: netns' (an engine's services live "
				"outside the run's network namespace)",
				s->components[i].name);
	/* a WebDriver endpoint elsewhere (SPEC 8): the namespace reaches
	 * nothing but its own loopback */
	const struct ivalue *wd =
		s->conf ? iv_get(iv_get(s->conf, "browser"), "webdriver")
			: NULL;
	if (wd && wd->type == IV_STR &&
	    !tpl_has_vars(wd->u.str.s, wd->u.str.len)) {
		const char *h = strstr(wd->u.str.s, "://");
		h = h ? h + 3 : wd->u.str.s;
		size_t n = strcspn(h, ":/");
		if (!(n >= 4 && !strncmp(h, "127.", 4)) &&
		    !(n == 9 && !strncmp(h, "localhost", 9)) &&
		    strncmp(h, "[::1]", 5))
			return err_set(err, &wd->loc,
				       "a 'webdriver' on another machine "
				       "cannot be used with 'isolation: netns' "
				       "(the run's network namespace reaches "
				       "only its own loopback)");
	}
	return 0;
}

static void build_release(struct build *b)
{
	/* the folders live on in the suite: components point at them */
	b->s->cdirs = b->cdirs;
	b->s->ncdirs = b->ncmaps;
	free(b->cmaps);
}

int suite_load(struct loader *ld, const char *path, struct suite **out,
	       struct itest_err *err)
{
	struct suite *s = xcalloc(1, sizeof(*s));
	struct build b = {ld, s, err, NULL, NULL, 0};
	const struct ivalue *v;
	*out = NULL;
	s->path = xstrdup(path);
	s->dir = dir_of(path);
	s->vars = iv_obj();
	s->strategy = "big-bang";
	s->src = srclist_add(&ld->srcs, path, NULL, 0, 0);
	s->doc = yaml_load_doc(s->src, err);
	if (!s->doc)
		goto fail;
	if (s->doc->type != IV_OBJ || !iv_get(s->doc, "tests")) {
		struct itest_loc loc = {s->src, 1, 1};
		err_set(err, s->doc->type == IV_NULL ? &loc : &s->doc->loc,
			"a suite is a map with a top-level 'tests' key");
		goto fail;
	}
	if (keys_check(s->doc, suite_keys, "suite", err) < 0)
		goto fail;
	v = iv_get(s->doc, "name");
	s->name = v ? xstrdup(v->u.str.s) : file_stem(path);
	if (!*s->name || strchr(s->name, '/')) {
		err_set(err, v ? &v->loc : NULL,
			"a suite name is not empty and has no '/'");
		goto fail;
	}
	if ((v = iv_get(s->doc, "strategy"))) {
		static const char *const strategies[] = {
			"big-bang", "top-down", "bottom-up", "sandwich", NULL};
		if (!str_in_list(v->u.str.s, strategies)) {
			const char *sug = suggest_name(v->u.str.s, strategies);
			if (sug)
				err_set(err, &v->loc,
					"unknown strategy '%s' (did you mean "
					"'%s'?)",
					v->u.str.s, sug);
			else
				err_set(err, &v->loc,
					"unknown strategy '%s' (big-bang, "
					"top-down, bottom-up or sandwich)",
					v->u.str.s);
			goto fail;
		}
		s->strategy = v->u.str.s;
	}
	if (process_includes(&b, s->doc, s->dir, s->src, 0) < 0 ||
	    merge_conf(&b, s->doc) < 0 || check_conf(&b) < 0)
		goto fail;
	if (merge_vars(&b, iv_get(s->doc, "vars"), s->dir) < 0)
		goto fail;
	add_component_map(&b, iv_get(s->doc, "components"), s->dir);
	if (components_load(s, b.cmaps, (const char *const *)b.cdirs, b.ncmaps,
			    &ld->srcs, err) < 0)
		goto fail;
	if (check_lock_isolation(s, err) < 0)
		goto fail;
	s->target_layer = -1;
	if ((v = iv_get(s->doc, "target-layer"))) {
		if (!(v->flags & IVF_INT) || v->u.num.i < 1 ||
		    v->u.num.i > 1000) {
			err_set(err, &v->loc,
				"'target-layer' is a layer number from 1");
			goto fail;
		}
		s->target_layer = (int)v->u.num.i;
	}
	if (add_blocks(&b, iv_get(s->doc, "blocks")) < 0)
		goto fail;
	for (size_t i = 0; i < s->nblocks; i++)
		if (parse_steps(&b, iv_get(s->blocks[i].node, "steps"),
				&s->blocks[i].steps) < 0)
			goto fail;
	if (parse_steps(&b, iv_get(s->doc, "setup"), &s->setup) < 0 ||
	    parse_steps(&b, iv_get(s->doc, "teardown"), &s->teardown) < 0)
		goto fail;
	if (add_tests(&b, iv_get(s->doc, "tests")) < 0)
		goto fail;
	if (check_all_refs(&b) < 0 || derive_covers(&b) < 0)
		goto fail;
	*out = s;
	build_release(&b);
	return 0;
fail:
	build_release(&b);
	suite_free(s);
	return -1;
}

/* ---- discovery ---- */

static int has_tests_key(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	int found = 0;
	if (!f)
		return 0;
	while (!found && getline(&line, &cap, f) > 0) {
		const char *p = line;
		if (*p == '"' || *p == '\'')
			p++;
		if (strncmp(p, "tests", 5))
			continue;
		p += 5;
		if (*p == '"' || *p == '\'')
			p++;
		while (*p == ' ' || *p == '\t')
			p++;
		found = *p == ':';
	}
	free(line);
	fclose(f);
	return found;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk_dir(const char *dir, char ***paths, size_t *n, size_t *alloc,
		    int depth, struct itest_err *err)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	if (!d)
		return err_set(err, NULL, "cannot read folder '%s': %s", dir,
			       strerror(errno));
	if (depth > 32) {
		closedir(d);
		return 0;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char *p = xasprintf("%s/%s", dir, e->d_name);
		struct stat st;
		if (stat(p, &st) < 0) {
			free(p);
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			int rc = walk_dir(p, paths, n, alloc, depth + 1, err);
			free(p);
			if (rc < 0) {
				closedir(d);
				return -1;
			}
			continue;
		}
		size_t len = strlen(e->d_name);
		int yml = (len > 4 && !strcmp(e->d_name + len - 4, ".yml")) ||
			  (len > 5 && !strcmp(e->d_name + len - 5, ".yaml"));
		if (yml && S_ISREG(st.st_mode) && has_tests_key(p)) {
			XGROW(*paths, *alloc, *n + 1);
			(*paths)[(*n)++] = p;
		} else {
			free(p);
		}
	}
	closedir(d);
	return 0;
}

int suite_discover(const char *path, char ***paths, size_t *n,
		   struct itest_err *err)
{
	struct stat st;
	size_t alloc = *n, first = *n;
	if (stat(path, &st) < 0)
		return err_set(err, NULL, "cannot read '%s': %s", path,
			       strerror(errno));
	if (!S_ISDIR(st.st_mode)) {
		XGROW(*paths, alloc, *n + 1);
		(*paths)[(*n)++] = xstrdup(path);
		return 0;
	}
	size_t len = strlen(path);
	char *dir =
		xstrndup(path, len > 1 && path[len - 1] == '/' ? len - 1 : len);
	int rc = walk_dir(dir, paths, n, &alloc, 0, err);
	free(dir);
	if (rc < 0)
		return -1;
	qsort(*paths + first, *n - first, sizeof(**paths), cmp_str);
	return 0;
}

/* ---- --vars files ---- */

struct ivalue *vars_file_load(struct loader *ld, const char *path,
			      struct itest_err *err)
{
	size_t len = strlen(path);
	const struct itest_src *src = srclist_add(&ld->srcs, path, NULL, 0, 0);
	if (len >= 4 && !strcmp(path + len - 4, ".env")) {
		FILE *f = fopen(path, "r");
		if (!f) {
			struct itest_loc loc = {src, 0, 0};
			err_set(err, &loc, "cannot read '%s': %s", path,
				strerror(errno));
			return NULL;
		}
		struct ivalue *obj = iv_obj();
		char *line = NULL;
		size_t cap = 0;
		int lineno = 0;
		ssize_t n;
		while ((n = getline(&line, &cap, f)) >= 0) {
			lineno++;
			while (n &&
			       (line[n - 1] == '\n' || line[n - 1] == '\r'))
				line[--n] = '\0';
			char *p = line;
			while (*p == ' ' || *p == '\t')
				p++;
			if (!*p || *p == '#')
				continue;
			if (!strncmp(p, "export ", 7))
				p += 7;
			char *eq = strchr(p, '=');
			struct itest_loc loc = {src, lineno,
						(int)(p - line) + 1};
			if (!eq || eq == p) {
				err_set(err, &loc, "expected NAME=VALUE");
				free(line);
				fclose(f);
				iv_free(obj);
				return NULL;
			}
			char *val = eq + 1;
			size_t vl = strlen(val);
			if (vl >= 2 && (val[0] == '"' || val[0] == '\'') &&
			    val[vl - 1] == val[0]) {
				val++;
				vl -= 2;
			}
			struct ivalue *v = iv_strn(val, vl);
			v->loc = loc;
			iv_setn(obj, p, (size_t)(eq - p), v);
		}
		free(line);
		fclose(f);
		return obj;
	}
	struct ivalue *doc = yaml_load_file(src, err);
	if (!doc)
		return NULL;
	if (doc->type != IV_OBJ) {
		err_set(err, &doc->loc, "a vars file is a map of variables");
		iv_free(doc);
		return NULL;
	}
	return doc;
}
