"""Credentials (issue 19; SECURITY.md "Credentials"; docs/spec.md): `--credential
NAME=@FILE|env:VAR,host=HOST[:PORT]` gives the sandbox only a random placeholder in $NAME; the
egress proxy terminates TLS to HOST with a certificate of a CA made for the run and puts the
real value in the Authorization header of requests to that host only. The upstream is an
HTTPS server on the host's loopback (python's ssl, with a CA made here by the `openssl` CLI),
named through --hosts-file; it answers 200 only to the real token. Every real value starts with
"stk-cred-", so the sandbox can look for that prefix without ever being given a value."""
import json
import re
import os
import secrets as pyrandom
import shutil
import signal
import socket
import ssl
import subprocess
import tarfile
import tempfile
import threading
import time
import atexit
import http.server

import harness
from harness import expect, one_line_125
from test_egress import hosts_file, run_net
from test_secrets import (_descendants, _host_side, _memory_holds, _where, _files_holding,
                          start_until_ready, write_file)

PREFIX = "stk-cred-"
UNDICI_VERSION = "6.21.0"


def unique_token():
    return PREFIX + pyrandom.token_hex(16)


def _openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


class TlsServer:
    """An HTTPS server on 127.0.0.1 with a certificate for `names`, signed by a CA made here.
    It records (path, Authorization, Host) of each request; GET answers 200 with "ok" when
    Authorization is "Bearer <token>" (the test sets token), else 401."""

    def __init__(self, names):
        self.dir = tempfile.mkdtemp(prefix="stockade-cred-ca-")
        atexit.register(shutil.rmtree, self.dir, True)
        d = self.dir
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.crt", "-days", "2", "-subj", "/CN=test CA")
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", f"{d}/srv.key", "-out", f"{d}/srv.csr", "-subj", f"/CN={names[0]}")
        with open(f"{d}/ext", "w") as f:
            f.write("subjectAltName=" + ",".join(f"DNS:{n}" for n in names) + "\n")
        _openssl("x509", "-req", "-in", f"{d}/srv.csr", "-CA", f"{d}/ca.crt", "-CAkey",
                 f"{d}/ca.key", "-CAcreateserial", "-out", f"{d}/srv.crt", "-days", "2",
                 "-extfile", f"{d}/ext")
        os.chmod(d, 0o755)
        os.chmod(f"{d}/ca.crt", 0o644)
        self.ca_file = f"{d}/ca.crt"
        self.token = None
        self.log = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                auth = self.headers.get("Authorization")
                server.log.append((self.path, auth, self.headers.get("Host")))
                if self.path == "/hangup":  # the request read, no answer: the connection ends
                    self.close_connection = True
                    return
                if self.path.startswith("/big/"):
                    size = int(self.path.split("/")[2])
                    self.send_response(200)
                    self.send_header("Content-Length", str(size))
                    self.end_headers()
                    block = b"x" * 65536
                    for at in range(0, size, len(block)):
                        self.wfile.write(block[: min(len(block), size - at)])
                    return
                ok = server.token is not None and auth == f"Bearer {server.token}"
                body = b"ok\n" if ok else b"no\n"
                self.send_response(200 if ok else 401)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_TRACE(self):
                # What Apache does with its default `TraceEnable on`: the request back,
                # headers and all, as the body (RFC 9110 9.3.8).
                server.log.append((self.path, self.headers.get("Authorization"), "TRACE"))
                body = (self.requestline + "\r\n" + str(self.headers)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "message/http")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        http.server.ThreadingHTTPServer.request_queue_size = 128
        self.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(f"{d}/srv.crt", f"{d}/srv.key")
        self.http.socket = context.wrap_socket(self.http.socket, server_side=True)
        self.port = self.http.server_address[1]
        threading.Thread(target=self.http.serve_forever, daemon=True).start()


class PlainServer:
    """A plain HTTP server on 127.0.0.1: records (path, Authorization) and answers 200."""

    def __init__(self):
        server = self
        self.log = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                server.log.append((self.path, self.headers.get("Authorization")))
                self.send_response(200)
                self.send_header("Content-Length", "3")
                self.end_headers()
                self.wfile.write(b"hi\n")

            def log_message(self, *args):
                pass

        self.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        self.port = self.http.server_address[1]
        threading.Thread(target=self.http.serve_forever, daemon=True).start()


_servers = {}


def tls_server():
    """The module's HTTPS server (one for both modes), its log emptied for the test."""
    if "tls" not in _servers:
        _servers["tls"] = TlsServer(["api.test", "api2.test"])
    _servers["tls"].log.clear()
    return _servers["tls"]


def plain_server():
    if "plain" not in _servers:
        _servers["plain"] = PlainServer()
    _servers["plain"].log.clear()
    return _servers["plain"]


def credential_opts(ctx, token_path, s, extra_hosts=None, ca=True):
    hosts = hosts_file(ctx, dict({"api.test": "127.0.0.1", "api2.test": "127.0.0.1",
                                  "other.test": "127.0.0.1"}, **(extra_hosts or {})))
    opts = ["--credential", f"TOKEN=@{token_path},host=api.test:{s.port}",
            "--allow-net", f"127.0.0.1:{s.port}", "--hosts-file", hosts]
    return opts + (["--ca-file", s.ca_file] if ca else [])


CURL = "curl -sS --max-time 10 -o /dev/null -w '%{http_code}\\n'"


