"""Outputs in an S3 bucket (AWS, or any S3-compatible server): the "s3" storage backend,
used for `s3://bucket/prefix` store roots (`pip install 'solidflow[s3]'`)."""
