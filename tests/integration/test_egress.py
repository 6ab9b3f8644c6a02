"""Egress through stockade's proxy: real servers on the host's loopback (HTTP, a raw TCP sink,
a DNS server), clients inside real sandboxes. Every target is on this machine: names map to
127.0.0.1 through --hosts-file or the test's own DNS server; names that map to forbidden
ranges (link-local, private) are refused before any connection is attempted."""
import ast
import hashlib
import http.server
import json
import os
import shutil
import socket
import socketserver
import ssl
import struct
import subprocess
import tempfile
import threading
import time

import harness
from harness import expect


# A package in an npm registry: the packument `npm view` reads, and the ping.
NPM_PACKAGE = "stockade-demo"
NPM_REGISTRY = {
    "/-/ping": {},
    f"/{NPM_PACKAGE}": {
        "name": NPM_PACKAGE, "dist-tags": {"latest": "1.2.3"},
        "versions": {"1.2.3": {"name": NPM_PACKAGE, "version": "1.2.3",
                               "dist": {"tarball": f"http://registry.invalid/{NPM_PACKAGE}.tgz",
                                        "shasum": "0" * 40}}},
        "time": {"created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
                 "1.2.3": "2026-01-01T00:00:00.000Z"}},
}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    log = []
    peer_ports = {}  # path -> the client's port (through the proxy: its upstream socket's)

    def do_GET(self):
        Handler.log.append((self.path, self.headers.get("Host")))
        Handler.peer_ports[self.path] = self.client_address[1]
        if self.path.startswith("/big/"):
            size = int(self.path.split("/")[2])
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            block = bytes(range(256)) * 256
            sent = 0
            while sent < size:
                chunk = block[: min(len(block), size - sent)]
                self.wfile.write(chunk)
                sent += len(chunk)
            return
        body = f"hello {self.path}\n".encode()
        npm = NPM_REGISTRY.get(self.path.split("?")[0])  # what `npm ping` and `npm view` ask
        if npm is not None:
            body = json.dumps(npm).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        if self.path.startswith("/keepalive"):  # a server that offers to keep it open
            self.send_header("Connection", "keep-alive, X-Hop")
            self.send_header("Keep-Alive", "timeout=5")
            self.send_header("X-Hop", "for the next hop only")
            self.send_header("X-End", "end to end")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        # BaseHTTPRequestHandler answers "Expect: 100-continue" with a 100 before this runs.
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        Handler.log.append((self.path, self.headers.get("Host")))
        out = b"got " + body
        self.send_response(200)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


class Servers:
    """Started once per module: an HTTP server, a TCP sink that records what it receives,
    and a DNS server answering A records from a table."""

    def __init__(self):
        # A real server's backlog: socketserver's default of 5 drops connections under the
        # concurrency test, which is the test server's limit, not the proxy's.
        http.server.ThreadingHTTPServer.request_queue_size = 512
        self.http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        self.http_port = self.http.server_address[1]
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.sink = socket.socket()
        self.sink.bind(("127.0.0.1", 0))
        self.sink.listen(64)
        self.sink_port = self.sink.getsockname()[1]
        self.sink_bytes = 0
        self.sink_conns = 0
        threading.Thread(target=self._sink_loop, daemon=True).start()
        self.dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.dns.bind(("127.0.0.1", 0))
        self.dns_port = self.dns.getsockname()[1]
        self.dns_table = {"dns-ok.stockade.test": "127.0.0.1", "dns-private.stockade.test": "10.0.0.1",
                          "dns-meta.stockade.test": "169.254.169.254"}
        self.dns_queries = []
        threading.Thread(target=self._dns_loop, daemon=True).start()

    def _sink_loop(self):
        while True:
            conn, _ = self.sink.accept()
            self.sink_conns += 1
            threading.Thread(target=self._drain, args=(conn,), daemon=True).start()

    def _drain(self, conn):
        conn.settimeout(5)
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                self.sink_bytes += len(data)
        except OSError:
            pass
        conn.close()

    def _dns_loop(self):
        while True:
            packet, peer = self.dns.recvfrom(512)
            try:
                self.dns.sendto(self._answer(packet), peer)
            except Exception:
                pass

    def _answer(self, packet):
        qid, flags, qd = struct.unpack("!HHH", packet[:6])
        pos, labels = 12, []
        while packet[pos]:
            n = packet[pos]
            labels.append(packet[pos + 1:pos + 1 + n].decode())
            pos += n + 1
        qtype = struct.unpack("!H", packet[pos + 1:pos + 3])[0]
        question = packet[12:pos + 5]
        name = ".".join(labels).lower()
        self.dns_queries.append((name, qtype))
        ip = self.dns_table.get(name)
        if ip is None or qtype != 1:
            rcode = 3 if ip is None else 0
            return struct.pack("!HHHHHH", qid, 0x8180 | rcode, 1, 0, 0, 0) + question
        answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton(ip)
        return struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + question + answer


_servers = None


def servers():
    global _servers
    if _servers is None:
        _servers = Servers()
    return _servers


def hosts_file(ctx, entries):
    path = os.path.join(ctx.tmpdir(), "hosts")
    with open(path, "w") as f:
        for name, ip in entries.items():
            f.write(f"{ip} {name}\n")
    os.chmod(path, 0o644)
    return path


def run_net(ctx, cmd, opts, timeout=60):
    audit = os.path.join(ctx.tmpdir(mode=0o777), "audit.jsonl")
    report = os.path.join(os.path.dirname(audit), "report.json")
    r = ctx.sandbox(cmd, opts=list(opts) + ["--audit", audit, "--report", report],
                    timeout=timeout)
    events = []
    if os.path.exists(audit):
        events = [json.loads(line) for line in open(audit) if line.strip()]
    try:
        rep = json.load(open(report)) if os.path.exists(report) else {}
    except ValueError as e:  # say what the run said, not only that its report is unreadable
        raise AssertionError(f"unreadable report ({e}): {r}") from None
    # The proxy must outlive every run: a death (its seccomp filter killing it, a crash) is
    # reported on stderr and in the report, and no test may pass over one.
    expect("egress proxy died" not in r.err, f"the proxy died: {r.err[-300:]}")
    return r, events, rep


def curl(url, extra=""):
    return f"curl -sS --max-time 10 {extra} -o /dev/null -w '%{{http_code}}\\n' '{url}'"


def test_no_network_without_flags(ctx):
    s = servers()
    r = ctx.sandbox(f"env | grep -ci proxy; {curl(f'http://127.0.0.1:{s.http_port}/')} || true")
    expect(r.out.splitlines()[0] == "0", f"proxy variables without --network: {r}")
    expect("000" in r.out, f"reached the host without a network: {r}")


def test_allowed_name_and_address(ctx):
    s = servers()
    hosts = hosts_file(ctx, {"api.test": "127.0.0.1"})
    p = s.http_port
    r, events, rep = run_net(ctx, curl(f"http://api.test:{p}/x") + ";" +
                             curl(f"http://api.test:{p}/y", "-x socks5h://127.0.0.1:1080") + ";"
                             + curl(f"http://api.test:{p}/z", "-p"),
                             ["--allow-net", f"api.test:{p}", "--allow-net", f"127.0.0.1:{p}",
                              "--hosts-file", hosts])
    expect(r.returncode == 0 and r.out.split() == ["200", "200", "200"], f"{r}")
    protos = sorted(e["proto"] for e in events)
    expect(protos == ["http", "http-connect", "socks5"], f"{events}")
    for e in events:
        expect(e["decision"] == "allow" and e["host"] == "api.test" and e["addr"] == "127.0.0.1"
               and e["port"] == p and e["bytes_down"] > 0, f"{e}")
    expect(rep["egress"] == {"allowed": 3, "denied": 0}, f"{rep.get('egress')}")
    expect(rep["layers"]["network"]["applied"], rep["layers"])


def test_loopback_needs_an_address_rule(ctx):
    """A name that resolves to the host's loopback is refused unless an allow rule names that
    address: a policy on names alone cannot reach 127.0.0.1 (DNS rebinding)."""
    s = servers()
    hosts = hosts_file(ctx, {"api.test": "127.0.0.1"})
    r, events, _ = run_net(ctx, curl(f"http://api.test:{s.http_port}/"),
                           ["--allow-net", f"api.test:{s.http_port}", "--hosts-file", hosts])
    expect(r.out.strip() == "403", f"{r}")
    expect(events and events[0]["decision"] == "deny" and "loopback" in events[0]["reason"]
           and events[0]["addr"] == "127.0.0.1", f"{events}")
    expect("egress denied: api.test" in r.err and r.err.count("\n") == 1, f"{r.err!r}")


