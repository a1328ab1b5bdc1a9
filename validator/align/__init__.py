"""Alignment: delay, lag track, drift, splices and channels (received against reference)."""
