/* Container detection and the engines' fixes (see container.h). The evidence is what each
 * engine leaves on purpose (Docker's /.dockerenv, Podman's /run/.containerenv and
 * container=podman, the kubelet's KUBERNETES_SERVICE_HOST and service-account mount), then
 * what any engine leaves (cgroup paths, a seccomp filter on PID 1). Kubernetes first: its
 * pods may run on Docker and carry Docker's marker too. */
#include "sandbox/container.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/macros.h"

/* The profile's name in stockade's source tree and in every fix below. */
#define PROFILE "deploy/seccomp/stockade.json"

/* The first line of /proc/1/cgroup naming an engine, or "". */
static void cgroup_evidence(char *buf, size_t size, enum container_engine *engine)
{
	static const struct {
		const char *word;
		enum container_engine engine;
	} words[] = {{"kubepods", CONTAINER_KUBERNETES},
		     {"libpod", CONTAINER_PODMAN},
		     {"docker", CONTAINER_DOCKER},
		     {"lxc", CONTAINER_OTHER}};
	char line[512];
	FILE *f = fopen("/proc/1/cgroup", "re");

	buf[0] = '\0';
	if (!f)
		return;
	while (!buf[0] && fgets(line, sizeof(line), f))
		for (size_t i = 0; i < ARRAY_SIZE(words); i++)
			if (strstr(line, words[i].word)) {
				line[strcspn(line, "\n")] = '\0';
				snprintf(buf, size, "/proc/1/cgroup: %.90s", line);
				*engine = words[i].engine;
				break;
			}
	fclose(f);
}

static bool pid1_is_filtered(void)
{
	char line[128];
	bool is_filtered = false;
	FILE *f = fopen("/proc/1/status", "re");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "Seccomp:", 8) == 0)
			is_filtered = atoi(line + 8) == 2;
	fclose(f);
	return is_filtered;
}

static int read_sysctl_digit(const char *path)
{
	char byte = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (read(fd, &byte, 1) != 1 || byte < '0' || byte > '9')
		byte = 0;
	close(fd);
	return byte ? byte - '0' : -1;
}

