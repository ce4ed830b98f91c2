/*
 * The reference for the shell-overhead benchmark: what starting
 * `/bin/sh -c true` N times costs with nothing around it.  Plain
 * posix_spawn and waitpid, one command after the other, as fast as the
 * machine allows; `itest run` on a suite of N `shell: "true"` steps is
 * measured against it.  Deliberately uses nothing of itest.
 *
 * Usage: bench-raw [N]   (default 2000)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <spawn.h>

extern char **environ;

static double clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	long n = 2000;
	if (argc > 1) {
		char *end;
		n = strtol(argv[1], &end, 10);
		if (*end || n <= 0) {
			fprintf(stderr, "usage: bench-raw [N]\n");
			return 2;
		}
	}
	char sh[] = "/bin/sh", dash_c[] = "-c", cmd[] = "true";
	char *const child[] = {sh, dash_c, cmd, NULL};
	double start = clock_ms();
	for (long i = 0; i < n; i++) {
		pid_t pid;
		int e = posix_spawn(&pid, child[0], NULL, NULL, child, environ);
		if (e) {
			fprintf(stderr, "bench-raw: cannot run /bin/sh: %s\n",
				strerror(e));
			return 1;
		}
		int st;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "bench-raw: /bin/sh -c true failed\n");
			return 1;
		}
	}
	double ms = clock_ms() - start;
	printf("bench-raw: %ld spawns in %.1f ms (%.1f us each)\n", n, ms,
	       ms * 1e3 / (double)n);
	return 0;
}
