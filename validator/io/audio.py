"""Audio input: random-access sources that read blocks at the native rate.

Every source gives float64 samples of shape ``(n_frames, n_channels)`` in
[-1, 1), at the file's own sample rate: nothing is resampled on the way in
(unlike ``librosa.load``, whose default is 22.05 kHz). Integer PCM is scaled
by ``2**(bits-1)`` as libsndfile does, so a 16-bit sample of 16384 reads 0.5.

Sources are read in blocks, so memory does not grow with the file's length.
Reads outside ``[0, frames)`` return zeros, which keeps alignment code free of
edge cases.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Hashable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from validator.errors import AudioFormatError, MissingDependencyError, SignalSpecError

#: libsndfile's log line for a data chunk longer than the file ("data : N (should be M)").
_TRUNCATED = re.compile(r"data\s*:\s*(\d+)\s*\(should be (\d+)\)")
#: Extensions decoded through ffmpeg (optional; Debian package ``ffmpeg``).
FFMPEG_EXTENSIONS = {".m4a", ".mp4", ".aac", ".opus", ".wma", ".webm", ".mka"}
#: Largest |sample| accepted, in full-scale units (+60 dBFS). Float audio may go past
#: full scale (1.0) and is analysed as it is; a sample beyond this is not audio but a
#: corrupt file, or integer codes stored as float (16384.0 for half scale).
MAX_ABS_SAMPLE = 1000.0
#: Largest block read from libsndfile at once, samples over all channels (16 MiB of
#: float64): memory follows the data in the file, not what its header promises.
READ_CHUNK_SAMPLES = 1 << 21
#: Integer PCM files of at most this many samples (over all channels: 44 s of 48 kHz mono)
#: are read once, as their integer codes, and every later read is a slice of them (the
#: same values; a short capture's alignment reads a few hundred spans). Longer files are
#: read span by span, so memory does not grow with their length.
CACHE_SAMPLES = 1 << 21


def _check_samples(y: np.ndarray, name: str, first: int = 0,
                   bound: float | None = MAX_ABS_SAMPLE) -> None:
    """Raise AudioFormatError at the first NaN, infinite or absurd sample of ``y`` (2-D).

    ``bound``: the largest |sample| accepted; None accepts any finite value.
    """
    ok = np.isfinite(y) if bound is None else np.abs(y) <= bound  # False for NaN too
    if ok.all():
        return
    row, ch = (int(i) for i in np.argwhere(~ok)[0])
    value = float(y[row, ch])
    where = f"sample {first + row}" + (f" of channel {ch}" if y.shape[1] > 1 else "")
    if not np.isfinite(value):
        raise AudioFormatError(f"{name}: holds NaN or infinite samples (first at {where})")
    raise AudioFormatError(
        f"{name}: {where} is {value:.6g}, beyond +-{MAX_ABS_SAMPLE:g} full scale "
        f"(+{20 * np.log10(MAX_ABS_SAMPLE):.0f} dBFS): not audio in full-scale units "
        "(integer codes written as float?)")


def valid_audio(y: np.ndarray, *, name: str = "audio", allow_1d: bool = True,
                max_abs_sample: float | None = MAX_ABS_SAMPLE) -> np.ndarray:
    """Check that an array is usable audio and return it as 2-D float64.

    Parameters
    ----------
    y : np.ndarray, shape=(n_samples,) or (n_samples, n_channels), floating point
        Samples in full-scale units.
    name : str
        What to call the array in error messages (usually a file name).
    allow_1d : bool
        Take a 1-D array as one channel; when False only 2-D arrays pass
        (fault injection, whose truth names channels).
    max_abs_sample : float or None
        Largest |sample| accepted. None accepts any finite value: fault
        injection and the WAV writer, whose outputs may leave full scale on
        purpose (a +20 dB gain; the writer clips or keeps floats).

    Returns
    -------
    np.ndarray, shape=(n_samples, n_channels), float64

    Raises
    ------
    AudioFormatError
        If ``y`` is not a floating-point ndarray, has more than 2 dimensions
        (or 1 when ``allow_1d`` is False), holds no samples, holds NaN or
        infinite values, or holds a sample with ``|x| > max_abs_sample``
        (by default 1000, i.e. +60 dBFS). The message names ``name`` and the
        first offending sample.

    Notes
    -----
    The single input gate for arrays, after ``librosa.util.valid_audio``; the
    same check guards every block read from a file (:meth:`AudioSource.read`),
    so no numerical code ever sees such a sample. Fault injection
    (:mod:`validator.impair`) and the signal writer
    (:func:`validator.signals.write_wav`, :func:`~validator.signals.quantize`)
    use it too. Samples past full scale up
    to the bound (``1 < |x| <= 1000``, possible in float files) are analysed as
    they are: they count as clipping where they sit at a constant level, and
    they weigh in the level, SNR and THD+N figures like any other sample.
    """
    if not isinstance(y, np.ndarray):
        raise AudioFormatError(f"{name}: expected a numpy array, got {type(y).__name__}")
    if not np.issubdtype(y.dtype, np.floating):
        raise AudioFormatError(f"{name}: expected floating-point samples, got dtype {y.dtype!s}")
    if y.ndim == 1 and allow_1d:
        y = y[:, None]
    if y.ndim != 2:
        raise AudioFormatError(f"{name}: expected shape (n_samples, n_channels), got {y.shape!r}")
    if y.shape[0] == 0 or y.shape[1] == 0:
        raise AudioFormatError(f"{name}: holds no samples (shape {y.shape!r})")
    _check_samples(y, name, bound=max_abs_sample)
    return np.asarray(y, dtype=np.float64)


#: First bytes of the containers libsndfile reads without its MPEG decoder.
_CONTAINER_MAGIC = (b"RIFF", b"RIFX", b"RF64", b"BW64", b"fLaC", b"OggS", b"FORM", b"caff",
                    b".snd", b"wvpk")
_quiet_lock = threading.Lock()
_quiet_depth = 0
_quiet_saved_fd = -1


@contextmanager
def _quiet_stderr(active: bool = True) -> Iterator[None]:
    """Send file descriptor 2 to /dev/null while libsndfile's MPEG decoder works.

    libmpg123 prints notes such as "Illegal Audio-MPEG-Header ... Trying to
    resync" straight to file descriptor 2 when it meets damaged data; the
    damage is reported as an AudioFormatError instead, and the command line
    keeps its one-line messages. Only files that are not in a known container
    (MP3 and unrecognised bytes) are read this way (``active``). Nested and
    concurrent uses share one redirection (a lock and a depth count), so that
    threads cannot leave fd 2 pointing at /dev/null.
    """
    global _quiet_depth, _quiet_saved_fd
    if not active:
        yield
        return
    with _quiet_lock:
        if _quiet_depth == 0:
            try:
                _quiet_saved_fd = os.dup(2)
            except OSError:  # no file descriptor 2 (a detached daemon): nothing to quiet
                _quiet_saved_fd = -1
            if _quiet_saved_fd >= 0:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 2)
                os.close(devnull)
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0 and _quiet_saved_fd >= 0:
                os.dup2(_quiet_saved_fd, 2)
                os.close(_quiet_saved_fd)
                _quiet_saved_fd = -1


def _window_index(offsets: np.ndarray, length: int) -> np.ndarray:
    """Row indices of windows: ``offsets[k] + j`` at ``[k, j]``, shape (n, length), int64.

    Indexing a ``(frames, channels)`` block with it gathers the windows as
    ``(n, length, channels)`` in one step (a sliding-window view costs more
    per call than the gather on these small blocks).
    """
    return offsets[:, None] + np.arange(length, dtype=np.int64)


class AudioSource:
    """A random-access audio source: the interface the pipeline reads through.

    Attributes
    ----------
    name : str
        File path or a description, for messages and reports.
    sample_rate_hz : int
    channels : int
    frames : int
        Length in samples (per channel).
    """

    name: str
    sample_rate_hz: int
    channels: int
    frames: int
    #: Blocks read are checked for NaN, infinite and absurd samples. False where that
    #: cannot happen (integer PCM, checked arrays, computed tones, views of a checked
    #: source): the check is a pass over every sample.
    checks_samples: bool = True
    #: What identifies the samples, for keeping figures derived from them across
    #: validations (the reference's head, :func:`validator.align.delay.reference_head`,
    #: which also compares the samples). None (nothing kept) for arrays and temporary
    #: files; a file gives its path, device, inode, size, modification and change times.
    identity: Hashable | None = None

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return self.frames / self.sample_rate_hz

    def read(self, start: int, frames: int) -> np.ndarray:
        """Read ``frames`` samples from sample ``start``, zero outside the source.

        Parameters
        ----------
        start : int
            First sample (may be negative).
        frames : int
            Number of samples (>= 0).

        Returns
        -------
        np.ndarray, shape=(frames, channels), float64

        Raises
        ------
        AudioFormatError
            If the samples read hold NaN or infinite values, or a sample with
            ``|x| > MAX_ABS_SAMPLE`` (see :func:`valid_audio`).
        """
        lo, hi = max(start, 0), min(start + frames, self.frames)
        block = self._read(lo, hi - lo) if hi > lo else None  # before allocating: a header
        if block is not None and self.checks_samples:         # may promise more than is there
            _check_samples(block, self.name, lo)
        if block is not None and lo == start and block.shape[0] == frames:
            return block
        out = np.zeros((max(frames, 0), self.channels))
        if block is not None:
            out[lo - start: lo - start + block.shape[0]] = block
        return out

    def _read(self, start: int, frames: int) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def read_windows(self, starts: np.ndarray, length: int) -> np.ndarray:
        """Read short windows of ``length`` samples from increasing sample positions.

        The same samples as one :meth:`read` per window (zero outside the
        source). Where the windows cover a small share of their span, a file
        source converts only the windows' samples, so a sparse track (a tone's
        phase every 36 ms on an hour) does not pay for a pass over every sample.

        Parameters
        ----------
        starts : np.ndarray, shape=(n,), int
            First sample of each window, non-decreasing (may be negative).
        length : int
            Window length, samples (>= 1).

        Returns
        -------
        np.ndarray, shape=(n, length, channels), float64

        Raises
        ------
        AudioFormatError
            As :meth:`read`.
        """
        starts = np.asarray(starts, dtype=np.int64)
        if starts.size == 0:
            return np.zeros((0, length, self.channels))
        s0 = int(starts[0])
        span = self.read(s0, int(starts[-1]) + length - s0)
        return span[_window_index(starts - s0, length)]

    def close(self) -> None:
        """Release any file handle."""

    def __enter__(self) -> AudioSource:
        """Use the source in a ``with`` block."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the source at the end of the ``with`` block."""
        self.close()


