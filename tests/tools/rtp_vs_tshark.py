#!/usr/bin/env python3
"""Compare ``audio-validator``'s RTP stream statistics with ``tshark -z rtp,streams``.

Used by ``tests/test_rtp_tshark.py`` and runnable on its own to print the
comparison table for every capture in ``../shared/captures`` and every
``../shared/real/*/received.pcap``::

    python3 tests/tools/rtp_vs_tshark.py            # needs tshark on PATH
    python3 tests/tools/rtp_vs_tshark.py --timing   # also time both on the largest capture

Where tshark prints jitter -1 (a dynamic payload type without SDP), the
capture is copied with a SAP/SDP announcement prepended (:func:`prepend_sap`)
so that tshark knows the clock rate, and our side reads the same copy (and
so learns the payload type from the SAP packet too).
"""

from __future__ import annotations

import argparse
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
#: Dynamic payload types of the public captures that carry no SDP (from their README). The real
#: captures name theirs in ``tshark_streams.txt`` (see :func:`stored_rtpmap`).
DYNAMIC_PT = {
    "pilist_l16_48000_2ch_1ms.pcap": (98, "L16/48000/2"),
}
_RTPMAP = re.compile(r"a=rtpmap:(\d+) ([^\s)]+)")

_ROW = re.compile(
    r"^\s*(?P<start>[\d.]+)\s+(?P<end>[\d.]+)\s+(?P<src>\S+)\s+(?P<sport>\d+)\s+(?P<dst>\S+)\s+"
    r"(?P<dport>\d+)\s+(?P<ssrc>0x[0-9A-Fa-f]+)\s+(?P<payload>.+?)\s+(?P<pkts>\d+)\s+"
    r"(?P<lost>-?\d+)\s+\((?P<pct>[-\d.]+)%\)\s+(?P<mind>-?[\d.]+)\s+(?P<meand>-?[\d.]+)\s+"
    r"(?P<maxd>-?[\d.]+)\s+(?P<minj>-?[\d.]+)\s+(?P<meanj>-?[\d.]+)\s+(?P<maxj>-?[\d.]+)"
    r"\s*(?P<problem>X?)\s*$")


@dataclass(frozen=True)
class TsharkRow:
    """One row of ``tshark -z rtp,streams`` (TShark 4.x layout)."""

    start_s: float
    end_s: float
    src: str
    sport: int
    dst: str
    dport: int
    ssrc: int
    payload: str
    packets: int
    lost: int
    min_delta_ms: float
    mean_delta_ms: float
    max_delta_ms: float
    min_jitter_ms: float
    mean_jitter_ms: float
    max_jitter_ms: float
    problem: bool

    @property
    def key(self) -> tuple[str, int, str, int, int]:
        return (self.src, self.sport, self.dst, self.dport, self.ssrc)


def parse_tshark_streams(text: str) -> list[TsharkRow]:
    """Rows of every ``RTP Streams`` table in ``text`` (comment lines are ignored)."""
    rows = []
    for line in text.splitlines():
        m = _ROW.match(line)
        if m:
            g = m.groupdict()
            rows.append(TsharkRow(float(g["start"]), float(g["end"]), g["src"], int(g["sport"]),
                                  g["dst"], int(g["dport"]), int(g["ssrc"], 16),
                                  g["payload"].strip(), int(g["pkts"]), int(g["lost"]),
                                  float(g["mind"]), float(g["meand"]), float(g["maxd"]),
                                  float(g["minj"]), float(g["meanj"]), float(g["maxj"]),
                                  g["problem"] == "X"))
    return rows


