"""Run a batch: a local process pool or a Dask cluster, one aggregated report.

:func:`run_batch` validates every job in worker processes, each worker
writing its capture's JSON, HTML and JUnit reports into
``<output_dir>/<run_name>/captures/`` and returning a small dict (never
arrays). The client keeps the outcomes, a ``state.json`` for ``--resume``
and, at the end (also after Ctrl-C), writes ``summary.json``, ``index.html``
and ``junit.xml`` beside them.

Backends:

- **process pool** (default): :class:`concurrent.futures.ProcessPoolExecutor`
  on a ``forkserver`` context (``spawn`` where there is none) that preloads the
  pipeline, ``workers`` processes, at most one job in flight per worker.
- **Dask** (``scheduler="local"`` for a ``LocalCluster`` of ``workers``
  single-threaded processes, ``"tcp://host:8786"`` for a running cluster, or a
  ``distributed.Client``): the same job function on the cluster's workers.
  Needs the ``dask`` extra.

Robustness: a bad capture is an error entry and the rest go on; a worker
process that dies (a signal, out of memory) breaks the pool: the jobs it held
are retried once, each alone so a crash is pinned on the job that caused it,
then recorded as ``WorkerCrash`` errors. Ctrl-C stops the workers, keeps every
report already written, writes the aggregated reports of what was done and
raises :class:`BatchInterrupted`.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import re
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from validator.batch.manifest import Job
from validator.batch.render import render_batch_junit, render_index
from validator.batch.result import BatchResult, CaptureOutcome, ProgressInfo
from validator.batch.state import FileHasher, job_key, load_state, new_state, write_state
from validator.batch.summary import summarize
from validator.batch.worker import CAPTURES_DIR, init_worker, make_payload, run_job
from validator.defaults import (
    DEFAULT_MAX_DELAY_S,
    DEFAULT_MAX_ZOOMS,
    DEFAULT_OUTPUT_DIR,
    THREADS_ENV,
)
from validator.errors import BatchError, MissingDependencyError
from validator.io.atomic import write_text_atomic

__all__ = ["MAX_ATTEMPTS",
           "SHIP_CHOICES", "SHIP_MAX_BYTES", "BatchInterrupted", "run_batch"]

#: Times a job is handed to a worker at most: once, and once more after a worker crash.
MAX_ATTEMPTS = 2
#: Inputs smaller than this are shipped to Dask workers as bytes (when shipping), bytes.
SHIP_MAX_BYTES = 20 * 1024 * 1024
#: ``ship_inputs`` values: ``auto`` ships to a remote scheduler only.
SHIP_CHOICES = ("auto", "always", "never")
#: ``state.json`` is rewritten at most this often while a run goes on, s.
STATE_INTERVAL_S = 1.0
#: What to install for the Dask backend.
DASK_EXTRA = "pip install 'audio-stream-validator[dask]'"
#: Run names: no path separators, nothing hidden.
_RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
#: One thread each in a worker: the workers run captures side by side already (BLAS, and
#: the blocks of a long capture, :data:`validator.defaults.THREADS_ENV`).
_BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", THREADS_ENV)
#: Environment of the worker processes of a LocalCluster started here.
_WORKER_ENV = {var: 1 for var in _BLAS_THREADS}

Task = Callable[[dict[str, Any]], dict[str, Any]]
ProgressCallback = Callable[[ProgressInfo], None]


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a batch; ``result`` is the run as far as it went (reports written)."""

    def __init__(self, result: BatchResult) -> None:
        super().__init__(f"batch {result.run_name} interrupted")
        self.result = result


