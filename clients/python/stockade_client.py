"""A client for `stockade serve`'s HTTP/JSON API (docs/api.md), standard library only.

    from stockade_client import Client
    c = Client()                                  # the default socket, or Client("/path.sock")
    box = c.create({"stockade": 1, "limits": {"memory": "512m"}}, name="work")
    r = c.exec("work", ["sh", "-c", "make test"], timeout=600)
    print(r.exit_code, r.stdout)
    for event in c.exec_stream("work", ["pytest", "-x"]):
        if event.type == "stdout":
            sys.stdout.buffer.write(event.data)
    c.write_file("work", "/home/sandbox/notes.txt", b"hello")
    c.delete("work")

Every method raises StockadeError (with .status, .code, .message and .path) when the daemon
answers with an error; a command that exits non-zero is not an error (see ExecResult)."""
import base64
import http.client
import json
import os
import socket
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional

__all__ = ["Client", "StockadeError", "ExecResult", "ExecEvent", "default_socket"]


def default_socket() -> str:
    """Where `stockade serve` listens by default: /run/stockade/stockade.sock for root,
    $XDG_RUNTIME_DIR/stockade.sock otherwise."""
    if os.geteuid() == 0:
        return "/run/stockade/stockade.sock"
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if not runtime:
        raise StockadeError(0, "no_socket", "XDG_RUNTIME_DIR is not set: give the socket path")
    return os.path.join(runtime, "stockade.sock")


class StockadeError(Exception):
    def __init__(self, status: int, code: str, message: str, path: Optional[str] = None):
        super().__init__(f"{status} {code}: {message}" + (f" (at {path})" if path else ""))
        self.status, self.code, self.message, self.path = status, code, message, path


@dataclass
class ExecResult:
    """One finished exec. exit_code follows `stockade exec`: the command's status, 124 when
    timed out, 125 when stockade refused, 128+N when killed by signal N."""
    id: str
    exit_code: Optional[int]
    signal: Optional[int]
    stdout: bytes
    stderr: bytes
    timed_out: bool
    truncated: bool
    duration_ms: int
    error: Optional[str] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", "replace")


@dataclass
class ExecEvent:
    """One event of a streamed exec: type is start, stdout, stderr, keepalive or exit; data
    holds the bytes of stdout/stderr; seq numbers events (reattach with from_seq)."""
    type: str
    seq: Optional[int]
    data: bytes = b""
    fields: Dict[str, Any] = field(default_factory=dict)


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: Optional[float]):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if self.timeout is not None:
            self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


def _result(doc: Dict[str, Any]) -> ExecResult:
    if doc.get("encoding") == "base64":
        out, err = base64.b64decode(doc["stdout"]), base64.b64decode(doc["stderr"])
    else:
        out, err = doc["stdout"].encode(), doc["stderr"].encode()
    return ExecResult(id=doc["id"], exit_code=doc.get("exit_code"), signal=doc.get("signal"),
                      stdout=out, stderr=err, timed_out=doc.get("timed_out", False),
                      truncated=doc.get("truncated", False),
                      duration_ms=doc.get("duration_ms", 0), error=doc.get("error"), raw=doc)


