import { useState } from "preact/hooks";
import { api } from "../api.js";
import { CheckedConfig, ModePicker, ProblemList } from "../components/CheckedConfig.jsx";
import { PipelineTabs } from "../components/PipelineTabs.jsx";
import { hashParam, useStoredText } from "../runConfigState.js";
import { usePipeline } from "../usePipeline.js";
import { parseDocument, scaffold } from "../yamlConfig.js";

function parseTags(text) {
  const tags = {};
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const [key, ...rest] = line.split("=");
    tags[key.trim()] = rest.join("=").trim();
  }
  return tags;
}

export function Launchpad({ name }) {
  const [pipeline, error] = usePipeline(name);
  const [text, setText] = useStoredText(`solidflow.config.${name}`, "");
  const [replacement, setReplacement] = useState(null);
  const [mode, setMode] = useState(null);
  const [selection, setSelection] = useState(hashParam("select") || "");
  const [executor, setExecutor] = useState("");
  const [tagText, setTagText] = useState("");
  const [memoize, setMemoize] = useState(false);
  const [problems, setProblems] = useState(null);
  const [launchError, setLaunchError] = useState(null);
  const [launching, setLaunching] = useState(false);
  if (error) return <div class="error-card">{error.message}</div>;
  if (!pipeline) return <div class="loading">Loading {name}…</div>;
  const chosenMode = mode || pipeline.modes[0].name;
  const schema = pipeline.modes.find((m) => m.name === chosenMode).config_schema;
  const launch = async () => {
    setLaunching(true);
    setLaunchError(null);
    try {
      const run_config = parseDocument(text).toJS() || {};
      const run = await api("/runs", {
        method: "POST",
        body: {
          pipeline: name,
          run_config,
          mode: chosenMode,
          selection: selection.trim() || null,
          executor: executor || null,
          tags: parseTags(tagText),
          memoize,
        },
      });
      location.hash = `#/runs/${run.run_id}`;
    } catch (e) {
      setLaunchError(e);
    } finally {
      setLaunching(false);
    }
  };
  return (
    <section>
      <PipelineTabs name={name} active="launchpad" />
      <div class="launchpad">
        <div class="editor-column">
          <div class="editor-head">
            <strong>run_config</strong>
            <span class="muted small">Ctrl-Space completes keys from the schema</span>
            <span class="spacer" />
            <button onClick={() => setReplacement({ text: scaffold(schema, text) })}>Scaffold required config</button>
          </div>
          <CheckedConfig
            pipeline={pipeline}
            mode={chosenMode}
            selection={selection}
            text={text}
            setText={setText}
            replacement={replacement}
            problems={problems}
            setProblems={setProblems}
          />
        </div>
        <div class="launch-options">
          <ModePicker pipeline={pipeline} mode={chosenMode} setMode={setMode} />
          <label>
            Executor
            <select value={executor} onChange={(e) => setExecutor(e.currentTarget.value)}>
              <option value="">default (run_config, else the instance's)</option>
              <option value="in_process">in_process</option>
              <option value="ray">ray</option>
            </select>
          </label>
          <label>
            Solid selection
            <input value={selection} placeholder="all solids; e.g. *load+" onInput={(e) => setSelection(e.currentTarget.value)} />
          </label>
          <label>
            Tags (key=value per line)
            <textarea rows="3" value={tagText} onInput={(e) => setTagText(e.currentTarget.value)} />
          </label>
          <label class="inline">
            <input type="checkbox" checked={memoize} onChange={(e) => setMemoize(e.currentTarget.checked)} /> Memoize
            (skip steps whose outputs are stored)
          </label>
          <button class="primary launch" disabled={launching || !problems || problems.length > 0} onClick={launch}>
            {launching ? "Launching…" : "Launch run"}
          </button>
          {launchError ? (
            <div class="error-card">
              {launchError.message}
              <ProblemList problems={launchError.errors} />
            </div>
          ) : null}
        </div>
      </div>
    </section>
  );
}
