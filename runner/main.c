/*
 * The itest command: parse the command line, load and check the suites,
 * then run them (or list, check, init).  Exit statuses are SPEC 1's.
 */
#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netns.h"
#include "plan.h"
#include "reaper.h"
#include "runner.h"
#include "merge.h"
#include "stubsrv.h"

static const char starter_suite[] =
	"# A starter suite: run it with `itest suites/`.\n"
	"# The format is described in docs/suite-format.md.\n"
	"name: example\n"
	"vars:\n"
	"  greeting: hello\n"
	"tests:\n"
	"  - name: the shell says hello\n"
	"    steps:\n"
	"      - shell: \"echo ${greeting|sh}\"\n"
	"        expect: { exit: 0, stdout: hello }\n"
	"  - name: a JSON answer is checked by path\n"
	"    steps:\n"
	"      - shell: \"printf '{\\\"qty\\\": 2}'\"\n"
	"        expect:\n"
	"          json: { $.qty: { gt: 1 } }\n"
	"        capture: { qty: $.qty }\n"
	"      - shell: \"test ${qty} -eq 2\"\n";

static int cmd_init(void)
{
	struct stat st;
	if (stat("suites/example.yml", &st) == 0) {
		fprintf(stderr, "itest: error: suites/example.yml exists "
				"already; nothing written\n");
		return EXIT_USAGE;
	}
	if (mkdir("suites", 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "itest: error: cannot create suites/: %s\n",
			strerror(errno));
		return EXIT_USAGE;
	}
	FILE *f = fopen("suites/example.yml", "wx");
	if (!f || fputs(starter_suite, f) < 0 || fclose(f) != 0) {
		fprintf(stderr,
			"itest: error: cannot write "
			"suites/example.yml: %s\n",
			strerror(errno));
		return EXIT_USAGE;
	}
	printf("wrote suites/example.yml; run it with: itest suites/\n");
	return EXIT_PASS;
}

/* The env/NAME.yml of --env: next to the first suite path. */
static char *find_env_file(const struct itest_opts *o, const char *first)
{
	struct stat st;
	char *dir;
	if (stat(first, &st) == 0 && S_ISDIR(st.st_mode)) {
		dir = xstrdup(first);
	} else {
		const char *slash = strrchr(first, '/');
		dir = slash ? xstrndup(first, (size_t)(slash - first))
			    : xstrdup(".");
	}
	char *path = xasprintf("%s/env/%s.yml", dir, o->env);
	free(dir);
	if (stat(path, &st) == 0)
		return path;
	fprintf(stderr, "itest: error: --env %s: no file '%s'\n", o->env, path);
	free(path);
	return NULL;
}

