import { useEffect, useState } from "preact/hooks";
import { api, enc } from "../api.js";
import { StatusBadge, formatTime } from "../format.jsx";
import { ScheduleToggle, TickStatus } from "./Schedules.jsx";

function Ticks({ name }) {
  const [ticks, setTicks] = useState(null);
  const [cursor, setCursor] = useState(null);
  const [error, setError] = useState(null);
  const load = async (before) => {
    try {
      const page = await api(`/schedules/${enc(name)}/ticks?limit=25${before ? `&before=${before}` : ""}`);
      setTicks((shown) => [...(before ? shown : []), ...page.ticks]);
      setCursor(page.next_cursor);
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => {
    load(null);
  }, [name]);
  if (error) return <div class="error-card">{error.message}</div>;
  if (!ticks) return <div class="loading">Loading ticks…</div>;
  return (
    <>
      <table class="grid compact ticks">
        <thead>
          <tr><th>tick</th><th>status</th><th>error</th></tr>
        </thead>
        <tbody>
          {ticks.map((t) => (
            <tr key={t.key} data-tick={t.key}>
              <td>{formatTime(t.tick_time)}</td>
              <td><TickStatus tick={t} /></td>
              <td class="error-text">{t.error || ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {!ticks.length ? <p class="muted">No ticks yet.</p> : null}
      {cursor ? <button onClick={() => load(cursor)}>Load older ticks</button> : null}
    </>
  );
}

function Preview({ name }) {
  const [preview, setPreview] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api(`/schedules/${enc(name)}/preview?count=5`).then(setPreview, setError);
  }, [name]);
  if (error) return <div class="error-card">{error.message}</div>;
  if (!preview) return <div class="loading">Computing the next ticks…</div>;
  return (
    <ul class="previews">
      {preview.ticks.map((t) => (
        <li key={t.tick_time} class="preview">
          <strong>{t.local_time}</strong> <span class="muted small">({formatTime(t.tick_time)} here)</span>
          {t.problems.map((p) => (
            <div class="problem" key={p}>{p}</div>
          ))}
          {t.run_config ? <pre class="json">{JSON.stringify(t.run_config)}</pre> : null}
        </li>
      ))}
    </ul>
  );
}

export function Schedule({ name }) {
  const [schedule, setSchedule] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api(`/schedules/${enc(name)}`).then(setSchedule, setError);
  }, [name]);
  if (!schedule) return error ? <div class="error-card">{error.message}</div> : <div class="loading">Loading…</div>;
  return (
    <section>
      <header class="page-head">
        <h1>{schedule.name}</h1>
        <StatusBadge status={schedule.status} />
        <ScheduleToggle schedule={schedule} onChange={setSchedule} onError={setError} />
        <span class="spacer" />
        <a href={`#/runs?tag=${enc(`solidflow/schedule=${schedule.name}`)}`}>its runs</a>
      </header>
      {error ? <div class="error-card">{error.message}</div> : null}
      {schedule.description ? <p class="docstring">{schedule.description}</p> : null}
      <p>
        Runs <a href={`#/pipelines/${enc(schedule.pipeline)}`}>{schedule.pipeline}</a> at <code>{schedule.cron}</code> ({schedule.timezone}),
        catch-up <code>{schedule.catchup}</code>; next due {formatTime(schedule.next_ticks[0])}.
      </p>
      <div class="two-columns">
        <div>
          <h2>Ticks</h2>
          <Ticks name={name} />
        </div>
        <div>
          <h2>Next ticks and their config</h2>
          <Preview name={name} />
        </div>
      </div>
    </section>
  );
}
