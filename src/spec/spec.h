/* struct sandbox_spec: everything a sandbox is, in one place, and nothing of the host. A front
 * end (the CLI from argv) fills it, spec_check() (sandbox/spec_check.h) checks every value, and
 * the engine (sandbox/launch.h) takes it read-only, with what the front end opened on the host
 * beside it (struct sandbox_host). */
#ifndef STOCKADE_SPEC_H
#define STOCKADE_SPEC_H

#include <limits.h>
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

/* What a sandbox without --rootfs sees of the host: the system tree, bound read-only (usr-merge
 * links recreated as links), and these /etc entries, copied or bound; nothing else of /etc
 * (shadow, ssh keys, machine-id, credentials of services stay out). Each /etc entry costs every
 * launch a copy or a mount: add one only for a real need. Macros, so that bench/run gives
 * bubblewrap the same view from the same lists. */
#define SANDBOX_SYSTEM_DIRS "usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"
#define SANDBOX_CURATED_ETC                                                                        \
	"alternatives", /* Debian's command alternatives (cc, python, editor) */                   \
	    "ca-certificates", "ssl", "pki", "crypto-policies", /* CA certificates, TLS policy */  \
	    "ld.so.cache", "ld.so.conf", "ld.so.conf.d",	/* the dynamic linker */           \
	    "localtime", "nsswitch.conf", "os-release", "protocols", "services"

/* --network's words, in the order of enum sandbox_network_mode. */
#define SANDBOX_NETWORK_MODE_NAMES "none", "allowlist", "public"
/* The ports --network public opens on every public address; ":PORT" rules add to them. */
#define SANDBOX_PUBLIC_PORTS ":80", ":443"

/* --tty's words, in the order of enum sandbox_tty_mode. */
#define SANDBOX_TTY_MODE_NAMES "auto", "always", "never"

/* The ranges spec_check() enforces; a limit of 0 means none. */
#define SANDBOX_MAX_UID                                                                            \
	65533 /* and at least 1: 0 would be root inside; 65534 is the overflow id                  \
	       */
#define SANDBOX_HOSTNAME_MAX 63
#define SANDBOX_WORKDIR_MAX 4095 /* PATH_MAX with its NUL */
#define SANDBOX_MIN_MEMORY (1ull << 20)
#define SANDBOX_MIN_TMPFS (1ull << 20)
#define SANDBOX_DEFAULT_TMPFS (1ull << 30)
#define SANDBOX_MIN_CPUS_MILLI 10
#define SANDBOX_MAX_CPUS_MILLI (1024 * 1000)
#define SANDBOX_MAX_PIDS 4194304 /* the kernel's pid_max ceiling */

#define SANDBOX_MAX_VOLUMES 16
#define SANDBOX_VOLUME_NAME_MAX 64
#define SANDBOX_GUEST_PATH_MAX 200

/* --require landlock_abi=N: the range a spec may ask for (the kernel's ABI is found at run). */
#define SANDBOX_MAX_REQUIRE_LANDLOCK_ABI 255

/* A managed volume (-v), as asked for: parsed and checked (store/volume.c) for every -v
 * before anything is created. */
struct sandbox_volume {
	char name[SANDBOX_VOLUME_NAME_MAX + 1]; /* "" for an anonymous volume */
	char guest[SANDBOX_GUEST_PATH_MAX + 1]; /* absolute, normalized, outside the system tree */
	bool is_anonymous;
	bool is_readonly;
};

#define SANDBOX_MAX_SECRETS 32
#define SANDBOX_SECRET_NAME_MAX 64
#define SANDBOX_SECRET_MAX_BYTES (1u << 20)
#define SANDBOX_SECRETS_DIR "/run/secrets"

/* --secret NAME=@FILE|env:VAR[,env=KEY]: where a secret's value comes from, never the value.
 * The front end reads the value into a sealed memfd (struct sandbox_host); the sandbox gets it
 * as SANDBOX_SECRETS_DIR/NAME and, with `env`, as the variable KEY. The strings point into the
 * flag's text (or a spec document) and are not NUL-terminated where the flag goes on. */
enum sandbox_secret_source {
	SECRET_FROM_FILE, /* @FILE: a regular file or a pipe of the caller's */
	SECRET_FROM_ENV,  /* env:VAR: a variable of the caller's environment */
};

struct sandbox_secret {
	char name[SANDBOX_SECRET_NAME_MAX + 1];
	enum sandbox_secret_source source;
	const char *from; /* the file's path or the variable's name, from_len bytes */
	size_t from_len;
	const char *env; /* the variable set inside, env_len bytes; NULL for none */
	size_t env_len;
};

