"""The API key against everything that could show it or send it astray (issue 19): text the service
sends back, proxies and .netrc from the environment, tracebacks that print locals, log records and
debug prints, and a TLS handshake that fails (nothing was sent). 127.0.0.1 only; every wait bounded."""
import html
import http.client
import json
import logging
import math
import pickle
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
import traceback
import types
import urllib.parse

import numpy as np
import pennylane as qml
import pytest
import requests
import urllib3.connection
from pennylane.tape import QuantumScript

from conftest import chain
import qnb
from qnb.batching import (BatchTimeoutError, JobFailedError, RejectedSubmission, SubmissionUncertainError,
                          TransientError)
from qnb.emulator import Emulator
from qnb.ionq import IonQAuthError, IonQBackend, IonQConnectError, IonQResponseError
from qnb.ionq.transport import MASK, Secret, scrub

pytestmark = pytest.mark.integration
KEY = "sk-test-DO-NOT-LEAK-7c1e5b"
ODD_KEY = "sk-test/DO\"NOT'LEAK\\%&<+>=9"  # every character JSON, URL or HTML escapes differently
DEADLINE = 1.0


@pytest.fixture
def emu():
    with Emulator(api_key=KEY, latency_scale=0.0005) as e:
        yield e
    assert e.stats["internal_errors"] == 0


def backend(url, key=KEY, **kw):
    return IonQBackend(api_key=key, api_url=url, seed=0, **kw)


def circuits():
    return [QuantumScript([qml.Hadamard(0), qml.CNOT([0, 1]), qml.RY(0.4, 1)], [qml.probs(wires=[0, 1])]),
            QuantumScript([qml.RX(1.1, 0)], [qml.probs(wires=[0])])]


def assert_exact(got, tapes):
    want = [np.asarray(qml.execute([t], qml.device("default.qubit", wires=2))[0]) for t in tapes]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, atol=1e-9)


# -- what counts as showing the key ------------------------------------------------------------------

def _readings(text: str):
    """text, and text with the escapings a service or a repr could put on the key undone, step by
    step (three rounds: nested ones)."""
    yield text
    for _ in range(3):
        for undo in (html.unescape, urllib.parse.unquote,
                     lambda t: re.sub(r"\\+(?:u([0-9a-fA-F]{4})|x([0-9a-fA-F]{2})|U([0-9a-fA-F]{8}))",
                                      lambda m: chr(int(next(g for g in m.groups() if g), 16)), t),
                     lambda t: re.sub(r"\\(.)", r"\1", t)):
            text = undo(text)
            yield text


def leaks(text, key=KEY) -> bool:
    """Whether ``text`` shows the key, or 8 of its first or last characters, in any case or escaping."""
    k = key.casefold()
    return any(k[:8] in t or k[-8:] in t for t in map(str.casefold, _readings(str(text))))


def caught(fn):
    """The exception fn raises; its traceback starts here, so no test's locals (the emulator holds
    the key) are in it."""
    try:
        fn()
    except BaseException as e:  # noqa: BLE001 - KeyboardInterrupt is one of the cases
        return e
    raise AssertionError("no exception")


def reprs(obj, depth=3, seen=None):
    """repr of obj and, ``depth`` levels down, of what its __dict__ and containers hold."""
    seen = set() if seen is None else seen
    if id(obj) in seen or isinstance(obj, (type, types.ModuleType, types.FunctionType, types.MethodType)):
        return
    seen.add(id(obj))
    try:
        yield repr(obj)
    except Exception:  # noqa: BLE001 - a half-built object: nothing shown
        return
    if depth <= 0:
        return
    if isinstance(obj, dict):
        items = [*obj.keys(), *obj.values()]
    elif isinstance(obj, (list, tuple, set, frozenset)):
        items = list(obj)[:200]
    else:
        items = list(getattr(obj, "__dict__", {}).values())
    for x in items:
        yield from reprs(x, depth - 1, seen)


def renderings(err):
    """The traceback as `pytest -l`, `%xmode Verbose` and traceback(capture_locals=True) print it."""
    from _pytest._code import ExceptionInfo
    from IPython.core.ultratb import VerboseTB
    yield "".join(traceback.TracebackException.from_exception(err, capture_locals=True).format())
    yield str(ExceptionInfo.from_exception(err).getrepr(showlocals=True, style="long", chain=True))
    yield VerboseTB(theme_name="nocolor", include_vars=True).text(type(err), err, err.__traceback__)


def assert_no_key_in_traceback(err, key=KEY):
    frames = 0
    for x in chain(err):
        for text in (str(x), repr(x), repr(x.args), repr(getattr(x, "__dict__", {})), *getattr(x, "__notes__", [])):
            assert not leaks(text, key), text
        tb = x.__traceback__
        while tb is not None:
            frames += 1
            for name, value in tb.tb_frame.f_locals.items():
                for text in reprs(value):
                    assert not leaks(text, key), (tb.tb_frame.f_code.co_name, name, text[:300])
            tb = tb.tb_next
    assert frames >= 2
    for text in renderings(err):
        assert "Traceback" in text or "Error" in text or "Interrupt" in text
        assert not leaks(text, key), text