def test_forbidden_ranges_refused_before_connecting(ctx):
    hosts = hosts_file(ctx, {"meta.stockade.test": "169.254.169.254", "lan.stockade.test": "10.1.2.3",
                             "cgnat.stockade.test": "100.64.0.1", "ula.stockade.test": "fd00::1",
                             "mapped.stockade.test": "::ffff:127.0.0.1", "bcast.stockade.test": "255.255.255.255"})
    names = ["meta.stockade.test", "lan.stockade.test", "cgnat.stockade.test", "ula.stockade.test", "mapped.stockade.test", "bcast.stockade.test"]
    cmd = ";".join(curl(f"http://{n}/") for n in names)
    r, events, rep = run_net(ctx, cmd, ["--allow-net", "*.stockade.test", "--hosts-file", hosts,
                                        "--quiet"])
    expect(r.out.split() == ["403"] * len(names), f"{r}")
    expect(r.err == "", f"--quiet still printed: {r.err!r}")
    expect(len(events) == len(names) and all(e["decision"] == "deny" for e in events),
           f"{events}")
    reasons = {e["host"]: e["reason"] for e in events}
    expect("link-local" in reasons["meta.stockade.test"], f"{reasons}")
    expect(rep["egress"]["denied"] == len(names), f"{rep['egress']}")


def test_denials_and_rules(ctx):
    s = servers()
    p = s.http_port
    hosts = hosts_file(ctx, {"a.good.test": "127.0.0.1", "badgood.test": "127.0.0.1",
                             "bad.good.test": "127.0.0.1", "good.test": "127.0.0.1"})
    urls = [f"http://a.good.test:{p}/", f"http://badgood.test:{p}/", f"http://bad.good.test:{p}/",
            f"http://good.test:{p}/", f"http://a.good.test:{p + 1}/"]
    r, events, _ = run_net(ctx, ";".join(curl(u) for u in urls),
                           ["--allow-net", f"*.good.test:{p}", "--allow-net", f"127.0.0.1:{p}",
                            "--deny-net", "bad.good.test", "--hosts-file", hosts, "--quiet"])
    expect(r.out.split() == ["200", "403", "403", "403", "403"], f"{r}")
    by_host = {(e["host"], e["port"]): e for e in events}
    expect(by_host[("bad.good.test", p)]["reason"] == "denied by rule", f"{events}")
    expect(by_host[("badgood.test", p)]["reason"] == "no allow rule matches", f"{events}")


def test_bad_rules_refused_at_parse_time(ctx):
    for rule in ["*", "*.com", "*.co.uk", "exa mple.test", "a.test:0", "a.test:65536",
                 "0x7f.1", "10.0.0.0/33"]:
        r = ctx.stockade("run", "--allow-net", rule, "--", "echo", "RAN")
        expect(r.returncode == 125 and "RAN" not in r.out and r.err.count("\n") == 1,
               f"{rule!r}: {r}")
    r = ctx.stockade("run", "--deny-net", "a.test", "--", "true")
    expect(r.returncode == 125 and "network" in r.err, f"--deny-net without network: {r}")


def raw_proxy(request, port=3128):
    """Python inside the sandbox: send `request` raw to the proxy, print the status line."""
    return ["python3", "-c",
            "import socket,sys\n"
            f"s=socket.create_connection(('127.0.0.1',{port}))\n"
            f"s.sendall({request!r})\n"
            "print(s.recv(4096).split(b'\\r\\n')[0].decode())"]


def test_host_header_must_agree(ctx):
    s = servers()
    p = s.http_port
    hosts = hosts_file(ctx, {"api.test": "127.0.0.1", "other.test": "127.0.0.1"})
    before = len(Handler.log)
    req = (f"GET http://api.test:{p}/h HTTP/1.1\r\nHost: other.test:{p}\r\n\r\n").encode()
    r, events, _ = run_net(ctx, raw_proxy(req), ["--allow-net", f"api.test:{p}",
                                                 "--allow-net", f"127.0.0.1:{p}",
                                                 "--hosts-file", hosts, "--quiet"])
    expect(r.out.startswith("HTTP/1.1 400"), f"{r}")
    expect(len(Handler.log) == before, "the request reached the server")


def test_sni_must_name_the_tunnel_host(ctx):
    """CONNECT to an allowed host, then a TLS ClientHello for another: domain fronting. The
    sink on the allowed port must receive nothing."""
    s = servers()
    hosts = hosts_file(ctx, {"front.test": "127.0.0.1"})
    code = ("import socket,ssl\n"
            "s=socket.create_connection(('127.0.0.1',3128))\n"
            f"s.sendall(b'CONNECT front.test:{s.sink_port} HTTP/1.1\\r\\nHost: front.test:{s.sink_port}\\r\\n\\r\\n')\n"
            "print(s.recv(4096).split(b'\\r\\n')[0].decode())\n"
            "ctx=ssl.create_default_context()\n"
            "try:\n"
            "    ctx.wrap_socket(s, server_hostname='hidden.test')\n"
            "    print('HANDSHAKE')\n"
            "except (OSError, ssl.SSLError) as e:\n"
            "    print('CLOSED')\n")
    before = s.sink_bytes
    r, events, _ = run_net(ctx, ["python3", "-c", code],
                           ["--allow-net", f"front.test:{s.sink_port}",
                            "--allow-net", f"127.0.0.1:{s.sink_port}", "--hosts-file", hosts,
                            "--quiet"])
    expect(r.out.split("\n")[:2] == ["HTTP/1.1 200 Connection established", "CLOSED"], f"{r}")
    expect(any("SNI" in e["reason"] for e in events if e["decision"] == "deny"), f"{events}")
    time.sleep(0.2)
    expect(s.sink_bytes == before, f"the ClientHello reached the upstream ({s.sink_bytes})")


def _tls_ext(kind, data):
    return struct.pack("!HH", kind, len(data)) + data


def _sni_ext(name):
    entry = b"\x00" + struct.pack("!H", len(name)) + name.encode()
    return _tls_ext(0, struct.pack("!H", len(entry)) + entry)


def _client_hello(exts, record_size=16384):
    """A TLS 1.3-shaped ClientHello with these extensions, cut into records of record_size."""
    body = (b"\x03\x03" + os.urandom(32) + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00" +
            struct.pack("!H", len(exts)) + exts)
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"".join(b"\x16\x03\x01" + struct.pack("!H", len(hs[i:i + record_size])) +
                    hs[i:i + record_size] for i in range(0, len(hs), record_size))


