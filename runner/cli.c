/*
 * The option table of the itest command and its parser.  Each option is
 * one row: names, whether it takes a value, the help text, and what it
 * sets.  --help is printed from the same table.
 */
#include <errno.h>

#include "cli.h"
#include "yaml.h"

enum opt_id {
	O_JOBS,
	O_STRATEGY,
	O_FILTER,
	O_TAG,
	O_VAR,
	O_VARS,
	O_OUT,
	O_JUNIT,
	O_JUNIT_FLAVOR,
	O_RUN_ID,
	O_LIST,
	O_FAIL_FAST,
	O_RERUN_FAILED,
	O_ENV,
	O_KEEP_GOING,
	O_VERBOSE,
	O_QUIET,
	O_COLOR,
	O_HELP,
	O_VERSION,
	O_PLAN,
	O_AFFECTED,
	O_SHARD,
	O_KEEP,
};

struct opt {
	enum opt_id id;
	char shortname;
	const char *longname;
	const char *arg; /* NULL: a flag */
	const char *help;
};

static const struct opt options[] = {
	{O_JOBS, 'j', "jobs", "N", "run N tests in parallel (default 1)"},
	{O_STRATEGY, 's', "strategy", "S", "override every suite's strategy"},
	{O_FILTER, 'k', "filter", "REGEX",
	 "only tests whose SUITE/TEST matches (PCRE2)"},
	{O_TAG, 't', "tag", "T", "only tests tagged T; '!T' excludes"},
	{O_VAR, 0, "var", "NAME=VALUE", "set a variable (typed as YAML)"},
	{O_VARS, 0, "vars", "FILE", "variables from a YAML or .env file"},
	{O_OUT, 'o', "out", "DIR", "root of run folders (default itest-out)"},
	{O_JUNIT, 0, "junit", "FILE", "also write the JUnit report to FILE"},
	{O_JUNIT_FLAVOR, 0, "junit-flavor", "F",
	 "'rich' adds file and line to test cases"},
	{O_RUN_ID, 0, "run-id", "ID", "name the run"},
	{O_LIST, 0, "list", NULL, "print the selected tests and exit"},
	{O_FAIL_FAST, 0, "fail-fast", NULL, "stop at the first failing test"},
	{O_RERUN_FAILED, 0, "rerun-failed", NULL,
	 "run only the tests that failed in the last run"},
	{O_ENV, 0, "env", "NAME", "load env/NAME.yml next to the suites"},
	{O_KEEP_GOING, 0, "keep-going", NULL,
	 "do not block later stages after a failing stage"},
	{O_VERBOSE, 'v', "verbose", NULL, "print every test's step log"},
	{O_QUIET, 'q', "quiet", NULL, "print only failures and the summary"},
	{O_COLOR, 0, "color", "WHEN", "auto, always or never"},
	{O_PLAN, 0, "plan", NULL,
	 "print the integration plan (stages, real and stubbed) and exit"},
	{O_AFFECTED, 0, "affected", "C",
	 "only tests covering C or what needs it (repeatable)"},
	{O_SHARD, 0, "shard", "I/N",
	 "run only shard I of N (1-based), split by test id"},
	{O_KEEP, 0, "keep", NULL, "leave the deployment up; print its URLs"},
	{O_HELP, 'h', "help", NULL, "print this help"},
	{O_VERSION, 0, "version", NULL, "print the version"},
};

void cli_usage(FILE *f)
{
	fputs("usage: itest [run] [OPTIONS] [PATH...]   run suites "
	      "(default: suites/)\n"
	      "       itest check [PATH...]             load and validate "
	      "suites, run nothing\n"
	      "       itest init                        write a starter "
	      "suites/ folder\n"
	      "       itest stub FILE --port N          serve a stub file on "
	      "its own\n"
	      "       itest gc [--run RUN_ID]           end what runs whose "
	      "itest died left\n"
	      "       itest merge -o OUT.xml JUNIT...   merge JUnit reports "
	      "(e.g. from CI shards)\n"
	      "       itest version | --version | --help\n\noptions:\n",
	      f);
	for (size_t i = 0; i < ARRAY_SIZE(options); i++) {
		const struct opt *o = &options[i];
		char left[48];
		snprintf(left, sizeof(left), "%c%c%s--%s%s%s",
			 o->shortname ? '-' : ' ',
			 o->shortname ? o->shortname : ' ',
			 o->shortname ? ", " : "  ", o->longname,
			 o->arg ? " " : "", o->arg ? o->arg : "");
		fprintf(f, "  %-28s %s\n", left, o->help);
	}
	fputs("\nexit status: 0 all passed, 1 a test failed, 2 usage or suite "
	      "error,\n3 deployment failed, 130 interrupted\n",
	      f);
}