# -- a loopback TCP server we control ----------------------------------------------------------------

class Sink:
    """Records every connection and what it sent. ``mode``: "reply" (read the request, answer
    ``reply``), "close" (read, then close without an answer), "hangup" (close at once), "garbage"
    (send ``reply`` at once: not TLS), "drip" (a TLS record header announcing 16 kB, then one byte
    every 0.05 s for at most 8 s), "tls" (TLS with ``context``, then as "reply")."""

    def __init__(self, mode="reply", reply=b"", context=None):
        self.mode, self.reply, self.context = mode, reply, context
        self.connections, self.got = 0, []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _read(self, conn, until=b"\r\n\r\n"):
        data = b""
        conn.settimeout(2.0)
        try:
            while until not in data and len(data) < 1 << 16:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
        except (OSError, ssl.SSLError):
            pass
        self.got.append(data)
        return data

    def _serve(self, conn):
        try:
            if self.mode == "hangup":
                return
            if self.mode == "garbage":
                conn.sendall(self.reply)
                self._read(conn)
                return
            if self.mode == "drip":
                conn.sendall(b"\x16\x03\x03\x40\x00")
                end = time.monotonic() + 8
                while time.monotonic() < end and not self._stop.wait(0.05):
                    conn.sendall(b"\x00")
                return
            if self.mode == "tls":
                conn.settimeout(2.0)
                conn = self.context.wrap_socket(conn, server_side=True)
            self._read(conn)
            if self.mode != "close":
                conn.sendall(self.reply)
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()

    def received(self) -> bytes:
        return b"".join(self.got)

    def close(self):
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def sinks():
    made = []
    yield lambda *a, **kw: made.append(Sink(*a, **kw)) or made[-1]
    for s in made:
        s.close()


def answer(status, body: dict) -> bytes:
    data = json.dumps(body).encode()
    return (f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
            "Connection: close\r\n\r\n").encode() + data


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 (openssl, bounded)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem"), "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(d / "cert.pem", d / "key.pem")
    return d / "cert.pem", context


# -- 1. scrub: the key out of anything the service sends back ------------------------------------------

def _every(fmt):
    return lambda k: "".join(fmt(c) for c in k)


FORMS = {
    "as is": lambda k: k, "upper case": str.upper, "lower case": str.lower, "swapped case": str.swapcase,
    "JSON string": lambda k: json.dumps(k)[1:-1],
    "JSON \\/": lambda k: json.dumps(k)[1:-1].replace("/", "\\/"),
    "JSON \\u0073 for every character": _every(lambda c: f"\\u{ord(c):04x}"),
    "JSON \\u0053, upper-case hex": _every(lambda c: f"\\u{ord(c):04X}"),
    "JSON \\u for every other character": lambda k: "".join(f"\\u{ord(c):04x}" if i % 2 else c
                                                            for i, c in enumerate(k)),
    "JSON in JSON": lambda k: json.dumps(json.dumps(k))[1:-1],
    "URL-encoded": lambda k: urllib.parse.quote(k, safe=""),
    "URL-encoded as form": lambda k: urllib.parse.quote_plus(k),
    "%XX for every character": _every(lambda c: f"%{ord(c):02X}"),
    "%xx, lower-case hex": _every(lambda c: f"%{ord(c):02x}"),
    "URL-encoded twice": lambda k: urllib.parse.quote(urllib.parse.quote(k, safe=""), safe=""),
    "HTML-escaped": html.escape,
    "&#NN; for every character": _every(lambda c: f"&#{ord(c)};"),
    "&#xXX; for every character": _every(lambda c: f"&#x{ord(c):x};"),
    "repr": repr, "repr of repr": lambda k: repr(repr(k)),
    "\\xXX": _every(lambda c: f"\\x{ord(c):02x}"),
    "Kelvin sign for k": lambda k: k.replace("k", "\u212a"),
    "cut off at the end": lambda k: repr(k[:12]) + "...",
    "cut off at the start": lambda k: "..." + k[-11:],
    "in a URL": lambda k: f"https://api.example/v0.4/jobs/{urllib.parse.quote(k)}/results?key={urllib.parse.quote(k)}",
    "Authorization header echoed": lambda k: f"Authorization: apiKey {k}",
}


