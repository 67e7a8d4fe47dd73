import { useEffect, useRef, useState } from "preact/hooks";
import { RunState } from "./runState.js";

// A run's events, streamed (Server-Sent Events) into a RunState until the run ends; the
// browser reconnects after a dropped connection with Last-Event-ID, so nothing is missed or
// repeated. Re-renders at most once per animation frame. Returns [state, version, live].
export function useRunEvents(runId) {
  const state = useRef(new RunState());
  const [version, setVersion] = useState(0);
  const [live, setLive] = useState(true);
  useEffect(() => {
    state.current = new RunState();
    let frame = 0;
    const source = new EventSource(`/api/runs/${encodeURIComponent(runId)}/events/stream`);
    source.addEventListener("events", (message) => {
      state.current.add(JSON.parse(message.data));
      if (!frame) {
        frame = requestAnimationFrame(() => {
          frame = 0;
          setVersion(state.current.version);
        });
      }
    });
    source.addEventListener("end", () => {
      source.close();
      setLive(false);
      setVersion(state.current.version + 1);
    });
    return () => {
      source.close();
      cancelAnimationFrame(frame);
    };
  }, [runId]);
  return [state.current, version, live];
}