def run_batch(jobs: Sequence[Job], *, output_dir: str | os.PathLike[str] = DEFAULT_OUTPUT_DIR,
              run_name: str | None = None, workers: int | None = None,
              scheduler: Any = None, ship_inputs: str = "auto", resume: bool = False,
              max_delay_s: float = DEFAULT_MAX_DELAY_S, max_zooms: int = DEFAULT_MAX_ZOOMS,
              html: bool = True, progress: ProgressCallback | None = None,
              task: Task | None = None,
              quality: str | Sequence[str] | None = None,
              payload_types: Mapping[int, str] | None = None,
              port: int | None = None) -> BatchResult:
    """Validate many captures in parallel and write one aggregated report.

    Parameters
    ----------
    jobs : sequence of Job
        From :func:`validator.batch.load_manifest` or
        :func:`validator.batch.jobs_from_patterns`.
    output_dir : str or Path
        Parent of the run folder.
    run_name : str, optional
        Name of the run folder (default: the local time, ``YYYYmmdd-HHMMSS``;
        with ``resume``, the newest run in ``output_dir`` that has a state).
    workers : int, optional
        Worker processes of the process pool or of a Dask ``LocalCluster``
        (default ``os.cpu_count()``). Ignored for a running cluster.
    scheduler : str or distributed.Client, optional
        None: the local process pool. ``"local"``: a Dask ``LocalCluster``
        (``workers`` processes, one thread each). An address such as
        ``"tcp://host:8786"``: that Dask cluster. A ``distributed.Client``:
        its cluster (left open).
    ship_inputs : {"auto", "always", "never"}
        Dask only: send input files smaller than 20 MB to the workers as bytes
        (``always``), never (``never``: workers read the paths, shared
        storage), or only to a remote scheduler (``auto``).
    resume : bool
        Skip jobs whose received and reference contents (SHA-256), profile
        contents, SSRC, options and tool version are unchanged since their
        report was written in this run folder.
    max_delay_s : float
        Largest delay searched, s.
    max_zooms : int
        Events with a zoomed plot in each HTML report.
    html : bool
        Write each capture's HTML report (``index.html`` is always written).
    progress : callable, optional
        Called with a :class:`ProgressInfo` at the start and after each capture.
    task : callable, optional
        The function a worker runs on a job's payload (default
        :func:`validator.batch.worker.run_job`); it must be importable by the
        workers. For instrumentation and tests.
    quality : str or sequence of str, optional
        Quality metrics for every capture (``"visqol,pesq"``); None: each
        capture's profile decides. The summary then adds the MOS
        distribution per tag and the lowest scores.
    payload_types : mapping, optional
        For captures (pcap/pcapng): ``{97: "L24/48000/2"}``, the meaning of dynamic
        payload types that no SDP in a capture describes (``validate(payload_types=)``).
    port : int, optional
        For captures: the UDP port that carries the RTP (``validate(port=)``).

    Returns
    -------
    BatchResult
        Its ``exit_code`` is 0 when every capture passed, 1 when one failed,
        2 when one could not be validated.

    Raises
    ------
    BatchError
        No job, a bad ``workers``, ``ship_inputs`` or run name, nothing to
        resume, an unreachable scheduler, or an unreadable state file.
    MissingDependencyError
        A Dask backend without the ``dask`` extra installed.
    BatchInterrupted
        Ctrl-C (a ``KeyboardInterrupt``): the reports of the captures done
        and the aggregated reports are written first; ``.result`` holds them.
    OSError
        The output folder cannot be written.
    """
    jobs = list(jobs)
    if not jobs:
        raise BatchError("no capture to validate: the batch is empty")
    if len({j.name for j in jobs}) != len(jobs):
        raise BatchError("job names must be unique within a batch")
    n_workers = (os.cpu_count() or 1) if workers is None else workers
    if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
        raise BatchError(f"workers must be a whole number >= 1, got {workers!r}")
    if ship_inputs not in SHIP_CHOICES:
        raise BatchError(f"ship_inputs must be one of {SHIP_CHOICES!r}, got {ship_inputs!r}")
    if scheduler is not None:
        _import_distributed()  # fail before anything is written
    run_dir, name = _run_folder(Path(output_dir), run_name, resume)
    (run_dir / CAPTURES_DIR).mkdir(parents=True, exist_ok=True)
    # One BLAS thread per worker (as Dask's nanny does): workers are the parallelism.
    for var in _BLAS_THREADS:
        os.environ.setdefault(var, "1")

    options: dict[str, Any] = {"max_delay_s": float(max_delay_s), "max_zooms": int(max_zooms),
                               "html": bool(html)}
    if quality is not None:  # only when given, so earlier runs' resume keys stay valid
        from validator.quality import requested_metrics

        options["quality"] = list(requested_metrics(quality))
    if payload_types:  # (also only when given)
        options["payload_types"] = {str(int(pt)): str(fmt)
                                    for pt, fmt in sorted(payload_types.items())}
    if port is not None:
        options["port"] = int(port)
    run = _Run(jobs, run_dir, name, load_state(run_dir) if resume else new_state(name),
               options, progress)
    to_run = run.prepare(resume)
    backend, slots = "process pool", min(n_workers, max(len(to_run), 1))
    interrupted = False
    try:
        if to_run:
            if scheduler is None:
                _run_pool(run, to_run, slots, task or run_job)
            else:
                backend, slots = _run_dask(run, to_run, scheduler, slots, ship_inputs,
                                           task or run_job)
        elif scheduler is not None:
            backend = _dask_label(scheduler)
    except KeyboardInterrupt:
        interrupted = True
    result = run.finish(backend, slots, interrupted)
    if interrupted:
        raise BatchInterrupted(result)
    return result