@pytest.mark.parametrize("key", [KEY, ODD_KEY], ids=["plain key", "odd key"])
@pytest.mark.parametrize("form", FORMS)
def test_scrub_takes_the_key_out_in_every_form(form, key):
    shown = FORMS[form](key)
    assert leaks(shown, key)  # the detector sees it
    text = f'{{"error": "bad request: {shown}", "code": 7}}'
    for k in (key, Secret(key)):
        out = scrub(text, k)
        assert not leaks(out, key), out
        assert MASK in out and out.startswith('{"error": "bad request: ') and out.endswith('", "code": 7}')
    assert scrub(text.encode(), key) == scrub(text, key)  # bytes, read as UTF-8


def test_scrub_leaves_other_text_alone():
    body = '{"id": "a1b2", "status": "failed", "failure": {"error": "sk-other-key is not yours", "code": "x"}}'
    assert scrub(body, KEY) == body
    assert scrub("", KEY) == "" and scrub("sk-test", KEY) == "sk-test"  # fewer than 8 characters: not a key
    assert scrub("'sk-test-'", KEY) == f"'{MASK}'"  # 8 or more: a cut-off key
    assert scrub(b"\xff\xfe" + KEY.encode(), KEY) == "\ufffd\ufffd" + MASK


def test_the_backend_client_scrubs_with_its_own_key(emu):
    be = backend(emu.url)
    assert be._client.scrub(f"x {KEY.upper()} y") == f"x {MASK} y"


@pytest.mark.parametrize("form", ["as is", "JSON \\u0073 for every character", "URL-encoded", "cut off at the end",
                                  "Authorization header echoed"])
def test_an_error_body_echoing_the_key_is_scrubbed_by_the_transport(emu, form):
    shown = FORMS[form](KEY)
    emu.tamper = lambda m, p, s, b: ((400, f'{{"error": "bad: {shown}"}}'.encode(), [("X-Echo", shown),
                                                                                     ("Retry-After", shown)])
                                     if m == "POST" else (s, b))
    be = backend(emu.url)
    status, headers, body = be._client.call("POST", "jobs", "probe", data=b"{}")
    assert status == 400 and MASK.encode() in body and not leaks(body.decode()) and not leaks(headers["Retry-After"])
    assert "X-Echo" not in headers  # a header qnb does not read is not kept at all
    err = caught(lambda: be.submit(circuits(), shots=None))
    assert "HTTP 400" in str(err)
    assert_no_key_in_traceback(err)


# -- 2. no proxy and no .netrc from the environment ---------------------------------------------------

PROXY_VARIABLES = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


@pytest.mark.parametrize("variables", [("HTTP_PROXY",), ("http_proxy",), ("ALL_PROXY",), ("all_proxy",),
                                       PROXY_VARIABLES + ("NO_PROXY=example.com",)], ids=lambda v: "+".join(v))
def test_proxy_variables_are_never_used(emu, sinks, monkeypatch, variables):
    proxy = sinks(reply=answer(502, {"error": "the proxy"}))
    for v in PROXY_VARIABLES + ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(v, raising=False)
    for v in variables:
        name, _, value = v.partition("=")
        monkeypatch.setenv(name, value or f"http://127.0.0.1:{proxy.port}")
    # the control: requests on its own would send the request, headers and all, to the proxy
    assert requests.get(emu.url + "/jobs", timeout=5, headers={"Authorization": "apiKey control"}).status_code == 502
    assert proxy.connections == 1 and b"GET http://127.0.0.1" in proxy.received()
    m = qnb.CircuitBatchManager(backend(emu.url), timeout_s=5.0, backoff_s=0.01)
    assert_exact(m.execute_batch(circuits(), shots=None), circuits())
    assert emu.stats["jobs_created"] == 1
    time.sleep(0.1)
    assert proxy.connections == 1 and not leaks(proxy.received().decode("latin-1"))


