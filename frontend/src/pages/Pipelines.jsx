import { useEffect, useState } from "preact/hooks";
import { api, enc } from "../api.js";
import { StatusBadge, formatTime } from "../format.jsx";

export function Pipelines() {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [reloading, setReloading] = useState(false);
  useEffect(() => {
    api("/pipelines").then(setData, setError);
  }, []);
  const reload = async () => {
    setReloading(true);
    try {
      setData(await api("/workspace/reload", { method: "POST" }));
    } catch (e) {
      setError(e);
    } finally {
      setReloading(false);
    }
  };
  if (error) return <div class="error-card">{error.message}</div>;
  if (!data) return <div class="loading">Loading pipelines…</div>;
  const failed = data.locations.filter((l) => l.error);
  return (
    <section>
      <header class="page-head">
        <h1>Pipelines</h1>
        {data.read_only ? <span class="badge">read-only</span> : null}
        <span class="spacer" />
        <button onClick={reload} disabled={reloading || data.read_only} title="Import every target again">
          {reloading ? "Reloading…" : "Reload workspace"}
        </button>
      </header>
      {failed.map((location) => (
        <div class="error-card location-error" key={location.target}>
          <strong>{location.target}</strong> could not be loaded
          <pre>{location.error}</pre>
        </div>
      ))}
      <table class="grid">
        <thead>
          <tr>
            <th>pipeline</th>
            <th>description</th>
            <th>solids</th>
            <th>last run</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {data.pipelines.map((p) => (
            <tr key={p.name}>
              <td>
                <a href={`#/pipelines/${enc(p.name)}`}><strong>{p.name}</strong></a>
                <div class="muted small">{p.target}</div>
              </td>
              <td class="description">{(p.description || "").split("\n")[0]}</td>
              <td>{p.solid_count}</td>
              <td>
                {p.last_run ? (
                  <a href={`#/runs/${p.last_run.run_id}`}>
                    <StatusBadge status={p.last_run.status} /> {formatTime(p.last_run.start_time ?? p.last_run.create_time)}
                  </a>
                ) : (
                  <span class="muted">never run</span>
                )}
              </td>
              <td class="actions">
                <a href={`#/pipelines/${enc(p.name)}/launchpad`}>Launchpad</a>
                <a href={`#/pipelines/${enc(p.name)}/memo`}>Memo</a>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
