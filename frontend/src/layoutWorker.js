// Lays out a DAG with dagre off the page's main thread, so that the run page's timeline and
// log stay live while a large pipeline is laid out.
import dagre from "@dagrejs/dagre";

self.onmessage = ({ data: { id, spec } }) => {
  const g = new dagre.graphlib.Graph({ compound: spec.compound });
  g.setGraph(spec.graph);
  g.setDefaultEdgeLabel(() => ({}));
  for (const node of spec.nodes) g.setNode(node.id, { width: node.width, height: node.height, paddingTop: node.paddingTop });
  for (const node of spec.nodes) if (node.parent) g.setParent(node.id, node.parent);
  for (const edge of spec.edges) g.setEdge(edge.v, edge.w, { width: edge.width, height: edge.height });
  dagre.layout(g);
  const nodes = {};
  for (const id of g.nodes()) {
    const n = g.node(id);
    nodes[id] = { x: n.x, y: n.y, width: n.width, height: n.height };
  }
  const edges = g.edges().map((e) => {
    const edge = g.edge(e);
    return { v: e.v, w: e.w, points: edge.points, x: edge.x, y: edge.y };
  });
  const { width, height } = g.graph();
  self.postMessage({ id, layout: { width, height, nodes, edges } });
};
