import { useEffect, useState } from "preact/hooks";
import { api, enc } from "../api.js";
import { Queue } from "../components/Queue.jsx";
import { StatusBadge, Tags, formatDuration, formatTime } from "../format.jsx";
import { hashParam } from "../runConfigState.js";

const STATUSES = ["", "QUEUED", "STARTING", "STARTED", "CANCELING", "SUCCESS", "FAILURE", "CANCELED"];
const ENDED = new Set(["SUCCESS", "FAILURE", "CANCELED"]);

export function Runs() {
  const [status, setStatus] = useState("");
  const [pipeline, setPipeline] = useState(hashParam("pipeline") || "");
  const [tag, setTag] = useState(hashParam("tag") || "");
  const [runs, setRuns] = useState(null);
  const [cursor, setCursor] = useState(null);
  const [error, setError] = useState(null);
  const [checked, setChecked] = useState(new Set());
  const [refresh, setRefresh] = useState(0);
  const query = (after) => {
    const params = new URLSearchParams({ limit: "50" });
    if (status) params.set("status", status);
    if (pipeline) params.set("pipeline", pipeline);
    if (tag.includes("=")) params.set("tag", tag);
    if (after) params.set("cursor", after);
    return `/runs?${params}`;
  };
  useEffect(() => {
    api(query(null)).then(
      (page) => {
        setRuns(page.runs);
        setCursor(page.next_cursor);
        setError(null);
      },
      setError,
    );
  }, [status, pipeline, tag, refresh]);
  useEffect(() => {
    if (!runs || runs.every((r) => ENDED.has(r.status))) return undefined;
    const timer = setTimeout(() => setRefresh(refresh + 1), 2000);
    return () => clearTimeout(timer);
  }, [runs]);
  const more = async () => {
    const page = await api(query(cursor));
    setRuns([...runs, ...page.runs]);
    setCursor(page.next_cursor);
  };
  const toggle = (id) => {
    const next = new Set(checked);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setChecked(next);
  };
  const remove = async () => {
    if (!confirm(`Delete ${checked.size} run(s) and their events? Stored outputs stay.`)) return;
    try {
      await api("/runs/delete", { method: "POST", body: { run_ids: [...checked] } });
      setChecked(new Set());
      setRefresh(refresh + 1);
    } catch (e) {
      setError(e);
    }
  };
  return (
    <section>
      <header class="page-head">
        <h1>Runs</h1>
        <span class="spacer" />
        <button class="danger" disabled={!checked.size} onClick={remove}>
          Delete selected ({checked.size})
        </button>
      </header>
      <Queue onChange={() => setRefresh(refresh + 1)} />
      <h2>All runs</h2>
      <div class="filters">
        <select value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
          {STATUSES.map((s) => (
            <option key={s} value={s}>{s || "any status"}</option>
          ))}
        </select>
        <input placeholder="pipeline" value={pipeline} onChange={(e) => setPipeline(e.currentTarget.value)} />
        <input placeholder="tag key=value" value={tag} onChange={(e) => setTag(e.currentTarget.value)} />
      </div>
      {error ? <div class="error-card">{error.message}</div> : null}
      {!runs ? (
        <div class="loading">Loading runs…</div>
      ) : (
        <table class="grid runs">
          <thead>
            <tr>
              <th />
              <th>run</th>
              <th>pipeline</th>
              <th>status</th>
              <th>tags</th>
              <th>started</th>
              <th>duration</th>
              <th>parent</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((r) => (
              <tr key={r.run_id}>
                <td><input type="checkbox" checked={checked.has(r.run_id)} onChange={() => toggle(r.run_id)} aria-label={`select run ${r.run_id}`} /></td>
                <td class="mono"><a href={`#/runs/${r.run_id}`}>{r.run_id.slice(0, 12)}</a></td>
                <td><a href={`#/pipelines/${enc(r.pipeline_name)}`}>{r.pipeline_name}</a></td>
                <td><StatusBadge status={r.status} /></td>
                <td><Tags tags={r.tags} /></td>
                <td>{formatTime(r.start_time ?? r.create_time)}</td>
                <td>{r.end_time ? formatDuration(r.end_time - (r.start_time ?? r.create_time)) : ENDED.has(r.status) ? "-" : r.status === "QUEUED" ? "queued" : "running"}</td>
                <td class="mono">{r.parent_run_id ? <a href={`#/runs/${r.parent_run_id}`}>{r.parent_run_id.slice(0, 8)}</a> : ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {runs && !runs.length ? <p class="muted">No runs.</p> : null}
      {cursor ? <button onClick={more}>Load more</button> : null}
    </section>
  );
}