def test_https_proxy_variables_are_never_used(sinks, cert, monkeypatch):
    bundle, context = cert
    service = sinks("tls", answer(200, {"jobs": []}), context)
    proxy = sinks(reply=answer(502, {"error": "the proxy"}))
    for v in PROXY_VARIABLES:
        monkeypatch.setenv(v, f"http://127.0.0.1:{proxy.port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))  # still honoured: it names a CA, not a route
    status, _, body = backend(f"https://127.0.0.1:{service.port}/v0.4")._client.call("GET", "jobs", "probe")
    assert status == 200 and json.loads(body) == {"jobs": []}
    assert proxy.connections == 0 and f"apiKey {KEY}".encode() in service.received()


def test_a_netrc_entry_does_not_replace_the_key(emu, tmp_path, monkeypatch):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login thief password stolen\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    control = requests.get(emu.url + "/jobs", timeout=5)  # requests alone: Basic auth from the file
    assert control.request.headers["Authorization"].startswith("Basic ")
    status, _, _ = backend(emu.url)._client.call("GET", "jobs", "probe")
    assert status == 200  # our header reached the emulator: not a 401


# -- 3. no traceback that prints locals shows the key ------------------------------------------------

def _inject(monkeypatch, exc):
    def getresponse(self, *a, **kw):
        raise exc
    monkeypatch.setattr(urllib3.connection.HTTPConnection, "getresponse", getresponse)


CASES = ["POST, connection closed", "GET, connection closed", "manager, dropped POST", "connection refused",
         "400 echoing the key", "deadline", "KeyboardInterrupt inside urllib3", "a bug inside urllib3",
         "malformed key"]


@pytest.mark.parametrize("case", CASES)
def test_no_frame_of_a_failed_request_shows_the_key(emu, sinks, monkeypatch, case):
    url = emu.url
    if "connection closed" in case:
        url = f"http://127.0.0.1:{sinks('close').port}/v0.4"
    elif case == "connection refused":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{s.getsockname()[1]}/v0.4"
    elif case == "manager, dropped POST":
        emu.add_fault("drop@POST")
    elif case == "400 echoing the key":
        emu.tamper = lambda m, p, s, b: (400, {"error": f"bad key apiKey {KEY}"}) if m == "POST" else (s, b)
    elif case == "deadline":
        emu.add_fault("stall@GET")
    elif "KeyboardInterrupt" in case:
        _inject(monkeypatch, KeyboardInterrupt())
    elif "bug" in case:
        _inject(monkeypatch, RuntimeError("a bug"))
    if case == "malformed key":
        err = caught(lambda: _construct("key with a line break"))  # no frame or source line of the test holds it
        assert isinstance(err, IonQAuthError)
        tb = err.__traceback__
        while tb.tb_frame.f_code.co_name != "_check_key":
            tb = tb.tb_next
        assert tb.tb_next is None and not any(leaks(t) for v in tb.tb_frame.f_locals.values() for t in reprs(v))
        assert_no_key_in_traceback(err)  # IonQBackend.__init__ too: it holds the key only as a Secret
        return
    be = backend(url)
    expected = {"POST, connection closed": TransientError, "GET, connection closed": TransientError,
                "manager, dropped POST": SubmissionUncertainError, "connection refused": IonQConnectError,
                "400 echoing the key": RuntimeError, "deadline": BatchTimeoutError,
                "KeyboardInterrupt inside urllib3": KeyboardInterrupt, "a bug inside urllib3": RuntimeError}[case]
    if case.startswith("POST") or case in ("connection refused", "400 echoing the key"):
        err = caught(lambda: be.submit(circuits(), shots=None))
    elif case.startswith("manager"):
        err = caught(lambda: qnb.CircuitBatchManager(be, timeout_s=2.0, backoff_s=0.01).execute_batch(
            circuits(), shots=None))
    else:
        err = caught(lambda: be._client.call("GET", "jobs/x", "reading job x", time.perf_counter() + DEADLINE))
    assert isinstance(err, expected), repr(err)
    assert_no_key_in_traceback(err)
    if "inside urllib3" in case:  # cut at the transport: requests' frames hold the request
        names = []
        tb = err.__traceback__
        while tb is not None:
            names.append(tb.tb_frame.f_globals.get("__name__", ""))
            tb = tb.tb_next
        assert names[-1] == "qnb.ionq.transport" and not any(n.startswith(("requests", "urllib3")) for n in names)
        assert "traceback inside requests was cut" in "".join(err.__notes__)


def test_the_client_holds_the_key_masked(emu):
    be = backend(emu.url)
    client = be._client
    for text in reprs(be, depth=4):
        assert not leaks(text)
    assert repr(client._key) == "'***'" and str(client._key) == "***" and f"{client._key}" == "***"
    assert "Authorization" not in client.HEADERS
    token = client.AUTHENTICATION_TOKEN  # the plugin's attribute, read back masked
    assert repr(token) == "'***'" and f"x {KEY} y".replace(token, "K") == "x K y"
    headers = client._headers(True)
    assert repr(headers["Authorization"]) == "'***'" and headers["Authorization"] == f"apiKey {KEY}"
    for obj in (client._key, token, headers["Authorization"]):
        with pytest.raises(TypeError, match="API key"):
            pickle.dumps(obj)


# -- 4. no log record and no debug print shows the key --------------------------------------------------

def test_no_log_record_or_debug_print_shows_the_key(emu, caplog, capfd, monkeypatch):
    monkeypatch.setattr(http.client.HTTPConnection, "debuglevel", 1)  # the usual recipe to debug requests
    caplog.set_level(logging.DEBUG)
    # the control: with that recipe, http.client prints every request, headers included
    conn = http.client.HTTPConnection("127.0.0.1", emu.server.server_address[1], timeout=5)
    conn.request("GET", "/v0.4/jobs", headers={"Authorization": "apiKey control-key"})
    conn.getresponse().read()
    conn.close()
    assert "apiKey control-key" in capfd.readouterr().out
    emu.add_fault("500@GET")
    emu.add_fault("drop@GET")
    m = qnb.CircuitBatchManager(backend(emu.url), timeout_s=5.0, backoff_s=0.01)
    assert_exact(m.execute_batch(circuits(), shots=None), circuits())
    emu.tamper = lambda m, p, s, b: (400, {"error": f"bad key apiKey {KEY}"}) if m == "POST" else (s, b)
    err = caught(lambda: backend(emu.url).submit(circuits(), shots=None))
    assert "HTTP 400" in str(err)
    logging.getLogger("qnb.test").error("the submission failed", exc_info=err)
    assert any(r.name.startswith("urllib3") for r in caplog.records)  # urllib3 did log at DEBUG
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for record in caplog.records:
        assert not leaks(formatter.format(record)), formatter.format(record)
        assert not leaks(repr(record.args))
    out = capfd.readouterr()
    assert not leaks(out.out + out.err)


def test_a_url_holding_the_key_is_not_requested(emu):
    paths = []

    def tamper(m, p, s, b):
        paths.append(p)
        return (201, {**b, "id": KEY}) if m == "POST" else (s, b)
    emu.tamper = tamper
    be = backend(emu.url)
    err = caught(lambda: be.submit(circuits(), shots=None))  # the service names the job after the key
    assert isinstance(err, SubmissionUncertainError) and "not resubmitted" in str(err)  # refused: see section 6
    assert not leaks(str(err)) and not leaks(repr(err.args))
    for path in (f"jobs/x/results?k={urllib.parse.quote(KEY)}", f"jobs/{KEY.upper()}", "jobs/%73k-test-DO-NOT-LEAK"):
        err = caught(lambda path=path: be._client.call("GET", path, f"reading {path}"))
        assert isinstance(err, IonQResponseError) and not leaks(str(err))
    assert paths == ["/v0.4/jobs"]  # only the submission reached the service


# -- 5. a TLS handshake that fails: nothing was sent ---------------------------------------------------

@pytest.mark.parametrize("mode", ["garbage", "hangup", "plain http", "untrusted certificate"])
def test_a_failed_tls_handshake_is_nothing_sent(sinks, cert, mode):
    if mode == "garbage":
        server = sinks("garbage", b"SSH-2.0-OpenSSH_9.6 not TLS at all\r\n" * 4)
    elif mode == "plain http":  # an https URL to a plain-http port
        server = sinks("reply", answer(200, {"id": "x"}))
    elif mode == "untrusted certificate":
        server = sinks("tls", answer(200, {"id": "x"}), cert[1])
    else:
        server = sinks("hangup")
    be = backend(f"https://127.0.0.1:{server.port}/v0.4")
    t = time.perf_counter()
    err = caught(lambda: be.submit(circuits(), shots=None))
    assert isinstance(err, IonQConnectError) and isinstance(err, RejectedSubmission), repr(err)
    assert not isinstance(err, SubmissionUncertainError)
    assert "nothing was sent" in str(err) and "after the request was sent" not in str(err)
    if mode != "hangup":
        assert "TLS handshake failed" in str(err)
    if mode == "untrusted certificate":
        assert "CERTIFICATE_VERIFY_FAILED" in str(err)
    assert time.perf_counter() - t < 5
    time.sleep(0.1)
    assert b"POST" not in server.received() and b"apiKey" not in server.received()
    assert_no_key_in_traceback(err)


def test_a_manager_does_not_call_a_failed_handshake_an_uncertain_submission(sinks):
    server = sinks("garbage", b"\x00" * 64)
    m = qnb.CircuitBatchManager(backend(f"https://127.0.0.1:{server.port}/v0.4"), timeout_s=2.0, backoff_s=0.01)
    err = caught(lambda: m.execute_batch(circuits(), shots=None))
    assert isinstance(err, IonQConnectError) and "nothing was sent" in str(err), repr(err)
    assert m.stats.retries == m.max_retries and b"apiKey" not in server.received()


def test_a_dripping_tls_handshake_ends_by_the_deadline(sinks):
    server = sinks("drip")  # every read succeeds, the handshake never ends
    be = backend(f"https://127.0.0.1:{server.port}/v0.4")
    t = time.perf_counter()
    err = caught(lambda: be.submit(circuits(), shots=None, deadline=t + DEADLINE))
    took = time.perf_counter() - t
    assert isinstance(err, BatchTimeoutError) and "nothing was sent" in str(err), repr(err)
    assert took < DEADLINE + 0.5, took


def test_an_https_service_with_a_trusted_certificate_works(sinks, cert, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert[0]))
    server = sinks("tls", answer(200, {"jobs": [{"id": "j-1", "name": "exp"}]}), cert[1])
    be = backend(f"https://127.0.0.1:{server.port}/v0.4")
    status, _, body = be._client.call("GET", "jobs?name=exp", "probe")
    assert status == 200 and json.loads(body)["jobs"][0]["id"] == "j-1"
    assert b"GET /v0.4/jobs?name=exp" in server.received() and f"apiKey {KEY}".encode() in server.received()


