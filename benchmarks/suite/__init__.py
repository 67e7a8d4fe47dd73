"""The engine-throughput benchmark suite behind `solidflow bench`: solidflow against the same
work written by hand with `ray.remote` and with plain function calls, in the same run."""

from solidflow.benchmarks.suite.runner import SuiteOptions, run_suite
from solidflow.benchmarks.suite.scales import SCALES, Scale

__all__ = ["SCALES", "Scale", "SuiteOptions", "run_suite"]
