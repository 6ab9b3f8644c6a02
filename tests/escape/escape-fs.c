/* escape-fs: hostile file-system, /proc, device, terminal and signal techniques that
 * tests/helpers/try-syscall has no probe for. Each is harmless when run unsandboxed (the
 * differential run of tests/escape/run.py): files are opened for writing but never written,
 * except the marker the runner hands over for exactly that purpose, and device nodes are made
 * only in the directory the runner names and removed at once.
 *
 * Usage: escape-fs NAME[=ARG] ...   Output: one line per NAME (probe_common.h). Exit 0 when
 * every probe ran, 2 for an unknown name. Built -static: fed to a sandbox through stdin. */
#include "probe_common.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* Opens ARG with flags and closes it again: nothing is read or written. */
static void try_open(const char *name, const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		report(name, errno, "open(%s)", path);
		return;
	}
	close(fd);
	report(name, 0, "opened(%s)", path);
}

static void try_open_append(const char *name, const char *path)
{
	try_open(name, path, O_WRONLY | O_APPEND);
}

static void try_open_write(const char *name, const char *path)
{
	try_open(name, path, O_WRONLY);
}

static void try_open_read(const char *name, const char *path)
{
	try_open(name, path, O_RDONLY);
}

/* O_TRUNC: the kernel asks the mount for write access before any permission check, so on a
 * read-only mount the answer is EROFS whoever owns the file. Nothing is written; a truncated
 * sysctl file (core_pattern natively, as root) keeps its value. */
static void try_open_trunc(const char *name, const char *path)
{
	try_open(name, path, O_WRONLY | O_TRUNC);
}

/* Creates ARG (O_EXCL: never an existing file) and removes it at once. A new name on a
 * read-only mount is EROFS before the directory's permissions are looked at. */
static void try_create(const char *name, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0) {
		report(name, errno, "open(%s,O_CREAT|O_EXCL)", path);
		return;
	}
	close(fd);
	unlink(path);
	report(name, 0, "created-and-removed(%s)", path);
}

/* The runner's marker file: if it opens, write to it (the host-side check sees that). */
static void try_marker(const char *name, const char *path)
{
	static const char text[] = "ESCAPED: written from the workload\n";
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);

	if (fd < 0) {
		report(name, errno, "open(%s,O_WRONLY)", path);
		return;
	}
	ssize_t n = write(fd, text, sizeof(text) - 1);
	int error = n < 0 ? errno : 0;

	close(fd);
	if (error)
		report(name, error, "opened-but-write-failed(%s)", path);
	else
		report(name, 0, "wrote-%zd-bytes(%s)", n, path);
}

/* A masked /proc file reads as empty (/dev/null is bound over it). */
static void try_read_bytes(const char *name, const char *path)
{
	char buffer[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		report(name, errno, "open(%s)", path);
		return;
	}
	n = read(fd, buffer, sizeof(buffer));
	close(fd);
	if (n < 0)
		report(name, errno, "read(%s)", path);
	else
		report(name, 0, "bytes=%zd", n);
}

/* A character device for /dev/mem (1,1) in DIR, removed at once. */
static void try_mknod(const char *name, const char *dir)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/escape-mem-node", dir);
	if (mknod(path, S_IFCHR | 0600, makedev(1, 1)) < 0) {
		report(name, errno, "mknod(%s,c,1,1)", path);
		return;
	}
	unlink(path);
	report(name, 0, "mknod(%s,c,1,1)-made-and-removed", path);
}

/* TIOCSTI into the terminal on fd ARG (the runner's pty): a typed "id\n" would run in the
 * caller's shell (CVE-2017-5226). The runner reads the pty afterwards. */
static void try_tiocsti(const char *name, const char *fd_text)
{
	int fd = atoi(fd_text);
	const char *typed = "#stockade-escape-tiocsti\n";

	if (!isatty(fd)) {
		report(name, ENOTTY, "fd-%d-is-not-a-terminal(runner-error)", fd);
		return;
	}
	for (const char *c = typed; *c; c++) {
		if (ioctl(fd, TIOCSTI, c) < 0) {
			report(name, errno, "ioctl(%d,TIOCSTI)-after-%d-chars", fd,
			       (int)(c - typed));
			return;
		}
	}
	report(name, 0, "ioctl(%d,TIOCSTI)-typed-%zu-chars", fd, strlen(typed));
}

/* A signal to a host process (the runner's sentinel): ARG is "PID:SIGNAL". */
static void try_kill(const char *name, const char *arg)
{
	int pid = atoi(arg), sig = strchr(arg, ':') ? atoi(strchr(arg, ':') + 1) : 0;

	if (pid <= 1) {
		report(name, EINVAL, "refusing-pid-%d", pid);
		return;
	}
	if (kill(pid, sig) < 0)
		report(name, errno, "kill(%d,%d)", pid, sig);
	else
		report(name, 0, "kill(%d,%d)-delivered", pid, sig);
}

/* Creates a file through an inherited directory fd ARG (the caller's stderr was a host
 * directory): no mount can stop openat() on an fd the workload already holds; Landlock's rules
 * name no host path, so it must. The file is left for the runner's host-side check. */
static void try_plant(const char *name, const char *fd_text)
{
	int dir_fd = atoi(fd_text);
	int fd = openat(dir_fd, "planted-by-workload", O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
			0644);

	if (fd < 0) {
		report(name, errno, "openat(%d,planted-by-workload,O_CREAT)", dir_fd);
		return;
	}
	close(fd);
	report(name, 0, "openat(%d,planted-by-workload,O_CREAT)-created", dir_fd);
}

/* A probe is KIND:LABEL=ARG; its result line is named KIND:LABEL. */
int main(int argc, char **argv)
{
	static const struct probe_kind kinds[] = {
	    {"write_append", try_open_append},
	    {"open_write", try_open_write},
	    {"open_read", try_open_read},
	    {"marker", try_marker},
	    {"read_masked", try_read_bytes},
	    {"mknod_mem", try_mknod},
	    {"tiocsti", try_tiocsti},
	    {"kill", try_kill},
	    {"plant", try_plant},
	    {"open_trunc", try_open_trunc},
	    {"create", try_create},
	};

	return probe_dispatch(kinds, sizeof(kinds) / sizeof(kinds[0]), argc, argv, "escape-fs");
}
