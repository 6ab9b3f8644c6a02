"""The proxy's reach beyond an allowlist: `--network public` (any public address on the public
ports, nothing else) and `host.stockade.internal` (a service on the host's 127.0.0.1, one
named port at a time). Real sandboxes, clients inside them, every server on this machine.

No test reaches the internet. A public address is made local: as root (the harness is root in
both modes; only stockade runs as the mode's user) a test builds a network namespace of its
own, joined to the host's by a veth, holding an address from a block IANA marks globally
reachable (192.52.193.0/24, AMT), routed to it by one /32 route; the proxy, in the host's
namespace, reaches it as it would a server on the internet. Everything else (loopback,
private, metadata) is named to the proxy by a hosts file, and must be refused before any
connection is made."""
import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import time

import harness
from harness import expect
import test_egress as egress
from test_egress import curl, hosts_file, run_net


# ---- a public address on this machine -------------------------------------------------------

# A block the IANA special-purpose registry marks globally reachable (the AMT relay anycast,
# RFC 7450): a public address, which nothing on a test machine talks to.
PUBLIC_BLOCK = "192.52.193"

# What runs in the namespace: HTTP on 80 and 8080 (the body names the port), and a TCP sink
# on 443 that appends how many bytes each connection brought to the file in argv[2].
NS_SERVERS = r"""
import http.server, socket, socketserver, sys, threading
addr, sink_log = sys.argv[1], sys.argv[2]
class Server(http.server.ThreadingHTTPServer):
    def server_bind(self):  # no getfqdn(): the namespace has no resolver to wait for
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = f"public {self.server.server_address[1]} {self.path} {self.headers.get('Host')}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
for port in (80, 8080):
    s = Server((addr, port), H)
    threading.Thread(target=s.serve_forever, daemon=True).start()
sink = socket.socket()
sink.bind((addr, 443))
sink.listen(16)
def drain(c):
    c.settimeout(5)
    n = 0
    try:
        while True:
            d = c.recv(65536)
            if not d:
                break
            n += len(d)
    except OSError:
        pass
    with open(sink_log, "a") as f:
        f.write(f"{n}\n")
    c.close()
print("READY", flush=True)
while True:
    c, _ = sink.accept()
    threading.Thread(target=drain, args=(c,), daemon=True).start()
"""


class PublicAddress:
    """A network namespace holding PUBLIC_BLOCK.N, reached from the host's namespace through a
    veth pair (198.18.N.0/30, the benchmarking range, on the link) and one /32 route; the
    servers of NS_SERVERS run in it. Everything is removed by close()."""

    def __init__(self, ctx):
        if not shutil.which("ip", path=harness.BASE_ENV["PATH"]):
            raise harness.Skip("iproute2's `ip` is not installed (a public address is made "
                               "in a network namespace of the test's own)")
        self.undo = []
        self.ns = f"stk-pub-{os.getpid()}"
        self.sink_log = os.path.join(ctx.tmpdir(), "sink.log")
        open(self.sink_log, "w").close()
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    def _ip(self, *args):
        r = subprocess.run(["ip"] + list(args), capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError(f"ip {' '.join(args)}: {r.stderr.strip()}")

    def _build(self):
        self._ip("netns", "add", self.ns)
        self.undo.append(lambda: self._ip("netns", "del", self.ns))
        n = self._free_number()
        self.addr = f"{PUBLIC_BLOCK}.{n}"
        host_end, ns_end = f"stkh{os.getpid() % 100000}", f"stkn{os.getpid() % 100000}"
        self._ip("link", "add", host_end, "type", "veth", "peer", "name", ns_end)
        self.undo.append(lambda: self._ip("link", "del", host_end))
        self._ip("link", "set", ns_end, "netns", self.ns)
        self._ip("addr", "add", f"198.18.{n}.1/30", "dev", host_end)
        self._ip("link", "set", host_end, "up")
        for args in (("addr", "add", f"198.18.{n}.2/30", "dev", ns_end),
                     ("link", "set", ns_end, "up"), ("link", "set", "lo", "up"),
                     ("addr", "add", f"{self.addr}/32", "dev", "lo"),
                     ("route", "add", "default", "via", f"198.18.{n}.1")):
            self._ip("-n", self.ns, *args)
        self._ip("route", "add", f"{self.addr}/32", "via", f"198.18.{n}.2")
        self.undo.append(lambda: self._ip("route", "del", f"{self.addr}/32"))
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, "python3", "-c", NS_SERVERS, self.addr,
             self.sink_log], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=harness.BASE_ENV)
        self.undo.append(self._stop)
        line = self.proc.stdout.readline()
        expect(line == b"READY\n", f"the servers in {self.ns} did not start: "
               f"{line!r} {self.proc.stderr.read1(2000) if self.proc.poll() is not None else b''}")

    def _free_number(self):
        """A number n for both the link (198.18.n.0/30) and the public address that no route
        or address of this host uses yet (another run of this test may hold one)."""
        for i in range(40):
            n = (os.getpid() + i) % 250 + 2
            used = subprocess.run(["ip", "-o", "route", "show", "to", "match",
                                   f"{PUBLIC_BLOCK}.{n}"], capture_output=True, text=True).stdout
            link = subprocess.run(["ip", "-o", "addr", "show", "to", f"198.18.{n}.0/30"],
                                  capture_output=True, text=True).stdout
            if f"{PUBLIC_BLOCK}.{n}" not in used and not link.strip():
                return n
        raise AssertionError(f"no free address in {PUBLIC_BLOCK}.0/24 and 198.18.0.0/16")

    def _stop(self):
        self.proc.kill()
        self.proc.wait()

    def sink_counts(self):
        with open(self.sink_log) as f:
            return [int(line) for line in f if line.strip()]

    def close(self):
        for undo in reversed(self.undo):
            try:
                undo()
            except AssertionError as e:
                print(f"test_egress_modes: cleanup: {e}")
        self.undo = []


