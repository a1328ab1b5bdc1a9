"""The fuzz benchmark, small and derandomized: every target, the same cases on every run.

``tests/benchmarks/fuzz_inputs.py`` runs 100,000 random cases; this runs a
few thousand fixed ones (``derandomize=True``) so that CI catches a
regression. A case may end in a result or a
:class:`~validator.errors.ValidatorError`; any other exception, a hang past
the per-case limit, or bytes written straight to file descriptor 1/2 (as
LAPACK does) fails the test, which lists the first input of each defect.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
#: Cases per run over all targets (shared by weight, as in the benchmark).
CASES = 2000
#: Per-case time limit, s: generous, the machine is shared.
TIME_LIMIT_S = 20.0


def _load_fuzz():
    spec = importlib.util.spec_from_file_location("fuzz_inputs",
                                                  HERE / "benchmarks" / "fuzz_inputs.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("fuzz_inputs", mod)
    spec.loader.exec_module(mod)
    return mod


fuzz = _load_fuzz()


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    return fuzz.make_seeds(tmp_path_factory.mktemp("fuzz-seeds"))


@pytest.mark.slow
@pytest.mark.parametrize("target", list(fuzz.TARGETS))
def test_fuzz_target_has_no_defect(target, seeds, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a CLI case may write to a relative path such as "-"
    share = fuzz.split_cases(CASES, list(fuzz.TARGETS))
    tally = fuzz.fuzz_target(target, share[target], seeds, tmp_path, derandomize=True,
                             time_limit_s=TIME_LIMIT_S)
    found = "\n".join(f"{kind} at {where}: {detail}\n  input: {case}"
                      for (kind, where), (detail, case) in tally.examples.items())
    assert tally.defect == 0 and tally.hang == 0, found
    # the strategies reach past the first check: some cases give a result, and the
    # bad-input targets meet ValidatorErrors
    assert tally.cases >= share[target] // 2
    assert tally.result > 0
    if target in ("wav", "flac", "pcap", "pcapng", "profile", "manifest", "tone"):
        assert tally.error > 0


def test_split_cases_gives_every_target_its_share():
    share = fuzz.split_cases(100_000, list(fuzz.TARGETS))
    assert sum(share.values()) == 100_000
    assert all(n > 0 for n in share.values())


def test_a_defect_is_counted_with_its_input(seeds, tmp_path):
    """The harness itself: an exception outside ValidatorError is a defect, a sleep a hang."""
    import time

    from validator.errors import AudioFormatError

    def run(case, seeds, work):
        if case == "bug":
            raise IndexError("index 0 is out of bounds")
        if case == "bad":
            raise AudioFormatError("x.wav: bad")
        if case == "slow":
            time.sleep(5)

    target = fuzz.Target("probe", lambda s: None, run)
    tally = fuzz.Tally()
    trap = fuzz._FdTrap()
    import signal

    old = signal.signal(signal.SIGALRM, fuzz._alarm)
    try:
        kinds = [fuzz.run_one(target, c, seeds, tmp_path, tally, 0.2, trap)
                 for c in ("ok", "bug", "bad", "slow")]
    finally:
        signal.signal(signal.SIGALRM, old)
    assert kinds == ["result", "defect", "error", "hang"]
    assert (tally.cases, tally.result, tally.defect, tally.error, tally.hang) == (4, 1, 1, 1, 1)
    ((kind, _where), (detail, case)) = next(iter(tally.examples.items()))
    assert kind == "defect" and detail.startswith("IndexError") and case == "'bug'"


def test_bytes_written_to_fd_1_are_a_defect(seeds, tmp_path):
    """C code printing on stdout (LAPACK's "On entry to DLASCL ...") counts as a defect."""
    import os

    def run(case, seeds, work):
        os.write(1, b" ** On entry to DLASCL parameter number  4 had an illegal value\n")

    tally = fuzz.Tally()
    import signal

    old = signal.signal(signal.SIGALRM, fuzz._alarm)
    try:
        kind = fuzz.run_one(fuzz.Target("noise", lambda s: None, run), "x", seeds, tmp_path,
                            tally, 5.0, fuzz._FdTrap())
    finally:
        signal.signal(signal.SIGALRM, old)
    assert kind == "defect"
    assert "DLASCL" in next(iter(tally.examples.values()))[0]
