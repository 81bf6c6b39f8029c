"""The HTTP transport to IonQ's API: the key goes only to the configured origin, every request ends
by the deadline however slowly the answer drips, and a connection never made is told apart from an
answer lost after the request went out."""
from __future__ import annotations

import math
import re
import socket
import threading
import time

import requests
import requests.adapters
import urllib3
import urllib3.connection
from pennylane_ionq.api_client import APIClient
from urllib3.exceptions import NewConnectionError
from urllib3.util import parse_url

from ..jobs import (
    BatchTimeoutError,
    RejectedSubmission,
    TransientError,
)

KEY_VARIABLES = ("PENNYLANE_IONQ_API_KEY", "IONQ_API_KEY")
RETRIABLE = {429, 500, 502, 503, 504, *range(520, 530)}
RETRIABLE_GET = RETRIABLE | {409}  # the plugin's rule: 409 (a Cloudflare hiccup) is retried on reads only
MAX_ANSWER_BYTES = 1 << 28
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
_JOB_ID = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_NO_PICKLE = "an IonQ backend cannot be pickled or copied: it holds the API key; make a new one where it is needed"


class IonQAuthError(PermissionError):
    pass


class IonQResponseError(RuntimeError):
    """The service answered something malformed, or something unsafe to follow."""


class IonQConnectError(RejectedSubmission):
    """No connection could be made: nothing was sent, so no job exists and resubmitting is safe."""


def _origin(url: str):
    """(scheme, host, port) of a URL, parsed as requests will parse it; None if it cannot be."""
    try:
        u = parse_url(url)
    except ValueError:
        return None
    scheme = (u.scheme or "").lower()
    return scheme, (u.host or "").lower(), u.port or {"http": 80, "https": 443}.get(scheme)


def _check_key(key) -> None:
    """Refuse a key that cannot be a header value: requests would put it in its error message, and
    the failure would come only after the manager had called the submission uncertain."""
    if not isinstance(key, str):
        raise IonQAuthError(f"API key: must be a string, got {type(key).__name__}")
    if key != key.strip():
        raise IonQAuthError("API key: starts or ends with whitespace or a line break; remove it (key not shown)")
    if not all(33 <= ord(c) <= 126 for c in key):
        raise IonQAuthError("API key: may hold only printable ASCII characters (no spaces, line breaks or "
                            "characters outside Latin-1, e.g. typographic ones pasted with it); key not shown")


def _api_url(url) -> str:
    url = str(url).rstrip("/")
    origin = _origin(url)
    if origin is None or origin[0] not in ("http", "https") or not origin[1]:
        raise ValueError(f"api_url: not an http(s) URL: {url[:200]!r}")
    if origin[0] == "http" and origin[1] not in LOOPBACK:
        raise ValueError("api_url: plain http would send the API key unencrypted; use https (http is for 127.0.0.1)")
    return url


# -- transport: requests, plus a watchdog that can end a request at the deadline --------------------
_watch = threading.local()  # the sockets opened by this thread's request under way, for its watchdog


class _Watched:
    def connect(self):
        super().connect()
        sockets = getattr(_watch, "sockets", None)
        if sockets is not None:
            sockets.append(self.sock)


class _HTTPConnection(_Watched, urllib3.connection.HTTPConnection):
    pass


class _HTTPSConnection(_Watched, urllib3.connection.HTTPSConnection):
    pass


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class _Adapter(requests.adapters.HTTPAdapter):
    """requests' adapter whose connections report their sockets (not through a SOCKS proxy: there
    the per-read timeouts still hold, the total bound does not)."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy, **kwargs):
        manager = super().proxy_manager_for(proxy, **kwargs)
        if type(manager) is urllib3.ProxyManager:  # a SOCKS manager brings its own connection classes
            manager.pool_classes_by_scheme = _POOLS
        return manager


def _unsent_reason(e: requests.exceptions.RequestException) -> str | None:
    """Why the connection was never made (refused, unreachable, connect timeout), or None if it was:
    then the request may have reached the service. urllib3's text names host and port, no header."""
    reason = getattr(e.args[0], "reason", None) if e.args else None
    if isinstance(e, requests.exceptions.ConnectTimeout):
        return "connect timeout"
    if isinstance(e, requests.exceptions.ConnectionError) and isinstance(reason, NewConnectionError):
        return str(reason).rpartition("new connection: ")[2][:200]
    return None


