from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from solidflow.engine.plan.selection import select_steps
from solidflow.errors import SelectionError

# extract -> clean -> load -> report
#                  \-> stats -/
# etl.a -> etl.b, etl.b -> summary
UPSTREAM: dict[str, list[str]] = {
    "extract": [],
    "clean": ["extract"],
    "load": ["clean"],
    "stats": ["clean"],
    "report": ["load", "stats"],
    "etl.read": [],
    "etl.inner.parse": ["etl.read"],
    "etl.write": ["etl.inner.parse"],
    "summary": ["etl.write", "report"],
}


def sel(query: str | list[str]) -> set[str]:
    return set(select_steps(query, UPSTREAM))


def test_bare_name_selects_only_itself() -> None:
    assert sel("load") == {"load"}


def test_all_ancestors() -> None:
    assert sel("*load") == {"extract", "clean", "load"}


def test_all_descendants() -> None:
    assert sel("clean*") == {"clean", "load", "stats", "report", "summary"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("+report", {"report", "load", "stats"}),
        ("++report", {"report", "load", "stats", "clean"}),
        ("+++report", {"report", "load", "stats", "clean", "extract"}),
        ("++++++report", {"report", "load", "stats", "clean", "extract"}),
        ("extract+", {"extract", "clean"}),
        ("extract++", {"extract", "clean", "load", "stats"}),
        ("extract+++", {"extract", "clean", "load", "stats", "report"}),
    ],
)
def test_depth_limits(query: str, expected: set[str]) -> None:
    assert sel(query) == expected


def test_depth_counts_shortest_path() -> None:
    upstream = {"a": [], "b": ["a"], "c": ["b", "a"], "d": ["c"]}
    assert select_steps("a+", upstream) == {"a", "b", "c"}
    assert select_steps("a++", upstream) == {"a", "b", "c", "d"}


def test_both_sides() -> None:
    assert sel("*load+") == {"extract", "clean", "load", "report"}
    assert sel("+load*") == {"clean", "load", "report", "summary"}
    assert sel("*stats*") == {"extract", "clean", "stats", "report", "summary"}


def test_comma_separated_union_ignores_whitespace() -> None:
    assert sel(" load ,stats+ ,  +clean") == {"load", "stats", "report", "clean", "extract"}


def test_list_is_union_of_queries() -> None:
    assert sel(["load", "stats+, extract"]) == {"load", "stats", "report", "extract"}


def test_result_is_frozenset() -> None:
    assert isinstance(select_steps("load", UPSTREAM), frozenset)


def test_dotted_step_name() -> None:
    assert sel("etl.write") == {"etl.write"}
    assert sel("*etl.write") == {"etl.read", "etl.inner.parse", "etl.write"}


def test_composite_prefix_selects_every_step_inside() -> None:
    assert sel("etl") == {"etl.read", "etl.inner.parse", "etl.write"}
    assert sel("etl.inner") == {"etl.inner.parse"}


def test_operators_apply_to_the_whole_composite() -> None:
    assert sel("etl+") == {"etl.read", "etl.inner.parse", "etl.write", "summary"}
    assert sel("+etl.inner") == {"etl.inner.parse", "etl.read"}


def test_exact_step_name_wins_over_prefix() -> None:
    upstream = {"etl": [], "etl.load": []}
    assert select_steps("etl", upstream) == {"etl"}


def test_prefix_matches_whole_components_only() -> None:
    upstream = {"etl.load": [], "etlx.load": []}
    assert select_steps("etl", upstream) == {"etl.load"}


def test_unknown_name_suggests_closest() -> None:
    with pytest.raises(SelectionError) as info:
        sel("lod")
    assert str(info.value) == "no solid named 'lod' in the pipeline; did you mean 'load'?"


def test_unknown_name_with_several_suggestions() -> None:
    upstream = {"load_a": [], "load_b": [], "load_c": [], "load_d": [], "other": []}
    with pytest.raises(SelectionError) as info:
        select_steps("*load_", upstream)
    message = str(info.value)
    assert message.startswith("no solid named 'load_' in the pipeline; did you mean ")
    suggestions = message.removeprefix("no solid named 'load_' in the pipeline; did you mean ")
    assert suggestions.count("'load_") == 3
    assert ", " in suggestions
    assert " or " in suggestions
    assert suggestions.endswith("?")


def test_two_suggestions_joined_with_or() -> None:
    upstream = {"load_a": [], "load_b": []}
    with pytest.raises(SelectionError) as info:
        select_steps("load_", upstream)
    assert str(info.value).endswith("did you mean 'load_a' or 'load_b'?")


def test_unknown_name_without_close_matches() -> None:
    with pytest.raises(SelectionError) as info:
        sel("zzzzzz+")
    assert str(info.value) == "no solid named 'zzzzzz' in the pipeline"


