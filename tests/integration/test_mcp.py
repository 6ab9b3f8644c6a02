"""`stockade mcp` (issue 17, docs/mcp.md): sandboxes as tools over the Model Context Protocol.

End to end with the official TypeScript SDK's client (@modelcontextprotocol/sdk, npm-installed
once per test run into a directory of its own under /tmp, never into the repository; the
client is tests/mcp/client.mjs): every tool against real sandboxes, the operator's policy
that the model cannot widen, progress and cancellation (the exec dies inside the sandbox),
and an MCP server of the SDK's (tests/mcp/server.mjs) wrapped whole in `stockade run`. Raw
JSON-RPC from Python for what an SDK never sends: malformed messages, batches, versions, the
end of the connection. Each test has its own STOCKADE_HOME."""
import atexit
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time

import harness
from harness import expect

SDK_VERSION = "1.32.2"  # pinned: the tests are about our server, not a moving client
SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mcp")
_sdk = {}


def sdk_dir():
    """node and the SDK, installed once per run (npm's cache makes later runs quick); the
    directory is world-readable so the unprivileged mode's node can load it."""
    if "dir" in _sdk:
        return _sdk["dir"]
    if "skip" in _sdk:
        raise harness.Skip(_sdk["skip"])
    missing = [t for t in ("node", "npm") if not shutil.which(t, path=harness.BASE_ENV["PATH"])]
    if missing:
        _sdk["skip"] = f"{' and '.join(missing)} not installed (`make deps` installs them)"
        raise harness.Skip(_sdk["skip"])
    top = tempfile.mkdtemp(prefix="stockade-mcp-sdk-")
    atexit.register(harness.remove_tree, top)
    r = subprocess.run(["npm", "install", "--prefix", top, "--no-audit", "--no-fund",
                        "--loglevel=error", f"@modelcontextprotocol/sdk@{SDK_VERSION}"],
                       capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, npm_config_update_notifier="false"))
    if r.returncode != 0:
        _sdk["skip"] = ("cannot npm-install @modelcontextprotocol/sdk (no registry?): " +
                        " ".join(r.stderr.split())[-300:])
        raise harness.Skip(_sdk["skip"])
    for name in ("client.mjs", "server.mjs"):
        shutil.copy(os.path.join(SCRIPTS, name), top)
    for base, dirs, files in os.walk(top):
        for n in [base] + [os.path.join(base, x) for x in dirs + files]:
            os.chmod(n, 0o755 if os.path.isdir(n) else 0o644)
    _sdk["dir"] = top
    return top


def sdk_client(ctx, server_argv, scenario, env, timeout=120):
    """tests/mcp/client.mjs as this mode's caller: what it saw, as a dict."""
    top = sdk_dir()
    r = ctx.run(["node", os.path.join(top, "client.mjs"), json.dumps(server_argv), scenario],
                env=env, timeout=timeout)
    expect(r.returncode == 0, f"the SDK client failed: {r}")
    seen = json.loads(r.out)
    expect("exception" not in seen, f"the SDK client threw: {seen.get('exception')}\n{r.err}")
    return seen, r


class Home(harness.Home):
    """harness.Home, with an operator's profiles and policy files."""

    def profile(self, name, doc):
        """An operator's profile file: the caller's, not writable by others."""
        top = os.path.join(self.home, "profiles")
        os.makedirs(top, exist_ok=True)
        path = os.path.join(top, name + ".json")
        with open(path, "w") as f:
            json.dump(doc, f)
        for p in (top, path):
            os.chown(p, self.ctx.caller_uid, self.ctx.caller_gid)
            os.chmod(p, 0o755 if p == top else 0o644)

    def policy(self, doc):
        path = os.path.join(self.ctx.tmpdir(), "operator.json")
        with open(path, "w") as f:
            json.dump(doc, f)
        os.chmod(path, 0o644)
        return path