# --------------------------------------------------------------------------- the run


class _Run:
    """The client's bookkeeping of one run: outcomes, state, progress, final reports."""

    def __init__(self, jobs: list[Job], run_dir: Path, name: str, state: dict[str, Any],
                 options: dict[str, Any], progress: ProgressCallback | None) -> None:
        self.jobs = jobs
        self.run_dir = run_dir
        self.name = name
        self.state = state
        self.state["run_name"] = name
        self.options = options
        self.progress = progress
        self.generated_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.t0 = time.monotonic()
        self.outcomes: dict[str, CaptureOutcome] = {}
        self.keys: dict[str, dict[str, Any] | None] = {}
        self.ran = 0
        self.last_flush = 0.0

    def payload(self, job: Job, shipped: dict[str, Any] | None = None) -> dict[str, Any]:
        return make_payload(job, run_dir=self.run_dir, generated_at=self.generated_at,
                            max_delay_s=self.options["max_delay_s"],
                            max_zooms=self.options["max_zooms"], html=self.options["html"],
                            shipped=shipped, quality=self.options.get("quality"),
                            payload_types=self.options.get("payload_types"),
                            port=self.options.get("port"))

    def prepare(self, resume: bool) -> list[Job]:
        """Hash the inputs, take what ``resume`` allows from the state; the jobs left to run."""
        hasher = FileHasher()
        to_run = []
        for job in self.jobs:
            key = self.keys[job.name] = job_key(job, hasher, self.options)
            if job.error:
                self.add(CaptureOutcome(job, "error", error=job.error, error_type="BatchError"))
                continue
            previous = self._resumable(job, key) if resume else None
            if previous is not None:
                self.add(previous)
            else:
                to_run.append(job)
        self._notify()
        return to_run

    def _resumable(self, job: Job, key: dict[str, Any] | None) -> CaptureOutcome | None:
        entry = self.state["jobs"].get(job.name)
        if key is None or not isinstance(entry, dict) or entry.get("key") != key:
            return None
        reports = entry.get("reports") or {}
        if not reports.get("json") or not all((self.run_dir / p).is_file()
                                              for p in reports.values()):
            return None
        try:
            doc = json.loads((self.run_dir / reports["json"]).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        doc.pop("traces", None)
        return CaptureOutcome(job, str(doc.get("verdict")), document=doc,
                              reports=tuple(reports.items()), resumed=True,
                              worker=entry.get("worker"), peak_rss_mb=entry.get("peak_rss_mb"),
                              wall_s=float(entry.get("wall_s") or 0.0),
                              junit=self._read_report(reports.get("xml")))

    def _read_report(self, rel: str | None) -> str | None:
        """The text of a report of the run folder (None if absent or unreadable)."""
        if not rel:
            return None
        try:
            return (self.run_dir / rel).read_text(encoding="utf-8")
        except (OSError, ValueError):
            return None

    def record(self, job: Job, raw: dict[str, Any], attempts: int) -> None:
        """A worker's outcome dict: write the reports it handed back, keep the outcome."""
        for kind, text in (raw.get("texts") or {}).items():
            write_text_atomic(self.run_dir / raw["reports"][kind], text)
        self.ran += 1
        self.add(CaptureOutcome(
            job, raw["status"], document=raw.get("document"),
            reports=tuple((raw.get("reports") or {}).items()), error=raw.get("error"),
            error_type=raw.get("error_type"), traceback=raw.get("traceback"), attempts=attempts,
            worker=raw.get("worker"), peak_rss_mb=raw.get("peak_rss_mb"),
            wall_s=float(raw.get("wall_s") or 0.0), notes=tuple(raw.get("notes") or ()),
            junit=raw.get("junit")))

    def record_error(self, job: Job, message: str, error_type: str, attempts: int) -> None:
        """A job that no worker could finish."""
        self.ran += 1
        self.add(CaptureOutcome(job, "error", error=message, error_type=error_type,
                                attempts=attempts))

    def add(self, outcome: CaptureOutcome) -> None:
        name = outcome.job.name
        self.outcomes[name] = outcome
        key = self.keys.get(name)
        if outcome.status in ("pass", "fail") and key is not None and not outcome.resumed:
            self.state["jobs"][name] = {
                "key": key, "status": outcome.status, "reports": outcome.report_dict,
                "received": outcome.job.received, "worker": outcome.worker,
                "peak_rss_mb": outcome.peak_rss_mb, "wall_s": outcome.wall_s}
        elif not outcome.resumed:
            self.state["jobs"].pop(name, None)
        if time.monotonic() - self.last_flush >= STATE_INTERVAL_S:
            self.flush()
        self._notify()

    def flush(self) -> None:
        write_state(self.run_dir, self.state)
        self.last_flush = time.monotonic()

    def _notify(self) -> None:
        if self.progress is None:
            return
        done = list(self.outcomes.values())
        elapsed = time.monotonic() - self.t0
        resumed = sum(1 for o in done if o.resumed)
        left = len(self.jobs) - len(done)
        eta = elapsed / self.ran * left if self.ran else (0.0 if not left else None)
        self.progress(ProgressInfo(
            done=len(done), total=len(self.jobs),
            passed=sum(1 for o in done if o.status == "pass"),
            failed=sum(1 for o in done if o.status == "fail"),
            errored=sum(1 for o in done if o.status == "error"),
            resumed=resumed, elapsed_s=elapsed, eta_s=eta))

    def finish(self, backend: str, workers: int, interrupted: bool) -> BatchResult:
        """Fill in the jobs not run, write state, summary.json, index.html and junit.xml."""
        wall_s = time.monotonic() - self.t0
        outcomes = tuple(self.outcomes.get(j.name) or CaptureOutcome(j, "not_run")
                         for j in self.jobs)
        self.flush()
        summary = summarize(outcomes, run_name=self.name, run_dir=str(self.run_dir),
                            backend=backend, workers=workers, wall_s=wall_s,
                            generated_at=self.generated_at, interrupted=interrupted)
        paths = (
            write_text_atomic(self.run_dir / "summary.json",
                              json.dumps(summary, indent=2, allow_nan=False) + "\n"),
            write_text_atomic(self.run_dir / "index.html", render_index(summary)),
            write_text_atomic(self.run_dir / "junit.xml",
                              render_batch_junit(outcomes, name=f"audio-stream-validator "
                                                                f"batch {self.name}")),
        )
        return BatchResult(self.name, self.run_dir, outcomes, summary, interrupted, paths)


def _run_folder(output_dir: Path, run_name: str | None, resume: bool) -> tuple[Path, str]:
    """The run folder (absolute) and its name."""
    out = output_dir.resolve()
    if run_name is not None:
        if not _RUN_NAME.match(run_name):
            raise BatchError(f"run name {run_name!r}: expected letters, digits, '.', '_' or "
                             "'-' (a folder name, not a path)")
        return out / run_name, run_name
    if resume:
        runs = sorted((p.parent for p in out.glob("*/state.json")),
                      key=lambda p: ((p / "state.json").stat().st_mtime, p.name))
        if not runs:
            raise BatchError(f"--resume: no earlier run (a folder with a state.json) in "
                             f"{output_dir}/; give --run-name")
        return runs[-1], runs[-1].name
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    name, n = stamp, 1
    while (out / name).exists():
        n += 1
        name = f"{stamp}-{n}"
    return out / name, name


# --------------------------------------------------------------------------- process pool


def _mp_context() -> Any:
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["validator.batch.worker"])
        return ctx
    return multiprocessing.get_context("spawn")


