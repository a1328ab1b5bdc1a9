"""Inputs that the fuzz benchmark (``tests/benchmarks/fuzz_inputs.py``) found to be defects.

Each test keeps one input that once raised something other than a
:class:`~validator.errors.ValidatorError` (or hung, or printed on file
descriptor 1/2) and checks that it now ends in a clean one-line error. The
inputs are inline, built from a few bytes, or in ``tests/data/fuzz/``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from validator.cli import main
from validator.errors import AudioFormatError, CaptureError, ProfileError
from validator.io.audio import open_audio
from validator.pipeline import validate
from validator.verdict import EXIT_ERROR, load_profile

FS = 8000
DATA = Path(__file__).resolve().parent / "data" / "fuzz"


def one_error_line(err: str, *mention: str) -> str:
    assert "Traceback" not in err and "internal error" not in err, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("audio-validator: error: ")
    for m in mention:
        assert m in lines[0], (m, lines[0])
    return lines[0]


@pytest.fixture
def reference(tmp_path: Path, tone_8k: np.ndarray) -> Path:
    p = tmp_path / "reference.wav"
    sf.write(str(p), tone_8k, FS, subtype="PCM_16")
    return p


# --------------------------------------------------------------------------- audio samples


def test_float_samples_near_1e30_no_overflow_error(tmp_path, tone_8k, reference):
    """Was: OverflowError in detectors/metrics.py (float WAV, 100 samples of 1e30)."""
    y = tone_8k.astype(np.float32)
    y[4000:4100] = 1e30
    rec = tmp_path / "overflow.wav"
    sf.write(str(rec), y, FS, subtype="FLOAT")
    with pytest.raises(AudioFormatError, match=r"overflow\.wav: sample 4000 is 1e\+30"):
        validate(rec, reference)


@pytest.mark.parametrize("value", [1e300, -1e300, np.inf, np.nan])
def test_huge_double_samples_no_svd_error_and_no_lapack_noise(tmp_path, tone_8k, reference,
                                                               capfd, value):
    """Was: LinAlgError "SVD did not converge" in align/delay.py, and LAPACK printing
    "On entry to DLASCL parameter number 4 had an illegal value" on stdout."""
    y = tone_8k.copy()
    y[2000:2600] = value
    rec = tmp_path / "svd.wav"
    sf.write(str(rec), y, FS, subtype="DOUBLE")
    with pytest.raises(AudioFormatError, match=r"svd\.wav: .*sample 2000"):
        validate(rec, reference)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_huge_samples_in_an_array_are_refused_by_the_gate():
    """The same gate guards arrays given to the API (was IndexError in align/track.py)."""
    y = np.zeros((4000, 1))
    y[100] = 5e3
    with pytest.raises(AudioFormatError, match=r"<received array>: sample 100 is 5000"):
        validate(y, np.zeros((4000, 1)), sample_rate_hz=FS)


def test_samples_past_full_scale_within_the_bound_are_analysed(tmp_path, tone_8k, reference):
    """1 < |x| <= 1000 in a float file: no error; the result is a verdict (here: a fail)."""
    y = tone_8k.astype(np.float32)
    y[4000:4040] = 4.0
    rec = tmp_path / "hot.wav"
    sf.write(str(rec), y, FS, subtype="FLOAT")
    assert validate(rec, reference).verdict == "fail"


def _flac_promising(tmp_path: Path, tone_8k: np.ndarray, total_samples: int) -> Path:
    """A FLAC whose STREAMINFO promises ``total_samples`` frames (36 bits at byte 21)."""
    p = tmp_path / "short.flac"
    sf.write(str(p), tone_8k, FS, subtype="PCM_16", format="FLAC")
    data = bytearray(p.read_bytes())
    assert data[:4] == b"fLaC"
    word = int.from_bytes(data[21:26], "big")
    word = (word & ~((1 << 36) - 1)) | total_samples
    data[21:26] = word.to_bytes(5, "big")
    p.write_bytes(bytes(data))
    return p


def test_flac_header_promising_two_billion_frames_no_memory_error(tmp_path, tone_8k, capsys):
    """Was: MemoryError (15.8 GiB, under the benchmark's 6 GiB address-space limit) reading
    the whole file, e.g. by ``impair``: the output array was allocated before the read."""
    flac = _flac_promising(tmp_path, tone_8k, 2_114_191_360)
    with open_audio(flac) as src:
        assert src.frames == 2_114_191_360
        with pytest.raises(AudioFormatError, match=r"short\.flac: (truncated|read failed)"):
            src.read(0, src.frames)
    assert main(["impair", str(flac), str(tmp_path / "out.wav")]) == EXIT_ERROR
    one_error_line(capsys.readouterr().err, "short.flac")
    assert not (tmp_path / "out.wav").exists()


@pytest.mark.parametrize("name, data", [
    ("flac_like.flac", b'\xff\xffaC\xff\xff\x00"\x10\x00\x10\x00\x00\x01\xd1\x00'),
    ("mpeg_resync_notes.wav", None),
])
def test_mpeg_decoder_notes_do_not_reach_stderr(tmp_path, reference, capfd, name, data):
    """Was: libmpg123 printing "Note: Illegal Audio-MPEG-Header ... Trying to resync" or
    "warning: Cannot read next header" on file descriptor 2, around the one-line error."""
    p = tmp_path / name
    p.write_bytes(data if data is not None else (DATA / name).read_bytes())
    capfd.readouterr()
    rc = main(["validate", str(p), "-r", str(reference), "--no-json", "--no-html",
               "--no-junit"])
    out, err = capfd.readouterr()
    assert rc == EXIT_ERROR and out == ""
    one_error_line(err, name)


def test_quieting_fd_2_from_several_threads_restores_it():
    """The fd 2 redirection is shared: overlapping uses from threads leave fd 2 as it was."""
    import os
    import threading

    from validator.io.audio import _quiet_stderr

    before = os.fstat(2)
    barrier = threading.Barrier(4)

    def work():
        with _quiet_stderr():
            barrier.wait(timeout=10)
            with _quiet_stderr():
                pass

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    after = os.fstat(2)
    assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)


def test_a_file_named_dash_is_a_file_not_standard_input(tmp_path, reference, capsys,
                                                       monkeypatch):
    """Was: LibsndfileError ("No error defined for this error number"): libsndfile took the
    path ``-`` for standard input. A WAV named ``-`` is now read as the file it is."""
    monkeypatch.chdir(tmp_path)
    Path("-").write_bytes(reference.read_bytes())
    assert main(["validate", "-", "--reference", str(reference), "--no-json", "--no-html",
                 "--no-junit", "--quiet"]) == 0
    assert capsys.readouterr().out == "PASS\n"
    Path("-").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    assert main(["validate", str(reference), "--reference", "-", "--no-json", "--no-html",
                 "--no-junit"]) == EXIT_ERROR
    one_error_line(capsys.readouterr().err, "-: not a readable audio file")


# --------------------------------------------------------------------------- RTP


def test_sequence_numbers_leaping_by_30000_no_memory_error(tmp_path):
    """Was: MemoryError (16 GiB) in rtp/decoding.py zero-filling "losses" of 30000 packets."""
    from validator.rtp import build_rtp_packet, decode, read_capture, select_stream
    from validator.rtp.synth import Datagram, write_capture

    dg = []
    seq, ts = 100, 0
    for k in range(12):
        dg.append(Datagram(10**18 + k * 20_000_000, "10.0.0.1", 4000, "10.0.0.2", 5004,
                           build_rtp_packet(payload_type=0, sequence=seq, timestamp=ts,
                                            ssrc=7, payload=b"\xff" * 160)))
        seq = (seq + 30000) % 65536
        ts = (ts + 160 * 30000) % 2**32
    cap = read_capture(write_capture(tmp_path / "leaps.pcap", dg), port=5004)
    with pytest.raises(CaptureError, match=r"leaps\.pcap.*carry 0\.240 s of audio.*corrupt"):
        decode(select_stream(cap))


# --------------------------------------------------------------------------- profiles


def test_a_wav_given_as_the_profile(tmp_path, reference, capsys):
    """Was: UnicodeDecodeError from tomllib (internal error) for ``--profile x.wav``."""
    assert main(["validate", str(reference), "-r", str(reference), "--profile", str(reference),
                 "--no-json", "--no-html", "--no-junit"]) == EXIT_ERROR
    one_error_line(capsys.readouterr().err, "reference.wav: not valid TOML", "UTF-8")


@pytest.mark.parametrize("text, mention", [
    ("[detectors]\nactive_margin_db = 100000\n", "active_margin_db = 100000"),
    ("[detectors]\nlevel_min_ms = -inf\n", "level_min_ms = -inf"),
    ("[detectors]\nglitch_false_alarm = -9402.7\n", "glitch_false_alarm"),
    ("[detectors]\nmin_dropout_ms = nan\n", "min_dropout_ms = nan"),
    ("[limits]\nmax_abs_gain_error_db = inf\n", "max_abs_gain_error_db = inf"),
    ("[detectors]\nclip_min_samples = 0\n", "clip_min_samples = 0"),
])
def test_profile_values_that_overflow_a_detector(tmp_path, text, mention):
    """Was: OverflowError in detectors/activity.py (10 ** (100000 / 10))."""
    p = tmp_path / "odd.toml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError, match="odd.toml") as info:
        load_profile(p)
    assert mention in str(info.value)


# --------------------------------------------------------------------------- generate, impair


@pytest.mark.parametrize("argv, mention", [
    (["generate", "sweep", "OUT", "--channels", "100000", "--duration", "0.1"],
     ("--channels", "100000", "64")),
    (["generate", "tone", "OUT", "--duration", "1e9"], ("--duration", "268435456")),
    (["generate", "tone", "OUT", "--rate", "99999999999999999999"], ("--rate", "768000")),
    (["impair", "REF", "OUT", "--delay", "1e9"], ("--delay 1e9", "3600")),
    (["impair", "REF", "OUT", "--drift", "1e6"], ("--drift", "1e6")),
    (["impair", "REF", "OUT", "--gain", "30000"], ("--gain", "30000")),
    (["impair", "REF", "OUT", "--dc", "1e300"], ("--dc", "1e300")),
    (["impair", "REF", "OUT", "--level-step", "0.1:0.1:1e5"], ("--level-step",)),
])
def test_absurd_sizes_are_refused_before_allocating(tmp_path, reference, capsys, argv,
                                                    mention):
    """Was: a hang or MemoryError (a 100000-channel sweep, a 1e9 s tone, a 1e9 s delay), an
    OverflowError (``--gain 30000``: 10 ** 1500), or a float WAV of inf (``--dc 1e300``)."""
    out = tmp_path / "out.wav"
    argv = [str(out) if a == "OUT" else str(reference) if a == "REF" else a for a in argv]
    assert main(argv) == EXIT_ERROR
    one_error_line(capsys.readouterr().err, *mention)
    assert not out.exists()


def test_a_capture_shorter_than_the_smear_window_validates() -> None:
    """Found by fuzzing (a short pcap): 60 frames of audio, shorter than the 61-frame window
    in which a codec's smear is learnt, broke a dilation (np.convolve "same" returns the longer
    operand's length)."""
    import numpy as np

    from validator import validate

    fs = 8000
    t = np.arange(int(0.06 * fs)) / fs
    ref = 0.3 * np.sin(2 * np.pi * 997.0 * t)
    r = validate(ref.copy(), ref, sample_rate_hz=fs)
    assert r.verdict in ("pass", "fail")