class Raw:
    """An MCP server driven by hand (stockade mcp unless argv says otherwise): JSON-RPC lines
    in, lines out, notifications set aside."""

    def __init__(self, home, *flags, argv=None):
        argv = argv or [home.ctx.stockade_path, "mcp", *flags]
        self.p = home.ctx.popen(argv, env=home.env, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.buf = b""
        self.next_id = 0
        self.notes = []

    def send(self, msg):
        data = msg if isinstance(msg, bytes) else (
            msg if isinstance(msg, str) else json.dumps(msg)).encode()
        self.p.stdin.write(data + b"\n")
        self.p.stdin.flush()

    def line(self, timeout=30):
        deadline = time.time() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.time()
            ready, _, _ = select.select([self.p.stdout], [], [], max(left, 0))
            expect(ready, f"no answer within {timeout}s")
            chunk = os.read(self.p.stdout.fileno(), 1 << 20)
            if not chunk:
                self.p.kill()
                raise AssertionError(f"the server closed its stdout: {self.p.stderr.read()!r}")
            self.buf += chunk
        text, self.buf = self.buf.split(b"\n", 1)
        return json.loads(text)

    def answer(self, timeout=30):
        """The next response (notifications set aside)."""
        while True:
            msg = self.line(timeout)
            if "method" in msg and "id" not in msg:
                self.notes.append(msg)
                continue
            return msg

    def request(self, method, params=None, timeout=30):
        self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        got = self.answer(timeout)
        expect(got.get("id") == self.next_id, f"answer to another request: {got}")
        return got

    def initialize(self, version="2025-06-18"):
        got = self.request("initialize", {"protocolVersion": version, "capabilities": {},
                                          "clientInfo": {"name": "raw", "version": "1"}})
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return got

    def call(self, tool, **args):
        got = self.request("tools/call", {"name": tool, "arguments": args}, 60)
        expect("result" in got, f"{tool}: {got}")
        return got["result"]

    def ok(self, tool, **args):
        result = self.call(tool, **args)
        expect(not result.get("isError"), f"{tool} {args}: {result}")
        return result["structuredContent"]

    def close(self, timeout=30):
        """Closes its stdin (the end of the connection); its Result."""
        return harness.finish(self.p, input=b"", timeout=timeout, what="after stdin closed")


def error_text(result):
    expect(result.get("isError") is True, f"not an error result: {result}")
    return result["content"][0]["text"]


# ---- the SDK's client, end to end ----

def test_sdk_client_uses_every_tool(ctx):
    h = Home(ctx)
    seen, r = sdk_client(ctx, [ctx.stockade_path, "mcp"], "tools", h.env)
    expect(seen["server"]["name"] == "stockade" and
           seen["capabilities"] == {"tools": {"listChanged": False}}, f"{seen}")
    tools = seen["tools"]
    expect(sorted(tools) == sorted(["sandbox_create", "sandbox_list", "sandbox_destroy", "exec",
                                    "run", "read_file", "write_file", "list_files",
                                    "delete_file", "describe_policy"]), f"{sorted(tools)}")
    expect(all(t["hasInput"] and t["hasOutput"] for t in tools.values()), f"{tools}")
    hints = {name: (t["annotations"]["readOnlyHint"], t["annotations"]["destructiveHint"])
             for name, t in tools.items()}
    expect(hints["read_file"] == (True, False) and hints["sandbox_destroy"] == (False, True) and
           hints["delete_file"] == (False, True) and hints["describe_policy"][0], f"{hints}")
    # the sandbox's layers, seen by the exec'd command
    expect(seen["create"] == {"name": "work", "profile": None}, f"{seen['create']}")
    expect(seen["layers"]["stdout"] == "10001\nstockade\nCapEff:\t0000000000000000\n"
           "NoNewPrivs:\t1\nSeccomp:\t2\nlo\n", f"{seen['layers']}")
    expect(seen["status"]["exit_code"] == 3 and seen["status"]["stdout"] == "out\n" and
           seen["status"]["stderr"] == "err\n", f"a non-zero exit is a result: {seen['status']}")
    expect(seen["io"]["stdout"] == "from stdin\nhello\n/tmp\n", f"{seen['io']}")
    flood = seen["flood"]
    expect(flood["truncated"] and flood["exit_code"] == 0 and
           flood["stdout"].endswith("[stockade: output truncated: 1000000 bytes in all, the "
                                    "first 131072 kept]") and
           len(flood["stdout"]) < 131072 + 100, f"{flood['stdout'][-200:]}")
    expect(seen["notFound"]["exit_code"] == 127, f"{seen['notFound']}")
    # files, both encodings, as the sandbox's user
    expect(seen["readMatches"] and seen["readBinaryMatches"], f"{seen['read']}")
    expect(seen["write"].get("size") == len("naïve café ☕\nline two\n".encode()), f"{seen['write']}")
    expect(seen["checkInside"]["stdout"] == " 00 01 02 ff fe 0a 0d 80\nsandbox 26\n",
           f"{seen['checkInside']}")
    expect(seen["list"]["entries"] == [
        {"name": "bin", "type": "file", "size": 8}, {"name": "d", "type": "directory",
                                                     "size": seen["list"]["entries"][1]["size"]},
        {"name": "link", "type": "symlink", "size": 9},
        {"name": "notes.txt", "type": "file", "size": 26}], f"{seen['list']}")
    expect(seen["deleteFile"] == {"path": "/tmp/notes.txt", "deleted": True}, f"{seen}")
    expect("Directory not empty" in seen["deleteDirRefused"]["error"], f"{seen}")
    expect([e["name"] for e in seen["listAfter"]["entries"]] == ["bin", "link"], f"{seen}")
    expect("No such file" in seen["readMissing"]["error"], f"{seen['readMissing']}")
    # run: a sandbox of its own, nothing of the other's
    expect(seen["run"]["stdout"] == "10001\nstockade\n0\n", f"{seen['run']}")
    listed = seen["sandboxes"]["sandboxes"]
    expect([b["name"] for b in listed] == ["work"] and listed[0]["status"] == "running",
           f"{listed}")
    expect(seen["destroy"] == {"sandbox": "work", "destroyed": True} and
           seen["sandboxesAfter"]["sandboxes"] == [], f"{seen}")
    expect("no sandbox 'work'" in seen["execAfter"]["error"], f"{seen['execAfter']}")
    # the client closed: what it left behind is gone, from the host's view too
    expect(seen["kept"]["name"] == "left-behind", f"{seen['kept']}")
    expect(h.ps() == {} and h.names() == [], f"left behind: {h.ps()} {h.names()}")


def test_sdk_client_cannot_widen_the_policy(ctx):
    """The operator's --policy and allowed profiles are all there is: a profile not allowed
    (though it exists, with the public network), an argument that would widen, a flag in a
    value, another sandbox of the operator's: each is an error result, and nothing changes."""
    h = Home(ctx)
    h.profile("wide-open", {"stockade": 1, "network": {"mode": "public"}})
    h.profile("narrow", {"stockade": 1, "hostname": "narrow-box"})
    policy = h.policy({"stockade": 1, "env": ["FROM_POLICY=operator"]})
    expect(h.cli("run", "-d", "--name", "operators").returncode == 0, "the operator's sandbox")
    server = HostService()
    ctx._cleanup.append(server.close)
    secret = "server-only-" + os.urandom(6).hex()
    seen, r = sdk_client(ctx, [ctx.stockade_path, "mcp", "--policy", policy, "--allow-profile",
                               "narrow", "--max-timeout", "30"], "refusals",
                         dict(h.env, HOST_PORT=str(server.port), SERVER_SECRET=secret))
    expect(secret not in json.dumps(seen), "the server's environment reached the model")
    expect("FROM_POLICY=operator" in seen["sandboxEnv"]["stdout"], f"{seen['sandboxEnv']}")
    refused = seen["refused"]
    for key, needle in (("profileNotAllowed", "profiles the operator allows"),
                        ("networkArgument", "takes no argument 'network'"),
                        ("volumeArgument", "takes no argument 'volumes'"),
                        ("policyArgument", "takes no argument 'policy'"),
                        ("flagAsName", "argument 'name' must be a name"),
                        ("operatorsSandbox", "no sandbox 'operators'"),
                        ("destroyOperators", "no sandbox 'operators'"),
                        ("readOperators", "no sandbox 'operators'"),
                        ("envBadName", "argument 'env'"),
                        ("envWithoutValue", "argument 'env'"),
                        ("relativeCwd", "argument 'cwd' must be an absolute path"),
                        ("nulInArgv", "without NUL"),
                        ("overTimeout", "the operator's limit"),
                        ("bothCommandAndShell", "exactly one of command")):
        expect(needle in refused[key].get("error", ""), f"{key}: {refused[key]}")
    expect(seen["flagAsCommand"]["exit_code"] == 127, f"a flag after -- is a program's name: "
                                                      f"{seen['flagAsCommand']}")
    # no network inside: only lo, and the host's loopback service unreachable
    expect(seen["network"]["stdout"] == "lo\nrefused\n" and
           seen["runNetwork"]["stdout"] == "lo\nrefused\n", f"{seen['network']}")
    expect(server.hits == 0, f"the host service was reached {server.hits} times")
    # the allowed profile applies, under the operator's policy file
    expect(seen["narrow"]["profile"] == "narrow", f"{seen['narrow']}")
    expect(seen["narrowInside"]["stdout"] == "narrow-box\noperator\n" and
           seen["defaultInside"]["stdout"] == "stockade\noperator\n", f"{seen}")
    names = [b["name"] for b in seen["sandboxes"]["sandboxes"]]
    expect(len(names) == 2 and "operators" not in names, f"sandbox_list: {names}")
    profiles = [(p["name"], p["spec"]["network"]["mode"], p["spec"]["env"])
                for p in seen["policy"]["profiles"]]
    expect(profiles == [(None, "none", ["FROM_POLICY=operator"]),
                        ("narrow", "none", ["FROM_POLICY=operator"])], f"{profiles}")
    expect(seen["policy"]["last_denial"]["tool"] == "exec" and
           "exactly one of command" in seen["policy"]["last_denial"]["reason"],
           f"describe_policy says why the last call was refused: {seen['policy']}")
    # the operator's sandbox was never touched, and is all that is left
    listed = h.ps()
    expect(list(listed) == ["operators"] and listed["operators"]["status"] == "running",
           f"{listed}")


class HostService(harness.LoopbackServer):
    """A service on the host's loopback that counts who reached it."""

    def __init__(self):
        self.hits = 0
        super().__init__()

    def _serve(self, conn):
        self.hits += 1
        conn.close()


def test_sdk_progress_and_cancellation(ctx):
    h = Home(ctx)
    seen, r = sdk_client(ctx, [ctx.stockade_path, "mcp"], "progressAndCancel", h.env)
    expect(seen["long"]["stdout"] == "finished\n", f"{seen['long']}")
    progress = [p["progress"] for p in seen["progress"]]
    expect(len(progress) >= 2 and progress == sorted(set(progress)) and
           all("running" in p["message"] for p in seen["progress"]),
           f"progress notifications for a 2.6 s exec: {seen['progress']}")
    for key in ("plain", "ignoresTerm"):
        got = seen[key]
        expect("aborted" in got["outcome"], f"{key}: answered after the cancel: {got}")
        expect(got["alive"] == "dead\n0\n", f"{key}: the exec lives on in the sandbox: {got}")
    # one that ignores SIGTERM dies of the SIGKILL that follows 2 s later
    expect(2000 <= seen["ignoresTerm"]["tookMs"] < 10000, f"{seen['ignoresTerm']}")
    expect(seen["plain"]["tookMs"] < 2000, f"SIGTERM was enough: {seen['plain']}")
    expect(seen["after"]["stdout"] == "still works\n", f"{seen['after']}")
    expect(h.ps() == {}, f"{h.ps()}")


def test_mcp_server_wrapped_in_stockade_run(ctx):
    """Item 5: an MCP server from the SDK inside `stockade run`, the SDK's client outside:
    stdin and stdout carry the protocol as they are (no banner, nothing held back)."""
    h = Home(ctx)
    top = sdk_dir()
    r = h.cli("volume", "import", "mcp-sdk", top, timeout=120)
    expect(r.returncode == 0, f"volume import: {r}")
    server = [ctx.stockade_path, "run", "-v", "mcp-sdk:/srv:ro", "--", "node",
              "/srv/server.mjs"]
    seen, r = sdk_client(ctx, server, "wrapped", h.env)
    expect(seen["server"]["name"] == "inside" and seen["tools"] == ["whoami", "echo"], f"{seen}")
    expect(seen["whoami"] == {"uid": 10001, "hostname": "stockade", "noNewPrivs": "1",
                              "seccomp": "2", "capEff": "0000000000000000",
                              "interfaces": ["lo"]}, f"the server is not sandboxed: {seen}")
    expect(seen["echoMatches"], "300 KB through the sandbox and back changed")
    # by hand: the first line out is the answer to the first line in, while stdin is open
    raw = Raw(h, argv=server)
    got = raw.initialize("2025-06-18")
    expect(got["result"]["serverInfo"]["name"] == "inside", f"{got}")
    listed = raw.request("tools/list", {})
    expect([t["name"] for t in listed["result"]["tools"]] == ["whoami", "echo"], f"{listed}")
    r = raw.close()
    expect(r.returncode == 0 and r.out == "" and r.err == "", f"after the protocol: {r}")


# ---- raw JSON-RPC ----

def test_malformed_input_gets_standard_errors(ctx):
    h = Home(ctx)
    m = Raw(h)
    expect(m.request("ping")["result"] == {}, "ping before initialize")
    got = m.request("tools/list")
    expect(got["error"]["code"] == -32600 and "initialize" in got["error"]["message"], f"{got}")
    m.initialize()
    cases = [
        (b"{", -32700, None),
        (b'{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}', -32700, None),
        (b'"just a string"', -32600, None),
        (b"42", -32600, None),
        (b'{"jsonrpc":"1.0","id":7,"method":"ping"}', -32600, 7),
        (b'{"id":8,"method":"ping"}', -32600, 8),
        (b'{"jsonrpc":"2.0","id":null,"method":"ping"}', -32600, None),
        (b'{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}', -32600, None),
        (b'{"jsonrpc":"2.0","id":9,"method":5}', -32600, 9),
        (b'{"jsonrpc":"2.0","id":10,"method":"no/such"}', -32601, 10),
        (b'{"jsonrpc":"2.0","id":"s","method":"tools/call","params":[1]}', -32602, "s"),
        (b'{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"name":"nope"}}', -32602, 11),
        (b'{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"name":"exec",'
         b'"arguments":[]}}', -32602, 12),
        (b'{"jsonrpc":"2.0","id":13,"method":"initialize","params":{"protocolVersion":'
         b'"2025-06-18"}}', -32600, 13),
        (b'{"jsonrpc":"2.0","id":14,"method":"tools/list","params":{"cursor":"x"}}', -32602, 14),
        (b'[{"jsonrpc":"2.0","id":15,"method":"ping"}]', -32600, None),
        (b"\xff\xfe{}", -32700, None),
    ]
    for raw, code, rid in cases:
        m.send(raw)
        got = m.answer()
        expect(got.get("jsonrpc") == "2.0" and got.get("id") == rid and
               got.get("error", {}).get("code") == code and got["error"].get("message"),
               f"{raw!r}: expected {code}, got {got}")
    # a method or an argument named in multi-byte characters, cut in the message that names
    # it: the answer is still valid UTF-8, and the server goes on
    long_name = "a" + "é" * 40
    got = m.request(long_name)
    expect(got["error"]["code"] == -32601 and got["error"]["message"].startswith(
        "method not found: a" + "é" * 31), f"{got}")
    text = error_text(m.call("sandbox_list", **{long_name: 1}))
    expect("takes no argument 'aéé" in text, text)
    # a message past the 8 MiB limit: refused, and the next one is read as usual
    m.send(b'{"jsonrpc":"2.0","id":16,"method":"ping","params":{"pad":"' + b"x" * (9 << 20) +
           b'"}}')
    got = m.answer()
    expect(got["error"]["code"] == -32600 and "longer than" in got["error"]["message"], f"{got}")
    # notifications and stray responses get no answer; a request after them does
    m.send({"jsonrpc": "2.0", "method": "notifications/whatever"})
    m.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 999}})
    m.send({"jsonrpc": "2.0", "id": 77, "result": {}})
    expect(m.request("ping")["result"] == {}, "still serving")
    # tool input errors are results the model can act on, not protocol errors
    result = m.call("exec", sandbox="nope", command="not a list")
    expect("argument 'command' must be an array" in error_text(result), f"{result}")
    r = m.close()
    expect(r.returncode == 0 and r.err == "", f"{r}")


