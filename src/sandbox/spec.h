/* struct sandbox_spec: everything a sandbox is, in one place. The CLI fills it from argv; the
 * engine (launch.c) turns it into a running sandbox. Nothing here is host state. */
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
};

/* The outcome of a run, for the report and the exit status. */
struct sandbox_result {
	bool started; /* the command was exec'd */
	bool exited;  /* exit_code is valid */
	int exit_code;
	int term_signal; /* killed by this signal, 0 if none */
	bool timed_out;
	bool output_limit_hit;
	bool oom_killed;
	uint64_t duration_ms;
	long max_rss_kb;
};

#endif
