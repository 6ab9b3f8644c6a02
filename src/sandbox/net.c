/* The network layer. A new network namespace starts with lo down and no other interface;
 * we bring lo up and add nothing: no route leads out. Egress, when it exists, will be the
 * policy proxy's sockets, created in this namespace and served from outside. */
#include "sandbox/net.h"

#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

int net_apply(struct sk_err *err)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return sk_fail_safe(err, "net", errno, "socket(AF_INET)", NULL, NULL);
	memset(&ifr, 0, sizeof(ifr));
	sk_strlcpy(ifr.ifr_name, "lo", sizeof(ifr.ifr_name));
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		int saved = errno;
		close(fd);
		return sk_fail_safe(err, "net", saved, "SIOCGIFFLAGS", "lo", NULL);
	}
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) {
		int saved = errno;
		close(fd);
		return sk_fail_safe(err, "net", saved, "SIOCSIFFLAGS(up)", "lo", NULL);
	}
	close(fd);
	return 0;
}
