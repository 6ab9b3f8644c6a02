/* The /dev layer. A user namespace cannot mknod, so the six harmless character devices are
 * bind mounts of the host's nodes; terminals come from a devpts instance of our own, so the
 * host's ptys are not visible; the tmpfs holding them is made read-only. */
#include "sandbox/devfs.h"

#include <errno.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/mount.h"
#include "util/macros.h"

#define DEV MOUNT_NEWROOT "/dev"

static const char *const devices[] = {"null", "zero", "full", "random", "urandom", "tty"};

static const struct {
	const char *target;
	const char *link;
} dev_links[] = {
    {"/proc/self/fd", DEV "/fd"},	{"/proc/self/fd/0", DEV "/stdin"},
    {"/proc/self/fd/1", DEV "/stdout"}, {"/proc/self/fd/2", DEV "/stderr"},
    {"pts/ptmx", DEV "/ptmx"},
};

int devfs_apply(struct sk_err *err)
{
	char src[64], dst[64];

	if (mount("tmpfs", DEV, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k") < 0)
		return sk_fail_safe(err, "devfs", errno, "mount tmpfs on", "/dev", NULL);
	for (size_t i = 0; i < ARRAY_SIZE(devices); i++) {
		sk_strlcpy(src, MOUNT_HOST "/dev/", sizeof(src));
		sk_strlcat(src, devices[i], sizeof(src));
		sk_strlcpy(dst, DEV "/", sizeof(dst));
		sk_strlcat(dst, devices[i], sizeof(dst));
		/* Not read-only: /dev/null and friends are written to. The bind keeps the host
		 * node's own mount flags, so the devices work although /dev itself is nodev (and
		 * nosuid/noexec would mean nothing on a character device). */
		if (mount_bind(src, dst, 0, 0, err) < 0)
			return -1;
	}
	if (mkdir(DEV "/pts", 0755) < 0 || mkdir(MOUNT_NEWROOT DEVFS_SHM, 01777) < 0)
		return sk_fail_safe(err, "devfs", errno, "mkdir", "/dev/pts, " DEVFS_SHM, NULL);
	/* newinstance: the sandbox's own ptys, none of the host's. */
	if (mount("devpts", DEV "/pts", "devpts", MS_NOSUID | MS_NOEXEC,
		  "newinstance,ptmxmode=0666,mode=0620") < 0)
		return sk_fail_safe(err, "devfs", errno, "mount devpts on", "/dev/pts", NULL);
	if (mount("tmpfs", MOUNT_NEWROOT DEVFS_SHM, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "mode=1777,size=64m") < 0)
		return sk_fail_safe(err, "devfs", errno, "mount tmpfs on", DEVFS_SHM, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(dev_links); i++)
		if (symlink(dev_links[i].target, dev_links[i].link) < 0)
			return sk_fail_safe(err, "devfs", errno, "symlink", dev_links[i].link,
					    NULL);
	return mount_make_readonly(DEV, 0, err);
}