def test_tunnel_payloads_the_policy_cannot_check(ctx):
    """A CONNECT tunnel to a named host carries only what lets the proxy see the name the
    server will route on. Refused (the proxy closes, the server gets nothing): TLS with
    Encrypted Client Hello, a malformed ClientHello, one larger or more fragmented than the
    proxy reads, one left incomplete past the peek's timeout, another protocol (SSH's banner:
    that needs a /raw rule), and a plain HTTP request whose Host names another virtual host
    (answered 400). Passed: a ClientHello naming the tunnel's host, plain HTTP or anything
    else to an IP-literal tunnel, and a plain
    HTTP request naming the tunnel's host — forwarded alone, its response saying
    "Connection: close", so a second request on the tunnel can never name another host."""
    s = servers()
    hosts = hosts_file(ctx, {"front.test": "127.0.0.1"})
    port = s.sink_port
    good = _client_hello(_sni_ext("front.test"))
    cases = {
        "ech": (f"front.test:{port}", _client_hello(_sni_ext("front.test") +
                                                   _tls_ext(0xfe0d, b"\x00" * 40)), 0),
        "two-sni": (f"front.test:{port}",
                    _client_hello(_sni_ext("front.test") + _sni_ext("hidden.test")), 0),
        "oversized": (f"front.test:{port}", _client_hello(
            _tls_ext(21, b"\x00" * 17000) + _sni_ext("hidden.test")), 0),
        "fragmented": (f"front.test:{port}", _client_hello(
            _tls_ext(21, b"\x00" * 3000) + _sni_ext("hidden.test"), record_size=1), 0),
        "incomplete": (f"front.test:{port}", _client_hello(_sni_ext("hidden.test")), 1.5),
        "plain-http": (f"front.test:{port}", b"GET / HTTP/1.1\r\nHost: hidden.test\r\n\r\n", 0),
        "http-same-host": (f"front.test:{s.http_port}",
                           f"GET /tunneled HTTP/1.1\r\nHost: front.test:{s.http_port}\r\n\r\n"
                           f"GET /second HTTP/1.1\r\nHost: hidden.test\r\n\r\n".encode(), 0),
        "tls-ok": (f"front.test:{port}", good, 0),
        "ssh": (f"front.test:{port}", b"SSH-2.0-OpenSSH_9.2\r\n", 0),
        "http-to-ip": (f"127.0.0.1:{port}", b"GET / HTTP/1.1\r\nHost: hidden.test\r\n\r\n", 0),
    }
    code = ("import socket, sys, threading, time\n"
            "out = {}\n"
            "def one(name, target, payload, pause):\n"
            "    c = socket.create_connection(('127.0.0.1', 3128))\n"
            "    c.sendall(f'CONNECT {target} HTTP/1.1\\r\\nHost: {target}\\r\\n\\r\\n'.encode())\n"
            "    if not c.recv(4096).startswith(b'HTTP/1.1 200'):\n"
            "        out[name] = 'NO-200'; return\n"
            "    c.sendall(payload[:20] if pause else payload)\n"
            "    if pause:\n"
            "        time.sleep(pause)\n"
            "        try: c.sendall(payload[20:])\n"
            "        except OSError: pass\n"
            "    c.settimeout(2.5)\n"
            "    got = b''\n"
            "    try:\n"
            "        while True:\n"
            "            chunk = c.recv(65536)\n"
            "            if not chunk: break\n"
            "            got += chunk\n"
            "        out[name] = 'CLOSED' if not got else got.decode(errors='replace')\n"
            "    except socket.timeout: out[name] = 'OPEN' if not got else 'OPEN+DATA'\n"
            "    except OSError: out[name] = 'CLOSED'\n"
            "args = sys.argv[1:]\n"
            "ts = [threading.Thread(target=one, args=(args[i], args[i + 1], bytes.fromhex(args[i + 2]),\n"
            "                                           float(args[i + 3])))\n"
            "      for i in range(0, len(args), 4)]\n"
            "[t.start() for t in ts]; [t.join() for t in ts]\n"
            "import json; print(json.dumps(out))\n")
    argv = ["python3", "-c", code]
    for name, (target, payload, pause) in cases.items():
        argv += [name, target, payload.hex(), str(pause)]
    before = s.sink_bytes
    before_log = len(Handler.log)
    r, events, _ = run_net(ctx, argv, ["--allow-net", f"front.test:{port}", "--allow-net",
                                       f"127.0.0.1:{port}", "--allow-net",
                                       f"front.test:{s.http_port}", "--allow-net",
                                       f"127.0.0.1:{s.http_port}", "--hosts-file", hosts,
                                       "--quiet"])
    expect(r.returncode == 0, f"{r}")
    got = json.loads(r.out)
    same_host = got.pop("http-same-host")
    plain = got.pop("plain-http")
    want = {name: "OPEN" if name in ("tls-ok", "http-to-ip") else "CLOSED"
            for name in got}
    expect(got == want, f"{got} {r.err[-300:]}")
    expect(plain.startswith("HTTP/1.1 400 ") and "Host header does not match" in plain,
           f"plain HTTP naming another host: {plain!r}")
    head, _, body = same_host.partition("\r\n\r\n")
    expect(head.startswith("HTTP/1.1 200 ") and "\r\nConnection: close" in head and
           body == "hello /tunneled\n", f"plain HTTP naming the tunnel's host: {same_host!r}")
    seen = [path for path, _ in Handler.log[before_log:]]
    expect("/tunneled" in seen and "/second" not in seen, f"the server saw {seen}")
    reasons = sorted(e["reason"] for e in events if e["decision"] == "deny")
    for words in ("Encrypted Client Hello", "malformed or oversized", "incomplete TLS",
                  "Host header does not match", "neither a TLS ClientHello nor an HTTP"):
        expect(any(words in reason for reason in reasons), f"no denial for {words}: {reasons}")
    expect(len(reasons) == 7, f"{reasons}")
    deadline = time.monotonic() + 2
    passed = len(good) + len(cases["http-to-ip"][1])
    while s.sink_bytes - before < passed and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    expect(s.sink_bytes - before == passed,
           f"the server got {s.sink_bytes - before} bytes, not the {passed} of the passed ones")


def test_dns_through_the_proxy_resolver(ctx):
    s = servers()
    p = s.http_port
    cmd = ";".join([curl(f"http://dns-ok.stockade.test:{p}/"),
                    curl("http://dns-private.stockade.test/"),
                    curl("http://dns-meta.stockade.test/"),
                    curl("http://dns-missing.stockade.test/")])
    r, events, _ = run_net(ctx, cmd, ["--allow-net", "*.stockade.test",
                                      "--allow-net", f"*.stockade.test:{p}",
                                      "--allow-net", f"127.0.0.1:{p}",
                                      "--dns-server", f"127.0.0.1:{s.dns_port}", "--quiet"])
    out = r.out.split()
    expect(out[:3] == ["200", "403", "403"] and out[3] in ("502", "403"), f"{r}")
    reasons = {e["host"]: e["reason"] for e in events}
    expect("private" in reasons["dns-private.stockade.test"].lower(), f"{reasons}")
    expect(any(q[0] == "dns-ok.stockade.test" for q in s.dns_queries), "the proxy did not ask our DNS")


def test_client_ignoring_the_proxy_has_no_way_out(ctx):
    s = servers()
    code = ("import socket,errno\n"
            "def tcp(host, port):\n"
            "    try:\n"
            "        socket.create_connection((host, port), timeout=3); return 'CONNECTED'\n"
            "    except OSError as e: return errno.errorcode.get(e.errno, str(e))\n"
            f"print(tcp('127.0.0.1', {s.http_port}))\n"
            "u=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            f"u.sendto(b'x', ('127.0.0.1', {s.dns_port}))\n"
            "u.settimeout(1)\n"
            "try: u.recv(10); print('UDP-ANSWER')\n"
            "except OSError: print('NO-UDP')\n"
            "try: socket.getaddrinfo('dns-ok.stockade.test', 80); print('RESOLVED')\n"
            "except OSError: print('NO-DNS')\n")
    before = len(s.dns_queries)
    r, _, _ = run_net(ctx, ["python3", "-c", code], ["--allow-net", "*.stockade.test", "--quiet"])
    expect(r.out.split() == ["ECONNREFUSED", "NO-UDP", "NO-DNS"], f"{r}")
    expect(len(s.dns_queries) == before, "the sandbox reached the host's DNS server")


