"""Checks of what the service answers, before anything in it is used."""
from __future__ import annotations

import math
import re
from urllib.parse import unquote
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from itertools import pairwise

from .transport import IonQResponseError

SUM_TOLERANCE = 1e-6  # |sum - 1| allowed in a histogram of probabilities: rounding, never a lost outcome
_SECONDS = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,9})?")


def retry_after(value, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (RFC 9110, section 10.2.3): either
    delay-seconds (decimals accepted too) or an HTTP-date (IMF-fixdate, or the obsolete RFC 850 and
    asctime forms; a date without a zone is GMT, as all HTTP dates are). ``now`` is the wall clock
    (``time.time()``) the date is measured against; a date in the past is 0 s. None when the
    header is absent or unreadable."""
    if value is None:
        return None
    text = str(value).strip()
    if _SECONDS.fullmatch(text):
        return float(text)
    if len(text) > 64:
        return None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    try:
        seconds = when.timestamp() - now
    except (OverflowError, OSError, ValueError):
        return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


def iso_time(value) -> float | None:
    """Unix seconds of an ISO 8601 timestamp such as IonQ's ``submitted_at``
    ("2025-05-28T20:47:05.440Z"); None if it is not one (a zone-less time is UTC)."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()


def _check_histogram(h, n: int, where: str, scrub=str) -> None:
    """A histogram of probabilities over the basis states of ``n`` qubits, refused unless it is
    one: decimal outcome keys < 2**n, each state once ("1" and "01" are one state), values finite
    in [0, 1], summing to 1 within ``SUM_TOLERANCE``. Nothing is renormalised: a histogram that
    does not sum to 1 has lost or gained outcomes, and training on it would use wrong numbers.
    ``scrub`` (the client's: text -> text without the API key) is applied to every key or value
    quoted in an error, before it is cut to length."""
    if not isinstance(h, dict) or not h:
        raise IonQResponseError(f"{where}: the histogram is not a non-empty JSON object")
    states = {}
    for k, v in h.items():
        if not (len(k) <= 20 and k.isascii() and k.isdigit() and int(k) < 2 ** n):
            raise IonQResponseError(f"{where}: outcome {scrub(k)[:30]!r} is not a basis state of {n} qubits")
        if int(k) in states:
            raise IonQResponseError(f"{where}: outcomes {scrub(states[int(k)])!r} and {scrub(k)!r} are the same "
                                    "basis state")
        states[int(k)] = k
        # (compared, not math.isfinite: an integer of 400 digits, which JSON allows, overflows a float)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < math.inf:
            raise IonQResponseError(f"{where}: probability {scrub(str(v))[:30]} of outcome {scrub(k)} is not a "
                                    "finite number >= 0")
        if v > 1 + SUM_TOLERANCE:  # an integer's digits may be the key's (an all-digit key): scrubbed too
            shown = f"{v:.6g}" if isinstance(v, float) else scrub(str(v))[:30]
            raise IonQResponseError(f"{where}: probability {shown} of outcome {scrub(k)} is over 1")
    total = math.fsum(h.values())
    if not total > 0:
        raise IonQResponseError(f"{where}: the histogram sums to 0")
    if abs(total - 1) > SUM_TOLERANCE:
        raise IonQResponseError(f"{where}: the probabilities sum to {total:.9g}, not 1 (tolerance "
                                f"{SUM_TOLERANCE:g}): an outcome is missing or spurious; not renormalised")


def _names_job(url: str, job_id: str) -> bool:
    """Does a results URL (absolute, or a path on the API) name job ``job_id``: ``.../jobs/<id>/...``,
    with no dot segment anywhere (``..`` would be resolved before sending, to another job's path)?"""
    path = re.sub(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/]*", "", url).split("?", 1)[0].split("#", 1)[0]
    decoded = path
    for _ in range(3):  # a server may decode %2F, %5C (and twice-encoded forms) into separators
        decoded = unquote(decoded)
    if decoded != path or "\\" in path:  # anything encoded, or a backslash: a path to read one way only
        return False
    parts = [p.split(";", 1)[0] for p in path.split("/") if p]  # ";params" dropped, as servers do
    if any(p.strip() in (".", "..") for p in parts):
        return False
    return any(a == "jobs" and b == job_id for a, b in pairwise(parts))
