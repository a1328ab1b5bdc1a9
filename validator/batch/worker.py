"""One job in a worker process: validate, write the per-capture reports, return a small dict.

:func:`run_job` is what a process-pool worker or a Dask worker runs. It takes
a plain dict (the *payload*, built by :func:`make_payload`) and returns a
plain dict (the *outcome*): never arrays, only the JSON document of the result
without its traces, the paths of the reports it wrote, and its error if any.
Every exception is caught and becomes an error outcome, so one bad capture
never stops the batch; only a crash of the process itself (a signal, running
out of memory) escapes, and the runner retries that once.

Inputs are paths the worker can read (shared storage), or bytes shipped with
the payload (then written to a temporary folder, named as the original file,
and the original path is put back into the result and any error message).
Reports are written into the run folder when the worker can see it, and
otherwise returned as text for the client to write.

Importing this module imports the pipeline and the report renderers, so a
forkserver that preloads it hands every worker a warm interpreter.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import tempfile
import time
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any

from validator.batch.manifest import Job
from validator.errors import MissingDependencyError, ValidatorError
from validator.io.atomic import write_text_atomic
from validator.pipeline import validate
from validator.report import html as _html
from validator.report.json_report import json_text, to_dict
from validator.report.junit import render_junit
from validator.verdict import default_profile, load_profile

__all__ = ["CAPTURES_DIR", "init_worker", "job_from_dict", "job_to_dict", "make_payload",
           "report_paths", "run_job"]

#: Folder of the per-capture reports inside the run folder.
CAPTURES_DIR = "captures"
#: Report kinds and their file suffixes, in the order they are written.
REPORT_SUFFIXES = (("json", ".json"), ("html", ".html"), ("xml", ".xml"))


def init_worker() -> None:
    """Process-pool initializer: ignore SIGINT (the client handles Ctrl-C and stops the pool)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def job_to_dict(job: Job) -> dict[str, Any]:
    """A :class:`Job` as plain data (tags as a list of pairs)."""
    return {"index": job.index, "name": job.name, "received": job.received,
            "reference": job.reference, "profile": job.profile, "ssrc": job.ssrc,
            "tags": [list(t) for t in job.tags], "error": job.error}


def job_from_dict(d: dict[str, Any]) -> Job:
    """The inverse of :func:`job_to_dict`."""
    return Job(index=int(d["index"]), name=str(d["name"]), received=str(d["received"]),
               reference=str(d["reference"]), profile=d.get("profile"), ssrc=d.get("ssrc"),
               tags=tuple((str(k), str(v)) for k, v in d.get("tags", ())),
               error=d.get("error"))


def report_paths(name: str, *, html: bool = True) -> dict[str, str]:
    """Per-capture report paths relative to the run folder, by kind (json, html, xml)."""
    return {kind: f"{CAPTURES_DIR}/{name}{suffix}" for kind, suffix in REPORT_SUFFIXES
            if html or kind != "html"}


def make_payload(job: Job, *, run_dir: str | os.PathLike[str], generated_at: str,
                 max_delay_s: float, max_zooms: int, html: bool,
                 shipped: dict[str, Any] | None = None,
                 quality: tuple[str, ...] | None = None,
                 payload_types: dict[str, str] | None = None,
                 port: int | None = None) -> dict[str, Any]:
    """The payload :func:`run_job` takes.

    Parameters
    ----------
    job : Job
    run_dir : str or Path
        The run folder (absolute); reports go to ``run_dir/captures/``.
    generated_at : str
        Timestamp recorded in every report of the run (UTC, ISO 8601).
    max_delay_s : float
        Largest delay searched, s.
    max_zooms : int
        Events with a zoomed plot in the HTML report.
    html : bool
        Write the HTML report.
    shipped : dict, optional
        ``{"received": bytes, "reference": bytes, "profile": bytes}`` (any
        subset): file contents sent with the job instead of read by path.
    quality : tuple of str, optional
        Quality metrics to compute (``validate(quality=)``); None: each
        capture's profile decides.
    payload_types : dict, optional
        ``{"97": "L24/48000/2"}`` (JSON keys) for captures without SDP
        (``validate(payload_types=)``).
    port : int, optional
        The UDP port of a capture's RTP (``validate(port=)``).

    Returns
    -------
    dict
    """
    return {"job": job_to_dict(job), "run_dir": str(run_dir), "generated_at": generated_at,
            "max_delay_s": float(max_delay_s), "max_zooms": int(max_zooms), "html": bool(html),
            "shipped": dict(shipped or {}),
            "quality": None if quality is None else list(quality),
            "payload_types": dict(payload_types or {}), "port": port}


