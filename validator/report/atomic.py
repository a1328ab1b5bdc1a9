"""Atomic file writes: a report is either the old file or the new one, never half."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file and a rename.

    Parameters
    ----------
    path : str or Path
        Destination; its folder is created if needed.
    text : str
        UTF-8 content.

    Returns
    -------
    Path
        The destination path.

    Raises
    ------
    OSError
        If the folder cannot be created or written.
    """
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        # mkstemp makes the file private (0600); a report gets the mode of the file it
        # replaces, or what the umask gives a new file (0644 usually), like any other write
        os.chmod(tmp, _mode_for(dest))
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest


def _mode_for(dest: Path) -> int:
    """Permission bits for ``dest``: those of the file it replaces, else 0666 less the umask."""
    try:
        return stat.S_IMODE(dest.stat().st_mode)
    except FileNotFoundError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask
