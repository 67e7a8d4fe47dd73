"""`solidflow schedule` and the user errors of `launch` and `sweep`, as a user types them."""

from __future__ import annotations

from pathlib import Path

from tests import queue_pipelines

WORKSPACE = str(Path(queue_pipelines.__file__))


def test_schedule_list_start_preview_stop(cli):
    listed = cli("schedule", "list", "-w", WORKSPACE)
    assert listed.code == 0, listed.err
    [hourly] = [line for line in listed.out.splitlines() if " hourly " in line]
    assert "0 * * * *" in hourly and "Europe/Berlin" in hourly and "STOPPED" in hourly
    assert (
        cli("schedule", "start", "hourly", "-w", WORKSPACE).out.strip()
        == "schedule hourly: RUNNING"
    )
    assert "RUNNING" in next(
        line
        for line in cli("schedule", "list", "-w", WORKSPACE).out.splitlines()
        if " hourly " in line
    )
    preview = cli("schedule", "preview", "hourly", "-n", "2", "-w", WORKSPACE)
    lines = preview.out.splitlines()
    assert len(lines) == 4 and lines[1].startswith('  run_config: {"solids": {"nap"')
    broken = cli("schedule", "preview", "broken_config", "-n", "1", "-w", WORKSPACE)
    assert "  problem: solids.nap.config.seconds:" in broken.out
    assert (
        cli("schedule", "stop", "hourly", "-w", WORKSPACE).out.strip() == "schedule hourly: STOPPED"
    )
    assert cli("schedule", "ticks", "hourly").code == 0


def test_schedule_mistakes_are_one_message(cli, tmp_path):
    unknown = cli("schedule", "start", "hourlyy", "-w", WORKSPACE)
    assert unknown.code == 2 and "no schedule named 'hourlyy' in the workspace" in unknown.err
    assert "Traceback" not in unknown.err
    missing = cli("schedule", "list", "-w", str(tmp_path / "nowhere.py"))
    assert missing.code == 2 and "no such file" in missing.err


def test_launch_and_sweep_mistakes_are_one_message(cli):
    bad_config = cli("launch", f"{WORKSPACE}:napper", "--priority", "2", "-c", "nowhere.yaml")
    assert bad_config.code == 2 and "cannot read config file nowhere.yaml" in bad_config.err
    bad_grid = cli("sweep", f"{WORKSPACE}:trainer", "--grid", "solids.train.config.lr")
    assert bad_grid.code == 2
    assert "--grid 'solids.train.config.lr' must look like path=value1,value2" in bad_grid.err
    bad_point = cli(
        "sweep", f"{WORKSPACE}:trainer", "--grid", "solids.train.config.depth=3,deep", "--no-wait"
    )
    assert bad_point.code == 2
    assert "point depth=deep: solids.train.config.depth:" in bad_point.err
    too_many = cli(
        "sweep", f"{WORKSPACE}:trainer", "--grid", "solids.train.config.lr=1,2", "--random", "3"
    )
    assert too_many.code == 2 and "cannot draw 3 points from a grid of 2" in too_many.err