def test_credential_reaches_its_host_and_only_its_host(ctx):
    s, plain = tls_server(), plain_server()
    token = unique_token()
    s.token = token
    path = write_file(ctx, token + "\n")  # a file written with echo: its newline is dropped
    opts = credential_opts(ctx, path, s) + ["--allow-net", f"other.test:{plain.port}",
                                            "--allow-net", f"127.0.0.1:{plain.port}"]
    script = (
        'echo "$TOKEN"; '
        f'{CURL} -H "Authorization: Bearer $TOKEN" https://api.test:{s.port}/v1/me; '
        # a second allowed host gets no credential, and the placeholder never goes there
        f'{CURL} http://other.test:{plain.port}/plain; '
        f'{CURL} -H "Authorization: Bearer $TOKEN" http://other.test:{plain.port}/leak; '
        f'{CURL} "http://other.test:{plain.port}/q?k=$TOKEN"; '
        # the value is nowhere inside: environment, command lines, files
        # (the pattern is spelled so that no command line holding it matches it)
        f'grep -rlsa "{PREFIX[:-2]}[{PREFIX[-2]}]-" /proc/[0-9]*/environ /proc/[0-9]*/cmdline /etc /run /tmp /home '
        '| wc -l')
    r, events, rep = run_net(ctx, script, opts)
    lines = r.out.split()
    placeholder = lines[0] if lines else ""
    expect(r.returncode == 0 and placeholder.startswith("stockade-placeholder-") and
           PREFIX not in r.out, f"the sandbox's $TOKEN: {r}")
    expect(lines[1:] == ["200", "200", "403", "403", "0"], f"answers inside: {r}")
    expect((("/v1/me", f"Bearer {token}", f"api.test:{s.port}") in s.log),
           f"the host did not see the real token: {s.log}")
    expect(plain.log == [("/plain", None)], f"the other host saw: {plain.log}")
    terminated = [e for e in events if e.get("carries") == "terminated"]
    expect(len(terminated) == 1 and terminated[0]["method"] == "GET" and
           terminated[0]["path"] == "/v1/me" and terminated[0]["status"] == 200 and
           terminated[0]["credential"] == "TOKEN", f"the audit of the request: {events}")
    refused = [e for e in events if e["decision"] == "deny"]
    expect(len(refused) == 2 and all(e.get("credential") == "TOKEN" and "placeholder" in
                                     e["reason"] for e in refused), f"the refusals: {events}")
    layers = {layer["name"]: layer for layer in rep.get("layers", [])} if isinstance(
        rep.get("layers"), list) else rep.get("layers", {})
    expect("credentials" in json.dumps(layers), f"the report's layers: {rep}")
    for where, text in (("stdout", r.out), ("stderr", r.err), ("audit", json.dumps(events)),
                        ("report", json.dumps(rep))):
        expect(token not in text, f"the real value in {where}")


def test_real_value_is_only_in_the_proxy_process(ctx):
    """While the sandbox runs: the value (from a file and from a variable) is in the proxy
    process's memory and nowhere else of stockade's on the host; afterwards not in the output,
    report, audit, policy show or STOCKADE_HOME."""
    s = tls_server()
    from_file, from_env = unique_token(), unique_token()
    path = write_file(ctx, from_file)
    home = ctx.fresh_state()
    d = ctx.tmpdir(mode=0o777)
    report, audit = os.path.join(d, "report.json"), os.path.join(d, "audit.jsonl")
    hosts = hosts_file(ctx, {"api.test": "127.0.0.1", "api2.test": "127.0.0.1"})
    opts = ["--credential", f"A=@{path},host=api.test:{s.port}",
            "--credential", f"B=env:SRC,host=api2.test:{s.port}",
            "--allow-net", f"127.0.0.1:{s.port}", "--hosts-file", hosts, "--ca-file", s.ca_file,
            "--audit", audit, "--report", report]
    s.token = from_file
    script = (f'{CURL} -H "Authorization: Bearer $A" https://api.test:{s.port}/a; '
              "echo ready; exec sleep 20")
    env = {"SRC": from_env, "STOCKADE_HOME": home}
    p, out = start_until_ready(ctx, opts, script, env)
    try:
        expect(b"ready" in out and out.split()[0] == b"200", f"the sandbox: {out!r}")
        host = _host_side(_descendants(p.pid))
        proxy = [pid for pid in host if pid != p.pid]
        expect(len(proxy) == 1, f"stockade and its proxy: {host}")
        for value in (from_file, from_env):
            expect("memory" in _where(proxy[0], value.encode(), whole=True),
                   "the scan does not find the value in the proxy, which holds it")
            expect(not _where(p.pid, value.encode()),
                   f"the value in the supervisor: {_where(p.pid, value.encode())}")
    finally:
        p.kill()
        rest, err = p.communicate(timeout=30)
    shown = ctx.stockade("policy", "show", *opts, env=env)
    expect(shown.returncode == 0 and json.loads(shown.out)["credentials"] == [
        f"A=@{path},host=api.test:{s.port}", f"B=env:SRC,host=api2.test:{s.port}"],
        f"policy show: {shown}")
    for value in (from_file, from_env):
        for name, text in (("stdout", out + rest), ("stderr", err), ("policy", shown.raw_out)):
            expect(value.encode() not in text, f"the value in {name}")
        expect(not _files_holding(d, value.encode()), "the value in the report or audit")
        expect(not _files_holding(home, value.encode()), "the value in STOCKADE_HOME")
    expect(os.path.getsize(audit) > 0, "no audit line")


def test_bad_upstream_certificate_is_refused(ctx):
    s = tls_server()
    token = unique_token()
    s.token = token
    path = write_file(ctx, token)
    before = len(s.log)
    # The host's store does not trust the test CA; then a host name the certificate lacks.
    cases = [(credential_opts(ctx, path, s, ca=False), "api.test",
              "upstream certificate refused: unable to get local issuer certificate"),
             (["--credential", f"TOKEN=@{path},host=wrong.test:{s.port}", "--ca-file", s.ca_file,
               "--allow-net", f"127.0.0.1:{s.port}",
               "--hosts-file", hosts_file(ctx, {"wrong.test": "127.0.0.1"})], "wrong.test",
              "upstream certificate refused: hostname mismatch")]
    for opts, name, reason in cases:
        r, events, _ = run_net(ctx, f'curl -sS --max-time 10 -D - -H "Authorization: Bearer '
                               f'$TOKEN" https://{name}:{s.port}/x', opts + ["--quiet"])
        expect("HTTP/1.1 502" in r.out and reason in r.out, f"the client's answer: {r}")
        denied = [e for e in events if e["decision"] == "deny"]
        expect(len(denied) == 1 and denied[0]["reason"] == reason, f"the audit: {events}")
    expect(len(s.log) == before, f"a request reached the server: {s.log[before:]}")


def test_trust_store_inside(ctx):
    s = tls_server()
    path = write_file(ctx, unique_token())
    with open("/etc/ssl/certs/ca-certificates.crt") as f:
        host_count = f.read().count("BEGIN CERTIFICATE")
    script = ("for v in SSL_CERT_FILE NODE_EXTRA_CA_CERTS REQUESTS_CA_BUNDLE CURL_CA_BUNDLE; do "
              'printenv $v; done; grep -c "BEGIN CERTIFICATE" /etc/ssl/certs/ca-certificates.crt '
              "/etc/stockade-ca-bundle.crt | cut -d: -f2; "
              "cat /etc/ssl/certs/ca-certificates.crt /etc/stockade-ca-bundle.crt | "
              "grep -c PRIVATE; "
              "awk '/BEGIN/{c=\"\"} {c=c $0 \"\\n\"} END{printf \"%s\", c}' "
              "/etc/stockade-ca-bundle.crt | openssl x509 -noout -text | "
              "grep -A5 'Name Constraints' | tr -d ' ' | tail -n +2; "
              # no variable: curl reads the curated /etc/ssl, which holds the run's CA too
              f'env -u CURL_CA_BUNDLE -u SSL_CERT_FILE {CURL} https://api.test:{s.port}/t')
    r, _, _ = run_net(ctx, script, credential_opts(ctx, path, s))
    lines = r.out.split("\n")
    expect(r.returncode == 0 and lines[:4] == ["/etc/stockade-ca-bundle.crt"] * 4,
           f"the variables: {r}")
    expect(lines[4:6] == [str(host_count + 1)] * 2, f"the bundles hold the run's CA: {r}")
    expect(lines[6] == "0", f"a private key inside: {r}")
    # the names permitted, and every address excluded (else the CA could vouch for any IP)
    expect(lines[7:12] == ["Permitted:", "DNS:api.test", "Excluded:", "IP:0.0.0.0/0.0.0.0",
                           "IP:0:0:0:0:0:0:0:0/0:0:0:0:0:0:0:0"], f"name constraints: {r}")
    expect(lines[12] == "401", f"a client reading only /etc/ssl: {r}")


def _undici_dir():
    """undici (node's fetch with a proxy agent), npm-installed once per run: node 20's own
    fetch ignores HTTPS_PROXY. Skipped visibly without node, npm or a registry."""
    if "undici" in _servers:
        return _servers["undici"]
    missing = [t for t in ("node", "npm") if not shutil.which(t, path=harness.BASE_ENV["PATH"])]
    if missing:
        raise harness.Skip(f"{' and '.join(missing)} not installed (`make deps` installs them)")
    top = tempfile.mkdtemp(prefix="stockade-undici-")
    atexit.register(harness.remove_tree, top)
    r = subprocess.run(["npm", "install", "--prefix", top, "--no-audit", "--no-fund",
                        "--loglevel=error", f"undici@{UNDICI_VERSION}"],
                       capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, npm_config_update_notifier="false"))
    if r.returncode != 0:
        raise harness.Skip("cannot npm-install undici (no registry?): " +
                           " ".join(r.stderr.split())[-300:])
    tar = os.path.join(top, "undici.tar")
    with tarfile.open(tar, "w") as t:
        t.add(os.path.join(top, "node_modules"), arcname="node_modules")
    _servers["undici"] = tar
    return tar


NODE_HTTPS = r'''
const http = require("http"), tls = require("tls");
// What npm's proxy agents do: CONNECT, then TLS over the tunnel (NODE_EXTRA_CA_CERTS).
const u = new URL(process.env.HTTPS_PROXY);
const req = http.request({host: u.hostname, port: u.port, method: "CONNECT",
                          path: `api.test:${process.argv[1]}`,
                          headers: {Host: `api.test:${process.argv[1]}`}});
req.on("connect", (res, socket) => {
  const s = tls.connect({socket, servername: "api.test"}, () => {
    s.write(`GET /node-https HTTP/1.1\r\nHost: api.test:${process.argv[1]}\r\n` +
            `Authorization: Bearer ${process.env.TOKEN}\r\nConnection: close\r\n\r\n`);
  });
  let out = ""; s.on("data", d => out += d);
  s.on("end", () => console.log(out.split(" ")[1]));
  s.on("error", e => console.log("ERR " + e.message));
});
req.on("error", e => console.log("ERR " + e.message));
req.end();
'''