class ArraySource(AudioSource):
    """An in-memory array as a source.

    Parameters
    ----------
    y : np.ndarray, shape=(n_samples,) or (n_samples, n_channels), floating point
    sample_rate_hz : int
    name : str
    """

    def __init__(self, y: np.ndarray, sample_rate_hz: int, *, name: str = "<array>") -> None:
        self.y = valid_audio(y, name=name)
        if not sample_rate_hz or sample_rate_hz <= 0:
            raise AudioFormatError(f"{name}: sample rate must be > 0 Hz, got {sample_rate_hz!r}")
        self.name = name
        self.sample_rate_hz = int(sample_rate_hz)
        self.channels = self.y.shape[1]
        self.frames = self.y.shape[0]
        self.checks_samples = False  # valid_audio checked every sample

    def _read(self, start: int, frames: int) -> np.ndarray:
        return self.y[start:start + frames].copy()  # callers may write to what they read


class SpanSource(AudioSource):
    """A view of ``frames`` samples of another source from its sample ``start``.

    Sample 0 of the view is sample ``start`` of the source; reads outside the
    view give zeros, as outside any source. Long captures are analysed block
    by block through such views (:mod:`validator.detectors.blocks`).

    Parameters
    ----------
    source : AudioSource
    start : int
        First sample of the view (>= 0).
    frames : int
        Length of the view, samples.
    """

    def __init__(self, source: AudioSource, start: int, frames: int) -> None:
        self.source = source
        self.start = int(start)
        self.name = source.name
        self.identity = None if source.identity is None else (source.identity, "span",
                                                                self.start, int(frames))
        self.sample_rate_hz = source.sample_rate_hz
        self.channels = source.channels
        self.frames = int(frames)
        self.checks_samples = False  # the source checks what it reads

    def _read(self, start: int, frames: int) -> np.ndarray:
        return self.source.read(self.start + start, frames)

    def read_windows(self, starts: np.ndarray, length: int) -> np.ndarray:  # noqa: D102
        starts = np.asarray(starts, dtype=np.int64)
        if starts.size and (starts[0] < 0 or starts[-1] + length > self.frames):
            return super().read_windows(starts, length)  # zero outside the view
        return self.source.read_windows(starts + self.start, length)


