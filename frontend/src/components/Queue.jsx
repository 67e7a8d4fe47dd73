import { useEffect, useState } from "preact/hooks";
import { api, enc } from "../api.js";
import { Tags, formatTime } from "../format.jsx";

// The QUEUED runs in the order the daemon starts them, each with a Cancel button; refreshed
// every two seconds while the page is open.
export function Queue({ onChange }) {
  const [runs, setRuns] = useState([]);
  const [error, setError] = useState(null);
  const [refresh, setRefresh] = useState(0);
  useEffect(() => {
    api("/queue").then((q) => {
      setRuns(q.runs);
      setError(null);
    }, setError);
    const timer = setTimeout(() => setRefresh(refresh + 1), 2000);
    return () => clearTimeout(timer);
  }, [refresh]);
  const cancel = async (runId) => {
    try {
      await api(`/runs/${runId}/cancel`, { method: "POST" });
      setRefresh(refresh + 1);
      onChange();
    } catch (e) {
      setError(e);
    }
  };
  if (!runs.length && !error) return null;
  return (
    <div class="queue">
      <h2>Queue ({runs.length})</h2>
      {error ? <div class="error-card">{error.message}</div> : null}
      <table class="grid compact queue">
        <thead>
          <tr><th>#</th><th>run</th><th>pipeline</th><th>priority</th><th>tags</th><th>queued</th><th /></tr>
        </thead>
        <tbody>
          {runs.map((r, i) => (
            <tr key={r.run_id} data-run={r.run_id}>
              <td>{i + 1}</td>
              <td class="mono"><a href={`#/runs/${r.run_id}`}>{r.run_id.slice(0, 12)}</a></td>
              <td><a href={`#/pipelines/${enc(r.pipeline_name)}`}>{r.pipeline_name}</a></td>
              <td>{r.priority}</td>
              <td><Tags tags={r.tags} /></td>
              <td>{formatTime(r.create_time)}</td>
              <td><button class="danger" onClick={() => cancel(r.run_id)} aria-label={`cancel ${r.run_id}`}>Cancel</button></td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
