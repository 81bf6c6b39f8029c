"""Reading IonQ's job listing: the service's own word on which jobs exist under which names.

IonQ's v0.4 ``GET /jobs`` documents ``ids``, ``parent_job_id``, ``status``, ``session_id``,
``target``, ``limit`` and ``next`` and answers ``{"jobs": [...], "next": cursor or null}``, each
job with its ``name`` and ``submitted_at``: there is no name filter, so the listing is paged
newest first and matched by name here.

How far back a search reads (it must reach the oldest job that could carry the name):

* to a job that the caller's ``older(name)`` says was submitted before any job searched for (a
  run's jobs are named by step, ``qnb-<run>-s<k>-j<i>``, and its steps run one after another: a
  job of an earlier step is older). This needs no clock at all, and with ``older`` the time stamps
  are not used (they may lag the service's clock by any amount);
* else to ``after - clock_skew_s`` (``after``: unix seconds on our clock, when the job was
  journaled before its POST), moved earlier by how far the service's ``Date`` header is behind ours,
  and by how far the newest listed job's stamp is behind that: time stamps that lag the service's
  own clock by up to ``clock_skew_s`` are still read back far enough;
* else to ``clock_skew_s`` before the newest match, or to the end. At most ``list_max_pages`` pages: a search that could not reach far enough
  raises ``SubmissionUncertainError`` (never "absent": absent would pay again).

A listing may show a new job only some time after its POST (eventual consistency): "absent" is the
listing's word only for a job journaled more than ``listing_lag_s`` ago. Before that, ``find_job``
waits (within the deadline) for it to become conclusive, else raises ``SubmissionUncertainError``
saying when to try again.
"""
from __future__ import annotations

import math
import time
from urllib.parse import quote

from ..jobs import SubmissionUncertainError, job_order  # noqa: F401
from .answers import iso_time
from .transport import IonQResponseError

def read_listing(backend, wanted, what: str, deadline=None, after: float | None = None, older=None) -> dict:
    """``{name: [ids, newest first]}`` for every listed job whose name ``wanted(name)`` accepts,
    read back as far as the module's docstring says."""
    cutoff = None if after is None else float(after) - backend.clock_skew_s
    found, cursor, cursors, looked, newest_first, last_t = {}, None, set(), 0, True, math.inf
    no_listing = SubmissionUncertainError(
        f"{what}: the service has no job listing (GET /jobs: HTTP 404), so whether that job exists cannot be "
        "told; not resubmitted. Look for a job of that name on the service: if it exists, write its id into "
        "the checkpoint's pending record, else remove the record; then resume")
    for page in range(backend.list_max_pages):
        query = f"jobs?limit={int(backend.list_limit)}" + (f"&next={quote(cursor, safe='')}" if cursor else "")
        body = backend._request("GET", query, f"{what} (page {page + 1})", deadline=deadline, not_found=no_listing)
        if page == 0 and cutoff is not None and (backend._service_behind_s or 0) > 0:  # on the service's clock
            cutoff -= backend._service_behind_s  # (only ever earlier: a Date ahead never shortens the search)
        jobs = body.get("jobs") if isinstance(body, dict) else None
        nxt = body.get("next") if isinstance(body, dict) else None
        if not isinstance(jobs, list) or not all(isinstance(j, dict) for j in jobs) or "next" not in body or not (
                nxt is None or (isinstance(nxt, str) and 0 < len(nxt) <= 512)):
            raise IonQResponseError(f"{what}: the answer is not a job list {{\"jobs\": [objects], \"next\"}}")
        reached = False
        for j in jobs:
            looked += 1
            t, name = iso_time(j.get("submitted_at")), j.get("name")
            if t is not None:
                if looked == 1 and cutoff is not None:  # stamps lagging the Date header: read back as far again
                    cutoff = min(cutoff, t - backend.clock_skew_s)
                newest_first, last_t = newest_first and t <= last_t, t
            if isinstance(name, str) and wanted(name):
                job_id = j.get("id")
                if not backend._own_id(job_id):
                    raise IonQResponseError(f"{what}: the job listed under the name {backend._client.scrub(name)[:80]!r} "
                                            "has no valid id (not IonQ's id characters, or it holds the API key)")
                ids = found.setdefault(name, [])
                if job_id not in ids:
                    ids.append(job_id)
                if cutoff is None and t is not None:  # no time known: read clock_skew_s past the newest match
                    cutoff = t - backend.clock_skew_s
            if older is not None:  # the run's own older job: no clock needed, nor trusted
                reached = reached or (isinstance(name, str) and older(name))
            else:
                reached = reached or (cutoff is not None and t is not None and t < cutoff)
        if (reached and newest_first) or nxt is None:
            return found
        if nxt in cursors or not jobs:
            raise IonQResponseError(f"{what}: the job list does not advance (an empty page, or cursor "
                                    f"{backend._client.scrub(nxt)[:60]!r} again): it pages in a loop")
        cursors.add(nxt)
        cursor = nxt
    raise SubmissionUncertainError(
        f"{what}: {looked} jobs in {backend.list_max_pages} pages did not reach back to when it was journaled, "
        "so whether it exists cannot be told; not resubmitted. Raise backend.list_max_pages and resume, "
        "or look for it on the service by hand")


def find_job(backend, name: str, deadline=None, after: float | None = None, older=None, settle: bool = True):
    """The id of the one job listed under ``name``, or None when the listing says there is none:
    read back far enough, and (``settle``) no younger than ``backend.listing_lag_s`` since ``after``
    (waited for within ``deadline``; past it, ``SubmissionUncertainError``). Two jobs of one name:
    ``IonQResponseError`` (refusing to guess)."""
    what = f"looking up the job named {name!r}"
    while True:
        ids = read_listing(backend, lambda n: n == name, what, deadline, after, older).get(name, [])
        if len(ids) > 1:
            raise IonQResponseError(f"{what}: {len(ids)} jobs carry that name ({', '.join(ids[:4])}); refusing to guess")
        if ids or not settle or after is None:
            return ids[0] if ids else None
        settles = float(after) + backend.listing_lag_s  # unix seconds: the listing's word is final from then on
        wait = settles - time.time()
        if wait <= 0:
            return None
        if deadline is not None and time.perf_counter() + wait + 0.05 > deadline:
            raise SubmissionUncertainError(
                f"{what}: not in the job listing yet, but the listing may show a job only up to "
                f"{backend.listing_lag_s:g} s after its POST, and that is {wait:.3g} s away (past the deadline); "
                f"not resubmitted: resume in {math.ceil(wait)} s or later")
        time.sleep(wait)
