import { useEffect, useState } from "preact/hooks";
import { api, enc } from "../api.js";
import { Dag } from "../components/Dag.jsx";
import { Gantt } from "../components/Gantt.jsx";
import { LogTable } from "../components/LogTable.jsx";
import { StatusBadge, Tags, formatDuration, formatTime } from "../format.jsx";
import { dispatchDelays } from "../runState.js";
import { useRunEvents } from "../useRunEvents.js";

const ACTIVE = new Set(["QUEUED", "STARTING", "STARTED"]);
const RUN_STATUS = { RUN_SUCCESS: "SUCCESS", RUN_FAILURE: "FAILURE", RUN_CANCELED: "CANCELED" };

function useNow(live) {
  const [now, setNow] = useState(Date.now() / 1000);
  useEffect(() => {
    if (!live) return undefined;
    const timer = setInterval(() => setNow(Date.now() / 1000), 250);
    return () => clearInterval(timer);
  }, [live]);
  return now;
}

function Metadata({ value }) {
  if (!value || !Object.keys(value).length) return <span class="muted">-</span>;
  return (
    <span class="metadata">
      {Object.entries(value).map(([k, v]) => (
        <span key={k}>
          <code>{k}</code>={typeof v === "object" ? JSON.stringify(v) : String(v)}{" "}
        </span>
      ))}
    </span>
  );
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.floor(sorted.length / 2)] : null;
}