def events_by(events, key="host"):
    return {(e[key], e["port"]): e for e in events}


# ---- --network public -----------------------------------------------------------------------

def test_public_reaches_a_public_address(ctx):
    """The point of --network public: a name the sandbox was never told of, on a public address,
    on 80 and 443, without an allowlist; through the proxy (it resolves, checks the address,
    audits), the tunnel still checked (a ClientHello must name the tunnel's host). The same
    requests under an allowlist are refused: public mode is what let them through."""
    pub = PublicAddress(ctx)
    try:
        hosts = hosts_file(ctx, {"pkg.stockade.test": pub.addr})
        sni_client = ("import socket, sys\n"
                      "s = socket.create_connection(('127.0.0.1', 3128))\n"
                      "s.sendall(b'CONNECT pkg.stockade.test:443 HTTP/1.1\\r\\n"
                      "Host: pkg.stockade.test:443\\r\\n\\r\\n')\n"
                      "print(s.recv(4096).split(b'\\r\\n')[0].decode())\n"
                      "s.sendall(bytes.fromhex(sys.argv[1]))\n"
                      "s.settimeout(2)\n"
                      "try: print('CLOSED' if not s.recv(10) else 'DATA')\n"
                      "except socket.timeout: print('OPEN')\n"
                      "except OSError: print('CLOSED')\n")
        good = egress._client_hello(egress._sni_ext("pkg.stockade.test"))
        fronted = egress._client_hello(egress._sni_ext("hidden.stockade.test"))
        cmd = ["sh", "-c",
               curl("http://pkg.stockade.test/simple/") + "; " +
               curl(f"http://{pub.addr}/by-address") + "; " +
               curl("http://pkg.stockade.test/socks", "-x socks5h://127.0.0.1:1080") + "; " +
               curl("http://pkg.stockade.test:8080/other-port") + "; " +
               'python3 -c "$0" "$1"; python3 -c "$0" "$2"', sni_client, good.hex(),
               fronted.hex()]
        r, events, rep = run_net(ctx, cmd, ["--network", "public", "--hosts-file", hosts,
                                            "--quiet"])
        expect(r.out.split() == ["200", "200", "200", "403",
                                 "HTTP/1.1", "200", "Connection", "established", "OPEN",
                                 "HTTP/1.1", "200", "Connection", "established", "CLOSED"],
               f"{r}")
        by = events_by(events)
        for key in (("pkg.stockade.test", 80), (pub.addr, 80)):
            e = by[key]
            expect(e["decision"] == "allow" and e["addr"] == pub.addr and e["rule"] == ":80"
                   and e["bytes_down"] > 0, f"{e}")
        expect(by[("pkg.stockade.test", 8080)]["reason"] == "no allow rule matches",
               f"{events}")
        tls = [e for e in events if e["port"] == 443]
        expect(sorted((e["decision"], e["carries"]) for e in tls) ==
               [("allow", "tls"), ("deny", "")] and
               any("SNI" in e["reason"] for e in tls if e["decision"] == "deny"), f"{tls}")
        deadline = time.monotonic() + 5
        while len(pub.sink_counts()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        # Both tunnels were connected (200 first), but only the good ClientHello got through.
        expect(sorted(pub.sink_counts()) == [0, len(good)],
               f"the server on 443 got {pub.sink_counts()}, not only the good ClientHello")
        expect(rep["layers"]["network"]["detail"].startswith("public"), f"{rep['layers']}")

        # ":8080" adds a port; --deny-net still wins; an allowlist without a rule: nothing.
        r, events, _ = run_net(ctx, curl(f"http://{pub.addr}:8080/added") + ";" +
                               curl("http://pkg.stockade.test:8080/denied"),
                               ["--network", "public", "--allow-net", ":8080", "--deny-net",
                                "pkg.stockade.test", "--hosts-file", hosts, "--quiet"])
        expect(r.out.split() == ["200", "403"], f"{r}")
        expect([e["reason"] for e in events if e["decision"] == "deny"] == ["denied by rule"],
               f"{events}")
        r, events, _ = run_net(ctx, curl("http://pkg.stockade.test/simple/"),
                               ["--network", "allowlist", "--hosts-file", hosts, "--quiet"])
        expect(r.out.split() == ["403"] and events[0]["reason"] == "no allow rule matches",
               f"allowlist mode: {r} {events}")
    finally:
        pub.close()


def test_public_refuses_every_address_that_is_not_public(ctx):
    """Under --network public, names that resolve to loopback (a real server listens there),
    private, CGNAT, link-local and the cloud metadata endpoints, documentation, multicast,
    unique-local and reserved addresses are refused before any connection, each with its
    reason; IP literals too. An explicit rule naming the address (and its port) lifts it."""
    s = egress.servers()
    p = s.http_port
    targets = {
        "loop.stockade.test": ("127.0.0.1", "loopback"),
        "lan.stockade.test": ("10.1.2.3", "private (RFC 1918)"),
        "cgnat.stockade.test": ("100.64.0.1", "shared address space"),
        "meta.stockade.test": ("169.254.169.254", "cloud metadata (link-local)"),
        "ecs.stockade.test": ("169.254.170.2", "cloud metadata (AWS ECS"),
        "ali.stockade.test": ("100.100.100.200", "cloud metadata (Alibaba Cloud)"),
        "azure.stockade.test": ("168.63.129.16", "Azure WireServer"),
        "aws6.stockade.test": ("fd00:ec2::254", "cloud metadata (AWS)"),
        "doc.stockade.test": ("192.0.2.10", "documentation"),
        "bench.stockade.test": ("198.18.0.1", "benchmarking"),
        "mcast.stockade.test": ("224.0.0.1", "multicast"),
        "ula.stockade.test": ("fd12::1", "unique-local"),
        "zero.stockade.test": ("0.0.0.0", "unspecified"),
        "v6loop.stockade.test": ("::1", "loopback"),
        "reserved6.stockade.test": ("4000::1", "reserved IPv6"),
    }
    hosts = hosts_file(ctx, {name: addr for name, (addr, _) in targets.items()})
    before = len(egress.Handler.log)
    urls = [f"http://{name}/" for name in targets] + [
        f"http://loop.stockade.test:{p}/", f"http://127.0.0.1:{p}/", "http://[::1]/",
        "http://169.254.169.254/latest/meta-data/"]
    start = time.monotonic()
    # --noproxy '': the literals 127.0.0.1 and ::1 too go to the proxy, not to NO_PROXY's
    # direct route (the sandbox's own loopback).
    r, events, rep = run_net(ctx, ";".join(curl(u, "--noproxy ''") for u in urls),
                             ["--network", "public", "--allow-net", f":{p}", "--hosts-file",
                              hosts, "--quiet"])
    expect(r.out.split() == ["403"] * len(urls), f"{r}")
    expect(time.monotonic() - start < 30, "refusals took connection timeouts")
    expect(len(events) == len(urls) and all(e["decision"] == "deny" for e in events),
           f"{events}")
    by = events_by(events)
    for name, (addr, reason) in targets.items():
        e = by[(name, 80)]
        expect(reason in e["reason"] and e["addr"] == addr, f"{name}: {e}")
    expect(by[("loop.stockade.test", p)]["reason"] == "loopback", f"{events}")
    expect(by[("127.0.0.1", p)]["reason"] == "loopback", f"{events}")
    expect(len(egress.Handler.log) == before, "the loopback server was reached")
    # A rule naming the address (and its port) lifts it: the caller's explicit word.
    r, events, _ = run_net(ctx, curl(f"http://loop.stockade.test:{p}/named"),
                           ["--network", "public", "--allow-net", f":{p}", "--allow-net",
                            f"127.0.0.1:{p}", "--hosts-file", hosts, "--quiet"])
    expect(r.out.split() == ["200"] and events[0]["decision"] == "allow", f"{r} {events}")
    expect(egress.Handler.log[-1][0] == "/named", f"{egress.Handler.log[-3:]}")


def test_public_mode_refusals_at_the_parse(ctx):
    """A port alone only with --network public (exit 125, one line, nothing run); the mode's
    word is checked; policy show prints the mode from a flag and from a file."""
    for opts in (["--allow-net", ":8443"], ["--network", "allowlist", "--allow-net", ":443"],
                 ["--network", "open"], ["--network", "public", "--allow-net", ":22/raw"],
                 ["--network", "public", "--allow-net", "*"]):
        r = ctx.stockade("run", *opts, "--", "echo", "RAN")
        expect(r.returncode == 125 and "RAN" not in r.out and r.err.count("\n") == 1,
               f"{opts}: {r}")
    r = ctx.stockade("run", "--allow-net", ":8443", "--", "true")
    expect("--network public" in r.err, f"{r.err!r}")
    r = ctx.stockade("policy", "show", "--network", "public", "--allow-net", ":8443")
    shown = json.loads(r.out)["network"]
    expect(shown["mode"] == "public" and shown["allow"] == [":8443"], f"{r}")
    d = ctx.tmpdir()
    path = os.path.join(d, "installs.json")
    with open(path, "w") as f:
        json.dump({"stockade": 1, "network": {"mode": "public", "allow": [":8443"]}}, f)
    os.chmod(path, 0o644)
    r = ctx.stockade("policy", "show", "--policy", path)
    expect(json.loads(r.out)["network"]["mode"] == "public", f"{r}")
    r = ctx.stockade("run", "--policy", path, "--network", "allowlist", "--", "echo", "RAN")
    expect(r.returncode == 125 and "':8443'" in r.err and "RAN" not in r.out, f"{r}")


# ---- host.stockade.internal -----------------------------------------------------------------

class LoggedServer:
    """An HTTP server on one address and port that records the paths it was asked for."""

    def __init__(self, addr, port=0):
        log = self.log = []

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                log.append(self.path)
                body = f"{addr} {self.path} {self.headers.get('Host')}\n".encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer((addr, port), H)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def free_port(addr):
    with socket.socket() as s:
        s.bind((addr, 0))
        return s.getsockname()[1]


def test_host_service_reached_by_its_name(ctx):
    """host.stockade.internal:P reaches the host's 127.0.0.1:P, and nothing else: not another
    host port (Q, no rule), not 127.0.0.2 on the same port P, not 127.0.0.2:S when the rule
    names S (nothing listens on 127.0.0.1:S), never what a hosts file says of the name (here
    127.0.0.2, which an IP rule even allows). HTTP forwarding and SOCKS5 alike; the audit
    record shows the mapping."""
    a = LoggedServer("127.0.0.1")
    p = a.port
    servers = [a]
    try:
        b = LoggedServer("127.0.0.2", p)  # same port, another loopback address
        c = LoggedServer("127.0.0.1")
        d = LoggedServer("127.0.0.2", free_port("127.0.0.1"))
        servers += [b, c, d]
        q, s = c.port, d.port
        hosts = hosts_file(ctx, {"host.stockade.internal": "127.0.0.2"})
        cmd = ";".join([
            f"curl -sS --max-time 10 http://host.stockade.internal:{p}/one",
            curl(f"http://host.stockade.internal:{p}/socks", "-x socks5h://127.0.0.1:1080"),
            curl(f"http://host.stockade.internal:{q}/q"),
            curl(f"http://host.stockade.internal:{s}/s"),
            curl(f"http://127.0.0.2:{p}/literal"),
            curl(f"http://127.0.0.1:{p}/direct-literal")])
        r, events, _ = run_net(ctx, cmd, ["--allow-net", f"host.stockade.internal:{p}",
                                          "--allow-net", f"host.stockade.internal:{s}",
                                          "--allow-net", f"127.0.0.2:{p}",
                                          "--hosts-file", hosts, "--quiet"])
        lines = r.out.splitlines()
        expect(lines[0] == f"127.0.0.1 /one host.stockade.internal:{p}", f"{r}")
        # /direct-literal: 127.0.0.1 is in NO_PROXY, so curl goes to the sandbox's own
        # loopback, where nothing listens (000), never to the host's.
        expect(lines[1:] == ["200", "403", "502", "200", "000"], f"{r}")
        expect(a.log == ["/one", "/socks"], f"127.0.0.1:{p} saw {a.log}")
        expect(b.log == ["/literal"], f"127.0.0.2:{p} saw {b.log} (the IP rule's one only)")
        expect(c.log == [] and d.log == [], f"other servers saw {c.log} {d.log}")
        ok = [e for e in events if e["host"] == "host.stockade.internal" and
              e["decision"] == "allow"]
        expect(len(ok) == 2 and all(
            e["addr"] == "127.0.0.1" and e["rule"] == f"host.stockade.internal:{p}" and
            "the host's 127.0.0.1" in e["reason"] for e in ok), f"{events}")
        refused = events_by(events)
        expect(refused[("host.stockade.internal", q)]["reason"] == "no allow rule matches",
               f"{events}")
        expect(refused[("host.stockade.internal", s)]["reason"] == "unreachable" and
               refused[("host.stockade.internal", s)]["addr"] == "127.0.0.1", f"{events}")
    finally:
        for server in servers:
            server.close()


def test_host_service_needs_its_exact_rule(ctx):
    """Only `host.stockade.internal:PORT` reaches a host service: not the public network's
    port rules, not a wildcard (refused at the parse, as is the name without a port, and the
    name as the sandbox's hostname); inside, the name does not resolve to the sandbox's own
    loopback (the proxy alone knows it)."""
    a = LoggedServer("127.0.0.1")
    try:
        p = a.port
        r, events, _ = run_net(ctx, curl(f"http://host.stockade.internal:{p}/public") + "; " +
                               "getent hosts host.stockade.internal; echo getent=$?; "
                               "grep -c stockade.internal /etc/hosts",
                               ["--network", "public", "--allow-net", f":{p}", "--quiet"])
        expect(r.out.split() == ["403", "getent=2", "0"], f"{r}")
        expect(events and events[0]["reason"] == "no allow rule matches", f"{events}")
        expect(a.log == [], f"reached through the public network: {a.log}")
        for opts, words in ((["--allow-net", "host.stockade.internal"], "one port at a time"),
                            (["--allow-net", "*.stockade.internal:" + str(p)], "no wildcard"),
                            (["--hostname", "host.stockade.internal"], "reserves")):
            r = ctx.stockade("run", *opts, "--", "echo", "RAN")
            expect(r.returncode == 125 and "RAN" not in r.out and r.err.count("\n") == 1 and
                   words in r.err, f"{opts}: {r}")
    finally:
        a.close()


def test_sandbox_loopback_stays_direct(ctx):
    """With the proxy variables set (a host service allowed), the sandbox's own loopback is
    still its own: a server started inside on 127.0.0.1 answers curl, which NO_PROXY sends
    there directly; the proxy sees nothing of it."""
    a = LoggedServer("127.0.0.1")
    try:
        p = a.port
        script = ("python3 -m http.server 8000 --bind 127.0.0.1 >/dev/null 2>&1 & srv=$!; "
                  "for i in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:8000/ && break; "
                  "sleep 0.1; done; "
                  "echo \"$HTTP_PROXY $NO_PROXY\"; " + curl("http://127.0.0.1:8000/") + "; " +
                  curl("http://localhost:8000/") + "; " +
                  curl(f"http://host.stockade.internal:{p}/") + "; kill $srv")
        r, events, _ = run_net(ctx, ["sh", "-c", script],
                               ["--allow-net", f"host.stockade.internal:{p}", "--quiet"])
        lines = r.out.splitlines()
        expect(lines[0] == "http://127.0.0.1:3128 localhost,127.0.0.1,::1", f"{r}")
        expect(lines[1:] == ["200", "200", "200"], f"{r}")
        expect([(e["host"], e["decision"]) for e in events] ==
               [("host.stockade.internal", "allow")], f"the proxy saw {events}")
    finally:
        a.close()
