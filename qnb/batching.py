"""CircuitBatchManager: submits circuits as few jobs as allowed and owns the cloud failure policy.

Policy (pennylane-ionq has none of it):

* one overall deadline per ``execute_batch`` (``timeout_s``): the plugin polls forever;
* ``failed`` and ``canceled`` are final: ``JobFailedError`` names the job id, status and message;
* reads (status, results) are retried on ``TransientError`` (HTTP 429/5xx, dropped
  connections) with bounded exponential backoff, honouring a Retry-After hint;
* a Retry-After hint is waited out only if that ends before the deadline; otherwise the call fails
  at once, saying so (no wait is ever cut short by the deadline, nor runs past it);
* a submission is retried only when the service said it did NOT take the job (429 on POST).
  When a POST may have reached the service (5xx, dropped connection), the manager does not
  resubmit, because a duplicate job costs money: it raises ``SubmissionUncertainError`` naming the
  client-side job name, so the job can be looked up; a checkpointed training resumes from the last
  completed step. A POST answer naming a job this run already has (another step's) is treated the
  same way: uncertain, not resubmitted;
* a job is "gone" (deleted or expired) only when the service's job listing, read back to when the
  job was journaled and older than the listing's lag, does not show its name: a 404 on reading a job
  that the listing shows, or that is too young for the listing to be conclusive, is the service
  catching up (eventual consistency), and the job is read again until the deadline;
* a job of an interrupted run (adopted from the journal) that failed, was canceled, or is gone is
  resubmitted once;
* every job created or adopted is counted (``stats``, the call's ``cost``): a failed job is billed
  too. With ``usd_left`` set (the trainer's dollar budget), a job that would take the spending past
  it is not sent (``BudgetExceededError`` naming it); a job priced beyond ``MAX_JOB_USD`` or not
  finitely is never sent;
* with ``begin_step(..., run=...)`` (a trainer's run with a checkpoint), every new job's name is first
  looked up in the listing: a copy of the run that already made it is adopted, not paid again; and
  if one of this run's recent names shows two jobs, the copy whose job is the newer stops
  (``RunConflictError`` naming the run).
"""
from __future__ import annotations

import math
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

from .affine import CircuitBatch
from .prices import circuits_gate_counts, price_sheet
from .validation import integer, positive
from .jobs import (FINAL_BAD, FINAL_OK, BatchTimeoutError, BudgetExceededError, JobFailedError,  # noqa: F401
                   JobNotFoundError, RejectedSubmission, RunConflictError, SubmissionUncertainError, TransientError,
                   check_shots, job_order)

MAX_JOB_USD = 1e9  # no job priced above this (or not finitely) is sent: a sheet or a count gone wrong


def _unix_time(at):
    """A journaled time (unix seconds) as a float, or None for anything that is not one (a JSON
    integer of 400 digits overflows a float: compared, not math.isfinite)."""
    return float(at) if isinstance(at, (int, float)) and not isinstance(at, bool) and 0 <= at < 1e12 else None


@dataclass
class BatchStats:
    """What the manager has sent: counted where the jobs are submitted, not claimed."""

    jobs: int = 0
    circuits: int = 0
    shots: int = 0
    modeled_s: float = 0.0
    wall_s: float = 0.0
    retries: int = 0
    usd: float = 0.0  # dollars under the manager's price sheet (0 without one)
    gate_shots_1q: int = 0  # one-qubit gates x shots, after compilation to IonQ's gates: what any sheet prices
    gate_shots_2q: int = 0
    billed_s: float = 0.0  # compute seconds the service reported it billed (beside the estimate; 0 if none)

    def as_dict(self) -> dict:
        return asdict(self)

    def add(self, other: "BatchStats") -> None:
        for k, v in asdict(other).items():
            setattr(self, k, getattr(self, k) + v)


class BatchResult(list):
    """The results of ``execute_batch``, one per circuit in input order, with ``cost``: what this
    call sent (jobs, circuits, shots, modeled and wall seconds, retries)."""

    def __init__(self, results, cost: BatchStats):
        super().__init__(results)
        self.cost = cost


