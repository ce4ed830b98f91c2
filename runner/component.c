/*
 * Loading and checking components: keys, the start command, readiness
 * probes, stop signals, stubs, and the `needs` graph with its layers.
 */
#include <signal.h>

#include "component.h"
#include "openapi.h"
#include "stubsrv.h"
#include "suite.h"

static const struct itest_keyspec component_keys[] = {
	{"run", TY(STR) | TY(ARR), 0},
	{"env", TY(OBJ), 0},
	{"cwd", TY(STR), 0},
	{"ready", TY(OBJ), 0},
	{"stop", TY(OBJ), 0},
	{"needs", TY(ARR), 0},
	{"stub", TY(STR) | TY(OBJ), 0},
	{"deploy", TY(OBJ), 0},
	{"coverage", TY(STR), 0},
	{"openapi", TY(STR), 0},
	{NULL, 0, 0},
};

static const struct itest_keyspec ready_keys[] = {
	{"http", TY(STR), 0},
	{"tcp", TY(BOOL) | TY(STR), 0},
	{"log", TY(STR), 0},
	{"command", TY(STR) | TY(ARR), 0},
	{"timeout", TY(STR), 0},
	{"interval", TY(STR), 0},
	{NULL, 0, 0},
};

static const struct itest_keyspec stop_keys[] = {
	{"signal", TY(STR), 0},
	{"grace", TY(STR), 0},
	{NULL, 0, 0},
};

static const struct itest_keyspec deploy_keys[] = {
	{"up", TY(STR) | TY(ARR), 1},
	{"down", TY(STR) | TY(ARR), 1},
	{"ready", TY(OBJ), 0},
	{NULL, 0, 0},
};

static const struct {
	const char *name;
	int sig;
} signals[] = {
	{"TERM", SIGTERM}, {"INT", SIGINT},   {"HUP", SIGHUP},
	{"QUIT", SIGQUIT}, {"KILL", SIGKILL}, {"USR1", SIGUSR1},
	{"USR2", SIGUSR2},
};

static int duration(const struct ivalue *map, const char *key, int64_t def,
		    int64_t *out, struct itest_err *err)
{
	const struct ivalue *v = iv_get(map, key);
	*out = def;
	if (!v)
		return 0;
	int64_t ms = duration_parse_ms(v->u.str.s);
	if (ms < 0)
		return err_set(err, &v->loc,
			       "bad duration for '%s' (write 250ms, 2s or 1m)",
			       key);
	*out = ms;
	return 0;
}

static int parse_ready(struct component *c, const struct ivalue *ready,
		       struct itest_err *err)
{
	c->ready = READY_TCP;
	c->ready_timeout_ms = 20000;
	c->ready_interval_ms = 100;
	if (!ready)
		return 0;
	if (keys_check(ready, ready_keys, "ready", err) < 0)
		return -1;
	static const char *const kinds[] = {"tcp", "http", "log", "command"};
	int found = 0;
	for (int k = 0; k < 4; k++) {
		const struct ivalue *v = iv_get(ready, kinds[k]);
		if (!v)
			continue;
		if (found++)
			return err_set(
				err, &v->loc,
				"'ready' takes one probe: http, tcp, log "
				"or command");
		c->ready = (enum ready_kind)k;
		c->ready_arg = v->type == IV_BOOL ? NULL : v;
		if (k == READY_TCP && v->type == IV_BOOL && !v->u.b)
			return err_set(err, &v->loc,
				       "'tcp: false' probes nothing; leave "
				       "'ready' out for the default TCP probe");
	}
	if (duration(ready, "timeout", 20000, &c->ready_timeout_ms, err) < 0 ||
	    duration(ready, "interval", 100, &c->ready_interval_ms, err) < 0)
		return -1;
	if (!c->ready_interval_ms)
		c->ready_interval_ms = 10;
	return 0;
}

static int parse_stop(struct component *c, const struct ivalue *stop,
		      struct itest_err *err)
{
	c->stop_signal = SIGTERM;
	c->stop_grace_ms = 5000;
	if (!stop)
		return 0;
	if (keys_check(stop, stop_keys, "stop", err) < 0)
		return -1;
	const struct ivalue *v = iv_get(stop, "signal");
	if (v) {
		const char *n = v->u.str.s;
		if (!strncmp(n, "SIG", 3))
			n += 3;
		size_t i = 0;
		while (i < ARRAY_SIZE(signals) && strcmp(signals[i].name, n))
			i++;
		if (i == ARRAY_SIZE(signals))
			return err_set(err, &v->loc,
				       "unknown signal '%s' (TERM, INT, HUP, "
				       "QUIT, KILL, USR1 or USR2)",
				       v->u.str.s);
		c->stop_signal = signals[i].sig;
	}
	return duration(stop, "grace", 5000, &c->stop_grace_ms, err);
}

