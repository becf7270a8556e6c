"""A real model server on 127.0.0.1 speaking the protocols our backends and agents use.

Input: scripted `Reply`s per model (the request's `model`), and a default reply.
Output: real HTTP/1.1 responses — `POST /v1/chat/completions` (OpenAI, `llm`),
`POST /v1/messages` (Anthropic; SSE when `stream` is set, as Claude Code asks),
`POST /v1/responses` (the OpenAI Responses API over SSE, Codex), Gemini's
`POST /v1beta/models/M:streamGenerateContent` (Gemini CLI), `GET /v1/models` — and a
record of every request (path, headers, JSON body, arrival and finish times).
The wire formats are in `model_protocols`. A `Reply` can carry any response header,
such as LiteLLM's `x-litellm-response-cost` or `llm_provider-retry-after`, and a tool
call (`tool=("Bash", {"command": "sleep 60"})`) that an agent then runs.

Each connection is served by its own daemon thread with keep-alive, so a
client at concurrency 64 gets 64 connections answering in parallel; latency is
a sleep in that thread. Everything is guarded by one lock, so tests may script
and read while requests are in flight.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self

from support import model_protocols as wire

__all__ = ["ModelServer", "Recorded", "Reply"]


@dataclass(frozen=True)
class Reply:
    """What the server does with one request.

    `text=None` echoes the request's (last) user message. `body` replaces the
    protocol's answer with raw bytes (malformed responses). A status ≥ 400
    answers with the protocol's error shape carrying `error`.
    """

    text: str | None = None
    latency: float = 0.0
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    usage: tuple[int, int] | None = (10, 5)
    error: str = "scripted failure"
    tool: tuple[str, Mapping[str, object]] | None = None

    @classmethod
    def fail(cls, status: int, error: str = "scripted failure", **headers: str) -> Reply:
        return cls(status=status, error=error, headers=headers)

    @classmethod
    def rate_limited(cls, retry_after: str | None = None) -> Reply:
        headers = {} if retry_after is None else {"Retry-After": retry_after}
        return cls(status=429, error="rate limited", headers=headers)

    @classmethod
    def raw(cls, body: bytes | str, status: int = 200) -> Reply:
        return cls(body=body.encode() if isinstance(body, str) else body, status=status)


@dataclass
class Recorded:
    """One request as the server saw it; times are `time.monotonic()`."""

    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: object  # the parsed JSON, or None when it was not JSON
    arrived: float
    finished: float | None = None
    port: int = 0  # the client's port: one per connection, so keep-alive shows

    @property
    def model(self) -> str | None:
        model = self.body.get("model") if isinstance(self.body, dict) else None
        return model if isinstance(model, str) else wire.model_in_path(self.path)

    @property
    def prompt(self) -> str:
        return wire.user_text(self.body)


class ModelServer:
    """Start with `with ModelServer() as server:`; `server.url` ends in `/v1`.

    `keep_requests=False` (benchmarks) records no request: a server answering
    100,000 calls must not grow, or get slower, with the calls it has answered."""

    def __init__(self, *, keep_requests: bool = True) -> None:
        self.default = Reply()
        self._keep = keep_requests
        self._lock = threading.Lock()
        self._scripts: dict[str | None, deque[Reply]] = defaultdict(deque)
        self._requests: list[Recorded] = []
        self._in_flight: dict[str | None, int] = defaultdict(int)
        self._peak: dict[str | None, int] = defaultdict(int)
        self._http = _Server(("127.0.0.1", 0), _Handler)
        self._http.owner = self
        # A short poll interval: shutdown() waits for the serving loop to notice.
        self._thread = threading.Thread(target=self._http.serve_forever, args=(0.02,), daemon=True)

    # -- lifecycle -------------------------------------------------------------

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def url(self) -> str:
        return f"{self.base_url}/v1"

    # -- scripting and inspection ---------------------------------------------------

    def script(self, model: str, *replies: Reply) -> None:
        """Queue replies for requests naming `model`; when used up, `default` answers."""
        with self._lock:
            self._scripts[model].extend(replies)

    def requests(self, model: str | None = None) -> list[Recorded]:
        with self._lock:
            return [r for r in self._requests if model is None or r.model == model]

    def max_in_flight(self, model: str | None = None) -> int:
        """The most requests (for `model`, or in all) that were being served at once."""
        with self._lock:
            return self._peak[model]

    # -- serving (handler threads) ------------------------------------------------------

    def _begin(self, record: Recorded) -> Reply:
        with self._lock:
            if self._keep:
                self._requests.append(record)
            queue = self._scripts.get(record.model)
            reply = queue.popleft() if queue else self.default
            for key in {record.model, None}:
                self._in_flight[key] += 1
                self._peak[key] = max(self._peak[key], self._in_flight[key])
            return reply

    def _end(self, record: Recorded) -> None:
        with self._lock:
            record.finished = time.monotonic()
            for key in {record.model, None}:
                self._in_flight[key] -= 1

    def _models(self) -> list[str]:
        with self._lock:
            return sorted(m for m in self._scripts if m is not None)


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # idle keep-alive connections never block shutdown
    request_queue_size = 1024
    allow_reuse_address = True
    owner: ModelServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True  # headers and body leave at once
    timeout = 30  # an idle connection's thread ends eventually
    server: _Server

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            models = [{"id": m, "object": "model"} for m in ["echo", *self.server.owner._models()]]
            self._send(200, {"object": "list", "data": models})
        else:
            self._send(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        headers = _headers(self.headers.items())
        record = Recorded("POST", self.path, headers, _json(raw), time.monotonic())
        record.port = self.client_address[1]
        owner = self.server.owner
        reply = owner._begin(record)
        try:
            time.sleep(reply.latency)
            status, body, headers = _answer(self.path, record.body, reply)
        finally:
            # Finished before the response leaves: a client that has its answer
            # must never see the request still in flight (or without a finish time).
            owner._end(record)
        self._send(status, body, headers)

    def _send(self, status: int, body: object, headers: Mapping[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        kind = "text/event-stream" if data.startswith((b"event:", b"data:")) else "application/json"
        try:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (timeout, cancel)

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: tests read `requests()` instead


def _answer(path: str, body: object, reply: Reply) -> tuple[int, object, Mapping[str, str]]:
    protocol = wire.protocol_of(path)
    if protocol is None:
        return 404, {"error": {"message": f"no route {path}"}}, {}
    if reply.body is not None:
        return reply.status, reply.body, reply.headers
    if reply.status >= 400:
        return reply.status, wire.error_body(protocol, reply.status, reply.error), reply.headers
    text = wire.user_text(body) if reply.text is None else reply.text
    data, _ = wire.encode(protocol, path, body, wire.Answer(text, reply.usage, reply.tool))
    return reply.status, data, reply.headers


def _json(raw: bytes) -> object:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _headers(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {name.lower(): value for name, value in items}
