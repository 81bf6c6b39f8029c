"""Taking the API key out of text: any piece of 8 or more of its characters, in linear time.

A text is first read into a *normalised* stream: ``%XX`` (also ``%25XX``, encoded again),
``\\uXXXX``, ``\\u{X..}``, ``\\xXX``, ``&#NN;``, ``&#xXX;`` and the named HTML entities each
become the character they stand for, a backslash escape becomes its character, whitespace (and an
escaped ``\\n``, ``\\r``, ``\\t``) is dropped, so a key wrapped across lines reads whole again, and
letters are lower-cased, and backslashes are dropped. Each normalised character remembers the span of the text it came from.

A key of n characters has n - G + 1 pieces of G = min(8, n) characters (its *grams*), normalised
the same way; so do its base64 forms (standard and URL-safe, at each of the three byte alignments,
less the characters the padding touches). The same is done on the text as written (only whitespace
dropped) against the key's grams as written, so a key that holds ``%85`` or ``&amp;`` itself is
found either way. Every window of G normalised characters holds a piece of q = G // 2 characters
starting at a multiple of q: those pieces are looked up in the key's q-grams, and only around a hit
is each window ``norm[i:i+G]`` looked up in the grams. Every run of the text that holds G or more
consecutive characters of the key, in any of these forms or mixed, is covered by the grams found
in it, and the text spans they came from (whitespace between them included) are replaced by
``[API key]``. Cost: O(len(text) x G), whatever the key's length; a ``deadline`` (a
``time.perf_counter()`` instant) is checked every 16,384 characters.

A piece of fewer than G characters may remain (it identifies nothing), so a text may be cut
before it is scrubbed: what the cut leaves of the key is either a piece under G characters or is
found. Keys hold no whitespace (``_check_key``): a text is never cut inside a form of the key by
the dropping of whitespace.
"""
from __future__ import annotations

import base64
import re
import time

GRAM = 8  # pieces of the key this long or longer are never shown
_CHECK_EVERY = 1 << 14
_NAMED = {"quot": '"', "amp": "&", "lt": "<", "gt": ">", "apos": "'", "sol": "/"}
_TOKEN = re.compile(r"""
    (?P<plain>[^%\\&\s]+)
  | %(?:25)*(?P<pct>[0-9A-Fa-f]{2})
  | \\+u(?P<u4>[0-9A-Fa-f]{4})
  | \\+u\{(?P<ub>[0-9A-Fa-f]{1,6})\}
  | \\+x(?P<x2>[0-9A-Fa-f]{2})
  | &\#[xX](?P<hent>[0-9A-Fa-f]{1,6});?
  | &\#(?P<dent>[0-9]{1,7});?
  | &(?P<named>quot|amp|lt|gt|apos|sol);
  | \\+[nrt]
  | \\+(?P<esc>[^\s])
  | (?P<ws>\s+)
  | (?P<ch>.)
""", re.X | re.S)


_RAW = re.compile(r"(?P<plain>\S+)|(?P<ws>\s+)")  # the text as it is: only whitespace dropped


class BatchLate(Exception):
    """The deadline passed while scrubbing (the caller raises its own BatchTimeoutError)."""


def _char(m) -> str:
    """The character a token stands for; "" for whitespace and backslashes, which are dropped (a key
    holds no whitespace, and a backslash, literal or escaped, identifies nothing: dropping it on both
    sides makes every escaping depth read alike)."""
    c = _decoded(m)
    return "" if c == "\\" or c.isspace() else c


def _decoded(m) -> str:
    g = m.lastgroup
    if g in ("pct", "x2"):
        return chr(int(m.group(g), 16))
    if g in ("u4", "ub", "hent"):
        v = int(m.group(g), 16)
        return chr(v) if v < 0x110000 else "\ufffd"
    if g == "dent":
        v = int(m.group(g))
        return chr(v) if v < 0x110000 else "\ufffd"
    if g == "named":
        return _NAMED[m.group(g)]
    if g in ("esc", "ch"):
        return m.group(g)
    return ""  # whitespace, an escaped line break or tab


def normalise(text: str, deadline: float | None = None, decode: bool = True):
    """(normalised lower-case text, starts, ends): the text span [starts[i], ends[i]) that gave
    normalised character i. ``decode=False``: escapes are left as they are (only whitespace is
    dropped): a key that holds ``%85`` itself is then found as written too."""
    out, starts, ends = [], [], []
    for k, m in enumerate((_TOKEN if decode else _RAW).finditer(text)):
        if deadline is not None and not k % _CHECK_EVERY and time.perf_counter() > deadline:
            raise BatchLate()
        if m.lastgroup == "plain":
            a, b = m.span()
            out.append(m.group("plain"))
            starts.extend(range(a, b))
            ends.extend(range(a + 1, b + 1))
            continue
        c = _char(m)
        if c:
            out.append(c)
            starts.append(m.start())
            ends.append(m.end())
    return "".join(out).lower(), starts, ends


def _forms(key: str) -> list[str]:
    """The key, and its base64 forms at each byte alignment (standard and URL-safe), less the
    characters the padding or the alignment touches."""
    raw = key.encode("utf-8", "surrogatepass")
    forms = [key]
    for i in range(3):
        b = base64.b64encode(raw[i:]).decode().rstrip("=")
        b = b[:len(b) - 2]  # the last characters mix in bits after the key
        forms += [b, b.replace("+", "-").replace("/", "_")]
    return [f for f in forms if f]


class KeyScrubber:
    """Scrubs one key out of texts (see the module's docstring)."""

    __slots__ = ("g", "grams")

    def __init__(self, key: str):
        self.g = min(GRAM, len(key)) or 1
        self.grams = {}  # decode (True: escapes read as characters; False: as written) -> grams
        for decode in (True, False):
            normed = [normalise(f, decode=decode)[0] for f in _forms(key)]
            g = min(self.g, len(normed[0])) or 1  # (a key of escapes reads shorter decoded)
            q = max(1, g // 2)  # every window of g characters holds a q-gram starting at a multiple of q
            self.grams[decode] = (g, {f[i:i + g] for f in normed for i in range(len(f) - g + 1)},
                                  q, {f[i:i + q] for f in normed for i in range(len(f) - q + 1)})

    def _spans(self, text: str, decode: bool, deadline) -> list:
        g, grams, q, quarters = self.grams[decode]
        if not grams:
            return []
        norm, starts, ends = normalise(text, deadline, decode)
        spans, last, n = [], -1, len(norm)
        for j in range(0, n - q + 1, q):  # a q-gram of the key at j: then look at the windows holding it
            if deadline is not None and not j % _CHECK_EVERY and j and time.perf_counter() > deadline:
                raise BatchLate()
            if norm[j:j + q] in quarters:
                for i in range(max(last + 1, j + q - g, 0), min(j, n - g) + 1):
                    if norm[i:i + g] in grams:
                        spans.append((starts[i], ends[i + g - 1]))
                    last = i
        return spans

    def scrub(self, text: str, mask: str, deadline: float | None = None) -> str:
        if not text:
            return text
        found = sorted(self._spans(text, True, deadline) + self._spans(text, False, deadline))
        spans = []
        for a, b in found:  # merged where they overlap or touch
            if spans and a <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], b)
            else:
                spans.append([a, b])
        if not spans:
            return text
        out, at = [], 0
        for a, b in spans:
            out += [text[at:a], mask]
            at = b
        out.append(text[at:])
        return "".join(out)
