/*
 * Libraries that only some commands need, loaded on first use (lazy.c):
 * libmicrohttpd for the stub server, libxml2 for XPath.  Each is a table
 * of function pointers named as the functions, so a call reads
 * m->MHD_stop_daemon(d).  Types and constants still come from the
 * libraries' own headers.
 */
#ifndef ITEST_LAZY_H
#define ITEST_LAZY_H

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <microhttpd.h>

/* The libmicrohttpd functions runner/stubsrv.c calls, X(name) each. */
#define LAZY_MHD_SYMS(X)                                                       \
	X(MHD_start_daemon)                                                    \
	X(MHD_stop_daemon)                                                     \
	X(MHD_get_connection_info)                                             \
	X(MHD_get_connection_values_n)                                         \
	X(MHD_create_response_from_buffer)                                     \
	X(MHD_create_response_from_fd)                                         \
	X(MHD_add_response_header)                                             \
	X(MHD_queue_response)                                                  \
	X(MHD_destroy_response)

/*
 * The libxml2 symbols runner/xpath.c and runner/merge.c use.  xmlFree is a
 * variable (a function pointer: call (*x->xmlFree)(p)); the __xml*Error*
 * functions return the addresses of the per-thread error handlers that the
 * macros xmlStructuredError & co. read.
 */
#define LAZY_XML_SYMS(X)                                                       \
	X(xmlInitParser)                                                       \
	X(xmlReadMemory)                                                       \
	X(htmlReadMemory)                                                      \
	X(xmlFreeDoc)                                                          \
	X(xmlFree)                                                             \
	X(xmlXPathNewContext)                                                  \
	X(xmlXPathFreeContext)                                                 \
	X(xmlXPathRegisterNs)                                                  \
	X(xmlXPathEval)                                                        \
	X(xmlXPathFreeObject)                                                  \
	X(xmlXPathCtxtCompile)                                                 \
	X(xmlXPathFreeCompExpr)                                                \
	X(xmlXPathCastNodeToString)                                            \
	X(xmlGetProp)                                                          \
	X(xmlBufferCreate)                                                     \
	X(xmlBufferFree)                                                       \
	X(xmlNodeDump)                                                         \
	X(xmlSetStructuredErrorFunc)                                           \
	X(xmlSetGenericErrorFunc)                                              \
	X(__xmlStructuredError)                                                \
	X(__xmlStructuredErrorContext)                                         \
	X(__xmlGenericError)                                                   \
	X(__xmlGenericErrorContext)

#define LAZY_MEMBER(f) __typeof__(f) *f;
struct lazy_mhd {
	LAZY_MHD_SYMS(LAZY_MEMBER)
};
struct lazy_xml {
	LAZY_XML_SYMS(LAZY_MEMBER)
};
#undef LAZY_MEMBER

/*
 * Load the library on the first call (thread-safe; once per process, and
 * it stays loaded; libxml2 is initialised with xmlInitParser).  They
 * return the table, or NULL with dlerror()'s reason in *why (static
 * storage, the same on every later call).
 */
const struct lazy_mhd *lazy_mhd_load(const char **why);
const struct lazy_xml *lazy_xml_load(const char **why);

#endif
