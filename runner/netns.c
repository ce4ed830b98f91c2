/*
 * A network namespace for the run (netns.h): unshare(CLONE_NEWNET), then
 * the loopback interface up, which a new namespace starts without.
 */
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netns.h"

int netns_enter(const struct itest_loc *loc, struct itest_err *err)
{
	struct ifreq ifr;
	if (unshare(CLONE_NEWNET) < 0) {
		if (errno == EPERM)
			return err_set(err, loc,
				       "isolation: netns needs CAP_SYS_ADMIN "
				       "(run as root, or drop the key): %s",
				       strerror(errno));
		return err_set(err, loc,
			       "isolation: netns: cannot create a network "
			       "namespace: %s",
			       strerror(errno));
	}
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(err, loc, "isolation: netns: socket: %s",
			       strerror(errno));
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "lo", 3);
	int rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
	if (rc == 0) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	int e = errno;
	close(fd);
	if (rc < 0)
		return err_set(err, loc,
			       "isolation: netns: cannot bring 'lo' up: %s",
			       strerror(e));
	return 0;
}