def _run_pool(run: _Run, to_run: list[Job], workers: int, task: Task) -> None:
    """Validate ``to_run`` on a process pool, retrying crashed jobs once, each alone."""
    pool = _Pool(run, to_run, workers, task)
    try:
        while pool.pending or pool.suspects or pool.in_flight:
            pool.submit_next()
            if not pool.in_flight:
                continue
            done, _ = wait(pool.in_flight, return_when=FIRST_COMPLETED)
            for fut in done:
                pool.collect(fut)
    except KeyboardInterrupt:
        _stop_pool(pool.executor)
        raise
    pool.executor.shutdown(wait=True)


class _Pool:
    """A process pool's jobs: pending, in flight, and suspects of a crash (run alone next).

    A worker that dies breaks the whole ``ProcessPoolExecutor``: every job in
    flight fails with ``BrokenProcessPool``. Those jobs become suspects and
    run again one at a time on a new pool, so that a second crash is the
    job's own (recorded as a ``WorkerCrash`` after :data:`MAX_ATTEMPTS`).
    """

    def __init__(self, run: _Run, to_run: list[Job], workers: int, task: Task) -> None:
        self.run = run
        self.workers = workers
        self.task = task
        self.ctx = _mp_context()
        self.pending = deque(to_run)
        self.suspects: deque[Job] = deque()
        self.attempts: Counter[str] = Counter()
        self.in_flight: dict[Future[dict[str, Any]], Job] = {}
        self.executor = self._new_pool()
        self.broken = False

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=self.ctx,
                                   initializer=init_worker)

    def _submit(self, job: Job) -> bool:
        try:
            fut = self.executor.submit(self.task, self.run.payload(job))
        except BrokenProcessPool:
            self.broken = True
            return False
        self.attempts[job.name] += 1
        self.in_flight[fut] = job
        return True

    def submit_next(self) -> None:
        """Submit what may run now.

        A broken pool is replaced once idle; then a suspect runs alone, or
        pending jobs fill the pool up to the worker count.
        """
        if self.broken and not self.in_flight:
            self.executor.shutdown(wait=True)
            self.executor, self.broken = self._new_pool(), False
        if not self.broken and self.suspects:
            # after a crash, each job that was in flight runs alone: a second crash
            # is then its own
            if not self.in_flight:
                job = self.suspects.popleft()
                if not self._submit(job):
                    self.suspects.appendleft(job)
        elif not self.broken:
            while self.pending and len(self.in_flight) < self.workers:
                job = self.pending.popleft()
                if not self._submit(job):
                    self.pending.appendleft(job)
                    break

    def collect(self, fut: Future[dict[str, Any]]) -> None:
        """Record a finished job: its outcome, a crash (suspect or error) or a failure."""
        job = self.in_flight.pop(fut)
        n = self.attempts[job.name]
        try:
            raw = fut.result()
        except BrokenProcessPool as exc:
            self.broken = True
            if n >= MAX_ATTEMPTS:
                self.run.record_error(job, _crash_message(job, exc), "WorkerCrash", n)
            else:
                self.suspects.append(job)
        except Exception as exc:  # the payload or the outcome could not be pickled
            self.run.record_error(job, f"{job.received}: could not run in a worker "
                                       f"({type(exc).__name__}: {exc})", type(exc).__name__, n)
        else:
            self.run.record(job, raw, n)