def test_protocol_versions_and_batches(ctx):
    h = Home(ctx)
    for asked, answered in (("2025-11-25", "2025-11-25"), ("2025-06-18", "2025-06-18"),
                            ("2025-03-26", "2025-03-26"), ("1999-01-01", "2025-11-25")):
        m = Raw(h)
        got = m.initialize(asked)["result"]
        expect(got["protocolVersion"] == answered and
               got["capabilities"] == {"tools": {"listChanged": False}}, f"{asked}: {got}")
        tools = m.request("tools/list")["result"]["tools"]
        expect(not any(t["annotations"]["openWorldHint"] for t in tools),
               f"no network, no open world: {tools}")
        has_output = ["outputSchema" in t for t in tools]
        expect(all(has_output) if answered != "2025-03-26" else not any(has_output),
               f"{asked}: outputSchema {has_output}")
        result = m.call("describe_policy")
        text = json.loads(result["content"][0]["text"])
        expect(("structuredContent" in result) == (answered != "2025-03-26") and
               text["profiles"][0]["spec"]["network"]["mode"] == "none", f"{asked}: {result}")
        if answered != "2025-03-26":
            m.send([{"jsonrpc": "2.0", "id": 1, "method": "ping"}])
            got = m.answer()
            expect(got["error"]["code"] == -32600 and "batch" in got["error"]["message"], f"{got}")
        m.close()
    # with a network in the policy, exec and run reach an open world (and only they)
    m = Raw(h, "--policy", h.policy({"stockade": 1, "network": {"allow": ["example.com"]}}))
    m.initialize()
    tools = m.request("tools/list")["result"]["tools"]
    open_world = sorted(t["name"] for t in tools if t["annotations"]["openWorldHint"])
    expect(open_world == ["exec", "run"], f"{open_world}")
    m.close()
    # 2025-03-26 receives batches: one array back, an answer per request, whenever it is ready
    m = Raw(h)
    m.initialize("2025-03-26")
    m.send([{"jsonrpc": "2.0", "id": "a", "method": "tools/call",
             "params": {"name": "sandbox_create", "arguments": {"name": "in-batch"}}},
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": "b", "method": "ping"},
            {"jsonrpc": "2.0", "id": "c", "method": "no/such"},
            {"jsonrpc": "2.0", "id": "d", "method": "initialize",
             "params": {"protocolVersion": "2025-03-26"}},
            7])
    got = m.line()
    expect(isinstance(got, list), f"not one array: {got}")
    by_id = {g.get("id"): g for g in got}
    expect(sorted(by_id, key=str) == sorted(["a", "b", "c", "d", None], key=str), f"{got}")
    expect(json.loads(by_id["a"]["result"]["content"][0]["text"])["name"] == "in-batch" and
           by_id["b"]["result"] == {} and by_id["c"]["error"]["code"] == -32601 and
           by_id["d"]["error"]["code"] == -32600 and by_id[None]["error"]["code"] == -32600,
           f"{got}")
    m.send([])
    got = m.answer()
    expect(got["error"]["code"] == -32600 and "empty" in got["error"]["message"], f"{got}")
    m.send([{"jsonrpc": "2.0", "method": "notifications/initialized"}])  # nothing comes back
    expect(m.request("ping")["result"] == {}, "a batch of notifications has no answer")
    r = m.close()
    expect(r.returncode == 0 and h.names() == [], f"{r} {h.names()}")


