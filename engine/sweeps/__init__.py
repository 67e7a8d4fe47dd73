"""Sweeps: one queued run per point of a grid of config values, and their summary."""