# -- 6. every string the service sends back that qnb shows is scrubbed (issue 19) ---------------------
# The emulator's tamper hook plays a service that echoes the key, as is and in upper case, in each place
# qnb quotes: a failure message, a job's name, any field of its status, a results URL, a histogram's
# outcomes and probabilities, child job ids, and job ids (the POST answer, the listing, a resume).

ECHO = {"as is": KEY, "upper case": KEY.upper()}


def on_status(emu, fn):
    """The emulator's status answers (GET jobs/{id}) rewritten: fn(body) -> body."""
    def tamper(method, path, status, body):
        if method == "GET" and re.fullmatch(r"/v0\.4/jobs/[\w-]+", path) and status == 200:
            return status, fn(body)
        return status, body
    emu.tamper = tamper


def on_results(emu, fn):
    def tamper(method, path, status, body):
        return (status, fn(body)) if path.endswith("/results/probabilities") and status == 200 else (status, body)
    emu.tamper = tamper


def assert_clean(err):
    """No key in the message, repr, args or attributes of the exception or anything it chains to."""
    for x in chain(err):
        for text in (str(x), repr(x), repr(x.args), repr(getattr(x, "__dict__", {}))):
            assert not leaks(text), text


def assert_clean_job(job):
    for text in [*reprs(job), *reprs(job.payload, depth=10), json.dumps(job.payload)]:
        assert not leaks(text), text


