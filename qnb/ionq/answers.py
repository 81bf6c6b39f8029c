"""Checks of what the service answers, before anything in it is used."""
from __future__ import annotations

import math
import re
from datetime import timezone
from email.utils import parsedate_to_datetime

from .transport import IonQResponseError

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


def _check_histogram(h, n: int, where: str) -> None:
    if not isinstance(h, dict) or not h:
        raise IonQResponseError(f"{where}: the histogram is not a non-empty JSON object")
    for k, v in h.items():
        if not (len(k) <= 20 and k.isascii() and k.isdigit() and int(k) < 2 ** n):
            raise IonQResponseError(f"{where}: outcome {k[:30]!r} is not a basis state of {n} qubits")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise IonQResponseError(f"{where}: probability {str(v)[:30]} of outcome {k} is not a finite number >= 0")
    if not sum(h.values()) > 0:
        raise IonQResponseError(f"{where}: the histogram sums to 0")