def test_sandboxes_go_when_stdin_closes_or_on_sigterm(ctx):
    h = Home(ctx)
    m = Raw(h)
    m.initialize()
    for name in ("one", "two"):
        expect(m.ok("sandbox_create", name=name)["name"] == name, name)
    expect(sorted(h.ps()) == ["one", "two"], f"{h.ps()}")
    supervisors = [json.load(open(os.path.join(h.home, "sandboxes", n, "state.json")))
                   ["supervisor_pid"] for n in ("one", "two")]
    # a long exec is running when stdin closes: it is killed, the sandboxes removed
    m.send({"jsonrpc": "2.0", "id": 99, "method": "tools/call",
            "params": {"name": "exec", "arguments": {"sandbox": "one", "command": ["sleep", "300"]}}})
    time.sleep(0.5)
    started = time.time()
    r = m.close()
    expect(r.returncode == 0 and r.out == "", f"{r}")
    expect(time.time() - started < 10, f"took {time.time() - started:.1f}s to end")
    expect(h.ps() == {} and h.names() == [], f"left behind: {h.ps()}")
    for pid in supervisors:
        expect(not os.path.exists(f"/proc/{pid}") or
               open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z",
               f"supervisor {pid} lives on")
    # SIGTERM to stockade mcp: the same end
    m = Raw(h)
    m.initialize()
    m.ok("sandbox_create", name="three")
    m.p.send_signal(signal.SIGTERM)
    r = harness.finish(m.p, timeout=30, what="stockade mcp after SIGTERM")
    expect(r.returncode == 0 and h.ps() == {} and h.names() == [], f"{r} {h.ps()}")
    # SIGKILL: no cleanup runs, yet each sandbox stops by itself (its supervisor watches a
    # pipe only stockade mcp held: run -d --tie-fd); what is left is an ended sandbox.
    m = Raw(h)
    m.initialize()
    m.ok("sandbox_create", name="four")
    pid = json.load(open(os.path.join(h.home, "sandboxes", "four", "state.json")))[
        "supervisor_pid"]
    m.p.kill()
    m.p.wait()
    deadline = time.time() + 20
    while time.time() < deadline and os.path.exists(f"/proc/{pid}") and \
            open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z":
        time.sleep(0.05)
    expect(not os.path.exists(f"/proc/{pid}") or
           open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z",
           "the sandbox outlived stockade mcp's SIGKILL")
    expect(h.ps().get("four", {}).get("status") != "running", f"{h.ps()}")
    h.cli("rm", "-f", "four")


