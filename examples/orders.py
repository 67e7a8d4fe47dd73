"""Example pipeline: generate a day of orders, clean them, compute revenue per category, and
write a report through the file_cache resource.

Run it with:  solidflow run examples/orders.py:orders -c examples/orders.yaml --mode local
"""

from __future__ import annotations

import json
import random
from typing import Annotated

import pyarrow as pa
import pyarrow.compute as pc

from solidflow import (
    Config,
    DataType,
    ExpectationResult,
    Materialization,
    Mode,
    Output,
    TypeCheck,
    pipeline,
    resource,
    solid,
)
from solidflow.resources import LocalFileCache, file_cache

CATEGORIES = ["books", "games", "garden", "kitchen", "music"]


def _has_order_columns(table: pa.Table) -> TypeCheck:
    missing = {"order_id", "category", "quantity", "unit_price"} - set(table.column_names)
    return TypeCheck(
        success=not missing,
        description=f"missing columns: {sorted(missing)}" if missing else None,
        metadata={"rows": table.num_rows},
    )


OrdersTable = Annotated[pa.Table, DataType("OrdersTable", _has_order_columns, "a table of orders")]


class GenerateConfig(Config):
    rows: int = 10_000
    seed: int = 7


class CleanConfig(Config):
    max_quantity: int = 50


@solid(version="1")
def generate_orders(context, config: GenerateConfig) -> OrdersTable:
    """A day of synthetic orders, some of them with bad quantities."""
    rng = random.Random(config.seed)
    table = pa.table(
        {
            "order_id": list(range(config.rows)),
            "category": [rng.choice(CATEGORIES) for _ in range(config.rows)],
            "quantity": [rng.choice([-1, *range(1, 80)]) for _ in range(config.rows)],
            "unit_price": [round(rng.uniform(1, 100), 2) for _ in range(config.rows)],
        }
    )
    context.log.info(f"generated {table.num_rows} orders")
    return table


@solid(version="1")
def clean_orders(context, orders: OrdersTable, config: CleanConfig):
    """Drop orders with impossible quantities, and say how many were dropped."""
    valid = pc.and_(
        pc.greater(orders["quantity"], 0), pc.less_equal(orders["quantity"], config.max_quantity)
    )
    cleaned = orders.filter(valid)
    dropped = orders.num_rows - cleaned.num_rows
    yield ExpectationResult(
        success=dropped / max(orders.num_rows, 1) < 0.5,
        label="fewer than half of the orders are invalid",
        metadata={"dropped": dropped, "kept": cleaned.num_rows},
    )
    context.log.info(f"dropped {dropped} invalid orders")
    yield Output(cleaned)


@solid(version="1")
def revenue_by_category(orders: OrdersTable) -> pa.Table:
    """Total revenue and order count per category."""
    revenue = pc.multiply(orders["quantity"], orders["unit_price"])
    with_revenue = orders.append_column("revenue", revenue)
    return (
        with_revenue.group_by("category")
        .aggregate([("revenue", "sum"), ("order_id", "count")])
        .sort_by("category")
    )


@solid(required_resource_keys={"reports"})
def write_report(context, revenue: pa.Table) -> dict:
    """Write the revenue table as JSON to the reports file cache."""
    report = {
        row["category"]: {"revenue": round(row["revenue_sum"], 2), "orders": row["order_id_count"]}
        for row in revenue.to_pylist()
    }
    location = context.resources.reports.write_bytes(
        f"revenue/{context.run_id}.json", json.dumps(report, indent=2).encode()
    )
    yield Materialization(
        asset_key="revenue_report", metadata={"location": location, "categories": len(report)}
    )
    yield Output(report)


@resource
def temporary_reports(init_context):
    """A file cache in a temporary directory, removed when the run ends."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="solidflow-reports-") as directory:
        yield LocalFileCache(directory)


@pipeline(
    modes=[
        Mode("local", resources={"reports": file_cache}),
        Mode("test", resources={"reports": temporary_reports}),
    ]
)
def orders():
    """Orders -> cleaned orders -> revenue per category -> JSON report."""
    write_report(revenue_by_category(clean_orders(generate_orders())))
