"""Integrations with data libraries, compute engines and tools (Arrow, pandas; Ray and Spark;
Jupyter notebooks through papermill, dbt)."""