def _crash_message(job: Job, exc: BaseException) -> str:
    return (f"{job.received}: the worker process died while validating it, twice (retried "
            f"once alone): {exc}")


def _stop_pool(executor: ProcessPoolExecutor) -> None:
    """Cancel what is queued and stop the workers now.

    Their half-done jobs wrote nothing: reports are written atomically.
    """
    executor.shutdown(wait=False, cancel_futures=True)
    terminate = getattr(executor, "terminate_workers", None)
    if callable(terminate):  # Python >= 3.14
        terminate()
        return
    procs = list((getattr(executor, "_processes", None) or {}).values())
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(timeout=5)


# --------------------------------------------------------------------------- dask


def _dask_label(scheduler: Any) -> str:
    if scheduler == "local":
        return "dask LocalCluster"
    if isinstance(scheduler, str):
        return f"dask {scheduler}"
    return "dask client"


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise MissingDependencyError(
            f"the Dask backend (--dask, --scheduler) needs dask.distributed: {DASK_EXTRA}"
        ) from exc
    return distributed


def _run_dask(run: _Run, to_run: list[Job], scheduler: Any, workers: int, ship_inputs: str,
              task: Task) -> tuple[str, int]:
    """Validate ``to_run`` on a Dask cluster; returns (backend label, worker threads)."""
    distributed = _import_distributed()
    import dask

    cluster = client = None
    try:
        if scheduler == "local":
            # A task on a worker that dies is retried once, then fails with KilledWorker.
            # The workers get one BLAS thread each, like the pool's, and glibc's own malloc
            # trimming: Dask's default MALLOC_TRIM_THRESHOLD_=65536 makes every large numpy
            # allocation fault its pages in again (measured: validation 30 % slower).
            with dask.config.set({"distributed.scheduler.allowed-failures": MAX_ATTEMPTS - 1,
                                  "distributed.nanny.pre-spawn-environ": _WORKER_ENV}):
                try:
                    cluster = distributed.LocalCluster(
                        n_workers=workers, threads_per_worker=1, processes=True,
                        dashboard_address=None, silence_logs=logging.ERROR)
                except Exception as exc:  # workers that cannot start (a broken environment)
                    raise BatchError(f"cannot start a Dask LocalCluster of {workers} "
                                     f"worker(s): {exc}") from exc
                client = distributed.Client(cluster)
        elif isinstance(scheduler, str):
            try:
                client = distributed.Client(scheduler, timeout="15s")
            except (OSError, TimeoutError) as exc:
                raise BatchError(f"cannot reach the Dask scheduler {scheduler!r}: {exc}") \
                    from exc
        the_client = client or scheduler
        remote = isinstance(scheduler, str) and scheduler != "local"
        ship = ship_inputs == "always" or (ship_inputs == "auto" and remote)
        slots = sum(the_client.nthreads().values()) or workers
        _dask_loop(run, to_run, the_client, distributed, ship, slots, task)
        return _dask_label(scheduler), slots
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()


