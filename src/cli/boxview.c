/* `stockade ps`, `inspect` and `logs` (see cli/box_client.h): a long-lived sandbox as its
 * directory says (state.json, the log) and, while it runs, as its PID 1 counts itself
 * (SYNC_INFO through the supervisor). cli_box_view is also what `stockade serve` shows. */
#define _GNU_SOURCE
#include "cli/box_client.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "sandbox/sync.h"
#include "store/box.h"
#include "util/fds.h"

/* ---- ps, inspect, logs ---- */

struct box_view {
	char name[BOX_NAME_MAX + 1];
	const char *status; /* running, exited, dead (its supervisor vanished) */
	json_t *state;	    /* state.json, or NULL */
	struct sync_msg info;
	bool has_info;
};

static void view_box(struct box_root *root, const char *name, struct box_view *v)
{
	struct box box;
	struct sk_err err = {0};
	char *text;
	bool is_alive;

	memset(v, 0, sizeof(*v));
	sk_strlcpy(v->name, name, sizeof(v->name));
	v->status = "dead";
	if (box_open(root, name, &box, &err) < 0)
		return;
	is_alive = box_is_alive(&box);
	text = box_state_read(&box, &err);
	v->state = text ? json_loads(text, 0, NULL) : NULL;
	free(text);
	const char *said = json_string_value(json_object_get(v->state, "status"));
	if (is_alive)
		v->status = "running";
	else if (said && strcmp(said, "exited") == 0)
		v->status = "exited";
	if (is_alive) {
		struct sockaddr_un addr = {.sun_family = AF_UNIX};
		struct timeval wait = {.tv_sec = 2};
		int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		struct sync_msg ask = {.kind = SYNC_INFO};
		box_path(&box, BOX_CONTROL, addr.sun_path, sizeof(addr.sun_path));
		if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof(wait)) == 0 &&
		    connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 &&
		    sync_send(fd, &ask) == 0 && sync_recv(fd, &v->info) == 1 &&
		    v->info.kind == SYNC_INFO)
			v->has_info = true;
		if (fd >= 0)
			close(fd);
	}
	box_close(&box);
}

static json_t *view_json(const struct box_view *v)
{
	json_t *spec = json_object_get(v->state, "spec");
	json_t *out = json_pack("{s:s, s:s}", "name", v->name, "status", v->status);
	json_int_t created = json_integer_value(json_object_get(v->state, "created"));

	json_object_set(out, "command", json_object_get(spec, "command") ?: json_null());
	json_object_set_new(out, "created", json_integer(created));
	json_object_set(out, "network",
			json_object_get(json_object_get(spec, "network"), "mode") ?: json_null());
	json_object_set_new(out, "processes",
			    v->has_info ? json_integer(v->info.value) : json_null());
	json_object_set_new(out, "memory_kb",
			    v->has_info ? json_integer(v->info.max_rss_kb) : json_null());
	json_object_set(out, "exit", json_object_get(v->state, "exit") ?: json_null());
	return out;
}

static void command_text(const json_t *command, char *buf, size_t size)
{
	size_t i;
	json_t *arg;

	buf[0] = '\0';
	if (!json_is_array(command)) {
		sk_strlcpy(buf, "-", size);
		return;
	}
	json_array_foreach(command, i, arg)
	{
		sk_strlcat(buf, i ? " " : "", size);
		sk_strlcat(buf, json_string_value(arg) ?: "", size);
	}
}

