#!/usr/bin/env python3
"""Seeded UDP impairment proxy for loopback RTP tests (a netem stand-in).

Receives datagrams on ``--listen 127.0.0.1:PORT`` and forwards them to
``--forward 127.0.0.1:PORT``, dropping some of them on the way:

* ``--loss P``: independent random loss with probability ``P`` (0..1), applied
  in the Gilbert-Elliott *good* state (or always, when ``--ge`` is not given);
* ``--ge P_GB P_BG``: Gilbert-Elliott bursts; each arriving packet first moves
  the two-state chain (good -> bad with ``P_GB``, bad -> good with ``P_BG``),
  then a packet in the bad state is lost with ``--bad-loss`` (default 1.0);
* ``--delay-ms D``: a fixed one-way delay (order is kept);
* ``--duration S``: the proxy stops by itself after ``S`` seconds (it also
  stops cleanly on SIGINT or SIGTERM);
* ``--rcvbuf BYTES``: its receive buffer (default 4 MiB), so that a busy box
  does not make the proxy itself lose datagrams in the kernel.

Datagrams the kernel dropped on the proxy's own receive socket never reach
it, so they cannot be in the log: the final stats line counts them as
``kernel_drops`` (``SO_RXQ_OVFL``, and ``/proc/net/udp`` at the end), and a
caller that knows what was sent can also find them as missing rows.

Every decision comes from ``random.Random(--seed)``, which draws exactly two
numbers per arriving packet (state move, loss), so a given seed drops the same
arrival indices on every run: :func:`plan_drops` predicts them without any
network. ``--log`` writes the ground truth as CSV, one row per arriving
datagram: ``index`` (0-based arrival order), ``arrival_s`` (monotonic, from
the first arrival), ``seq``, ``rtp_ts``, ``ssrc`` (empty if the datagram is not
RTP version 2), ``action`` (``forwarded`` or ``dropped``).

Only 127.0.0.1 is accepted for both addresses, and datagrams from any other
source are ignored: this tool must never put traffic on a real network.

Example::

    python3 tests/tools/udp_impair_proxy.py --listen 127.0.0.1:21120 \\
        --forward 127.0.0.1:21122 --loss 0.02 --seed 7 --log truth.csv --duration 20
"""

from __future__ import annotations

import argparse
import csv
import heapq
import random
import select
import signal
import socket
import struct
import sys
import time

LOOPBACK = "127.0.0.1"
SO_RXQ_OVFL = getattr(socket, "SO_RXQ_OVFL", 40)  # Linux; not exported by Python
CSV_FIELDS = ("index", "arrival_s", "seq", "rtp_ts", "ssrc", "action")


def loopback_endpoint(text: str) -> tuple[str, int]:
    """Parse ``127.0.0.1:PORT`` (or a bare ``PORT``); refuse any other host."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = LOOPBACK, text
    if host != LOOPBACK:
        raise argparse.ArgumentTypeError(f"only {LOOPBACK} is allowed, got host {host!r}")
    try:
        port_num = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad port {port!r}") from None
    if not 0 < port_num < 65536:
        raise argparse.ArgumentTypeError(f"port out of range: {port_num}")
    return host, port_num


def probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"probability must be in [0, 1], got {value!r}")
    return value


class LossModel:
    """Seeded random + Gilbert-Elliott loss; ``drop()`` is called once per packet."""

    def __init__(
        self,
        *,
        seed: int,
        loss: float = 0.0,
        ge: tuple[float, float] | None = None,
        bad_loss: float = 1.0,
    ) -> None:
        self._rng = random.Random(seed)
        self._loss = loss
        self._ge = ge
        self._bad_loss = bad_loss
        self.bad = False

    def drop(self) -> bool:
        move, draw = self._rng.random(), self._rng.random()  # always two draws per packet
        if self._ge is not None:
            p_gb, p_bg = self._ge
            self.bad = (move >= p_bg) if self.bad else (move < p_gb)
        return draw < (self._bad_loss if self.bad else self._loss)


def plan_drops(
    n_packets: int,
    *,
    seed: int,
    loss: float = 0.0,
    ge: tuple[float, float] | None = None,
    bad_loss: float = 1.0,
) -> list[int]:
    """Arrival indices (0-based) that the proxy will drop for these settings."""
    model = LossModel(seed=seed, loss=loss, ge=ge, bad_loss=bad_loss)
    return [i for i in range(n_packets) if model.drop()]


def rtp_fields(datagram: bytes) -> tuple[int, int, int] | None:
    """(seq, timestamp, ssrc) of an RTP v2 packet, or None."""
    if len(datagram) >= 12 and datagram[0] >> 6 == 2:
        seq, ts, ssrc = struct.unpack("!HII", datagram[2:12])
        return seq, ts, ssrc
    return None


class _Stop(Exception):
    pass


def _raise_stop(signum, frame):
    raise _Stop


def proc_udp_drops(sock: socket.socket) -> int | None:
    """The socket's ``drops`` column in ``/proc/net/udp`` (None if not found)."""
    import os

    inode = str(os.fstat(sock.fileno()).st_ino)
    try:
        with open("/proc/net/udp", encoding="ascii") as fh:
            for line in fh:
                cols = line.split()
                if len(cols) >= 13 and cols[9] == inode:
                    return int(cols[-1])
    except OSError:
        pass
    return None


