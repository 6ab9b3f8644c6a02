/* The mount layer's plan (parent side, before clone): the new root's entries (the host's
 * system tree or a --rootfs, a curated /etc, synthesized files, tmpfs mounts), the volumes and
 * the workspace. mount.c carries it out in the child. */
#define _GNU_SOURCE
#include "sandbox/mount.h"
#include "sandbox/mount_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/syscalls.h"
#include "util/fds.h"
#include "util/macros.h"

/* The host's system tree and /etc entries a program commonly needs (spec.h says why these). */
static const char *const curated_etc[] = {SANDBOX_CURATED_ETC};
static const char *const system_dirs[] = {SANDBOX_SYSTEM_DIRS};
/* Names we provide ourselves, never taken from a --rootfs. */
/* A rootfs's run is skipped too when the sandbox has secrets: /run is then stockade's own. */
static const char *const rootfs_skip[] = {".",	 "..",	 "proc", "dev", "sys",
					  "tmp", "home", "etc",	 "run"};
/* Written by us (a rootfs's own are not taken; /etc/hostname would name another host). */
static const char *const etc_synthesized[] = {"passwd", "group", "hosts", "hostname"};

/* ---- parent side ---- */

static struct mount_entry *plan_add(struct mount_plan *plan, enum mount_kind kind, const char *src,
				    const char *dst, struct sk_err *err)
{
	struct mount_entry *e;

	if (plan->count == plan->capacity) {
		size_t cap = plan->capacity ? plan->capacity * 2 : 64;
		struct mount_entry *grown = realloc(plan->entries, cap * sizeof(*grown));
		if (!grown) {
			sk_fail(err, "mount", ENOMEM, NULL, "planning the root");
			return NULL;
		}
		plan->entries = grown;
		plan->capacity = cap;
	}
	e = &plan->entries[plan->count];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	if (asprintf(&e->dst, MOUNT_NEWROOT "%s", dst) < 0 || (src && !(e->src = strdup(src)))) {
		free(e->dst);
		sk_fail(err, "mount", ENOMEM, NULL, "planning the root");
		return NULL;
	}
	plan->count++;
	return e;
}

/* Small configuration files are copied into the new root instead of bound: a bind is a mount
 * that every launch makes and every teardown unmakes; a copy is one write. */
#define MOUNT_COPY_MAX (256 * 1024)

static int plan_copy(struct mount_plan *plan, int dir_fd, const char *name, const char *shown,
		     const char *dst, struct sk_err *err)
{
	struct mount_entry *e;
	struct stat st;
	/* O_NONBLOCK: a fifo swapped in since the fstatat does not hang us; it is refused below. */
	int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	ssize_t n;

	if (fd < 0)
		return sk_fail(err, "mount", errno, NULL, "open(%s)", shown);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > MOUNT_COPY_MAX) {
		close(fd);
		return sk_fail(err, "mount", EAGAIN, NULL, "%s changed while it was read", shown);
	}
	e = plan_add(plan, MOUNT_FILE, NULL, dst, err);
	if (!e || !(e->content = malloc(st.st_size ? (size_t)st.st_size : 1))) {
		close(fd);
		return e ? sk_fail(err, "mount", ENOMEM, NULL, "copying %s", shown) : -1;
	}
	n = read(fd, e->content, (size_t)st.st_size);
	close(fd);
	if (n < 0)
		return sk_fail(err, "mount", errno, NULL, "read(%s)", shown);
	e->content_len = (size_t)n;
	return 0;
}

/* Adds entry `name` of directory dir_fd at dst, as what it is: a symlink is recreated as one,
 * a directory bound, a small /etc file copied, another file bound. `src` is what the child
 * binds: a host path (dir_fd AT_FDCWD, name the same absolute path) or a path relative to the
 * --rootfs. Read through dir_fd, never through a symlink: as root we may read any host file. */
