import { useEffect, useState } from "preact/hooks";
import { api, enc } from "../api.js";
import { StatusBadge, formatTime } from "../format.jsx";

// A schedule's Start/Stop button; onChange receives the schedule as the server returns it.
export function ScheduleToggle({ schedule, onChange, onError }) {
  const [busy, setBusy] = useState(false);
  const running = schedule.status === "RUNNING";
  const action = running ? "stop" : "start";
  const toggle = async () => {
    setBusy(true);
    try {
      onChange(await api(`/schedules/${enc(schedule.name)}/${action}`, { method: "POST" }));
    } catch (e) {
      onError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <button class={running ? "danger" : "primary"} disabled={busy} onClick={toggle} aria-label={`${action} ${schedule.name}`}>
      {running ? "Stop" : "Start"}
    </button>
  );
}

export function TickStatus({ tick }) {
  if (!tick) return <span class="muted">-</span>;
  return (
    <>
      <StatusBadge status={tick.status} />{" "}
      {tick.run_id ? <a class="mono" href={`#/runs/${tick.run_id}`}>{tick.run_id.slice(0, 8)}</a> : null}
    </>
  );
}

// The schedules, refreshed every five seconds (the daemon records their ticks meanwhile).
export function Schedules() {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [refresh, setRefresh] = useState(0);
  useEffect(() => {
    api("/schedules?upcoming=1").then(setData, setError);
    const timer = setTimeout(() => setRefresh(refresh + 1), 5000);
    return () => clearTimeout(timer);
  }, [refresh]);
  const replace = (changed) =>
    setData({ ...data, schedules: data.schedules.map((s) => (s.name === changed.name ? changed : s)) });
  if (!data) return error ? <div class="error-card">{error.message}</div> : <div class="loading">Loading schedules…</div>;
  return (
    <section>
      <header class="page-head">
        <h1>Schedules</h1>
      </header>
      {error ? <div class="error-card">{error.message}</div> : null}
      {data.problems.map((p) => (
        <div class="error-card location-error" key={p.location}>
          <strong>{p.location}</strong>: {p.message}
        </div>
      ))}
      <table class="grid schedules">
        <thead>
          <tr>
            <th>schedule</th>
            <th>pipeline</th>
            <th>cron</th>
            <th>state</th>
            <th>next tick</th>
            <th>last tick</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {data.schedules.map((s) => (
            <tr key={s.name} data-schedule={s.name}>
              <td><a href={`#/schedules/${enc(s.name)}`}>{s.name}</a></td>
              <td><a href={`#/pipelines/${enc(s.pipeline)}`}>{s.pipeline}</a></td>
              <td><code>{s.cron}</code> <span class="muted small">{s.timezone}</span></td>
              <td class="state"><StatusBadge status={s.status} /></td>
              <td>{s.status === "RUNNING" ? formatTime(s.next_ticks[0]) : <span class="muted">{formatTime(s.next_ticks[0])} (stopped)</span>}</td>
              <td class="last-tick">
                {s.last_tick ? <span class="muted small">{formatTime(s.last_tick.tick_time)} </span> : null}
                <TickStatus tick={s.last_tick} />
              </td>
              <td><ScheduleToggle schedule={s} onChange={replace} onError={setError} /></td>
            </tr>
          ))}
        </tbody>
      </table>
      {!data.schedules.length ? (
        <p class="muted">No schedules: define them with @schedule in the workspace's files, or list their files under workspace in solidflow.yaml.</p>
      ) : null}
      <p class="muted small">A running schedule's runs are queued by <code>solidflow daemon</code>.</p>
    </section>
  );
}
