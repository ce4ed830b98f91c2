/*
 * Components: the parts of the system under test (SPEC 4), their graph
 * (`needs`, layers), and what each needs to be started, probed and
 * stopped.  Loaded and checked with the suite; nothing runs here.
 */
#ifndef ITEST_COMPONENT_H
#define ITEST_COMPONENT_H

#include "value.h"
#include "yaml.h"

enum ready_kind { READY_TCP, READY_HTTP, READY_LOG, READY_COMMAND };

struct component {
	const char *name;
	const struct ivalue *node;   /* its map in the suite or an include */
	struct itest_loc kloc;	     /* where its name is written */
	const char *dir;	     /* folder of the file that defines it */
	const struct ivalue *run;    /* string or argv list, or NULL */
	const struct ivalue *env;    /* map, or NULL */
	const struct ivalue *cwd;    /* string, or NULL */
	const struct ivalue *deploy; /* {up, down, ready}, or NULL */
	const struct ivalue *stub;   /* path or inline map, or NULL */
	struct ivalue *stub_doc;     /* the stub file's tree (owned), or NULL */
	char *stub_dir;		     /* where the stub's `file:` answers live */
	enum ready_kind ready;
	const struct ivalue *ready_arg; /* URL, regex, command; NULL for tcp */
	int64_t ready_timeout_ms, ready_interval_ms;
	int stop_signal;
	int64_t stop_grace_ms;
	size_t *needs; /* indices into the suite's components */
	size_t nneeds;
	int layer; /* 0 if it needs nothing, else 1 + its needs' highest */
	int always_stub;     /* no run and no deploy: a stub in every stage */
	struct openapi *api; /* `openapi:` (owned), or NULL */
	int gcov;	     /* `coverage: gcov` */
};

struct suite;
struct build;
struct openapi;

/*
 * Reads the `components` maps of a suite and its includes (`maps`, in
 * merge order: later ones override earlier ones by name), checks them and
 * the graph (unknown needs, cycles with their path), and computes layers.
 */
int components_load(struct suite *s, const struct ivalue *const *maps,
		    const char *const *dirs, size_t nmaps, struct srclist *srcs,
		    struct itest_err *err);
void components_free(struct suite *s);

/* Index of a component by name, or -1. */
int component_find(const struct suite *s, const char *name, size_t len);
/* The highest layer of the suite's components (-1 with none). */
int components_top(const struct suite *s);

#endif
