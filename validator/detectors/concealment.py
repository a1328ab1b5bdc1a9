"""Concealed packets: whole packets whose waveform is not the reference's.

A receiver that loses a packet of a codec such as Opus fills it with its
packet-loss concealment (PLC): an extrapolation of the last good audio. Over
speech it keeps the level but not the waveform, so the residual over that
packet is about as large as the signal itself (about 0 dB re signal, where
the codec's own coding error leaves -25 dB on loud speech and -5 to -10 dB on
its quietest syllables). The 1 ms glitch test does not see it well: the
codec's error varies so much from frame to frame that a margin above it lets
only fragments of the concealed packet through.

This detector tests whole packets instead. Packets lie on a grid of
``packet_ms`` (the receiver decodes one packet at a time), whose phase on the
received timeline is unknown for a WAV file: it is learnt from the capture
itself, as the position on the grid where the residual most often rises
sharply (:func:`learn_phase`), and later refined to the sample
(:func:`grid_offset`) at the sharp rise of the residual where each
concealment begins. A packet is concealed when, over its active frames:

- something was received (received over expected power at least
  :data:`MIN_LEVEL_RATIO_DB`: the concealment may fade, a deeper fall is a
  dropout; and above the background noise by :data:`MIN_OVER_NOISE_DB`: a
  gap that noise fills is a dropout; frames of digital zeros are not judged)
  and its waveform departs from the reference (normalised
  correlation at most :data:`MAX_NCC`, so that a level step, which keeps the
  waveform, is left to its own detector);
- and either the residual is within :data:`STRONG_RATIO_DB` of the signal
  and :data:`STRONG_EXCESS_DB` above the codec's own coding-error floor at
  that level (the floor this capture shows,
  :func:`validator.detectors.glitch.residual_floor`), or it is
  :data:`WEAK_EXCESS_DB` above that floor and within :data:`WEAK_RATIO_DB` of
  the signal, outside the recovery of an earlier concealment (after a loss
  the decoder itself needs 20-60 ms to converge again, and those packets are
  the same fault), where an extrapolation can stay that close: after a
  packet that is not itself that far above the floor (the decoder
  extrapolates audio it had right; a codec erring packet after packet is
  its own), and not at an onset of the reference (a rise of
  :data:`STEADY_REFERENCE_DB` or more across the packet's start: there a
  codec's own error rises, and an extrapolation of the quieter audio before
  would depart strongly).

Consecutive concealed packets are one event, with edges on the grid. Where
the receiver wrote digital zeros instead, the dropout detector's record
stands (:mod:`validator.detectors.consolidate`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from validator.detectors.activity import Activity
from validator.detectors.common import Frames, dbfs_power, packet_note, ratio_db
from validator.detectors.features import ChannelFeatures
from validator.detectors.settings import DetectorSettings
from validator.result import Event

#: Residual within this of the signal over a packet: its waveform is not the reference's, dB.
STRONG_RATIO_DB = -4.0
#: ... and at least this far above the coding-error floor at its level, dB.
STRONG_EXCESS_DB = 5.0
#: A packet this far above the coding-error floor, dB (measured here: clean Opus speech
#: packets reach 12.3 dB, concealed ones 15-17 dB when the extrapolation follows a vowel)...
WEAK_EXCESS_DB = 14.0
#: ... with its residual within this of the signal, dB, counts outside a decoder's recovery.
WEAK_RATIO_DB = -8.0
#: ... over a packet active throughout (at least this share of its frames; at the edges of
#: words a codec such as G.722 leaves residuals this large on its own).
WEAK_ACTIVE_SHARE = 0.9
#: Packets after a concealed one that are the decoder's recovery, not new losses (60 ms).
RECOVERY_PACKETS = 3
#: Something was received: received over expected power at least this, dB. A deeper fall
#: is a dropout, judged by its own detector; Opus's concealment fades to -5 to -25 dB.
MIN_LEVEL_RATIO_DB = -30.0
#: ... and at least this far above the background noise (where the reference is silent), and
#: above the silence threshold, dB: a gap that the noise fills is a dropout, not a concealment.
MIN_OVER_NOISE_DB = 10.0
#: The waveform departs: received and expected correlate at most this much over the packet (a
#: level step keeps the waveform, 1.0; concealed Opus speech measured -0.3 to 0.85).
MAX_NCC = 0.95
#: Frames either side of a boundary over which the rise of the residual is measured (3 ms).
RISE_FRAMES = 3
#: A boundary votes for the grid's phase by how far its rise exceeds this, dB.
RISE_MIN_DB = 10.0
#: A strongly departing packet right after a concealed one is a further lost packet (the
#: extrapolation goes on) when it correlates at most this much with the reference; above,
#: it is the decoder's recovery, which decodes the right audio, wrongly shaped or too
#: quietly (measured on Opus: second lost packets 0.49-0.50, recovery 0.53-0.98, most
#: above 0.7).
CONTINUE_NCC = 0.55
#: A concealment's residual rises on its grid line by no less than this under its sharpest
#: rise nearby, dB.
GRID_RISE_SLACK_DB = 15.0
#: The grid's rises must be this unlikely under rises at random positions (a permutation
#: test, :func:`grid_p_value`; measured: lossy Opus captures 0.0005, the least p-value 2000
#: draws give; clean speech through G.722 0.0025 and AAC 0.0055, other codecs >= 0.06).
GRID_ALPHA = 0.002
#: Random placements of the rises in that test.
GRID_DRAWS = 2000
#: The reference is steady across a boundary when its level changes there by less than this,
#: dB (the same 3-frame means as the rise). A codec's own errors rise where the signal
#: changes (onsets, transitions); a lost packet's rise falls wherever the packet ends. A
#: weak packet never begins at a rise this large (measured: weak Opus concealments at -16 to
#: +3.5 dB; a G.722 error read as one at +37.6 dB).
STEADY_REFERENCE_DB = 10.0
#: ... and the rises where it is steady must gather on the grid too, this unlikely by chance
#: (measured: lossy Opus speech through a loopback and the real opus_plc_speech 0.0005, six
#: repeated packets in the shipped Harvard speech under 20 dB of white "coding" noise
#: 0.0015-0.019; five fresh takes of clean espeak-ng speech through AAC at 24 kbit/s, whose
#: rises gather at the speech's own onsets, 0.30-0.63).
GRID_STEADY_ALPHA = 0.05
#: A packet is judged when at least this share of its frames is active.
MIN_ACTIVE_SHARE = 0.25
#: Expected level of a silent frame in the steadiness test, dB re full scale (digital
#: silence would otherwise be -inf).
SILENT_DB = -120.0


@dataclass(frozen=True)
class PacketScores:
    """Per-packet statistics on one packet grid.

    Attributes
    ----------
    start_samples : np.ndarray, shape=(n_packets,), int64
        First received sample of each packet.
    frames : np.ndarray, shape=(n_packets,), int64
        1 ms frames wholly inside each packet.
    active_frames : np.ndarray, shape=(n_packets,), int64
        Active frames among them.
    ratio_db : np.ndarray, shape=(n_packets,), float64
        Residual over expected power on those frames, dB.
    excess_db : np.ndarray, shape=(n_packets,), float64
        Residual over the coding-error floor on those frames, dB.
    level_ratio_db : np.ndarray, shape=(n_packets,), float64
        Received over expected power on those frames, dB.
    received_power : np.ndarray, shape=(n_packets,), float64
        Mean received power on those frames (full-scale units squared).
    ncc : np.ndarray, shape=(n_packets,), float64
        Normalised correlation of received and expected on those frames.
    judged : np.ndarray, shape=(n_packets,), bool
        Packets with enough active frames to be judged.
    reference_step_db : np.ndarray, shape=(n_packets,), float64
        Change of the reference's level across each packet's start, dB: the mean
        level (dB, at least :data:`SILENT_DB`) over the :data:`RISE_FRAMES` frames
        after it minus that over the frames before it, as :func:`learn_phase` measures
        steadiness.
    """

    start_samples: np.ndarray
    frames: np.ndarray
    active_frames: np.ndarray
    ratio_db: np.ndarray
    excess_db: np.ndarray
    level_ratio_db: np.ndarray
    received_power: np.ndarray
    ncc: np.ndarray
    judged: np.ndarray
    reference_step_db: np.ndarray


def packet_scores(cf: ChannelFeatures, act: Activity, floor: np.ndarray, frame_len: int,
                  packet_samples: int, phase_samples: int) -> PacketScores:
    """Statistics of every packet of one grid.

    Parameters
    ----------
    cf : ChannelFeatures
        1 ms frame powers (``p_e``, ``p_x``, ``p_y``, ``p_r``, ``p_yr``), shape
        ``(n_frames,)`` each.
    act : Activity
        ``act.active``: the frames judged.
    floor : np.ndarray, shape=(n_frames,), float32
        The coding-error floor of each frame (residual power,
        :func:`validator.detectors.glitch.residual_floor`).
    frame_len : int
        Samples per frame.
    packet_samples : int
        Packet length, samples.
    phase_samples : int
        A packet boundary, received sample (any; taken modulo the packet).

    Returns
    -------
    PacketScores
    """
    n = len(cf.p_e)
    phase = phase_samples % packet_samples
    starts = np.arange(phase, n * frame_len - packet_samples + 1, packet_samples, dtype=np.int64)
    a = -(-starts // frame_len)  # frames wholly inside each packet
    b = (starts + packet_samples) // frame_len
    m = act.active
    sgn = float(np.sign(cf.gain)) or 1.0

    def sums(x: np.ndarray) -> np.ndarray:
        c = np.concatenate(([0.0], np.cumsum(np.where(m, x, 0.0), dtype=np.float64)))
        return c[b] - c[a]

    cnt = sums(np.ones(n))
    se, sx, sy, sf = sums(cf.p_e), sums(cf.p_x), sums(cf.p_y), sums(floor)
    syr, sr = sums(cf.p_yr) * sgn, sums(cf.p_r)
    judged = (cnt >= np.maximum(MIN_ACTIVE_SHARE * (b - a), 2)) & (sx > 0) & (sf > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = 10 * np.log10(np.maximum(se, 1e-30) / sx)
        excess = ratio - 10 * np.log10(sf / sx)
        level = 10 * np.log10(np.maximum(sy, 1e-30) / sx)
        ncc = syr / np.sqrt(sy * sr)
    bad = ~judged
    for arr in (ratio, excess, level, ncc):
        arr[bad | ~np.isfinite(arr)] = 0.0
    power = np.where(judged, sy / np.maximum(cnt, 1), 0.0)
    k = RISE_FRAMES
    with np.errstate(divide="ignore"):
        lx = np.maximum(10 * np.log10(cf.p_x.astype(np.float64)), SILENT_DB)
    step = np.zeros(len(starts))
    inner = (a >= k) & (a <= n - k)
    step[inner] = _step(lx, a[inner], k)
    return PacketScores(starts, (b - a).astype(np.int64), cnt.astype(np.int64), ratio, excess,
                        level, power, ncc, judged, step)


def packet_samples(settings: DetectorSettings, sample_rate_hz: int) -> int:
    """The packet time ``settings.packet_ms`` in samples (at least 4)."""
    return max(int(round(settings.packet_ms * sample_rate_hz / 1000)), 4)


def received_floor(act: Activity, settings: DetectorSettings) -> float:
    """Least mean received power of a packet that counts as received, full-scale units squared.

    :data:`MIN_OVER_NOISE_DB` above the background noise, and no less than
    the silence threshold (``settings.silence_threshold_dbfs``, AES17).
    """
    return max(act.noise_power * 10 ** (MIN_OVER_NOISE_DB / 10),
               dbfs_power(settings.silence_threshold_dbfs))


def _departs(s: PacketScores, min_power: float) -> np.ndarray:
    """Packets where something was received and its waveform departs from the reference."""
    return (s.received_power >= min_power) & s.judged \
        & (s.level_ratio_db >= MIN_LEVEL_RATIO_DB) & (s.ncc <= MAX_NCC)


def _strong(s: PacketScores, min_power: float) -> np.ndarray:
    """Departing packets within :data:`STRONG_RATIO_DB` of the signal, well above the floor."""
    return _departs(s, min_power) & (s.ratio_db >= STRONG_RATIO_DB) \
        & (s.excess_db >= STRONG_EXCESS_DB)


def learn_phase(cf: ChannelFeatures, act: Activity, floor: np.ndarray, frame_len: int,
                packet_samples: int) -> int | None:
    """The packet grid's phase on the received timeline, to the frame; None without a grid.

    A concealment begins with a sharp rise of the residual over the coding
    floor (on Opus speech from about 0 to 15-25 dB within a millisecond) at
    a packet boundary; it ends less sharply, as the decoder recovers over the
    next packets. So the rises are gathered: at each frame boundary, the mean
    excess (residual over floor, dB, clipped to [-10, 30]) over the
    :data:`RISE_FRAMES` frames after it minus that over the frames before it
    (all of them active), less :data:`RISE_MIN_DB`; the positive parts are
    summed per position on the packet grid (the boundary's sample modulo the
    packet), and the position with the largest sum is the phase.

    A clean capture has rises too (a codec's error on unvoiced frames or at
    word edges), but at any position: the grid is kept only when its rises
    are significantly concentrated (:func:`grid_p_value` at most
    :data:`GRID_ALPHA`). A codec's errors rise where the reference itself
    changes, though, and a reference can have a time grid of its own (the
    onsets of espeak-ng's speech gather on a 10 ms grid, which a 20 ms packet
    grid that starts with the reference shares). So the rises where the
    reference's level is steady (changing by less than
    :data:`STEADY_REFERENCE_DB`) must gather on the grid as well
    (:data:`GRID_STEADY_ALPHA`): a lost packet's rise falls wherever the packet
    ends. Without both, no packet is judged concealed.

    Returns
    -------
    int or None
        A packet boundary, received sample (a multiple of ``frame_len``);
        None when no boundary rises by more than :data:`RISE_MIN_DB`, or when
        the rises show no significant grid.
    """
    k = RISE_FRAMES
    n = len(cf.p_e)
    if n < 2 * k + 1:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        x = 10 * np.log10(np.maximum(cf.p_e, 1e-30) / np.maximum(floor, 1e-30))
    x = np.clip(np.where(act.active & (floor > 0), x, 0.0), -10.0, 30.0)
    ok = (act.active & (floor > 0)).astype(np.float64)
    co = np.concatenate(([0.0], np.cumsum(ok)))
    i = np.arange(k, n - k + 1)  # boundary before frame i
    full = (co[i + k] - co[i - k]) >= 2 * k
    rise = _step(x, i, k) - RISE_MIN_DB
    use = full & (rise > 0)
    if not use.any():
        return None
    n_pos = -(-packet_samples // frame_len)
    j, w = i[use], rise[use]
    pos = (j * frame_len) % packet_samples // frame_len
    votes = np.bincount(pos, weights=w, minlength=n_pos)
    if grid_p_value(pos, w, n_pos) > GRID_ALPHA:
        return None
    with np.errstate(divide="ignore"):
        lx = np.maximum(10 * np.log10(cf.p_x.astype(np.float64)), SILENT_DB)
    steady = np.abs(_step(lx, j, k)) < STEADY_REFERENCE_DB
    if grid_p_value(pos[steady], w[steady], n_pos) > GRID_STEADY_ALPHA:
        return None
    return int(np.argmax(votes)) * frame_len


def _step(x: np.ndarray, at: np.ndarray, k: int) -> np.ndarray:
    """Mean of ``x`` over the ``k`` frames after each boundary ``at`` minus over the ``k`` before.

    ``x`` has shape (n_frames,); ``at`` holds frame indices in ``[k, n_frames - k]``.
    """
    c = np.concatenate(([0.0], np.cumsum(x, dtype=np.float64)))
    return (c[at + k] - c[at]) / k - (c[at] - c[at - k]) / k


def grid_p_value(positions: np.ndarray, weights: np.ndarray, n_positions: int, *,
                 n_draws: int = GRID_DRAWS, seed: int = 0) -> float:
    """How likely rises at random grid positions gather on one as much as these do.

    The statistic is the largest summed rise (dB over :data:`RISE_MIN_DB`)
    on a pair of adjacent grid positions (a packet boundary seldom falls on
    a frame boundary, so its rises split between two). Under the null
    hypothesis (no packet grid: every rise at any position alike) the
    positions are exchangeable, so its distribution is drawn by placing the
    same rises at uniform random positions ``n_draws`` times (a Monte Carlo
    permutation test, seeded: the result is reproducible). The maximum over
    pairs is taken in each draw, so no correction for the choice is needed.

    Measured (20 ms grid, 1 ms frames): Opus speech with 5 % and 10 % loss
    through a real loopback link and the real GStreamer ``opus_plc_speech``
    capture 0.0005 (no draw reached them); clean speech through G.722 0.0025,
    AAC at 24 kbit/s 0.0055, Opus (8-32 kbit/s), Speex, GSM, G.726 and MP3
    0.06-0.8 (a codec's own errors rise at any position of the grid); six
    repeated packets in 10 s of speech with white "coding" noise 20 dB under
    it 0.0005-0.003 with the grid on frame boundaries, 0.007-0.01 with it
    mid-frame (such a capture needs more concealments before its grid counts).

    Parameters
    ----------
    positions : np.ndarray, shape=(n_rises,), int64
        Grid position of each rising boundary, in ``[0, n_positions)``.
    weights : np.ndarray, shape=(n_rises,), float64
        Its rise above :data:`RISE_MIN_DB`, dB (positive).
    n_positions : int
        Positions on the grid (frames per packet).
    n_draws : int
        Random placements.
    seed : int
        Seed of the placements.

    Returns
    -------
    float
        ``(1 + draws at least as concentrated) / (1 + n_draws)``.

    References
    ----------
    .. [1] P. Good, *Permutation, Parametric and Bootstrap Tests of
       Hypotheses*, 3rd ed., Springer, 2005, ch. 3 (Monte Carlo p-values).
    """
    if n_positions < 3 or len(positions) == 0:
        return 1.0

    def stat(pos: np.ndarray) -> np.ndarray:
        """Largest adjacent-pair sum per row of ``pos`` (shape (draws, n_rises))."""
        rows = np.arange(pos.shape[0])[:, None] * n_positions
        v = np.bincount((rows + pos).ravel(), weights=np.broadcast_to(weights, pos.shape).ravel(),
                        minlength=pos.shape[0] * n_positions).reshape(-1, n_positions)
        return (v + np.roll(v, -1, axis=1)).max(axis=1)

    observed = float(stat(positions[None, :])[0])
    rng = np.random.default_rng(seed)
    null = stat(rng.integers(0, n_positions, size=(n_draws, len(positions))))
    return float((1 + np.count_nonzero(null >= observed - 1e-9)) / (1 + n_draws))


def concealed_packets(s: PacketScores, min_power: float) -> np.ndarray:
    """Which packets of a grid are concealed (see module docstring).

    A run of concealed packets begins at a strong or weak packet and goes on
    through strong packets that correlate at most :data:`CONTINUE_NCC` with
    the reference; the recovery after it is not concealed.

    Parameters
    ----------
    s : PacketScores
    min_power : float
        Least mean received power over a packet's active frames for it to
        count as received (see :func:`received_floor`).

    Returns
    -------
    np.ndarray, shape=(n_packets,), bool
    """
    strong = _strong(s, min_power)
    whole = s.active_frames >= WEAK_ACTIVE_SHARE * s.frames
    weak = _departs(s, min_power) & whole & (s.ratio_db >= WEAK_RATIO_DB) \
        & (s.excess_db >= WEAK_EXCESS_DB)
    # ... where a concealment can be weak: the decoder extrapolates the audio before the loss,
    # which it had right (so the packet before is not this far above the floor: a stretch that
    # errs this much packet after packet is the codec's), and the extrapolation stays close
    # only while the reference goes on as before (not at an onset, where a codec's own
    # error rises and an extrapolation of the quiet before would fall far short)
    high = s.judged & (s.excess_db >= WEAK_EXCESS_DB)
    weak[1:] &= ~high[:-1]
    weak &= s.reference_step_db < STEADY_REFERENCE_DB
    recovering = np.zeros(len(strong), dtype=bool)
    for k in range(1, RECOVERY_PACKETS + 1):
        recovering[k:] |= strong[:-k]
    start = strong | (weak & ~recovering)
    more = strong & (s.ncc <= CONTINUE_NCC)
    out = np.zeros(len(strong), dtype=bool)
    for k in np.flatnonzero(start | more).tolist():
        # a run goes on only through packets that still depart like a concealment
        out[k] = more[k] if k > 0 and out[k - 1] else start[k]
    return out


def detect_concealment(cf: ChannelFeatures, act: Activity, fr: Frames,
                       settings: DetectorSettings, floor: np.ndarray) -> list[Event]:
    """Find concealed packets on one channel, on a packet grid learnt from the capture.

    Parameters
    ----------
    cf : ChannelFeatures
        The channel's 1 ms frame powers, shape ``(n_frames,)`` each.
    act : Activity
        Which frames are judged.
    fr : Frames
        Sample rate (Hz), frame length (samples) and channel of the events.
    settings : DetectorSettings
        Uses ``packet_ms`` (the packet time, ms) and
        ``silence_threshold_dbfs`` (:func:`received_floor`).
    floor : np.ndarray, shape=(n_frames,), float32
        Coding-error floor per frame
        (:func:`validator.detectors.glitch.residual_floor`).

    Returns
    -------
    list of Event
        ``type="glitch"``, one per run of consecutive concealed packets, with
        edges on the grid learnt to the frame (:func:`grid_offset` refines it
        to the sample); ``level_db`` is the residual re signal over the span.

    References
    ----------
    .. [1] RFC 6716, section 4.4 (Opus packet loss concealment): the decoder
       extrapolates the lost packet from the past signal.
    """
    flen, fs = fr.frame_len, fr.sample_rate_hz
    packet = packet_samples(settings, fs)
    if not act.active.any():
        return []
    phase = learn_phase(cf, act, floor, flen, packet)
    if phase is None:
        return []
    s = packet_scores(cf, act, floor, flen, packet, phase)
    hit = concealed_packets(s, received_floor(act, settings))
    events = []
    d = np.diff(np.concatenate(([0], hit.astype(np.int8), [0])))
    for i, j in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True):
        start, end = int(s.start_samples[i]), int(s.start_samples[j - 1]) + packet
        fa, fb = -(-start // flen), end // flen
        lvl = ratio_db(float(cf.p_e[fa:fb].sum()), float(cf.p_x[fa:fb].sum()))
        got = ratio_db(float(cf.p_y[fa:fb].sum()), float(cf.p_x[fa:fb].sum()))
        dur = (end - start) / fs
        events.append(fr.event(
            "glitch", start, end, lvl,
            f"concealed packet loss: the waveform departs from the reference for "
            f"{dur * 1000:.0f} ms{packet_note(dur)}, residual {lvl:.1f} dB re signal, "
            f"received level {got:+.1f} dB re expected"))
    return events


def rise_db(y: np.ndarray, x: np.ndarray, frame_len: int, reach: int) -> np.ndarray:
    """How sharply the residual rises at each offset from the middle of a read span.

    Parameters
    ----------
    y, x : np.ndarray, shape=(2 * (reach + frame_len),), float64
        Received and expected samples centred on a concealment's start.
    frame_len : int
        Samples per 1 ms frame: the residual power is compared over this
        many samples before and after each offset.
    reach : int
        Offsets ``-reach .. reach`` are scored.

    Returns
    -------
    np.ndarray, shape=(2 * reach + 1,), float64
        ``10 log10`` of the residual power after over before each offset, dB
        (a change point of the residual's variance).
    """
    e2 = (y - x) ** 2
    floor = 1e-6 * (float(np.mean(x ** 2)) + 1e-20)  # against digital silence around it
    c = np.concatenate(([0.0], np.cumsum(e2 + floor)))
    at = reach + frame_len + np.arange(-reach, reach + 1)
    return 10 * np.log10((c[at + frame_len] - c[at]) / (c[at] - c[at - frame_len]))


def grid_offset(rises: list[np.ndarray], frame_len: int) -> int:
    """Where concealments begin, to the sample, relative to their frame-level starts.

    The concealments share one packet grid, so one offset ``t`` in
    ``[-frame_len, frame_len]`` is sought: the one that maximises their summed
    rise (:func:`rise_db`), a change point of the residual's variance that
    they all share.

    Parameters
    ----------
    rises : list of np.ndarray, shape=(2 * reach + 1,), float64
        :func:`rise_db` of each concealment (``reach >= frame_len``).
    frame_len : int
        Samples per 1 ms frame.

    Returns
    -------
    int
        Offset, samples (positive: the concealments begin later).
    """
    if not rises:
        return 0
    mid = len(rises[0]) // 2
    total = np.sum([r[mid - frame_len:mid + frame_len + 1] for r in rises], axis=0)
    return int(np.argmax(total)) - frame_len


def begins_on_grid(rise: np.ndarray, offset: int, frame_len: int) -> bool:
    """Whether a concealment begins with a rise of the residual on the grid line.

    A concealed packet begins at a packet boundary: the residual rises there
    by no less than :data:`GRID_RISE_SLACK_DB` under its sharpest rise within
    half a packet either side. A fault that begins inside the packet rises
    where it begins, off the grid (measured on gaps in noise: 0-4 dB on the
    grid line, 17-23 dB at the gap; on concealed Opus speech the rise on the
    grid line is at most 14 dB under the sharpest one, which then lies in
    the recovery).

    Parameters
    ----------
    rise : np.ndarray, shape=(2 * reach + 1,), float64
        :func:`rise_db` around the concealment's frame-level start.
    offset : int
        The grid's offset from that start, samples (:func:`grid_offset`).
    frame_len : int
        Samples per 1 ms frame (the tolerance).
    """
    mid = len(rise) // 2
    half = frame_len // 2
    at = float(rise[max(mid + offset - half, 0):mid + offset + half + 1].max())
    return at >= float(rise.max()) - GRID_RISE_SLACK_DB
