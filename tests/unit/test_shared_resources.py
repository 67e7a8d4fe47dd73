"""Shared resources: built once per process and config, kept across runs."""

from __future__ import annotations

from solidflow import resource
from solidflow.engine.step.resources import ResourceManager, ResourceSpec, SharedResources


def test_a_shared_resource_is_built_once_and_outlives_the_runs():
    built: list[str] = []

    @resource(shared=True)
    def connection(init_context):
        built.append("init")
        yield object()
        built.append("teardown")

    specs = {"db": ResourceSpec(definition=connection, config=None)}
    shared = SharedResources()
    values = []
    for run in ("r1", "r2"):
        manager = ResourceManager(run, specs, lambda *_: None, shared)
        values.append(manager.resources_for(["db"], "solid 's'").db)
        assert manager.teardown() == []
    assert values[0] is values[1] and built == ["init"]
    assert shared.owner.teardown() == [] and built == ["init", "teardown"]


def test_a_resource_not_shared_is_built_per_run():
    built: list[str] = []

    @resource
    def connection(init_context):
        built.append("init")
        return object()

    specs = {"db": ResourceSpec(definition=connection, config=None)}
    shared = SharedResources()
    for run in ("r1", "r2"):
        ResourceManager(run, specs, lambda *_: None, shared).resources_for(["db"], "solid 's'")
    assert built == ["init", "init"]
