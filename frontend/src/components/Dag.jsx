import { useEffect, useMemo, useState } from "preact/hooks";
import { layout } from "../layout.js";

// The DAG of a pipeline, laid out top-down by dagre (in a worker: see layoutWorker.js). Composites are boxes that collapse
// into one node; nodes show their inputs and outputs with types; `statuses` colours nodes.

const LINE = 14;
const LABELS_UP_TO = 200; // edge labels (output: type) on graphs up to this many nodes

function outermostCollapsed(name, collapsed) {
  const parts = name.split(".");
  for (let i = 1; i < parts.length; i++) {
    const prefix = parts.slice(0, i).join(".");
    if (collapsed.has(prefix)) return prefix;
  }
  return null;
}

function textWidth(text) {
  return text.length * 6.6;
}

// The graph to lay out: nodes with their sizes (composites as clusters or, collapsed, as one
// node), edges with their labels; `info` keeps what each node draws.
function buildSpec(solids, composites, collapsed) {
  const labels = solids.length <= LABELS_UP_TO;
  const nodes = new Map();
  const owner = new Map();
  const collapsedCounts = new Map();
  for (const solid of solids) {
    const group = outermostCollapsed(solid.name, collapsed);
    owner.set(solid.name, group || solid.name);
    if (group) {
      collapsedCounts.set(group, (collapsedCounts.get(group) || 0) + 1);
      continue;
    }
    const lines = [
      ...solid.inputs.map((i) => `▸ ${i.name}: ${i.type}`),
      ...solid.outputs.map((o) => `◂ ${o.name}: ${o.type}`),
    ];
    const short = solid.name.split(".").pop();
    const width = Math.min(340, Math.max(140, short.length * 8, ...lines.map(textWidth)) + 20);
    nodes.set(solid.name, { id: solid.name, kind: "solid", lines, width, height: 26 + LINE * lines.length });
  }
  for (const [group, count] of collapsedCounts) {
    nodes.set(group, { id: group, kind: "collapsed", count, width: Math.max(150, textWidth(group) + 40), height: 40 });
  }
  for (const composite of composites) {
    if (outermostCollapsed(composite.name, collapsed) || collapsed.has(composite.name)) continue;
    nodes.set(composite.name, { id: composite.name, kind: "cluster", paddingTop: 22 });
  }
  for (const node of nodes.values()) {
    const parts = node.id.split(".");
    for (let i = parts.length - 1; i > 0; i--) {
      const prefix = parts.slice(0, i).join(".");
      if (nodes.has(prefix) && nodes.get(prefix).kind === "cluster") {
        node.parent = prefix;
        break;
      }
    }
  }
  const edges = new Map();
  for (const solid of solids) {
    const to = owner.get(solid.name);
    for (const input of solid.inputs) {
      for (const source of input.sources) {
        const from = owner.get(source.node);
        if (!from || from === to) continue;
        const key = `${from}->${to}`;
        const edge = edges.get(key) || { v: from, w: to, texts: [] };
        const text = `${source.output}: ${input.type}`;
        if (labels && !edge.texts.includes(text)) edge.texts.push(text);
        edges.set(key, edge);
      }
    }
  }
  for (const edge of edges.values()) {
    edge.label = edge.texts.join(", ");
    edge.width = edge.label ? textWidth(edge.label) : 0;
    edge.height = edge.label ? 12 : 0;
  }
  return {
    compound: composites.length > 0,
    graph: { rankdir: "TB", nodesep: 24, ranksep: labels ? 42 : 30, marginx: 12, marginy: 12 },
    nodes: [...nodes.values()],
    edges: [...edges.values()],
  };
}

function edgePath(points) {
  const [first, ...rest] = points;
  return `M${first.x},${first.y} ` + rest.map((p) => `L${p.x},${p.y}`).join(" ");
}

