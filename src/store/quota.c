/* Volume size limits by project quota.
 *
 * Why project quota and nothing else: it is enforced by the file system on the volume directory
 * itself, so the volume stays an ordinary directory of the store (opened with openat2, mounted
 * by fd, copied and removed by safepath.c), it persists across runs and reboots with no mount to
 * re-create, `df` inside the sandbox shows the limit (ext4 and XFS report a PROJINHERIT
 * directory's quota in statfs), and the sandbox cannot lift it (changing a project id needs
 * CAP_SYS_ADMIN in the initial user namespace). A loop-mounted image would need root too, an
 * mkfs, a mount that must be re-made after every reboot, and a file-system driver parsing an
 * image the sandbox wrote; a tmpfs would not persist. So where project quota is missing (the
 * file system was not made or mounted with it, or the caller is not root, who alone may set
 * it), `--size` is refused with what to do, instead of promising a limit nobody enforces. */
#define _GNU_SOURCE
#include "store/quota.h"

#include <errno.h>
#include <linux/fs.h>
#include <linux/quota.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/syscalls.h"

static const char *const no_quota_hint =
    "the file system holding $STOCKADE_HOME needs project quota: ext4 `tune2fs -O "
    "project,quota` and mount -o prjquota, or XFS mount -o pquota; or create the volume "
    "without --size";

static int set_project(int dir_fd, unsigned id, struct sk_err *err)
{
	struct fsxattr attr;

	if (ioctl(dir_fd, FS_IOC_FSGETXATTR, &attr) < 0)
		return sk_fail(err, "volume", errno, no_quota_hint, "get project of volume");
	attr.fsx_projid = id;
	attr.fsx_xflags |= FS_XFLAG_PROJINHERIT; /* everything created below joins the project */
	if (ioctl(dir_fd, FS_IOC_FSSETXATTR, &attr) < 0)
		return sk_fail(err, "volume", errno, no_quota_hint, "set project of volume");
	return 0;
}

int quota_limit_dir(int dir_fd, uint64_t bytes, struct sk_err *err)
{
	struct if_dqinfo info;
	struct if_dqblk limit;
	struct stat st;
	unsigned id;

	if (geteuid() != 0)
		return sk_fail(err, "volume", EPERM,
			       "only root can set project quotas; run it as root, or create the "
			       "volume without --size",
			       "volume size limit");
	if (sys_quotactl_fd_project(dir_fd, Q_GETINFO, 0, &info) < 0)
		return sk_fail(err, "volume", errno, no_quota_hint,
			       "volume size limit: project quota is not enabled here");
	if (fstat(dir_fd, &st) < 0)
		return sk_fail(err, "volume", errno, NULL, "fstat(volume)");
	/* One project per volume directory: its inode number is unique on the file system. */
	id = (unsigned)(st.st_ino & 0x7fffffffu);
	if (id == 0)
		id = 1;
	if (set_project(dir_fd, id, err) < 0)
		return -1;
	memset(&limit, 0, sizeof(limit));
	limit.dqb_bhardlimit = (bytes + 1023) / 1024; /* in 1 KiB quota blocks */
	limit.dqb_bsoftlimit = limit.dqb_bhardlimit;
	limit.dqb_valid = QIF_BLIMITS;
	if (sys_quotactl_fd_project(dir_fd, Q_SETQUOTA, id, &limit) < 0)
		return sk_fail(err, "volume", errno, no_quota_hint, "set the quota of project %u",
			       id);
	return 0;
}
