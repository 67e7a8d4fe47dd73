"""Registries of plug-ins: entry points of an installed distribution, loaded one by one on
first need; registrations in code; import paths."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from solidflow.registry import PluginError, PluginRegistry, load_object

GROUP = "solidflow.test_plugins"


def install_distribution(site: Path, name: str, module: str, source: str, entry_points: str):
    """A distribution as pip leaves it: a module and a .dist-info with its entry points."""
    site.mkdir(exist_ok=True)
    (site / f"{module}.py").write_text(source)
    info = site / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)


@pytest.fixture
def plugin_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = tmp_path / "site"
    install_distribution(
        site,
        "demo_plugins",
        "demo_plugins_module",
        "ANSWER = 42\nNESTED = type('Nested', (), {'VALUE': 'deep'})\n",
        f"[{GROUP}]\nanswer = demo_plugins_module:ANSWER\n"
        "broken = demo_plugins_missing_module:ANSWER\n",
    )
    monkeypatch.syspath_prepend(str(site))
    yield site
    sys.modules.pop("demo_plugins_module", None)


def test_entry_points_are_listed_without_loading_them(plugin_site: Path) -> None:
    registry: PluginRegistry[int] = PluginRegistry(GROUP, "test plugin")
    assert registry.names() == ["answer", "broken"]
    assert "demo_plugins_module" not in sys.modules
    assert registry.get("answer") == 42
    assert "demo_plugins_module" in sys.modules


def test_items_load_every_entry_point_and_skip_broken_ones_with_a_warning(
    plugin_site: Path,
) -> None:
    registry: PluginRegistry[int] = PluginRegistry(GROUP, "test plugin")
    with pytest.warns(RuntimeWarning, match="test plugin 'broken' .* could not be loaded"):
        assert registry.items() == {"answer": 42}
    assert registry.items() == {"answer": 42}  # warned once


def test_a_broken_entry_point_asked_for_by_name_says_why(plugin_site: Path) -> None:
    registry: PluginRegistry[int] = PluginRegistry(GROUP, "test plugin")
    with pytest.raises(PluginError, match=r"test plugin 'broken' .* ModuleNotFoundError"):
        registry.find("broken")


def test_registrations_in_code_replace_entry_points_and_can_be_removed(
    plugin_site: Path,
) -> None:
    registry: PluginRegistry[int] = PluginRegistry(GROUP, "test plugin")
    version = registry.version
    registry.register("answer", 7)
    assert registry.version > version
    assert registry.get("answer") == 7
    registry.register("extra", 8)
    registry.unregister("broken")
    assert registry.items() == {"answer": 7, "extra": 8}
    registry.unregister("answer")
    assert registry.find("answer") is None


def test_unknown_names_list_the_known_ones_and_import_paths_load(plugin_site: Path) -> None:
    registry: PluginRegistry[object] = PluginRegistry(GROUP, "test plugin")
    with pytest.raises(PluginError) as raised:
        registry.get("answr")
    assert str(raised.value) == "unknown test plugin 'answr'; available: answer, broken"
    assert registry.get("demo_plugins_module:NESTED.VALUE") == "deep"
    with pytest.raises(PluginError, match="cannot be imported: AttributeError"):
        registry.get("demo_plugins_module:MISSING")


def test_load_object_needs_a_module_and_an_attribute() -> None:
    assert load_object("pathlib:Path") is Path
    with pytest.raises(ValueError, match="not a reference"):
        load_object("pathlib")
