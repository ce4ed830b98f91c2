/*
 * Loads libmicrohttpd and libxml2 with dlopen on first use instead of
 * linking them.  Only the stub server needs the one and only `xpath:`
 * the other, yet linked they made every itest process, `itest --version`
 * too, map and relocate them and what they pull in (gnutls, nettle, gmp,
 * p11-kit; ICU with its 30 MB of data, libstdc++, liblzma) at exec; and
 * start-up is measured (SPEC 8 "Measuring", bench/README.md).  Each table
 * is filled once under pthread_once and only read afterwards, so the
 * workers share it.
 */
#include <dlfcn.h>
#include <pthread.h>

#include "common.h"
#include "lazy.h"

/* The sonames of the ABIs the headers describe (the Debian packages are
 * libmicrohttpd12 and libxml2). */
#define MHD_SONAME "libmicrohttpd.so.12"
#define XML_SONAME "libxml2.so.2"

struct sym {
	const char *name;
	size_t offset; /* of its pointer in the table */
};

static const struct sym mhd_syms[] = {
#define SYM(f) {#f, offsetof(struct lazy_mhd, f)},
	LAZY_MHD_SYMS(SYM)
#undef SYM
};

static const struct sym xml_syms[] = {
#define SYM(f) {#f, offsetof(struct lazy_xml, f)},
	LAZY_XML_SYMS(SYM)
#undef SYM
};

/* Written only under the pthread_once of each library. */
static pthread_once_t mhd_once = PTHREAD_ONCE_INIT;
static struct lazy_mhd mhd_table;
static const struct lazy_mhd *mhd_loaded;
static char mhd_why[512];

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;
static struct lazy_xml xml_table;
static const struct lazy_xml *xml_loaded;
static char xml_why[512];

/* Opens `soname` and fills `table` with its symbols; 0, or -1 with the
 * reason in why. */
static int open_lib(const char *soname, const struct sym *syms, size_t n,
		    void *table, char *why, size_t whysize)
{
	const char *e;
	void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		e = dlerror();
		snprintf(why, whysize, "%s", e ? e : soname);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		void *p = dlsym(h, syms[i].name);
		if (!p) {
			e = dlerror();
			snprintf(why, whysize, "%s", e ? e : syms[i].name);
			dlclose(h);
			return -1;
		}
		/* POSIX: a void * holds a function pointer */
		memcpy((char *)table + syms[i].offset, &p, sizeof(p));
	}
	return 0;
}

static void mhd_open(void)
{
	if (open_lib(MHD_SONAME, mhd_syms, ARRAY_SIZE(mhd_syms), &mhd_table,
		     mhd_why, sizeof(mhd_why)))
		return;
	mhd_loaded = &mhd_table;
}

static void xml_open(void)
{
	if (open_lib(XML_SONAME, xml_syms, ARRAY_SIZE(xml_syms), &xml_table,
		     xml_why, sizeof(xml_why)))
		return;
	xml_table.xmlInitParser();
	xml_loaded = &xml_table;
}

const struct lazy_mhd *lazy_mhd_load(const char **why)
{
	pthread_once(&mhd_once, mhd_open);
	if (!mhd_loaded && why)
		*why = mhd_why;
	return mhd_loaded;
}

const struct lazy_xml *lazy_xml_load(const char **why)
{
	pthread_once(&xml_once, xml_open);
	if (!xml_loaded && why)
		*why = xml_why;
	return xml_loaded;
}
