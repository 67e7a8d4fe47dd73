// Small display helpers.

export function formatTime(seconds) {
  if (seconds == null) return "-";
  const d = new Date(seconds * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function formatDuration(seconds) {
  if (seconds == null || Number.isNaN(seconds)) return "-";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(2)} s`;
  const m = Math.floor(seconds / 60);
  return `${m} min ${Math.round(seconds - m * 60)} s`;
}

export function StatusBadge({ status }) {
  return <span class={`badge status-${(status || "").toLowerCase()}`}>{status}</span>;
}

// Tags solidflow gives runs link to what made the run: its sweep or its schedule.
const TAG_LINKS = { "solidflow/sweep": "#/sweeps/", "solidflow/schedule": "#/schedules/" };

export function Tags({ tags }) {
  return Object.entries(tags).map(([k, v]) =>
    TAG_LINKS[k] ? (
      <a class="tag" key={k} href={`${TAG_LINKS[k]}${encodeURIComponent(v)}`}>{k}={v}</a>
    ) : (
      <span class="tag" key={k}>{k}={v}</span>
    ),
  );
}
