/*
 * The command line: one option table (cli.c) that parses, documents
 * (--help) and validates every option of SPEC 1.
 */
#ifndef ITEST_CLI_H
#define ITEST_CLI_H

#include "value.h"

enum itest_cmd { CMD_RUN, CMD_CHECK, CMD_INIT, CMD_VERSION, CMD_HELP };

struct itest_opts {
	enum itest_cmd cmd;
	int jobs;
	const char *strategy;
	const char *filter; /* -k REGEX */
	const char **tags;  /* -t, "!x" excludes */
	size_t ntags;
	struct ivalue *vars; /* --var NAME=VALUE, typed as YAML (owned) */
	const char **vars_files;
	size_t nvars_files;
	const char *out; /* -o */
	const char *junit;
	int junit_rich;
	const char *run_id;
	int list, fail_fast, rerun_failed, keep_going;
	int keep;	       /* --keep: leave the deployment up */
	const char *env;       /* --env NAME */
	const char **affected; /* --affected C */
	size_t naffected;
	int plan;	      /* --plan */
	int shard_i, shard_n; /* --shard I/N (1-based); 0/0: none */
	int verbose, quiet;
	int color; /* -1 auto, 0 never, 1 always */
	const char **paths;
	size_t npaths;
};

/* Parses argv into opts.  0, or -1 after printing a usage error. */
int cli_parse(int argc, char **argv, struct itest_opts *o);
void cli_release(struct itest_opts *o);
void cli_usage(FILE *f);

#endif