def completed_job(be, tapes, timeout_s=5.0):
    """A job of ``tapes`` polled (bounded) until its status is final."""
    job = be.submit(tapes, shots=None)
    end = time.monotonic() + timeout_s
    while be.status(job) not in ("completed", "failed", "canceled"):
        assert time.monotonic() < end, "the emulated job did not finish"
        time.sleep(0.005)
    return job


def manager_of(emu, **kw):
    return qnb.CircuitBatchManager(backend(emu.url), timeout_s=5.0, backoff_s=0.01, **kw)


@pytest.mark.parametrize("echo", ECHO)
def test_a_failure_echoing_the_key_is_scrubbed_in_the_message_the_job_and_its_payload(emu, echo):
    shown = ECHO[echo]
    on_status(emu, lambda b: {**b, "status": "failed", "failure": {"error": f"key {shown} refused", "code": shown}})
    be = backend(emu.url)
    job = completed_job(be, circuits())
    assert job.payload["status"] == "failed" and be.failure_message(job) == f"key {MASK} refused"
    assert_clean_job(job)
    err = caught(lambda: manager_of(emu).execute_batch(circuits(), shots=None))
    assert isinstance(err, JobFailedError) and err.message == f"key {MASK} refused", repr(err)
    assert_clean(err)
    on_status(emu, lambda b: {**b, "status": "failed", "failure": {"code": shown}})  # the code alone
    err = caught(lambda: manager_of(emu).execute_batch(circuits(), shots=None))
    assert isinstance(err, JobFailedError) and err.message == MASK
    assert_clean(err)
    # scrubbed before it is cut to 300 characters: a payload set by hand (status stores it scrubbed)
    job.payload = {"status": "failed", "failure": {"error": "x" * 295 + shown}}
    assert be.failure_message(job) == "x" * 295 + MASK[:5]


@pytest.mark.parametrize("echo", ECHO)
def test_a_status_answer_echoing_the_key_anywhere_is_stored_scrubbed(emu, echo):
    shown = ECHO[echo]
    extra = {"note": f"for {shown}", "nested": {"list": [1, {"deep": [shown, 2.5, None, True]}], shown: "a key"},
             "stats": {"qubits": 4, "echo": f"apiKey {shown}"}}
    on_status(emu, lambda b: {**b, **extra})
    be = backend(emu.url)
    tapes = circuits()
    job = completed_job(be, tapes)
    assert job.payload["status"] == "completed" and job.payload["note"] == f"for {MASK}"
    assert job.payload["nested"] == {"list": [1, {"deep": [MASK, 2.5, None, True]}], MASK: "a key"}
    assert_clean_job(job)
    assert_exact(be.results(job), tapes)  # and the rest of the payload (results URL, child ids) still works
    on_status(emu, lambda b: {**b, "name": f"job of {shown}"})  # another job's status, named after the key
    err = caught(lambda: be.status(be.submit(tapes, shots=None)))
    assert isinstance(err, IonQResponseError) and "another job's status" in str(err) and MASK in str(err)
    assert_clean(err)
    nested = {}
    for _ in range(100):
        nested = {"n": nested}
    on_status(emu, lambda b: {**b, "nested": nested})  # too deep to scrub string by string: refused
    err = caught(lambda: be.status(be.submit(tapes, shots=None)))
    assert isinstance(err, IonQResponseError) and "nests deeper" in str(err)


