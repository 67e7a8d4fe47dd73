// run_config YAML: where a config error's path is in the text, which keys the schema allows
// at the cursor, and a scaffold of the required config.
import { isMap, isScalar, isSeq, parseDocument, stringify } from "yaml";

// The text range [from, to] of `path` ("solids.load.config.rows") in a parsed document:
// the value when the path exists and is a scalar, else the key of its deepest existing part.
export function rangeOfPath(doc, path) {
  const segments = path ? path.split(".") : [];
  let node = doc.contents;
  let range = null;
  let resolved = true;
  for (const segment of segments) {
    let next = null;
    if (isMap(node)) {
      const pair = node.items.find((p) => String(isScalar(p.key) ? p.key.value : p.key) === segment);
      if (pair) {
        range = pair.key && pair.key.range ? [pair.key.range[0], pair.key.range[1]] : range;
        next = pair.value;
      }
    } else if (isSeq(node) && /^\d+$/.test(segment)) {
      next = node.items[Number(segment)] || null;
      if (next && next.range) range = [next.range[0], next.range[1]];
    }
    if (next === null) {
      resolved = false;
      break;
    }
    node = next;
  }
  if (resolved && isScalar(node) && node.range) return [node.range[0], Math.max(node.range[1], node.range[0] + 1)];
  if (range) return range;
  return null;
}

// The chain of keys that encloses a cursor at `pos`, from indentation ("solids", "load", ...).
export function pathAt(text, pos) {
  const lines = text.slice(0, pos).split("\n");
  let indent = lines[lines.length - 1].match(/^\s*/)[0].length;
  const path = [];
  for (let i = lines.length - 2; i >= 0 && indent > 0; i--) {
    const line = lines[i];
    if (!line.trim() || line.trim().startsWith("#")) continue;
    const lineIndent = line.match(/^\s*/)[0].length;
    if (lineIndent < indent) {
      const match = line.trim().match(/^([^:#{}[\]]+):\s*(#.*)?$/);
      if (!match) return null;
      path.unshift(match[1].trim());
      indent = lineIndent;
    }
  }
  return path;
}

function resolve(schema, node) {
  let current = node;
  for (let i = 0; current && i < 10; i++) {
    if (current.$ref) {
      current = schema.$defs && schema.$defs[current.$ref.split("/").pop()];
    } else if (current.anyOf) {
      current = current.anyOf.find((option) => option.type !== "null") || current.anyOf[0];
    } else if (current.allOf && current.allOf.length === 1) {
      current = current.allOf[0];
    } else {
      return current;
    }
  }
  return current;
}

// The schema of the value at `path` of a run_config, or null.
export function schemaAt(schema, path) {
  let node = resolve(schema, schema);
  for (const key of path) {
    if (!node) return null;
    const next = (node.properties && node.properties[key]) || (typeof node.additionalProperties === "object" ? node.additionalProperties : null);
    node = resolve(schema, next);
  }
  return node;
}

function placeholder(schema, node) {
  const resolved = resolve(schema, node) || {};
  if (resolved.default !== undefined) return resolved.default;
  if (resolved.properties) return scaffoldObject(schema, resolved);
  switch (resolved.type) {
    case "integer":
    case "number":
      return 0;
    case "boolean":
      return false;
    case "array":
      return [];
    case "object":
      return {};
    default:
      return "";
  }
}

function scaffoldObject(schema, node) {
  const result = {};
  for (const key of node.required || []) result[key] = placeholder(schema, node.properties[key]);
  return result;
}

// YAML with every required key of the run_config, merged into `current` (kept where set).
export function scaffold(schema, currentText) {
  let current = {};
  try {
    current = parseDocument(currentText).toJS() || {};
  } catch {
    current = {};
  }
  const required = scaffoldObject(schema, resolve(schema, schema));
  const merge = (base, extra) => {
    if (typeof base !== "object" || base === null || Array.isArray(base)) return base;
    const out = { ...base };
    for (const [key, value] of Object.entries(extra)) {
      out[key] = key in out ? merge(out[key], value) : value;
    }
    return out;
  };
  const merged = merge(typeof current === "object" && current ? current : {}, required);
  return Object.keys(merged).length ? stringify(merged) : "";
}

export { parseDocument };
