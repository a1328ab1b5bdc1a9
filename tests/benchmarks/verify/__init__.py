"""Independent verification corpus for issue 9 (no ``validator`` code makes truth).

Every case is a folder with ``reference.wav``, ``received.wav`` and
``truth.json``. The audio is made by sox, ffmpeg, espeak-ng, GStreamer and
numpy arithmetic written here; the truth comes from how each case was built
(the edit positions this code chose, the proxy's loss log, the receiver's own
edit list), never from the validator's detectors or ``validator.impair``.

Modules:

- :mod:`.common`: the truth schema, WAV I/O and the external-tool runner;
- :mod:`.synth`: classes A (tones in noise, gaps, fractional delays),
  B (skips, cuts, a resampled drift) and C (stereo, channel map, polarity);
- :mod:`.loopback`: class D (espeak-ng speech through Opus over a real
  loopback RTP link with seeded loss) and fresh class E receivers (a
  default-mode GStreamer jitter buffer under jitter; ffmpeg's RTP receiver);
- :mod:`.real`: class E cases read from ``../shared/real`` (not copied);
- :mod:`.score`: matching events to truth spans and the per-class summary;
- :mod:`.corpus`: builds (or loads from the cache) the cases of chosen classes.
"""
