/* Long-lived sandboxes on disk (see box.h). Every file is reached from the box's directory fd,
 * opened without following a link; the directories are the caller's own, 0700. */
#define _GNU_SOURCE
#include "store/box.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/safepath.h"
#include "store/volume.h"
#include "util/fds.h"
#include "util/macros.h"
#include "util/paths.h"

#define BOX_LOCK "lock"
#define BOX_STATE_TMP "state.json.tmp"
#define BOX_STATE_MAX (1u << 20)

int box_root_open(struct box_root *root, struct sk_err *err)
{
	char home[PATH_MAX];
	int home_fd;

	root->fd = -1;
	if (paths_ensure_home(home, sizeof(home), err) < 0)
		return -1;
	home_fd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (home_fd < 0)
		return sk_fail(err, "sandbox", errno, NULL, "open %.200s", home);
	root->fd = safepath_private_dir(home_fd, "sandboxes", "sandbox", err);
	close(home_fd);
	if (root->fd < 0)
		return -1;
	snprintf(root->path, sizeof(root->path), "%.4000s/sandboxes", home);
	return 0;
}

void box_root_close(struct box_root *root)
{
	if (root->fd >= 0)
		close(root->fd);
	root->fd = -1;
}

int box_check_name(const char *name)
{
	return volume_check_name(name);
}

static void box_init(struct box *box)
{
	memset(box, 0, sizeof(*box));
	box->dir_fd = box->lock_fd = -1;
}

void box_close(struct box *box)
{
	if (box->dir_fd >= 0)
		close(box->dir_fd);
	if (box->lock_fd >= 0)
		close(box->lock_fd);
	box->dir_fd = box->lock_fd = -1;
}

bool box_is_alive(const struct box *box)
{
	/* Opened here unless box_create holds it: a client that reaches the control socket
	 * needs no lock at all (cli/box.c). No O_CREAT: without the file, nobody holds it. */
	int fd = box->lock_fd >= 0
		     ? box->lock_fd
		     : openat(box->dir_fd, BOX_LOCK, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	bool is_alive = false;

	/* The supervisor holds LOCK_EX: a shared lock we cannot get means it is there. */
	if (fd >= 0 && flock(fd, LOCK_SH | LOCK_NB) < 0)
		is_alive = errno == EWOULDBLOCK;
	else if (fd >= 0)
		(void)flock(fd, LOCK_UN);
	if (fd >= 0 && fd != box->lock_fd)
		close(fd);
	return is_alive;
}

static int bad_name(const char *name, struct sk_err *err)
{
	return sk_fail(err, "cli", 0, "a name is [A-Za-z0-9][A-Za-z0-9_.-]{0,63}",
		       "invalid sandbox name '%.64s'", name);
}

static int open_lock(struct box *box, struct sk_err *err)
{
	box->lock_fd = openat(box->dir_fd, BOX_LOCK,
			      O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (box->lock_fd < 0)
		return sk_fail(err, "sandbox", errno, NULL, "open the lock of sandbox %s",
			       box->name);
	return 0;
}

/* Words for made-up names: short, easy to type and say, no two alike at a glance. */
static const char *const adjectives[] = {"amber", "brisk", "calm",  "deft",  "eager", "fond",
					 "glad",  "hardy", "keen",  "lucid", "merry", "nimble",
					 "plain", "quick", "rapid", "sly",   "tidy",  "vivid"};
static const char *const nouns[] = {"otter", "heron", "lynx",  "finch", "badger", "marten",
				    "crane", "vole",  "wren",  "stoat", "ibis",	  "newt",
				    "raven", "moth",  "egret", "hare",	"kite",	  "pika"};

static void made_up_name(char *buf, size_t size, unsigned attempt)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint32_t)getpid() * 2654435761u + attempt;
	if (attempt < 8)
		snprintf(buf, size, "%s-%s", adjectives[r % ARRAY_SIZE(adjectives)],
			 nouns[(r / 32) % ARRAY_SIZE(nouns)]);
	else /* a crowded machine: a number makes it unique */
		snprintf(buf, size, "%s-%s-%u", adjectives[r % ARRAY_SIZE(adjectives)],
			 nouns[(r / 32) % ARRAY_SIZE(nouns)], (r >> 16) % 10000);
}

