"""The sixth attack (issue 19): each break it found, as a test against the emulator or a loopback server.

A costly scrub past the deadline, keys with runs of backslashes or only digits, raw answers in the
locals of a verbose traceback, a subnormal SPSA perturbation, counters and parameters too large for
a float in a checkpoint, a checkpoint nested too deeply or whose epoch contradicts its history, and
a FIFO as the checkpoint path."""
import json
import os
import random
import re
import string
import threading
import time
import traceback

import numpy as np
import pennylane as qml
import pytest
from pennylane.tape import QuantumScript

import qnb
from qnb.emulator import Emulator
from qnb.ionq import IonQBackend
from qnb.ionq.transport import scrub
from qnb.jobs import BatchTimeoutError

pytestmark = pytest.mark.integration
KEY = "sk-test-DO-NOT-LEAK-4f2a9c"
SMALL = dict(backend="ionq", n_train=20, n_test=10, epochs=2, batch_size=5, gradient_subsample_size=2,
             shots_per_circuit=100, batch_submission_timeout=2.0)


def layers(n=4, seed=0):
    w = np.random.default_rng(seed).uniform(-np.pi, np.pi, (2, n))
    return QuantumScript([qml.Hadamard(0), qml.RY(0.3, n - 1), qml.BasicEntanglerLayers(w, wires=range(n))],
                         [qml.probs(wires=[0])])


def circuits(n=2):
    return [layers(seed=s) for s in range(n)]


def manager(key, url, timeout_s=2.0):
    return qnb.CircuitBatchManager(IonQBackend(api_key=key, api_url=url, seed=0), timeout_s=timeout_s, backoff_s=0.01)


def failure(key, tamper, timeout_s=2.0):
    with Emulator(api_key=key, latency_scale=0.0005) as emu:
        emu.tamper = tamper
        with pytest.raises(Exception) as err:
            manager(key, emu.url, timeout_s).execute_batch(circuits(), shots=100)
        return err.value


def forms(key):
    return [key, key[:10], key[-10:], key.replace("\\\\", "\\"), repr(key)[1:-1]]


# -- 1. a costly scrub ends by the deadline ---------------------------------------------------------

class Server:
    """Loopback HTTP: a POST makes job1; every GET answers ``status_body()`` (a running job)."""

    def __init__(self, status_body):
        import socket
        self.status_body, self.sock = status_body, socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v0.4"
        self.stop = threading.Event()
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while not self.stop.is_set():
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            with c:
                c.settimeout(5)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                head, _, rest = data.partition(b"\r\n\r\n")
                n = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1)) if b"ength" in head else 0
                while len(rest) < n:
                    rest += c.recv(65536)
                body = {"id": "job1"} if head.startswith(b"POST") else self.status_body()
                out = json.dumps(body).encode()
                c.sendall(f"HTTP/1.1 {201 if head.startswith(b'POST') else 200} X\r\nContent-Type: application/json\r\n"
                          f"Content-Length: {len(out)}\r\nConnection: close\r\n\r\n".encode() + out)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.sock.close()


LONG_KEY = "".join(random.Random(128).choice(string.ascii_letters + string.digits) for _ in range(128))