static int plan_entry_at(struct mount_plan *plan, int dir_fd, const char *name, const char *src,
			 const char *dst, struct sk_err *err)
{
	struct stat st;
	char target[PATH_MAX];
	ssize_t n;

	if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : sk_fail(err, "mount", errno, NULL, "lstat(%s)", src);
	if (S_ISLNK(st.st_mode)) {
		n = readlinkat(dir_fd, name, target, sizeof(target) - 1);
		if (n < 0)
			return sk_fail(err, "mount", errno, NULL, "readlink(%s)", src);
		target[n] = '\0';
		return plan_add(plan, MOUNT_SYMLINK, target, dst, err) ? 0 : -1;
	}
	if (S_ISDIR(st.st_mode))
		return plan_add(plan, MOUNT_BIND_DIR, src, dst, err) ? 0 : -1;
	if (S_ISREG(st.st_mode) && st.st_size <= MOUNT_COPY_MAX && strncmp(dst, "/etc/", 5) == 0)
		return plan_copy(plan, dir_fd, name, src, dst, err);
	if (S_ISREG(st.st_mode))
		return plan_add(plan, MOUNT_BIND_FILE, src, dst, err) ? 0 : -1;
	return 0; /* sockets, fifos, devices: never */
}

static int is_listed(const char *name, const char *const *list, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (strcmp(name, list[i]) == 0)
			return 1;
	return 0;
}

/* Adds every entry of directory dir_fd (a --rootfs or its etc) at dst_dir, except the names in
 * skip; the child binds them from src_prefix + name, relative to the --rootfs. */
static int plan_dir_entries(struct mount_plan *plan, int dir_fd, const char *src_prefix,
			    const char *dst_dir, const char *const *skip, size_t skip_count,
			    struct sk_err *err)
{
	int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	char src[PATH_MAX], dst[PATH_MAX];
	int rc = 0;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return sk_fail(err, "mount", errno, NULL, "opendir(--rootfs %s)", src_prefix);
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (is_listed(de->d_name, skip, skip_count) || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(src, sizeof(src), "%s%s", src_prefix, de->d_name);
		snprintf(dst, sizeof(dst), "%s/%s", dst_dir, de->d_name);
		rc = plan_entry_at(plan, dir_fd, de->d_name, src, dst, err);
	}
	closedir(d);
	return rc;
}

static int plan_file(struct mount_plan *plan, const char *dst, const char *content,
		     struct sk_err *err)
{
	struct mount_entry *e = plan_add(plan, MOUNT_FILE, NULL, dst, err);

	if (!e)
		return -1;
	e->content = strdup(content);
	if (!e->content)
		return sk_fail(err, "mount", ENOMEM, NULL, "planning %s", dst);
	e->content_len = strlen(content);
	return 0;
}

static int plan_identity_files(struct mount_plan *plan, const struct sandbox_spec *spec,
			       struct sk_err *err)
{
	char text[1024];

	snprintf(text, sizeof(text),
		 "root:x:0:0:root:/root:/usr/sbin/nologin\n"
		 "%s:x:%u:%u:stockade sandbox:%s:/bin/sh\n"
		 "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
		 SANDBOX_USER, (unsigned)spec->uid, (unsigned)spec->gid, SANDBOX_HOME);
	if (plan_file(plan, "/etc/passwd", text, err) < 0)
		return -1;
	snprintf(text, sizeof(text), "root:x:0:\n%s:x:%u:\nnogroup:x:65534:\n", SANDBOX_USER,
		 (unsigned)spec->gid);
	if (plan_file(plan, "/etc/group", text, err) < 0)
		return -1;
	snprintf(text, sizeof(text),
		 "127.0.0.1\tlocalhost %s\n::1\tlocalhost ip6-localhost ip6-loopback\n",
		 spec->hostname);
	return plan_file(plan, "/etc/hosts", text, err);
}

static int plan_system_tree(struct mount_plan *plan, struct sk_err *err)
{
	char host[64], dst[64];

	for (size_t i = 0; i < ARRAY_SIZE(system_dirs); i++) {
		snprintf(host, sizeof(host), MOUNT_HOST "/%s", system_dirs[i]);
		snprintf(dst, sizeof(dst), "/%s", system_dirs[i]);
		if (plan_entry_at(plan, AT_FDCWD, host, host, dst, err) < 0)
			return -1;
	}
	if (!plan_add(plan, MOUNT_DIR, NULL, "/etc", err))
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(curated_etc); i++) {
		snprintf(host, sizeof(host), MOUNT_HOST "/etc/%s", curated_etc[i]);
		snprintf(dst, sizeof(dst), "/etc/%s", curated_etc[i]);
		if (plan_entry_at(plan, AT_FDCWD, host, host, dst, err) < 0)
			return -1;
	}
	return 0;
}

