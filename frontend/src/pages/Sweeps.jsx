import { useEffect, useState } from "preact/hooks";
import { api, enc } from "../api.js";
import { StatusBadge, formatTime } from "../format.jsx";

// Every sweep the instance keeps runs of, newest first, with how many runs have each status.
export function Sweeps() {
  const [sweeps, setSweeps] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api("/sweeps").then((list) => setSweeps(list.sweeps), setError);
  }, []);
  if (error) return <div class="error-card">{error.message}</div>;
  if (!sweeps) return <div class="loading">Loading sweeps…</div>;
  return (
    <section>
      <header class="page-head">
        <h1>Sweeps</h1>
      </header>
      <table class="grid sweeps">
        <thead>
          <tr><th>sweep</th><th>pipeline</th><th>swept paths</th><th>runs</th><th>queued</th></tr>
        </thead>
        <tbody>
          {sweeps.map((s) => (
            <tr key={s.sweep_id} data-sweep={s.sweep_id}>
              <td class="mono"><a href={`#/sweeps/${enc(s.sweep_id)}`}>{s.sweep_id}</a></td>
              <td><a href={`#/pipelines/${enc(s.pipeline)}`}>{s.pipeline}</a></td>
              <td class="mono">{s.paths.join(", ")}</td>
              <td>
                {Object.entries(s.statuses).map(([status, count]) => (
                  <span key={status}><StatusBadge status={status} /> {count} </span>
                ))}
              </td>
              <td>{formatTime(s.create_time)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {!sweeps.length ? <p class="muted">No sweeps: <code>solidflow sweep</code> or <code>launch_sweep</code> queue one run per point of a grid.</p> : null}
    </section>
  );
}
