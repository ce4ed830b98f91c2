/*
 * Ports (SPEC 8 "Ports"): see ports.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ports.h"
#include "runtime.h"
#include "strbuf.h"

static int port_range(int *lo, int *hi, struct itest_err *err)
{
	const char *v = getenv("ITEST_PORTS");
	char *end;
	*lo = PORTS_LO;
	*hi = PORTS_HI;
	if (!v || !*v)
		return 0;
	long a = strtol(v, &end, 10);
	if (end == v || *end != '-' || end[1] < '0' || end[1] > '9')
		goto bad;
	const char *q = end + 1;
	long b = strtol(q, &end, 10);
	if (*end || a < 1 || b > 65535 || a > b)
		goto bad;
	*lo = (int)a;
	*hi = (int)b;
	return 0;
bad:
	return err_set(err, NULL,
		       "bad ITEST_PORTS '%s' (write LO-HI, e.g. 20000-32767)",
		       v);
}

/* Is 127.0.0.1:port free to bind (TIME_WAIT leftovers do not count)? */
static int port_free(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	struct sockaddr_in a;
	if (fd < 0)
		return 0;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

uint32_t ports_random(void)
{
	uint32_t r;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == (ssize_t)sizeof(r))
		return r;
	return (uint32_t)(now_ms() * 1000.0) ^
	       ((uint32_t)getpid() * 2654435761u);
}

/*
 * Candidates from a random place in the range onwards, each taken only
 * when its lock file can be locked (flock conflicts between open files,
 * so threads of one process exclude each other as processes do) and a
 * bind shows that nobody else uses it.
 */
int ports_reserve(int *port, int *lock_fd, struct itest_err *err)
{
	struct strbuf dir = STRBUF_INIT, lock = STRBUF_INIT;
	int lo, hi, ret = -1;
	if (port_range(&lo, &hi, err) < 0 ||
	    runtime_subdir(&dir, "ports", err) < 0)
		goto out;
	unsigned span = (unsigned)(hi - lo + 1);
	unsigned at = ports_random() % span;
	for (unsigned tried = 0;; tried++) {
		if (tried == span) {
			err_set(err, NULL,
				"no free port left in %d-%d (set "
				"ITEST_PORTS=LO-HI)",
				lo, hi);
			goto out;
		}
		int p = lo + (int)at;
		at = (at + 1) % span;
		strbuf_reset(&lock);
		strbuf_addf(&lock, "%s/%d.lock", dir.buf, p);
		int fd = open(lock.buf,
			      O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0) {
			err_set(err, NULL, "cannot create '%s': %s", lock.buf,
				strerror(errno));
			goto out;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) < 0 || !port_free(p)) {
			close(fd);
			continue;
		}
		*port = p;
		*lock_fd = fd;
		break;
	}
	ret = 0;
out:
	strbuf_release(&dir);
	strbuf_release(&lock);
	return ret;
}
