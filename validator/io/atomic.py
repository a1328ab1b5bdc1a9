"""Atomic file writes: a file is either the old one or the new one, never half-written.

Every report and every audio file the tool writes goes through here: the data
go to a temporary file in the destination folder, which is flushed, fsync'ed
and renamed over the destination (:func:`os.replace` is atomic on POSIX).
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

from validator.errors import OutputError


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
    OutputError
        If the folder cannot be created or written, a part of the folder path
        is a file, ``path`` is a folder, or writing the data fails with an
        ``OSError``. The message names ``path``, never the temporary file.

    Notes
    -----
    The new file gets the mode of the file it replaces, or 0666 less the
    umask for a new file (``mkstemp`` alone would make it private, 0600).
    """
    dest = Path(path)
    _check_destination(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    except OSError as exc:
        raise _output_error(dest, exc) from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, _mode_for(dest))
        os.replace(tmp, dest)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OutputError):
            raise
        raise _output_error(dest, exc, tmp) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_paths(paths: Sequence[str | os.PathLike[str]]) -> Iterator[list[Path]]:
    """Write a set of files all or none: temporary paths that replace ``paths`` together.

    Parameters
    ----------
    paths : sequence of str or Path
        Destinations (e.g. the JSON, HTML and JUnit reports of one run).

    Yields
    ------
    list of Path
        One temporary path per destination, in order. The destinations are
        replaced only after the body returned and every temporary file was
        created; on an exception (including a folder that cannot be written)
        every temporary file is removed and no destination is touched.

    Raises
    ------
    OutputError
        As :func:`atomic_path`, for the first destination that fails.
    """
    with ExitStack() as stack:
        yield [stack.enter_context(atomic_path(p)) for p in paths]


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically (see :func:`atomic_path`).

    Returns
    -------
    Path
        The destination path.

    Raises
    ------
    OutputError
        If the folder cannot be created or written (the message names ``path``).
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


def _check_destination(dest: Path) -> None:
    """Refuse a destination that is a folder, or whose folder path runs through a file."""
    if dest.is_dir():
        raise OutputError(f"{dest}: is a folder; expected a file path")
    for parent in dest.parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(f"{dest}: cannot write: {parent} is a file, not a folder")
            return


def _output_error(dest: Path, exc: OSError, tmp: Path | None = None) -> OutputError:
    """An :class:`OutputError` naming ``dest`` for ``exc`` (the temporary name replaced)."""
    reason = exc.strerror or str(exc)
    if tmp is not None:
        reason = reason.replace(str(tmp), str(dest))
    name = str(exc.filename or "")
    hidden = Path(name).name.startswith(f".{dest.name}.")  # our temporary file
    if name and not hidden and name != str(dest):
        reason += f": {name}"  # e.g. the folder that could not be created
    return OutputError(f"{dest}: cannot write ({reason})")
