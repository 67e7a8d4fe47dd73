"""Memoization: the keys of steps and outputs, and which stored outputs a run can reuse."""
