/* The /proc layer. The new procfs shows only the sandbox's own processes. Entries that leak
 * host kernel state are masked (files: /dev/null bound over them; directories: an empty
 * read-only tmpfs) and /proc/sys is made read-only, like Docker's masked and read-only paths.
 *
 * A file only the host's root may read (kcore, kpage*, slabinfo, sysrq-trigger, ...) is not
 * masked: no uid of the sandbox maps to host root and it holds no capability over the host's
 * procfs inodes, so permission checks already refuse it, and each mask is a mount that every
 * launch pays for. The parent decides from the host's procfs, which is the same kernel's. */
#include "sandbox/proc.h"

#include <errno.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "sandbox/mount.h"
#include "util/macros.h"

#define PROC MOUNT_NEWROOT "/proc"

static const char *const candidate_files[] = {
    "kcore",	 "keys",	"timer_list", "sched_debug",  "latency_stats",
    "kallsyms",	 "kpagecount",	"kpageflags", "kpagecgroup",  "timer_stats",
    "config.gz", "vmallocinfo", "slabinfo",   "pagetypeinfo", "sysrq-trigger",
};
static const char *const candidate_dirs[] = {"acpi", "scsi", "asound", "firmware", "driver"};
/* Read-only: sysctls. (Writes there would need a root uid the sandbox does not have; the
 * read-only bind is the second lock.) */
static const char *const readonly_dirs[] = {PROC "/sys"};

static const char *in_newroot(const char *name)
{
	static char paths[2 * PROC_MAX_MASKS][64];
	static int used;
	char *p;

	if (used >= 2 * PROC_MAX_MASKS)
		return NULL;
	p = paths[used++];
	snprintf(p, sizeof(paths[0]), PROC "/%s", name);
	return p;
}

int proc_prepare(struct proc_plan *plan, struct sk_err *err)
{
	char host[64];
	struct stat st;

	plan->masked_file_count = plan->masked_dir_count = 0;
	for (size_t i = 0; i < ARRAY_SIZE(candidate_files); i++) {
		snprintf(host, sizeof(host), "/proc/%s", candidate_files[i]);
		if (stat(host, &st) < 0 || !(st.st_mode & (S_IROTH | S_IWOTH)))
			continue;
		if (!(plan->masked_files[plan->masked_file_count++] =
			  in_newroot(candidate_files[i])))
			return sk_fail(err, "proc", E2BIG, NULL, "too many /proc masks");
	}
	for (size_t i = 0; i < ARRAY_SIZE(candidate_dirs); i++) {
		snprintf(host, sizeof(host), "/proc/%s", candidate_dirs[i]);
		if (stat(host, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (!(plan->masked_dirs[plan->masked_dir_count++] = in_newroot(candidate_dirs[i])))
			return sk_fail(err, "proc", E2BIG, NULL, "too many /proc masks");
	}
	return 0;
}

static const char *shown(const char *path)
{
	return path + sizeof(MOUNT_NEWROOT) - 1;
}

int proc_apply(const struct proc_plan *plan, struct sk_err *err)
{
	if (mount("proc", PROC, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return sk_fail_safe(err, "proc", errno, "mount proc on", "/proc",
				    "the host's /proc must be fully visible (not partly masked) "
				    "for a user namespace to mount a new one");
	for (int i = 0; i < plan->masked_file_count; i++) {
		const char *path = plan->masked_files[i];
		if (mount(MOUNT_HOST "/dev/null", path, NULL, MS_BIND, NULL) < 0) {
			if (errno == ENOENT)
				continue;
			return sk_fail_safe(err, "proc", errno, "mask", shown(path), NULL);
		}
		if (mount_restrict(path, 0,
				   MOUNT_RESTRICT_RDONLY | MOUNT_RESTRICT_NOSUID |
				       MOUNT_RESTRICT_NOEXEC,
				   err) < 0)
			return -1;
	}
	for (int i = 0; i < plan->masked_dir_count; i++) {
		const char *path = plan->masked_dirs[i];
		if (mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  "size=0,nr_inodes=1") < 0 &&
		    errno != ENOENT)
			return sk_fail_safe(err, "proc", errno, "mask", shown(path), NULL);
	}
	for (size_t i = 0; i < ARRAY_SIZE(readonly_dirs); i++) {
		if (mount(readonly_dirs[i], readonly_dirs[i], NULL, MS_BIND | MS_REC, NULL) < 0)
			return sk_fail_safe(err, "proc", errno, "bind", shown(readonly_dirs[i]),
					    NULL);
		if (mount_make_readonly(readonly_dirs[i], 1, err) < 0)
			return -1;
	}
	return 0;
}
