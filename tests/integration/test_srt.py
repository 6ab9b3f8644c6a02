"""`stockade policy import-srt` (docs/spec.md, "import-srt"): sandbox-runtime's settings files
as written in srt's README (tests/data/srt/) give a spec that `policy check` accepts, or, where
a restriction would be lost, nothing on stdout and exit 1; every line on stderr names its place
and says warning or error. The strongest check: a sandbox run from the translated spec reaches
a loopback server through exactly the names and ports srt's rules allow, seen from the host.
Each test has its own STOCKADE_HOME."""
import http.server
import json
import os
import re
import threading

from harness import expect

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(os.path.dirname(HERE), "data", "srt")

# file: (exit status, [(path, kind)] in the order of the lines)
EXPECTED = {
    "mcp-settings.json": (0, [("filesystem.denyRead", "warning"),
                              ("filesystem.allowWrite", "warning"),
                              ("filesystem.denyWrite", "warning")]),
    "complete.json": (0, [("network.allowedDomains", "warning"),
                          ("network.allowedDomains", "warning"),
                          ("network.allowUnixSockets", "warning"),
                          ("filesystem.denyRead", "warning"),
                          ("filesystem.allowWrite", "warning"),
                          ("filesystem.denyWrite", "warning"),
                          ("ignoreViolations", "warning")]),
    "github.json": (0, [("network.allowedDomains", "warning"),
                        ("network.allowedDomains", "warning"),
                        ("filesystem.denyRead", "warning"),
                        ("filesystem.allowWrite", "warning")]),
    "restrict-dirs.json": (0, [("filesystem.denyRead", "warning"),
                               ("filesystem.allowWrite", "warning"),
                               ("filesystem.denyWrite", "warning")]),
    "workspace.json": (0, [("filesystem.denyRead", "warning"),
                           ("filesystem.allowRead", "warning"),
                           ("filesystem.allowWrite", "warning")]),
    "tls-terminate.json": (0, [("network.allowedDomains", "warning"),
                               ("network.allowedDomains", "warning"),
                               ("network.tlsTerminate", "warning"),
                               ("filesystem.denyRead", "warning"),
                               ("filesystem.allowWrite", "warning")]),
    "search-depth.json": (1, [("", "error"), ("mandatoryDenySearchDepth", "warning"),
                              ("filesystem", "error"), ("filesystem", "error"),
                              ("filesystem.allowWrite", "warning")]),
    "system-read.json": (1, [("network.allowedDomains", "warning"),
                             ("network.allowedDomains", "warning"),
                             ("filesystem.denyRead", "warning"),
                             ("filesystem.denyRead[1]", "error"),
                             ("filesystem.denyRead[2]", "error"),
                             ("filesystem.allowWrite", "warning")]),
    "corporate-proxy.json": (1, [("network.allowedDomains", "warning"),
                                 ("network.allowedDomains", "warning"),
                                 ("network.parentProxy", "error"),
                                 ("filesystem.denyRead", "warning")]),
    "unknown-field.json": (1, [("network.allowedDomains", "warning"),
                               ("network.allowedDomains", "warning"),
                               ("network.blockedPorts", "error"),
                               ("filesystem.denyRead", "warning")]),
    "malformed.json": (1, [("", "error")]),
}

LINE = re.compile(r"^stockade: import-srt: (?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): "
                  r"(?:(?P<path>[A-Za-z.\[\]0-9]+): )?(?P<kind>warning|error): (?P<text>.+)$")