function StepTable({ state, delays, selected, onToggle }) {
  const origin = state.start;
  return (
    <table class="grid compact steps">
      <thead>
        <tr>
          <th />
          <th>step</th>
          <th>status</th>
          <th>started</th>
          <th>duration</th>
          <th title="from its inputs being ready (or the run's start) to its start">waited</th>
          <th>attempts</th>
          <th>Ray node</th>
          <th>worker pid</th>
          <th>note</th>
        </tr>
      </thead>
      <tbody>
        {[...state.steps.values()].slice(0, 2000).map((s) => (
          <tr key={s.key} class={selected.has(s.key) ? "selected" : ""}>
            <td><input type="checkbox" checked={selected.has(s.key)} onChange={() => onToggle(s.key)} aria-label={`select ${s.key}`} /></td>
            <td>{s.key}</td>
            <td><span class={`pill st-${s.status}`}>{s.status}</span></td>
            <td>{s.start !== null && origin !== null ? `+${formatDuration(s.start - origin)}` : "-"}</td>
            <td>{s.start !== null && s.end !== null && s.status !== "memoized" ? formatDuration(s.end - s.start) : "-"}</td>
            <td>{delays.has(s.key) ? formatDuration(delays.get(s.key)) : "-"}</td>
            <td>{s.attempts || "-"}</td>
            <td title={s.node || ""}>{s.node ? s.node.slice(0, 10) : "-"}</td>
            <td>{s.pid || "-"}</td>
            <td class="note">
              {s.status === "memoized" && s.source ? (
                <>stored by <a href={`#/runs/${s.source}`}>{s.source.slice(0, 8)}</a></>
              ) : s.status === "failure" || s.status === "skipped" ? (
                s.message
              ) : null}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function Run({ runId }) {
  const [run, setRun] = useState(null);
  const [error, setError] = useState(null);
  const [pipeline, setPipeline] = useState(null);
  const [selected, setSelected] = useState(new Set());
  const [actionError, setActionError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [state, version, live] = useRunEvents(runId);
  const now = useNow(live);
  useEffect(() => {
    api(`/runs/${enc(runId)}`).then((r) => {
      setRun(r);
      api(`/pipelines/${enc(r.pipeline_name)}`).then(setPipeline, () => setPipeline(false));
    }, setError);
  }, [runId]);
  // The record's status (QUEUED, STARTING, CANCELING...) while the run goes on, and at its end.
  useEffect(() => {
    if (!run) return undefined;
    const refresh = () => api(`/runs/${enc(runId)}`).then(setRun, () => {});
    if (!live) {
      refresh();
      return undefined;
    }
    const timer = setInterval(refresh, 1000);
    return () => clearInterval(timer);
  }, [live, run === null]);
  if (error) return <div class="error-card">{error.message}</div>;
  if (!run) return <div class="loading">Loading run {runId}…</div>;
  const status = state.ended ? RUN_STATUS[state.ended] : run.status;
  const toggle = (key) => {
    const next = new Set(selected);
    if (next.has(key)) next.delete(key);
    else next.add(key);
    setSelected(next);
  };
  const act = async (path, body) => {
    setBusy(true);
    setActionError(null);
    try {
      const result = await api(`/runs/${enc(runId)}/${path}`, { method: "POST", body });
      if (path === "reexecute") location.hash = `#/runs/${result.run_id}`;
    } catch (e) {
      setActionError(e.message);
    } finally {
      setBusy(false);
    }
  };
  const failedOrSkipped = [...state.steps.values()].some((s) => s.status === "failure" || s.status === "skipped");
  const upstream = new Map(
    ((pipeline && pipeline.solids) || []).map((solid) => [solid.name, solid.inputs.flatMap((i) => i.sources.map((x) => x.node))]),
  );
  const delays = dispatchDelays(state, upstream);
  const typical = median([...delays.values()]);
  const solids =
    pipeline && pipeline.solids
      ? pipeline.solids
      : state.order.map((key) => ({ name: key, inputs: [], outputs: [] }));
  const begun = state.start ?? run.start_time ?? run.create_time;
  const duration = (state.end ?? (live ? now : run.end_time ?? now)) - begun;
  return (
    <section>
      <header class="page-head">
        <h1>
          Run <span class="mono">{runId.slice(0, 12)}</span>
        </h1>
        <StatusBadge status={status} />
        <span class="muted">
          <a href={`#/pipelines/${enc(run.pipeline_name)}`}>{run.pipeline_name}</a> · mode {run.mode} · started{" "}
          {formatTime(begun)} · {formatDuration(duration)}
          {run.parent_run_id ? (
            <>
              {" "}· re-executes <a href={`#/runs/${run.parent_run_id}`}>{run.parent_run_id.slice(0, 8)}</a>
            </>
          ) : null}
        </span>
        <span class="spacer" />
        <div class="actions">
          <button disabled={busy || live} onClick={() => act("reexecute", {})}>Re-execute all</button>
          <button disabled={busy || live || !failedOrSkipped} onClick={() => act("reexecute", { from_failure: true })}>
            From failure
          </button>
          <button disabled={busy || live || !selected.size} onClick={() => act("reexecute", { selection: [...selected].join(",") })}>
            Re-execute selected ({selected.size})
          </button>
          <button class="danger" disabled={busy || !live || !ACTIVE.has(status)} onClick={() => act("cancel")}>
            Cancel
          </button>
        </div>
      </header>
      {actionError ? <div class="error-card">{actionError}</div> : null}
      {Object.keys(run.tags).length ? (
        <div class="tags">
          <Tags tags={run.tags} />
        </div>
      ) : null}
      <h2>Timeline</h2>
      <Gantt state={state} now={now} selected={selected} onToggle={toggle} />
      <div class="two-columns">
        <div>
          <h2>Steps</h2>
          <div class="dag-box">
            <Dag solids={solids} composites={(pipeline && pipeline.composites) || []} statuses={state.statuses()} selected={selected} onSelect={toggle} />
          </div>
        </div>
        <div>
          <h2>Step placement and status</h2>
          {typical !== null ? (
            <p class="muted small engine-delay">
              Steps started a median {formatDuration(typical)} (max {formatDuration(Math.max(...delays.values()))}) after
              their inputs were ready: time spent queued for the executor and in the engine.
            </p>
          ) : null}
          <div class="steps-box">
            <StepTable state={state} delays={delays} selected={selected} onToggle={toggle} />
          </div>
        </div>
      </div>
      {state.assets.length || state.expectations.length ? (
        <>
          <h2>Materializations and expectations</h2>
          <table class="grid compact">
            <thead>
              <tr>
                <th>step</th>
                <th>kind</th>
                <th>asset / label</th>
                <th>result</th>
                <th>metadata</th>
              </tr>
            </thead>
            <tbody>
              {[...state.assets, ...state.expectations].map((e) => (
                <tr key={e.seq}>
                  <td>{e.step}</td>
                  <td>{e.type === "MATERIALIZATION" ? "materialization" : "expectation"}</td>
                  <td>{e.payload.asset_key || e.payload.label}</td>
                  <td>{e.type === "EXPECTATION" ? <span class={`pill st-${e.payload.success ? "success" : "failure"}`}>{e.payload.success ? "passed" : "failed"}</span> : "-"}</td>
                  <td><Metadata value={e.payload.metadata} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : null}
      <h2>Log {live ? <span class="live">● live</span> : null}</h2>
      <LogTable state={state} version={version} />
    </section>
  );
}