@pytest.mark.parametrize("echo", ECHO)
@pytest.mark.parametrize("form", ["/v0.4/jobs/{id}/results/probabilities?key={key}",
                                  "http://127.0.0.1:{port}/v0.4/jobs/{key}/results/probabilities",
                                  "/v0.4/jobs/{id}/results/{key}", "https://elsewhere.example/{key}",
                                  "/v0.4/jobs/other/{key}"])
def test_a_results_url_holding_the_key_is_refused_without_showing_it(emu, echo, form):
    shown, port = ECHO[echo], emu.server.server_address[1]
    paths = []

    def tamper(method, path, status, body):
        paths.append(path)
        if method == "GET" and re.fullmatch(r"/v0\.4/jobs/[\w-]+", path) and body.get("status") == "completed":
            url = form.format(id=body["id"], key=urllib.parse.quote(shown), port=port)
            return status, {**body, "results": {"probabilities": {"url": url}}}
        return status, body
    emu.tamper = tamper
    err = caught(lambda: manager_of(emu).execute_batch(circuits(), shots=None))
    assert isinstance(err, IonQResponseError) and "refused the results URL" in str(err), repr(err)
    assert_clean(err)
    assert not any("/results" in p for p in paths)  # nothing was requested
    be = backend(emu.url)  # a payload that was not scrubbed (set by hand): the URL is refused all the same
    job = be.submit(circuits(), shots=None)
    job.payload = {"status": "completed", "results": {"probabilities": {
        "url": form.format(id=job.id, key=shown, port=port)}}}
    err = caught(lambda: be.results(job))
    assert isinstance(err, IonQResponseError) and "refused the results URL" in str(err)
    assert_clean(err)


HISTOGRAM_ECHOES = {
    "an outcome": lambda k: {k: 1.0},
    "a probability": lambda k: {"0": k, "1": 0.5},
    "a probability, long": lambda k: {"0": "x" * 25 + k},
    "the same state twice": lambda k: {"0": 0.5, "00": 0.5},  # (no key: the control)
}


@pytest.mark.parametrize("echo", ECHO)
@pytest.mark.parametrize("case", HISTOGRAM_ECHOES)
def test_a_histogram_echoing_the_key_is_refused_without_showing_it(emu, echo, case):
    shown = ECHO[echo]
    on_results(emu, lambda b: {child: HISTOGRAM_ECHOES[case](shown) for child in b})  # each circuit's
    err = caught(lambda: manager_of(emu).execute_batch(circuits(), shots=None))
    assert isinstance(err, IonQResponseError) and "circuit 0" in str(err), repr(err)
    assert_clean(err)
    if case.startswith("a probability"):
        assert "probability " + MASK[:5] in str(err) or "probability " + "x" * 25 + MASK[:5] in str(err)


@pytest.mark.parametrize("echo", ECHO)
def test_child_job_ids_echoing_the_key_are_refused_without_showing_it(emu, echo):
    shown = ECHO[echo]
    on_results(emu, lambda b: {**b, shown: {"0": 1.0}})  # results for a job that is not this job's child
    err = caught(lambda: manager_of(emu).execute_batch(circuits(), shots=None))
    assert isinstance(err, IonQResponseError) and "not this job's circuits" in str(err) and MASK in str(err)
    assert_clean(err)
    on_status(emu, lambda b: {**b, "child_job_ids": [shown, *b.get("child_job_ids", [])[1:]]})
    err = caught(lambda: manager_of(emu).execute_batch(circuits(), shots=None))
    assert isinstance(err, IonQResponseError) and "no results for 1 of 2" in str(err) and MASK in str(err)
    assert_clean(err)


