/*
 * `isolation: netns` (SPEC 4, 8): the whole run in a fresh network
 * namespace with only a loopback interface, where fixed ports are safe.
 */
#ifndef ITEST_NETNS_H
#define ITEST_NETNS_H

#include "err.h"

/*
 * Moves this process into a new network namespace and brings `lo` up.
 * Must be called before any thread starts (threads keep the namespace
 * they were created in).  Errors are reported at `loc` (the suite's
 * `isolation` key); without CAP_SYS_ADMIN the message says so.
 */
int netns_enter(const struct itest_loc *loc, struct itest_err *err);

#endif
