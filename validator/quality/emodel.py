"""The ITU-T G.107 E-model: transmission rating R and MOS-CQE, written from the Recommendation.

Everything here is a pure function of its inputs (no numpy, no state). The
equations follow ITU-T G.107 (06/2015), "The E-model: a computational model
for use in transmission planning":

* clause 7.1: R = Ro - Is - Id - Ie,eff + A;
* clause 7.2: the basic signal-to-noise ratio Ro (noise summation No);
* clause 7.3: the simultaneous impairment factor Is = Iolr + Ist + Iq;
* clause 7.4: the delay impairment factor Id = Idte + Idle + Idd;
* clause 7.5: the effective equipment impairment factor
  Ie,eff = Ie + (95 - Ie) * Ppl / (Ppl / BurstR + Bpl), and BurstR;
* clause 7.6: the advantage factor A;
* Table 3: the default value of every parameter;
* Annex B: MOS-CQE (conversational quality, estimated) from R.

With every Table 3 default, R = 93.2 and MOS-CQE = 4.41 (Ro = 94.77,
Is = 1.41, Id = 0.15; the Recommendation rounds to one decimal).

Ie and Bpl per codec come from ITU-T G.113 (Appendix I), through
:data:`CODEC_IMPAIRMENTS` and :func:`codec_impairment`: a codec that table does
not list is *not rated*, never given a default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

__all__ = [
    "CODEC_IMPAIRMENTS",
    "CodecImpairment",
    "EModelInput",
    "Rating",
    "codec_impairment",
    "delay_impairment",
    "effective_equipment_impairment",
    "mos_cqe",
    "rate",
]


@dataclass(frozen=True)
class EModelInput:
    """Every E-model parameter, with its ITU-T G.107 (06/2015) Table 3 default.

    Attributes
    ----------
    slr_db, rlr_db : float
        Send and receive loudness ratings, dB (8, 2).
    stmr_db : float
        Sidetone masking rating, dB (15).
    lstr_db : float
        Listener sidetone rating, dB (18).
    ds, dr : float
        D-values of the telephone, send and receive side (3, 3).
    telr_db : float
        Talker echo loudness rating, dB (65).
    wepl_db : float
        Weighted echo path loss, dB (110).
    t_ms : float
        Mean one-way delay of the echo path T, ms (0).
    tr_ms : float
        Round-trip delay in a 4-wire loop Tr, ms (0).
    ta_ms : float
        Absolute (mouth-to-ear) one-way delay Ta, ms (0).
    qdu : float
        Quantizing distortion units (1).
    ie : float
        Equipment impairment factor Ie, R units (0).
    bpl : float
        Packet-loss robustness factor Bpl (4.3).
    ppl_pct : float
        Random packet-loss probability Ppl, % (0).
    burst_ratio : float
        BurstR (1: random loss).
    nc_dbm0p : float
        Circuit noise referred to the 0 dBr point, dBm0p (-70).
    nfor_dbmp : float
        Noise floor at the receive side, dBmp (-64).
    ps_dba, pr_dba : float
        Room noise at the send and receive side, dB(A) (35, 35).
    a : float
        Advantage factor A (0).
    mt_ms : float
        Minimum perceivable delay mT, ms (100; delay sensitivity class "default").
    st : float
        Delay sensitivity sT (1; class "default").
    """

    slr_db: float = 8.0
    rlr_db: float = 2.0
    stmr_db: float = 15.0
    lstr_db: float = 18.0
    ds: float = 3.0
    dr: float = 3.0
    telr_db: float = 65.0
    wepl_db: float = 110.0
    t_ms: float = 0.0
    tr_ms: float = 0.0
    ta_ms: float = 0.0
    qdu: float = 1.0
    ie: float = 0.0
    bpl: float = 4.3
    ppl_pct: float = 0.0
    burst_ratio: float = 1.0
    nc_dbm0p: float = -70.0
    nfor_dbmp: float = -64.0
    ps_dba: float = 35.0
    pr_dba: float = 35.0
    a: float = 0.0
    mt_ms: float = 100.0
    st: float = 1.0


@dataclass(frozen=True)
class Rating:
    """The terms of R (G.107 clause 7.1) and the MOS-CQE derived from it (Annex B).

    Attributes
    ----------
    r : float
        Transmission rating factor R = ro - is_ - id_ - ie_eff + a (not clamped).
    mos_cqe : float
        MOS-CQE from R (:func:`mos_cqe`), 1 to 4.5.
    ro : float
        Basic signal-to-noise ratio Ro (clause 7.2).
    is_ : float
        Simultaneous impairment factor Is (clause 7.3).
    id_ : float
        Delay impairment factor Id = idte + idle + idd (clause 7.4).
    idte, idle, idd : float
        Talker echo, listener echo and too-long absolute delay impairments.
    ie_eff : float
        Effective equipment impairment factor Ie,eff (clause 7.5).
    a : float
        Advantage factor A (clause 7.6).
    """

    r: float
    mos_cqe: float
    ro: float
    is_: float
    id_: float
    idte: float
    idle: float
    idd: float
    ie_eff: float
    a: float


def _noise_no(p: EModelInput) -> float:
    """Total noise power No, dBm0p: G.107 clause 7.2 (Nc, Nos, Nor, Nfo power-summed)."""
    olr = p.slr_db + p.rlr_db
    nos = p.ps_dba - p.slr_db - p.ds - 100 + 0.004 * (p.ps_dba - olr - p.ds - 14) ** 2
    pre = p.pr_dba + 10 * math.log10(1 + 10 ** ((10 - p.lstr_db) / 10))
    nor = p.rlr_db - 121 + pre + 0.008 * (pre - 35) ** 2
    nfo = p.nfor_dbmp + p.rlr_db
    return 10 * math.log10(10 ** (p.nc_dbm0p / 10) + 10 ** (nos / 10) + 10 ** (nor / 10)
                           + 10 ** (nfo / 10))


def _sidetone_ist(p: EModelInput) -> float:
    """Ist, the impairment of non-optimum sidetone: G.107 clause 7.3 (STMRo from STMR, TELR, T)."""
    stmro = -10 * math.log10(10 ** (-p.stmr_db / 10) + math.exp(-p.t_ms / 4)
                             * 10 ** (-p.telr_db / 10))
    return (12 * (1 + ((stmro - 13) / 6) ** 8) ** (1 / 8)
            - 28 * (1 + ((stmro + 1) / 19.4) ** 35) ** (1 / 35)
            - 13 * (1 + ((stmro - 3) / 33) ** 13) ** (1 / 13) + 29)


def delay_impairment(ta_ms: float, *, mt_ms: float = 100.0, st: float = 1.0) -> float:
    """Idd, the impairment of too-long absolute delay Ta: G.107 (06/2015) clause 7.4.

    Parameters
    ----------
    ta_ms : float
        Absolute one-way (mouth-to-ear) delay, ms.
    mt_ms : float
        Minimum perceivable delay mT, ms (Table 3 default 100).
    st : float
        Delay sensitivity sT (default 1).

    Returns
    -------
    float
        0 for Ta <= mT, else ``25 {(1 + X^6sT)^(1/6sT) - 3 (1 + (X/3)^6sT)^(1/6sT) + 2}``
        with ``X = log10(Ta / mT) / log10(2)``; R units.
    """
    if ta_ms <= mt_ms:
        return 0.0
    x = math.log10(ta_ms / mt_ms) / math.log10(2)
    e = 6 * st
    return 25 * ((1 + x ** e) ** (1 / e) - 3 * (1 + (x / 3) ** e) ** (1 / e) + 2)


def effective_equipment_impairment(ie: float, bpl: float, ppl_pct: float,
                                   burst_ratio: float = 1.0) -> float:
    """Ie,eff = Ie + (95 - Ie) * Ppl / (Ppl / BurstR + Bpl): G.107 (06/2015) clause 7.5.

    Parameters
    ----------
    ie : float
        Equipment impairment factor of the codec at zero loss (G.113 Appendix I), R units.
    bpl : float
        Packet-loss robustness factor of the codec (G.113 Appendix I), > 0.
    ppl_pct : float
        Packet-loss probability, % (0 to 100): for a VoIP receiver, the packets
        lost on the network plus those its jitter buffer discarded as late.
    burst_ratio : float
        BurstR (>= 1 in G.107 Table 3; 1 for random loss).

    Returns
    -------
    float
        Ie,eff, R units: ``ie`` at zero loss, approaching 95 as the loss grows.
    """
    if ppl_pct <= 0:
        return ie
    return ie + (95 - ie) * ppl_pct / (ppl_pct / burst_ratio + bpl)


def mos_cqe(r: float) -> float:
    """MOS-CQE from the rating factor R: ITU-T G.107 (06/2015) Annex B.

    Parameters
    ----------
    r : float
        Transmission rating factor.

    Returns
    -------
    float
        1 for R < 0, ``1 + 0.035 R + R (R - 60) (100 - R) 7e-6`` for 0 <= R <= 100,
        4.5 for R > 100 (the polynomial meets both ends: 1 at 0, 4.5 at 100). For
        0 < R < 6.5 the polynomial dips to 0.99; the result is kept on the MOS
        scale, at least 1.
    """
    if r < 0:
        return 1.0
    if r > 100:
        return 4.5
    return max(1.0, 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6)


def rate(params: EModelInput | None = None, /, **overrides: float) -> Rating:
    """The transmission rating R and MOS-CQE: ITU-T G.107 (06/2015) clause 7 and Annex B.

    Parameters
    ----------
    params : EModelInput, optional
        Every parameter; Table 3 defaults when omitted.
    **overrides : float
        Fields of :class:`EModelInput` to change, e.g. ``rate(ta_ms=150, ppl_pct=2)``.

    Returns
    -------
    Rating
        R and its terms. With every default: R = 93.2 (93.19...), MOS-CQE 4.41.

    Notes
    -----
    Ro = 15 - 1.5 (SLR + No) (clause 7.2). Is = Iolr + Ist + Iq (clause 7.3) with
    Xolr = OLR + 0.2 (64 + No - RLR), Iolr = 20 [(1 + (Xolr/8)^8)^(1/8) - Xolr/8],
    Iq = 15 log10(1 + 10^Y + 10^Z), Y = (Ro - 100)/15 + 46/8.4 - G/9,
    Z = 46/30 - G/40, G = 1.07 + 0.258 Q + 0.0602 Q^2, Q = 37 - 15 log10(qdu).
    Id = Idte + Idle + Idd (clause 7.4): Idte = [(Roe - Re)/2 + sqrt((Roe - Re)^2/4
    + 100) - 1] (1 - e^-T) with Roe = -1.5 (No - RLR), Re = 80 + 2.5 (TERV - 14),
    TERV = TELR - 40 log10((1 + T/10)/(1 + T/150)) + 6 e^(-0.3 T^2) (TERV + Ist/2
    when STMR < 9 dB; Idte = 0 for T < 1 ms, where the echo is heard as sidetone;
    sqrt(Idte^2 + Ist^2) when STMR > 20 dB); Idle = (Ro - Rle)/2 + sqrt((Ro - Rle)^2/4
    + 169) with Rle = 10.5 (WEPL + 7) (Tr + 1)^-0.25; Idd: :func:`delay_impairment`.
    """
    p = replace(params or EModelInput(), **overrides) if overrides else (params or EModelInput())
    no = _noise_no(p)
    ro = 15 - 1.5 * (p.slr_db + no)
    olr = p.slr_db + p.rlr_db
    xolr = olr + 0.2 * (64 + no - p.rlr_db)
    iolr = 20 * ((1 + (xolr / 8) ** 8) ** (1 / 8) - xolr / 8)
    ist = _sidetone_ist(p)
    q = 37 - 15 * math.log10(p.qdu)
    g = 1.07 + 0.258 * q + 0.0602 * q ** 2
    y = (ro - 100) / 15 + 46 / 8.4 - g / 9
    z = 46 / 30 - g / 40
    iq = 15 * math.log10(1 + 10 ** y + 10 ** z)
    is_ = iolr + ist + iq
    if p.t_ms < 1:
        idte = 0.0
    else:
        terv = (p.telr_db - 40 * math.log10((1 + p.t_ms / 10) / (1 + p.t_ms / 150))
                + 6 * math.exp(-0.3 * p.t_ms ** 2))
        if p.stmr_db < 9:
            terv += ist / 2
        roe = -1.5 * (no - p.rlr_db)
        re = 80 + 2.5 * (terv - 14)
        idte = ((roe - re) / 2 + math.sqrt((roe - re) ** 2 / 4 + 100) - 1) \
            * (1 - math.exp(-p.t_ms))
    if p.stmr_db > 20:
        idte = math.sqrt(idte ** 2 + ist ** 2)
    rle = 10.5 * (p.wepl_db + 7) * (p.tr_ms + 1) ** -0.25
    idle = (ro - rle) / 2 + math.sqrt((ro - rle) ** 2 / 4 + 169)
    idd = delay_impairment(p.ta_ms, mt_ms=p.mt_ms, st=p.st)
    id_ = idte + idle + idd
    ie_eff = effective_equipment_impairment(p.ie, p.bpl, p.ppl_pct, p.burst_ratio)
    r = ro - is_ - id_ - ie_eff + p.a
    return Rating(r, mos_cqe(r), ro, is_, id_, idte, idle, idd, ie_eff, p.a)


# --------------------------------------------------------------------------- G.113 table


@dataclass(frozen=True)
class CodecImpairment:
    """Ie and Bpl of one codec, with where they come from.

    Attributes
    ----------
    codec : str
        RTP encoding name (``PCMU``...).
    ie : float
        Equipment impairment factor, R units.
    bpl : float
        Packet-loss robustness factor.
    plc : bool
        Whether the values assume packet-loss concealment at the receiver.
    source : str
        The table row the values come from.
    """

    codec: str
    ie: float
    bpl: float
    plc: bool
    source: str


#: ITU-T G.113 Appendix I (provisional planning values for the narrowband E-model):
#: encoding -> (Ie, Bpl without PLC, Bpl with PLC, row). ``None``: the codec conceals
#: losses natively, so the one value holds with or without a receiver PLC.
CODEC_IMPAIRMENTS: dict[str, tuple[float, float | None, float, str]] = {
    "PCMU": (0.0, 4.3, 25.1, "G.711 (mu-law)"),
    "PCMA": (0.0, 4.3, 25.1, "G.711 (A-law)"),
    "G729": (11.0, None, 19.0, "G.729A + VAD, 8 kbit/s, native concealment"),
}

#: Why a known encoding is not in the table (anything else: "no G.113 Appendix I entry").
_NOT_IN_G113 = {
    "L8": "linear PCM carries no codec impairment that G.113 Appendix I tabulates: the "
          "E-model gives no Ie/Bpl for it",
    "L16": "linear PCM carries no codec impairment that G.113 Appendix I tabulates: the "
           "E-model gives no Ie/Bpl for it",
    "L24": "linear PCM carries no codec impairment that G.113 Appendix I tabulates: the "
           "E-model gives no Ie/Bpl for it",
    "G722": "G.722 is wideband: G.113 gives it only wideband values (Ie,WB for the G.107.1 "
            "wideband E-model on the 0-129 scale), not the narrowband Ie/Bpl of G.107, and "
            "this tool rates narrowband G.107 only",
    "opus": "G.113 Appendix I gives no Ie/Bpl for Opus",
    "telephone-event": "telephone-event (RFC 4733) carries DTMF, not speech",
    "CN": "comfort noise (RFC 3389) carries no speech",
}


def codec_impairment(codec: str | None, *, plc: bool = False) -> CodecImpairment | str:
    """Ie and Bpl of a codec from ITU-T G.113 Appendix I, or why there are none.

    Parameters
    ----------
    codec : str or None
        RTP encoding name, e.g. ``"PCMU"``; None when the payload type is unknown.
    plc : bool
        The receiver conceals lost packets (for G.711: the PLC of G.711
        Appendix I, Bpl 25.1 instead of 4.3).

    Returns
    -------
    CodecImpairment or str
        The values and their source, or a one-line reason why the stream
        cannot be rated (never a default number).
    """
    if codec is None:
        return "the payload type is unknown (dynamic, and no SDP names it): give it with " \
               "--payload-type PT=ENC/RATE"
    row = CODEC_IMPAIRMENTS.get(codec)
    if row is None:
        return _NOT_IN_G113.get(codec, f"G.113 Appendix I gives no Ie/Bpl for {codec}")
    ie, bpl_plain, bpl_plc, name = row
    if bpl_plain is None:
        return CodecImpairment(codec, ie, bpl_plc, True,
                               f"ITU-T G.113 Appendix I: {name}: Ie {ie:g}, Bpl {bpl_plc:g}")
    bpl = bpl_plc if plc else bpl_plain
    how = "with PLC (G.711 Appendix I)" if plc else "without PLC"
    return CodecImpairment(codec, ie, bpl, plc,
                           f"ITU-T G.113 Appendix I: {name} {how}: Ie {ie:g}, Bpl {bpl:g}")
