import { api, enc } from "../api.js";
import { ConfigEditor } from "./ConfigEditor.jsx";

// What the Launchpad and the Memo view share: the run_config editor validated against a
// pipeline (with its mode and selection), the list of problems, and the mode picker.

export function ProblemList({ problems }) {
  if (problems === null) return <div class="problems muted">Checking…</div>;
  if (!problems.length) return <div class="problems ok">✓ The config is valid.</div>;
  return (
    <ul class="problems">
      {problems.map((p, i) => (
        <li key={i} class="problem">
          {p.line ? <span class="line-no">line {p.line}</span> : null} <code>{p.path || "run_config"}</code>: {p.message}
        </li>
      ))}
    </ul>
  );
}

export function CheckedConfig({ pipeline, mode, selection = "", text, setText, replacement, problems, setProblems }) {
  const schema = pipeline.modes.find((m) => m.name === mode).config_schema;
  const validate = (run_config) =>
    api(`/pipelines/${enc(pipeline.name)}/validate`, {
      method: "POST",
      body: { run_config, mode, selection: selection.trim() || null },
    });
  return (
    <>
      <ConfigEditor
        value={text}
        replacement={replacement}
        onChange={setText}
        schema={schema}
        validate={validate}
        onProblems={setProblems}
        revision={`${mode}|${selection}`}
      />
      <ProblemList problems={problems} />
    </>
  );
}

export function ModePicker({ pipeline, mode, setMode }) {
  return (
    <label>
      Mode
      <select value={mode} onChange={(e) => setMode(e.currentTarget.value)}>
        {pipeline.modes.map((m) => (
          <option key={m.name} value={m.name}>{m.name}</option>
        ))}
      </select>
    </label>
  );
}
