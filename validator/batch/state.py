"""``state.json``: what a run has validated, so ``--resume`` can skip it.

For every capture that was validated (pass or fail) the state keeps a *key*:
the SHA-256 of the received file's contents, of the reference file's (or the
tone spec), of the profile file's (or ``"default"``), the SSRC, the tool
version and the run options that change a report. ``--resume`` skips a job
whose key is unchanged and whose JSON report is still there. Only contents
count: touching a file (a new mtime, same bytes) does not re-validate it.
Errors are not kept: a job that could not be validated is tried again.

The file is small (one entry per capture) and written atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from validator import __version__
from validator.batch.manifest import Job
from validator.errors import BatchError
from validator.io.atomic import write_text_atomic
from validator.io.audio import parse_tone_spec

__all__ = ["STATE_FILE", "STATE_SCHEMA_VERSION", "FileHasher", "job_key", "load_state",
           "write_state"]

STATE_FILE = "state.json"
STATE_SCHEMA_VERSION = 1
#: Bytes read at a time while hashing.
_CHUNK = 1 << 20


class FileHasher:
    """SHA-256 of file contents, cached by (path, size, mtime) within one run."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[int, int, str]] = {}

    def __call__(self, path: str) -> str | None:
        """Hex SHA-256 of the file's contents, or None when it cannot be read."""
        try:
            st = os.stat(path)
            hit = self._cache.get(path)
            if hit and hit[:2] == (st.st_size, st.st_mtime_ns):
                return hit[2]
            h = hashlib.sha256()
            with open(path, "rb") as fh:
                while block := fh.read(_CHUNK):
                    h.update(block)
        except OSError:
            return None
        digest = h.hexdigest()
        self._cache[path] = (st.st_size, st.st_mtime_ns, digest)
        return digest


def job_key(job: Job, hasher: FileHasher, options: dict[str, Any]) -> dict[str, Any] | None:
    """What must be unchanged for a job's report to stay valid; None if an input is unreadable.

    Parameters
    ----------
    job : Job
    hasher : FileHasher
    options : dict
        Run options that change a report (plain JSON values).

    Returns
    -------
    dict or None
    """
    if job.error:
        return None
    received = hasher(job.received)
    if received is None:
        return None
    if parse_tone_spec(job.reference) is not None:
        reference: str | None = f"spec:{job.reference}"
    else:
        reference = hasher(job.reference)
    profile = hasher(job.profile) if job.profile else "default"
    if reference is None or profile is None:
        return None
    return {"received_sha256": received, "reference_sha256": reference,
            "profile_sha256": profile, "ssrc": job.ssrc, "tool_version": __version__,
            "options": dict(options)}


def load_state(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The state of a run folder (an empty state when it has none).

    Raises
    ------
    BatchError
        The file exists but is not a state file of this schema.
    """
    path = Path(run_dir) / STATE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return new_state(Path(run_dir).name)
    except (OSError, ValueError) as exc:
        raise BatchError(f"{path}: cannot read the run state ({exc}); remove it to start "
                         "the run afresh") from exc
    if not isinstance(data, dict) or data.get("schema_version") != STATE_SCHEMA_VERSION \
            or not isinstance(data.get("jobs"), dict):
        raise BatchError(f"{path}: not a run state of schema version {STATE_SCHEMA_VERSION}; "
                         "remove it to start the run afresh")
    return data


def new_state(run_name: str) -> dict[str, Any]:
    """An empty state."""
    return {"schema_version": STATE_SCHEMA_VERSION,
            "tool": {"name": "audio-stream-validator", "version": __version__},
            "run_name": run_name, "updated_at": None, "jobs": {}}


def write_state(run_dir: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """Write ``state.json`` atomically; returns its path."""
    state = dict(state, updated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    return write_text_atomic(Path(run_dir) / STATE_FILE,
                             json.dumps(state, indent=1, sort_keys=True) + "\n")