class Home:
    def __init__(self, ctx):
        self.ctx = ctx
        self.env = {"STOCKADE_HOME": ctx.fresh_state()}
        self.dir = ctx.tmpdir()

    def cli(self, *args, **kw):
        return self.ctx.stockade(*args, env=self.env, **kw)

    def write(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(data if isinstance(data, str) else json.dumps(data, indent=2))
        os.chmod(path, 0o644)
        return path

    def bash(self, script, *args, timeout=60):
        """bash -c SCRIPT with $1 the stockade binary, for <(...)."""
        return self.ctx.run(["bash", "-c", script, "bash", self.ctx.stockade_path, *args],
                            env=self.env, timeout=timeout)


def parse_lines(name, err):
    notes = []
    for line in err.splitlines():
        m = LINE.match(line)
        expect(m and m["file"] == name, f"not a note line of {name}: {line!r}")
        notes.append((m["path"] or "", m["kind"]))
    return notes


def test_readme_settings_files(ctx):
    h = Home(ctx)
    expect(sorted(EXPECTED) == sorted(n for n in os.listdir(DATA) if n.endswith(".json")),
           f"tests/data/srt and the table differ: {sorted(os.listdir(DATA))}")
    for name, (status, notes) in sorted(EXPECTED.items()):
        h.write(name, open(os.path.join(DATA, name)).read())
        # (from the file's directory, so that the lines name it as given)
        r = ctx.run(["sh", "-c", f'cd "{h.dir}" && exec "$0" policy import-srt {name}',
                     ctx.stockade_path], env=h.env)
        expect(r.returncode == status, f"{name}: exit {r.returncode}, not {status}: {r}")
        expect(parse_lines(name, r.err) == notes,
               f"{name}: the notes differ:\n{parse_lines(name, r.err)}\n{notes}\n{r.err}")
        if status:
            expect(r.out == "", f"{name}: output despite an error: {r.out!r}")
            continue
        # the spec policy show prints: check accepts it, show --policy reads it back the same
        c = h.cli("policy", "check", "-", input=r.raw_out)
        expect(c.returncode == 0 and c.out == "-: ok\n", f"{name}: policy check: {c}")
        s = h.cli("policy", "show", "--policy", "-", input=r.raw_out)
        expect(s.returncode == 0 and s.out == r.out, f"{name}: show differs:\n{s.out}\n{r.out}")
    # the malformed file: one line, jansson's place
    r = h.cli("policy", "import-srt", os.path.join(DATA, "malformed.json"))
    expect(r.returncode == 1 and r.err.count("\n") == 1 and ":3:42: error: not valid JSON"
           in r.err, f"{r}")


def test_translated_rules(ctx):
    h = Home(ctx)
    r = h.cli("policy", "import-srt", os.path.join(DATA, "complete.json"))
    expect(r.returncode == 0, f"{r}")
    spec = json.loads(r.out)
    # srt's README example: names and their wildcards as they are, every port made explicit
    expect(spec["network"] == {
        "mode": "allowlist",
        "allow": [f"{n}:{p}" for n in ("github.com", "*.github.com", "lfs.github.com",
                                       "api.github.com", "npmjs.org", "*.npmjs.org")
                  for p in (443, 80)],
        "deny": ["malicious.com"], "dns_server": None, "hosts_file": None, "ca_file": None},
        f"{spec['network']}")
    # nothing else of the defaults changed: no volume, no command, no writes
    defaults = json.loads(h.cli("policy", "show").out)
    spec.pop("network"), defaults.pop("network")
    expect(spec == defaults, f"{spec}\n{defaults}")
    # no network allowed: none at all
    r = h.cli("policy", "import-srt", os.path.join(DATA, "mcp-settings.json"))
    expect(json.loads(r.out)["network"]["mode"] == "none", f"{r}")
    # stdin, and the usage
    r = h.cli("policy", "import-srt", "-", input=open(os.path.join(DATA, "github.json"), "rb")
              .read())
    expect(r.returncode == 0 and "*.github.com:443" in r.out and
           r.err.startswith("stockade: import-srt: -:3:5: network.allowedDomains: warning: "),
           f"{r}")
    r = h.cli("policy", "import-srt")
    expect(r.returncode == 125 and r.err.count("\n") == 1 and "no file given" in r.err, f"{r}")
    r = h.cli("policy", "import-srt", os.path.join(h.dir, "none.json"))
    expect(r.returncode == 1 and r.err.count("\n") == 1 and "No such file" in r.err, f"{r}")


class Recorder(http.server.BaseHTTPRequestHandler):
    paths = []

    def do_GET(self):
        Recorder.paths.append(self.path)
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_run_from_translated_settings(ctx):
    """srt settings -> import-srt -> run --policy <(...): a loopback server on the host is
    reached through exactly the names and ports the settings allow (names map to 127.0.0.1
    through --hosts-file, given as a flag over the policy)."""
    h = Home(ctx)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    Recorder.paths = []
    try:
        settings = h.write("settings.json", {
            "network": {
                "allowedDomains": [f"api.test:{port}", f"*.api.test:{port}",
                                   f"127.0.0.1:{port}", "web.test"],
                "deniedDomains": ["blocked.api.test"],
            },
            "filesystem": {"denyRead": ["~/.ssh"], "allowWrite": ["."], "denyWrite": []},
        })
        hosts = h.write("hosts", "".join(f"127.0.0.1 {n}\n" for n in (
            "api.test", "x.api.test", "blocked.api.test", "web.test", "other.test")))
        audit = os.path.join(h.dir, "audit.jsonl")
        os.chmod(h.dir, 0o777)
        curl = "curl -sS --max-time 10 -o /dev/null -w '%{http_code}\\n'"
        cmd = "; ".join([
            f"{curl} http://api.test:{port}/name",              # allowed: the name
            f"{curl} http://x.api.test:{port}/wildcard",        # allowed: *.api.test
            f"{curl} -p http://api.test:{port}/tunnel",         # allowed: CONNECT, HTTP inside
            f"{curl} http://blocked.api.test:{port}/denied",    # denied first, as srt does
            f"{curl} http://api.test.other.test:{port}/suffix",  # not a subdomain
            f"{curl} http://web.test:{port}/port",              # no port in srt: 443 and 80
            f"{curl} http://other.test:{port}/none"])           # not allowed at all
        r = h.bash('exec "$1" run --policy <("$1" policy import-srt "$2") --hosts-file "$3" '
                   '--audit "$4" --quiet -- sh -c "$5"', settings, hosts, audit, cmd)
        expect(r.returncode == 0, f"{r}")
        expect(r.out.split() == ["200", "200", "200", "403", "403", "403", "403"],
               f"inside: {r.out.split()}\n{r.err}")
        # from the host: the server saw the allowed requests and no other
        expect(sorted(Recorder.paths) == ["/name", "/tunnel", "/wildcard"],
               f"the server saw {Recorder.paths}")
        events = [json.loads(line) for line in open(audit) if line.strip()]
        denied = {e["host"]: e.get("reason", "") for e in events if e["decision"] != "allow"}
        expect(set(denied) == {"blocked.api.test", "api.test.other.test", "web.test",
                               "other.test"}, f"{events}")
    finally:
        server.shutdown()
        server.server_close()


def test_refused_translation_runs_nothing(ctx):
    """A settings file whose translation would lose a restriction: nothing on stdout, so the
    run that reads it refuses too, and its command never runs."""
    h = Home(ctx)
    r = h.bash('exec "$1" run --policy <("$1" policy import-srt "$2") -- echo RAN',
               os.path.join(DATA, "system-read.json"))
    expect(r.returncode == 125 and "RAN" not in r.out, f"{r}")
    lines = r.err.splitlines()
    expect(any(": filesystem.denyRead[1]: error: " in line for line in lines) and
           lines[-1].startswith("stockade: policy: /dev/fd/"), f"{r.err}")
