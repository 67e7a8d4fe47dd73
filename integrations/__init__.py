"""Integrations with data libraries and compute engines (Arrow, pandas; Ray and Spark)."""