def run_tshark(path: Path, *, port: int | None = None, timeout_s: float = 60.0) -> str:
    """``tshark -n -q -r PATH -z rtp,streams`` (heuristics on, or Decode As on ``port``)."""
    exe = shutil.which("tshark")
    if exe is None:
        raise FileNotFoundError("tshark")
    cmd = [exe, "-n", "-q", "-r", str(path)]
    cmd += ["-d", f"udp.port=={port},rtp"] if port else ["--enable-heuristic", "rtp_udp"]
    cmd += ["-z", "rtp,streams"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    return out.stdout


def prepend_sap(src: Path, dst: Path, sdp_lines: list[str], *, connection: str) -> None:
    """Copy an Ethernet classic pcap with one SAP/SDP announcement 1 ms before its first frame."""
    sys.path.insert(0, str(ROOT))
    from validator.rtp.pcap import udp_frame

    data = src.read_bytes()
    magic = data[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    per_s = 1_000_000_000 if magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d") else 1_000_000
    if struct.unpack(endian + "I", data[20:24])[0] != 1:
        raise ValueError("Ethernet link type only")
    sdp = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=injected\r\n"
           f"c=IN IP4 {connection}\r\nt=0 0\r\n" + "\r\n".join(sdp_lines) + "\r\n").encode()
    sap = b"\x20\x00\x12\x34" + bytes([127, 0, 0, 1]) + b"application/sdp\x00" + sdp
    frame = udp_frame("127.0.0.1", 9875, "239.255.255.255", 9875, sap)
    sec, frac = struct.unpack(endian + "II", data[24:32])
    t = sec * per_s + frac - per_s // 1000
    rec = struct.pack(endian + "IIII", t // per_s, t % per_s, len(frame), len(frame)) + frame
    dst.write_bytes(data[:24] + rec + data[24:])


def stored_rtpmap(tshark_text: str) -> tuple[int, str] | None:
    """The ``(payload type, "ENC/clock[/channels]")`` of the SDP that a real capture's stored
    ``tshark_streams.txt`` prepended for its dynamic payload type, or None (a static one)."""
    m = _RTPMAP.search(tshark_text)
    return (int(m.group(1)), m.group(2)) if m else None


@dataclass(frozen=True)
class Case:
    """One capture to compare: the file, its Decode-As port and dynamic payload type."""

    name: str
    path: Path
    port: int | None = None
    dynamic: tuple[int, str] | None = None


def cases(shared: Path = SHARED) -> list[Case]:
    """Every public capture and every real received.pcap in ``shared``."""
    out = []
    for p in sorted((shared / "captures").glob("*")):
        if p.suffix in (".pcap", ".cap", ".pcapng"):
            out.append(Case(p.name, p, None, DYNAMIC_PT.get(p.name)))
    for d in sorted((shared / "real").glob("*/")):
        pcap, txt = d / "received.pcap", d / "tshark_streams.txt"
        if pcap.is_file() and txt.is_file():
            text = txt.read_text()
            m = re.search(r"udp\.port==(\d+)", text)
            out.append(Case(f"real/{d.name}", pcap, int(m.group(1)) if m else None,
                            stored_rtpmap(text)))
    return out


def compare(case: Case, workdir: Path) -> list[dict]:
    """Rows of ours vs tshark for one case (SAP copy when the payload type is dynamic)."""
    from validator.rtp import analyze, read_capture

    path = case.path
    if case.dynamic:
        cap0 = read_capture(path, port=case.port)
        s0 = cap0.streams[0]
        pt, fmt = case.dynamic
        path = workdir / f"sap_{case.path.parent.name}_{case.path.name}"
        prepend_sap(case.path, path, [f"m=audio {s0.dport} RTP/AVP {pt}",
                                      f"a=rtpmap:{pt} {fmt}"], connection=s0.dst)
    t_rows = {r.key: r for r in parse_tshark_streams(run_tshark(path, port=case.port))}
    ours = {s.key: analyze(s) for s in read_capture(path, port=case.port).streams}
    rows = []
    for key in sorted(set(t_rows) | set(ours), key=str):
        t, o = t_rows.get(key), ours.get(key)
        rows.append({"case": case.name, "sap": bool(case.dynamic), "key": key, "tshark": t,
                     "ours": o})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--timing", action="store_true", help="time tshark and us on the largest")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{'capture':<48} {'stream':<11} {'pkts ours/ts':>13} {'lost ours/ts':>13} "
              f"{'max jit ours/ts':>17} {'mean jit ours/ts':>17}")
        for case in cases():
            for r in compare(case, Path(tmp)):
                t, o = r["tshark"], r["ours"]
                name = case.name + (" (+SAP)" if r["sap"] else "")

                def j(v: float | None) -> str:
                    return "None" if v is None else f"{v:.3f}"

                print(f"{name:<48} 0x{r['key'][4]:08X} "
                      f"{(o.packets if o else '-')!s:>6}/{(t.packets if t else '-')!s:<6} "
                      f"{(o.lost if o else '-')!s:>6}/{(t.lost if t else '-')!s:<6} "
                      f"{j(o.max_jitter_ms) if o else '-':>8}/{t.max_jitter_ms if t else '-':<8} "
                      f"{j(o.mean_jitter_ms) if o else '-':>8}/{t.mean_jitter_ms if t else '-':<8}")
    if args.timing:
        big = SHARED / "captures" / "pilist_l16_48000_2ch_1ms.pcap"
        t0 = time.perf_counter()
        run_tshark(big)
        t_ts = time.perf_counter() - t0
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "validator", "rtp", str(big), "--payload-type",
                        "98=L16/48000/2", "--events"], capture_output=True, check=True)
        t_cli = time.perf_counter() - t0
        from validator.rtp import analyze, decode, read_capture

        t0 = time.perf_counter()
        cap = read_capture(big, payload_types={98: "L16/48000/2"})
        t_read = time.perf_counter() - t0
        t0 = time.perf_counter()
        st = analyze(cap.streams[0])
        t_an = time.perf_counter() - t0
        t0 = time.perf_counter()
        dec = decode(cap.streams[0])
        t_dec = time.perf_counter() - t0
        print(f"\n{big.name}: {st.packets} packets, {dec.duration_s:.2f} s of audio")
        print(f"  tshark -z rtp,streams (process):        {t_ts:.3f} s")
        print(f"  audio-validator rtp --events (process): {t_cli:.3f} s")
        print(f"  in-process: read {t_read:.3f} s, analyze {t_an:.3f} s, decode {t_dec:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