NODE_FETCH = r'''
const {fetch, ProxyAgent} = require("/tmp/node_modules/undici");
fetch(`https://api.test:${process.argv[1]}/node-fetch`,
      {headers: {Authorization: `Bearer ${process.env.TOKEN}`},
       dispatcher: new ProxyAgent(process.env.HTTPS_PROXY)})
  .then(r => console.log(r.status)).catch(e => console.log("ERR " + (e.cause || e)));
'''


def test_clients_python_and_node(ctx):
    s = tls_server()
    token = unique_token()
    s.token = token
    path = write_file(ctx, token)
    opts = credential_opts(ctx, path, s)
    py = ("import os, urllib.request\n"
          f"r = urllib.request.Request('https://api.test:{s.port}/py', headers={{"
          "'Authorization': 'Bearer ' + os.environ['TOKEN']})\n"
          "print(urllib.request.urlopen(r, timeout=10).status)\n")
    r, events, _ = run_net(ctx, ["python3", "-c", py], opts)
    expect(r.returncode == 0 and r.out.strip() == "200", f"python urllib: {r}")
    if not shutil.which("node", path=harness.BASE_ENV["PATH"]):
        raise harness.Skip("node is not installed (`make deps` installs it)")
    r, events, _ = run_net(ctx, ["node", "-e", NODE_HTTPS, str(s.port)], opts)
    expect(r.returncode == 0 and r.out.strip() == "200", f"node https over CONNECT: {r}")
    tar = _undici_dir()
    with open(tar, "rb") as f:
        data = f.read()
    r = ctx.sandbox(["sh", "-c", 'tar -C /tmp -xf - && exec node -e "$0" "$1"', NODE_FETCH,
                     str(s.port)], opts=opts, input=data)
    expect(r.returncode == 0 and r.out.strip() == "200", f"node fetch (undici): {r}")
    seen = [p for p, auth, _ in s.log if auth == f"Bearer {token}"]
    expect({"/py", "/node-https", "/node-fetch"} <= set(seen), f"the host saw: {s.log}")


def test_refusals(ctx):
    token = unique_token()
    path = write_file(ctx, token)
    home = ctx.fresh_state()
    d = ctx.tmpdir()
    pol = os.path.join(d, "p.json")
    with open(pol, "w") as f:
        json.dump({"stockade": 1, "credentials": [f"K=@{path},host=api.example.com"]}, f)
    os.chmod(pol, 0o644)
    cases = [
        (["--credential", f"K={token},host=api.example.com"], "must be @FILE or env:VAR"),
        (["--credential", f"K=@{path}"], "host= names where the value may go"),
        (["--credential", f"K=@{path},host=*.example.com"], "invalid host=*.example.com"),
        (["--credential", f"K=@{path},host=10.0.0.1"], "invalid host=10.0.0.1"),
        (["--credential", f"K=@{path},host=a.example.com,header=Host"], "frames or routes"),
        (["--credential", f"K=@{path},host=a.example.com,format=Bearer"], "must hold {} once"),
        (["--credential", f"K=@{path},host=a.example.com", "-e", "K=1"], "and so does -e"),
        (["--credential", f"PATH=@{path},host=a.example.com"], "stockade sets PATH itself"),
        (["--credential", f"K=@{path},host=a.example.com", "--credential",
          f"L=@{path},host=a.example.com:443"], "a.example.com:443 is named twice"),
        (["--ca-file", path, "--allow-net", "a.example.com"], "there is none"),
        (["--network", "public", "--credential", f"K=@{path},host=a.example.com"],
         "a run that holds credentials (K) cannot have the public network"),
        (["--policy", pol, "--network", "public"],
         "a run that holds credentials (K) cannot have the public network"),
        # its source read as a secret's is, in its own words
        (["--credential", "K=env:NOT_SET_ANYWHERE,host=a.example.com"],
         "--credential K: $NOT_SET_ANYWHERE is not set"),
        (["--credential", f"K=@{path}.missing,host=a.example.com"], "--credential K: open"),
    ]
    for opts, needle in cases:
        r = ctx.stockade("run", "-v", "proof:/proof", *opts, "--", "touch", "/proof/ran",
                         env={"STOCKADE_HOME": home})
        one_line_125(r, needle)
        expect(token not in r.err, f"the value in a message: {r}")
    # nothing was created: no volume, so no run got as far as the store
    r = ctx.stockade("volume", "ls", env={"STOCKADE_HOME": home})
    expect("proof" not in r.out, f"a refused run created its volume: {r}")
    with open(pol, "w") as f:
        json.dump({"stockade": 1, "credentials": [f"K=@{path},host=api.example.com"],
                   "network": {"mode": "public"}}, f)
    r = ctx.stockade("policy", "check", pol)
    expect(r.returncode == 1 and "cannot have the public network" in r.out, f"policy check: {r}")
    # a value that would split the header is refused when the proxy reads it, not echoed
    bad = write_file(ctx, "stk-cred-a\r\nX-Evil: 1", "bad")
    r = ctx.stockade("run", "--credential", f"K=@{bad},host=a.example.com", "--", "true",
                     env={"STOCKADE_HOME": home})
    one_line_125(r, "credential K: its value cannot go in a header")
    expect("X-Evil" not in r.err, f"{r}")


