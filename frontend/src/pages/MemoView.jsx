import { useState } from "preact/hooks";
import { api, enc } from "../api.js";
import { CheckedConfig, ModePicker } from "../components/CheckedConfig.jsx";
import { PipelineTabs } from "../components/PipelineTabs.jsx";
import { useStoredText } from "../runConfigState.js";
import { usePipeline } from "../usePipeline.js";
import { parseDocument } from "../yamlConfig.js";

// For a pipeline and a config: which steps would be served from the store and why the
// others would run (code, config, data version or upstream changed; output missing or
// corrupt), with the run each step's outputs or lineage come from.
export function MemoView({ name }) {
  const [pipeline, error] = usePipeline(name);
  const [text, setText] = useStoredText(`solidflow.config.${name}`, "");
  const [mode, setMode] = useState(null);
  const [problems, setProblems] = useState(null);
  const [report, setReport] = useState(null);
  const [reportError, setReportError] = useState(null);
  if (error) return <div class="error-card">{error.message}</div>;
  if (!pipeline) return <div class="loading">Loading {name}…</div>;
  const chosenMode = mode || pipeline.modes[0].name;
  const check = async () => {
    setReportError(null);
    try {
      setReport(await api(`/pipelines/${enc(name)}/memo`, {
        method: "POST",
        body: { run_config: parseDocument(text).toJS() || {}, mode: chosenMode },
      }));
    } catch (e) {
      setReport(null);
      setReportError(e);
    }
  };
  const memoized = report ? report.steps.filter((s) => s.memoized).length : 0;
  return (
    <section>
      <PipelineTabs name={name} active="memo" />
      <div class="launchpad">
        <div class="editor-column">
          <CheckedConfig
            pipeline={pipeline}
            mode={chosenMode}
            text={text}
            setText={setText}
            problems={problems}
            setProblems={setProblems}
          />
        </div>
        <div class="launch-options">
          <ModePicker pipeline={pipeline} mode={chosenMode} setMode={setMode} />
          <button class="primary" disabled={!problems || problems.length > 0} onClick={check}>
            Check memo status
          </button>
          {reportError ? <div class="error-card">{reportError.message}</div> : null}
        </div>
      </div>
      {report ? (
        <>
          <h2>
            {memoized} of {report.steps.length} steps would be served from the store
          </h2>
          {report.warnings.map((w, i) => (
            <div class="warning" key={i}>{w}</div>
          ))}
          <table class="grid compact memo">
            <thead>
              <tr>
                <th>step</th>
                <th>would be</th>
                <th>why</th>
                <th>memo key</th>
                <th>compared with run</th>
              </tr>
            </thead>
            <tbody>
              {report.steps.map((s) => (
                <tr key={s.step} data-step={s.step}>
                  <td>{s.step}</td>
                  <td>
                    <span class={`pill st-${s.memoized ? "memoized" : "running"}`}>{s.memoized ? "served from store" : "recomputed"}</span>
                  </td>
                  <td>{s.memoized ? "every output is stored and intact" : s.causes.map((c) => c.message).join(", ")}</td>
                  <td class="mono" title={s.memo_key}>{s.memo_key.slice(0, 12)}</td>
                  <td class="mono">
                    {s.source_run_id ? <a href={`#/runs/${s.source_run_id}`}>{s.source_run_id.slice(0, 8)}</a> : <span class="muted">none</span>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : null}
    </section>
  );
}