def _dask_loop(run: _Run, to_run: list[Job], client: Any, distributed: Any, ship: bool,
               slots: int, task: Task) -> None:
    token = uuid.uuid4().hex[:8]
    pending = deque(to_run)
    futures: dict[Any, Job] = {}
    shipper = _Shipper(client) if ship else None
    queue = distributed.as_completed()

    def submit(job: Job) -> None:
        fut = client.submit(task, run.payload(job, shipper(job) if shipper else {}), pure=False,
                            key=f"audio-validator-{token}-{job.name}")
        futures[fut] = job
        queue.add(fut)

    try:
        for _ in range(min(len(pending), 2 * slots)):
            submit(pending.popleft())
        for fut in queue:
            _record_dask(run, futures.pop(fut), fut, distributed)
            if pending:
                submit(pending.popleft())
    except KeyboardInterrupt:
        client.cancel(list(futures))
        raise


class _Shipper:
    """The inputs shipped with a Dask job: small files as bytes, shared ones scattered once."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.scattered: dict[str, Any] = {}

    def __call__(self, job: Job) -> dict[str, Any]:
        """``{role: bytes or scattered future}`` for the received file, reference and profile."""
        out: dict[str, Any] = {}
        data = _small_file(job.received)
        if data is not None:
            out["received"] = data
        for role, path in (("reference", job.reference), ("profile", job.profile)):
            if path and os.path.isfile(path):
                if path not in self.scattered:
                    blob = _small_file(path)
                    self.scattered[path] = None if blob is None else \
                        self.client.scatter(blob, hash=False)
                if self.scattered[path] is not None:
                    out[role] = self.scattered[path]
        return out


def _record_dask(run: _Run, job: Job, fut: Any, distributed: Any) -> None:
    """Record a finished Dask task: its outcome, a worker that died twice, or a failure."""
    try:
        raw = fut.result()
    except distributed.KilledWorker as exc:
        run.record_error(job, f"{job.received}: the Dask worker died while validating "
                              f"it, twice: {exc}", "WorkerCrash", MAX_ATTEMPTS)
    except Exception as exc:  # lost connection, cancelled, unpicklable
        run.record_error(job, f"{job.received}: the Dask task failed "
                              f"({type(exc).__name__}: {exc})", type(exc).__name__, 1)
    else:
        run.record(job, raw, 1)


def _small_file(path: str) -> bytes | None:
    """The file's bytes when it is shorter than :data:`SHIP_MAX_BYTES`; else None."""
    try:
        if os.path.getsize(path) >= SHIP_MAX_BYTES:
            return None
        with open(path, "rb") as fh:
            return fh.read()
    except OSError:
        return None