def test_trace_never_carries_the_value(ctx):
    """TRACE asks the server to send the request back, headers and all (Apache answers it by
    default): with the value put in, the workload would read it in the body. RFC 9110 9.3.8:
    a client must not send credentials in a TRACE. The proxy refuses TRACE (and IIS's TRACK)
    to a credential's host, in any case of the method, before anything goes upstream."""
    s = tls_server()
    token = unique_token()
    s.token = token
    path = write_file(ctx, token)
    script = "; ".join(
        f'curl -sS --max-time 10 -X {method} -H "Authorization: Bearer $TOKEN" '
        f"https://api.test:{s.port}/{method}; echo"
        for method in ("TRACE", "trace", "TRACK"))
    r, events, _ = run_net(ctx, script, credential_opts(ctx, path, s) + ["--quiet"])
    expect(token not in r.out and PREFIX not in r.out, f"the value came back: {r}")
    expect(r.out.count("stockade: ") == 3 and "TRACE" in r.out, f"the answers: {r}")
    expect(not [e for e in s.log if e[0].lower().startswith("/tr")],
           f"a TRACE reached the host: {s.log}")
    denied = [e for e in events if e["decision"] == "deny"]
    expect(len(denied) == 3 and all("TRACE" in e["reason"] for e in denied),
           f"the audit: {events}")


def test_other_credentials_placeholder_is_refused_with_its_own(ctx):
    """Two credentials, two hosts: a request to A's host that carries A's placeholder (put in)
    and B's too (elsewhere in the head) is refused — B's placeholder never goes to A's host,
    whichever credential is listed first."""
    s = tls_server()
    token_a, token_b = unique_token(), unique_token()
    s.token = token_a
    path_a, path_b = write_file(ctx, token_a, "a"), write_file(ctx, token_b, "b")
    hosts = hosts_file(ctx, {"api.test": "127.0.0.1", "api2.test": "127.0.0.1"})
    common = ["--allow-net", f"127.0.0.1:{s.port}", "--hosts-file", hosts,
              "--ca-file", s.ca_file, "--quiet"]
    a = ["--credential", f"A=@{path_a},host=api.test:{s.port}"]
    b = ["--credential", f"B=@{path_b},host=api2.test:{s.port}"]
    script = (f'{CURL} -H "Authorization: Bearer $A" -H "X-Other: $B" '
              f'https://api.test:{s.port}/both; '
              f'{CURL} -H "Authorization: Bearer $A" https://api.test:{s.port}/own')
    for order in (a + b, b + a):
        s.log.clear()
        r, events, _ = run_net(ctx, script, order + common)
        expect(r.out.split() == ["403", "200"], f"the answers ({order[1][:1]} first): {r}")
        expect([p for p, _, _ in s.log] == ["/own"], f"the host saw: {s.log}")
        denied = [e for e in events if e["decision"] == "deny"]
        expect(len(denied) == 1 and denied[0].get("credential") == "B",
               f"the audit: {events}")


def test_upstream_failure_after_the_request_is_one_allowed_record(ctx):
    """A host that takes the request (and the value) and hangs up without an answer: the client
    gets a 502, and the audit has one record for the connection — allowed, since the request
    and the credential went, with why it ended — not a denial beside it, which would say the
    credential never left and count one connection twice."""
    s = tls_server()
    token = unique_token()
    s.token = token
    path = write_file(ctx, token)
    r, events, rep = run_net(
        ctx, f'{CURL} -H "Authorization: Bearer $TOKEN" https://api.test:{s.port}/hangup',
        credential_opts(ctx, path, s) + ["--quiet"])
    expect(r.out.strip() == "502", f"the client's answer: {r}")
    expect([p for p, auth, _ in s.log] == ["/hangup"] and s.log[0][1] == f"Bearer {token}",
           f"the host saw: {s.log}")
    expect(len(events) == 1 and events[0]["decision"] == "allow" and
           events[0].get("credential") == "TOKEN" and events[0]["path"] == "/hangup" and
           "before a response" in events[0]["reason"], f"the audit: {events}")
    expect(rep.get("egress") == {"allowed": 1, "denied": 0}, f"the report's counts: {rep}")


def test_placeholder_as_a_file_when_asked(ctx):
    """--credential NAME=...,file: the placeholder (never the value) is also
    /run/secrets/NAME, 0400 and the sandbox user's, on the read-only secrets' tmpfs, and the
    request with the file's content works; beside a secret; a secret of the same name is
    refused; policy show keeps ",file"."""
    s = tls_server()
    token = unique_token()
    s.token = token
    path = write_file(ctx, token)
    secret = write_file(ctx, "a secret value")
    opts = credential_opts(ctx, path, s)
    opts[1] += ",file"
    script = ('test "$(cat /run/secrets/TOKEN)" = "$TOKEN" && echo same; '
              "stat -c '%a %u' /run/secrets/TOKEN; cat /run/secrets/other; echo; "
              "touch /run/secrets/x 2>/dev/null || echo read-only; "
              f'{CURL} -H "Authorization: Bearer $(cat /run/secrets/TOKEN)" '
              f"https://api.test:{s.port}/f")
    r, _, _ = run_net(ctx, script, opts + ["--secret", f"other=@{secret}"])
    expect(r.returncode == 0 and r.out.split("\n")[:5] ==
           ["same", "400 10001", "a secret value", "read-only", "200"], f"inside: {r}")
    expect(token not in r.out, f"the value inside: {r}")
    # No secret at all: the placeholder alone makes the secrets' tmpfs, read-only as ever.
    r, _, _ = run_net(ctx, 'test "$(cat /run/secrets/TOKEN)" = "$TOKEN" && echo same; '
                      "touch /run/secrets/x 2>/dev/null || echo read-only", opts)
    expect(r.returncode == 0 and r.out == "same\nread-only\n", f"without secrets: {r}")
    r = ctx.sandbox("true", opts=opts + ["--secret", f"TOKEN=@{secret}"])
    expect(r.returncode == 125 and "/run/secrets/TOKEN is a secret's" in r.err, f"{r}")
    shown = ctx.stockade("policy", "show", *opts)
    expect(shown.returncode == 0 and json.loads(shown.out)["credentials"][0].endswith(",file"),
           f"policy show: {shown}")


