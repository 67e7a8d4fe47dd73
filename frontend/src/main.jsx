import { render } from "preact";
import "./style.css";
import { useEffect, useState } from "preact/hooks";
import { Pipelines } from "./pages/Pipelines.jsx";
import { Pipeline } from "./pages/Pipeline.jsx";
import { Runs } from "./pages/Runs.jsx";
import { Run } from "./pages/Run.jsx";
import { Schedules } from "./pages/Schedules.jsx";
import { Schedule } from "./pages/Schedule.jsx";
import { Sweep } from "./pages/Sweep.jsx";
import { Sweeps } from "./pages/Sweeps.jsx";

// The pages with a config editor come with CodeMirror: loaded when first opened.
function lazyPage(load) {
  let loaded = null;
  return function LazyPage(props) {
    const [Page, setPage] = useState(() => loaded);
    useEffect(() => {
      if (!Page) load().then((component) => setPage(() => (loaded = component)));
    }, []);
    return Page ? <Page {...props} /> : <div class="loading">Loading…</div>;
  };
}

const Launchpad = lazyPage(() => import("./pages/Launchpad.jsx").then((m) => m.Launchpad));
const MemoView = lazyPage(() => import("./pages/MemoView.jsx").then((m) => m.MemoView));

// Hash routes: #/pipelines, #/pipelines/NAME[/launchpad|/memo], #/runs, #/runs/ID,
// #/schedules, #/schedules/NAME, #/sweeps, #/sweeps/ID.
function parseRoute(hash) {
  const parts = hash.replace(/^#\/?/, "").split("?")[0].split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "runs" && parts[1]) return { page: "run", runId: parts[1] };
  if (parts[0] === "runs") return { page: "runs" };
  if (parts[0] === "schedules" && parts[1]) return { page: "schedule", schedule: parts[1] };
  if (parts[0] === "schedules") return { page: "schedules" };
  if (parts[0] === "sweeps" && parts[1]) return { page: "sweep", sweepId: parts[1] };
  if (parts[0] === "sweeps") return { page: "sweeps" };
  if (parts[0] === "pipelines" && parts[1]) {
    return { page: parts[2] || "pipeline", pipeline: parts[1] };
  }
  return { page: "pipelines" };
}

function useRoute() {
  const [route, setRoute] = useState(parseRoute(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(location.hash));
    addEventListener("hashchange", onChange);
    return () => removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

function Page({ route }) {
  switch (route.page) {
    case "pipeline":
      return <Pipeline name={route.pipeline} />;
    case "launchpad":
      return <Launchpad name={route.pipeline} />;
    case "memo":
      return <MemoView name={route.pipeline} />;
    case "runs":
      return <Runs />;
    case "run":
      return <Run runId={route.runId} />;
    case "schedules":
      return <Schedules />;
    case "schedule":
      return <Schedule name={route.schedule} />;
    case "sweep":
      return <Sweep sweepId={route.sweepId} />;
    case "sweeps":
      return <Sweeps />;
    default:
      return <Pipelines />;
  }
}

// The section of the top bar each page belongs to (the others: Pipelines).
const SECTIONS = { runs: "runs", run: "runs", sweeps: "sweeps", sweep: "sweeps", schedules: "schedules", schedule: "schedules" };

function App() {
  const route = useRoute();
  const section = SECTIONS[route.page] || "pipelines";
  return (
    <div class="app">
      <nav class="top">
        <a class="brand" href="#/pipelines">solidflow</a>
        <a class={section === "pipelines" ? "active" : ""} href="#/pipelines">Pipelines</a>
        <a class={section === "runs" ? "active" : ""} href="#/runs">Runs</a>
        <a class={section === "schedules" ? "active" : ""} href="#/schedules">Schedules</a>
        <a class={section === "sweeps" ? "active" : ""} href="#/sweeps">Sweeps</a>
        <span class="spacer" />
        <a class="doc" href="/api/openapi.json" target="_blank" rel="noreferrer">API</a>
      </nav>
      <main>
        <Page key={JSON.stringify(route)} route={route} />
      </main>
    </div>
  );
}

render(<App />, document.getElementById("app"));