@pytest.mark.parametrize("echo", ECHO)
def test_a_job_id_that_holds_the_key_is_refused_everywhere(emu, echo):
    shown = ECHO[echo]
    # the POST answer: uncertain (a job may exist), and not resubmitted
    emu.tamper = lambda m, p, s, b: (s, {**b, "id": shown}) if m == "POST" else (s, b)
    err = caught(lambda: backend(emu.url).submit(circuits(), shots=None))
    assert isinstance(err, SubmissionUncertainError) and "not resubmitted" in str(err)
    assert_clean(err)
    err = caught(lambda: manager_of(emu, max_retries=3).execute_batch(circuits(), shots=None))
    assert isinstance(err, SubmissionUncertainError) and re.search(r"qnb-[0-9a-f]{12}-j0", str(err))
    assert_clean(err)
    assert emu.stats["jobs_created"] == 2  # one per submit above: none resubmitted
    # the listing (a lost POST answer looked up by name): the job of that name has the key as its id
    emu.tamper = None
    be = backend(emu.url)
    be.submit(circuits(), shots=None, name="lost")

    def listing(method, path, status, body):
        if method == "GET" and path == "/v0.4/jobs":
            body = {**body, "jobs": [{**j, "id": shown} if j["name"] == "lost" else j for j in body["jobs"]]}
        return status, body
    emu.tamper = listing
    err = caught(lambda: be.find_job("lost", deadline=time.perf_counter() + 5.0, after=time.time() - 60))
    assert isinstance(err, IonQResponseError) and "no valid id" in str(err)
    assert_clean(err)
    # a resume: the journal (a checkpoint) names a job after the key
    err = caught(lambda: be.recover(shown, circuits(), None))
    assert isinstance(err, ValueError) and "not a valid IonQ job id" in str(err) and MASK in str(err)
    assert_clean(err)
    # a Retry-After hint that echoes it
    emu.tamper = lambda m, p, s, b: (429, {"error": "slow down"}, [("Retry-After", shown)]) if m == "POST" else (s, b)
    err = caught(lambda: backend(emu.url).submit(circuits(), shots=None))
    assert isinstance(err, RejectedSubmission) and "Retry-After" in str(err)
    assert_clean(err)


# -- 7. a constructor that fails shows no key in a verbose traceback -----------------------------------
# The arguments are built inside the call, never bound to a name in the test: the only frames that
# could hold the key are IonQBackend's own.

CONSTRUCTOR_FAILURES = {
    "api_url not http": (ValueError, lambda: dict(api_key=KEY, api_url="ftp://example.com/v0.4")),
    "plain http to another host": (ValueError, lambda: dict(api_key=KEY, api_url="http://example.com/v0.4")),
    "api_url not a URL": (ValueError, lambda: dict(api_key=KEY, api_url="http://[::1")),
    "key with a line break": (IonQAuthError, lambda: dict(api_key=KEY + "\n", api_url="http://127.0.0.1:9/v0.4")),
    "key with a space inside": (IonQAuthError, lambda: dict(api_key=KEY + " " + KEY, api_url="http://127.0.0.1:9")),
    "key with a typographic dash": (IonQAuthError, lambda: dict(api_key=KEY + "\u2013x", api_url="http://127.0.0.1:9")),
    "key as bytes": (IonQAuthError, lambda: dict(api_key=KEY.encode(), api_url="http://127.0.0.1:9/v0.4")),
    "unknown device": (ValueError, lambda: dict(device="ionq.gpu", api_key=KEY)),
    "wires True": (ValueError, lambda: dict(api_key=KEY, wires=True)),
    "request_timeout_s NaN": (ValueError, lambda: dict(api_key=KEY, request_timeout_s=math.nan)),
    "key from the environment, bad api_url": (ValueError, lambda: dict(api_url="https://")),
}


def _construct(case):
    return IonQBackend(**CONSTRUCTOR_FAILURES[case][1]())  # the keyword dict is no local of this frame


@pytest.mark.parametrize("case", CONSTRUCTOR_FAILURES)
def test_a_failing_constructor_shows_no_key_in_any_frame(case, monkeypatch):
    monkeypatch.setenv("IONQ_API_KEY", KEY)
    monkeypatch.delenv("PENNYLANE_IONQ_API_KEY", raising=False)
    err = caught(lambda: _construct(case))
    assert type(err) is CONSTRUCTOR_FAILURES[case][0], repr(err)
    names = []
    tb = err.__traceback__
    while tb is not None:
        names.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    assert "__init__" in names  # IonQBackend.__init__'s frame is one of those walked
    assert_no_key_in_traceback(err)


# -- 8. IONQ_DEBUG in the environment -----------------------------------------------------------------

@pytest.mark.parametrize("value", ["yes", "true", "1", "{", ""])
def test_ionq_debug_in_the_environment_is_ignored(emu, monkeypatch, value):
    from pennylane_ionq.api_client import APIClient
    monkeypatch.delenv("IONQ_DEBUG", raising=False)
    plugin = set(vars(APIClient(api_key="k", debug=False))) - {"AUTHENTICATION_TOKEN"}
    monkeypatch.setenv("IONQ_DEBUG", value)
    if value in ("yes", "{", ""):  # the control: the plugin's client parses it as JSON
        with pytest.raises(json.JSONDecodeError):
            APIClient(api_key="k")
    be = backend(emu.url, request_timeout_s=7)
    client = be._client
    assert client.DEBUG is False and not hasattr(client, "responses") and not hasattr(client, "errors")
    assert all(hasattr(client, name) for name in plugin)  # what the plugin's __init__ sets, set here too
    assert client.HEADERS == {"User-Agent": APIClient.USER_AGENT} and client.TIMEOUT_SECONDS == 7.0
    assert_exact(qnb.CircuitBatchManager(be, timeout_s=5.0).execute_batch(circuits(), shots=None), circuits())
