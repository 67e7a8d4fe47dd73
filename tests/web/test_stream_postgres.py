"""The server's event stream of a run whose instance keeps its events in PostgreSQL: it wakes
on the database's notifications (through the instance's watch) and follows the run to its
end."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid

import httpx
import pytest

from solidflow import EventRecord, EventType, Instance, RunRecord, RunStatus

from .conftest import PIPELINES, ServerProcess

pytestmark = [pytest.mark.xdist_group("postgres"), pytest.mark.postgres, pytest.mark.web]


def log_event(run_id: str, seq: int, kind: EventType = EventType.LOG) -> EventRecord:
    return EventRecord(run_id=run_id, seq=seq, timestamp=time.time(), type=kind)


def test_the_stream_of_a_run_on_postgresql_follows_it_until_it_ends(
    tmp_path, postgres_url, monkeypatch
):
    monkeypatch.setenv("SOLIDFLOW_DATABASE_URL", postgres_url)
    home = tmp_path / "home"
    instance = Instance(home)
    run_id = uuid.uuid4().hex
    instance.add_run(
        RunRecord(
            run_id=run_id,
            pipeline_name="hello",
            status=RunStatus.STARTED,
            create_time=time.time(),
            start_time=time.time(),
            pid=os.getpid(),
            hostname=socket.gethostname(),
        )
    )
    instance.store_events([log_event(run_id, 0)])

    def the_run_goes_on() -> None:
        time.sleep(1.5)  # the stream has sent event 0 and waits for news
        instance.store_events([log_event(run_id, 1), log_event(run_id, 2)])
        time.sleep(0.5)
        instance.store_events([log_event(run_id, 3, EventType.RUN_SUCCESS)])
        instance.storage.update_run(run_id, status=RunStatus.SUCCESS, end_time=time.time())

    server = ServerProcess([f"{PIPELINES}:hello"], home, tmp_path)
    writer = threading.Thread(target=the_run_goes_on)
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            writer.start()
            response = client.get(f"/api/runs/{run_id}/events/stream")
        lines = response.text.strip().splitlines()
        pages = [json.loads(line[6:]) for line in lines if line.startswith("data: [")]
        assert [(event["seq"], event["type"]) for page in pages for event in page] == [
            (0, "LOG"),
            (1, "LOG"),
            (2, "LOG"),
            (3, "RUN_SUCCESS"),
        ]
        assert lines[-2:] == ["event: end", "data: {}"]
    finally:
        if writer.is_alive():
            writer.join()
        server.stop()
        instance.storage.close()