#define SANDBOX_MAX_CREDENTIALS 8
#define SANDBOX_CREDENTIAL_MAX_HOSTS 8
#define SANDBOX_CREDENTIAL_MAX_BYTES 8192 /* a header value, not a file */
#define SANDBOX_CREDENTIAL_HEADER_MAX 64
#define SANDBOX_CREDENTIAL_FORMAT_MAX 128
#define SANDBOX_CREDENTIAL_DEFAULT_HEADER "Authorization"
#define SANDBOX_CREDENTIAL_DEFAULT_FORMAT "Bearer {}"

/* --credential NAME=@FILE|env:VAR,host=HOST[:PORT][,host=...][,header=H][,format=F]: a value
 * that never enters the sandbox. The sandbox gets a random placeholder as the variable NAME;
 * the egress proxy terminates TLS to each HOST:PORT (443 when none) and, in requests to them
 * only, puts the real value where the header H (Authorization) carries the placeholder in the
 * shape F ("Bearer {}", {} the value). The source is read like a secret's (never the value in
 * a flag or a file); the strings point into the flag's text, lengths given. */
struct sandbox_credential {
	char name[SANDBOX_SECRET_NAME_MAX + 1]; /* a variable name */
	enum sandbox_secret_source source;
	const char *from; /* the file's path or the variable's name, from_len bytes */
	size_t from_len;
	struct {
		const char *text; /* "HOST" or "HOST:PORT", len bytes */
		size_t len;
	} hosts[SANDBOX_CREDENTIAL_MAX_HOSTS];
	size_t host_count;
	const char *header; /* NULL: SANDBOX_CREDENTIAL_DEFAULT_HEADER */
	size_t header_len;
	const char *format; /* NULL: SANDBOX_CREDENTIAL_DEFAULT_FORMAT */
	size_t format_len;
	bool is_file; /* ,file: the placeholder in SANDBOX_SECRETS_DIR/NAME too */
};

/* --tty: whether the sandbox gets a pty of its own (sandbox/tty.h). */
enum sandbox_tty_mode {
	SANDBOX_TTY_AUTO = 0, /* a pty when stdin or stdout is a terminal (the default) */
	SANDBOX_TTY_ALWAYS,
	SANDBOX_TTY_NEVER, /* the caller's fds 0-2 as they are */
};

/* --network: what the sandbox may reach beyond its own loopback (net/proxy.h). */
enum sandbox_network_mode {
	SANDBOX_NETWORK_NONE = 0,  /* loopback only (the default) */
	SANDBOX_NETWORK_ALLOWLIST, /* through the proxy, where --allow-net rules allow */
	SANDBOX_NETWORK_PUBLIC,	   /* through the proxy, also any public address on the public
				    * ports (SANDBOX_PUBLIC_PORTS and ":PORT" rules) */
};

/* Layers the caller may name in --allow-degraded. A bit each. */
enum sandbox_layer {
	LAYER_LANDLOCK = 1u << 0,
	LAYER_SECCOMP = 1u << 1,
	LAYER_CGROUP = 1u << 2,
};

/* --workspace DIR[:/guest] (store/workspace.h): the host directory DIR seen copy-on-write at
 * the guest path; the changes stay in the workspace volume until applied. */
#define SANDBOX_WORKSPACE_GUEST "/work"
struct sandbox_workspace {
	bool is_set;
	char dir[PATH_MAX];			/* as the caller named it */
	char guest[SANDBOX_GUEST_PATH_MAX + 1]; /* default SANDBOX_WORKSPACE_GUEST */
	const char *name; /* --workspace-name; NULL: made up from the directory's name */
	bool is_copy;	  /* --workspace-copy: imported into the volume, no overlay */
	bool should_apply_on_success; /* --apply-on-success */
};

struct sandbox_spec {
	char *const *argv; /* the command and its arguments, argv[0] non-NULL */
	uid_t uid;	   /* uid and gid inside the sandbox (default 10001) */
	gid_t gid;
	const char *hostname;
	const char *workdir; /* absolute path inside; default SANDBOX_HOME (the workspace's
			      * guest path with a workspace, unless has_workdir) */
	bool has_workdir;    /* -w was given */
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
	/* Egress (net/proxy.h): none unless --network allowlist|public or an --allow-net rule. */
	enum sandbox_network_mode network_mode;
	const char *allow_net[SANDBOX_MAX_NET_RULES]; /* --allow-net, in order */
	size_t allow_net_count;
	const char *deny_net[SANDBOX_MAX_NET_RULES]; /* --deny-net */
	size_t deny_net_count;
	const char *dns_server; /* --dns-server IP[:PORT] */
	const char *hosts_file; /* --hosts-file FILE */
	const char *audit_path; /* --audit FILE: one JSON line per egress decision */
	bool is_quiet;		/* --quiet: no stderr line per denied connection */
	struct sandbox_volume volumes[SANDBOX_MAX_VOLUMES];
	size_t volume_count;
	bool should_keep_volumes; /* --keep-volumes: anonymous volumes outlive the run */
	struct sandbox_workspace workspace;
	struct sandbox_secret secrets[SANDBOX_MAX_SECRETS]; /* --secret, a later one of the same
							     * name replacing an earlier one */
	size_t secret_count;
	struct sandbox_credential credentials[SANDBOX_MAX_CREDENTIALS]; /* --credential */
	size_t credential_count;
	const char *ca_file; /* --ca-file FILE: the proxy's trust for terminated upstreams; NULL:
			      * the host's store */
	enum sandbox_tty_mode tty_mode;
	/* --require: what the host must offer, or the run is refused before anything is made
	 * (gate_require). 0: nothing required. */
	unsigned require_landlock_abi; /* Landlock ABI at least this */
};

