import { enc } from "../api.js";

export function PipelineTabs({ name, active }) {
  const tab = (id, label, path) => (
    <a class={active === id ? "tab active" : "tab"} href={`#/pipelines/${enc(name)}${path}`}>
      {label}
    </a>
  );
  return (
    <header class="page-head">
      <h1>{name}</h1>
      <div class="tabs">
        {tab("pipeline", "Definition", "")}
        {tab("launchpad", "Launchpad", "/launchpad")}
        {tab("memo", "Memo", "/memo")}
        <a class="tab" href={`#/runs?pipeline=${enc(name)}`}>Runs</a>
      </div>
    </header>
  );
}
