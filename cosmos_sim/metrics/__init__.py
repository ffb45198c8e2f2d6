"""Metrics on frames: object masks and tracks (more to come: epipolar geometry, 3D consistency)."""