def run_job(payload: dict[str, Any]) -> dict[str, Any]:
    """Validate one capture and write its reports; never raises for a bad input.

    Parameters
    ----------
    payload : dict
        From :func:`make_payload`.

    Returns
    -------
    dict
        ``name``; ``status`` (``"pass"``, ``"fail"`` or ``"error"``);
        ``document`` (the JSON report as :func:`validator.report.to_dict`
        gives it, without ``traces``; None on error); ``reports`` (kind ->
        path relative to the run folder, of the reports written); ``texts``
        (kind -> report text, when the run folder was not visible here and
        the client must write them); ``error`` (the one-line message) and
        ``error_type`` (the exception's class name); ``traceback`` (for an
        unexpected exception only); ``notes``; ``worker`` (``host:pid``);
        ``peak_rss_mb`` (the worker process's peak resident memory so far,
        MiB; None where unknown); ``wall_s`` (s spent on this job);
        ``junit`` (the capture's JUnit XML document, for the run's
        ``junit.xml``; None on error).
    """
    t0 = time.perf_counter()
    job = payload["job"]
    out: dict[str, Any] = {
        "name": job["name"], "status": "error", "document": None, "reports": {}, "texts": {},
        "error": None, "error_type": None, "traceback": None, "notes": [], "junit": None,
        "worker": f"{socket.gethostname()}:{os.getpid()}", "peak_rss_mb": None, "wall_s": 0.0}
    renames: dict[str, str] = {}
    try:
        with _scratch(bool(payload["shipped"])) as tmp:
            received = _materialise(payload, "received", job["received"], tmp, renames)
            reference = job["reference"]
            if "reference" in payload["shipped"]:
                reference = _materialise(payload, "reference", reference, tmp, renames)
            profile_path = job.get("profile")
            if profile_path and "profile" in payload["shipped"]:
                profile_path = _materialise(payload, "profile", profile_path, tmp, renames)
            profile = load_profile(profile_path) if profile_path else default_profile()
            result = validate(received, reference, profile=profile,
                              max_delay_s=payload["max_delay_s"],
                              zoom_events=max(payload["max_zooms"], 0), ssrc=job.get("ssrc"),
                              quality=payload.get("quality"),
                              payload_types={int(pt): fmt for pt, fmt in
                                             payload.get("payload_types", {}).items()} or None,
                              port=payload.get("port"))
            result = replace(result, input=replace(result.input, received=job["received"],
                                                   reference=job["reference"]))
            full = to_dict(result, generated_at=payload["generated_at"])
            texts = _render(result, full, profile.detectors.silence_threshold_dbfs, payload, out)
        out["document"] = {k: v for k, v in full.items() if k != "traces"}
        out["status"] = result.verdict
        out["junit"] = texts["xml"]
        _deliver(texts, payload, out)
    except ValidatorError as exc:
        out.update(error=_unmask(str(exc), renames), error_type=type(exc).__name__)
    except OSError as exc:
        where = _unmask(str(exc.filename), renames) if exc.filename else job["received"]
        out.update(error=f"{where}: {exc.strerror or exc}", error_type=type(exc).__name__)
    except Exception as exc:  # a bug: keep the batch going, keep the traceback
        out.update(error=_unmask(f"internal error: {type(exc).__name__}: {exc}", renames),
                   error_type=type(exc).__name__, traceback=traceback.format_exc())
    out["wall_s"] = round(time.perf_counter() - t0, 3)
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def _scratch(needed: bool) -> contextlib.AbstractContextManager[str]:
    """A temporary folder for shipped inputs, only when there are some."""
    if needed:
        return tempfile.TemporaryDirectory(prefix="audio-validator-job-")
    return contextlib.nullcontext("")


def _materialise(payload: dict[str, Any], role: str, path: str, tmp: str,
                 renames: dict[str, str]) -> str:
    """The path to read ``role`` from: the shipped bytes written to ``tmp``, or ``path``."""
    data = payload["shipped"].get(role)
    if data is None:
        return path
    folder = Path(tmp) / role
    folder.mkdir()
    dest = folder / (Path(path).name or role)
    dest.write_bytes(data)
    renames[str(dest)] = path
    return str(dest)


def _unmask(text: str, renames: dict[str, str]) -> str:
    """Put the original paths back into a message that names a temporary copy."""
    for tmp, original in renames.items():
        text = text.replace(tmp, original)
    return text


def _render(result: Any, document: dict[str, Any], silence_threshold_dbfs: float,
            payload: dict[str, Any], out: dict[str, Any]) -> dict[str, str]:
    """The per-capture report texts, by kind (``document``: the full JSON document)."""
    texts = {"json": json_text(document)}
    if payload["html"]:
        try:
            texts["html"] = _html.render_html(result, max_zooms=max(payload["max_zooms"], 0),
                                              silence_threshold_dbfs=silence_threshold_dbfs,
                                              generated_at=payload["generated_at"])
        except MissingDependencyError as exc:
            out["notes"].append(f"HTML report skipped: {exc}")
    stamp = payload["generated_at"][:19]
    texts["xml"] = render_junit([result], timestamp=stamp)
    return texts


def _deliver(texts: dict[str, str], payload: dict[str, Any], out: dict[str, Any]) -> None:
    """Write the reports into the run folder when it is visible here; else hand them back."""
    rel = report_paths(payload["job"]["name"])
    run_dir = Path(payload["run_dir"])
    if (run_dir / CAPTURES_DIR).is_dir():
        for kind, text in texts.items():
            write_text_atomic(run_dir / rel[kind], text)
            out["reports"][kind] = rel[kind]
    else:
        out["texts"] = texts
        out["reports"] = {kind: rel[kind] for kind in texts}


def peak_rss_mb() -> float | None:
    """Peak resident memory of this process so far, MiB (None where unknown)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(rss / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)
