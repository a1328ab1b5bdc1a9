"""Atomic file writes: a file is either the old one or the new one, never half-written.

Every report and every audio file the tool writes goes through here: the data
go to a temporary file in the destination folder, which is flushed, fsync'ed
and renamed over the destination (:func:`os.replace` is atomic on POSIX).
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``.

    Parameters
    ----------
    path : str or Path
        Destination; its folder is created if needed.

    Yields
    ------
    Path
        Where to write. On an exception the temporary file is removed and the
        destination is left as it was.

    Raises
    ------
    OSError
        If the folder cannot be created or written.

    Notes
    -----
    The new file gets the mode of the file it replaces, or 0666 less the
    umask for a new file (``mkstemp`` alone would make it private, 0600).
    """
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, _mode_for(dest))
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically (see :func:`atomic_path`).

    Returns
    -------
    Path
        The destination path.

    Raises
    ------
    OSError
        If the folder cannot be created or written.
    """
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="\n")
    return Path(path)


def _mode_for(dest: Path) -> int:
    """Permission bits for ``dest``: those of the file it replaces, else 0666 less the umask."""
    try:
        return stat.S_IMODE(dest.stat().st_mode)
    except FileNotFoundError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask
