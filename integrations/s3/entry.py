"""The "s3" storage backend's entry: known without importing s3fs, which it needs."""

from solidflow.engine.registry import Deferred

S3 = Deferred(implementation="solidflow.integrations.s3.store:S3Store", extra="s3")
