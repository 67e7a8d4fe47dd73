"""Spark integration: DataFrame outputs stored as Parquet, Spark job metadata, and solids run
through spark-submit."""
