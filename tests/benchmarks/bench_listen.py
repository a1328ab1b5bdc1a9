#!/usr/bin/env python3
"""Live receiver under load: two AES67 streams through the seeded loss proxy.

Three processes on 127.0.0.1, each started here and ended by its PID::

    rtp_sender.py (2 x L24/48 kHz/2 ch, 1 ms) -> udp_impair_proxy.py (seeded loss, CSV log)
        -> receiver (validator.rtp.listen.listen, in its own process)

Truth is the proxy's own log (one row per datagram it received, with its
sequence number, SSRC and ``dropped`` / ``forwarded``), never this project's
code. The benchmark prints, per stream, packets sent / received / lost against
the proxy's drops, the kernel drops of both sockets, the receiver's peak RSS
at 1, 5 and 10 minutes, its CPU share, the sender's achieved rate and whether
the live display kept its one-second schedule. The receiver also streams each
stream's decoded audio to a WAV; that WAV is compared, frame for frame, with
what the sender sent, the packets the proxy dropped zeroed::

    python tests/benchmarks/bench_listen.py                     # 10 min (600 s)
    python tests/benchmarks/bench_listen.py --duration-s 30 --loss 0.005 --seed 10

Exit code 0 when every figure meets its limit (loss equal to the proxy's
drops per stream, 0 kernel drops, RSS flat within 10 %, display lag under
0.5 s, each WAV equal to the sent audio with the dropped packets zeroed), 1
otherwise. ``tests/test_rtp_live.py`` runs a 10 s version.

The receiver role (``--receive``) is internal: it runs :func:`listen` with a
status display written to its stderr and prints the result as JSON.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tests" / "tools"
LOOPBACK = "127.0.0.1"
PAYLOAD_TYPE = 97
#: Times since the sender started at which the receiver's RSS is read, s.
RSS_AT_S = (60.0, 300.0, 600.0)
RSS_FLAT_TOLERANCE = 0.10
DISPLAY_LAG_LIMIT_S = 0.5


@dataclass(frozen=True)
class StreamFigures:
    """One stream: what was sent, what the proxy did, what the receiver reported.

    Attributes
    ----------
    ssrc : int
    sent : int
        Packets the sender sent.
    proxy_received : int
        Rows of this SSRC in the proxy log.
    proxy_dropped : int
        Rows marked ``dropped``.
    proxy_dropped_in_span : int
        Of those, the ones between the first and last forwarded packet of the
        stream (a receiver cannot see a loss before its first packet or after
        its last).
    received : int
        Packets the receiver counted.
    lost : int
        The receiver's loss count (expected - received).
    lost_seqs_equal : bool
        The receiver's loss events name exactly the sequence numbers the
        proxy dropped inside the span, in the same order.
    lost_not_dropped : int
        Sequence numbers the receiver reported lost that the proxy did not
        drop (kernel drops on either socket land here).
    dropped_not_lost : int
        Sequence numbers the proxy dropped inside the span that the receiver
        did not report lost.
    wav_frames : int
        Frames in the stream's WAV written live by the receiver.
    wav_zero_filled_frames : int
        Of those, frames the receiver zero-filled for missing packets.
    wav_mismatched_frames : int or None
        Frames of that WAV that differ from the sent audio with the proxy's
        drops zeroed, over the span from the first to the last forwarded
        packet; None when it cannot be checked (no WAV, or the proxy log
        misses packets so its rows are not the sender's ticks).
    """

    ssrc: int
    sent: int
    proxy_received: int
    proxy_dropped: int
    proxy_dropped_in_span: int
    received: int
    lost: int
    lost_seqs_equal: bool
    lost_not_dropped: int
    dropped_not_lost: int
    wav_frames: int = 0
    wav_zero_filled_frames: int = 0
    wav_mismatched_frames: int | None = None


@dataclass(frozen=True)
class BenchResult:
    """All figures of one run (plain numbers; :func:`render` only formats them).

    Attributes
    ----------
    duration_s : float
        Sending time asked for, s.
    loss : float
        Proxy loss probability.
    seed : int
        Proxy seed.
    streams : tuple of StreamFigures
    receiver_kernel_drops : int or None
        ``/proc/net/udp`` drops of the receiver's socket.
    receiver_kernel_drops_ovfl : int or None
        The same counter as reported with each datagram (``SO_RXQ_OVFL``).
    proxy_kernel_drops : int
        Drops on the proxy's own receive socket (its stats line).
    pcap_packets : int
        Records in the receiver's pcap (read back in a streaming pass).
    pcap_bytes : int
        Size of the pcap, bytes.
    rss_peak_kib : dict
        ``{t_s: VmHWM}`` of the receiver at each sampling time, KiB.
    rss_now_kib : dict
        ``{t_s: VmRSS}`` at the same times, KiB.
    receiver_cpu_s : float
        Receiver CPU time (user + system) while the sender ran, s.
    receiver_cpu_share : float
        ``receiver_cpu_s`` / the sender's wall time (1.0 = one core).
    sender : dict
        The sender's own figures (achieved rate, lateness, CPU).
    proxy_cpu_s : float
        Proxy CPU time (user + system) while the sender ran, s.
    status_updates : int
        Display refreshes by the receiver.
    status_max_lag_s : float
        Longest delay of a refresh after its due time, s.
    display_max_interval_s : float
        Longest time between two lines the display actually wrote (from the
        receiver's display file), s: 1 s when it kept up.
    max_backlog_s : float
        Longest time from a datagram's kernel arrival to its processing, s.
    loadavg_start, loadavg_end : tuple of float
        ``/proc/loadavg`` (1, 5, 15 min) before and after.
    """

    duration_s: float
    loss: float
    seed: int
    streams: tuple[StreamFigures, ...]
    receiver_kernel_drops: int | None
    receiver_kernel_drops_ovfl: int | None
    proxy_kernel_drops: int
    pcap_packets: int
    pcap_bytes: int
    rss_peak_kib: dict[float, int]
    rss_now_kib: dict[float, int]
    receiver_cpu_s: float
    receiver_cpu_share: float
    sender: dict
    proxy_cpu_s: float
    status_updates: int
    status_max_lag_s: float
    display_max_interval_s: float
    max_backlog_s: float
    loadavg_start: tuple[float, ...]
    loadavg_end: tuple[float, ...]
    checks: dict[str, bool] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """Every check met."""
        return all(self.checks.values())


# --------------------------------------------------------------------------- receiver role

def _receive(port: int, pcap: str, duration_s: float, idle_timeout_s: float,
             wav_dir: str | None) -> int:
    """Run :func:`listen` with a live display on stderr; print its result as JSON."""
    sys.path.insert(0, str(ROOT))
    from validator.rtp.listen import listen

    def show(line: str) -> None:
        sys.stderr.write(f"{time.monotonic():.3f} {line}\n")
        sys.stderr.flush()

    def ready() -> None:
        print("ready", flush=True)

    r = listen(port, pcap_path=pcap, duration_s=duration_s, idle_timeout_s=idle_timeout_s,
               on_ready=ready, status=show, payload_types={PAYLOAD_TYPE: "L24/48000/2"},
               wav_dir=wav_dir)
    doc = asdict(r)
    doc["streams"] = [dict(asdict(s), loss_seqs=[(e.first_seq + k) & 0xFFFF
                                                 for e in s.loss_events
                                                 for k in range(e.packets)],
                           loss_events=len(s.loss_events)) for s in r.streams]
    print(json.dumps(doc), flush=True)
    return 0


# --------------------------------------------------------------------------- helpers

def _free_udp_ports(n: int, *, lo: int = 23000, hi: int = 23999) -> list[int]:
    import random

    out: list[int] = []
    for port in random.SystemRandom().sample(range(lo, hi + 1), hi - lo + 1):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind((LOOPBACK, port))
            except OSError:
                continue
        out.append(port)
        if len(out) == n:
            return out
    raise RuntimeError(f"no {n} free UDP ports in {lo}-{hi}")


def _stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout_s: float = 10.0) -> None:
    """End one process we started, by its PID: signal, wait, then kill."""
    if proc.poll() is None:
        os.kill(proc.pid, sig)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout_s)


def _proc_status_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process, KiB."""
    vals = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":", 1)
                vals[key] = int(value.split()[0])
    return vals["VmRSS"], vals["VmHWM"]


def _proc_cpu_s(pid: int) -> float:
    """User + system CPU time of a process, s (``/proc/PID/stat``)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _loadavg() -> tuple[float, ...]:
    with open("/proc/loadavg", encoding="ascii") as fh:
        return tuple(float(x) for x in fh.read().split()[:3])


def _pcap_records(path: Path) -> int:
    """Count the records of a pcap in one streaming pass (nothing kept)."""
    n = 0
    with open(path, "rb") as fh:
        magic = fh.read(24)[:4]
        endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        rec = struct.Struct(endian + "IIII")
        while True:
            head = fh.read(16)
            if len(head) < 16:
                return n
            incl = rec.unpack(head)[2]
            fh.seek(incl, os.SEEK_CUR)
            n += 1


def _max_interval_s(display: Path) -> float:
    """Longest gap between the display's scheduled lines (the final line after stop excluded)."""
    with open(display, encoding="utf-8") as fh:
        times = [float(line.split(" ", 1)[0]) for line in fh if line[:1].isdigit()]
    times = times[:-1]
    return max((b - a for a, b in zip(times, times[1:], strict=False)), default=math.nan)


def _proxy_truth(log: Path) -> dict[int, dict]:
    """Per SSRC, from the proxy's CSV: rows, drops, and drops between the first and last forward."""
    rows: dict[int, list[tuple[int, bool]]] = {}
    with open(log, newline="") as fh:
        for r in csv.DictReader(fh):
            if r["ssrc"]:
                rows.setdefault(int(r["ssrc"], 16), []).append(
                    (int(r["seq"]), r["action"] == "dropped"))
    out = {}
    for ssrc, seq_drop in rows.items():
        fwd = [i for i, (_, dropped) in enumerate(seq_drop) if not dropped]
        lo, hi = (fwd[0], fwd[-1]) if fwd else (0, -1)
        out[ssrc] = {"received": len(seq_drop),
                     "dropped": sum(d for _, d in seq_drop),
                     "dropped_in_span": [s for i, (s, d) in enumerate(seq_drop)
                                         if d and lo < i < hi],
                     # row i of an SSRC is the sender's tick i when the proxy saw every packet
                     "first_fwd": lo, "last_fwd": hi,
                     "dropped_rows": {i for i, (_, d) in enumerate(seq_drop) if d}}
    return out


def _wav_mismatches(wav_path: Path, stream_index: int, first_tick: int, last_tick: int,
                    dropped_ticks: set[int]) -> int:
    """Frames of a live-written WAV that differ from the sent audio with drops zeroed.

    The expected audio is rebuilt from :func:`rtp_sender.l24_payloads` (the
    sender's own payloads, which repeat every 1000 ticks), tick by tick from
    ``first_tick`` to ``last_tick``, and compared one second at a time
    (nothing else is held). A length difference counts as mismatched frames.
    """
    import wave

    sys.path.insert(0, str(TOOLS))
    from rtp_sender import l24_payloads

    cycle = l24_payloads(1000, first_tone=2 * stream_index)
    zero = bytes(len(cycle[0]))

    def little(b: bytes) -> bytes:
        out = bytearray(b)
        out[0::3], out[2::3] = b[2::3], b[0::3]
        return bytes(out)

    cycle_le = [little(b) for b in cycle]
    frame_bytes = 6
    bad = 0
    with wave.open(str(wav_path), "rb") as w:
        n_frames = w.getnframes()
        expected_frames = (last_tick - first_tick + 1) * 48
        for k0 in range(first_tick, last_tick + 1, 1000):
            ticks = range(k0, min(k0 + 1000, last_tick + 1))
            want = b"".join(zero if k in dropped_ticks else cycle_le[k % 1000] for k in ticks)
            got = w.readframes(len(ticks) * 48)
            if got != want:
                for f in range(len(want) // frame_bytes):
                    a = f * frame_bytes
                    bad += got[a:a + frame_bytes] != want[a:a + frame_bytes]
    return bad + abs(n_frames - expected_frames)


# --------------------------------------------------------------------------- the run

def run_bench(duration_s: float = 600.0, *, loss: float = 0.005, seed: int = 10,
              n_streams: int = 2, rss_at_s: Sequence[float] = RSS_AT_S,
              workdir: str | os.PathLike[str] | None = None,
              progress: bool = False) -> BenchResult:
    """Run sender -> proxy -> receiver for ``duration_s`` and collect the figures.

    Parameters
    ----------
    duration_s : float
        Sending time, s.
    loss : float
        Proxy random loss probability (0.005 = 0.5 %).
    seed : int
        Proxy seed.
    n_streams : int
        AES67 streams (1000 packets/s each), distinct SSRCs, one port.
    rss_at_s : sequence of float
        Times after the sender starts at which the receiver's RSS is read, s;
        those beyond ``duration_s`` are read at its end instead.
    workdir : path, optional
        Where the pcap and the proxy log go (default: a temporary folder,
        deleted afterwards).
    progress : bool
        Print progress to stderr.

    Returns
    -------
    BenchResult
    """
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="bench_listen_") as tmp:
            return run_bench(duration_s, loss=loss, seed=seed, n_streams=n_streams,
                             rss_at_s=rss_at_s, workdir=tmp, progress=progress)
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    pcap, log, display = work / "rx.pcap", work / "proxy.csv", work / "display.txt"
    proxy_port, rx_port = _free_udp_ports(2)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    margin_s = 30.0
    load0 = _loadavg()
    procs: list[subprocess.Popen] = []
    rss_times = sorted({min(t, duration_s) for t in rss_at_s})
    rss_peak: dict[float, int] = {}
    rss_now: dict[float, int] = {}

    def say(text: str) -> None:
        if progress:
            print(f"[bench_listen] {text}", file=sys.stderr, flush=True)

    with open(display, "w") as display_fh:
        try:
            rx = subprocess.Popen(
                [sys.executable, __file__, "--receive", "--port", str(rx_port),
                 "--pcap", str(pcap), "--duration-s", str(duration_s + margin_s),
                 "--idle-timeout-s", "2", "--wav-dir", str(work / "wav")],
                stdout=subprocess.PIPE, stderr=display_fh, text=True, cwd=ROOT, env=env)
            procs.append(rx)
            assert rx.stdout is not None
            if rx.stdout.readline().strip() != "ready":
                raise RuntimeError("receiver did not start")
            proxy = subprocess.Popen(
                [sys.executable, str(TOOLS / "udp_impair_proxy.py"),
                 "--listen", f"{LOOPBACK}:{proxy_port}", "--forward", f"{LOOPBACK}:{rx_port}",
                 "--loss", str(loss), "--seed", str(seed), "--log", str(log),
                 "--duration", str(duration_s + margin_s)],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
            procs.append(proxy)
            assert proxy.stdout is not None
            if not proxy.stdout.readline().startswith("proxy "):
                raise RuntimeError("proxy did not start")
            say(f"sending {n_streams} x 1000 packets/s for {duration_s:g} s "
                f"(proxy :{proxy_port} -> receiver :{rx_port}, loss {loss}, seed {seed})")
            sender = subprocess.Popen(
                [sys.executable, str(TOOLS / "rtp_sender.py"), "--to",
                 f"{LOOPBACK}:{proxy_port}", "--streams", str(n_streams),
                 "--duration-s", str(duration_s)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            procs.append(sender)
            t0 = time.monotonic()
            cpu0, cpu0_proxy = _proc_cpu_s(rx.pid), _proc_cpu_s(proxy.pid)
            pending = list(rss_times)
            while sender.poll() is None:
                if time.monotonic() - t0 > duration_s + margin_s:
                    raise RuntimeError("the sender did not finish in time")
                el = time.monotonic() - t0
                while pending and el >= pending[0]:
                    rss_now[pending[0]], rss_peak[pending[0]] = _proc_status_kib(rx.pid)
                    say(f"t={pending[0]:g} s receiver RSS {rss_now[pending[0]]} KiB, "
                        f"peak {rss_peak[pending[0]]} KiB")
                    pending.pop(0)
                time.sleep(0.2)
            sender_wall = time.monotonic() - t0
            cpu_rx = _proc_cpu_s(rx.pid) - cpu0
            cpu_proxy = _proc_cpu_s(proxy.pid) - cpu0_proxy
            for t in pending:  # the sender ended before these times: read at its end
                rss_now[t], rss_peak[t] = _proc_status_kib(rx.pid)
            s_out, s_err = sender.communicate(timeout=10)
            if sender.returncode != 0:
                raise RuntimeError(f"sender failed: {s_err.strip()}")
            sent = json.loads(s_out)
            r_out, _ = rx.communicate(timeout=margin_s + 10)  # idle timeout ends it
            rx_doc = json.loads(r_out.strip().splitlines()[-1])
            os.kill(proxy.pid, signal.SIGINT)  # writes its stats and closes the log
            p_out, _ = proxy.communicate(timeout=10)
            proxy_stats = json.loads(p_out.strip().splitlines()[-1].replace("'", '"'))
        finally:
            for p in procs:
                _stop(p)
    truth = _proxy_truth(log)
    figures = []
    sent_by_ssrc = {int(s["ssrc"], 16): s["sent"] for s in sent["streams"]}
    rx_by_ssrc = {s["ssrc"]: s for s in rx_doc["streams"]}
    for index, (ssrc, n_sent) in enumerate(sent_by_ssrc.items()):
        t = truth.get(ssrc, {"received": 0, "dropped": 0, "dropped_in_span": []})
        r = rx_by_ssrc.get(ssrc, {"packets": 0, "lost": 0, "loss_seqs": [], "wav_path": None,
                                  "wav_frames": 0, "zero_filled_frames": 0})
        said, truly = Counter(r["loss_seqs"]), Counter(t["dropped_in_span"])
        mismatched = None
        if r["wav_path"] and t["received"] == n_sent:
            mismatched = _wav_mismatches(Path(r["wav_path"]), index, t["first_fwd"],
                                         t["last_fwd"], t["dropped_rows"])
        figures.append(StreamFigures(ssrc, n_sent, t["received"], t["dropped"],
                                     len(t["dropped_in_span"]), r["packets"], r["lost"],
                                     r["loss_seqs"] == t["dropped_in_span"],
                                     (said - truly).total(), (truly - said).total(),
                                     r["wav_frames"], r["zero_filled_frames"], mismatched))
    kd, kd_ovfl = rx_doc["kernel_drops"], rx_doc["kernel_drops_ovfl"]
    peaks = [rss_peak[t] for t in rss_times]
    pcap_packets = _pcap_records(pcap)
    checks = {
        "sent as asked": all(f.sent == round(duration_s * 1000) for f in figures),
        "proxy saw every packet": all(f.proxy_received == f.sent for f in figures)
        and proxy_stats.get("kernel_drops", 0) == 0,
        "lost == proxy drops, per stream": all(f.lost == f.proxy_dropped_in_span
                                               for f in figures),
        "lost seqs == proxy dropped seqs": all(f.lost_seqs_equal for f in figures),
        "received == proxy forwarded": all(
            f.received == f.proxy_received - f.proxy_dropped for f in figures),
        "0 kernel drops": kd == 0 and kd_ovfl in (0, None),
        "pcap holds every packet": pcap_packets == rx_doc["packets"],
        "RSS flat (10 %)": max(peaks) <= (1 + RSS_FLAT_TOLERANCE) * min(peaks),
        "display kept up": rx_doc["status_max_lag_s"] < DISPLAY_LAG_LIMIT_S
        and _max_interval_s(display) < 1.0 + DISPLAY_LAG_LIMIT_S,
        "WAV == sent audio, drops zeroed": all(f.wav_mismatched_frames == 0 for f in figures),
    }
    return BenchResult(
        duration_s, loss, seed, tuple(figures), kd, kd_ovfl,
        int(proxy_stats.get("kernel_drops", 0)), pcap_packets, pcap.stat().st_size,
        rss_peak, rss_now, cpu_rx, cpu_rx / sender_wall if sender_wall > 0 else math.nan,
        sent, cpu_proxy, rx_doc["status_updates"], rx_doc["status_max_lag_s"],
        _max_interval_s(display), rx_doc["max_backlog_s"], load0, _loadavg(), checks)


def render(res: BenchResult) -> str:
    """The figures as text (computes nothing)."""
    s = res.sender
    lines = [
        f"bench_listen: {len(res.streams)} x AES67 L24/48000/2, 1 ms packets, "
        f"{res.duration_s:g} s, proxy loss {res.loss} seed {res.seed}, 127.0.0.1",
        f"load average before {res.loadavg_start}, after {res.loadavg_end} (2 cores)",
        f"sender: {s['sent']} packets in {s['elapsed_s']} s = {s['achieved_pps']} packets/s "
        f"(target {s['target_pps']}); ticks > 1 ms late {s['late_ticks_over_1ms']}, worst lag "
        f"{s['worst_lag_ms']} ms, largest catch-up batch {s['max_batch_ticks']} ticks, "
        f"CPU {s['cpu_s']} s",
        "",
        f"{'ssrc':<12}{'sent':>9}{'proxy rx':>10}{'proxy drop':>11}{'in span':>9}"
        f"{'received':>10}{'lost':>7}  same seqs  {'WAV frames':>10}{'zero-filled':>12}"
        f"{'wrong':>6}",
    ]
    for f in res.streams:
        lines.append(f"0x{f.ssrc:08X}  {f.sent:>9}{f.proxy_received:>10}{f.proxy_dropped:>11}"
                     f"{f.proxy_dropped_in_span:>9}{f.received:>10}{f.lost:>7}  "
                     f"{'yes' if f.lost_seqs_equal else 'NO':<9}  {f.wav_frames:>10}"
                     f"{f.wav_zero_filled_frames:>12}{f.wav_mismatched_frames!s:>6}")
    lines += [
        "",
        f"kernel drops: receiver {res.receiver_kernel_drops} (/proc/net/udp), "
        f"{res.receiver_kernel_drops_ovfl} (SO_RXQ_OVFL); proxy {res.proxy_kernel_drops}",
        f"on disk: pcap {res.pcap_packets} records, {res.pcap_bytes / 1e6:.1f} MB; "
        f"WAVs {sum(f.wav_frames for f in res.streams) * 6 / 1e6:.1f} MB",
        "receiver peak RSS (VmHWM): " + ", ".join(
            f"{t:g} s {kib / 1024:.1f} MiB" for t, kib in sorted(res.rss_peak_kib.items()))
        + "; RSS now: " + ", ".join(
            f"{t:g} s {kib / 1024:.1f} MiB" for t, kib in sorted(res.rss_now_kib.items())),
        f"receiver CPU: {res.receiver_cpu_s:.1f} s over the sending time = "
        f"{100 * res.receiver_cpu_share:.1f} % of one core (proxy {res.proxy_cpu_s:.1f} s, "
        f"sender {res.sender['cpu_s']:.1f} s)",
        f"live display: {res.status_updates} refreshes, worst lag behind its 1 s schedule "
        f"{1000 * res.status_max_lag_s:.1f} ms, longest interval between two lines "
        f"{res.display_max_interval_s:.3f} s; worst kernel-arrival-to-processing backlog "
        f"{1000 * res.max_backlog_s:.1f} ms",
        "",
    ]
    lines += [f"  [{'ok' if ok else 'FAIL'}] {name}" for name, ok in res.checks.items()]
    lines.append("PASS" if res.passed else "FAIL")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration-s", type=float, default=600.0,
                    help="sending time, s (default 600)")
    ap.add_argument("--loss", type=float, default=0.005, help="proxy loss (default 0.005)")
    ap.add_argument("--seed", type=int, default=10, help="proxy seed (default 10)")
    ap.add_argument("--streams", type=int, default=2, help="AES67 streams (default 2)")
    ap.add_argument("--workdir", help="keep the pcap, proxy log and display here")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--receive", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--pcap", help=argparse.SUPPRESS)
    ap.add_argument("--idle-timeout-s", type=float, default=2.0, help=argparse.SUPPRESS)
    ap.add_argument("--wav-dir", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.receive:
        return _receive(args.port, args.pcap, args.duration_s, args.idle_timeout_s,
                        args.wav_dir)
    res = run_bench(args.duration_s, loss=args.loss, seed=args.seed, n_streams=args.streams,
                    workdir=args.workdir, progress=True)
    if args.json:
        print(json.dumps(asdict(res), indent=1))
    else:
        sys.stdout.write(render(res))
    return 0 if res.passed else 1


if __name__ == "__main__":
    sys.exit(main())
