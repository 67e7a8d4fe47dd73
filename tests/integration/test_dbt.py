"""dbt solids: `dbt build` with dbt-core on dbt-duckdb, on a DuckDB file the test creates."""

from __future__ import annotations

import textwrap
from pathlib import Path

import duckdb
import pytest

from solidflow import Instance, execute_pipeline, pipeline, solid
from solidflow.engine.events.records import EventType
from solidflow.errors import DefinitionError
from solidflow.integrations.dbt import dbt_solid

pytestmark = [pytest.mark.xdist_group("dbt"), pytest.mark.dbt]

FAILING_TEST = "accepted_values_revenue_category__books__games"
FILES = {
    "dbt_project.yml": """
        name: shop
        version: "1.0"
        profile: shop
        config-version: 2
        models:
          shop:
            +materialized: table
        """,
    "models/orders.sql": "select id, category, amount from raw_orders where amount is not null\n",
    "models/revenue.sql": """
        select category, sum(amount) as total from {{ ref('orders') }} group by category
        """,
    "models/schema.yml": """
        version: 2
        models:
          - name: orders
            columns:
              - name: id
                data_tests: [unique, not_null]
          - name: revenue
            columns:
              - name: category
                data_tests:
                  - accepted_values:
                      arguments:
                        values: [books, games]
        """,
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "shop"
    for name, text in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text).lstrip())
    database = tmp_path / "shop.duckdb"
    (root / "profiles.yml").write_text(
        f"shop:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: {database}\n      threads: 1\n"
    )
    with duckdb.connect(str(database)) as connection:
        connection.execute(
            "create table raw_orders as select * from (values (1, 'books', 10.0), "
            "(2, 'games', 20.0), (3, 'music', 5.0), (4, 'books', null)) t(id, category, amount)"
        )
    return root


def _run(shop, tmp_path: Path):
    @solid
    def raw_orders_loaded() -> int:
        return 4

    @pipeline
    def analytics() -> None:
        shop(start_after=raw_orders_loaded())

    return execute_pipeline(analytics, instance=Instance(tmp_path / "home"))


def test_a_failing_dbt_test_fails_the_solid_naming_the_test(project: Path, tmp_path) -> None:
    result = _run(dbt_solid(project, profiles_dir=project), tmp_path)
    assert not result.success
    step = result.result_for("dbt_shop")
    assert step.failure_message == (
        f"solid 'dbt_shop' raised DbtError: dbt test '{FAILING_TEST}' failed: "
        "Got 1 result, configured to fail if != 0"
    )
    models = {m.asset_key: m.metadata for m in step.materializations}
    assert set(models) == {"dbt/orders", "dbt/revenue"}
    assert models["dbt/orders"]["rows"] == 3 and models["dbt/revenue"]["rows"] == 3
    assert models["dbt/orders"]["relation"] == '"shop"."main"."orders"'
    assert models["dbt/orders"]["execution_time"] > 0
    assert {t["name"] for t in models["dbt/orders"]["timing"]} == {"compile", "execute"}
    tests = {e.label: e.success for e in step.expectation_results}
    assert tests == {"unique_orders_id": True, "not_null_orders_id": True, FAILING_TEST: False}
    [failed] = [e for e in step.expectation_results if not e.success]
    assert failed.metadata["failures"] == 1


def test_a_selection_that_passes_outputs_a_summary(project: Path, tmp_path) -> None:
    shop = dbt_solid(project, select="orders", profiles_dir=project, name="orders_only")
    result = _run(shop, tmp_path)
    assert result.success
    assert result.output_for("orders_only") == {
        "orders": {"status": "success", "rows": 3},
        "not_null_orders_id": {"status": "pass", "rows": None},
        "unique_orders_id": {"status": "pass", "rows": None},
    }
    logs = [e.message for e in result.events if e.type is EventType.LOG]
    assert "dbt model orders: success in" in " ".join(logs)


def test_a_directory_without_a_dbt_project_is_a_definition_error(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="no dbt_project\\.yml in"):
        dbt_solid(tmp_path)


def test_the_projects_files_are_its_code_version(project: Path) -> None:
    before = dbt_solid(project).version
    (project / "target").mkdir(exist_ok=True)
    (project / "target" / "run_results.json").write_text("{}")
    assert dbt_solid(project).version == before  # dbt's own output is not source
    (project / "models" / "orders.sql").write_text("select 1 as id\n")
    assert dbt_solid(project).version != before