int box_create(struct box_root *root, const char *name, struct box *box, struct sk_err *err)
{
	bool is_made_up = !name || !*name;

	box_init(box);
	if (!is_made_up && box_check_name(name) < 0)
		return bad_name(name, err);
	for (unsigned attempt = 0;; attempt++) {
		if (is_made_up)
			made_up_name(box->name, sizeof(box->name), attempt);
		else
			sk_strlcpy(box->name, name, sizeof(box->name));
		/* mkdir is the claim: of two runs asking for one name, exactly one makes it. */
		if (mkdirat(root->fd, box->name, 0700) == 0)
			break;
		if (errno != EEXIST)
			return sk_fail(err, "sandbox", errno, NULL, "create sandbox %s", box->name);
		if (is_made_up && attempt < 64)
			continue;
		struct box other;
		bool is_alive = box_open(root, box->name, &other, err) == 0 && box_is_alive(&other);
		box_close(&other);
		return sk_fail(err, "cli", 0,
			       is_alive ? "stop it, or choose another name"
					: "its state is kept until `stockade rm` removes it",
			       "sandbox %s exists%s", box->name,
			       is_alive ? " and is running" : " (ended)");
	}
	box->dir_fd = safepath_private_dir(root->fd, box->name, "sandbox", err);
	if (box->dir_fd < 0 || open_lock(box, err) < 0 ||
	    flock(box->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		if (box->lock_fd >= 0)
			(void)sk_fail(err, "sandbox", errno, NULL, "lock sandbox %s", box->name);
		(void)unlinkat(box->dir_fd, BOX_LOCK, 0);
		(void)unlinkat(root->fd, box->name, AT_REMOVEDIR);
		box_close(box);
		return -1;
	}
	return 0;
}

int box_open(struct box_root *root, const char *name, struct box *box, struct sk_err *err)
{
	struct stat st;

	box_init(box);
	if (box_check_name(name) < 0)
		return bad_name(name, err);
	sk_strlcpy(box->name, name, sizeof(box->name));
	box->dir_fd = openat(root->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (box->dir_fd < 0)
		return sk_fail(err, "cli", errno == ENOENT ? 0 : errno,
			       errno == ENOENT ? "stockade ps lists them" : NULL, "no sandbox %s",
			       name);
	if (fstat(box->dir_fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 077)) {
		box_close(box);
		return sk_fail(err, "sandbox", EPERM, NULL, "refusing sandbox directory %s", name);
	}
	return 0;
}

void box_path(const struct box *box, const char *file, char *buf, size_t size)
{
	snprintf(buf, size, "/proc/self/fd/%d/%s", box->dir_fd, file);
}

int box_state_write(const struct box *box, const char *json_text, struct sk_err *err)
{
	int fd = openat(box->dir_fd, BOX_STATE_TMP,
			O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	int rc;

	if (fd < 0)
		return sk_fail(err, "sandbox", errno, NULL, "write the state of %s", box->name);
	rc = fds_write_all(fd, json_text, strlen(json_text));
	if (close(fd) < 0 || rc < 0 ||
	    renameat(box->dir_fd, BOX_STATE_TMP, box->dir_fd, BOX_STATE) < 0)
		return sk_fail(err, "sandbox", errno, NULL, "write the state of %s", box->name);
	return 0;
}

char *box_state_read(const struct box *box, struct sk_err *err)
{
	int fd = openat(box->dir_fd, BOX_STATE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	char *text;
	ssize_t n;

	if (fd < 0) {
		(void)sk_fail(err, "sandbox", errno, NULL, "read the state of %s", box->name);
		return NULL;
	}
	text = malloc(BOX_STATE_MAX + 1);
	n = text ? fds_read_all(fd, text, BOX_STATE_MAX) : -1;
	close(fd);
	if (n < 0) {
		free(text);
		(void)sk_fail(err, "sandbox", errno ? errno : ENOMEM, NULL, "read the state of %s",
			      box->name);
		return NULL;
	}
	text[n] = '\0';
	return text;
}

int box_remove(struct box_root *root, struct box *box, struct sk_err *err)
{
	static const char *const files[] = {BOX_STATE, BOX_STATE_TMP, BOX_CONTROL, BOX_LOG,
					    BOX_LOG_OLD};

	if (box_is_alive(box))
		return sk_fail(err, "cli", 0, "stockade stop it first, or rm -f",
			       "sandbox %s is running", box->name);
	for (size_t i = 0; i < ARRAY_SIZE(files); i++)
		if (unlinkat(box->dir_fd, files[i], 0) < 0 && errno != ENOENT)
			return sk_fail(err, "sandbox", errno, NULL, "remove %s of sandbox %s",
				       files[i], box->name);
	/* The lock last: while it is there, a supervisor starting under this name (it cannot:
	 * the directory exists) would hold it. */
	if (unlinkat(box->dir_fd, BOX_LOCK, 0) < 0 && errno != ENOENT)
		return sk_fail(err, "sandbox", errno, NULL, "remove the lock of sandbox %s",
			       box->name);
	if (unlinkat(root->fd, box->name, AT_REMOVEDIR) < 0)
		return sk_fail(err, "sandbox", errno,
			       errno == ENOTEMPTY ? "something else was put in its directory"
						  : NULL,
			       "remove sandbox %s", box->name);
	return 0;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

int box_list(struct box_root *root, char (**names)[BOX_NAME_MAX + 1], size_t *count,
	     struct sk_err *err)
{
	int fd = openat(root->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *entry;
	size_t capacity = 0;

	*names = NULL;
	*count = 0;
	if (!dir) {
		if (fd >= 0)
			close(fd);
		return sk_fail(err, "sandbox", errno, NULL, "list %.200s", root->path);
	}
	while ((entry = readdir(dir))) {
		if (entry->d_type != DT_DIR || box_check_name(entry->d_name) < 0)
			continue;
		if (*count == capacity) {
			capacity = capacity ? capacity * 2 : 16;
			void *bigger = realloc(*names, capacity * sizeof(**names));
			if (!bigger) {
				closedir(dir);
				free(*names);
				*names = NULL;
				*count = 0;
				return sk_fail(err, "sandbox", ENOMEM, NULL, "list sandboxes");
			}
			*names = bigger;
		}
		sk_strlcpy((*names)[(*count)++], entry->d_name, BOX_NAME_MAX + 1);
	}
	closedir(dir);
	if (*count)
		qsort(*names, *count, sizeof(**names), compare_names);
	return 0;
}
