"""The HTTP transport to IonQ's API: the key goes only to the configured origin, every request ends
by the deadline however slowly the answer drips, and a connection never made is told apart from an
answer lost after the request went out.

The key is held in a :class:`Secret` (masked in every repr, refuses to be pickled) and revealed only
inside the expression that builds the ``Authorization`` header, itself a masked string; no proxy,
``.netrc`` or other setting is read from the environment (``trust_env`` is off: the key never goes
to a proxy); http.client's debug printing is off for qnb's connections; a URL that holds the key is
not requested (urllib3 logs URLs at DEBUG). :func:`scrub` takes the key, in any letter case,
JSON-, URL- or HTML-escaped, out of any text the service sent: error bodies are scrubbed here."""
from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
import weakref

import requests
import requests.adapters
import requests.structures
import urllib3
import urllib3.connection
from pennylane_ionq.api_client import APIClient
from urllib3.exceptions import NewConnectionError
from urllib3.util import parse_url

from .scrubbing import BatchLate, KeyScrubber
from ..jobs import (
    BatchTimeoutError,
    RejectedSubmission,
    TransientError,
)

KEY_VARIABLES = ("PENNYLANE_IONQ_API_KEY", "IONQ_API_KEY")
RETRIABLE = {429, 500, 502, 503, 504, *range(520, 530)}
RETRIABLE_GET = RETRIABLE | {409}  # the plugin's rule: 409 (a Cloudflare hiccup) is retried on reads only
ANSWER_HEADERS = ("Retry-After", "Date", "Content-Type")  # the only headers of an answer qnb reads
MAX_ANSWER_BYTES = 1 << 21  # a status, a listing page or an error: far below this (parsed in milliseconds); results pass their own bound
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
_JOB_ID = re.compile(r"(?!\.{1,2}\Z)[A-Za-z0-9_.-]{1,128}")  # never "." or "..": a path segment
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
    the failure would come only after the manager had called the submission uncertain. The key is
    no longer a local of this frame when the error is raised (a verbose traceback shows locals)."""
    problem = _key_problem(key.reveal() if isinstance(key, Secret) else key)
    del key
    if problem:
        raise IonQAuthError(f"API key: {problem}")


def _key_problem(key) -> str | None:
    if not isinstance(key, str):
        return f"must be a string, got {type(key).__name__}"
    if key != key.strip():
        return "starts or ends with whitespace or a line break; remove it (key not shown)"
    if not all(33 <= ord(c) <= 126 for c in key):
        return ("may hold only printable ASCII characters (no spaces, line breaks or characters outside "
                "Latin-1, e.g. typographic ones pasted with it); key not shown")
    return None


# -- the key: masked wherever it is held, scrubbed from whatever the service sends back --------------
MASK = "[API key]"


class Secret:
    """The API key. Its repr and str are ``'***'`` (so tracebacks that print locals, ``pytest -l``,
    ``%xmode Verbose``, debuggers and logs show no key), it refuses pickling and copying, and only
    :meth:`reveal` gives the key: call it inside the expression that needs it, never bind the result."""

    __slots__ = ("_pattern", "_value", "__weakref__")

    def __init__(self, value: str):
        self._value = value
        self._pattern = None
        _LIVE.add(self)  # every record urllib3 or requests logs is scrubbed of it (_LogScrub)

    def reveal(self) -> str:
        return self._value

    def scrub(self, text, deadline: float | None = None) -> str:
        """``text`` without the key; past ``deadline`` (a perf_counter instant), BatchTimeoutError."""
        if self._pattern is None:
            self._pattern = KeyScrubber(self._value) if isinstance(self._value, str) else None
        return _scrub(text, self._pattern, deadline)

    def __repr__(self):
        return "'***'"

    def __str__(self):
        return "***"

    def __bool__(self):
        return bool(self._value)

    def __reduce_ex__(self, protocol):
        raise TypeError(_NO_PICKLE)


_LIVE = weakref.WeakSet()  # the keys of this process, while anything holds them


class _LogScrub(logging.Filter):
    """Scrubs every live key out of a log record of urllib3 or requests before any handler sees it:
    urllib3 logs a header line it cannot parse, at WARNING and with its traceback ("Failed to parse
    headers ... unparsed data: '...'"), and a service may echo the key there."""

    def filter(self, record):
        keys = list(_LIVE)
        if not keys:
            return True
        try:
            msg = record.getMessage()
        except Exception:  # noqa: BLE001 - a record that cannot be formatted: its pieces are scrubbed as text
            msg = f"{record.msg} {record.args}"
        clean = msg
        for k in keys:
            clean = k.scrub(clean)
        record.msg, record.args = clean, None
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            for k in keys:
                text = k.scrub(text)
            record.exc_info, record.exc_text = None, text
        elif record.exc_text:
            for k in keys:
                record.exc_text = k.scrub(record.exc_text)
        return True


_LOG_FILTER = _LogScrub()


def _guard_logs() -> None:
    """The filter on every logger of urllib3 and requests that exists (a record is filtered by the
    logger it is made on; loggers appear as their modules are imported)."""
    for name in ("urllib3", "requests", *[n for n in list(logging.root.manager.loggerDict)
                                          if n.startswith(("urllib3.", "requests."))]):
        log = logging.getLogger(name)
        if _LOG_FILTER not in log.filters:
            log.addFilter(_LOG_FILTER)


class _Masked(str):
    """A str that shows ``'***'``: the Authorization header value as requests and urllib3 hold it
    (their frames and request objects). Slicing or concatenating it gives a plain str."""

    __slots__ = ()

    def __repr__(self):
        return "'***'"

    def __str__(self):
        return "***"

    def __reduce_ex__(self, protocol):
        raise TypeError(_NO_PICKLE)


def _scrub(text, scrubber, deadline: float | None = None) -> str:
    if isinstance(text, (bytes, bytearray, memoryview)):
        text = bytes(text).decode("utf-8", "replace")
    elif not isinstance(text, str):
        text = str(text)
    if scrubber is None:
        return text
    late = False
    try:
        return scrubber.scrub(text, MASK, deadline)
    except BatchLate:
        late = True
    if late:
        raise BatchTimeoutError("scrubbing the answer of the API key took it past the batch deadline")


def scrub(text, key) -> str:
    """``text`` (str, or bytes read as UTF-8) with the API key ``key`` (a str or a :class:`Secret`)
    replaced by ``[API key]``: every piece of 8 or more of its characters, in any letter case,
    JSON-escaped, URL-encoded (once or twice), HTML-escaped, base64, wrapped across lines, or mixed,
    in time linear in the text (see ``qnb.ionq.scrubbing``). A piece under 8 characters may remain,
    so a text may be cut before or after it is scrubbed."""
    if isinstance(key, Secret):
        return key.scrub(text)
    return _scrub(text, KeyScrubber(key) if isinstance(key, str) else None)


def _api_url(url) -> str:
    url = str(url).rstrip("/")
    origin = _origin(url)
    if origin is None or origin[0] not in ("http", "https") or not origin[1]:
        raise ValueError(f"api_url: not an http(s) URL: {url[:200]!r}")
    if origin[0] == "http" and origin[1] not in LOOPBACK:
        raise ValueError("api_url: plain http would send the API key unencrypted; use https (http is for 127.0.0.1)")
    return url


# -- transport: requests, plus a watchdog that can end a request at the deadline --------------------
_watch = threading.local()  # .state: the _Watch of this thread's request under way


class _Watch:
    """One request's connections: a duplicate of each socket, made as soon as the TCP connection
    exists (the watchdog shuts it down, which ends a read blocked during the TLS handshake too:
    ssl detaches the original socket object), and whether a connection got as far as being usable
    (before that, nothing can have been sent)."""

    __slots__ = ("attempted", "connected", "sockets")

    def __init__(self):
        self.sockets, self.attempted, self.connected = [], False, False


class _Watched:
    # http.client prints every request, headers included, when its class-wide debuglevel is set (a
    # common recipe for debugging requests): never for qnb's connections, which carry the key
    debuglevel = property(lambda self: 0, lambda self, value: None)

    def _new_conn(self):
        sock = super()._new_conn()
        state = getattr(_watch, "state", None)
        if state is not None:
            state.sockets.append(sock.dup())
        return sock

    def connect(self):
        state = getattr(_watch, "state", None)
        if state is not None:
            state.attempted = True
        super().connect()
        if state is not None:
            state.connected = True


class _HTTPConnection(_Watched, urllib3.connection.HTTPConnection):
    pass


class _HTTPSConnection(_Watched, urllib3.connection.HTTPSConnection):
    pass


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class _ProxyRefused(requests.exceptions.ConnectionError):
    """A proxy was selected: qnb sends no request through one (the session reads none from the
    environment; this is the guard should one ever be configured)."""


class _Adapter(requests.adapters.HTTPAdapter):
    """requests' adapter whose connections report their sockets, and which uses no proxy: through
    a plain-http proxy the ``Authorization`` header would travel in clear text."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy, **kwargs):
        raise _ProxyRefused("a proxy was configured; qnb never sends the API key through a proxy")


def _verify():
    """requests' own rule for a CA bundle named in the environment, kept although ``trust_env`` is
    off (which would also bring proxies and ``.netrc``)."""
    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True


def _unsent_reason(e: requests.exceptions.RequestException, state: _Watch) -> str | None:
    """Why nothing was sent (refused, unreachable, connect timeout, TLS handshake failed), or None
    if a connection was made: then the request may have reached the service. Only short texts from
    urllib3 and OpenSSL (host and port, an SSL reason), never the request or its headers."""
    if state.connected:
        return None
    reason = getattr(e.args[0], "reason", None) if e.args else None
    if isinstance(e, requests.exceptions.ConnectTimeout):
        return "connect timeout"
    if isinstance(e, requests.exceptions.ConnectionError) and isinstance(reason, NewConnectionError):
        return str(reason).rpartition("new connection: ")[2][:200]
    if isinstance(e, _ProxyRefused):
        return str(e)
    if not state.attempted:  # failed before any connection was tried: not known to be harmless
        return None
    if isinstance(e, requests.exceptions.SSLError):
        inner = reason.args[0] if reason is not None and reason.args else None
        detail = [str(x)[:100] for x in (getattr(inner, "reason", None), getattr(inner, "verify_message", None)) if x]
        return "TLS handshake failed" + (f": {', '.join(detail)}" if detail else "")
    if isinstance(e, requests.exceptions.Timeout):
        return "TLS handshake timed out"
    return f"the connection failed before it could be used ({type(e).__name__})"


def _cut(e: BaseException, key: Secret) -> BaseException:
    """An exception that escaped requests (KeyboardInterrupt, a bug), made safe to raise: its
    traceback below the transport and its chain run through frames that hold the request, so they
    go; string arguments are scrubbed."""
    try:
        e.args = tuple(key.scrub(a) if isinstance(a, str) else a for a in e.args)
    except (AttributeError, TypeError):
        pass
    e.__cause__ = e.__context__ = None
    if hasattr(e, "add_note"):
        e.add_note("(qnb: its traceback inside requests was cut: those frames hold the API key header)")
    return e.with_traceback(None)


class _Client(APIClient):
    """The plugin's client (headers, paths) with a transport that holds a deadline. Each request
    gets a fresh connection, as with the plugin: no stale pooled connection can make a POST
    uncertain, and the watchdog knows which socket to shut. The key is a :class:`Secret`; the plugin's
    ``AUTHENTICATION_TOKEN`` reads it back as a masked str, and ``HEADERS`` never holds it.

    ``IONQ_DEBUG`` is not read: the plugin's ``APIClient.__init__`` (not called) parses it with
    ``json.loads`` (``IONQ_DEBUG=yes`` raised a bare JSONDecodeError) to keep every request, its
    headers and so the key included, in ``errors``/``responses`` of its own ``request``, which this
    transport never uses. ``DEBUG`` is always False here."""

    AUTHENTICATION_TOKEN = property(lambda self: _Masked(self._key.reveal()), lambda self, value: None)

    def __init__(self, api_key, api_url, timeout):
        self._key = api_key if isinstance(api_key, Secret) else Secret(api_key)
        del api_key
        # what APIClient.__init__ sets, less the key and IONQ_DEBUG: the plugin's headers and paths
        self.DEBUG = False
        self.HEADERS = {"User-Agent": self.USER_AGENT}
        self.TIMEOUT_SECONDS = float(timeout)
        self.max_retries, self.retry_delay = 0, 0.0
        self.BASE_URL = api_url
        self._origin = _origin(api_url)

    def set_authorization_header(self, authentication_token):
        """Nothing: the header is made for each request from the Secret, never stored."""

    def __repr__(self):
        return f"_Client(url={self.BASE_URL!r})"

    def __reduce_ex__(self, protocol):
        raise TypeError(_NO_PICKLE)

    def scrub(self, text, deadline: float | None = None) -> str:
        """``text`` with this client's key taken out (see :func:`scrub`); a long text is scrubbed a
        piece at a time and BatchTimeoutError raised once ``deadline`` (perf_counter) has passed."""
        return self._key.scrub(text, deadline)

    def same_origin(self, path: str) -> bool:
        return _origin(self.join_path(path)) == self._origin

    def _headers(self, json_body: bool) -> dict:
        return {**self.HEADERS, **({"Content-Type": "application/json"} if json_body else {}),
                "Authorization": _Masked("apiKey " + self._key.reveal())}

    def _exchange(self, verb: str, url: str, data: bytes | None, left: float, limit: int):
        """(status, headers, body) of one request, or None if the body is over ``limit`` bytes.
        The headers qnb reads (``ANSWER_HEADERS``, each cut to 512 characters; no others are
        kept, so their size cannot stall the scrub) and an error body (not 200/201) come back
        scrubbed of the key. Its
        own frame, so the session and response (whose request holds the header) are no locals of
        ``call``."""
        with requests.Session() as session:
            session.trust_env = False  # no HTTP(S)_PROXY/ALL_PROXY, NO_PROXY, .netrc from the environment
            session.mount("http://", _Adapter())
            session.mount("https://", _Adapter())
            with session.request(verb, url, data=data, headers=self._headers(data is not None), timeout=(left, left),
                                 stream=True, allow_redirects=False, proxies={}, verify=_verify()) as r:
                body = bytearray()
                for chunk in r.iter_content(1 << 16):
                    body += chunk
                    if len(body) > limit:
                        return None
                if r.status_code not in (200, 201):
                    body = self.scrub(bytes(body[:1 << 16])).encode()
                headers = requests.structures.CaseInsensitiveDict(
                    {k: self.scrub(r.headers[k][:512]) for k in ANSWER_HEADERS if k in r.headers})
                return r.status_code, headers, bytes(body)

    def call(self, verb: str, path: str, what: str, deadline: float | None = None, data: bytes | None = None,
             max_bytes: int | None = None):
        """One request, ended by ``deadline`` (a perf_counter instant) or ``TIMEOUT_SECONDS``, whichever
        is first. Returns (status, headers, body); an error body is scrubbed of the key. Errors are
        raised outside any ``except`` block, keep no reference to requests' exception (which holds
        the request and so its headers), and their messages are scrubbed."""
        limit = MAX_ANSWER_BYTES if max_bytes is None else min(int(max_bytes), 1 << 28)
        _guard_logs()
        url = self.join_path(path)
        if not self.same_origin(path):
            raise IonQResponseError(self.scrub(f"{what}: refused to send the API key to "
                                               f"{self.scrub(url)[:200]!r}, not {self.BASE_URL}"))
        if self.scrub(url) != url:  # it would be sent, logged (urllib3 at DEBUG) and shown
            raise IonQResponseError(self.scrub(f"{what}: refused to request a URL that holds the API key"))
        start = time.perf_counter()
        left = self.TIMEOUT_SECONDS if deadline is None else min(self.TIMEOUT_SECONDS, deadline - start)
        by_deadline = deadline is not None and deadline - start <= self.TIMEOUT_SECONDS
        if left <= 0:
            raise BatchTimeoutError(self.scrub(f"{what}: the batch deadline had passed; nothing was sent"))
        state, fired = _Watch(), threading.Event()

        def expire():  # wakes a read blocked at the deadline (or in the TLS handshake)
            fired.set()
            for s in list(state.sockets):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        timer = threading.Timer(left, expire)
        timer.daemon = True
        answer = error = escaped = None
        _watch.state = state
        timer.start()
        try:
            answer = self._exchange(verb, url, data, left, limit)
        except requests.exceptions.RequestException as e:
            error = type(e).__name__, _unsent_reason(e, state)
        except BaseException as e:  # noqa: BLE001 - re-raised below, cut
            escaped = e
        finally:
            timer.cancel()
            _watch.state = None
            for s in state.sockets:
                s.close()
        if escaped is not None:
            raise _cut(escaped, self._key)
        if error is None:
            if answer is None:
                raise IonQResponseError(self.scrub(f"{what}: the answer is over {limit} bytes, more than this "
                                                   "request can hold; not read further"))
            return answer
        name, unsent = error
        late = fired.is_set() or time.perf_counter() - start >= left
        if late and by_deadline and (unsent or verb == "GET"):
            raise BatchTimeoutError(self.scrub(f"{what}: no answer before the batch deadline"
                                               + ("; nothing was sent" if unsent else "")))
        if unsent:
            raise IonQConnectError(self.scrub(f"{what}: cannot connect to {self.BASE_URL} ({unsent}); "
                                              "nothing was sent"))
        lost = f"no answer within {left:.3g} s" if late else f"the connection broke ({name})"
        raise TransientError(self.scrub(f"{what}: {lost}" + (" after the request was sent" if verb == "POST" else "")))