ITEST_PRINTF(1, 2) static int usage_error(const char *fmt, ...)
{
	va_list ap;
	fputs("itest: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n(see itest --help)\n", stderr);
	return -1;
}

static void push(const char ***v, size_t *n, const char *s)
{
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = s;
}

static int set_var(struct itest_opts *o, const char *arg)
{
	const char *eq = strchr(arg, '=');
	if (!eq || eq == arg)
		return usage_error("--var takes NAME=VALUE, not '%s'", arg);
	struct itest_err err = ITEST_ERR_INIT;
	struct ivalue *v = yaml_parse(eq + 1, strlen(eq + 1), NULL, &err);
	if (!v) {
		/* not valid YAML (an unclosed quote, say): the text as is */
		v = iv_str(eq + 1);
	} else if (v->type == IV_NULL && !eq[1]) {
		/* NAME= is the empty string, as in a shell */
		iv_free(v);
		v = iv_str("");
	}
	iv_setn(o->vars, arg, (size_t)(eq - arg), v);
	return 0;
}

static int apply(struct itest_opts *o, const struct opt *opt, const char *val)
{
	char *end;
	switch (opt->id) {
	case O_JOBS: {
		long n = strtol(val, &end, 10);
		if (*end || n < 1 || n > 1024)
			return usage_error("--jobs takes a number from 1 to "
					   "1024, not '%s'",
					   val);
		o->jobs = (int)n;
		break;
	}
	case O_STRATEGY:
		if (strcmp(val, "big-bang") && strcmp(val, "top-down") &&
		    strcmp(val, "bottom-up") && strcmp(val, "sandwich"))
			return usage_error("unknown strategy '%s' (big-bang, "
					   "top-down, bottom-up or sandwich)",
					   val);
		o->strategy = val;
		break;
	case O_FILTER:
		o->filter = val;
		break;
	case O_TAG:
		push(&o->tags, &o->ntags, val);
		break;
	case O_VAR:
		return set_var(o, val);
	case O_VARS:
		push(&o->vars_files, &o->nvars_files, val);
		break;
	case O_OUT:
		o->out = val;
		break;
	case O_JUNIT:
		o->junit = val;
		break;
	case O_JUNIT_FLAVOR:
		if (strcmp(val, "rich") && strcmp(val, "default"))
			return usage_error("--junit-flavor is 'default' or "
					   "'rich', not '%s'",
					   val);
		o->junit_rich = !strcmp(val, "rich");
		break;
	case O_RUN_ID:
		for (const char *p = val; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') ||
			      (*p >= '0' && *p <= '9') || *p == '-'))
				return usage_error(
					"--run-id takes lowercase letters, "
					"digits and '-', not '%s'",
					val);
		if (!*val || strlen(val) > 63)
			return usage_error("--run-id takes 1 to 63 characters");
		o->run_id = val;
		break;
	case O_LIST:
		o->list = 1;
		break;
	case O_FAIL_FAST:
		o->fail_fast = 1;
		break;
	case O_RERUN_FAILED:
		o->rerun_failed = 1;
		break;
	case O_ENV:
		if (strchr(val, '/') || !*val)
			return usage_error("--env takes a name, not '%s'", val);
		o->env = val;
		break;
	case O_KEEP_GOING:
		o->keep_going = 1;
		break;
	case O_VERBOSE:
		o->verbose = 1;
		o->quiet = 0;
		break;
	case O_QUIET:
		o->quiet = 1;
		o->verbose = 0;
		break;
	case O_COLOR:
		if (!strcmp(val, "auto"))
			o->color = -1;
		else if (!strcmp(val, "always"))
			o->color = 1;
		else if (!strcmp(val, "never"))
			o->color = 0;
		else
			return usage_error("--color is auto, always or never, "
					   "not '%s'",
					   val);
		break;
	case O_HELP:
		o->cmd = CMD_HELP;
		break;
	case O_VERSION:
		o->cmd = CMD_VERSION;
		break;
	case O_PLAN:
		o->plan = 1;
		break;
	case O_AFFECTED:
		push(&o->affected, &o->naffected, val);
		break;
	case O_KEEP:
		o->keep = 1;
		break;
	case O_SHARD: {
		char *slash, *rest = NULL;
		errno = 0;
		long i = strtol(val, &slash, 10), n = 0;
		if (!errno && slash != val && *slash == '/' &&
		    slash[1] >= '0' && slash[1] <= '9')
			n = strtol(slash + 1, &rest, 10);
		if (errno || !rest || *rest || n < 1 || n > 10000 || i < 1 ||
		    i > n)
			return usage_error("--shard takes I/N with 1 <= I <= N "
					   "<= 10000 (e.g. 2/4), not '%s'",
					   val);
		o->shard_i = (int)i;
		o->shard_n = (int)n;
		break;
	}
	}
	return 0;
}