export function Dag({ solids, composites = [], statuses = {}, selected = new Set(), onSelect, highlight }) {
  const [collapsed, setCollapsed] = useState(new Set());
  const [zoom, setZoom] = useState(1);
  const spec = useMemo(() => buildSpec(solids, composites, collapsed), [solids, composites, collapsed]);
  const [laidOut, setLaidOut] = useState(null);
  useEffect(() => {
    let current = true;
    if (spec.nodes.length) layout(spec).then((result) => current && setLaidOut({ spec, result }));
    return () => {
      current = false;
    };
  }, [spec]);
  const toggle = (name) => {
    const next = new Set(collapsed);
    if (next.has(name)) next.delete(name);
    else next.add(name);
    setCollapsed(next);
  };
  if (!spec.nodes.length) return <div class="dag muted">No steps yet.</div>;
  if (!laidOut) return <div class="dag muted dag-pending">Laying out {solids.length} solids…</div>;
  const { result } = laidOut;
  const info = new Map(laidOut.spec.nodes.map((n) => [n.id, n]));
  const labels = new Map(laidOut.spec.edges.map((e) => [`${e.v}->${e.w}`, e.label]));
  const box = (id) => ({ ...result.nodes[id], ...info.get(id) });
  const clusters = laidOut.spec.nodes.filter((n) => n.kind === "cluster").map((n) => n.id);
  const others = laidOut.spec.nodes.filter((n) => n.kind !== "cluster").map((n) => n.id);
  return (
    <div class="dag">
      <div class="dag-tools">
        <button onClick={() => setZoom(zoom / 1.25)} title="Zoom out">−</button>
        <button onClick={() => setZoom(1)} title="Actual size">1:1</button>
        <button onClick={() => setZoom(zoom * 1.25)} title="Zoom in">+</button>
        {composites.length ? (
          <button onClick={() => setCollapsed(collapsed.size ? new Set() : new Set(composites.map((c) => c.name)))}>
            {collapsed.size ? "Expand composites" : "Collapse composites"}
          </button>
        ) : null}
      </div>
      <div class="dag-scroll">
        <svg width={result.width * zoom} height={result.height * zoom} viewBox={`0 0 ${result.width} ${result.height}`}>
          <defs>
            <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto">
              <path d="M0,0 L10,5 L0,10 z" fill="#8a94a6" />
            </marker>
          </defs>
          {clusters.map((id) => {
            const n = box(id);
            return (
              <g key={id} class="cluster">
                <rect x={n.x - n.width / 2} y={n.y - n.height / 2} width={n.width} height={n.height} rx="6" />
                <text class="cluster-label" x={n.x - n.width / 2 + 8} y={n.y - n.height / 2 + 15} onClick={() => toggle(id)}>
                  ▾ {id}
                </text>
              </g>
            );
          })}
          {result.edges.map((edge) => {
            const label = labels.get(`${edge.v}->${edge.w}`);
            return (
              <g key={`${edge.v}->${edge.w}`} class="edge">
                <path d={edgePath(edge.points)} marker-end="url(#arrow)" />
                {label ? (
                  <text x={edge.x} y={edge.y + 4} text-anchor="middle">{label}</text>
                ) : null}
              </g>
            );
          })}
          {others.map((id) => {
            const n = box(id);
            const x = n.x - n.width / 2;
            const y = n.y - n.height / 2;
            if (n.kind === "collapsed") {
              return (
                <g key={id} class="node collapsed" onClick={() => toggle(id)}>
                  <rect x={x} y={y} width={n.width} height={n.height} rx="6" />
                  <text x={x + 10} y={y + 17} class="node-title">▸ {id}</text>
                  <text x={x + 10} y={y + 32} class="node-line">{n.count} solids (composite)</text>
                </g>
              );
            }
            const status = statuses[id];
            const classes = ["node", status ? `st-${status}` : "", selected.has(id) ? "selected" : "", highlight && highlight.has(id) ? "highlight" : ""];
            return (
              <g key={id} class={classes.join(" ")} data-step={id} onClick={() => onSelect && onSelect(id)}>
                <rect x={x} y={y} width={n.width} height={n.height} rx="5" />
                <text x={x + 10} y={y + 17} class="node-title">{id.split(".").pop()}</text>
                {n.lines.map((line, i) => (
                  <text key={i} x={x + 10} y={y + 32 + i * LINE} class="node-line">{line}</text>
                ))}
              </g>
            );
          })}
        </svg>
      </div>
    </div>
  );
}
