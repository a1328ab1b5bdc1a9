"""Detectors: frame features from one streaming pass, then small pure detectors.

Each detector takes a channel's frame features (:mod:`.features`) and returns
a list of :class:`validator.result.Event`; none keeps state between calls.
"""