def _stamps(path):
    """The 20-hex-digit strings of a binary: the wire's stamp among them (net/proxy_wire.h)."""
    with open(path, "rb") as f:
        return set(re.findall(rb"\x00([0-9a-f]{20})\x00", f.read()))


def _stockade_alone(ctx, mode=0o755):
    """A copy of stockade alone in a directory of its own (mode), for the tests of how it finds
    stockade-tls there: (the HTTPS server, the credential's file, a fresh STOCKADE_HOME, the
    directory, run), run() a credential run of that copy touching /proof/ran in volume proof."""
    s = tls_server()
    path = write_file(ctx, unique_token())
    home = ctx.fresh_state()
    d = ctx.tmpdir(mode=mode)
    shutil.copy2(ctx.stockade_path, os.path.join(d, "stockade"))

    def run():
        return ctx.run([os.path.join(d, "stockade"), "run", "-v", "proof:/proof",
                        *credential_opts(ctx, path, s), "--", "touch", "/proof/ran"],
                       env={"STOCKADE_HOME": home})
    return s, path, home, d, run


def test_stockade_tls_beside_and_of_this_build(ctx):
    """A run with credentials execs stockade-tls from beside its own binary (net/proxy_wire.h):
    missing, of another build (its stamp changed), or a program that says nothing, the run
    stops before anything is made, with one line; nothing of it is left running."""
    s, path, home, d, run = _stockade_alone(ctx)
    helper = os.path.join(d, "stockade-tls")
    with open(ctx.helper("stockade-tls"), "rb") as f:
        real = f.read()
    common = _stamps(ctx.stockade_path) & _stamps(ctx.helper("stockade-tls"))
    expect(len(common) == 1, f"one stamp in both binaries: {common}")
    stamp = common.pop()
    other = bytes(reversed(stamp)) if bytes(reversed(stamp)) != stamp else b"0" * 20

    def write_helper(data):
        if os.path.exists(helper):
            os.unlink(helper)
        with open(helper, "wb") as f:
            f.write(data)
        os.chmod(helper, 0o755)

    one_line_125(run(), "stockade-tls: No such file or directory", "beside stockade")
    write_helper(real.replace(b"\x00" + stamp + b"\x00", b"\x00" + other + b"\x00"))
    one_line_125(run(), "stockade-tls is not from the build of this stockade")
    with open("/bin/true", "rb") as f:  # runs, ignores the wire, exits 0
        write_helper(f.read())
    one_line_125(run(), "stockade-tls ca died while starting (exit status 0)")
    write_helper(real)  # the real one, beside a copy: works
    r = run()
    expect(r.returncode == 0, f"with the real stockade-tls: {r}")
    r = ctx.stockade("volume", "ls", env={"STOCKADE_HOME": home})
    expect(r.out.count("proof") == 1, f"only the last run made its volume: {r}")
    expect(not _running_from(d), f"processes of the runs left: {_running_from(d)}")


def _running_from(d):
    """The processes whose executable is in directory d."""
    found = []
    for p in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            if os.readlink(f"/proc/{p}/exe").startswith(d + "/"):
                found.append(p)
        except OSError:  # gone, or not ours to read
            pass
    return found


def test_stockade_tls_someone_else_may_write_is_refused(ctx):
    """stockade run from a directory others may write (a sticky, world-writable one, as /tmp
    is): another user cannot replace stockade there, but can put a stockade-tls beside it,
    which would then run as the caller (root too) with the credentials' values and the run's
    CA. A stockade-tls of another user's, or one others may rewrite, is refused before
    anything is made; root's (or the caller's) with no write bit for others works."""
    s, path, home, d, run = _stockade_alone(ctx, mode=0o1777)
    helper = os.path.join(d, "stockade-tls")
    shutil.copy2(ctx.helper("stockade-tls"), helper)

    # nobody: neither root, nor the caller, nor the owner of stockade (root)
    os.chown(helper, 65534, 65534)
    one_line_125(run(), f"{helper}: another user's", "stockade-tls")
    os.chown(helper, 0, 0)
    for mode in (0o757, 0o775):  # others, or a group stockade is not writable by, may write
        os.chmod(helper, mode)
        one_line_125(run(), f"{helper}: writable by others")
    os.chmod(helper, 0o755)
    r = run()
    expect(r.returncode == 0, f"root's stockade-tls, writable by root only: {r}")
    r = ctx.stockade("volume", "ls", env={"STOCKADE_HOME": home})
    expect(r.out.count("proof") == 1, f"only the last run made its volume: {r}")
    expect(not _running_from(d), f"processes of the runs left: {_running_from(d)}")