int cli_box_ps(int argc, char **argv, struct sk_err *err)
{
	bool as_json = argc > 1 && strcmp(argv[1], "--json") == 0;
	char(*names)[BOX_NAME_MAX + 1];
	struct box_root root;
	size_t count;
	json_t *list;

	if (argc > (as_json ? 2 : 1))
		return sk_fail(err, "cli", 0, "usage: stockade ps [--json]", "unexpected argument");
	if (box_root_open(&root, err) < 0 || box_list(&root, &names, &count, err) < 0) {
		box_root_close(&root);
		return -1;
	}
	list = json_array();
	if (!as_json)
		printf("%-20s %-8s %-8s %6s %10s %-10s %s\n", "NAME", "STATUS", "UPTIME", "PIDS",
		       "MEMORY", "NETWORK", "COMMAND");
	for (size_t i = 0; i < count; i++) {
		struct box_view v;
		view_box(&root, names[i], &v);
		json_t *one = view_json(&v);
		if (as_json) {
			json_array_append(list, one);
		} else {
			char command[200], uptime[48] = "-", pids[24] = "-", memory[32] = "-";
			long long age = (long long)time(NULL) -
					json_integer_value(json_object_get(one, "created"));
			command_text(json_object_get(one, "command"), command, sizeof(command));
			if (strcmp(v.status, "running") == 0)
				snprintf(uptime, sizeof(uptime), "%lldm%02llds", age / 60,
					 age % 60);
			if (v.has_info) {
				snprintf(pids, sizeof(pids), "%lld", (long long)v.info.value);
				snprintf(memory, sizeof(memory), "%.1fM",
					 (double)v.info.max_rss_kb / 1024.0);
			}
			const char *net = json_string_value(json_object_get(one, "network")) ?: "-";
			printf("%-20s %-8s %-8s %6s %10s %-10s %s\n", v.name, v.status, uptime,
			       pids, memory, net, command);
		}
		json_decref(one);
		json_decref(v.state);
	}
	free(names);
	box_root_close(&root);
	if (as_json)
		return cli_print_json(list, 0, "cli", err) < 0 ? -1 : 0;
	json_decref(list);
	return fflush(stdout) == 0 ? 0 : sk_fail(err, "cli", errno, NULL, "write stdout");
}

json_t *cli_box_view(struct box_root *root, const char *name, bool is_detailed)
{
	struct box_view v;
	json_t *out;

	view_box(root, name, &v);
	if (!is_detailed) {
		out = view_json(&v);
		json_decref(v.state);
		return out;
	}
	out = v.state ? json_deep_copy(v.state) : json_object();
	json_object_set_new(out, "status", json_string(v.status));
	if (v.has_info) {
		json_object_set_new(out, "processes", json_integer(v.info.value));
		json_object_set_new(out, "memory_kb", json_integer(v.info.max_rss_kb));
	}
	json_decref(v.state);
	return out;
}

int cli_box_inspect(int argc, char **argv, struct sk_err *err)
{
	struct box_root root;
	struct box box;
	json_t *out;

	if (argc != 2)
		return sk_fail(err, "cli", 0, "usage: stockade inspect NAME", "one name");
	if (box_root_open(&root, err) < 0)
		return -1;
	if (box_open(&root, argv[1], &box, err) < 0) { /* says "no sandbox NAME" */
		box_root_close(&root);
		return -1;
	}
	box_close(&box);
	out = cli_box_view(&root, argv[1], true);
	box_root_close(&root);
	return cli_print_json(out, JSON_PRESERVE_ORDER, "cli", err) < 0 ? -1 : 0;
}

static bool copy_file_at(int dir_fd, const char *name, off_t *offset)
{
	char buf[65536];
	int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n;
	bool any = false;

	if (fd < 0)
		return false;
	while ((n = pread(fd, buf, sizeof(buf), *offset)) > 0) {
		if (fds_write_all(1, buf, (size_t)n) < 0)
			break;
		*offset += n;
		any = true;
	}
	close(fd);
	return any;
}

int cli_box_logs(int argc, char **argv, struct sk_err *err)
{
	bool follow = argc == 3 && strcmp(argv[1], "-f") == 0;
	const char *name = argv[argc - 1];
	struct box_root root;
	struct box box;
	struct stat st;
	off_t old = 0, offset = 0;
	ino_t ino = 0;

	if (argc != 2 && !follow)
		return sk_fail(err, "cli", 0, "usage: stockade logs [-f] NAME", "one name");
	if (box_root_open(&root, err) < 0)
		return -1;
	if (box_open(&root, name, &box, err) < 0) {
		box_root_close(&root);
		return -1;
	}
	(void)copy_file_at(box.dir_fd, BOX_LOG_OLD, &old);
	if (fstatat(box.dir_fd, BOX_LOG, &st, AT_SYMLINK_NOFOLLOW) == 0)
		ino = st.st_ino;
	(void)copy_file_at(box.dir_fd, BOX_LOG, &offset);
	/* -f: until the sandbox ends; a rotation (log became log.1) starts the new log over. */
	while (follow) {
		bool is_alive = box_is_alive(&box);
		if (fstatat(box.dir_fd, BOX_LOG, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    st.st_ino != ino) {
			ino = st.st_ino;
			offset = 0;
		}
		if (!copy_file_at(box.dir_fd, BOX_LOG, &offset)) {
			if (!is_alive)
				break;
			struct timespec pause = {.tv_nsec = 100 * 1000 * 1000};
			nanosleep(&pause, NULL);
		}
	}
	box_close(&box);
	box_root_close(&root);
	return 0;
}
