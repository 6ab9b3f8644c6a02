/* struct sandbox_spec: everything a sandbox is, in one place. The CLI fills it from argv; the
 * engine (launch.c) turns it into a running sandbox. Nothing here is host state, except the
 * volume directories the CLI opened from the store (struct sandbox_volume) and the --audit
 * file it opened before anything ran. */
#ifndef STOCKADE_SPEC_H
#define STOCKADE_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SANDBOX_DEFAULT_UID 10001
#define SANDBOX_DEFAULT_HOST_UID 10001 /* where the sandbox user lands when run as root */
#define SANDBOX_HOME "/home/sandbox"
#define SANDBOX_USER "sandbox"
#define SANDBOX_DEFAULT_HOSTNAME "stockade"
#define SANDBOX_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define SANDBOX_MAX_ENV 256
#define SANDBOX_MAX_NET_RULES 64

#define SANDBOX_MAX_VOLUMES 16
#define SANDBOX_VOLUME_NAME_MAX 64
#define SANDBOX_GUEST_PATH_MAX 200

/* A managed volume (-v). Parsed and validated first (store/volume.c), for every -v, before
 * anything is created; then the CLI takes it from the store: dir_fd is the volume directory,
 * opened with openat2 beneath its store root and verified (store/safepath.c), and the engine
 * mounts that directory, never a path it did not verify. */
struct sandbox_volume {
	char name[SANDBOX_VOLUME_NAME_MAX + 1]; /* anonymous: made up when it is created */
	char guest[SANDBOX_GUEST_PATH_MAX + 1]; /* absolute, normalized, outside the system tree */
	bool is_anonymous;
	bool is_readonly;
	int dir_fd;	       /* -1 until the CLI opened it */
	const char *host_root; /* the store directory holding `name` */
};

/* --tty: whether the sandbox gets a pty of its own (sandbox/tty.h). */
enum sandbox_tty_mode {
	SANDBOX_TTY_AUTO = 0, /* a pty when stdin or stdout is a terminal (the default) */
	SANDBOX_TTY_ALWAYS,
	SANDBOX_TTY_NEVER, /* the caller's fds 0-2 as they are */
};

/* Layers the caller may name in --allow-degraded. A bit each. */
enum sandbox_layer {
	LAYER_LANDLOCK = 1u << 0,
	LAYER_SECCOMP = 1u << 1,
	LAYER_CGROUP = 1u << 2,
};

struct sandbox_spec {
	char *const *argv; /* the command and its arguments, argv[0] non-NULL */
	uid_t uid;	   /* uid and gid inside the sandbox (default 10001) */
	gid_t gid;
	const char *hostname;
	const char *workdir; /* absolute path inside; default SANDBOX_HOME */
	const char *rootfs;  /* NULL: the host's /usr, /bin, /lib*, /sbin and a curated /etc */
	const char *env_add[SANDBOX_MAX_ENV]; /* KEY=VALUE from -e, in order */
	size_t env_add_count;
	uint64_t memory_bytes;	     /* 0: no limit */
	uint64_t pids_limit;	     /* 0: no limit */
	uint64_t cpus_milli;	     /* CPU quota in thousandths of a CPU; 0: no limit */
	uint64_t timeout_ms;	     /* 0: none */
	uint64_t output_limit_bytes; /* 0: none */
	uint64_t tmpfs_bytes;	     /* size of /tmp and of $HOME each */
	unsigned allow_degraded;     /* enum sandbox_layer bits */
	const char *report_path;     /* NULL: no report */
	/* Egress (net/proxy.h): none unless --network allowlist or an --allow-net rule. */
	bool has_network;
	const char *allow_net[SANDBOX_MAX_NET_RULES]; /* --allow-net, in order */
	size_t allow_net_count;
	const char *deny_net[SANDBOX_MAX_NET_RULES]; /* --deny-net */
	size_t deny_net_count;
	const char *dns_server; /* --dns-server IP[:PORT] */
	const char *hosts_file; /* --hosts-file FILE */
	const char *audit_path; /* --audit FILE: one JSON line per egress decision */
	int audit_fd;		/* the CLI opened audit_path (a regular file, appended to); -1 */
	bool is_quiet;		/* --quiet: no stderr line per denied connection */
	struct sandbox_volume volumes[SANDBOX_MAX_VOLUMES];
	size_t volume_count;
	bool should_keep_volumes; /* --keep-volumes: anonymous volumes outlive the run */
	enum sandbox_tty_mode tty_mode;
};

/* The outcome of a run, for the report and the exit status. */
struct sandbox_result {
	bool started; /* the command was exec'd */
	bool has_pty; /* it ran on a pty of the sandbox's own (--tty) */
	bool exited;  /* exit_code is valid */
	int exit_code;
	int term_signal; /* killed by this signal, 0 if none */
	bool timed_out;
	bool output_limit_hit;
	bool oom_killed;
	uint64_t egress_allowed, egress_denied; /* connections the proxy allowed and refused */
	uint64_t duration_ms;
	long max_rss_kb;
};

#endif