class Client:
    def __init__(self, socket_path: Optional[str] = None, timeout: Optional[float] = 300):
        self.socket_path = socket_path or default_socket()
        self.timeout = timeout

    # ---- plumbing ----

    def _open(self, method: str, url: str, body: Optional[bytes] = None,
              content_type: str = "application/json", timeout: Optional[float] = None):
        conn = _UnixConnection(self.socket_path, timeout if timeout is not None else self.timeout)
        headers = {"Content-Type": content_type} if body is not None else {}
        conn.request(method, url, body=body, headers=headers)
        response = conn.getresponse()
        if response.status >= 400:
            payload = response.read()
            conn.close()
            try:
                error = json.loads(payload)["error"]
            except (ValueError, KeyError, TypeError):
                error = {"code": "http", "message": payload.decode("utf-8", "replace")}
            raise StockadeError(response.status, error.get("code", "?"),
                                error.get("message", ""), error.get("path"))
        return conn, response

    def _json(self, method: str, url: str, doc: Any = None, timeout: Optional[float] = None):
        body = json.dumps(doc).encode() if doc is not None else None
        conn, response = self._open(method, url, body, timeout=timeout)
        try:
            return json.loads(response.read())
        finally:
            conn.close()

    @staticmethod
    def _url(route: str, **query) -> str:
        args = {k: v for k, v in query.items() if v is not None}
        return route + ("?" + urllib.parse.urlencode(args) if args else "")

    @staticmethod
    def _exec_body(cmd: List[str], env, cwd, timeout, stdin, max_output_bytes) -> Dict[str, Any]:
        body: Dict[str, Any] = {"cmd": list(cmd)}
        if env:
            body["env"] = dict(env)
        if cwd:
            body["cwd"] = cwd
        if timeout is not None:
            body["timeout"] = timeout
        if stdin is not None:
            body["stdin"] = base64.b64encode(stdin).decode()
        if max_output_bytes is not None:
            body["max_output_bytes"] = max_output_bytes
        return body

    # ---- the daemon ----

    def livez(self) -> Dict[str, Any]:
        return self._json("GET", "/livez")

    def healthz(self) -> Dict[str, Any]:
        """The health document; raises StockadeError(503) with the failing layers when a
        layer is broken (its message names them)."""
        conn, response = self._open("GET", "/healthz")
        try:
            return json.loads(response.read())
        finally:
            conn.close()

    def metrics(self) -> str:
        conn, response = self._open("GET", "/metrics")
        try:
            return response.read().decode()
        finally:
            conn.close()

    # ---- sandboxes ----

    def create(self, spec: Optional[Dict[str, Any]] = None, name: Optional[str] = None,
               idle_timeout: Optional[str] = None,
               max_lifetime: Optional[str] = None) -> Dict[str, Any]:
        """A long-lived sandbox from a spec document (docs/spec.md), which may only narrow the
        daemon's policy; returns it as `stockade inspect` shows it."""
        url = self._url("/v1/sandboxes", name=name, idle_timeout=idle_timeout,
                        max_lifetime=max_lifetime)
        return self._json("POST", url, spec if spec is not None else {"stockade": 1})

    def list(self) -> List[Dict[str, Any]]:
        return self._json("GET", "/v1/sandboxes")["sandboxes"]

    def get(self, name: str) -> Dict[str, Any]:
        return self._json("GET", f"/v1/sandboxes/{urllib.parse.quote(name)}")

    def delete(self, name: str) -> Dict[str, Any]:
        return self._json("DELETE", f"/v1/sandboxes/{urllib.parse.quote(name)}")

    # ---- execs ----

    def exec(self, name: str, cmd: List[str], env: Optional[Dict[str, str]] = None,
             cwd: Optional[str] = None, timeout: Optional[float] = None,
             stdin: Optional[bytes] = None,
             max_output_bytes: Optional[int] = None) -> ExecResult:
        """Runs cmd in the sandbox to its end."""
        body = self._exec_body(cmd, env, cwd, timeout, stdin, max_output_bytes)
        url = f"/v1/sandboxes/{urllib.parse.quote(name)}/exec?wait=1"
        wait = None if timeout is None or self.timeout is None else self.timeout + timeout
        return _result(self._json("POST", url, body, timeout=wait))

    def exec_stream(self, name: str, cmd: List[str], env: Optional[Dict[str, str]] = None,
                    cwd: Optional[str] = None, timeout: Optional[float] = None,
                    stdin: Optional[bytes] = None, max_output_bytes: Optional[int] = None,
                    keepalives: bool = False) -> Iterator[ExecEvent]:
        """Runs cmd and yields its events as they come (start, stdout, stderr, exit)."""
        body = self._exec_body(cmd, env, cwd, timeout, stdin, max_output_bytes)
        url = f"/v1/sandboxes/{urllib.parse.quote(name)}/exec"
        conn, response = self._open("POST", url, json.dumps(body).encode())
        return self._events(conn, response, keepalives)

    def exec_follow(self, name: str, exec_id: str, from_seq: int = 0,
                    keepalives: bool = False) -> Iterator[ExecEvent]:
        """Reattaches to an exec (running or finished in the last 10 minutes) from event
        from_seq on."""
        url = self._url(f"/v1/sandboxes/{urllib.parse.quote(name)}/exec/{exec_id}",
                        follow=1, from_seq=from_seq)
        conn, response = self._open("GET", url)
        return self._events(conn, response, keepalives)

    def exec_status(self, name: str, exec_id: str) -> ExecResult:
        """An exec's state now (status running or exited) with the output so far."""
        return _result(self._json("GET", f"/v1/sandboxes/{urllib.parse.quote(name)}/exec/"
                                         f"{exec_id}"))

    def exec_kill(self, name: str, exec_id: str) -> Dict[str, Any]:
        return self._json("DELETE", f"/v1/sandboxes/{urllib.parse.quote(name)}/exec/{exec_id}")

    @staticmethod
    def _events(conn, response, keepalives: bool) -> Iterator[ExecEvent]:
        try:
            while True:
                line = response.readline()
                if not line:
                    return
                doc = json.loads(line)
                kind = doc.pop("type")
                if kind == "keepalive" and not keepalives:
                    continue
                data = base64.b64decode(doc.pop("data")) if "data" in doc else b""
                yield ExecEvent(type=kind, seq=doc.pop("seq", None), data=data, fields=doc)
                if kind == "exit":
                    return
        finally:
            conn.close()

    # ---- files ----

    def write_file(self, name: str, path: str, data: bytes, mode: int = 0o644) -> Dict[str, Any]:
        url = self._url(f"/v1/sandboxes/{urllib.parse.quote(name)}/files", path=path,
                        mode=format(mode, "04o"))
        conn, response = self._open("PUT", url, data, "application/octet-stream")
        try:
            return json.loads(response.read())
        finally:
            conn.close()

    def read_file(self, name: str, path: str) -> bytes:
        url = self._url(f"/v1/sandboxes/{urllib.parse.quote(name)}/files", path=path)
        conn, response = self._open("GET", url)
        try:
            return response.read()
        finally:
            conn.close()

    def list_files(self, name: str, path: str) -> List[Dict[str, Any]]:
        url = self._url(f"/v1/sandboxes/{urllib.parse.quote(name)}/files", path=path, list=1)
        return self._json("GET", url)["entries"]

    # ---- one-shot ----

    def run(self, cmd: List[str], spec: Optional[Dict[str, Any]] = None,
            env: Optional[Dict[str, str]] = None, cwd: Optional[str] = None,
            timeout: Optional[float] = None, stdin: Optional[bytes] = None,
            max_output_bytes: Optional[int] = None) -> ExecResult:
        """A sandbox made for cmd alone, removed after it."""
        body = self._exec_body(cmd, env, cwd, timeout, stdin, max_output_bytes)
        if spec is not None:
            body["spec"] = spec
        return _result(self._json("POST", "/v1/run", body))