class FileSource(AudioSource):
    """An audio file read in blocks through soundfile (libsndfile).

    A short integer PCM file (:data:`CACHE_SAMPLES`) is read once, on the first
    read, and kept as its integer codes.

    Parameters
    ----------
    path : str or Path
        A WAV, FLAC, OGG, MP3 or other libsndfile format.

    Raises
    ------
    AudioFormatError
        If the file is missing, empty, or not audio that libsndfile reads.
    """

    def __init__(self, path: str | os.PathLike[str], *, name: str | None = None) -> None:
        import soundfile as sf

        self.path = Path(path)
        self.name = name or str(path)
        if not self.path.exists():
            raise AudioFormatError(f"{self.name}: no such file")
        if self.path.is_dir():
            raise AudioFormatError(f"{self.name}: is a directory, expected an audio file")
        st = self.path.stat()
        if st.st_size == 0:
            raise AudioFormatError(f"{self.name}: file is empty")
        with open(self.path, "rb") as fh:
            head = fh.read(64)
        # MP3, unknown bytes, or MPEG audio inside a WAV (format tag 0x50 or 0x55)
        k = head.find(b"fmt ")
        self._mpeg_risk = head[:4] not in _CONTAINER_MAGIC or (
            k >= 0 and head[k + 8:k + 10] in (b"\x50\x00", b"\x55\x00"))
        try:
            # absolute: libsndfile reads standard input for a file named "-"
            with _quiet_stderr(self._mpeg_risk):  # libmpg123 prints resync notes
                self._sf = sf.SoundFile(str(self.path.absolute()), mode="r")
        except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
            raise AudioFormatError(f"{self.name}: not a readable audio file ({exc})") from exc
        short = _TRUNCATED.search(str(getattr(self._sf, "extra_info", "")))
        if short and int(short.group(1)) > int(short.group(2)):
            self._sf.close()
            raise AudioFormatError(
                f"{self.name}: truncated: the header promises {short.group(1)} bytes of audio "
                f"but the file holds {short.group(2)}")
        self.sample_rate_hz = int(self._sf.samplerate)
        self.channels = int(self._sf.channels)
        self.frames = int(self._sf.frames)
        self.subtype = str(self._sf.subtype)
        self._mpeg_risk = self._mpeg_risk or "MPEG" in self.subtype
        if self.frames <= 0:
            self._sf.close()
            raise AudioFormatError(f"{self.name}: holds no audio samples")
        self._is_float = self.subtype in ("FLOAT", "DOUBLE")
        self.identity = ("file", str(self.path.resolve()), st.st_dev, st.st_ino, st.st_size,
                         st.st_mtime_ns, st.st_ctime_ns)
        self._lock = threading.Lock()  # one seek-and-read at a time (blocks run in threads)
        # 16-bit codes read as int16 and the others as int32 (left-aligned, as libsndfile
        # gives them), then scaled by a power of two: exactly libsndfile's float values
        self._int_dtype = {"PCM_16": "int16", "PCM_24": "int32", "PCM_32": "int32"}.get(
            self.subtype)
        self._int_scale = 2.0 ** -15 if self.subtype == "PCM_16" else 2.0 ** -31
        self._codes: np.ndarray | None = None  # a short file's integer codes, once read
        self._codes_tried = False
        # integer PCM and G.711 decode to [-1, 1) exactly: nothing to check
        self.checks_samples = not (self.subtype.startswith("PCM_")
                                   or self.subtype in ("ULAW", "ALAW"))

    def _cached_codes(self) -> np.ndarray | None:
        """All integer codes of a short integer PCM file (:data:`CACHE_SAMPLES`), or None.

        Read on the first call. None for other files, and for a file whose data
        cannot be read whole (truncated or damaged): it is read span by span, so
        that each read fails where it did.
        """
        if self._codes_tried:
            return self._codes
        import soundfile as sf

        with self._lock:
            if not self._codes_tried and self._int_dtype is not None \
                    and self.frames * self.channels <= CACHE_SAMPLES:
                try:
                    self._sf.seek(0)
                    codes = self._sf.read(self.frames, dtype=self._int_dtype, always_2d=True)
                    self._codes = codes if codes.shape[0] == self.frames else None
                except (sf.LibsndfileError, RuntimeError):
                    self._codes = None
            self._codes_tried = True
        return self._codes

    def _read(self, start: int, frames: int) -> np.ndarray:
        blocks = self._read_checked(start, frames)
        if self._int_dtype is not None:  # integer codes, scaled out of the lock: the same
            # values as libsndfile's float, 40 % faster
            blocks = [np.multiply(b, self._int_scale, dtype=np.float64) for b in blocks]
        return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)

    def read_windows(self, starts: np.ndarray, length: int) -> np.ndarray:  # noqa: D102
        starts = np.asarray(starts, dtype=np.int64)
        if (self._int_dtype is None or not starts.size or starts[0] < 0
                or starts[-1] + length > self.frames):
            return super().read_windows(starts, length)
        s0 = int(starts[0])
        blocks = self._read_checked(s0, int(starts[-1]) + length - s0)
        codes = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
        return np.multiply(codes[_window_index(starts - s0, length)], self._int_scale,
                           dtype=np.float64)

    def _read_checked(self, start: int, frames: int) -> list[np.ndarray]:
        """``frames`` frames from ``start`` under the lock, as :meth:`_read_blocks` gives them.

        Raises
        ------
        AudioFormatError
            libsndfile fails, or the data end before the header says.
        """
        import soundfile as sf

        codes = self._cached_codes()
        if codes is not None:
            if start + frames > self.frames:
                raise AudioFormatError(
                    f"{self.name}: truncated: header promises {self.frames} frames, "
                    f"data ends at {self.frames}")
            return [codes[start:start + frames]]
        try:
            with self._lock, _quiet_stderr(self._mpeg_risk):
                self._sf.seek(start)
                blocks, done = self._read_blocks(frames)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise AudioFormatError(f"{self.name}: read failed at sample {start} ({exc})") from exc
        if done < frames:
            raise AudioFormatError(
                f"{self.name}: truncated: header promises {self.frames} frames, "
                f"data ends at {start + done}")
        return blocks

    def _read_blocks(self, frames: int) -> tuple[list[np.ndarray], int]:
        """Read up to ``frames`` frames in chunks; stop at the end of the data.

        Integer codes where the file is integer PCM (scaled by the caller), else float64.
        """
        blocks = []
        done = 0
        while done < frames:  # in chunks: a corrupt header may promise billions of frames
            want = min(frames - done, max(READ_CHUNK_SAMPLES // self.channels, 1))
            block = self._sf.read(want, dtype=self._int_dtype or "float64", always_2d=True)
            blocks.append(block)
            done += block.shape[0]
            if block.shape[0] < want:
                break
        return blocks, done

    def close(self) -> None:
        """Close the file."""
        self._sf.close()


class ToneSource(AudioSource):
    """An ideal sine per channel, computed on demand: the reference for ``sine:F``.

    Parameters
    ----------
    frequencies_hz : sequence of float
        One frequency per channel, in Hz.
    sample_rate_hz : int
    frames : int
        Length in samples.
    amplitude : float
        Peak amplitude in full-scale units (the level is not judged for tones).
    start, stop : int, optional
        The tone is present on samples ``start .. stop-1`` only (where the
        received audio is active), zero elsewhere.
    """

    def __init__(self, frequencies_hz: Sequence[float], sample_rate_hz: int, frames: int, *,
                 amplitude: float = 0.5, start: int = 0, stop: int | None = None) -> None:
        self.start = int(start)
        self.stop = int(frames if stop is None else stop)
        self.frequencies_hz = tuple(float(f) for f in frequencies_hz)
        self.name = "sine:" + ",".join(f"{f:g}" for f in self.frequencies_hz)
        self.sample_rate_hz = int(sample_rate_hz)
        self.channels = len(self.frequencies_hz)
        self.frames = int(frames)
        self.amplitude = float(amplitude)
        self.checks_samples = False  # computed sines

    def _read(self, start: int, frames: int) -> np.ndarray:
        n = np.arange(start, start + frames, dtype=np.float64)
        on = ((n >= self.start) & (n < self.stop)).astype(np.float64)
        cols = [on * self.amplitude * np.sin(2 * np.pi * ((f * n / self.sample_rate_hz) % 1.0))
                for f in self.frequencies_hz]
        return np.stack(cols, axis=1)


def parse_tone_spec(spec: str) -> tuple[float, ...] | None:
    """Parse a tone reference spec such as ``sine:997`` or ``sine:997,1499``.

    Parameters
    ----------
    spec : str

    Returns
    -------
    tuple of float or None
        Frequencies in Hz, one per channel; None if ``spec`` is not a tone spec.

    Raises
    ------
    SignalSpecError
        If it starts with ``sine:`` but the frequencies are not positive numbers.
    """
    if not spec.lower().startswith("sine:"):
        return None
    body = spec.split(":", 1)[1]
    try:
        freqs = tuple(float(f) for f in body.split(",") if f.strip())
    except ValueError as exc:
        raise SignalSpecError(f"{spec!r}: expected sine:FREQ[,FREQ...] in Hz") from exc
    if not freqs or any(not np.isfinite(f) or f <= 0 for f in freqs):
        raise SignalSpecError(f"{spec!r}: expected sine:FREQ[,FREQ...] with FREQ > 0 Hz")
    return freqs


def open_audio(path: str | os.PathLike[str]) -> FileSource:
    """Open an audio file for block reading, decoding compressed formats if needed.

    Parameters
    ----------
    path : str or Path
        wav/flac/ogg/mp3 (libsndfile), or m4a/aac/opus and other formats that
        ffmpeg decodes (decoded once to a temporary 32-bit float WAV).

    Returns
    -------
    FileSource

    Raises
    ------
    AudioFormatError
        If the file is missing, empty, truncated or not audio.
    MissingDependencyError
        If the format needs ffmpeg and it is not installed.
    """
    p = Path(path)
    if p.suffix.lower() in FFMPEG_EXTENSIONS:
        return _decode_with_ffmpeg(p)
    return FileSource(p)


class _DecodedSource(FileSource):
    """A FileSource over a temporary WAV decoded by ffmpeg; deletes it on close."""

    def __init__(self, tmp: Path, name: str) -> None:
        super().__init__(tmp, name=name)
        self._tmp = tmp
        self.identity = None  # a temporary file: its name may come again

    def close(self) -> None:
        super().close()
        self._tmp.unlink(missing_ok=True)


def _decode_with_ffmpeg(path: Path) -> FileSource:
    if not path.exists():
        raise AudioFormatError(f"{path}: no such file")
    exe = shutil.which("ffmpeg")
    if exe is None:
        raise MissingDependencyError(
            f"{path}: decoding {path.suffix} needs ffmpeg (Debian/Ubuntu: apt-get install ffmpeg)")
    fd, tmp = tempfile.mkstemp(suffix=".wav", prefix="validator-decode-")
    os.close(fd)
    cmd = [exe, "-nostdin", "-v", "error", "-y", "-i", str(path), "-c:a", "pcm_f32le", "-f", "wav",
           tmp]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        Path(tmp).unlink(missing_ok=True)
        msg = (proc.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise AudioFormatError(f"{path}: ffmpeg could not decode it ({msg})")
    return _DecodedSource(Path(tmp), name=str(path))
