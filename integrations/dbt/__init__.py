"""dbt solids: `dbt build` of a dbt project as a solid (`solidflow[dbt]`: dbt-core and an
adapter, dbt-duckdb for the tests)."""

from solidflow.integrations.dbt.solid import DbtError, dbt_solid

__all__ = ["DbtError", "dbt_solid"]
