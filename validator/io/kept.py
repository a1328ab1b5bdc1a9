"""Analyses of a source's samples, kept for the next call on the same samples.

A batch checks many captures against one reference, so what the pipeline
learns from the reference alone (its head's tone and marker, its tone
frequencies) is the same for every capture. :class:`KeptBySamples` keeps such
results for the few newest references that have an
:attr:`~validator.io.audio.AudioSource.identity` (a file: path, inode, size,
modification and change times), and gives one back only when the samples
read now are the kept ones, sample for sample: a file rewritten within the
clock's tick, or copied over with its times kept, has the same identity and
other samples. So a result is always the analysis of the samples read.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

import numpy as np

T = TypeVar("T")


class KeptBySamples(Generic[T]):
    """Results keyed by a source's identity, valid for the samples they were made from.

    Parameters
    ----------
    size : int
        Results kept (the newest); thread-safe.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: OrderedDict[Hashable, tuple[np.ndarray, T]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable | None, samples: np.ndarray) -> T | None:
        """The result kept for ``key``, if it was made from exactly ``samples``; else None.

        Parameters
        ----------
        key : hashable or None
            The source's identity (and whatever else the analysis depends on);
            None never matches.
        samples : np.ndarray
            The samples read now.

        Returns
        -------
        object or None
            What :meth:`put` kept for ``key`` from these samples.
        """
        if key is None:
            return None
        with self._lock:
            kept = self._kept.get(key)
        if kept is None or kept[0].shape != samples.shape \
                or not np.array_equal(kept[0], samples):
            return None
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
        return kept[1]

    def put(self, key: Hashable | None, samples: np.ndarray, value: T) -> None:
        """Keep ``value``, made from ``samples``, for ``key`` (nothing for a None key).

        ``samples`` is kept by reference: the caller must not change it.
        """
        if key is None:
            return
        with self._lock:
            self._kept[key] = (samples, value)
            self._kept.move_to_end(key)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