/* The rootfs's etc is read here, by the caller (root, maybe) and in the host's tree: through a
 * symlink it would be any host directory, the host's /etc with its shadow file say, copied into
 * the sandbox. It must be a directory inside the rootfs; a missing one (or a file) gives the
 * sandbox only the files stockade writes. */
static int plan_rootfs_etc(struct mount_plan *plan, int root_fd, const char *rootfs,
			   struct sk_err *err)
{
	int etc = sys_openat2(root_fd, "etc", O_RDONLY | O_DIRECTORY | O_CLOEXEC,
			      RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
	int rc;

	if (etc < 0 && (errno == ENOENT || errno == ENOTDIR))
		return 0;
	if (etc < 0 && errno == ELOOP)
		return sk_fail(err, "mount", errno,
			       "stockade builds the sandbox's /etc from a root file system's etc, "
			       "so it must be a directory inside it",
			       "--rootfs %.200s: etc is a symlink", rootfs);
	if (etc < 0)
		return sk_fail(err, "mount", errno, NULL, "--rootfs %.200s: open etc", rootfs);
	rc = plan_dir_entries(plan, etc, "etc/", "/etc", etc_synthesized,
			      ARRAY_SIZE(etc_synthesized), err);
	close(etc);
	return rc;
}

/* The rootfs is read through directory fds here; the child binds its entries beneath it again
 * (plan->rootfs), through no symlink. */
static int plan_rootfs(struct mount_plan *plan, const char *rootfs, bool has_secrets,
		       struct sk_err *err)
{
	int root_fd = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (root_fd < 0)
		return sk_fail(err, "mount", errno,
			       errno == ENOTDIR
				   ? "--rootfs takes a directory holding a root file system"
				   : NULL,
			       "--rootfs %s", rootfs);
	rc = plan_dir_entries(plan, root_fd, "", "", rootfs_skip,
			      ARRAY_SIZE(rootfs_skip) - (has_secrets ? 0 : 1), err);
	if (rc == 0 && !plan_add(plan, MOUNT_DIR, NULL, "/etc", err))
		rc = -1;
	if (rc == 0)
		rc = plan_rootfs_etc(plan, root_fd, rootfs, err);
	close(root_fd);
	if (rc == 0 && !(plan->rootfs = strdup(rootfs)))
		rc = sk_fail(err, "mount", ENOMEM, NULL, "planning the root");
	return rc;
}

static int plan_writable(struct mount_plan *plan, const struct sandbox_spec *spec,
			 struct sk_err *err)
{
	struct mount_entry *e;
	char data[160];