@pytest.mark.parametrize("case", ["spaced", "spaced with the tail", "one string with the tail"])
def test_a_status_costly_to_scrub_ends_by_the_deadline(case):
    text = " ".join(LONG_KEY[:-1])  # every character of the key, apart: a suffix form tried at each

    def status():
        if case == "spaced":
            return {"id": "job1", "status": "running", "x": [text] * (240000 // (len(text) + 3))}
        if case == "spaced with the tail":  # the key's last characters in each: the full pattern on each
            return {"id": "job1", "status": "running", "x": [text + LONG_KEY[-9:]] * (240000 // (len(text) + 12))}
        return {"id": "job1", "status": "running", "x": " ".join([text] * 900) + " " + LONG_KEY[-9:]}
    with Server(status) as srv:
        t = time.perf_counter()
        with pytest.raises(BatchTimeoutError):
            manager(LONG_KEY, srv.url, timeout_s=1.0).execute_batch(circuits(), shots=100)
        took = time.perf_counter() - t
    assert took < 1.0 + 0.3, took  # 1.98 s before


def test_scrubbing_a_long_text_leaves_no_piece_of_the_key_in_any_form():
    from qnb.ionq.scrubbing import normalise
    pieces = [KEY, KEY.upper(), KEY[:9], KEY[-9:], "x" + KEY[-9:], "\\u0073" + KEY[1:], "&#115;" + KEY[1:12],
              "%73" + KEY[1:], "harmless", "-" + KEY[-12:], KEY + KEY, "'" + KEY[-8:] + "'"]
    text = "\n".join(" ".join(random.Random(i).sample(pieces, len(pieces))) for i in range(400))
    assert len(text) > 4096
    out = normalise(scrub(text, KEY))[0]
    assert "harmless" in out and not any(KEY[i:i + 8].lower() in out for i in range(len(KEY) - 7))


# -- 2. a key with runs of backslashes is masked everywhere -----------------------------------------

BACKSLASH_KEY = r"sk\\live\\9f8e7d6c5b4a"


@pytest.mark.parametrize("channel", ["failure", "error body", "status name", "retry-after"])
def test_a_key_with_runs_of_backslashes_is_masked(channel):
    k = BACKSLASH_KEY
    tampers = {
        "failure": lambda m, p, s, b: (200, {**b, "status": "failed", "failure": {"message": "bad key " + k}})
        if m == "GET" and p.count("/") == 3 else (s, b),
        "error body": lambda m, p, s, b: (400, {"error": "bad key " + k}) if m == "GET" else (s, b),
        "status name": lambda m, p, s, b: (200, {**b, "name": "job " + k}) if m == "GET" and p.count("/") == 3
        else (s, b),
        "retry-after": lambda m, p, s, b: (503, {}, [("Retry-After", k)]) if m == "GET" else (s, b),
    }
    err = failure(k, tampers[channel])
    shown = "\n".join([str(err), repr(err), repr(err.args)])
    for form in forms(k):
        assert form not in shown, (form, shown)
    assert "live" not in shown and "9f8e7d" not in shown, shown
    assert scrub("key=" + k, k) == "key=[API key]"
    assert scrub(json.dumps({"k": k}), k) == '{"k": "[API key]"}'


# -- 3. an all-digit key echoed as a histogram integer ----------------------------------------------

def test_an_all_digit_key_as_a_histogram_value_is_masked():
    k = "31415926535897932384626433832795"
    err = failure(k, lambda m, p, s, b: (200, {c: {"0": int(k)} for c in b})
                  if p.endswith("probabilities") and s == 200 else (s, b))
    assert "over 1" in str(err)
    assert k[:10] not in str(err) and k[-10:] not in str(err), str(err)


# -- 4. a verbose traceback shows no raw answer -----------------------------------------------------

@pytest.mark.parametrize("case", ["status name", "histogram outcome", "histogram value", "failed status"])
def test_a_traceback_with_locals_shows_no_answer_that_echoes_the_key(case):
    tamper = {
        "status name": lambda m, p, s, b: (200, {**b, "name": KEY}) if m == "GET" and re.fullmatch(
            r"/v0\.4/jobs/[\w-]+", p) else (s, b),
        "histogram outcome": lambda m, p, s, b: (200, {c: {KEY: 1.0} for c in b})
        if p.endswith("probabilities") and s == 200 else (s, b),
        "histogram value": lambda m, p, s, b: (200, {c: {"0": KEY} for c in b})
        if p.endswith("probabilities") and s == 200 else (s, b),
        "failed status": lambda m, p, s, b: (200, {**b, "status": "failed", "failure": {"message": KEY}, "x": KEY})
        if m == "GET" and re.fullmatch(r"/v0\.4/jobs/[\w-]+", p) else (s, b),
    }[case]
    err = failure(KEY, tamper)
    tbe = traceback.TracebackException.from_exception(err, capture_locals=True)
    text = "".join(tbe.format())
    # the test's own frames (this module's, holding the key it was given) are left out; all of qnb's are read
    ours = [f"{f.name}: {k} = {v}" for x in _chain(tbe) for f in x.stack if f.filename != __file__
            for k, v in (f.locals or {}).items()]
    assert any("execute_batch" in line for line in ours)  # the locals are there to be read
    for form in (KEY, KEY[:10], KEY[-10:], KEY.upper()):
        assert not [line for line in ours if form in line], [line for line in ours if form in line][:3]
        assert form not in "\n".join(line for line in text.splitlines() if not line.strip().startswith("key ="))


def _chain(tbe):
    while tbe is not None:
        yield tbe
        tbe = tbe.__cause__ or tbe.__context__


# -- 5. a perturbation too small for a finite step is refused in the config -------------------------

@pytest.mark.parametrize("over", [{"spsa_c": 1e-320}, {"spsa_c": 1e-310},
                                  {"spsa_c": 1e-305, "spsa_a": 1e6}])
def test_a_perturbation_too_small_for_a_finite_step_is_refused_before_any_job(over):
    with pytest.raises(ValueError, match=r"spsa gains: the perturbation c_k .* too small for a finite SPSA step"):
        qnb.TrainingConfig(**{**SMALL, **over})
    qnb.TrainingConfig(**{**SMALL, "spsa_c": 1e-3})  # a small but normal perturbation stays accepted


# -- 6, 7. checkpoints that used to fail after a paid job, or silently --------------------------------

def interrupted(path, config):
    with Emulator(api_key=KEY, latency_scale=0.0005) as emu:
        def stop(trainer, rec):
            if rec["step"] == 2:
                raise KeyboardInterrupt
        with pytest.raises(KeyboardInterrupt):
            qnb.QuantumTrainer(config, backend=emu.backend(seed=0)).fit(progress=False, checkpoint=path, callback=stop)
    return json.loads(path.read_text())


def refused_without_a_job(path, config, match):
    with Emulator(api_key=KEY, latency_scale=0.0005) as emu:
        with pytest.raises(ValueError, match=match):
            qnb.QuantumTrainer(config, backend=emu.backend(seed=0)).fit(progress=False, checkpoint=path)
        assert len(emu.jobs) == 0


@pytest.mark.parametrize("field", ["metric_steps", "rule.t"])
def test_a_qnspsa_counter_too_large_for_a_float_is_refused_at_load(tmp_path, field):
    config = qnb.TrainingConfig(**{**SMALL, "regularization": 0.01, "optimizer": "adam"})
    path = tmp_path / "qn.json"
    state = interrupted(path, config)
    if field == "metric_steps":
        state["optimizer"]["metric_steps"] = 10 ** 400
    else:
        state["optimizer"]["rule"]["t"] = 10 ** 400
    path.write_text(json.dumps(state))
    name = field.split(".")[-1]
    refused_without_a_job(path, config, rf"checkpoint qn\.json: optimizer: .*{name}: expected a step count")


@pytest.mark.parametrize("case,match", [
    ("parameters", r"checkpoint ck\.json: parameters: expected 48 finite numbers"),
    ("epoch", r"checkpoint ck\.json: epoch: expected 0 with batch 3 \(the history's 3 steps"),
    ("epoch+1", r"checkpoint ck\.json: epoch: expected 0 with batch 3"),
    ("nested", r"checkpoint ck\.json: \(top level\): not a readable JSON checkpoint \(nested deeper"),
])
def test_an_unreadable_checkpoint_is_a_clear_error_before_any_job(tmp_path, case, match):
    config = qnb.TrainingConfig(**SMALL)
    path = tmp_path / "ck.json"
    state = interrupted(path, config)
    if case == "parameters":
        state["parameters"][0] = 10 ** 400
    elif case == "epoch":
        state["epoch"] = 10 ** 400
    elif case == "epoch+1":
        state["epoch"] += 1
    path.write_text("[" * 100_000 + "]" * 100_000 if case == "nested" else json.dumps(state))
    refused_without_a_job(path, config, match)
    if case == "nested":
        with pytest.raises(ValueError, match=match):
            qnb.QuantumTrainer.load(path)


# -- 8. a FIFO as the checkpoint path ---------------------------------------------------------------

def test_a_fifo_as_the_checkpoint_is_refused_before_it_is_opened(tmp_path):
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    link = tmp_path / "link.json"
    link.symlink_to(fifo)
    outcome = {}

    def run():
        try:
            for p in (fifo, link):
                with pytest.raises(ValueError, match=r"checkpoint fifo\.json: is a FIFO \(named pipe\), not a regular"):
                    qnb.QuantumTrainer(qnb.TrainingConfig(n_train=20, n_test=10, epochs=1, batch_size=5)).fit(
                        checkpoint=p, progress=False)
                with pytest.raises(ValueError, match="is a FIFO"):
                    qnb.QuantumTrainer.load(p)
            outcome["ok"] = True
        except BaseException as e:  # noqa: BLE001
            outcome["error"] = e
    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(20)
    if t.is_alive():  # hung in open(): free it (a writer end), then fail
        with open(fifo, "w"):
            pass
        pytest.fail("opening the FIFO hung")
    assert outcome.get("ok"), outcome.get("error")


def test_a_symlink_to_a_regular_checkpoint_still_works(tmp_path):
    real = tmp_path / "real.json"
    link = tmp_path / "link.json"
    link.symlink_to(real)
    config = qnb.TrainingConfig(n_train=20, n_test=10, epochs=1, batch_size=5)
    qnb.QuantumTrainer(config).fit(checkpoint=link, progress=False)
    assert link.is_symlink() and json.loads(real.read_text())["epoch"] == 1
