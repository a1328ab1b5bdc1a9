#!/usr/bin/env python3
"""Loopback RTP sender at real rate, and the AES67 receive benchmark.

Send a stereo 997/1499 Hz tone as L24 48 kHz, 1 ms packets (AES67 defaults)
to 127.0.0.1 at real rate (absolute deadlines, so no drift accumulates)::

    python3 tests/tools/rtp_sender.py --to 127.0.0.1:22050 --packets 5000

Send several AES67 streams at once (distinct SSRCs, one destination port) for
a given time, paced together on absolute ``time.perf_counter`` deadlines,
all packets due at one tick sent in one batch; prints what it achieved::

    python3 tests/tools/rtp_sender.py --to 127.0.0.1:22050 --streams 2 --duration-s 10

Measure whether ``validator.rtp.listen`` keeps up with it (it listens in a
thread of this process, the sender runs in a subprocess, everything on
127.0.0.1)::

    python3 tests/tools/rtp_sender.py --bench --packets 5000

Only 127.0.0.1 is accepted as destination: this tool never sends to a real
network.
"""

from __future__ import annotations

import argparse
import json
import math
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

LOOPBACK = "127.0.0.1"
ROOT = Path(__file__).resolve().parents[2]


TONES_HZ = (997.0, 1499.0, 2003.0, 499.0, 3001.0, 751.0, 1201.0, 4001.0)


def l24_payloads(n_packets: int, *, rate: int = 48000, channels: int = 2,
                 samples_per_packet: int = 48, level: float = 0.5,
                 first_tone: int = 0) -> list[bytes]:
    """Big-endian 24-bit interleaved payloads of a 997 Hz (left) / 1499 Hz (right) tone.

    ``first_tone`` shifts the channels along ``TONES_HZ`` (stream 2 gets
    2003 / 499 Hz with 2). All tones are whole hertz, so at 48 kHz the
    payloads repeat exactly every second (1000 packets of 1 ms).
    """
    freqs = [TONES_HZ[(first_tone + c) % len(TONES_HZ)] for c in range(channels)]
    out = []
    for k in range(n_packets):
        buf = bytearray()
        for i in range(samples_per_packet):
            t = (k * samples_per_packet + i) / rate
            for f in freqs:
                v = int(round(level * 8388607 * math.sin(2 * math.pi * f * t)))
                buf += (v & 0xFFFFFF).to_bytes(3, "big")
        out.append(bytes(buf))
    return out


def rtp_packet(pt: int, seq: int, ts: int, ssrc: int, payload: bytes, marker: bool = False
               ) -> bytes:
    """RTP v2 header (RFC 3550 5.1) + payload."""
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF,
                       ts & 0xFFFFFFFF, ssrc) + payload


def send(dest: tuple[str, int], payloads: list[bytes], *, pt: int = 97, ptime_s: float = 0.001,
         samples_per_packet: int = 48, ssrc: int = 0x0AE56700, first_seq: int = 65000,
         first_ts: int = 4_294_900_000) -> dict:
    """Send ``payloads`` as RTP at real rate; return timing figures.

    The first sequence number and timestamp sit just before their wraps, so a
    5000-packet run crosses both 65535 -> 0 and 2**32 -> 0.
    """
    if dest[0] != LOOPBACK:
        raise ValueError(f"only {LOOPBACK} is allowed, got {dest[0]!r}")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((LOOPBACK, 0))
    t0 = time.perf_counter()
    late = 0
    worst = 0.0
    for k, pl in enumerate(payloads):
        due = t0 + k * ptime_s
        while True:
            now = time.perf_counter()
            if now >= due:
                break
            if due - now > 0.002:
                time.sleep(due - now - 0.001)
        lag = now - due
        worst = max(worst, lag)
        late += lag > 0.001
        sock.sendto(rtp_packet(pt, first_seq + k, first_ts + k * samples_per_packet, ssrc, pl,
                               marker=k == 0), dest)
    elapsed = time.perf_counter() - t0
    sock.close()
    return {"sent": len(payloads), "elapsed_s": round(elapsed, 3),
            "late_over_1ms": late, "worst_lag_ms": round(worst * 1000, 3)}