def test_stockade_tls_as_a_symlink_is_refused(ctx):
    """The same directory, with another user's symlink as stockade-tls: its target is root's
    (/bin/sh), so an owner check of the target passes, and `sh ca FD` runs the script "ca"
    of the working directory — the other user's — as the caller. stockade-tls must be the
    file itself: a symlink is refused, before anything is made, and nothing runs."""
    s, path, home, d, _ = _stockade_alone(ctx, mode=0o1777)
    helper = os.path.join(d, "stockade-tls")
    os.symlink("/bin/sh", helper)
    os.lchown(helper, 65534, 65534)
    proof = os.path.join(d, "ran-as-the-caller")
    with open(os.path.join(d, "ca"), "w") as f:
        f.write(f"touch {proof}\n")
    os.chown(os.path.join(d, "ca"), 65534, 65534)
    r = ctx.run(["sh", "-c", 'cd "$0" && exec ./stockade "$@"', d, "run", "-v", "proof:/proof",
                 *credential_opts(ctx, path, s), "--", "touch", "/proof/ran"],
                env={"STOCKADE_HOME": home})
    expect(not os.path.exists(proof), f"the other user's script ran as the caller: {r}")
    one_line_125(r, f"{helper}: a symbolic link")
    r = ctx.stockade("volume", "ls", env={"STOCKADE_HOME": home})
    expect("proof" not in r.out, f"the refused run made its volume: {r}")
    expect(not _running_from(d), f"processes of the run left: {_running_from(d)}")


def test_stockade_holds_no_openssl(ctx):
    """libcrypto's relocations cost every start of a static-pie binary ~0.8 ms, so OpenSSL is
    in stockade-tls only (net/proxy_wire.h); `stockade` (and so every run, exec, ps) has none."""
    with open(ctx.stockade_path, "rb") as f:
        expect(b"OpenSSL" not in f.read(), "the stockade binary holds OpenSSL")
    with open(ctx.helper("stockade-tls"), "rb") as f:
        expect(b"OpenSSL" in f.read(), "stockade-tls holds no OpenSSL: the check finds nothing")


def _fd_targets(pid):
    """{fd: what it refers to} of process pid (root reads a non-dumpable process's too)."""
    out = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out[int(fd)] = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:  # closed meanwhile
            pass
    return out


def _stockade_tls_children(pid):
    """The children of pid that run stockade-tls (its proxy)."""
    kids = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    found = []
    for kid in (int(k) for k in kids.stdout.split()):
        try:
            if os.path.basename(os.readlink(f"/proc/{kid}/exe")) == "stockade-tls":
                found.append(kid)
        except OSError:
            pass
    return found


def _check_stockade_tls_proxy(ctx, supervisor, caller_file, where):
    """The proxy of supervisor is stockade-tls, holds nothing of the supervisor's or the
    caller's but fds 0-2 and its two pipes (control, counts): no memfd (the values and the
    CA's key are read, then closed), no pidfd, signalfd or unix socket of the supervisor,
    not the O_PATH of itself; and it dropped privileges and confined itself as a forked
    proxy does (test_egress.test_proxy_confines_itself)."""
    proxies = _stockade_tls_children(supervisor)
    expect(len(proxies) == 1, f"{where}: one stockade-tls proxy under {supervisor}: {proxies}")
    proxy = proxies[0]
    mine, theirs = _fd_targets(proxy), _fd_targets(supervisor)
    high = {fd: t for fd, t in mine.items() if fd > 2}
    odd = {fd: t for fd, t in high.items() if not (t.startswith("socket:[") or
                                                   t.startswith("pipe:[") or
                                                   t == "anon_inode:[eventpoll]")}
    expect(not odd, f"{where}: the proxy holds {odd} (all: {mine})")
    expect(caller_file not in mine.values(), f"{where}: the caller's fd reached the proxy")
    shared = {t for t in high.values() if t in theirs.values()}
    expect(len(shared) == 2 and all(t.startswith("pipe:[") for t in shared),
           f"{where}: shared with the supervisor: {shared} (proxy {mine}, supervisor {theirs})")
    with open(f"/proc/{proxy}/status") as f:
        status = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    uid = "65534" if ctx.is_root else str(ctx.user.pw_uid)
    expect(status.get("Uid", "").split() == [uid] * 4, f"{where}: proxy uids {status}")
    expect(status.get("NoNewPrivs") == "1" and status.get("Seccomp") == "2" and
           status.get("CapEff") == status.get("CapPrm") == "0000000000000000",
           f"{where}: the proxy is not confined: {status}")
    # /proc/PID of a non-dumpable process is root's; of a dumpable one, its uid's.
    expect(os.stat(f"/proc/{proxy}/fd").st_uid == 0, f"{where}: the proxy is dumpable")