void container_detect(struct container_info *info)
{
	const char *env = getenv("container");
	char cgroup[sizeof(info->evidence)];
	enum container_engine from_cgroup = CONTAINER_NONE;

	memset(info, 0, sizeof(*info));
	info->is_pid1_filtered = pid1_is_filtered();
	info->apparmor_userns_restricted =
	    read_sysctl_digit("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
	cgroup_evidence(cgroup, sizeof(cgroup), &from_cgroup);
	if (getenv("KUBERNETES_SERVICE_HOST")) {
		info->engine = CONTAINER_KUBERNETES;
		snprintf(info->evidence, sizeof(info->evidence),
			 "KUBERNETES_SERVICE_HOST in the environment");
	} else if (access("/var/run/secrets/kubernetes.io", F_OK) == 0) {
		info->engine = CONTAINER_KUBERNETES;
		snprintf(info->evidence, sizeof(info->evidence),
			 "/var/run/secrets/kubernetes.io exists");
	} else if (from_cgroup == CONTAINER_KUBERNETES) {
		info->engine = CONTAINER_KUBERNETES;
		snprintf(info->evidence, sizeof(info->evidence), "%s", cgroup);
	} else if (access("/run/.containerenv", F_OK) == 0) {
		info->engine = CONTAINER_PODMAN;
		snprintf(info->evidence, sizeof(info->evidence), "/run/.containerenv exists");
	} else if (env && strcmp(env, "podman") == 0) {
		info->engine = CONTAINER_PODMAN;
		snprintf(info->evidence, sizeof(info->evidence),
			 "container=podman in the environment");
	} else if (access("/.dockerenv", F_OK) == 0) {
		info->engine = CONTAINER_DOCKER;
		snprintf(info->evidence, sizeof(info->evidence), "/.dockerenv exists");
	} else if (from_cgroup != CONTAINER_NONE) {
		info->engine = from_cgroup;
		snprintf(info->evidence, sizeof(info->evidence), "%s", cgroup);
	} else if (env && env[0]) {
		info->engine = CONTAINER_OTHER;
		snprintf(info->evidence, sizeof(info->evidence),
			 "container=%.64s in the environment", env);
	} else if (info->is_pid1_filtered) {
		/* A host's init is not filtered; an engine's container's first process is. */
		info->engine = CONTAINER_OTHER;
		snprintf(info->evidence, sizeof(info->evidence),
			 "PID 1 runs under a seccomp filter");
	}
}

const char *container_engine_name(enum container_engine engine)
{
	static const char *const names[] = {"none", "docker", "podman", "kubernetes", "other"};

	return (unsigned)engine < ARRAY_SIZE(names) ? names[engine] : "other";
}

/* clang-format off */
static const char *const seccomp_fix[] = {
	[CONTAINER_DOCKER] = "run the container with stockade's seccomp profile, " PROFILE
		" (Docker's default plus the namespace and mount calls): docker run "
		"--security-opt seccomp=stockade.json",
	[CONTAINER_PODMAN] = "run the container with stockade's seccomp profile, " PROFILE
		" (Docker's default plus the namespace and mount calls): podman run "
		"--security-opt seccomp=stockade.json",
	[CONTAINER_KUBERNETES] = "copy " PROFILE " into each node's /var/lib/kubelet/seccomp/ "
		"and set the container's securityContext.seccompProfile to {type: Localhost, "
		"localhostProfile: stockade.json}, with hostUsers: false in the pod "
		"(deploy/kubernetes/)",
	[CONTAINER_OTHER] = "give the container stockade's seccomp profile, " PROFILE ": docker "
		"or podman run --security-opt seccomp=stockade.json; Kubernetes: seccompProfile "
		"{type: Localhost, localhostProfile: stockade.json} in /var/lib/kubelet/seccomp/, "
		"and hostUsers: false",
};

static const char *const mount_fix[] = {
	[CONTAINER_DOCKER] = "docker run --security-opt seccomp=stockade.json (" PROFILE
		") --security-opt apparmor=unconfined, or an AppArmor profile that allows mount "
		"(Docker's docker-default denies it)",
	[CONTAINER_PODMAN] = "podman run --security-opt seccomp=stockade.json (" PROFILE
		") --security-opt apparmor=unconfined, or an AppArmor profile that allows mount",
	[CONTAINER_KUBERNETES] = "seccompProfile {type: Localhost, localhostProfile: "
		"stockade.json} (" PROFILE " in /var/lib/kubelet/seccomp/), hostUsers: false, and "
		"on AppArmor nodes appArmorProfile {type: Localhost} naming a profile that allows "
		"mount (the runtime's default denies it)",
	[CONTAINER_OTHER] = "stockade's seccomp profile (" PROFILE ": docker or podman run "
		"--security-opt seccomp=stockade.json; Kubernetes seccompProfile type Localhost) "
		"and an AppArmor profile that allows mount (--security-opt apparmor=unconfined; "
		"Kubernetes appArmorProfile type Localhost)",
};

static const char *const proc_fix[] = {
	[CONTAINER_DOCKER] = "docker run --security-opt systempaths=unconfined: Docker masks "
		"parts of /proc, and while they are masked the kernel refuses a sandbox a procfs "
		"of its own",
	[CONTAINER_PODMAN] = "podman run --security-opt unmask=ALL: Podman masks parts of /proc, "
		"and while they are masked the kernel refuses a sandbox a procfs of its own",
	[CONTAINER_KUBERNETES] = "set the container's securityContext.procMount: Unmasked, which "
		"needs hostUsers: false in the pod: the runtime masks parts of /proc, and while "
		"they are masked the kernel refuses a sandbox a procfs of its own",
	[CONTAINER_OTHER] = "unmask the container's /proc (docker run --security-opt "
		"systempaths=unconfined; podman run --security-opt unmask=ALL; Kubernetes "
		"procMount: Unmasked with hostUsers: false): the kernel refuses a new procfs while "
		"parts of /proc are masked",
};

static const char apparmor_userns_fix[] = "on the host, not in the container: sysctl -w "
	"kernel.apparmor_restrict_unprivileged_userns=0 (persist it in /etc/sysctl.d/), or an "
	"AppArmor profile for the container with the 'userns,' rule (docker or podman run "
	"--security-opt apparmor=PROFILE; Kubernetes appArmorProfile {type: Localhost})";
/* clang-format on */

bool container_remedy(const struct container_info *info, enum container_fix fix, char *buf,
		      size_t size)
{
	const char *text = NULL;

	if (info->engine == CONTAINER_NONE)
		return false;
	switch (fix) {
	case FIX_SECCOMP:
		text = seccomp_fix[info->engine];
		break;
	case FIX_MOUNT:
		text = mount_fix[info->engine];
		break;
	case FIX_PROC:
		text = proc_fix[info->engine];
		break;
	case FIX_APPARMOR_USERNS:
		text = apparmor_userns_fix;
		break;
	default:
		return false;
	}
	snprintf(buf, size, "%s", text);
	return true;
}