class _Client(APIClient):
    """The plugin's client (headers, paths) with a transport that holds a deadline. Each request
    gets a fresh connection, as with the plugin: no stale pooled connection can make a POST
    uncertain, and the watchdog knows which socket to shut."""

    def __init__(self, api_key, api_url, timeout):
        super().__init__(api_key=api_key, max_retries=0, timeout=timeout)
        self.BASE_URL = api_url
        self._origin = _origin(api_url)

    def __repr__(self):
        return f"_Client(url={self.BASE_URL!r})"

    def __reduce_ex__(self, protocol):
        raise TypeError(_NO_PICKLE)

    def same_origin(self, path: str) -> bool:
        return _origin(self.join_path(path)) == self._origin

    def call(self, verb: str, path: str, what: str, deadline: float | None = None, data: bytes | None = None):
        """One request, ended by ``deadline`` (a perf_counter instant) or ``TIMEOUT_SECONDS``, whichever
        is first. Returns (status, headers, body). Errors are raised outside any ``except`` block and
        keep no reference to requests' exception, which holds the request and so its headers."""
        url = self.join_path(path)
        if not self.same_origin(path):
            raise IonQResponseError(f"{what}: refused to send the API key to {url[:200]!r}, not {self.BASE_URL}")
        start = time.perf_counter()
        left = self.TIMEOUT_SECONDS if deadline is None else min(self.TIMEOUT_SECONDS, deadline - start)
        by_deadline = deadline is not None and deadline - start <= self.TIMEOUT_SECONDS
        if left <= 0:
            raise BatchTimeoutError(f"{what}: the batch deadline had passed; nothing was sent")
        sockets, fired = [], threading.Event()

        def expire():  # wakes a read blocked at the deadline
            fired.set()
            for s in list(sockets):
                try:
                    socket.socket.shutdown(s, socket.SHUT_RDWR)
                except OSError:
                    pass

        timer = threading.Timer(left, expire)
        timer.daemon = True
        headers = {**self.HEADERS, "Content-Type": "application/json"} if data is not None else self.HEADERS
        answer = error = None
        _watch.sockets = sockets
        timer.start()
        try:
            with requests.Session() as session:
                session.mount("http://", _Adapter())
                session.mount("https://", _Adapter())
                with session.request(verb, url, data=data, headers=headers, timeout=(left, left), stream=True,
                                     allow_redirects=False) as r:
                    body = bytearray()
                    for chunk in r.iter_content(1 << 16):
                        body += chunk
                        if len(body) > MAX_ANSWER_BYTES:
                            break
                    answer = r.status_code, r.headers, bytes(body)
        except requests.exceptions.RequestException as e:
            error = type(e).__name__, _unsent_reason(e)
        finally:
            timer.cancel()
            _watch.sockets = None
        if error is None:
            if len(answer[2]) > MAX_ANSWER_BYTES:
                raise IonQResponseError(f"{what}: the answer is over {MAX_ANSWER_BYTES} bytes")
            return answer
        name, unsent = error
        late = fired.is_set() or time.perf_counter() - start >= left
        if late and by_deadline and (unsent or verb == "GET"):
            raise BatchTimeoutError(f"{what}: no answer before the batch deadline"
                                    + ("; nothing was sent" if unsent else ""))
        if unsent:
            raise IonQConnectError(f"{what}: cannot connect to {self.BASE_URL} ({unsent}); nothing was sent")
        lost = f"no answer within {left:.3g} s" if late else f"the connection broke ({name})"
        raise TransientError(f"{what}: {lost}" + (" after the request was sent" if verb == "POST" else ""))


def _retry_after(value) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value >= 0 else None
