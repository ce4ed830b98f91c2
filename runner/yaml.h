/*
 * YAML files to value trees (value.h), through libyaml, with the YAML 1.2
 * core schema: `yes`, `on`, `no` are strings; null, true/false, integers
 * (decimal, 0x, 0o) and floats (.inf, .nan) are typed; quoted scalars are
 * strings (flag IVF_QUOTED).  Every node and every map key keeps its
 * file, line and column.  A duplicate key is an error; anchors, aliases
 * and `<<` merges are expanded, with the expansion capped.
 */
#ifndef ITEST_YAML_H
#define ITEST_YAML_H

#include "value.h"

/* The source files read during a load; owns their itest_src records. */
struct srclist {
	struct itest_src **v;
	size_t n, alloc;
};

#define SRCLIST_INIT                                                           \
	{                                                                      \
		NULL, 0, 0                                                     \
	}

/* Adds a source record (path copied); `parent` NULL for a top file. */
const struct itest_src *srclist_add(struct srclist *sl, const char *path,
				    const struct itest_src *parent, int pline,
				    int pcol);
void srclist_release(struct srclist *sl);

/* Most nodes that alias expansion may produce in one document. */
#define YAML_MAX_NODES 1000000

/*
 * Parses the single document of `text` (a file with no document, or only
 * comments, gives a null value; a second document is an error).  `src`
 * names it in locations.  Returns NULL with err set on error.
 */
struct ivalue *yaml_parse(const char *text, size_t len,
			  const struct itest_src *src, struct itest_err *err);

/* Reads and parses a file; a missing file is an error at `src` with no
 * line. */
struct ivalue *yaml_load_file(const struct itest_src *src,
			      struct itest_err *err);

/*
 * As yaml_parse and yaml_load_file, but the tree lives in an arena owned
 * by its root (value.h, IVF_ARENA): far less memory for big documents
 * kept while they are used.  Members may be replaced or deleted; the
 * containers of the tree do not grow.  iv_free(root) frees it all.
 */
struct ivalue *yaml_parse_doc(const char *text, size_t len,
			      const struct itest_src *src,
			      struct itest_err *err);
struct ivalue *yaml_load_doc(const struct itest_src *src,
			     struct itest_err *err);

#endif
