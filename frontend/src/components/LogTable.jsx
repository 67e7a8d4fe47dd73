import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { levelOf } from "../runState.js";

// The run's structured log, filterable by level, step, event type and text; only the rows in
// view are drawn, so it keeps up with runs of many thousands of events.
const ROW = 20;
const HEIGHT = 380;
const LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"];

function clock(t) {
  const d = new Date(t * 1000);
  return d.toTimeString().slice(0, 8) + "." + String(d.getMilliseconds()).padStart(3, "0");
}

export function LogTable({ state, version }) {
  const [level, setLevel] = useState("DEBUG");
  const [step, setStep] = useState("");
  const [type, setType] = useState("");
  const [text, setText] = useState("");
  const [scrollTop, setScrollTop] = useState(0);
  const [follow, setFollow] = useState(true);
  const box = useRef(null);
  const rows = useMemo(() => {
    const min = LEVELS.indexOf(level);
    const needle = text.toLowerCase();
    return state.events.filter(
      (e) =>
        LEVELS.indexOf(levelOf(e)) >= min &&
        (!step || e.step === step) &&
        (!type || e.type === type) &&
        (!needle || e.description.toLowerCase().includes(needle) || (e.step || "").toLowerCase().includes(needle)),
    );
  }, [version, level, step, type, text]);
  useEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [rows.length, follow]);
  const onScroll = (e) => {
    const el = e.currentTarget;
    setScrollTop(el.scrollTop);
    setFollow(el.scrollTop + el.clientHeight >= el.scrollHeight - ROW);
  };
  const first = Math.max(0, Math.floor(scrollTop / ROW) - 5);
  const last = Math.min(rows.length, first + Math.ceil(HEIGHT / ROW) + 10);
  const types = [...new Set(state.events.slice(-5000).map((e) => e.type))].sort();
  return (
    <div class="log">
      <div class="log-filters">
        <select value={level} onChange={(e) => setLevel(e.currentTarget.value)} title="Lowest level shown">
          {LEVELS.map((l) => (
            <option key={l} value={l}>{l}+</option>
          ))}
        </select>
        <select value={step} onChange={(e) => setStep(e.currentTarget.value)}>
          <option value="">all steps</option>
          {state.order.map((s) => (
            <option key={s} value={s}>{s}</option>
          ))}
        </select>
        <select value={type} onChange={(e) => setType(e.currentTarget.value)}>
          <option value="">all event types</option>
          {types.map((t) => (
            <option key={t} value={t}>{t}</option>
          ))}
        </select>
        <input class="log-search" placeholder="Search text" value={text} onInput={(e) => setText(e.currentTarget.value)} />
        <span class="muted small log-count">{rows.length} of {state.events.length} events</span>
      </div>
      <div class="log-rows" ref={box} style={{ height: `${HEIGHT}px` }} onScroll={onScroll}>
        <div style={{ height: `${rows.length * ROW}px`, position: "relative" }}>
          {rows.slice(first, last).map((e, i) => (
            <div key={e.seq} class={`log-row lv-${levelOf(e)}`} style={{ top: `${(first + i) * ROW}px` }} data-seq={e.seq}>
              <span class="t">{clock(e.timestamp)}</span>
              <span class="ty">{e.type}</span>
              <span class="st">{e.step || ""}</span>
              <span class="msg">{e.description}</span>
            </div>
          ))}
        </div>
      </div>
    </div>
  );
}
