/* The /proc layer. The new procfs shows only the sandbox's own processes. Entries that leak
 * host kernel state or offer control over it are masked (files: /dev/null bound over them;
 * directories: an empty read-only tmpfs) or made read-only, like Docker's masked and
 * read-only paths. Entries absent on this kernel are skipped. */
#include "sandbox/proc.h"

#include <errno.h>
#include <sys/mount.h>

#include "sandbox/mount.h"

#define PROC MOUNT_NEWROOT "/proc"

static const char *const masked_files[] = {
	PROC "/kcore",	     PROC "/keys",	    PROC "/timer_list",	  PROC "/sched_debug",
	PROC "/latency_stats", PROC "/kallsyms",	    PROC "/kpagecount",	  PROC "/kpageflags",
	PROC "/kpagecgroup",   PROC "/timer_stats", PROC "/config.gz",	  PROC "/vmallocinfo",
	PROC "/slabinfo",      PROC "/pagetypeinfo", PROC "/sysrq-trigger",
};
static const char *const masked_dirs[] = {PROC "/acpi", PROC "/scsi", PROC "/asound",
					  PROC "/firmware", PROC "/driver"};
static const char *const readonly_dirs[] = {PROC "/sys", PROC "/bus", PROC "/fs", PROC "/irq"};

int proc_apply(struct sk_err *err)
{
	if (mount("proc", PROC, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return sk_fail_safe(err, "proc", errno, "mount proc on", "/proc",
				    "the host's /proc must be fully visible (not partly masked) "
				    "for a user namespace to mount a new one");
	for (size_t i = 0; i < sizeof(masked_files) / sizeof(masked_files[0]); i++) {
		if (mount(MOUNT_OLDROOT "/dev/null", masked_files[i], NULL, MS_BIND, NULL) < 0) {
			if (errno == ENOENT)
				continue;
			return sk_fail_safe(err, "proc", errno, "mask", masked_files[i] +
					    sizeof(MOUNT_NEWROOT) - 1, NULL);
		}
		if (mount_restrict(masked_files[i], 0, MOUNT_RESTRICT_RDONLY |
				   MOUNT_RESTRICT_NOSUID | MOUNT_RESTRICT_NOEXEC, err) < 0)
			return -1;
	}
	for (size_t i = 0; i < sizeof(masked_dirs) / sizeof(masked_dirs[0]); i++) {
		if (mount("tmpfs", masked_dirs[i], "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV |
			  MS_NOEXEC, "size=0,nr_inodes=1") == 0)
			continue;
		if (errno != ENOENT)
			return sk_fail_safe(err, "proc", errno, "mask", masked_dirs[i] +
					    sizeof(MOUNT_NEWROOT) - 1, NULL);
	}
	for (size_t i = 0; i < sizeof(readonly_dirs) / sizeof(readonly_dirs[0]); i++) {
		if (mount(readonly_dirs[i], readonly_dirs[i], NULL, MS_BIND | MS_REC, NULL) < 0) {
			if (errno == ENOENT)
				continue;
			return sk_fail_safe(err, "proc", errno, "bind", readonly_dirs[i] +
					    sizeof(MOUNT_NEWROOT) - 1, NULL);
		}
		if (mount_make_readonly(readonly_dirs[i], 1, err) < 0)
			return -1;
	}
	return 0;
}