/* `openapi:`: the component's operations, for API coverage. */
static int load_openapi(struct component *c, struct srclist *srcs,
			struct itest_err *err)
{
	const struct ivalue *v = iv_get(c->node, "openapi");
	if (!v)
		return 0;
	char *path = v->u.str.s[0] == '/'
			     ? xstrdup(v->u.str.s)
			     : xasprintf("%s/%s", c->dir, v->u.str.s);
	const struct itest_src *src =
		srclist_add(srcs, path, v->loc.src, v->loc.line, v->loc.col);
	free(path);
	struct itest_err inner = ITEST_ERR_INIT;
	c->api = openapi_load(src, &inner);
	if (c->api)
		return 0;
	if (!inner.loc.line) /* the file itself: say so at `openapi:` */
		return err_set(err, &v->loc, "%s", inner.msg);
	*err = inner;
	return -1;
}

static int load_stub(struct component *c, struct srclist *srcs,
		     struct itest_err *err)
{
	const struct ivalue *v = c->stub;
	if (!v)
		return 0;
	if (v->type == IV_OBJ) {
		c->stub_dir = xstrdup(c->dir);
		return stub_check_spec(v, err);
	}
	char *path = v->u.str.s[0] == '/'
			     ? xstrdup(v->u.str.s)
			     : xasprintf("%s/%s", c->dir, v->u.str.s);
	const struct itest_src *src =
		srclist_add(srcs, path, v->loc.src, v->loc.line, v->loc.col);
	struct itest_err inner = ITEST_ERR_INIT;
	c->stub_doc = yaml_load_file(src, &inner);
	char *slash = strrchr(path, '/');
	c->stub_dir =
		slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup(".");
	free(path);
	if (!c->stub_doc) {
		if (!inner.loc.line) /* the file itself: say so at `stub:` */
			return err_set(err, &v->loc, "%s", inner.msg);
		*err = inner;
		return -1;
	}
	return stub_check_spec(c->stub_doc, err);
}

int component_find(const struct suite *s, const char *name, size_t len)
{
	for (size_t i = 0; i < s->ncomponents; i++)
		if (strlen(s->components[i].name) == len &&
		    !memcmp(s->components[i].name, name, len))
			return (int)i;
	return -1;
}

int components_top(const struct suite *s)
{
	int top = -1;
	for (size_t i = 0; i < s->ncomponents; i++)
		if (s->components[i].layer > top)
			top = s->components[i].layer;
	return top;
}

/* Layers by depth-first search; a cycle is reported with its path. */
static int layer_of(struct suite *s, size_t i, unsigned char *state,
		    size_t *path, size_t depth, struct itest_err *err)
{
	struct component *c = &s->components[i];
	if (state[i] == 2)
		return 0;
	state[i] = 1;
	path[depth] = i;
	c->layer = 0;
	for (size_t k = 0; k < c->nneeds; k++) {
		size_t j = c->needs[k];
		if (state[j] == 1) {
			struct strbuf sb = STRBUF_INIT;
			size_t from = 0;
			while (path[from] != j)
				from++;
			for (size_t p = from; p <= depth; p++)
				strbuf_addf(&sb, "%s -> ",
					    s->components[path[p]].name);
			strbuf_addstr(&sb, s->components[j].name);
			const struct ivalue *needs = iv_get(c->node, "needs");
			err_set(err, &needs->u.arr.v[k]->loc,
				"'needs' cycle: %s", sb.buf);
			strbuf_release(&sb);
			return -1;
		}
		if (layer_of(s, j, state, path, depth + 1, err) < 0)
			return -1;
		if (s->components[j].layer + 1 > c->layer)
			c->layer = s->components[j].layer + 1;
	}
	state[i] = 2;
	return 0;
}

