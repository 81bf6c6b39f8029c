"""Jobs, their final states and the transport errors: the vocabulary that backends and the
CircuitBatchManager share (both import it; neither imports the other's internals)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

FINAL_OK = "completed"
FINAL_BAD = ("failed", "canceled")


@dataclass
class Job:
    """One submitted job: what it holds and what it cost under the backend's latency model."""

    id: str
    n_circuits: int
    shots: int | None
    modeled_s: float
    payload: object = field(default=None, repr=False)
    deadline: float | None = None  # time.perf_counter() instant: the manager's, for every read of this job
    name: str | None = None  # the name it was submitted (or journaled) under: its status must carry it
    journaled_at: float | None = None  # unix seconds, before its POST: how far back the listing is read for it
    listed: bool = False  # the job listing showed it: a 404 on reading it is the service catching up
    missing: bool = False  # the last read of it answered 404 (and the job is not judged gone)


_RUN_JOB = re.compile(r"qnb-([0-9a-f]{12})-(cal|s([0-9]{1,18}))-j([0-9]{1,9})")


def job_order(name) -> tuple[str, int, int] | None:
    """(run id, step, index) of a job name a trainer's run gives, ``qnb-<run>-s<step>-j<index>``
    (the calibration's, ``qnb-<run>-cal-j<index>``, is step -1); None for any other name. A run's
    steps run one after another: a job of an earlier step is an older job."""
    m = _RUN_JOB.fullmatch(name) if isinstance(name, str) else None
    return None if m is None else (m.group(1), -1 if m.group(2) == "cal" else int(m.group(3)), int(m.group(4)))


MAX_SHOTS = 2 ** 53  # a count a float holds exactly: every shot total is summed and priced as floats


def check_shots(shots) -> None:
    """``shots``: None (exact) or an integer in 1..2**53 (more is no count a price or a sampler can use)."""
    if shots is not None and (isinstance(shots, bool) or not isinstance(shots, (int, np.integer)) or shots < 1):
        raise ValueError(f"shots: must be a positive integer or None (exact), got {shots!r}")
    if shots is not None and shots > MAX_SHOTS:
        raise ValueError("shots: at most 2**53 (a count a float holds exactly), got "
                         + (str(shots) if shots < 10 ** 30 else "an integer over 1e30"))


class TransientError(Exception):
    """A read that may succeed if repeated (HTTP 429/5xx, connection dropped)."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class RejectedSubmission(TransientError):
    """The service refused a submission (HTTP 429): no job exists, so resubmitting is safe."""


class SubmissionUncertainError(Exception):
    """A submission may or may not have created a job; it is not resubmitted."""


class JobFailedError(Exception):
    """A job reached a final state other than completed."""

    def __init__(self, job_id: str, status: str, message: str = ""):
        super().__init__(f"job {job_id} ended with status {status!r}" + (f": {message}" if message else ""))
        self.job_id, self.status, self.message = job_id, status, message


class JobNotFoundError(JobFailedError):
    """The service does not know the job (HTTP 404 on reading it): deleted, expired, or never made."""

    def __init__(self, job_id: str, message: str = ""):
        super().__init__(job_id, "not found", message)


class BudgetExceededError(RuntimeError):
    """A new job would take the spending past the budget (or is priced beyond any budget): not sent."""


class RunConflictError(RuntimeError):
    """Two copies of one run (one checkpoint copied) are training at once: the listing shows two
    jobs under one of its job names. The copy whose job is the newer stops, naming the run."""


class BatchTimeoutError(TimeoutError):
    """The batch did not finish within its deadline."""
