/* Whether stockade runs in a container, which engine made it, and the exact fix in that
 * engine's words for each kind of layer failure a container's defaults cause (its seccomp
 * profile, its masked /proc, AppArmor). probe.c puts the fix in a failing probe's remedy, so
 * `stockade doctor`, a refused run and /healthz all name it. */
#ifndef STOCKADE_CONTAINER_H
#define STOCKADE_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>

enum container_engine {
	CONTAINER_NONE,	      /* no evidence of a container */
	CONTAINER_DOCKER,     /* /.dockerenv */
	CONTAINER_PODMAN,     /* /run/.containerenv, container=podman */
	CONTAINER_KUBERNETES, /* KUBERNETES_SERVICE_HOST, a service-account mount, kubepods */
	CONTAINER_OTHER,      /* container=... (systemd-nspawn, lxc), or PID 1 under seccomp */
};

/* What a container's defaults break, as the probes tell it (struct advice's fix). */
enum container_fix {
	FIX_NONE,
	FIX_SECCOMP,	     /* the engine's seccomp profile denies a call stockade makes */
	FIX_MOUNT,	     /* mount calls denied: the seccomp profile or AppArmor's profile */
	FIX_PROC,	     /* /proc masked: the kernel refuses a new procfs */
	FIX_APPARMOR_USERNS, /* kernel.apparmor_restrict_unprivileged_userns=1 on the host */
};

struct container_info {
	enum container_engine engine;
	char evidence[160];		/* what gave it away, "" for none */
	bool is_pid1_filtered;		/* PID 1 of our PID namespace runs under a seccomp filter */
	int apparmor_userns_restricted; /* the host's sysctl: 1, 0, or -1 when absent */
};

/* Looks: the engines' marker files, the environment, /proc/1/cgroup, /proc/1/status. */
void container_detect(struct container_info *info);
const char *container_engine_name(enum container_engine engine); /* "docker", ..., "none" */
/* The fix for this kind of failure in this container, into buf; false (buf untouched) when
 * there is no container or nothing container-specific to say. */
bool container_remedy(const struct container_info *info, enum container_fix fix, char *buf,
		      size_t size);

#endif