def test_stockade_tls_proxy_holds_only_its_own(ctx):
    """Seen from the host, in a one-shot run and in a long-lived one after an exec (whose
    caller's fds must not reach it either): stockade-tls proxy's descriptors and confinement
    (_check_stockade_tls_proxy). stockade is given an extra fd of the caller's."""
    s = tls_server()
    token = unique_token()
    s.token = token
    path = write_file(ctx, token)
    opts = credential_opts(ctx, path, s)
    caller_file = "/etc/hostname"
    with open(caller_file) as extra:
        p = ctx.popen([ctx.stockade_path, "run", *opts, "--", "sh", "-c",
                       f'{CURL} -H "Authorization: Bearer $TOKEN" https://api.test:{s.port}/1; '
                       "echo ready; exec sleep 20"], stdout=subprocess.PIPE,
                      stderr=subprocess.PIPE, pass_fds=(extra.fileno(),))
    try:
        line = p.stdout.readline()
        expect(line == b"200\n" and p.stdout.readline() == b"ready\n", f"one-shot: {line!r}")
        _check_stockade_tls_proxy(ctx, p.pid, caller_file, "one-shot")
    finally:
        p.kill()
        p.communicate(timeout=30)
    home = harness.Home(ctx)
    with open(caller_file) as extra:
        r = ctx.run([ctx.stockade_path, "run", "-d", "--name", "tls", *opts], env=home.env,
                    pass_fds=(extra.fileno(),))
    expect(r.returncode == 0, f"run -d: {r}")
    with open(os.path.join(home.home, "sandboxes", "tls", "state.json")) as f:
        supervisor = json.load(f)["supervisor_pid"]
    with open(caller_file) as extra:
        r = ctx.run([ctx.stockade_path, "exec", "tls", "--", "sh", "-c",
                     f'{CURL} -H "Authorization: Bearer $TOKEN" https://api.test:{s.port}/2'],
                    env=home.env, pass_fds=(extra.fileno(),))
    expect(r.out == "200\n", f"exec in the long-lived sandbox: {r}")
    _check_stockade_tls_proxy(ctx, supervisor, caller_file, "run -d")
    expect([p for p, auth, _ in s.log] == ["/1", "/2"] and
           all(auth == f"Bearer {token}" for _, auth, _ in s.log), f"the host saw: {s.log}")
    # The supervisor killed: the proxy goes too (as root its uid change cleared the
    # parent-death signal: the end of its control pipe stops it).
    proxy = _stockade_tls_children(supervisor)[0]
    os.kill(supervisor, signal.SIGKILL)
    deadline = time.time() + 10
    while _is_alive(proxy) and time.time() < deadline:
        time.sleep(0.05)
    expect(not _is_alive(proxy), f"stockade-tls {proxy} outlived its supervisor")


def _is_alive(pid):
    """pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def _ca_key_needles(pem):
    """What of the run's CA key (PEM, from its memfd) a process could hold: a line of the PEM,
    its DER, and the private scalar in both byte orders (OpenSSL's BIGNUM keeps it as
    little-endian words: the reversed bytes on x86_64)."""
    der = subprocess.run(["openssl", "pkey", "-outform", "DER"], input=pem,
                         capture_output=True, check=True).stdout
    text = subprocess.run(["openssl", "pkey", "-noout", "-text"], input=pem,
                          capture_output=True, check=True).stdout.decode()
    hexed = re.search(r"priv:\n((?:\s+[0-9a-f:]+\n)+)", text).group(1)
    scalar = bytes.fromhex(re.sub(r"[\s:]", "", hexed))[-32:].rjust(32, b"\0")
    # a line of the PEM as written (the first one's start is the ASN.1 header of every key)
    line = pem.split(b"\n")[2]
    return {"pem": line, "der": der, "scalar": scalar, "reversed": scalar[::-1]}


def test_ca_key_is_only_in_stockade_tls(ctx):
    """While the sandbox runs: the run's CA key is in the memory of stockade-tls proxy and
    nowhere else of stockade's (the supervisor holds its memfd unread: no process but it
    holds that memfd), nor in any process of the sandbox; afterwards not in the output,
    report, audit or STOCKADE_HOME."""
    s = tls_server()
    token = unique_token()
    s.token = token
    path = write_file(ctx, token)
    home = ctx.fresh_state()
    d = ctx.tmpdir(mode=0o777)
    report, audit = os.path.join(d, "report.json"), os.path.join(d, "audit.jsonl")
    opts = credential_opts(ctx, path, s) + ["--audit", audit, "--report", report]
    script = (f'{CURL} -H "Authorization: Bearer $TOKEN" https://api.test:{s.port}/k; '
              "echo ready; exec sleep 20")
    p, out = start_until_ready(ctx, opts, script, {"STOCKADE_HOME": home})
    try:
        expect(b"ready" in out and out.split()[0] == b"200", f"the sandbox: {out!r}")
        holders = {}
        for pid in (n for n in os.listdir("/proc") if n.isdigit()):
            try:
                for fd, target in _fd_targets(pid).items():
                    if target.startswith("/memfd:stockade-ca-key"):
                        holders[int(pid)] = fd
            except OSError:
                pass
        expect(list(holders) == [p.pid], f"the CA key's memfd is held by {holders}")
        with open(f"/proc/{p.pid}/fd/{holders[p.pid]}", "rb") as f:
            pem = f.read()
        expect(pem.startswith(b"-----BEGIN PRIVATE KEY-----"), f"the memfd: {pem[:40]!r}")
        needles = _ca_key_needles(pem)
        everyone = _descendants(p.pid)
        host = _host_side(everyone)
        proxy = _stockade_tls_children(p.pid)
        expect(len(proxy) == 1, f"one stockade-tls under stockade: {proxy}")
        expect(_memory_holds(proxy[0], needles["reversed"], whole=True) or
               _memory_holds(proxy[0], needles["scalar"], whole=True),
               "the scan does not find the key in stockade-tls, which holds it")
        for pid in everyone:
            if pid == proxy[0]:
                continue
            side = "the host" if pid in host else "the sandbox"
            for name, needle in needles.items():
                expect(not _memory_holds(pid, needle),
                       f"the CA key ({name}) in the memory of {pid}, on {side}")
    finally:
        p.kill()
        rest, err = p.communicate(timeout=30)
    for name, needle in needles.items():
        expect(needle not in out + rest + err, f"the CA key ({name}) in the output")
        expect(not _files_holding(d, needle), f"the CA key ({name}) in the report or audit")
        expect(not _files_holding(home, needle), f"the CA key ({name}) in STOCKADE_HOME")
