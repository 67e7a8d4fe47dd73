"""Runs: create, execute and re-execute runs, drive their plan, and report their results."""