	if (!plan_add(plan, MOUNT_DIR, NULL, "/home", err))
		return -1;
	snprintf(data, sizeof(data), "mode=0700,uid=%u,gid=%u,size=%llu,nr_inodes=65536",
		 (unsigned)spec->uid, (unsigned)spec->gid, (unsigned long long)spec->tmpfs_bytes);
	e = plan_add(plan, MOUNT_TMPFS, data, SANDBOX_HOME, err);
	if (!e)
		return -1;
	snprintf(data, sizeof(data), "mode=1777,size=%llu,nr_inodes=65536",
		 (unsigned long long)spec->tmpfs_bytes);
	/* /tmp stays exec: compiling and running a program there is ordinary agent work. */
	e = plan_add(plan, MOUNT_TMPFS, data, "/tmp", err);
	if (!e)
		return -1;
	if (!plan_add(plan, MOUNT_DIR, NULL, "/proc", err) ||
	    !plan_add(plan, MOUNT_DIR, NULL, "/dev", err))
		return -1;
	if (spec_secret_files(spec) == 0)
		return 0;
	/* With secrets /run is the sandbox's own (a --rootfs's is not bound): read-only, holding
	 * only the secrets' tmpfs. */
	if (!plan_add(plan, MOUNT_DIR, NULL, "/run", err))
		return -1;
	/* Only PID 1 writes there (secrets.c), before the mount turns read-only; the size only
	 * bounds what it holds. noexec: a secret is data. */
	snprintf(data, sizeof(data), "mode=0500,uid=%u,gid=%u,size=%llu,nr_inodes=%zu",
		 (unsigned)spec->uid, (unsigned)spec->gid,
		 (unsigned long long)spec_secret_files(spec) * (SANDBOX_SECRET_MAX_BYTES + 4096),
		 spec_secret_files(spec) + 8);
	e = plan_add(plan, MOUNT_SECRETS, data, SANDBOX_SECRETS_DIR, err);
	if (!e)
		return -1;
	e->flags = MS_NOEXEC;
	return 0;
}

uint64_t mount_volume_attr(bool is_readonly)
{
	return MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (is_readonly ? MOUNT_ATTR_RDONLY : 0);
}

/* As root: a detached copy of the verified directory, made here in the host's namespace where
 * the kernel allows the clone, with its attributes set before the sandbox ever sees it. */
static int plan_detached_volume(struct mount_volume *v, int dir_fd, struct sk_err *err)
{
	v->fd = sys_open_tree(dir_fd, "",
			      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
	if (v->fd < 0)
		return sk_fail(err, "mount", errno, "mounting volumes needs Linux 5.12 or later",
			       "open_tree(volume for %s)", v->dst + sizeof(MOUNT_NEWROOT) - 1);
	v->is_detached = true;
	if (sys_mount_setattr(v->fd, "", AT_EMPTY_PATH | AT_RECURSIVE,
			      mount_volume_attr(v->is_readonly)) < 0)
		return sk_fail(err, "mount", errno, NULL, "mount_setattr(volume for %s)",
			       v->dst + sizeof(MOUNT_NEWROOT) - 1);
	return 0;
}

int mount_plan_volume(struct mount_volume *v, const struct sandbox_open_volume *ov,
		      const char *guest, bool is_readonly, struct sk_err *err)
{
	struct stat st;

	v->fd = -1;
	v->is_readonly = is_readonly;
	if (!ov || ov->dir_fd < 0 || fstat(ov->dir_fd, &st) < 0 || !S_ISDIR(st.st_mode))
		return sk_fail(err, "mount", EBADF, NULL, "volume for %s was not opened", guest);
	v->dev = st.st_dev;
	v->ino = st.st_ino;
	if (asprintf(&v->dst, MOUNT_NEWROOT "%s", guest) < 0) {
		v->dst = NULL;
		return sk_fail(err, "mount", ENOMEM, NULL, "planning volumes");
	}
	if (geteuid() == 0)
		return plan_detached_volume(v, ov->dir_fd, err);
	v->fd = ov->dir_fd;
	v->host_root = strdup(ov->host_root ? ov->host_root : "");
	v->name = strdup(ov->name);
	if (!v->host_root || !v->name)
		return sk_fail(err, "mount", ENOMEM, NULL, "planning volumes");
	return 0;
}

static int plan_volumes(struct mount_plan *plan, const struct sandbox_spec *spec,
			const struct sandbox_open_volume *opened, struct sk_err *err)
{
	for (size_t i = 0; i < spec->volume_count; i++)
		if (mount_plan_volume(&plan->volumes[plan->volume_count++],
				      opened ? &opened[i] : NULL, spec->volumes[i].guest,
				      spec->volumes[i].is_readonly, err) < 0)
			return -1;
	return 0;
}

void mount_volume_free(struct mount_volume *v)
{
	if (v->is_detached && v->fd >= 0)
		close(v->fd); /* ours; a verified directory fd belongs to the CLI */
	free(v->dst);
	free(v->host_root);
	free(v->name);
	memset(v, 0, sizeof(*v));
	v->fd = -1;
}

int mount_prepare(struct mount_plan *plan, const struct sandbox_spec *spec,
		  const struct sandbox_open_volume *volumes,
		  const struct sandbox_open_workspace *workspace, struct sk_err *err)
{
	char rootfs[PATH_MAX];
	int rc;

	memset(plan, 0, sizeof(*plan));
	plan->workspace.lower.fd = plan->workspace.upper.fd = -1;
	snprintf(plan->root_data, sizeof(plan->root_data), "mode=0755,size=4m,nr_inodes=4096");
	/* spec_check() refused a longer one. */
	sk_strlcpy(plan->workdir,
		   spec->workspace.is_set && !spec->has_workdir ? spec->workspace.guest
								: spec->workdir,
		   sizeof(plan->workdir));
	if (spec->rootfs) {
		if (!realpath(spec->rootfs, rootfs))
			return sk_fail(err, "mount", errno, "--rootfs takes an existing directory",
				       "--rootfs %s", spec->rootfs);
		rc = plan_rootfs(plan, rootfs, spec_secret_files(spec) > 0, err);
		snprintf(plan->detail, sizeof(plan->detail), "rootfs %.100s read-only", rootfs);
	} else {
		rc = plan_system_tree(plan, err);
		snprintf(plan->detail, sizeof(plan->detail),
			 "host /usr,/bin,/sbin,/lib* read-only, curated /etc");
	}
	if (rc == 0)
		rc = plan_identity_files(plan, spec, err);
	if (rc == 0)
		rc = plan_writable(plan, spec, err);
	if (rc == 0)
		rc = plan_volumes(plan, spec, volumes, err);
	if (rc == 0 && spec->workspace.is_set)
		rc = mount_plan_workspace(plan, spec, workspace, err);
	if (rc < 0)
		mount_plan_free(plan);
	return rc;
}

int mount_add_file(struct mount_plan *plan, const char *dst, char *content, size_t len,
		   struct sk_err *err)
{
	struct mount_entry *e = plan_add(plan, MOUNT_FILE, NULL, dst, err);

	if (!e) {
		free(content);
		return -1;
	}
	e->content = content;
	e->content_len = len;
	return 0;
}

int mount_add_overlay(struct mount_plan *plan, const char *src, const char *dst, struct sk_err *err)
{
	struct stat st;
	char host[PATH_MAX];

	/* Only over a regular file of the host's (never through a link: the bind target is
	 * opened beneath the new root, where the same rule holds). */
	snprintf(host, sizeof(host), MOUNT_HOST "%s", dst);
	if (fstatat(AT_FDCWD, host, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
		return 0;
	return plan_add(plan, MOUNT_OVERLAY_FILE, src, dst, err) ? 0 : -1;
}

size_t mount_writable_paths(const struct mount_plan *plan, const char **paths, size_t capacity)
{
	size_t count = 0;

	for (size_t i = 0; i < plan->count && count < capacity; i++)
		if (plan->entries[i].kind == MOUNT_TMPFS)
			paths[count++] = plan->entries[i].dst + sizeof(MOUNT_NEWROOT) - 1;
	for (size_t i = 0; i < plan->volume_count && count < capacity; i++)
		if (!plan->volumes[i].is_readonly)
			paths[count++] = plan->volumes[i].dst + sizeof(MOUNT_NEWROOT) - 1;
	if (plan->workspace.is_set && count < capacity)
		paths[count++] = (plan->workspace.is_copy ? plan->workspace.upper.dst
							  : plan->workspace.lower.dst) +
				 sizeof(MOUNT_NEWROOT) - 1;
	return count;
}

void mount_plan_free(struct mount_plan *plan)
{
	for (size_t i = 0; i < plan->count; i++) {
		free(plan->entries[i].src);
		free(plan->entries[i].dst);
		free(plan->entries[i].content);
	}
	free(plan->entries);
	plan->entries = NULL;
	plan->count = plan->capacity = 0;
	free(plan->rootfs);
	plan->rootfs = NULL;
	for (size_t i = 0; i < plan->volume_count; i++)
		mount_volume_free(&plan->volumes[i]);
	plan->volume_count = 0;
	mount_workspace_free(&plan->workspace);
}
