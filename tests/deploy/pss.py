"""A checker of the Pod Security Standards, Baseline and Restricted, written from the
Kubernetes documentation (concepts/security/pod-security-standards, as of v1.35, and the user
namespaces page's "Integration with Pod security admission checks"): every control, its
fields and allowed values. It reads pods, and the pod templates of workloads.

violations(doc) -> [(level, control, path, value)]: level "baseline" or "restricted" (a
restricted violation that is also a baseline one is reported once, as baseline)."""

BASELINE_CAPABILITIES = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL",
                         "MKNOD", "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID",
                         "SYS_CHROOT"}
SAFE_SYSCTLS = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range",
                "net.ipv4.ip_unprivileged_port_start", "net.ipv4.tcp_syncookies",
                "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
                "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"}
SELINUX_TYPES = {None, "", "container_t", "container_init_t", "container_kvm_t",
                 "container_engine_t"}
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                      "persistentVolumeClaim", "projected", "secret"}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


def pod_of(doc):
    """(metadata, spec) of a Pod or of a workload's pod template, or None."""
    kind = doc.get("kind")
    if kind == "Pod":
        return doc.get("metadata") or {}, doc.get("spec") or {}
    if kind in WORKLOAD_KINDS:
        template = (doc.get("spec") or {}).get("template") or {}
        return template.get("metadata") or {}, template.get("spec") or {}
    if kind == "CronJob":
        template = doc["spec"]["jobTemplate"]["spec"]["template"]
        return template.get("metadata") or {}, template.get("spec") or {}
    return None


def containers(spec):
    for group in ("containers", "initContainers", "ephemeralContainers"):
        for i, c in enumerate(spec.get(group) or []):
            yield f"spec.{group}[{i}]", c


def violations(doc):
    found = pod_of(doc)
    if found is None:
        return []
    metadata, spec = found
    out = []

    def bad(level, control, path, value):
        out.append((level, control, path, value))

    pod_sc = spec.get("securityContext") or {}
    is_userns = spec.get("hostUsers") is False
    # ---- Baseline ----
    if (pod_sc.get("windowsOptions") or {}).get("hostProcess"):
        bad("baseline", "HostProcess", "spec.securityContext.windowsOptions.hostProcess", True)
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            bad("baseline", "Host Namespaces", f"spec.{field}", spec[field])
    for i, v in enumerate(spec.get("volumes") or []):
        if "hostPath" in v:
            bad("baseline", "HostPath Volumes", f"spec.volumes[{i}].hostPath", v["hostPath"])
    for key, value in (metadata.get("annotations") or {}).items():
        if key.startswith("container.apparmor.security.beta.kubernetes.io/") and not (
                value == "runtime/default" or value.startswith("localhost/")):
            bad("baseline", "AppArmor", f"metadata.annotations[{key}]", value)
    for i, s in enumerate(pod_sc.get("sysctls") or []):
        if s.get("name") not in SAFE_SYSCTLS:
            bad("baseline", "Sysctls", f"spec.securityContext.sysctls[{i}].name", s.get("name"))

    def check_context(path, sc, is_pod):
        aa = (sc.get("appArmorProfile") or {}).get("type")
        if aa not in (None, "RuntimeDefault", "Localhost"):
            bad("baseline", "AppArmor", f"{path}.appArmorProfile.type", aa)
        se = sc.get("seLinuxOptions") or {}
        if se.get("type") not in SELINUX_TYPES:
            bad("baseline", "SELinux", f"{path}.seLinuxOptions.type", se.get("type"))
        for field in ("user", "role"):
            if se.get(field):
                bad("baseline", "SELinux", f"{path}.seLinuxOptions.{field}", se[field])
        sp = (sc.get("seccompProfile") or {}).get("type")
        if sp == "Unconfined":
            bad("baseline", "Seccomp", f"{path}.seccompProfile.type", sp)
        if sc.get("runAsGroup") == 0 or (is_pod and (
                sc.get("fsGroup") == 0 or 0 in (sc.get("supplementalGroups") or []))):
            bad("restricted", "Non-root groups", path, "gid 0")
        if sc.get("runAsUser") == 0 and not is_userns:
            bad("restricted", "Running as Non-root user", f"{path}.runAsUser", 0)

    check_context("spec.securityContext", pod_sc, True)
    pod_seccomp = (pod_sc.get("seccompProfile") or {}).get("type")
    for path, c in containers(spec):
        sc = c.get("securityContext") or {}
        scp = f"{path}.securityContext"
        check_context(scp, sc, False)
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            bad("baseline", "HostProcess", f"{scp}.windowsOptions.hostProcess", True)
        if sc.get("privileged"):
            bad("baseline", "Privileged Containers", f"{scp}.privileged", True)
        caps = sc.get("capabilities") or {}
        for cap in caps.get("add") or []:
            if cap not in BASELINE_CAPABILITIES:
                bad("baseline", "Capabilities", f"{scp}.capabilities.add", cap)
            elif cap != "NET_BIND_SERVICE":
                bad("restricted", "Capabilities", f"{scp}.capabilities.add", cap)
        if "ALL" not in (caps.get("drop") or []):
            bad("restricted", "Capabilities", f"{scp}.capabilities.drop", caps.get("drop"))
        for j, port in enumerate(c.get("ports") or []):
            if port.get("hostPort"):
                bad("baseline", "Host Ports", f"{path}.ports[{j}].hostPort", port["hostPort"])
        proc = sc.get("procMount")
        if proc not in (None, "Default"):
            # v1.35: baseline allows Unmasked in a user namespace; restricted never does.
            if proc == "Unmasked" and is_userns:
                bad("restricted", "/proc Mount Type", f"{scp}.procMount", proc)
            else:
                bad("baseline", "/proc Mount Type", f"{scp}.procMount", proc)
        if sc.get("allowPrivilegeEscalation") is not False:
            bad("restricted", "Privilege Escalation", f"{scp}.allowPrivilegeEscalation",
                sc.get("allowPrivilegeEscalation"))
        # Non-root: the container's own setting, else the pod's (user namespaces: not checked).
        non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
        if non_root is not True and not is_userns:
            bad("restricted", "Running as Non-root", f"{scp}.runAsNonRoot", non_root)
        sp = (sc.get("seccompProfile") or {}).get("type") or pod_seccomp
        if sp not in ("RuntimeDefault", "Localhost"):
            bad("restricted", "Seccomp", f"{scp}.seccompProfile.type", sp)
    for i, v in enumerate(spec.get("volumes") or []):
        kinds = set(v) - {"name"}
        if kinds - RESTRICTED_VOLUMES and "hostPath" not in kinds:
            bad("restricted", "Volume Types", f"spec.volumes[{i}]", sorted(kinds))
    return out
