import { formatDuration } from "../format.jsx";

// One bar per step on the run's time axis, coloured by status; memoized steps are marked as
// such (they take no time); a running step's bar grows until now. Click a row to select it.
export function Gantt({ state, now, selected, onToggle }) {
  const steps = [...state.steps.values()].sort((a, b) => {
    if (a.start === null && b.start === null) return 0;
    if (a.start === null) return 1;
    if (b.start === null) return -1;
    return a.start - b.start;
  });
  const origin = state.start ?? (steps[0] && steps[0].start) ?? now;
  const last = Math.max(state.end ?? now, origin);
  const span = Math.max(last - origin, 0.001);
  const pct = (t) => `${(Math.min(Math.max(t - origin, 0), span) / span) * 100}%`;
  return (
    <div class="gantt">
      <div class="gantt-rows">
        {steps.map((step) => {
          const end = step.end ?? (step.status === "running" || step.status === "retrying" ? last : null);
          const title = `${step.key}: ${step.status}${step.start !== null && end !== null ? ` (${formatDuration(end - step.start)})` : ""}`;
          return (
            <div
              key={step.key}
              class={`gantt-row st-${step.status}${selected.has(step.key) ? " selected" : ""}`}
              data-step={step.key}
              data-status={step.status}
              title={title}
              onClick={() => onToggle(step.key)}
            >
              <span class="gantt-label">{step.key}</span>
              <span class="gantt-track">
                {step.start === null ? null : step.status === "memoized" ? (
                  <span class="gantt-memo" style={{ left: pct(step.start) }}>◆ memoized</span>
                ) : (
                  <span
                    class="gantt-bar"
                    style={{ left: pct(step.start), width: `max(2px, calc(${pct(end ?? step.start)} - ${pct(step.start)}))` }}
                  />
                )}
              </span>
            </div>
          );
        })}
      </div>
      <div class="gantt-axis">
        <span class="gantt-label" />
        <span class="gantt-track">
          {[0, 0.25, 0.5, 0.75, 1].map((f) => (
            <span key={f} class="gantt-tick" style={{ left: `${f * 100}%` }}>{formatDuration(f * span)}</span>
          ))}
        </span>
      </div>
    </div>
  );
}
