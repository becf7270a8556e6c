"""The run's one HTTP client, built for many concurrent calls to one host.

Input: nothing (the process environment, for proxy settings).
Output: an `httpx.AsyncClient` with no client-level timeout (each attempt has
its own deadline) and no redirects, whose connections are spread over several
small pools (see `_ShardedTransport` for why). Imported only when a run uses
an HTTP backend.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import ssl
from collections.abc import AsyncIterator, Callable

import httpx

__all__ = ["make_client"]

_SHARDS = 16


def make_client() -> httpx.AsyncClient:
    """The run's one client: pooled keep-alive connections for many concurrent calls.

    No client-level timeout: each attempt has its own deadline (the backend's
    `timeout`), enforced around the whole request, connection wait included.
    With a proxy configured in the environment, httpx's own transport is kept
    (a custom transport would bypass httpx's proxy handling).
    """
    _import_request_machinery()
    if _proxy_configured():
        limits = httpx.Limits(max_connections=1024, max_keepalive_connections=64)
        return httpx.AsyncClient(limits=limits, timeout=None, follow_redirects=False)
    transport = _ShardedTransport(
        _SHARDS, httpx.Limits(max_connections=64, max_keepalive_connections=8)
    )
    return httpx.AsyncClient(transport=transport, timeout=None, follow_redirects=False)


class _ShardedTransport(httpx.AsyncBaseTransport):
    """Several small connection pools, each request sent through the least busy one.

    httpcore's pool re-scans every connection (with a readability check each)
    on every request and response, which makes 64 concurrent calls to one host
    cost quadratic time: 2,000 calls at concurrency 64 to a local server took
    ~12 s through one pool and ~3 s through 16 small ones. Choosing the least
    busy pool keeps sequential calls on one warm connection.

    `http://` and `https://` requests use separate pools: CA certificates are
    loaded (~30 ms) only when the first https request is made, once, and shared.
    """

    def __init__(self, shards: int, limits: httpx.Limits) -> None:
        self._limits = limits
        self._verified: ssl.SSLContext | None = None
        # Plain-http pools never handshake; their context only satisfies httpx.
        self._plain = httpx.create_ssl_context(verify=False)
        self._pools: dict[tuple[bool, int], httpx.AsyncHTTPTransport] = {}
        self._busy = {False: [0] * shards, True: [0] * shards}
        self._pool(False, 0)  # httpcore's one-time set-up (~0.1 s) now, not in a call

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        busy = self._busy[request.url.scheme != "http"]
        index = min(range(len(busy)), key=busy.__getitem__)
        busy[index] += 1

        def release() -> None:
            busy[index] -= 1

        try:
            pool = self._pool(request.url.scheme != "http", index)
            response = await pool.handle_async_request(request)
        except BaseException:
            release()
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        stream = _ReleasingStream(response.stream, release)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=stream,
            extensions=response.extensions,
        )

    def _pool(self, secure: bool, index: int) -> httpx.AsyncHTTPTransport:
        pool = self._pools.get((secure, index))
        if pool is None:
            context = self._verified_context() if secure else self._plain
            pool = httpx.AsyncHTTPTransport(verify=context, limits=self._limits)
            self._pools[secure, index] = pool
        return pool

    def _verified_context(self) -> ssl.SSLContext:
        if self._verified is None:
            self._verified = httpx.create_ssl_context()
        return self._verified

    async def aclose(self) -> None:
        for pool in self._pools.values():
            await pool.aclose()


class _ReleasingStream(httpx.AsyncByteStream):
    """A response body that marks its pool less busy once closed."""

    def __init__(self, stream: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._stream = stream
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()


def _import_request_machinery() -> None:
    """Import now what httpx would import during the first request (~30 ms).

    `BackendPool.prepare` makes the client before the run's first step, so no
    step's duration includes this one-time cost.
    """
    with contextlib.suppress(ImportError):
        importlib.import_module("anyio._backends._asyncio")


def _proxy_configured() -> bool:
    names = {"http_proxy", "https_proxy", "all_proxy"}
    return any(key.lower() in names and value for key, value in os.environ.items())
