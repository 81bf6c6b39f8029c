"""Jobs, their final states and the transport errors: the vocabulary that backends and the
CircuitBatchManager share (both import it; neither imports the other's internals)."""
from __future__ import annotations

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


def check_shots(shots) -> None:
    if shots is not None and (isinstance(shots, bool) or not isinstance(shots, (int, np.integer)) or shots < 1):
        raise ValueError(f"shots: must be a positive integer or None (exact), got {shots!r}")


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


class BatchTimeoutError(TimeoutError):
    """The batch did not finish within its deadline."""