def test_large_transfer_and_many_connections(ctx):
    s = servers()
    p = s.http_port
    hosts = hosts_file(ctx, {"big.test": "127.0.0.1"})
    size = 64 << 20
    block = bytes(range(256)) * 256
    expected = hashlib.sha256((block * (size // len(block) + 1))[:size]).hexdigest()
    code = ("import concurrent.futures, urllib.request\n"
            f"def get(i): return urllib.request.urlopen('http://big.test:{p}/n%d' % i, timeout=30).read()\n"
            "with concurrent.futures.ThreadPoolExecutor(50) as ex:\n"
            "    got = list(ex.map(get, range(200)))\n"
            "print(sum(1 for g in got if g.startswith(b'hello')))\n")
    cmd = (f"curl -sS --max-time 60 http://big.test:{p}/big/{size} | sha256sum | cut -c1-64; "
           f"python3 -c \"$0\"")
    r, events, rep = run_net(ctx, ["sh", "-c", cmd, code],
                             ["--allow-net", f"big.test:{p}", "--allow-net", f"127.0.0.1:{p}",
                              "--hosts-file", hosts], timeout=120)
    lines = r.out.split()
    expect(r.returncode == 0 and lines[0] == expected, f"download: {r.out[:200]} {r.err[-300:]}")
    expect(lines[1] == "200", f"concurrent requests: {lines[1:]} {r.err[-300:]}")
    big = [e for e in events if e["bytes_down"] >= size]
    expect(big, "the audit log lost the large transfer's byte count")
    expect(rep["egress"]["allowed"] == 201, f"{rep['egress']}")


# Inside a sandbox: a CONNECT tunnel to 127.0.0.1:PORT, one GET of PATH through it (every
# byte of the body read), its length printed, then the tunnel is held until stdin closes.
HELD_TUNNEL = """
import socket, sys
port, path = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", 3128))
s.sendall(f"CONNECT 127.0.0.1:{port} HTTP/1.1\\r\\nHost: 127.0.0.1:{port}\\r\\n\\r\\n".encode())
def head():
    data = b""
    while not data.endswith(b"\\r\\n\\r\\n"):
        byte = s.recv(1)
        if not byte:
            sys.exit("closed during a head: %r" % data)
        data += byte
    return data
answer = head()
if not answer.startswith(b"HTTP/1.1 200"):
    sys.exit("CONNECT: %r" % answer)
s.sendall(f"GET {path} HTTP/1.1\\r\\nHost: 127.0.0.1:{port}\\r\\n\\r\\n".encode())
length = int([l for l in head().split(b"\\r\\n") if l.lower().startswith(b"content-length:")][0]
             .split(b":")[1])
got = 0
while got < length:
    chunk = s.recv(1 << 20)
    if not chunk:
        break
    got += len(chunk)
print(got, flush=True)
sys.stdin.read()
"""


def tcp_congestion_control(ss_args, netns_pid=None):
    """The congestion control of each established TCP socket `ss` selects, read from the
    host (in the network namespace of netns_pid if given): a list, one name per socket."""
    cmd = ["ss", "-tinH", "state", "established"] + ss_args
    if netns_pid is not None:
        cmd = ["nsenter", f"--net=/proc/{netns_pid}/ns/net"] + cmd
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    expect(r.returncode == 0, f"{cmd}: {r.stderr}")
    flags = {"ts", "sack", "ecn", "ecnseen", "fastopen"}
    # ss prints a line per socket, then its details indented on the next.
    details = [line.split() for line in r.stdout.splitlines() if line[:1].isspace()]
    return [next((t for t in d if ":" not in t and t not in flags), "?") for d in details]


def test_proxy_sandbox_side_sockets_are_not_paced(ctx):
    """The proxy's sockets on the sandbox's side (its own loopback) use reno, which paces
    nothing, whatever the host's default (BBR here paces every send with a timer, which cost
    the relay CPU and throughput: bench/README.md); its upstream socket keeps the host's
    default. Read with ss from the host while a tunnel that carried a body is held open."""
    if not shutil.which("ss", path=harness.BASE_ENV["PATH"]) or \
            not shutil.which("nsenter", path=harness.BASE_ENV["PATH"]):
        raise harness.Skip("iproute2's `ss` or util-linux's `nsenter` is not installed")
    s = servers()
    p = s.http_port
    path = f"/big/{4 << 20}/cc-{os.getpid()}-{time.monotonic_ns()}"
    proc = ctx.popen([ctx.stockade_path, "run", "--allow-net", f"127.0.0.1:{p}", "--quiet", "--",
                      "python3", "-c", HELD_TUNNEL, str(p), path], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        first = proc.stdout.readline()
        expect(first == f"{4 << 20}\n".encode(), f"the tunnel's body: {first!r}")
        kids = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True)
        inside = [int(k) for k in kids.stdout.split() if os.readlink(f"/proc/{k}/ns/net") !=
                  os.readlink(f"/proc/{proc.pid}/ns/net")]
        expect(len(inside) == 1, f"the sandbox's PID 1 among {kids.stdout.split()}")
        sandbox_side = tcp_congestion_control(["( sport = :3128 )"], netns_pid=inside[0])
        upstream = tcp_congestion_control([f"( sport = :{Handler.peer_ports[path]} )"])
    finally:
        out, err = proc.communicate(b"", timeout=30)
    with open("/proc/sys/net/ipv4/tcp_congestion_control") as f:
        default = f.read().strip()
    expect(sandbox_side == ["reno"], f"the proxy's sandbox-side socket: {sandbox_side}")
    expect(upstream == [default], f"the proxy's upstream socket: {upstream} (host: {default})")
    expect(proc.returncode == 0 and b"egress proxy died" not in err,
           f"exit {proc.returncode}: {err[-300:]!r}")


def test_fails_closed_when_the_proxy_cannot_start(ctx):
    # (A --dns-server that is no address is refused at the parse: test_basics.py.)
    r = ctx.stockade("run", "--allow-net", "a.test", "--hosts-file", "/nonexistent/hosts", "--",
                     "echo", "RAN")
    expect(r.returncode == 125 and "RAN" not in r.out and "proxy" in r.err and
           r.err.count("\n") == 1, f"{r}")


def proxy_pid(stockade_pid):
    """The proxy is the stockade process's child that is not the sandbox's PID 1 (it stays
    in the host's network namespace)."""
    kids = subprocess.run(["pgrep", "-P", str(stockade_pid)], capture_output=True, text=True)
    pids = [int(x) for x in kids.stdout.split()]
    proxy = [k for k in pids if os.readlink(f"/proc/{k}/ns/net") == os.readlink(
        f"/proc/{stockade_pid}/ns/net")]
    expect(len(proxy) == 1, f"children {pids}")
    return proxy[0]


def test_proxy_confines_itself(ctx):
    """The proxy parses what the sandbox sends; it runs under its own seccomp allow-list
    (tests/unit/test_proxy_harden.c: what it kills, and Landlock's file and port refusals),
    with no_new_privs, no capabilities, as nobody when stockade is root — seen from the host
    while it serves."""
    s = servers()
    p = s.http_port
    hosts = hosts_file(ctx, {"api.test": "127.0.0.1"})
    proc = ctx.popen([ctx.stockade_path, "run", "--allow-net", f"api.test:{p}", "--allow-net",
                      f"127.0.0.1:{p}", "--hosts-file", hosts, "--quiet", "--", "sh", "-c",
                      f"{curl(f'http://api.test:{p}/')}; read x"], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        expect(proc.stdout.readline() == b"200\n", "the first request failed")
        with open(f"/proc/{proxy_pid(proc.pid)}/status") as f:
            status = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    finally:
        _, err = proc.communicate(b"done\n", timeout=30)
    expect(b"egress proxy died" not in err, f"the proxy died: {err[-300:]!r}")
    expect(status.get("Seccomp") == "2" and status.get("Seccomp_filters") == "1",
           f"proxy seccomp: {status.get('Seccomp')} filters {status.get('Seccomp_filters')}")
    expect(status.get("NoNewPrivs") == "1", f"proxy NoNewPrivs {status.get('NoNewPrivs')}")
    expect(all(status.get(c) == "0000000000000000" for c in ("CapEff", "CapPrm")),
           f"proxy capabilities {status.get('CapEff')} {status.get('CapPrm')}")
    uid = "65534" if ctx.is_root else str(ctx.user.pw_uid)
    expect(status.get("Uid", "").split() == [uid] * 4, f"proxy uids {status.get('Uid')}")
    expect(proc.returncode == 0, f"exit {proc.returncode}")


def test_proxy_death_removes_egress(ctx):
    """Kill the proxy mid-run: the sandbox's next connection fails; it never gains a direct
    route."""
    s = servers()
    p = s.http_port
    hosts = hosts_file(ctx, {"api.test": "127.0.0.1"})
    direct = curl(f"http://127.0.0.1:{p}/", "--noproxy '*'")
    again = curl(f"http://api.test:{p}/")
    script = f"{again}; echo READY; read x; {again} || true; {direct} || true"
    proc = ctx.popen([ctx.stockade_path, "run", "--allow-net", f"api.test:{p}",
                      "--allow-net", f"127.0.0.1:{p}", "--hosts-file", hosts, "--quiet", "--",
                      "sh", "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                     stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    expect(first == b"200\n" and proc.stdout.readline() == b"READY\n", f"{first!r}")
    os.kill(proxy_pid(proc.pid), 9)
    out, err = proc.communicate(b"go\n", timeout=30)
    lines = out.decode().split()
    expect(lines == ["000", "000"], f"after the proxy died: {lines} {err[-300:]!r}")
    expect(b"stockade: network: the egress proxy died during the run: Killed" in err,
           f"the proxy's death was not reported: {err[-300:]!r}")


def test_one_checked_request_per_upstream_connection(ctx):
    """A request pipelined behind an allowed one (with another Host) never reaches the
    server; a chunked body, whose length the proxy cannot bound, is refused."""
    s = servers()
    p = s.http_port
    hosts = hosts_file(ctx, {"api.test": "127.0.0.1", "other.test": "127.0.0.1"})
    tag = f"{os.getpid()}-{time.monotonic_ns()}"
    two = (f"GET http://api.test:{p}/one-{tag} HTTP/1.1\r\nHost: api.test:{p}\r\n\r\n"
           f"GET http://api.test:{p}/two-{tag} HTTP/1.1\r\nHost: other.test:{p}\r\n\r\n").encode()
    chunked = (f"POST http://api.test:{p}/c HTTP/1.1\r\nHost: api.test:{p}\r\n"
               "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n").encode()
    opts = ["--allow-net", f"api.test:{p}", "--allow-net", f"127.0.0.1:{p}", "--hosts-file",
            hosts, "--quiet"]
    r, _, _ = run_net(ctx, raw_proxy(two), opts)
    expect(r.out.startswith("HTTP/1.0 200") or r.out.startswith("HTTP/1.1 200"), f"{r}")
    time.sleep(0.2)
    paths = [path for path, _ in Handler.log]
    expect(f"/one-{tag}" in paths and f"/two-{tag}" not in paths, f"pipelined: {paths[-3:]}")
    r, _, _ = run_net(ctx, raw_proxy(chunked), opts)
    expect(r.out.startswith("HTTP/1.1 411"), f"{r}")


def need_node(*tools):
    """node (and npm) come from the host's /usr, which every sandbox sees read-only."""
    missing = [t for t in ("node",) + tools if not shutil.which(t, path=harness.BASE_ENV["PATH"])]
    if missing:
        raise harness.Skip(f"{' and '.join(missing)} not installed (`make deps` installs nodejs "
                           f"and npm)")


def node_setup(ctx):
    """node present; the test server's port, a tag unique to this test for the server's log,
    and the run options: api.stockade.test allowed, other.stockade.test named in the hosts
    file but not allowed."""
    need_node()
    p = servers().http_port
    hosts = hosts_file(ctx, {"api.stockade.test": "127.0.0.1", "other.stockade.test": "127.0.0.1"})
    opts = ["--allow-net", f"api.stockade.test:{p}", "--allow-net", f"127.0.0.1:{p}",
            "--hosts-file", hosts, "--quiet"]
    return p, f"{os.getpid()}-{time.monotonic_ns()}", opts


# The end of a node script that defines get(url): one JSON line per URL given in argv.
NODE_GET_EACH = ("(async () => {\n"
                 "  for (const url of process.argv.slice(1))\n"
                 "    console.log(JSON.stringify(await get(url)));\n"
                 "})();\n")


def node_results(r):
    """The JSON lines a node script printed, one per request."""
    expect(r.returncode == 0, f"{r}")
    try:
        return [json.loads(line) for line in r.out.splitlines()]
    except ValueError:
        raise AssertionError(f"not JSON lines: {r}")


def test_node_http_client_forwards_through_proxy_env(ctx):
    """node's http module ignores the proxy environment; a node app that honours it (as the
    proxy agents do) sends absolute-form requests to HTTP_PROXY. Allowed: the server's body;
    denied: 403 with the reason in X-Stockade-Denied, and the server sees nothing."""
    p, tag, opts = node_setup(ctx)
    # agent: false is one request per connection, which is all the proxy serves on one.
    code = ("const http = require('http');\n"
            "const proxy = new URL(process.env.HTTP_PROXY);\n"
            "const get = (url) => new Promise((resolve) => {\n"
            "  const req = http.request({host: proxy.hostname, port: proxy.port, path: url,\n"
            "                            headers: {Host: new URL(url).host}, agent: false},\n"
            "                           (res) => {\n"
            "    let body = '';\n"
            "    res.setEncoding('utf8');\n"
            "    res.on('data', (d) => body += d);\n"
            "    res.on('end', () => resolve([res.statusCode,\n"
            "      res.headers['x-stockade-denied'] || '', body.trim()]));\n"
            "  });\n"
            "  req.on('error', (e) => resolve(['ERROR', e.code]));\n"
            "  req.end();\n"
            "});\n"
            "console.log(JSON.stringify(proxy.href));\n" + NODE_GET_EACH)
    r, events, _ = run_net(ctx, ["node", "-e", code, f"http://api.stockade.test:{p}/node-{tag}",
                                 f"http://other.stockade.test:{p}/node-denied-{tag}"],
                           opts)
    got = node_results(r)
    expect(got == ["http://127.0.0.1:3128/", [200, "", f"hello /node-{tag}"],
                   [403, "no allow rule matches", "stockade: no allow rule matches"]], f"{r}")
    expect([(e["decision"], e["proto"], e["host"]) for e in events] ==
           [("allow", "http", "api.stockade.test"), ("deny", "http", "other.stockade.test")],
           f"{events}")
    seen = [entry for entry in Handler.log if tag in entry[0]]
    expect(seen == [(f"/node-{tag}", f"api.stockade.test:{p}")], f"server saw {seen}")


def test_node_connect_tunnel_through_proxy_env(ctx):
    """http.request({method: 'CONNECT'}) to HTTPS_PROXY, then node's http client over the
    tunnel's socket to the allowed server; a CONNECT to a host no rule allows gets 403."""
    p, tag, opts = node_setup(ctx)
    code = ("const http = require('http');\n"
            "const proxy = new URL(process.env.HTTPS_PROXY);\n"
            "const tunnel = (target, path) => new Promise((resolve) => {\n"
            "  const req = http.request({host: proxy.hostname, port: proxy.port,\n"
            "                            method: 'CONNECT', path: target,\n"
            "                            headers: {Host: target}, agent: false});\n"
            "  req.on('connect', (res, socket) => {\n"
            "    if (res.statusCode !== 200) {\n"
            "      socket.destroy();\n"
            "      return resolve([res.statusCode, res.headers['x-stockade-denied'] || '']);\n"
            "    }\n"
            "    const [host, port] = target.split(':');\n"
            "    const inner = http.request({createConnection: () => socket, host, port, path,\n"
            "                                headers: {Connection: 'close'}}, (got) => {\n"
            "      let body = '';\n"
            "      got.setEncoding('utf8');\n"
            "      got.on('data', (d) => body += d);\n"
            "      got.on('end', () => resolve([res.statusCode, got.statusCode, body.trim()]));\n"
            "    });\n"
            "    inner.on('error', (e) => resolve(['ERROR', e.code]));\n"
            "    inner.end();\n"
            "  });\n"
            "  req.on('error', (e) => resolve(['ERROR', e.code]));\n"
            "  req.end();\n"
            "});\n"
            "(async () => {\n"
            "  console.log(JSON.stringify(await tunnel(process.argv[1], process.argv[3])));\n"
            "  console.log(JSON.stringify(await tunnel(process.argv[2], process.argv[3])));\n"
            "})();\n")
    r, events, rep = run_net(ctx, ["node", "-e", code, f"api.stockade.test:{p}",
                                   f"other.stockade.test:{p}", f"/tunnel-{tag}"],
                             opts)
    got = node_results(r)
    expect(got == [[200, 200, f"hello /tunnel-{tag}"], [403, "no allow rule matches"]], f"{r}")
    expect([(e["decision"], e["proto"], e["host"]) for e in events] ==
           [("allow", "http-connect", "api.stockade.test"),
            ("deny", "http-connect", "other.stockade.test")], f"{events}")
    expect(events[0]["bytes_down"] > 0, f"{events[0]}")
    expect(rep["egress"] == {"allowed": 1, "denied": 1}, f"{rep.get('egress')}")
    seen = [entry for entry in Handler.log if tag in entry[0]]
    expect(seen == [(f"/tunnel-{tag}", f"api.stockade.test:{p}")], f"server saw {seen}")


def test_npm_honours_the_proxy_env(ctx):
    """npm, a real node application, takes HTTP_PROXY/HTTPS_PROXY itself: ping and view
    against a registry on the host's loopback go through the proxy (the sandbox cannot even
    resolve the registry's name); with the registry's host not allowed, npm fails."""
    need_node("npm")
    s = servers()
    p = s.http_port
    hosts = hosts_file(ctx, {"registry.stockade.test": "127.0.0.1",
                             "denied.stockade.test": "127.0.0.1"})
    ok, denied = f"http://registry.stockade.test:{p}/", f"http://denied.stockade.test:{p}/"
    script = (f"npm ping --registry {ok} && npm view {NPM_PACKAGE} version --registry {ok}; "
              f"echo ok-exit=$?; npm view {NPM_PACKAGE} version --registry {denied}; "
              "echo denied-exit=$?")
    before = len(Handler.log)
    r, events, rep = run_net(ctx, script,
                             ["--allow-net", f"registry.stockade.test:{p}", "--allow-net",
                              f"127.0.0.1:{p}", "--hosts-file", hosts, "--quiet",
                              "-e", "npm_config_update_notifier=false",
                              "-e", "npm_config_fetch_retries=0"])
    expect(r.returncode == 0 and r.out.split() == ["1.2.3", "ok-exit=0", "denied-exit=1"],
           f"{r}")
    expect("PONG" in r.err and "E403" in r.err, f"{r.err[-1500:]}")
    expect([(e["decision"], e["proto"], e["host"]) for e in events] ==
           [("allow", "http", "registry.stockade.test")] * 2 +
           [("deny", "http", "denied.stockade.test")], f"{events}")
    expect(events[-1]["reason"] == "no allow rule matches", f"{events[-1]}")
    seen = Handler.log[before:]
    host = f"registry.stockade.test:{p}"
    expect(seen == [("/-/ping", host), (f"/{NPM_PACKAGE}", host)], f"registry saw {seen}")


def test_node_fetch_ignoring_the_proxy_has_no_way_out(ctx):
    """Node's global fetch (undici) ignores HTTP_PROXY and friends: it resolves and connects
    by itself, and from inside the sandbox that goes nowhere, even to an allowed host."""
    p, tag, opts = node_setup(ctx)
    code = ("const get = (url) => fetch(url, {signal: AbortSignal.timeout(2000)}).then(\n"
            "  (res) => 'STATUS ' + res.status, (e) => (e.cause && e.cause.code) || e.name);\n"
            "console.log(JSON.stringify([process.env.HTTP_PROXY, process.env.HTTPS_PROXY]));\n" +
            NODE_GET_EACH)
    r, events, _ = run_net(ctx, ["node", "-e", code, f"http://api.stockade.test:{p}/fetch-{tag}",
                                 f"http://127.0.0.1:{p}/fetch-{tag}"],
                           opts)
    got = node_results(r)
    expect(len(got) == 3 and got[0] == ["http://127.0.0.1:3128"] * 2, f"{r}")
    expect(got[1] in ("EAI_AGAIN", "ENOTFOUND") and got[2] == "ECONNREFUSED",
           f"fetch found a way out: {r}")
    expect(events == [], f"fetch went through the proxy: {events}")
    seen = [entry for entry in Handler.log if tag in entry[0]]
    expect(seen == [], f"the server saw {seen}")


def test_forwarded_responses_end_the_connection(ctx):
    """The proxy carries one request per client connection, so every forwarded response says
    "Connection: close" and loses the server's hop-by-hop fields; a keep-alive client (node's
    default agent) then opens a new connection for its next request instead of sending it
    into a closed one. Interim 100 Continue heads go through unchanged."""
    s = servers()
    p = s.http_port
    hosts = hosts_file(ctx, {"api.stockade.test": "127.0.0.1"})
    opts = ["--allow-net", f"api.stockade.test:{p}", "--allow-net", f"127.0.0.1:{p}",
            "--hosts-file", hosts, "--quiet"]
    tag = f"{os.getpid()}-{time.monotonic_ns()}"
    code = ("import socket\n"
            "def send(req, body=b''):\n"
            "    s = socket.create_connection(('127.0.0.1', 3128))\n"
            "    s.sendall(req)\n"
            "    data = b''\n"
            "    if body:\n"
            "        while b'\\r\\n\\r\\n' not in data:\n"
            "            data += s.recv(4096)\n"
            "        s.sendall(body)\n"
            "    while True:\n"
            "        chunk = s.recv(65536)\n"
            "        if not chunk:\n"
            "            return data\n"
            "        data += chunk\n"
            f"h = 'Host: api.stockade.test:{p}\\r\\n'\n"
            f"u = 'http://api.stockade.test:{p}'\n"
            f"print(repr(send(f'GET {{u}}/keepalive-{tag} HTTP/1.1\\r\\n{{h}}\\r\\n'.encode())))\n"
            f"print(repr(send(f'POST {{u}}/post-{tag} HTTP/1.1\\r\\n{{h}}Expect: 100-continue\\r\\n'\n"
            "                 'Content-Length: 4\\r\\n\\r\\n'.encode(), b'data')))\n")
    r, events, _ = run_net(ctx, ["python3", "-c", code], opts)
    expect(r.returncode == 0, f"{r}")
    lines = r.out.splitlines()
    expect(len(lines) == 2, f"{r}")
    get = ast.literal_eval(lines[0])
    head, _, body = get.partition(b"\r\n\r\n")
    fields = head.split(b"\r\n")
    expect(fields[0] == b"HTTP/1.1 200 OK" and body == f"hello /keepalive-{tag}\n".encode(),
           f"{get!r}")
    expect(fields.count(b"Connection: close") == 1, f"no Connection: close: {get!r}")
    for hop in (b"Connection: keep-alive", b"Keep-Alive:", b"X-Hop:"):
        expect(not any(f.startswith(hop) for f in fields), f"{hop!r} passed on: {get!r}")
    expect(b"X-End: end to end" in fields, f"an end-to-end field was lost: {get!r}")
    post = ast.literal_eval(lines[1])
    expect(post.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n") and
           post.endswith(b"\r\n\r\ngot data") and b"Connection: close" in post, f"{post!r}")


def test_forwarded_responses_node_keep_alive_agent(ctx):
    """node's default agent keeps connections open and reuses them when told nothing: after the
    proxy's `Connection: close` it opens a new connection for each request, and every answer
    arrives. (Its own test, so that a host without node shows a skip, not a shorter test.)"""
    p, tag, opts = node_setup(ctx)
    js = ("const http = require('http');\n"
          "const proxy = new URL(process.env.HTTP_PROXY);\n"
          "const get = (url) => new Promise((resolve) => {\n"
          "  http.get({host: proxy.hostname, port: proxy.port, path: url,\n"
          "            headers: {Host: new URL(url).host}}, (res) => {\n"
          "    let body = '';\n"
          "    res.on('data', (d) => body += d);\n"
          "    res.on('end', () => resolve([res.statusCode, body.trim()]));\n"
          "  }).on('error', (e) => resolve(['ERROR', e.code]));\n"
          "});\n" + NODE_GET_EACH)
    urls = [f"http://api.stockade.test:{p}/keepalive-{tag}-{i}" for i in range(3)]
    r, _, _ = run_net(ctx, ["node", "-e", js] + urls, opts)
    expect(node_results(r) == [[200, f"hello /keepalive-{tag}-{i}"] for i in range(3)], f"{r}")


# ---- what a tunnel to a named host carries (SECURITY.md): servers that say what they served


class VhostServer(harness.LoopbackServer):
    """A lenient HTTP/1.x server like nginx: skips empty lines (CR or LF) before a request
    line, takes any method token in any case, serves every request pipelined on a connection,
    and logs (method, path, Host) for each one it serves."""

    def __init__(self):
        self.log = []
        super().__init__()

    def _serve(self, conn):
        conn.settimeout(5)
        data = b""
        try:
            while True:
                data = data.lstrip(b"\r\n")
                if b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                    continue
                head, _, data = data.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                parts = lines[0].split(" ")
                if len(parts) != 3 or not parts[2].startswith("HTTP/"):
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                    return
                fields = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
                fields = {k.strip().lower(): v.strip() for k, v in fields.items()}
                host = fields.get("host", "")
                self.log.append((parts[0], parts[1], host))
                body = f"served {host} {parts[1]}\n".encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                if fields.get("connection", "").lower() == "close":
                    return
        except OSError:
            pass
        finally:
            conn.close()


class TlsServer(harness.LoopbackServer):
    """A TLS server that logs the SNI of every handshake it sees (before it completes) and
    answers "tls served NAME" to a completed one."""

    def __init__(self, directory):
        self.snis = []
        key, cert = os.path.join(directory, "key.pem"), os.path.join(directory, "cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=stockade.test"], check=True,
                       capture_output=True)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.ctx.sni_callback = self._sni
        super().__init__()

    def _sni(self, sock, name, _ctx):
        self.snis.append(name)
        sock.sni_name = name

    def _serve(self, conn):
        conn.settimeout(5)
        try:
            tls = self.ctx.wrap_socket(conn, server_side=True)
            tls.recv(100)
            tls.sendall(f"tls served {getattr(tls, 'sni_name', None)}\n".encode())
            tls.close()
        except (OSError, ssl.SSLError):
            conn.close()


class RecordingServer(harness.LoopbackServer):
    """Records the bytes each connection brings; with a banner, speaks first (as SSH, SMTP or
    a database does) and then echoes each line back."""

    def __init__(self, banner=None):
        self.banner = banner
        self.received = []
        super().__init__()

    def _serve(self, conn):
        index = len(self.received)
        self.received.append(b"")
        conn.settimeout(5)
        try:
            if self.banner:
                conn.sendall(self.banner)
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                self.received[index] += data
                if self.banner:
                    conn.sendall(b"echo: " + data)
        except OSError:
            pass
        conn.close()

    def total(self):
        return sum(len(r) for r in self.received)


_named = None


def named_servers(ctx):
    global _named
    if _named is None:
        d = tempfile.mkdtemp(prefix="stockade-tls-")
        try:
            tls = TlsServer(d)  # the key and certificate are loaded: the files can go
        finally:
            shutil.rmtree(d, ignore_errors=True)
        _named = {"vhost": VhostServer(), "tls": tls, "sink": RecordingServer(),
                  "banner": RecordingServer(banner=b"220 banner.stockade.test ready\r\n")}
    return _named


# Python inside the sandbox: open tunnels through the proxy (CONNECT or SOCKS5), then for
# each case do what it says — stay silent a while, send bytes, or start TLS with an SNI — and
# report what came back: the text, "CLOSED" (the proxy closed it, nothing came), "OPEN".
TUNNEL_CLIENT = r'''
import json, socket, ssl, sys, threading, time
out = {}
def tunnel(mode, target):
    host, port = target.rsplit(":", 1)
    if mode == "connect":
        c = socket.create_connection(("127.0.0.1", 3128))
        c.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        # Read the answer's head only: a server that speaks first may have sent its banner
        # right behind it, and those bytes belong to the tunnel.
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = c.recv(1)
            if not chunk:
                return None
            answer += chunk
        return c if answer.startswith(b"HTTP/1.1 200") else None
    c = socket.create_connection(("127.0.0.1", 1080))
    c.sendall(b"\x05\x01\x00")
    if c.recv(2) != b"\x05\x00":
        return None
    c.sendall(b"\x05\x01\x00\x03" + bytes([len(host)]) + host.encode() +
              int(port).to_bytes(2, "big"))
    reply = c.recv(10)
    return c if reply[:2] == b"\x05\x00" else None
def one(name, mode, target, wait, kind, arg):
    c = tunnel(mode, target)
    if c is None:
        out[name] = "NO-TUNNEL"; return
    time.sleep(wait)
    got = b""
    try:
        if kind == "tls":
            tctx = ssl.create_default_context()
            tctx.check_hostname = False
            tctx.verify_mode = ssl.CERT_NONE
            t = tctx.wrap_socket(c, server_hostname=arg)
            t.sendall(b"hello\n")
            out[name] = t.recv(100).decode(errors="replace"); return
        if kind == "bytes" and arg:
            c.sendall(bytes.fromhex(arg))
        c.settimeout(2.5)
        while True:
            chunk = c.recv(65536)
            if not chunk: break
            got += chunk
            if kind == "line":  # a banner came: answer it, read the echo, done
                c.sendall(b"PING\r\n"); kind = "echo"
            elif kind == "echo" and got.endswith(b"echo: PING\r\n"):
                break
        out[name] = got.decode(errors="replace") if got else "CLOSED"
    except socket.timeout:
        out[name] = "OPEN" if not got else "OPEN:" + got.decode(errors="replace")
    except (OSError, ssl.SSLError) as e:
        out[name] = "CLOSED" if not got else got.decode(errors="replace")
args = sys.argv[1:]
ts = [threading.Thread(target=one, args=(args[i], args[i + 1], args[i + 2], float(args[i + 3]),
                                         args[i + 4], args[i + 5]))
      for i in range(0, len(args), 6)]
[t.start() for t in ts]; [t.join() for t in ts]
print(json.dumps(out))
'''


def tunnel_client(cases):
    """argv for TUNNEL_CLIENT: cases {name: (mode, target, wait, kind, arg)}."""
    argv = ["python3", "-c", TUNNEL_CLIENT]
    for name, (mode, target, wait, kind, arg) in cases.items():
        argv += [name, mode, target, str(wait), kind, arg]
    return argv


def _sslv2_client_hello():
    """An SSLv2-format ClientHello (as old clients sent for compatibility): a 2-byte record
    header with the top bit set, message type 1, version 3.1, cipher specs, a challenge."""
    specs = b"\x00\x00\x2f\x00\x00\x35\x00\x00\x0a"
    body = (b"\x01\x03\x01" + struct.pack("!HHH", len(specs), 0, 16) + specs + os.urandom(16))
    return struct.pack("!H", 0x8000 | len(body)) + body


def test_tunnel_to_a_name_carries_only_that_name(ctx):
    """A tunnel to an allowed name carries only a first message that names it: TLS whose SNI
    is that name, or an HTTP/1.x request whose Host is. Through CONNECT and SOCKS5 alike, and
    against servers that would serve another name (a lenient HTTP server that skips empty
    lines and takes any method; a TLS server), none of these reaches another name: a client
    that stays silent past the proxy's peek and then speaks TLS or HTTP for another host, an
    empty line before a request for another Host, a lower-case or unknown method for another
    Host, a request for another Host pipelined behind an allowed one, an SSLv2 ClientHello.
    The allowed forms work; every refusal is audited with its reason."""
    srv = named_servers(ctx)
    tag = f"{os.getpid()}-{time.monotonic_ns()}"
    front, hidden = f"front-{tag}.test", f"hidden-{tag}.test"
    vport, tport, sport = srv["vhost"].port, srv["tls"].port, srv["sink"].port
    hosts = hosts_file(ctx, {front: "127.0.0.1"})

    def http(method, path, host, lead=b""):
        return (lead + f"{method} /{tag}/{path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()).hex()

    cases = {}
    for mode in ("connect", "socks"):
        v, t, s = f"{front}:{vport}", f"{front}:{tport}", f"{front}:{sport}"
        cases.update({
            f"{mode}/silent-then-other-sni": (mode, t, 2.5, "tls", hidden),
            f"{mode}/silent-then-other-host": (mode, v, 2.5, "bytes",
                                               http("GET", f"{mode}-silent", hidden)),
            f"{mode}/crlf-other-host": (mode, v, 0, "bytes",
                                        http("GET", f"{mode}-crlf", hidden, b"\r\n\r\n")),
            f"{mode}/lowercase-other-host": (mode, v, 0, "bytes",
                                             http("get", f"{mode}-lower", hidden)),
            f"{mode}/odd-method-other-host": (mode, v, 0, "bytes",
                                              http("BREW", f"{mode}-brew", hidden)),
            f"{mode}/lowercase-then-pipelined": (
                mode, v, 0, "bytes", http("get", f"{mode}-first", f"{front}:{vport}") +
                http("GET", f"{mode}-second", hidden)),
            f"{mode}/sslv2-hello": (mode, s, 0, "bytes", _sslv2_client_hello().hex()),
            f"{mode}/tls-same-name": (mode, t, 0, "tls", front),
            f"{mode}/http-same-host": (mode, v, 0, "bytes",
                                       http("GET", f"{mode}-same", f"{front}:{vport}")),
        })
    sink_before = srv["sink"].total()
    r, events, _ = run_net(ctx, tunnel_client(cases),
                           ["--hosts-file", hosts, "--quiet"] +
                           [x for p in (vport, tport, sport)
                            for x in ("--allow-net", f"{front}:{p}", "--allow-net",
                                      f"127.0.0.1:{p}")])
    expect(r.returncode == 0, f"{r}")
    got = json.loads(r.out)
    time.sleep(0.3)
    served = [path for _, path, _ in srv["vhost"].log if tag in path]
    snis = [name for name in srv["tls"].snis if tag in (name or "")]
    for mode in ("connect", "socks"):
        proto = "http-connect" if mode == "connect" else "socks5"
        expect(got[f"{mode}/silent-then-other-sni"] == "CLOSED", f"{mode}: {got}")
        expect(got[f"{mode}/silent-then-other-host"] == "CLOSED", f"{mode}: {got}")
        for name in ("crlf-other-host", "lowercase-other-host", "odd-method-other-host"):
            answer = got[f"{mode}/{name}"]
            expect(answer.startswith("HTTP/1.1 400 ") and "Host header does not match" in answer,
                   f"{mode}/{name}: {answer!r}")
        expect(got[f"{mode}/sslv2-hello"] == "CLOSED", f"{mode}: {got}")
        pipelined = got[f"{mode}/lowercase-then-pipelined"]
        expect(pipelined.startswith("HTTP/1.1 200 ") and "Connection: close" in pipelined and
               pipelined.endswith(f"served {front}:{vport} /{tag}/{mode}-first\n"),
               f"{mode}: {pipelined!r}")
        expect(got[f"{mode}/tls-same-name"] == f"tls served {front}\n", f"{mode}: {got}")
        expect(got[f"{mode}/http-same-host"].endswith(f"/{tag}/{mode}-same\n"), f"{mode}: {got}")
        reasons = [e["reason"] for e in events if e["decision"] == "deny" and e["proto"] == proto]
        for words, n in (("sent nothing", 2), ("Host header does not match", 3), ("SSLv2", 1)):
            expect(sum(words in reason for reason in reasons) == n,
                   f"{mode}: not {n} denials for {words!r}: {reasons}")
        allowed = sorted(e["carries"] for e in events
                         if e["decision"] == "allow" and e["proto"] == proto)
        expect(allowed == ["http", "http", "tls"], f"{mode}: allowed {allowed}")
    # The servers: only the allowed names were served.
    expect(sorted(served) == sorted(f"/{tag}/{m}-{p}" for m in ("connect", "socks")
                                    for p in ("first", "same")), f"the server served {served}")
    expect(snis == [front, front], f"the TLS server saw SNI {snis}")
    expect(srv["sink"].total() == sink_before, "the SSLv2 hello reached the server")


def test_raw_rule_opts_a_name_into_unchecked_tunnels(ctx):
    """A server-speaks-first protocol (an SSH/SMTP-like banner) to a named host: without an
    opt-in the tunnel is refused once the peek's time is up — and the banner never reaches
    the client before that; with HOST:PORT/raw it is relayed as is, through CONNECT and SOCKS5,
    and the audit record says "raw" and names the rule."""
    srv = named_servers(ctx)
    tag = f"{os.getpid()}-{time.monotonic_ns()}"
    db = f"db-{tag}.test"
    port = srv["banner"].port
    hosts = hosts_file(ctx, {db: "127.0.0.1"})
    cases = {f"{mode}/banner": (mode, f"{db}:{port}", 0, "line", "")
             for mode in ("connect", "socks")}
    base = ["--hosts-file", hosts, "--quiet", "--allow-net", f"127.0.0.1:{port}"]
    conns_before = len(srv["banner"].received)
    r, events, _ = run_net(ctx, tunnel_client(cases), base + ["--allow-net", f"{db}:{port}"])
    got = json.loads(r.out)
    expect(got == {"connect/banner": "CLOSED", "socks/banner": "CLOSED"},
           f"without /raw: {got} {r.err[-300:]}")
    expect([(e["decision"], "sent nothing" in e["reason"]) for e in events] ==
           [("deny", True)] * 2, f"{events}")
    time.sleep(0.2)
    expect(all(data == b"" for data in srv["banner"].received[conns_before:]),
           "the server got bytes")
    r, events, _ = run_net(ctx, tunnel_client(cases), base + ["--allow-net", f"{db}:{port}/raw"])
    expect(r.returncode == 0, f"{r}")
    got = json.loads(r.out)
    want = "220 banner.stockade.test ready\r\necho: PING\r\n"
    expect(got == {"connect/banner": want, "socks/banner": want}, f"with /raw: {got}")
    expect(sorted((e["decision"], e["proto"], e["rule"], e["carries"]) for e in events) ==
           [("allow", p, f"{db}:{port}/raw", "raw") for p in ("http-connect", "socks5")],
           f"{events}")


def test_raw_rule_grammar_refused(ctx):
    """/raw is for a host name with a port, in an allow rule: anything else is one line and
    exit 125, before anything runs."""
    for flag, rule, words in (("--allow-net", "10.0.0.5:22/raw", "/raw is for host names"),
                              ("--allow-net", "10.0.0.0/8:22/raw", "/raw is for host names"),
                              ("--allow-net", "[2001:db8::1]:22/raw", "/raw is for host names"),
                              ("--allow-net", "db.test/raw", "explicit port"),
                              ("--allow-net", "db.test:22/tls", "the only one is /raw")):
        r = ctx.stockade("run", flag, rule, "--", "echo", "RAN")
        expect(r.returncode == 125 and "RAN" not in r.out and r.err.count("\n") == 1 and
               words in r.err, f"{rule!r}: {r}")
    r = ctx.stockade("run", "--allow-net", "a.test", "--deny-net", "db.test:22/raw", "--",
                     "echo", "RAN")
    expect(r.returncode == 125 and "RAN" not in r.out and "--allow-net rules only" in r.err,
           f"{r}")


def test_denial_lines_on_stderr_are_bounded(ctx):
    """The proxy's denial lines go to the caller's stderr, outside the sandbox's counted
    output: a workload making 2000 denied connections (with --output-limit 64k) gets the first
    10 shown and one line counting the rest, while the audit log has every record. A name the
    sandbox chose is cut to 100 characters on stderr, and nothing it sends reaches the
    terminal raw (names with escape sequences never get that far: the parsers refuse them)."""
    labels = ["a" * 60] * 4
    long_name = ".".join(labels) + ".test"  # 249 characters, a valid name
    esc = "\x1b[2J\x1b]0;pwned\x07.test"
    code = ("import socket, sys\n"
            "def connect(target):\n"
            "    c = socket.create_connection(('127.0.0.1', 3128))\n"
            "    c.sendall(b'CONNECT ' + target + b' HTTP/1.1\\r\\n\\r\\n')\n"
            "    c.recv(4096); c.close()\n"
            "def socks(name):\n"
            "    c = socket.create_connection(('127.0.0.1', 1080))\n"
            "    c.sendall(b'\\x05\\x01\\x00'); c.recv(2)\n"
            "    c.sendall(b'\\x05\\x01\\x00\\x03' + bytes([len(name)]) + name + b'\\x01\\xbb')\n"
            "    c.recv(10); c.close()\n"
            f"connect({long_name.encode()!r} + b':443')\n"
            f"connect({esc.encode()!r} + b':443')\n"
            f"socks({esc.encode()!r})\n"
            "for i in range(1997):\n"
            "    connect(b'denied-%d.test:443' % i)\n"
            "print('done')\n")
    r, events, rep = run_net(ctx, ["python3", "-c", code],
                             ["--allow-net", "allowed.test", "--output-limit", "64k"],
                             timeout=120)
    expect(r.returncode == 0 and r.out == "done\n", f"{r}")
    lines = r.err.splitlines()
    denied = [line for line in lines if line.startswith("stockade: egress denied: ")]
    expect(len(denied) == 10, f"{len(denied)} denial lines, {len(r.err)} bytes: {r.err[:600]!r}")
    expect(lines[-1] == "stockade: egress: 1990 more denials not shown, all are in the --audit "
                        "file", f"{lines[-3:]}")
    expect(len(lines) == 11 and len(r.err) < 4096, f"stderr: {len(r.err)} bytes")
    expect("\x1b" not in r.err and "\x07" not in r.err, f"raw control bytes: {r.err[:600]!r}")
    expect(all(len(line) <= 300 for line in lines), f"a line too long: {lines[:3]}")
    expect(denied[0].startswith("stockade: egress denied: " + long_name[:97] + "... port 443"),
           f"the long name: {denied[0]!r}")
    expect(len(events) == 2000 and all(e["decision"] == "deny" for e in events),
           f"{len(events)} audit records")
    expect(events[0]["host"] == long_name, f"the audit log lost the name: {events[0]}")
    expect(rep["egress"]["denied"] == 2000, f"{rep.get('egress')}")
    # Without --audit the count says where all of them would be.
    r = ctx.sandbox(["python3", "-c", code], opts=["--allow-net", "allowed.test"], timeout=120)
    expect(r.err.splitlines()[-1] == "stockade: egress: 1990 more denials not shown, see "
                                     "--audit FILE", f"{r.err[-300:]!r}")


def test_proxy_landlock_refuses_connect_to_other_ports(ctx):
    """The proxy's own Landlock, observed in the running proxy: connect() calls injected into
    it from the host (tests/integration/inject.py: ptrace, as root) bypass its policy code,
    so only Landlock decides. To a port no allow rule names it is EACCES and the listener
    there hears nothing; to the allowed port it connects; afterwards the proxy still serves.
    (Its file rights cannot be watched this way: no file syscall passes its seccomp filter.)"""
    import errno
    import inject
    s = servers()
    p = s.http_port
    hosts = hosts_file(ctx, {"api.test": "127.0.0.1"})
    other = socket.socket()
    other.bind(("127.0.0.1", 0))
    other.listen(8)
    other.setblocking(False)
    other_port = other.getsockname()[1]
    proc = ctx.popen([ctx.stockade_path, "run", "--allow-net", f"api.test:{p}", "--allow-net",
                      f"127.0.0.1:{p}", "--hosts-file", hosts, "--quiet", "--", "sh", "-c",
                      f"echo ready; read x; {curl(f'http://api.test:{p}/')}"],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    results = {}
    try:
        expect(proc.stdout.readline() == b"ready\n", "the sandbox did not start")
        with inject.Injector(proxy_pid(proc.pid)) as proxy:
            for label, port in (("other port", other_port), ("allowed port", p)):
                addr = proxy.write(struct.pack("=H", socket.AF_INET) + struct.pack("!H", port) +
                                   socket.inet_aton("127.0.0.1") + bytes(8))  # sockaddr_in
                fd = proxy.syscall(41, socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_CLOEXEC,
                                   0)
                expect(fd >= 0, f"socket() in the proxy: {fd}")
                results[label] = proxy.syscall(42, fd, addr, 16)  # connect
                proxy.syscall(3, fd)  # close
        out, err = proc.communicate(b"go\n", timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    try:
        other.accept()
        heard = True
    except BlockingIOError:
        heard = False
    other.close()
    expect(results == {"other port": -errno.EACCES, "allowed port": 0},
           f"connect() in the proxy: {results} (want -EACCES to {other_port}, 0 to {p})")
    expect(not heard, f"the listener on port {other_port} heard the proxy")
    expect(out == b"200\n" and b"egress proxy died" not in err,
           f"the proxy after the injection: {out!r} {err[-300:]!r}")
