"""PELT change points: our cumulative-sum form against ``ruptures`` on the same tracks.

``python tests/benchmarks/bench_pelt.py`` prints, per track length, the seconds each takes
on a staircase track (a step every ~100 points, noise 0.01) and whether both return the
same change points. Ours also runs restricted to the points where the track moves, as
``segment_track`` uses it on a tone's per-period track.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from validator.align.track import _pelt, pelt_l2


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="2000,5000,10000", help="track lengths, points")
    args = ap.parse_args(argv)
    import ruptures

    rng = np.random.default_rng(1)
    print("| points | ruptures s | ours s | ours, restricted s | same change points |")
    print("|---|---|---|---|---|")
    for n in (int(v) for v in args.sizes.split(",")):
        x = np.cumsum(rng.random(n) < 0.01) * 0.3 + 0.01 * rng.standard_normal(n)
        pen = 4 * 0.01**2 * np.log(n)
        t = time.perf_counter()
        theirs = ruptures.Pelt(model="l2", min_size=2, jump=1).fit(x[:, None]).predict(pen=pen)
        t_theirs = time.perf_counter() - t
        t = time.perf_counter()
        ours = pelt_l2(x, pen)
        t_ours = time.perf_counter() - t
        t = time.perf_counter()
        _pelt(x, pen, 0.01)
        t_restricted = time.perf_counter() - t
        print(f"| {n} | {t_theirs:.2f} | {t_ours:.3f} | {t_restricted:.4f} | {ours == theirs} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
