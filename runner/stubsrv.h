/*
 * The built-in HTTP stub server (libmicrohttpd, thread pool) of SPEC 5
 * and 6.6: serves a stub file's routes on a component's port, records
 * every request for the `stub` step, and answers unmatched requests with
 * 404 and a JSON body naming the closest route.
 *
 * A stub file:
 *   routes:
 *     - when: { method: POST, path: /orders, query: {...}, headers: {...},
 *               json: { $.qty: 2 } }
 *       respond: { status: 201, headers: {...}, json: {...} | body: "..." |
 *                  file: path, delay: 50ms }    # or a list: a sequence
 *       times: 1
 */
#ifndef ITEST_STUBSRV_H
#define ITEST_STUBSRV_H

#include "mask.h"
#include "value.h"

struct stubsrv;

/* Load-time check of a stub document (routes, keys, regexes, durations,
 * templates); errors at the offending node. */
int stub_check_spec(const struct ivalue *doc, struct itest_err *err);

/*
 * Starts serving `doc` (already checked; borrowed: must outlive the
 * server) on host:port.  `dir` resolves `file:` responses.  The listening
 * socket is set up before this returns (SO_REUSEADDR; closed with
 * SO_LINGER 0 at stop so that a real component can bind the port next).
 */
struct stubsrv *stubsrv_start(const struct ivalue *doc, const char *dir,
			      const char *host, int port,
			      struct itest_err *err);
void stubsrv_stop(struct stubsrv *s);

/* Requests recorded since the mark `since` (a count from stubsrv_mark):
 * an array of {method, path, query, headers, body, json?, matched,
 * route}.  Caller owns the result.  Thread-safe. */
struct ivalue *stubsrv_calls(struct stubsrv *s, size_t since);
size_t stubsrv_mark(struct stubsrv *s);
/* Forgets every record and resets `times` and sequence counters. */
void stubsrv_reset(struct stubsrv *s);

/* `itest stub FILE --port N [--host H]`: serves until SIGINT/SIGTERM. */
int stubsrv_main(int argc, char **argv);

#endif