class BatchHandle:
    """Returned by ``execute_batch(..., wait_for_results=False)``."""

    def __init__(self, future):
        self._future = future

    def done(self) -> bool:
        return self._future.done()

    def result(self, timeout: float | None = None):
        return self._future.result(timeout)


class CircuitBatchManager:
    """Runs a list of circuits as jobs of at most ``max_batch_size`` circuits each, under the cloud
    failure policy above.

    Args:
        backend (Backend): where the jobs run (``LocalBackend``, ``IonQBackend``).
        max_batch_size (int): the most circuits in one job.
        timeout_s (float): the deadline of one ``execute_batch``, every request included.
        max_retries (int): retries of a read (or of a submission the service refused) on 429/5xx.
        backoff_s, poll_s (float): the first retry delay (doubling) and the longest poll interval.
        price: a ``PriceSheet`` or its name in ``qnb.PRICES``: every job's dollars in ``stats.usd``.

    ``execute_batch`` returns one result per circuit, in input order, with what the call cost,
    and adds it to ``stats``.

    **Example**

    .. code-block:: python

        manager = qnb.CircuitBatchManager(qnb.LocalBackend(seed=0), max_batch_size=100)
        results = manager.execute_batch(circuits, shots=1000)
        results.cost.jobs, manager.stats.circuits
    """

    def __init__(self, backend, max_batch_size: int = 100, timeout_s: float = 60.0,
                 max_retries: int = 3, backoff_s: float = 0.05, poll_s: float = 0.01, price=None):
        # qnb.validation: True is refused, numpy integers and floats are taken (as Python numbers)
        self.max_batch_size = integer("max_batch_size", max_batch_size, 1)
        self.timeout_s = positive("timeout_s", timeout_s)
        self.max_retries = integer("max_retries", max_retries, 0)
        self.backoff_s, self.poll_s = positive("backoff_s", backoff_s), positive("poll_s", poll_s)
        self.backend = backend
        self.price = None if price is None else price_sheet(price)  # dollars of each job, from what it holds
        self.stats = BatchStats()  # everything since creation
        self._pool = None
        # paid-job bookkeeping for checkpoints (the trainer sets these; see begin_step)
        # called with [{"name", "id", "journaled_at"}, ...] before a POST and again before any wait;
        # journaled_at (unix seconds, before the POST) tells find_job how far back to look
        self.journal = None
        self.adopt: list[dict] = []  # jobs of an interrupted step, reused in order instead of resubmitted
        # a manager's own prefix: two managers' jobs never share a name (a status names its job)
        self.job_prefix, self._records = f"qnb-{uuid.uuid4().hex[:12]}", []
        self._known_ids: set = set()  # every job id this manager has submitted or adopted
        self.usd_left = None  # dollars new jobs may still cost (the trainer's budget); None: no limit
        self.run, self.recent, self.run_since = None, {}, None  # see begin_step

    def __repr__(self):
        return f"CircuitBatchManager({self.backend!r}, max_batch_size={self.max_batch_size}, timeout_s={self.timeout_s})"

    def begin_step(self, prefix: str, adopt=(), run: tuple | None = None, recent=(), since: float | None = None) -> None:
        """Name this step's jobs ``prefix-j0, -j1, ...`` and reuse ``adopt`` (records of the same
        step from an interrupted run) before submitting anything new. ``run``: ``(run_id, step)``
        of a trainer's checkpointed run, whose job names are looked up in the listing before a new
        job is sent; ``recent``: the previous step's records (``{name, id}``); ``since``: unix
        seconds when the run began (how far back a lookup reads when no older job of the run is listed)."""
        self.job_prefix, self._records, self.adopt = prefix, [], [dict(r) for r in adopt]
        self.run, self.run_since = run, _unix_time(since)
        self.recent = {r["name"]: (r["id"], _unix_time(r.get("journaled_at"))) for r in recent
                       if isinstance(r, dict) and r.get("id")}

    def _lookup(self, name, deadline, after=None, older=None, settle=True):
        """The listing's id for ``name`` (or None); backends without a listing are asked as before."""
        if hasattr(self.backend, "find_jobs"):
            return self.backend.find_job(name, deadline=deadline, after=after, older=older, settle=settle)
        return self.backend.find_job(name, deadline=deadline, after=after)

    @property
    def _older_fn(self):
        """``_older`` when this run has a step before the previous one (the listing is read back to
        it, clock-free), else None (the listing's time stamps bound the search)."""
        return self._older if self.run is not None and self.run[1] >= 2 else None

    def _older(self, name) -> bool:
        """Is ``name`` one of this run's jobs from before the previous step (the listing is read back
        to it: anything older cannot carry a name this step looks for)?"""
        o = job_order(name)
        return self.run is not None and o is not None and o[0] == self.run[0] and o[1] < self.run[1] - 1

    def _copied(self, name, deadline):
        """Before ``name`` is sent: the id a copy of this run already made under it (adopted), or None.
        RunConflictError if a name this run has used shows another, older job (this copy is the second)."""
        if self.run is None or not hasattr(self.backend, "find_jobs"):
            return None
        mine = {**self.recent, **{r["name"]: (r["id"], _unix_time(r.get("journaled_at"))) for r in self._records
                                  if r.get("id")}}
        lag = float(getattr(self.backend, "listing_lag_s", 0.0))
        while True:
            listed = self.backend.find_jobs(lambda n: n == name or n in mine, deadline=deadline, after=self.run_since,
                                            older=self._older_fn)
            # read your own writes: while a job of ours younger than the listing's lag is not listed yet, the
            # listing is behind, and cannot show a copy's job made after it either: wait for it (a racing copy
            # then sees the other's older job before it pays a second time)
            young = [at for n, (i, at) in mine.items() if i not in listed.get(n, []) and at is not None
                     and time.time() - at < lag]
            if not young:
                break
            wait = min(0.25, min(young) + lag - time.time())  # the listing read again every quarter second
            if time.perf_counter() + wait > deadline:
                raise SubmissionUncertainError(
                    f"job {name}: not sent: the job listing does not show this run's job of the last step yet "
                    f"(it may take up to {lag:g} s), so whether a copy of this run made {name} cannot be told "
                    "before the deadline; resume to continue")
            time.sleep(wait)
        mine = {n: i for n, (i, _) in mine.items()}
        for n, ids in listed.items():  # newest first: the oldest job of a name is the first copy's
            if n in mine and any(i != mine[n] for i in ids) and ids[-1] != mine[n]:
                raise RunConflictError(
                    f"run {self.run[0]}: job {n} was also submitted by another copy of this run (jobs {', '.join(ids[:4])}; "
                    f"this copy's is {mine[n]}, the newer): this copy stops before paying for {name}. Two copies of one "
                    "checkpoint are training at once; let the other finish, then resume this one (it adopts its jobs)")
        ids = listed.get(name, [])
        if len(ids) > 1:
            raise RunConflictError(f"run {self.run[0]}: {len(ids)} jobs carry the name {name} ({', '.join(ids[:4])}): "
                                   "copies of this run are training at once; this copy stops")
        return ids[0] if ids else None

    def _adopted(self, name, job_id, at, chunk, shots, deadline):
        """A job made for ``name`` by an interrupted run or a copy of it: waited on, not resubmitted."""
        job = self.backend.recover(job_id, chunk, shots)
        if job is None:
            return None
        job.deadline, job.name, job.journaled_at = deadline, name, at  # its status must carry the name
        self._known_ids.add(job.id)
        self._records.append({"name": name, "id": job.id, "adopted": True} | ({"journaled_at": at} if at else {}))
        if self.usd_left is not None:
            self.usd_left -= self.job_usd(chunk, shots)
        self._journal()
        return job

    def _afford(self, chunk, shots, name) -> None:
        """BudgetExceededError (nothing sent) unless a new job ``name`` fits ``usd_left`` and costs a
        finite amount below ``MAX_JOB_USD``."""
        if self.price is None:
            return
        usd = self.job_usd(chunk, shots)
        if not (math.isfinite(usd) and usd <= MAX_JOB_USD):
            raise BudgetExceededError(f"job {name}: priced at {usd:.4g} $ by the sheet {self.price.name!r}, beyond "
                                      f"{MAX_JOB_USD:g} $ a job: refused; nothing sent")
        if self.usd_left is not None and usd > self.usd_left * (1 + 1e-12) + 1e-9:
            raise BudgetExceededError(f"job {name}: its {usd:,.2f} $ would take the run past its budget ("
                                      f"{max(self.usd_left, 0.0):,.2f} $ left); nothing sent. Resume with a larger "
                                      "budget_usd to continue")
        if self.usd_left is not None:
            self.usd_left -= usd

    def _submit(self, chunk, shots, deadline):
        """One job for ``chunk``: an adopted one if the interrupted run (or a copy of it) left it,
        else a new one, journaled under its name before the POST and with its id before anyone waits on it."""
        while self.adopt:
            record = self.adopt.pop(0)
            at = _unix_time(record.get("journaled_at"))  # absent in journals written before it was recorded
            job_id = record.get("id") or self._lookup(record["name"], deadline, after=at, older=self._older_fn)
            job = self._adopted(record["name"], job_id, at, chunk, shots, deadline) if job_id else None
            if job is not None:
                return job
        name = f"{self.job_prefix}-j{len(self._records)}"
        job_id = self._with_retries(lambda: self._copied(name, deadline), deadline)
        if job_id is not None:
            job = self._adopted(name, job_id, None, chunk, shots, deadline)
            if job is not None:
                return job
        self._afford(chunk, shots, name)
        record = {"name": name, "id": None, "journaled_at": time.time()}
        self._records.append(record)
        self._journal()
        uncertain = ("It was journaled under that name before the POST: with a checkpoint, QuantumTrainer.resume(path) "
                     "looks it up by name (backend.find_job) and uses it if it exists; by hand: list your jobs on the "
                     "service and search for that name")
        try:
            job = self._with_retries(lambda: self.backend.submit(chunk, shots, name=record["name"], deadline=deadline),
                                     deadline, submit=True)
        except SubmissionUncertainError as e:
            raise SubmissionUncertainError(f"job {record['name']}: {e}. {uncertain}") from None
        if job.id in self._known_ids:
            raise SubmissionUncertainError(
                f"job {record['name']}: the submission was answered with the id {job.id}, a job this run already has "
                f"(another step's): not this submission's answer, yet a job may exist; not resubmitted. {uncertain}")
        self._known_ids.add(job.id)
        record["id"] = job.id
        job.deadline, job.journaled_at = deadline, record["journaled_at"]  # no read of it may outlive the deadline
        self._journal()
        return job

    def _journal(self):
        if self.journal is not None:
            self.journal([dict(r) for r in self._records])

    def n_jobs(self, n_circuits: int, circuits_per_job: int | None = None) -> int:
        """Jobs needed for ``n_circuits`` circuits (at most ``circuits_per_job`` per job)."""
        return math.ceil(n_circuits / min(circuits_per_job or self.max_batch_size, self.max_batch_size))

    def job_usd(self, circuits, shots, gates: tuple[int, int] | None = None) -> float:
        """Dollars of one job of ``circuits`` (holding ``gates`` one- and two-qubit gates, counted if
        not given) under the price sheet (0 without one)."""
        if self.price is None:
            return 0.0
        return self.price.job_usd(len(circuits), shots, *(gates or circuits_gate_counts(circuits)))

    def quote(self, circuits, circuits_per_job: int | None, shots) -> BatchStats:
        """What sending ``circuits``, ``circuits_per_job`` at a time (None: as few jobs as the job size
        allows), would cost: jobs, circuits, shots, modeled seconds and dollars, without sending."""
        n = min(circuits_per_job or self.max_batch_size, self.max_batch_size)
        out = BatchStats()
        for i in range(0, len(circuits), n):
            chunk = circuits[i:i + n]
            g1, g2 = circuits_gate_counts(chunk)
            out.add(BatchStats(jobs=1, circuits=len(chunk), shots=len(chunk) * (shots or 0),
                               usd=self.job_usd(chunk, shots, (g1, g2)), gate_shots_1q=g1 * (shots or 0),
                               gate_shots_2q=g2 * (shots or 0), modeled_s=self.backend.latency.job_time(len(chunk), shots)))
        return out

    def price_s(self, n_circuits: int, circuits_per_job: int | None, shots) -> float:
        """Modeled seconds that ``n_circuits`` circuits sent ``circuits_per_job`` at a time would
        cost under the backend's latency model, without sending anything."""
        return float(self.backend.latency.batch_time(n_circuits, self.n_jobs(n_circuits, circuits_per_job), shots))

    def execute_batch(self, circuits, shots: int | None = 1000, wait_for_results: bool = True):
        """Run ``circuits`` as jobs of at most ``max_batch_size``.

        Returns:
            BatchResult: the results in input order, with ``.cost`` (a ``BatchStats`` of this call);
            a ``BatchHandle`` instead when ``wait_for_results=False``.
        """
        check_shots(shots)
        circuits = circuits if isinstance(circuits, CircuitBatch) else list(circuits)
        if not len(circuits):
            raise ValueError("circuits: nothing to run (empty list)")
        if not wait_for_results:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qnb-batch")
            return BatchHandle(self._pool.submit(self._run, circuits, shots))
        return self._run(circuits, shots)

    def _run(self, circuits, shots):
        start = time.perf_counter()
        deadline = start + self.timeout_s
        jobs, call = [], BatchStats()
        self._call = call
        try:
            chunks = [circuits[i:i + self.max_batch_size] for i in range(0, len(circuits), self.max_batch_size)]
            for chunk in chunks:
                job = self._submit(chunk, shots, deadline)
                self._count(call, chunk, shots, job)
                jobs.append(job)
            results = []
            for job, chunk in zip(jobs, chunks):
                try:
                    results.extend(self._wait(job, deadline))
                    call.billed_s += self.backend.billed_s(job)
                except JobFailedError:
                    if not self._records or not any(r.get("adopted") and r["id"] == job.id for r in self._records):
                        raise
                    # a job of the interrupted run failed, was canceled, or is gone (deleted or
                    # expired: JobNotFoundError): that step's work is resubmitted once, as a new job
                    # (nothing was delivered for the old one)
                    again = self._submit(chunk, shots, deadline)
                    self._count(call, chunk, shots, again)  # both are billed: the failed one and this one
                    results.extend(self._wait(again, deadline))
                    call.billed_s += self.backend.billed_s(again)
        finally:
            call.wall_s = time.perf_counter() - start
            self.stats.add(call)
        if len(results) != len(circuits):
            raise RuntimeError(f"expected {len(circuits)} results, got {len(results)}")
        return BatchResult(results, call)

    def _count(self, call: BatchStats, chunk, shots, job) -> None:
        """Add one created (or adopted) job to ``call``: every job is billed, a failed one too."""
        g1, g2 = circuits_gate_counts(chunk)
        call.add(BatchStats(jobs=1, circuits=len(chunk), shots=len(chunk) * (shots or 0), modeled_s=job.modeled_s,
                            gate_shots_1q=g1 * (shots or 0), gate_shots_2q=g2 * (shots or 0),
                            usd=self.job_usd(chunk, shots, (g1, g2))))

    def _unseen(self, job, deadline) -> None:
        """After a 404 on reading ``job``: JobNotFoundError if it is gone (the listing, read back to
        when it was journaled and older than the listing's lag, does not show its name); else return
        (the listing shows it, or cannot tell yet): the service is catching up, read it again."""
        lag = getattr(self.backend, "listing_lag_s", 0.0)
        if job.listed or not hasattr(self.backend, "find_jobs") or job.name is None:
            if job.listed:
                job.missing = True
                return
            raise JobNotFoundError(job.id, "the service does not know it (HTTP 404): deleted or expired")
        ids = self.backend.find_jobs(lambda n: n == job.name, deadline=deadline, after=job.journaled_at,
                                     older=self._older_fn).get(job.name, [])
        if job.id in ids:
            job.listed = job.missing = True
            return
        if ids:
            raise SubmissionUncertainError(f"job {job.name}: read as {job.id}, but the listing shows {', '.join(ids[:4])} "
                                           "under that name; not resubmitted")
        if job.journaled_at is not None and time.time() - job.journaled_at < lag:
            job.missing = True
            return  # too young for the listing's word: read again (until the deadline)
        raise JobNotFoundError(job.id, f"neither reading it (HTTP 404) nor the job listing (read back to when it was "
                                       f"journaled) knows a job named {job.name}: deleted or expired")

    @staticmethod
    def _missing(job) -> str:
        return (" (reading it answered HTTP 404, yet the listing shows it, or is too young to tell: the service "
                "catching up; not resubmitted, resume to wait for it)") if job.missing else ""

    def _read(self, call, job, deadline):
        """A read of ``job`` with retries; None after a 404 that ``_unseen`` says is the service catching up."""
        try:
            out = self._with_retries(call, deadline)
        except JobNotFoundError:
            self._unseen(job, deadline)
            return None
        if time.perf_counter() < deadline:  # (past it, status() answers from memory: no news)
            job.missing = False
        return out

    def _wait(self, job, deadline):
        submitted, status = time.perf_counter(), "submitted"
        while True:
            try:
                status = self._read(lambda: self.backend.status(job), job, deadline) or status
            except BatchTimeoutError as e:  # a status read in flight at the deadline was cut off by it
                raise BatchTimeoutError(f"job {job.id} still {status!r} after the {self.timeout_s:g} s deadline "
                                        f"(the last status read was cut off by it: {e}){self._missing(job)}") from None
            results = self._read(lambda: self.backend.results(job), job, deadline) if status == FINAL_OK else None
            if results is not None:
                if len(results) != job.n_circuits:
                    raise RuntimeError(f"job {job.id}: {job.n_circuits} circuits sent, {len(results)} results received")
                return results
            if status in FINAL_BAD:
                raise JobFailedError(job.id, status, getattr(self.backend, "failure_message", lambda j: "")(job))
            now = time.perf_counter()
            if now >= deadline:
                raise BatchTimeoutError(f"job {job.id} still {status!r} after the {self.timeout_s:g} s deadline"
                                        f"{self._missing(job)}")
            # poll often at first, then back off to poll_s: a short job is not overshot by a whole
            # poll interval (<= 5 % of its age), a long one is not hammered
            time.sleep(min(self.poll_s, max(0.001, 0.05 * (now - submitted)), max(0.0, deadline - now)))

    def _with_retries(self, call, deadline, submit=False):
        for attempt in range(self.max_retries + 1):
            try:
                return call()
            except TransientError as e:
                if submit and not isinstance(e, RejectedSubmission):
                    raise SubmissionUncertainError(f"submission may have created a job; not resubmitted: {e}") from e
                delay = max(self.backoff_s * 2 ** attempt, e.retry_after or 0.0)
                left = deadline - time.perf_counter()
                if attempt < self.max_retries and e.retry_after is not None and e.retry_after > left:
                    raise type(e)(f"{e}: the service asks to wait {e.retry_after:.3g} s, past the deadline "
                                  f"({max(left, 0.0):.3g} s left); not retried", e.retry_after) from None
                if attempt == self.max_retries or delay > left:
                    raise
                self._call.retries += 1
                time.sleep(delay)
        raise AssertionError("unreachable")