def test_operator_flags_checked_before_a_message_is_read(ctx):
    h = Home(ctx)
    init = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                       "params": {"protocolVersion": "2025-06-18"}}).encode() + b"\n"
    bad_policy = h.policy({"stockade": 1, "network": {"mode": "sideways"}})
    for flags, needle in ((["--policy", "/no/such/file.json"], "/no/such/file.json"),
                          (["--policy", bad_policy], "sideways"),
                          (["--profile", "no-such-profile"], "no-such-profile"),
                          (["--allow-profile", "also-missing"], "also-missing"),
                          (["--max-timeout", "0"], "--max-timeout"),
                          (["--output-cap", "lots"], "--output-cap"),
                          (["--max-sandboxes", "65"], "--max-sandboxes"),
                          (["--bogus"], "unknown option"),
                          (["extra"], "no arguments")):
        r = h.cli("mcp", *flags, input=init)
        harness.one_line_125(r, needle)
        expect(r.out == "", f"{flags}: spoke MCP anyway: {r.out!r}")
    expect(h.names() == [], f"{h.names()}")


def test_caps_timeouts_and_limits(ctx):
    h = Home(ctx)
    m = Raw(h, "--output-cap", "1k", "--max-timeout", "3s", "--max-sandboxes", "1")
    m.initialize()
    m.ok("sandbox_create", name="capped")
    got = m.ok("exec", sandbox="capped", shell="head -c 5000 /dev/zero | tr '\\0' o; "
                                                "printf 'x%.0s' $(seq 3000) >&2; printf '\\377'")
    expect(got["truncated"] and got["stdout"] == "o" * 1024 + "\n[stockade: output truncated: "
           "5001 bytes in all, the first 1024 kept]" and got["stderr"].startswith("x" * 1024),
           f"{got}")
    got = m.ok("exec", sandbox="capped", shell="printf 'ok\\377\\n'")
    expect(got["stdout"] == "ok\ufffd\n" and not got["truncated"], f"not UTF-8: {got}")
    started = time.time()
    got = m.ok("exec", sandbox="capped", command=["sleep", "30"])
    expect(got["timed_out"] and got["exit_code"] == 128 + 15 and
           2900 <= got["duration_ms"] < 8000, f"the operator's 3 s: {got}")
    got = m.ok("exec", sandbox="capped", command=["sleep", "30"], timeout=0.5)
    expect(got["timed_out"] and got["duration_ms"] < 2500, f"{got}")
    got = m.ok("run", command=["sleep", "30"], timeout=0.5)
    expect(got["timed_out"] and got["duration_ms"] < 2500, f"{got}")
    expect(time.time() - started < 15, "timeouts took too long")
    m.ok("exec", sandbox="capped", shell="head -c 100000 /dev/urandom > /tmp/big; "
                                         "mkdir /tmp/many; cd /tmp/many; touch $(seq 300)")
    got = m.ok("read_file", sandbox="capped", path="/tmp/big", encoding="base64")
    expect(got["truncated"] and got["size"] == 1024, f"{got}")
    got = m.ok("list_files", sandbox="capped", path="/tmp/many")
    expect(got["truncated"] and 0 < len(got["entries"]) < 300, f"{len(got['entries'])}")
    text = error_text(m.call("sandbox_create"))
    expect("allows 1 sandboxes" in text, text)
    text = error_text(m.call("read_file", sandbox="capped", path="/tmp"))
    expect("Is a directory" in text, text)
    text = error_text(m.call("write_file", sandbox="capped", path="/tmp", content="x"))
    expect("Is a directory" in text, text)
    text = error_text(m.call("write_file", sandbox="capped", path="/tmp/b64", content="@@",
                             encoding="base64"))
    expect("not base64" in text, text)
    text = error_text(m.call("list_files", sandbox="capped", path="/tmp/big"))
    expect("not a directory" in text, text)
    r = m.close()
    expect(r.returncode == 0 and h.names() == [], f"{r}")
    # --max-lifetime reaches run -d: the sandbox ends by itself, and says so
    m = Raw(h, "--max-lifetime", "1s")
    m.initialize()
    m.ok("sandbox_create", name="brief")
    deadline = time.time() + 10
    while time.time() < deadline and h.ps()["brief"]["status"] == "running":
        time.sleep(0.2)
    listed = m.ok("sandbox_list")["sandboxes"]
    expect([(b["name"], b["status"]) for b in listed] == [("brief", "exited")], f"{listed}")
    text = error_text(m.call("exec", sandbox="brief", command=["true"]))
    expect("not running" in text, text)
    expect(m.close().returncode == 0 and h.names() == [], f"{h.names()}")
