import { useEffect, useState } from "preact/hooks";
import { api, enc } from "../api.js";
import { StatusBadge, formatDuration } from "../format.jsx";
import { hashParam } from "../runConfigState.js";

function metricsInHash() {
  return (hashParam("metric") || "").split(",").filter(Boolean);
}

function show(value) {
  if (value == null) return "-";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

// The runs of a sweep, one row per point: its config values, status, duration, the metrics
// asked for ("step.name", kept in the address) and the steps computed or served from the store.
export function Sweep({ sweepId }) {
  const [metrics, setMetrics] = useState(metricsInHash);
  const [draft, setDraft] = useState("");
  const [sweep, setSweep] = useState(null);
  const [error, setError] = useState(null);
  const [refresh, setRefresh] = useState(0);
  useEffect(() => {
    const params = new URLSearchParams();
    metrics.forEach((m) => params.append("metric", m));
    api(`/sweeps/${enc(sweepId)}?${params}`).then((s) => {
      setSweep(s);
      setError(null);
    }, setError);
  }, [sweepId, metrics, refresh]);
  useEffect(() => {
    if (!sweep || sweep.ended) return undefined;
    const timer = setTimeout(() => setRefresh(refresh + 1), 2000);
    return () => clearTimeout(timer);
  }, [sweep]);
  const addMetric = (event) => {
    event.preventDefault();
    const name = draft.trim();
    if (!name || metrics.includes(name)) return;
    const next = [...metrics, name];
    history.replaceState(null, "", `#/sweeps/${enc(sweepId)}?metric=${enc(next.join(","))}`);
    setMetrics(next);
    setDraft("");
  };
  if (!sweep) return error ? <div class="error-card">{error.message}</div> : <div class="loading">Loading sweep…</div>;
  const paths = [...new Set(sweep.rows.flatMap((r) => Object.keys(r.point)))];
  const computed = sweep.rows.reduce((n, r) => n + r.steps_computed, 0);
  const served = sweep.rows.reduce((n, r) => n + r.steps_served, 0);
  return (
    <section>
      <header class="page-head">
        <h1>Sweep {sweepId}</h1>
        {sweep.ended ? <span class="badge">ended</span> : <span class="live">running…</span>}
        <span class="spacer" />
        <a href={`#/runs?tag=${enc(`solidflow/sweep=${sweepId}`)}`}>its runs</a>
      </header>
      {error ? <div class="error-card">{error.message}</div> : null}
      <p class="sweep-steps">
        {sweep.rows.length} points; {computed} steps computed, {served} served from the store.
      </p>
      <form class="filters" onSubmit={addMetric}>
        <input placeholder="metric step.name" value={draft} onInput={(e) => setDraft(e.currentTarget.value)} />
        <button type="submit">Add metric</button>
      </form>
      <table class="grid sweep">
        <thead>
          <tr>
            <th>run</th>
            {paths.map((p) => <th key={p} class="mono">{p}</th>)}
            <th>status</th>
            <th>duration</th>
            {metrics.map((m) => <th key={m} class="mono">{m}</th>)}
            <th>computed</th>
            <th>served</th>
          </tr>
        </thead>
        <tbody>
          {sweep.rows.map((r) => (
            <tr key={r.run_id} data-run={r.run_id}>
              <td class="mono"><a href={`#/runs/${r.run_id}`}>{r.run_id.slice(0, 8)}</a></td>
              {paths.map((p) => <td key={p}>{show(r.point[p])}</td>)}
              <td><StatusBadge status={r.status} /></td>
              <td>{formatDuration(r.duration)}</td>
              {metrics.map((m) => <td key={m} class="metric">{show(r.metrics[m])}</td>)}
              <td>{r.steps_computed}</td>
              <td>{r.steps_served}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
