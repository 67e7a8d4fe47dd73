import { useState } from "preact/hooks";
import { api, enc } from "../api.js";
import { Dag } from "../components/Dag.jsx";
import { PipelineTabs } from "../components/PipelineTabs.jsx";
import { usePipeline } from "../usePipeline.js";

function SolidPanel({ solid }) {
  if (!solid) return <aside class="side muted">Click a solid for its description, types, config and tags.</aside>;
  return (
    <aside class="side solid-panel">
      <h2>{solid.name}</h2>
      {solid.solid !== solid.name.split(".").pop() ? <div class="muted">solid {solid.solid}</div> : null}
      <p class="docstring">{solid.description || <span class="muted">No description.</span>}</p>
      <h3>Inputs</h3>
      <ul>
        {solid.inputs.map((i) => (
          <li key={i.name}>
            <code>{i.name}</code>: <span class="type">{i.type}</span>{" "}
            <span class="muted">← {i.text}</span>
          </li>
        ))}
        {solid.inputs.length ? null : <li class="muted">none</li>}
      </ul>
      <h3>Outputs</h3>
      <ul>
        {solid.outputs.map((o) => (
          <li key={o.name}>
            <code>{o.name}</code>: <span class="type">{o.type}</span>
          </li>
        ))}
      </ul>
      {solid.required_resources.length ? (
        <p>
          <strong>Resources:</strong> {solid.required_resources.join(", ")}
        </p>
      ) : null}
      {solid.version ? <p><strong>Version:</strong> {solid.version}</p> : null}
      {solid.retry ? <p><strong>Retry:</strong> {solid.retry}</p> : null}
      {Object.keys(solid.tags).length ? (
        <>
          <h3>Tags</h3>
          <pre class="json">{JSON.stringify(solid.tags, null, 2)}</pre>
        </>
      ) : null}
      <h3>Config schema</h3>
      {solid.config_schema ? (
        <pre class="json">{JSON.stringify(solid.config_schema.properties || solid.config_schema, null, 2)}</pre>
      ) : (
        <p class="muted">No config.</p>
      )}
    </aside>
  );
}

export function Pipeline({ name }) {
  const [pipeline, error] = usePipeline(name);
  const [chosen, setChosen] = useState(null);
  const [query, setQuery] = useState("");
  const [highlight, setHighlight] = useState(null);
  const [queryError, setQueryError] = useState(null);
  if (error) return <div class="error-card">{error.message}</div>;
  if (!pipeline) return <div class="loading">Loading {name}…</div>;
  const search = async (event) => {
    event.preventDefault();
    if (!query.trim()) {
      setHighlight(null);
      setQueryError(null);
      return;
    }
    try {
      const result = await api(`/pipelines/${enc(name)}/select?query=${enc(query)}`);
      setHighlight(new Set(result.steps));
      setQueryError(null);
    } catch (e) {
      setHighlight(new Set());
      setQueryError(e.message);
    }
  };
  const solid = pipeline.solids.find((s) => s.name === chosen);
  return (
    <section>
      <PipelineTabs name={name} active="pipeline" />
      {pipeline.description ? <p class="docstring">{pipeline.description}</p> : null}
      <form class="search" onSubmit={search}>
        <input
          class="selection-input"
          placeholder="Select solids: *load+, report++"
          value={query}
          onInput={(e) => setQuery(e.currentTarget.value)}
        />
        <button type="submit">Select</button>
        {highlight && !queryError ? <span class="muted">{highlight.size} selected</span> : null}
        {queryError ? <span class="error-text">{queryError}</span> : null}
        {highlight && highlight.size ? (
          <a href={`#/pipelines/${enc(name)}/launchpad?select=${enc(query)}`}>Launch this selection</a>
        ) : null}
      </form>
      <div class="with-side">
        <Dag
          solids={pipeline.solids}
          composites={pipeline.composites}
          selected={new Set(chosen ? [chosen] : [])}
          highlight={highlight}
          onSelect={setChosen}
        />
        <SolidPanel solid={solid} />
      </div>
    </section>
  );
}
