"""The checkpoint file: one JSON object, written atomically, read and checked before it is trusted.

What goes in it is each component's own ``state()`` (trainer, optimizer, backend); this module only
knows the file: how to write it so that a crash never leaves half a file, and how to read it so
that a damaged one is refused with its name and no absolute path.
"""
from __future__ import annotations

import json
import os
from pathlib import Path


def write(path, state: dict) -> None:
    """Write ``state`` as JSON to ``path`` atomically (a temporary file, then a rename)."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"checkpoint: {path.name} is a directory; give a file path")
    if not path.parent.is_dir():
        raise ValueError(f"checkpoint: folder {path.parent.name or path.parent} does not exist")
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(json.dumps(state, allow_nan=False))
    except OSError as e:
        raise ValueError(f"checkpoint: cannot write {path.name} ({e.strerror})") from None
    os.replace(tmp, path)


def read(path) -> dict:
    """The JSON object in ``path``; ValueError naming the file (never its folder) otherwise."""
    path = Path(path)
    try:
        state = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        why = e.strerror if isinstance(e, OSError) else str(e)[:80]
        raise ValueError(f"checkpoint {path.name}: not a readable JSON checkpoint ({type(e).__name__}: {why})") from None
    if not isinstance(state, dict):
        raise ValueError(f"checkpoint {path.name}: (top level): expected a JSON object, got {type(state).__name__}")
    return state
