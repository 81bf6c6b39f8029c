"""The checkpoint file: one JSON object, written atomically, read and checked before it is trusted.

What goes in it is each component's own ``state()`` (trainer, optimizer, backend); this module only
knows the file: how to write it so that a crash never leaves half a file, and how to read it so
that a damaged one is refused with its name and no absolute path.
"""
from __future__ import annotations

import fcntl
import json
import math
import os
import pwd
import re
import stat
import tempfile
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path


def write(path, state: dict) -> None:
    """Write ``state`` as JSON to ``path`` atomically (a temporary file of this writer's own, then
    a rename); a symbolic link stays a link and its target is written."""
    path = _file(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_text(json.dumps(state, allow_nan=False))
    except OSError as e:
        raise ValueError(f"checkpoint: cannot write {path.name} ({e.strerror})") from None
    os.replace(tmp, path)


class Lock:
    """One writer per checkpoint: an exclusive lock on ``<checkpoint>.lock`` held while a run
    trains on it. A second process (or trainer) is refused at once, naming the file; the
    operating system releases the lock when its holder exits, however it exits."""

    def __init__(self, path, run_id: str | None = None):
        self.path = _file(path)
        self.run_id = run_id  # the run's id, for a checkpoint not written yet
        self._fds = []

    def __enter__(self):
        self._fds = [_flock(self.path.with_name(self.path.name + ".lock"),
                            f"checkpoint {self.path.name}: another run is training on it")]
        run_id = _run_id(self.path) or self.run_id
        if run_id is not None:  # the same run under another name (a copy, a hard link) is the same run
            try:
                self._fds.append(_flock(_runs_dir() / f"{run_id}.lock",
                                        f"checkpoint {self.path.name}: run {run_id} is training from another copy of it"))
            except BaseException:
                self.__exit__()
                raise
        return self

    def __exit__(self, *exc):
        for fd in self._fds:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        self._fds = []


def _flock(lock: Path, busy: str) -> int:
    """An exclusive lock on the file ``lock`` (made if need be), or RuntimeError(busy) at once."""
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise ValueError(f"checkpoint: cannot create the lock file {lock.name} ({e.strerror})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise RuntimeError(f"{busy} (its lock {lock.name} is held); wait for it to end, or use another "
                           "checkpoint") from None
    return fd


def _runs_dir() -> Path:
    """Where runs are locked by id: the user's cache (found from the account, not from $HOME or
    $TMPDIR, which two processes may set differently), else the temporary folder."""
    try:
        folder = Path(pwd.getpwuid(os.getuid()).pw_dir) / ".cache" / "qnb" / "runs"
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    except (OSError, KeyError):
        return Path(tempfile.gettempdir())


def _run_id(path: Path) -> str | None:
    """The run id a checkpoint file holds, if it is one (else None: the trainer refuses it later)."""
    try:
        with open(path) as f:
            run_id = json.load(f).get("run_id")
    except (OSError, ValueError, AttributeError, RecursionError):
        return None
    return run_id if isinstance(run_id, str) and re.fullmatch(r"[0-9a-f]{12}", run_id) else None


_BUSY: set = set()
_BUSY_LOCK = threading.Lock()


@contextmanager
def one_at_a_time(owner, what: str):
    """``owner`` does one ``what`` at a time: a second call (another thread) is refused at once."""
    with _BUSY_LOCK:
        if id(owner) in _BUSY:
            raise RuntimeError(f"{what}: already running on this object (another thread); wait for it to end")
        _BUSY.add(id(owner))
    try:
        yield
    finally:
        with _BUSY_LOCK:
            _BUSY.discard(id(owner))


def _file(path) -> Path:
    """The checkpoint's real path (through a symbolic link), or ValueError: a folder, or a file
    whose folder does not exist."""
    path = Path(os.path.realpath(path))
    if path.is_dir():
        raise ValueError(f"checkpoint: {path.name} is a directory; give a file path")
    if not path.parent.is_dir():
        raise ValueError(f"checkpoint: folder {path.parent.name or path.parent} does not exist")
    _regular(path)
    return path


def _regular(path: Path) -> None:
    """ValueError unless ``path`` is absent or a regular file (through a symbolic link): opening a
    FIFO waits forever for a writer, a device or socket is no checkpoint; checked before any open."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError as e:
        raise ValueError(f"checkpoint {path.name}: cannot be read ({e.strerror})") from None
    if not stat.S_ISREG(mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
                else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a directory" if stat.S_ISDIR(mode)
                else "not a regular file")
        raise ValueError(f"checkpoint {path.name}: is {kind}, not a regular file; give a file path")


def read(path) -> dict:
    """The JSON object in ``path``; ValueError naming the file (never its folder) otherwise."""
    path = Path(path)
    _regular(path)
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError) as e:  # ValueError: JSON, UTF-8, or an integer over Python's 4,300 digits
        why = e.strerror if isinstance(e, OSError) else str(e)[:80]
        raise ValueError(f"checkpoint {path.name}: not a readable JSON checkpoint ({type(e).__name__}: {why})") from None
    except RecursionError:
        raise ValueError(f"checkpoint {path.name}: (top level): not a readable JSON checkpoint (nested deeper than "
                         "Python's parser can follow: RecursionError)") from None
    if not isinstance(state, dict):
        raise ValueError(f"checkpoint {path.name}: (top level): expected a JSON object, got {type(state).__name__}")
    return state


STEP_FIELDS = {"step": int, "epoch": int, "batch": int, "circuits": int, "jobs": int, "shots": int,
                "loss": float, "gradient_norm": float, "modeled_s": float}


def _finite(v) -> bool:
    """A finite number: a float that is, or an int a float holds exactly (10**400 is no count)."""
    return abs(v) <= 2 ** 53 if isinstance(v, int) else math.isfinite(v)


def bad_history(h: dict, priced: bool, calibrated: bool) -> str | None:
    """What is wrong with a checkpoint's history (every step a record of numbers, in order; the
    calibration present only when configured), or None."""
    for i, s in enumerate(h["steps"]):
        if not isinstance(s, dict) or s.get("step") != i:
            return f"steps[{i}]: expected the record of step {i}"
        for k, kind in STEP_FIELDS.items() | ({("usd", float)} if priced else set()):
            v = s.get(k)
            if isinstance(v, bool) or not isinstance(v, (int, float) if kind is float else int) or not _finite(v) \
                    or (k != "loss" and v < 0):
                return f"steps[{i}].{k}: expected a finite {'number' if kind is float else 'integer'}, got {v!r}"
    if any(not isinstance(e, dict) for e in h["epochs"]):
        return "epochs: expected records"
    cal = h.get("calibration")
    if cal is not None and (not calibrated or not isinstance(cal, dict) or not all(
            isinstance(cal.get(k), (int, float)) and not isinstance(cal.get(k), bool) and _finite(cal[k])
            for k in ("a", "gradient_magnitude", "modeled_s"))):
        return "calibration: expected none (calibrate=False) or the calibration's finite numbers"
    return None