/* The files of SANDBOX_SECRETS_DIR: the secrets and the credentials' placeholders asked for
 * as files. Any makes the secrets' tmpfs (mount plan, secrets.c). */
static inline size_t spec_secret_files(const struct sandbox_spec *spec)
{
	size_t n = spec->secret_count;

	for (size_t i = 0; i < spec->credential_count; i++)
		n += spec->credentials[i].is_file;
	return n;
}

/* Whether the sandbox has a way out at all (the proxy). */
static inline bool spec_has_network(const struct sandbox_spec *spec)
{
	return spec->network_mode != SANDBOX_NETWORK_NONE;
}

/* Whether it may reach any public address (--network public): the open network, for
 * dependency installs; the question for any rule that a run holding something the
 * workload must not send out may not have it. */
static inline bool spec_network_is_public(const struct sandbox_spec *spec)
{
	return spec->network_mode == SANDBOX_NETWORK_PUBLIC;
}

/* A volume the front end took from the store for one run (store/volume.h): host state, so not
 * in the spec. spec->volumes[i] is mounted from the i-th of these; the engine mounts dir_fd,
 * never a path it did not verify. */
struct sandbox_open_volume {
	char name[SANDBOX_VOLUME_NAME_MAX + 1]; /* an anonymous volume's is made up at creation */
	int dir_fd; /* opened with openat2 beneath its store root and verified (store/safepath.c) */
	const char *host_root; /* the store directory holding `name` */
};

/* The workspace the front end opened for one run (store/workspace.h): the project directory,
 * checked, and the workspace volume whose upper/ and work/ the overlay writes to. */
struct sandbox_open_workspace {
	int lower_fd;		/* the project directory (workspace_open_dir) */
	const char *lower_path; /* its path as the kernel named it: re-opened there as a user */
	struct sandbox_open_volume volume;
};

/* A long-lived sandbox (`run -d`): what its supervisor serves besides the run (sandbox/control.h).
 * The front end made these in the sandbox's directory (store/box.h). */
struct sandbox_service {
	int control_fd;	 /* listening SOCK_SEQPACKET unix socket: exec, signal, stop, info */
	int dir_fd;	 /* the sandbox's directory: the first command's output goes to its log */
	int ready_fd;	 /* written once: a struct sk_err, exit_code 0 once the sandbox runs; the
			  * engine writes the success, the front end a failure */
	uid_t owner_uid; /* who may use the control socket, besides root */
	uint64_t idle_timeout_ms; /* stopped after this long with no exec and no client; 0: never */
	uint64_t max_lifetime_ms; /* stopped this long after it started; 0: never */
	int tie_fd; /* -1, or a pipe's read end: stopped when it reads EOF (its maker, such as
		     * stockade serve, is gone: every write end closed, by exit or SIGKILL) */
};

/* What one run gets from the host besides its spec: the caller's environment and what the
 * front end opened before anything ran. */
struct sandbox_host {
	char *const *caller_env;			/* for -e KEY, TERM and LANG */
	const struct sandbox_open_volume *volumes;	/* spec->volume_count of them (or none) */
	const struct sandbox_open_workspace *workspace; /* with spec->workspace.is_set */
	/* The front end's: the directory the workspace must turn out to be (run --workspace-fd,
	 * 3 or above: stockade serve opened it beneath one of its --workspace-root); below 3
	 * (-1, or 0 in a zeroed host): none. */
	int workspace_fd;
	int audit_fd; /* --audit FILE, a regular file opened for appending; -1 without */
	/* spec->secret_count memfds holding the values, sealed against any change
	 * (F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL); the engine refuses others. */
	const int *secret_fds;
	/* spec->credential_count memfds, sealed the same way: read only by the egress proxy. */
	const int *credential_fds;
	struct sandbox_service *service; /* NULL for a run that ends with its command */
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
