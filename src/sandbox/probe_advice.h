/* The probes' words: what each errno means for each layer (the likely cause and the remedy),
 * and how each namespace is named in the kernel's configuration and limits. Data only; the
 * logic that picks from it is in probe.c. */
#ifndef STOCKADE_PROBE_ADVICE_H
#define STOCKADE_PROBE_ADVICE_H

#include "sandbox/probe.h"

/* What a namespace is called by the kernel's configuration and limits, for diagnoses. */
struct ns_info {
	const char *name;   /* "user" */
	const char *config; /* "CONFIG_USER_NS" */
	const char *sysctl; /* "user.max_user_namespaces" */
};

/* What an errno means for a layer: status, likely cause, remedy. A table ends with errnum 0,
 * the entry for any other errno. */
struct advice {
	int errnum;
	enum probe_status status;
	const char *diagnosis;
	const char *remedy;
	enum container_fix fix; /* in a container, its engine's fix replaces remedy */
};

/* Why a user namespace was refused, from the most specific evidence to the general list. */
enum { USERNS_SYSCTL, USERNS_APPARMOR, USERNS_SECCOMP, USERNS_ANY };

extern const struct ns_info ns_user;
extern const struct ns_info ns_mount;
extern const struct ns_info ns_pid;
extern const struct ns_info ns_net;
extern const struct ns_info ns_ipc;
extern const struct ns_info ns_uts;
extern const struct ns_info ns_cgroup;
extern const char remedy_report[];
extern const char remedy_seccomp_ns[];
extern const char remedy_mount[];
extern const char remedy_userns[];
extern const char remedy_landlock[];
extern const char remedy_seccomp[];
extern const struct advice userns_refused[];
extern const struct advice ns_advice[];
extern const struct advice mount_advice[];
extern const struct advice overlay_advice[];
extern const struct advice procfs_advice[];
extern const struct advice net_advice[];
extern const struct advice seccomp_advice[];
extern const struct advice landlock_advice[];
extern const struct advice rootless_advice[];
extern const struct advice sigsys_advice[];
extern const struct advice timeout_advice[];
extern const struct advice hostname_advice[];
extern const struct advice nested_seccomp_advice[];
extern const struct advice attach_advice[];

#endif