def run(args: argparse.Namespace) -> dict[str, int]:
    model = LossModel(seed=args.seed, loss=args.loss, ge=args.ge, bad_loss=args.bad_loss)
    delay_s = args.delay_ms / 1000.0
    stats = {"received": 0, "forwarded": 0, "dropped": 0, "ignored": 0, "kernel_drops": 0}
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, args.rcvbuf)
    if rx.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) < args.rcvbuf:
        try:  # over net.core.rmem_max: only root may force it
            rx.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), args.rcvbuf)
        except OSError:
            pass
    try:
        rx.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
    except OSError:
        pass
    rx.bind(args.listen)
    rx.setblocking(False)
    cmsg_size = socket.CMSG_SPACE(4)
    tx.bind((LOOPBACK, 0))
    log_file = open(args.log, "w", newline="") if args.log else None
    writer = csv.writer(log_file) if log_file else None
    if writer:
        writer.writerow(CSV_FIELDS)
    queue: list[tuple[float, int, bytes]] = []  # (release time, index, datagram)
    t_end = time.monotonic() + args.duration
    t_first = None
    print(
        f"proxy {args.listen[0]}:{args.listen[1]} -> {args.forward[0]}:{args.forward[1]} "
        f"seed={args.seed} loss={args.loss} ge={args.ge} delay_ms={args.delay_ms}",
        flush=True,
    )
    try:
        while True:
            now = time.monotonic()
            if now >= t_end:
                break
            wait = min(0.05, t_end - now, max(0.0, queue[0][0] - now) if queue else 0.05)
            ready, _, _ = select.select([rx], [], [], wait)
            for _ in range(64 if ready else 0):  # drain, then serve the delay queue
                try:
                    datagram, anc, _flags, (src_host, _) = rx.recvmsg(65535, cmsg_size)
                except BlockingIOError:
                    break
                for level, ctype, cdata in anc:
                    if level == socket.SOL_SOCKET and ctype == SO_RXQ_OVFL and len(cdata) >= 4:
                        stats["kernel_drops"] = struct.unpack("@I", cdata[:4])[0]
                now = time.monotonic()
                if src_host != LOOPBACK:
                    stats["ignored"] += 1
                    continue
                index = stats["received"]
                stats["received"] += 1
                t_first = now if t_first is None else t_first
                dropped = model.drop()
                if dropped:
                    stats["dropped"] += 1
                else:
                    heapq.heappush(queue, (now + delay_s, index, datagram))
                if writer:
                    fields = rtp_fields(datagram)
                    seq, ts, ssrc = fields if fields else ("", "", "")
                    ssrc_text = f"0x{ssrc:08X}" if fields else ""
                    writer.writerow(
                        [
                            index,
                            f"{now - t_first:.6f}",
                            seq,
                            ts,
                            ssrc_text,
                            "dropped" if dropped else "forwarded",
                        ]
                    )
            while queue and queue[0][0] <= time.monotonic():
                _, _, datagram = heapq.heappop(queue)
                tx.sendto(datagram, args.forward)
                stats["forwarded"] += 1
    except _Stop:
        pass
    finally:
        for _, _, datagram in sorted(queue):  # flush what is still delayed
            tx.sendto(datagram, args.forward)
            stats["forwarded"] += 1
        if log_file:
            log_file.close()
        proc_drops = proc_udp_drops(rx)
        if proc_drops is not None:
            stats["kernel_drops"] = max(stats["kernel_drops"], proc_drops)
        rx.close()
        tx.close()
    print(stats, flush=True)
    return stats


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--listen", type=loopback_endpoint, required=True, help="127.0.0.1:PORT")
    p.add_argument("--forward", type=loopback_endpoint, required=True, help="127.0.0.1:PORT")
    p.add_argument("--loss", type=probability, default=0.0, help="random loss probability")
    p.add_argument(
        "--ge",
        type=probability,
        nargs=2,
        metavar=("P_GB", "P_BG"),
        help="Gilbert-Elliott transition probabilities good->bad, bad->good",
    )
    p.add_argument(
        "--bad-loss",
        type=probability,
        default=1.0,
        help="loss probability in the bad state (default 1.0)",
    )
    p.add_argument("--delay-ms", type=float, default=0.0, help="fixed one-way delay in ms")
    p.add_argument("--seed", type=int, default=1, help="RNG seed (default 1)")
    p.add_argument("--log", help="ground-truth CSV path")
    p.add_argument("--rcvbuf", type=int, default=4 * 1024 * 1024,
                   help="receive buffer to ask for, bytes (default 4 MiB)")
    p.add_argument(
        "--duration", type=float, default=60.0, help="stop after this many seconds (default 60)"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.delay_ms < 0 or args.duration <= 0:
        print("--delay-ms must be >= 0 and --duration > 0", file=sys.stderr)
        return 2
    signal.signal(signal.SIGINT, _raise_stop)
    signal.signal(signal.SIGTERM, _raise_stop)
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
