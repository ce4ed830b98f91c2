/*
 * The suite model and its loader: a YAML suite file (SPEC 2, 3, 5, 6)
 * checked completely at load time -- keys, types, durations, drivers,
 * expectations, block calls, variable names -- so that nothing runs when
 * anything is wrong, and every error names FILE:LINE:COL.
 *
 * Everything a suite points into (the YAML trees) is owned by the suite
 * and lives until suite_free().
 */
#ifndef ITEST_SUITE_H
#define ITEST_SUITE_H

#include "component.h"
#include "driver.h"
#include "mask.h"
#include "yaml.h"

struct block;

struct step {
	const struct ivalue *node;	/* the step map */
	const char *name;		/* the `name:` key, or NULL */
	const struct itest_driver *drv; /* NULL for a `use` step */
	size_t drv_index;		/* in itest_drivers[] */
	const char *drv_key;	     /* the key as written ("pg" for an external
					driver) */
	const struct ivalue *arg;    /* the driver key's value */
	const struct ivalue *expect; /* NULL if none */
	const struct ivalue *capture; /* NULL if none */
	int64_t timeout_ms;	      /* 0: none */
	int retry_attempts;	      /* 1: no polling */
	int64_t retry_interval_ms;
	const struct block *use;   /* a `use` step: the block */
	const struct ivalue *with; /* its arguments (an object), or NULL */
};

struct steps {
	struct step *v;
	size_t n;
};

struct block {
	const char *name;
	const struct ivalue *node;
	const struct ivalue *params; /* array of strings, or NULL */
	struct steps steps;
};

struct suite;

struct test {
	char *name; /* with its `each` row: "reserve [qty=2]" */
	char *id;   /* "SUITE/NAME", what -k matches */
	const struct ivalue *node;
	struct suite *suite;
	size_t index; /* in suite->tests: file order */
	const struct steps *steps;
	struct ivalue *row; /* the `each` row (owned), or NULL */
	const char **tags;  /* suite tags then the test's */
	size_t ntags;
	const char *skip; /* reason, or NULL */
	const struct ivalue *skip_if;
	int64_t timeout_ms;
	int retries;
	unsigned char *covers; /* per component: 1 if the test covers it */
	int covers_explicit;   /* `covers:` given, not derived */
	int exclusive;	       /* has a `stub` step: runs alone in its stage */
};

struct suite {
	char *name;
	char *path; /* as given */
	char *dir;  /* its folder: relative paths start here */
	const struct itest_src *src;
	struct ivalue *doc;   /* the parsed file (owned) */
	struct ivalue **docs; /* included files' trees (owned) */
	size_t ndocs;
	struct ivalue *vars; /* suite vars, included first, own override
				(owned; values are templates) */
	const char *strategy;
	struct steps setup, teardown;
	struct block *blocks;
	size_t nblocks;
	struct test *tests;
	size_t ntests;
	struct component *components;
	size_t ncomponents;
	char **cdirs; /* folders of the files defining components (owned) */
	size_t ncdirs;
	int target_layer; /* sandwich; -1: the default */
	/* Drivers' suite-level settings, merged over the includes (own
	 * entries win): "hosts", "browser", "drivers" -> map (owned). */
	struct ivalue *conf;
};

struct loader {
	struct srclist srcs;
	struct masker *mask;		/* secrets found are added here */
	int check_only;			/* do not read env/file var sources */
	const struct ivalue *cli_vars;	/* --var (object), or NULL */
	const struct ivalue *file_vars; /* --vars / --env (object), or NULL */
};

/* Loads and checks one suite file.  0, or -1 with err. */
int suite_load(struct loader *ld, const char *path, struct suite **out,
	       struct itest_err *err);
void suite_free(struct suite *s);

/*
 * Expands PATH arguments into suite files: a file is itself; a folder
 * gives every *.yml / *.yaml below it that has a top-level `tests:` key,
 * sorted by path.  Appends malloc'd paths to *paths.
 */
int suite_discover(const char *path, char ***paths, size_t *n,
		   struct itest_err *err);

/* Loads a --vars file (YAML map, or KEY=VALUE lines for .env). */
struct ivalue *vars_file_load(struct loader *ld, const char *path,
			      struct itest_err *err);

/* The suite-level settings of a step's driver (stepctx.conf): the value
 * of the driver's suite_key, or an external driver's `drivers:` entry;
 * NULL when the suite has none. */
const struct ivalue *suite_driver_conf(const struct suite *s,
				       const struct itest_driver *drv,
				       const char *key);

/*
 * A path written in the YAML file where `node` was written: "~/x" is
 * under $HOME, a relative path under that file's folder (an included
 * file's paths are its own).  Returns a malloc'd path.
 */
char *suite_path(const struct ivalue *node, const char *path);

/* Checks a map's keys against a keyspec table; `what` names the map in
 * messages ("step", "test").  Unknown keys get a suggestion. */
int keys_check(const struct ivalue *map, const struct itest_keyspec *keys,
	       const char *what, struct itest_err *err);

#endif