int main(int argc, char **argv)
{
	struct itest_opts o;
	struct loader ld = {0};
	struct masker mask = MASKER_INIT;
	struct suite **suites = NULL;
	struct ivalue *file_vars = NULL;
	char **paths = NULL;
	size_t npaths = 0, nsuites = 0;
	int ret = EXIT_USAGE, signo = 0;
	const char *default_path = "suites";

	if (argc > 1 && !strcmp(argv[1], "stub"))
		return stubsrv_main(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "merge"))
		return merge_main(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "gc"))
		return reaper_gc_main(argc - 1, argv + 1);
	/* hidden: the reaper of a run (reaper.h) */
	if (argc > 1 && !strcmp(argv[1], "__reaper"))
		return reaper_main(argc - 1, argv + 1);
	if (cli_parse(argc, argv, &o) < 0) {
		cli_release(&o);
		return EXIT_USAGE;
	}
	switch (o.cmd) {
	case CMD_VERSION:
		printf("itest %s\n", ITEST_VERSION);
		cli_release(&o);
		return EXIT_PASS;
	case CMD_HELP:
		cli_usage(stdout);
		cli_release(&o);
		return EXIT_PASS;
	case CMD_INIT:
		cli_release(&o);
		return cmd_init();
	default:
		break;
	}

	ld.mask = &mask;
	ld.check_only = o.cmd == CMD_CHECK;
	ld.cli_vars = o.vars;
	struct itest_err err = ITEST_ERR_INIT;
	for (size_t i = 0; i < (o.npaths ? o.npaths : 1); i++)
		if (suite_discover(o.npaths ? o.paths[i] : default_path, &paths,
				   &npaths, &err) < 0)
			goto fail;
	if (!npaths) {
		fprintf(stderr,
			"itest: error: no suite found in %s (a suite "
			"is a YAML file with a top-level 'tests' key)\n",
			o.npaths ? o.paths[0] : default_path);
		goto out;
	}
	/* --vars files, then --env, merged in order (later ones win) */
	file_vars = iv_obj();
	char *envfile = NULL;
	if (o.env) {
		envfile =
			find_env_file(&o, o.npaths ? o.paths[0] : default_path);
		if (!envfile)
			goto out;
	}
	for (size_t i = 0; i <= o.nvars_files; i++) {
		const char *f = i < o.nvars_files ? o.vars_files[i] : envfile;
		if (!f)
			continue;
		struct ivalue *v = vars_file_load(&ld, f, &err);
		if (!v) {
			free(envfile);
			goto fail;
		}
		for (size_t k = 0; v->type == IV_OBJ && k < v->u.obj.n; k++) {
			struct imember *m = &v->u.obj.m[k];
			iv_setn(file_vars, m->key, m->klen, m->val);
			m->val = NULL;
		}
		iv_free(v);
	}
	free(envfile);
	ld.file_vars = file_vars;

	suites = xcalloc(npaths, sizeof(*suites));
	for (size_t i = 0; i < npaths; i++) {
		if (suite_load(&ld, paths[i], &suites[nsuites], &err) < 0)
			goto fail;
		for (size_t k = 0; k < nsuites; k++) {
			if (strcmp(suites[k]->name, suites[nsuites]->name))
				continue;
			const struct ivalue *nv =
				iv_get(suites[nsuites]->doc, "name");
			struct itest_loc loc = {suites[nsuites]->src, 1, 1};
			err_set(&err, nv ? &nv->loc : &loc,
				"duplicate suite name '%s' (also %s)",
				suites[k]->name, suites[k]->path);
			nsuites++;
			goto fail;
		}
		if (o.strategy)
			suites[nsuites]->strategy = o.strategy;
		nsuites++;
		/* the plan with every test: a strategy that needs a stub the
		 * suite lacks is a load error */
		struct plan plan;
		if (plan_build(suites[nsuites - 1],
			       suites[nsuites - 1]->strategy, NULL, &plan,
			       &err) < 0)
			goto fail;
		plan_release(&plan);
	}
	for (size_t i = 0; i < o.naffected; i++) {
		int found = 0;
		for (size_t k = 0; k < nsuites; k++)
			found |= component_find(suites[k], o.affected[i],
						strlen(o.affected[i])) >= 0;
		if (!found) {
			fprintf(stderr,
				"itest: error: --affected %s: no suite has a "
				"component '%s'\n",
				o.affected[i], o.affected[i]);
			goto out;
		}
	}
	if (o.cmd == CMD_CHECK) {
		size_t tests = 0;
		for (size_t i = 0; i < nsuites; i++)
			tests += suites[i]->ntests;
		printf("%zu suite%s, %zu test%s: ok\n", nsuites,
		       nsuites == 1 ? "" : "s", tests, tests == 1 ? "" : "s");
		ret = EXIT_PASS;
		goto out;
	}
	/* isolation: netns, for the whole run, before any thread starts */
	for (size_t i = 0; i < nsuites; i++) {
		const struct imember *m =
			iv_member(suites[i]->doc, "isolation");
		if (!m)
			continue;
		if (o.keep) {
			err_set(&err, &m->kloc,
				"'isolation: netns' cannot be used with --keep "
				"(the namespace ends with itest)");
			goto fail;
		}
		if (!o.plan && !o.list && netns_enter(&m->kloc, &err) < 0)
			goto fail;
		break;
	}
	/* a component that daemonizes (double fork, setsid) stays our
	 * descendant, so that teardown still finds it */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	ret = runner_run(&o, suites, nsuites, file_vars, &mask, &signo);
	goto out;
fail:
	err_print(&err);
	ret = EXIT_USAGE;
out:
	for (size_t i = 0; i < nsuites; i++)
		suite_free(suites[i]);
	free(suites);
	for (size_t i = 0; i < npaths; i++)
		free(paths[i]);
	free(paths);
	iv_free(file_vars);
	srclist_release(&ld.srcs);
	mask_release(&mask);
	cli_release(&o);
	fflush(stdout);
	if (signo) {
		/* end by the same signal, so a calling shell loop stops */
		signal(signo, SIG_DFL);
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, signo);
		pthread_sigmask(SIG_UNBLOCK, &set, NULL);
		raise(signo);
	}
	return ret;
}
