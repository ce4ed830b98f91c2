/*
 * Ports for the processes itest starts (SPEC 8 "Ports"): taken from a
 * range below the kernel's ephemeral range (20000-32767 by default,
 * ITEST_PORTS=LO-HI), each reserved by a lock file in the runtime folder
 * and checked free by a bind, so that concurrent runs, their threads and
 * kernel-chosen client ports never collide.
 */
#ifndef ITEST_PORTS_H
#define ITEST_PORTS_H

#include <stdint.h>

#include "err.h"

#define PORTS_LO 20000
#define PORTS_HI 32767

/*
 * Reserves one port: 0 with *port set and *lock_fd the open lock file,
 * which holds the reservation until it is closed; -1 with err when the
 * range is bad or full.
 */
int ports_reserve(int *port, int *lock_fd, struct itest_err *err);

/* 32 random bits (getrandom, or the clock and the pid without it). */
uint32_t ports_random(void);

#endif
