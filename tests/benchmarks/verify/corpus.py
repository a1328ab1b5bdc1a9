"""Build (or load from the cache) every case of the verification corpus."""

from __future__ import annotations

import sys
from pathlib import Path

from . import codecs, loopback, real, synth
from .common import Case, fresh_folder, have, load_case

CLASSES = "ABCDEF"


def build(
    cache: Path, classes: str = CLASSES, *, rebuild: bool = False, log=sys.stderr
) -> list[Case]:
    """Cases of ``classes``, built under ``cache`` when missing (or ``rebuild``)."""
    cache.mkdir(parents=True, exist_ok=True)
    out: list[Case] = []
    if any(k in classes for k in "ABC"):
        if not have("sox"):
            print("verify: sox missing, classes A-C skipped", file=log)
        else:
            for klass, name, builder, kwargs in synth.cases():
                if klass not in classes:
                    continue
                case = None if rebuild else load_case(cache / name)
                if case is None:
                    print(f"verify: building {name}", file=log)
                    case = builder(fresh_folder(cache / name), name=name, **kwargs)
                out.append(case)
    if "D" in classes:
        missing = loopback.tools_present()
        if missing:
            print(f"verify: {', '.join(missing)} missing, class D skipped", file=log)
        else:
            if rebuild:
                for name in (
                    "D_speech_opus_clean",
                    "D_speech_opus_loss5pct",
                    "D_speech_opus_loss10pct",
                ):
                    fresh_folder(cache / name)
            print("verify: class D (Opus over loopback, ~35 s the first time)", file=log)
            out += loopback.build_d(cache)
    if "E" in classes:
        missing = [t for t in ("sox", "gst-launch-1.0", "ffmpeg") if not have(t)]
        if missing or not loopback.SHARED_PROXY.exists():
            print(
                f"verify: {missing or loopback.SHARED_PROXY} missing, fresh class E skipped",
                file=log,
            )
        else:
            print("verify: fresh class E captures (~40 s the first time)", file=log)
            out += loopback.build_fresh_e(cache, rebuild)
        if real.available():
            out += real.cases()
        else:
            print(f"verify: {real.SHARED_REAL} absent, class E skipped", file=log)
    if "F" in classes:
        missing = [t for t in ("espeak-ng", "sox", "ffmpeg") if not have(t)]
        if missing:
            print(f"verify: {', '.join(missing)} missing, class F skipped", file=log)
        else:
            print("verify: class F (clean speech through codecs)", file=log)
            out += codecs.build_f(cache, rebuild, log=log)
    return out