int components_load(struct suite *s, const struct ivalue *const *maps,
		    const char *const *dirs, size_t nmaps, struct srclist *srcs,
		    struct itest_err *err)
{
	static const char *const reserved[] = {"run", "env", "test", "request",
					       NULL};
	/* later maps override earlier ones by name */
	for (size_t m = 0; m < nmaps; m++) {
		for (size_t i = 0; i < maps[m]->u.obj.n; i++) {
			const struct imember *mem = &maps[m]->u.obj.m[i];
			for (size_t r = 0; reserved[r]; r++)
				if (!strcmp(mem->key, reserved[r]))
					return err_set(
						err, &mem->kloc,
						"'%s' is a reserved name",
						mem->key);
			if (!*mem->key || strchr(mem->key, '.') ||
			    strchr(mem->key, '/'))
				return err_set(err, &mem->kloc,
					       "a component name has no '.' "
					       "or '/'");
			if (iv_get(s->vars, mem->key))
				return err_set(err, &mem->kloc,
					       "'%s' names both a variable and "
					       "a component",
					       mem->key);
			int at = component_find(s, mem->key, mem->klen);
			struct component *c;
			if (at >= 0) {
				c = &s->components[at];
			} else {
				s->components = xrealloc(s->components,
							 (s->ncomponents + 1) *
								 sizeof(*c));
				c = &s->components[s->ncomponents++];
			}
			memset(c, 0, sizeof(*c));
			c->name = mem->key;
			c->node = mem->val;
			c->kloc = mem->kloc;
			c->dir = dirs[m];
		}
	}
	for (size_t i = 0; i < s->ncomponents; i++) {
		struct component *c = &s->components[i];
		const struct ivalue *n = c->node, *v;
		if (keys_check(n, component_keys, "component", err) < 0)
			return -1;
		if ((v = iv_get(n, "coverage"))) {
			if (strcmp(v->u.str.s, "gcov"))
				return err_set(err, &v->loc,
					       "'coverage' is 'gcov' (the code "
					       "coverage itest collects), not "
					       "'%s'",
					       v->u.str.s);
			c->gcov = 1;
		}
		c->run = iv_get(n, "run");
		c->env = iv_get(n, "env");
		c->cwd = iv_get(n, "cwd");
		c->deploy = iv_get(n, "deploy");
		c->stub = iv_get(n, "stub");
		if (c->run && c->deploy)
			return err_set(err, &iv_member(n, "deploy")->kloc,
				       "component '%s' has both 'run' and "
				       "'deploy'",
				       c->name);
		if (c->run && c->run->type == IV_ARR && !c->run->u.arr.n)
			return err_set(err, &c->run->loc, "'run' is empty");
		c->always_stub = !c->run && !c->deploy;
		if (c->always_stub && !c->stub)
			return err_set(err, &c->kloc,
				       "component '%s' needs 'run', 'deploy' "
				       "or 'stub'",
				       c->name);
		if (c->deploy &&
		    keys_check(c->deploy, deploy_keys, "deploy", err) < 0)
			return -1;
		v = c->deploy ? iv_get(c->deploy, "ready") : iv_get(n, "ready");
		if (c->deploy && iv_member(n, "ready"))
			return err_set(err, &iv_member(n, "ready")->kloc,
				       "a deployed component's 'ready' goes "
				       "inside 'deploy'");
		if (parse_ready(c, v, err) < 0 ||
		    parse_stop(c, iv_get(n, "stop"), err) < 0)
			return -1;
		if ((v = iv_get(n, "needs"))) {
			c->needs = xcalloc(v->u.arr.n + 1, sizeof(*c->needs));
			for (size_t k = 0; k < v->u.arr.n; k++) {
				const struct ivalue *e = v->u.arr.v[k];
				int j = e->type == IV_STR
						? component_find(s, e->u.str.s,
								 e->u.str.len)
						: -1;
				if (j < 0) {
					const char *names[65];
					size_t nn = 0;
					for (size_t q = 0;
					     q < s->ncomponents && nn < 64; q++)
						names[nn++] =
							s->components[q].name;
					names[nn] = NULL;
					const char *sug =
						iv_strval(e)
							? suggest_name(
								  e->u.str.s,
								  names)
							: NULL;
					if (sug)
						return err_set(
							err, &e->loc,
							"'needs' names no "
							"component: '%s' (did "
							"you mean '%s'?)",
							iv_strval(e), sug);
					return err_set(err, &e->loc,
						       "'needs' names no "
						       "component: '%s'",
						       iv_strval(e) ? e->u.str.s
								    : "?");
				}
				c->needs[c->nneeds++] = (size_t)j;
			}
		}
		if (load_openapi(c, srcs, err) < 0 ||
		    load_stub(c, srcs, err) < 0)
			return -1;
	}
	unsigned char *state = xcalloc(s->ncomponents + 1, 1);
	size_t *path = xcalloc(s->ncomponents + 1, sizeof(*path));
	int ret = 0;
	for (size_t i = 0; i < s->ncomponents && !ret; i++)
		ret = layer_of(s, i, state, path, 0, err);
	free(state);
	free(path);
	return ret;
}

void components_free(struct suite *s)
{
	for (size_t i = 0; i < s->ncomponents; i++) {
		free(s->components[i].needs);
		free(s->components[i].stub_dir);
		iv_free(s->components[i].stub_doc);
		openapi_free(s->components[i].api);
	}
	free(s->components);
	s->components = NULL;
	s->ncomponents = 0;
}