def test_an_unknown_name_is_reported_with_the_pipeline_name() -> None:
    with pytest.raises(SelectionError) as info:
        select_steps("lod", {"load": []}, pipeline_name="etl")
    assert str(info.value) == "no solid named 'lod' in pipeline 'etl'; did you mean 'load'?"


def test_unknown_composite_suggests_prefix() -> None:
    with pytest.raises(SelectionError) as info:
        sel("etk")
    assert "did you mean 'etl'" in str(info.value)


def test_unknown_name_in_list_is_reported() -> None:
    with pytest.raises(SelectionError, match="no solid named 'missing'"):
        sel(["load", "missing"])


@pytest.mark.parametrize("query", ["", "   ", []])
def test_empty_query(query: str | list[str]) -> None:
    with pytest.raises(SelectionError, match="empty solid selection"):
        select_steps(query, UPSTREAM)


@pytest.mark.parametrize("query", ["a,,b", "load,", ",load", "load, ,stats"])
def test_empty_item(query: str) -> None:
    with pytest.raises(SelectionError) as info:
        select_steps(query, UPSTREAM)
    assert str(info.value) == f"empty item in solid selection {query!r}"


@pytest.mark.parametrize(
    "item", ["a*b", "**a", "+", "*", "++", "*+load", "load+*", "lo ad", "+*load", "load**"]
)
def test_bad_syntax_names_the_item(item: str) -> None:
    with pytest.raises(SelectionError) as info:
        select_steps(f"load, {item}", UPSTREAM)
    assert str(info.value).startswith(
        f"invalid item {item!r} in solid selection {f'load, {item}'!r}: expected a solid name"
    )


def test_large_chain() -> None:
    n = 10_000
    upstream = {f"s{i}": [f"s{i - 1}"] if i else [] for i in range(n)}
    assert len(select_steps(f"*s{n - 1}", upstream)) == n
    assert len(select_steps("s0*", upstream)) == n
    assert select_steps("s5000++", upstream) == {"s5000", "s5001", "s5002"}


def test_large_wide_dag() -> None:
    n = 10_000
    upstream = {f"s{i}": [f"s{j}" for j in (i // 2, i // 3) if j < i] for i in range(n)}
    assert select_steps("s0*", upstream) == frozenset(upstream)


# --- properties -------------------------------------------------------------------------------


@st.composite
def dags(draw: st.DrawFn) -> dict[str, list[str]]:
    """A random DAG over s0..s{n-1}; edges only go from lower to higher indices."""
    n = draw(st.integers(min_value=1, max_value=14))
    upstream: dict[str, list[str]] = {}
    for i in range(n):
        parents = draw(st.sets(st.integers(min_value=0, max_value=i - 1))) if i else set()
        upstream[f"s{i}"] = [f"s{p}" for p in sorted(parents)]
    return upstream


def distances(upstream: dict[str, list[str]]) -> dict[tuple[str, str], int]:
    """Shortest path lengths along dependency edges (parent -> child), Floyd-Warshall."""
    names = list(upstream)
    dist = {(a, a): 0 for a in names}
    for child, parents in upstream.items():
        for parent in parents:
            dist[(parent, child)] = 1
    for k in names:
        for i in names:
            for j in names:
                if (i, k) in dist and (k, j) in dist:
                    through = dist[(i, k)] + dist[(k, j)]
                    if through < dist.get((i, j), through + 1):
                        dist[(i, j)] = through
    return dist


@given(data=st.data(), upstream=dags())
def test_star_is_transitive_closure(data: st.DataObject, upstream: dict[str, list[str]]) -> None:
    x = data.draw(st.sampled_from(sorted(upstream)))
    dist = distances(upstream)
    ancestors = {a for a in upstream if (a, x) in dist}
    descendants = {d for d in upstream if (x, d) in dist}
    assert select_steps(f"*{x}", upstream) == ancestors
    assert select_steps(f"{x}*", upstream) == descendants
    assert select_steps(f"*{x}*", upstream) == ancestors | descendants


@given(data=st.data(), upstream=dags())
def test_plus_is_bounded_distance(data: st.DataObject, upstream: dict[str, list[str]]) -> None:
    x = data.draw(st.sampled_from(sorted(upstream)))
    depth = data.draw(st.integers(min_value=1, max_value=5))
    dist = distances(upstream)
    pluses = "+" * depth
    assert select_steps(f"{pluses}{x}", upstream) == {
        a for a in upstream if dist.get((a, x), depth + 1) <= depth
    }
    assert select_steps(f"{x}{pluses}", upstream) == {
        d for d in upstream if dist.get((x, d), depth + 1) <= depth
    }