def send_streams(dest: tuple[str, int], n_streams: int, duration_s: float, *, pt: int = 97,
                 ptime_s: float = 0.001, channels: int = 2, first_ssrc: int = 0x0AE56700,
                 first_seq: int = 60000, first_ts: int = 4_294_000_000) -> dict:
    """Send ``n_streams`` AES67 streams for ``duration_s`` seconds; return what was achieved.

    Parameters
    ----------
    dest : (str, int)
        127.0.0.1 and a UDP port; every stream goes there.
    n_streams : int
        Streams, SSRC ``first_ssrc + i``, tones shifted by 2 per stream.
    duration_s : float
        Sending time, s: ``round(duration_s / ptime_s)`` packets per stream.
    ptime_s : float
        Packet time, s (48 samples at 1 ms).

    Returns
    -------
    dict
        ``streams`` (ssrc, first_seq, sent), ``sent``, ``elapsed_s`` (first
        to last send), ``target_pps``, ``achieved_pps``, ``late_ticks_over_1ms``
        (ticks sent more than 1 ms after their deadline), ``worst_lag_ms``,
        ``max_batch_ticks`` (most ticks sent in one wake-up, when catching
        up), ``cpu_s`` (this process).

    Notes
    -----
    Tick ``k`` is due at ``t0 + k * ptime_s`` (absolute, so sleeping late
    never accumulates drift). On each wake-up every tick already due is sent
    at once, each tick one packet per stream.
    """
    if dest[0] != LOOPBACK:
        raise ValueError(f"only {LOOPBACK} is allowed, got {dest[0]!r}")
    spp = round(48000 * ptime_s)
    period = round(1.0 / ptime_s)  # payloads repeat every second
    payloads = [l24_payloads(period, channels=channels, samples_per_packet=spp,
                             first_tone=2 * i) for i in range(n_streams)]
    n_ticks = round(duration_s / ptime_s)
    hdr = struct.Struct("!BBHII")
    ssrcs = [first_ssrc + i for i in range(n_streams)]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    sock.bind((LOOPBACK, 0))
    sendto, perf, sleep = sock.sendto, time.perf_counter, time.sleep
    cpu0 = time.process_time()
    t0 = perf() + 0.01
    k = late = max_batch = 0
    worst = 0.0
    t_last = t0
    while k < n_ticks:
        now = perf()
        due = t0 + k * ptime_s
        if now < due:
            sleep(due - now)
            continue
        k_end = min(n_ticks, int((now - t0) / ptime_s) + 1)
        max_batch = max(max_batch, k_end - k)
        lag = now - due
        worst = max(worst, lag)
        late += sum(1 for kk in range(k, k_end) if now - (t0 + kk * ptime_s) > 0.001)
        for kk in range(k, k_end):
            seq, ts, pl = (first_seq + kk) & 0xFFFF, (first_ts + kk * spp) & 0xFFFFFFFF, kk % period
            for i, ssrc in enumerate(ssrcs):
                sendto(hdr.pack(0x80, (0x80 if kk == 0 else 0) | pt, seq, ts, ssrc)
                       + payloads[i][pl], dest)
        t_last = perf()
        k = k_end
    elapsed = t_last - t0
    cpu = time.process_time() - cpu0
    sock.close()
    sent = n_ticks * n_streams
    return {"streams": [{"ssrc": f"0x{x:08X}", "first_seq": first_seq & 0xFFFF, "sent": n_ticks}
                        for x in ssrcs],
            "sent": sent, "elapsed_s": round(elapsed, 3),
            "target_pps": round(n_streams / ptime_s),
            "achieved_pps": round(sent / elapsed, 1) if elapsed > 0 else None,
            "late_ticks_over_1ms": late, "worst_lag_ms": round(worst * 1000, 3),
            "max_batch_ticks": max_batch, "cpu_s": round(cpu, 3)}


def bench(n_packets: int, port: int) -> dict:
    """Listen (thread) while a subprocess sends ``n_packets`` AES67 packets; return figures."""
    sys.path.insert(0, str(ROOT))
    from validator.rtp import analyze, read_capture
    from validator.rtp.listen import listen

    with tempfile.TemporaryDirectory() as tmp:
        pcap = Path(tmp) / "aes67.pcap"
        ready = threading.Event()
        box: dict = {}

        def rx() -> None:
            box["result"] = listen(port, pcap_path=pcap, duration_s=n_packets / 1000 + 20,
                                   idle_timeout_s=1.0, on_ready=ready.set)

        th = threading.Thread(target=rx, daemon=True)
        th.start()
        ready.wait(5)
        proc = subprocess.run([sys.executable, __file__, "--to", f"{LOOPBACK}:{port}",
                               "--packets", str(n_packets)], capture_output=True, text=True,
                              timeout=n_packets / 1000 + 30, check=True)
        th.join(n_packets / 1000 + 30)
        res = box["result"]
        cap = read_capture(pcap, port=port, payload_types={97: "L24/48000/2"})
        st = analyze(cap.streams[0]) if cap.streams else None
        return {"sender": json.loads(proc.stdout), "received": res.packets,
                "kernel_drops": res.kernel_drops, "rcvbuf_bytes": res.rcvbuf_bytes,
                "kernel_timestamps": res.kernel_timestamps,
                "lost": st.lost if st else None, "seq_wraps": st.seq_wraps if st else None,
                "max_jitter_ms": st.max_jitter_ms if st else None,
                "mean_jitter_ms": st.mean_jitter_ms if st else None}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--to", default=f"{LOOPBACK}:22050", help="127.0.0.1:PORT")
    ap.add_argument("--packets", type=int, default=5000)
    ap.add_argument("--channels", type=int, default=2)
    ap.add_argument("--ptime-us", type=int, default=1000, help="packet time, us (1000 or 125)")
    ap.add_argument("--bench", action="store_true", help="listen in-process and report drops")
    ap.add_argument("--streams", type=int, default=0,
                    help="send this many streams for --duration-s instead of --packets")
    ap.add_argument("--duration-s", type=float, default=10.0,
                    help="with --streams: sending time, s (default 10)")
    args = ap.parse_args(argv)
    host, _, port_text = args.to.rpartition(":")
    port = int(port_text)
    if args.streams:
        print(json.dumps(send_streams((host, port), args.streams, args.duration_s,
                                      ptime_s=args.ptime_us / 1e6, channels=args.channels)),
              flush=True)
        return 0
    if args.bench:
        print(json.dumps(bench(args.packets, port), indent=1))
        return 0
    spp = 48 * args.ptime_us // 1000
    payloads = l24_payloads(args.packets, channels=args.channels, samples_per_packet=spp)
    print(json.dumps(send((host, port), payloads, ptime_s=args.ptime_us / 1e6,
                          samples_per_packet=spp)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