int cli_parse(int argc, char **argv, struct itest_opts *o)
{
	int i = 1, only_paths = 0;
	memset(o, 0, sizeof(*o));
	o->cmd = CMD_RUN;
	o->jobs = 1;
	o->color = -1;
	o->out = "itest-out";
	o->vars = iv_obj();
	if (i < argc) {
		const char *c = argv[i];
		if (!strcmp(c, "run"))
			i++;
		else if (!strcmp(c, "check"))
			o->cmd = CMD_CHECK, i++;
		else if (!strcmp(c, "init"))
			o->cmd = CMD_INIT, i++;
		else if (!strcmp(c, "version"))
			o->cmd = CMD_VERSION, i++;
		else if (!strcmp(c, "help"))
			o->cmd = CMD_HELP, i++;
	}
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (only_paths || a[0] != '-' || !a[1]) {
			push(&o->paths, &o->npaths, a);
			continue;
		}
		if (!strcmp(a, "--")) {
			only_paths = 1;
			continue;
		}
		const struct opt *opt = NULL;
		const char *val = NULL;
		if (a[1] == '-') {
			const char *name = a + 2;
			const char *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);
			for (size_t k = 0; k < ARRAY_SIZE(options); k++)
				if (strlen(options[k].longname) == len &&
				    !strncmp(options[k].longname, name, len))
					opt = &options[k];
			if (!opt) {
				const char *names[ARRAY_SIZE(options) + 1];
				for (size_t k = 0; k < ARRAY_SIZE(options); k++)
					names[k] = options[k].longname;
				names[ARRAY_SIZE(options)] = NULL;
				char *w = xstrndup(name, len);
				const char *sug = suggest_name(w, names);
				free(w);
				if (sug)
					return usage_error(
						"unknown option '%s' (did you "
						"mean '--%s'?)",
						a, sug);
				return usage_error("unknown option '%s'", a);
			}
			if (eq && !opt->arg)
				return usage_error("--%s takes no value",
						   opt->longname);
			if (eq)
				val = eq + 1;
		} else {
			for (size_t k = 0; k < ARRAY_SIZE(options); k++)
				if (options[k].shortname == a[1])
					opt = &options[k];
			if (!opt)
				return usage_error("unknown option '%s'", a);
			if (a[2] && opt->arg)
				val = a + 2;
			else if (a[2])
				return usage_error("unknown option '%s'", a);
		}
		if (opt->arg && !val) {
			if (i + 1 >= argc)
				return usage_error("--%s needs a value (%s)",
						   opt->longname, opt->arg);
			val = argv[++i];
		}
		if (apply(o, opt, val) < 0)
			return -1;
	}
	if (o->cmd == CMD_INIT && o->npaths)
		return usage_error("'itest init' takes no path");
	return 0;
}

void cli_release(struct itest_opts *o)
{
	free(o->tags);
	free(o->affected);
	free(o->vars_files);
	free(o->paths);
	iv_free(o->vars);
	memset(o, 0, sizeof(*o));
}
