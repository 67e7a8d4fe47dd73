import { autocompletion } from "@codemirror/autocomplete";
import { yaml } from "@codemirror/lang-yaml";
import { forceLinting, linter, lintGutter } from "@codemirror/lint";
import { EditorView, basicSetup } from "codemirror";
import { useEffect, useRef } from "preact/hooks";
import { parseDocument, pathAt, rangeOfPath, schemaAt } from "../yamlConfig.js";

// A YAML editor for run_config: completion of the keys the schema allows at the cursor, and
// live validation (YAML syntax here, the config by the API) with each error's path underlined.
//
// `value` is the initial text; `replacement` ({text}, a new object each time) replaces it.
// `validate(config)` returns a promise of {valid, errors: [{path, message}]};
// `onProblems(list)` receives every problem (with its line) after each check.
export function ConfigEditor({ value, replacement, onChange, schema, validate, onProblems, revision }) {
  const host = useRef(null);
  const view = useRef(null);
  const latest = useRef({});
  latest.current = { schema, validate, onProblems, onChange };

  useEffect(() => {
    const complete = (context) => {
      const word = context.matchBefore(/[\w.-]*/);
      const line = context.state.doc.lineAt(context.pos);
      const before = line.text.slice(0, context.pos - line.from);
      if (before.includes(":") || before.trim().startsWith("#")) return null;
      const path = pathAt(context.state.doc.toString(), context.pos);
      const node = path && latest.current.schema ? schemaAt(latest.current.schema, path) : null;
      if (!node || !node.properties) return null;
      return {
        from: word ? word.from : context.pos,
        options: Object.entries(node.properties).map(([key, prop]) => ({
          label: key,
          apply: `${key}: `,
          type: "property",
          detail: (node.required || []).includes(key) ? "required" : "",
          info: prop.description || prop.title || undefined,
        })),
      };
    };
    const check = async (editor) => {
      const text = editor.state.doc.toString();
      const doc = parseDocument(text);
      const lineOf = (pos) => editor.state.doc.lineAt(Math.min(pos, text.length)).number;
      let diagnostics;
      let problems;
      if (doc.errors.length) {
        diagnostics = doc.errors.map((e) => ({
          from: Math.min(e.pos[0], text.length),
          to: Math.min(Math.max(e.pos[1], e.pos[0] + 1), text.length),
          severity: "error",
          message: e.message.split("\n")[0],
        }));
        problems = diagnostics.map((d) => ({ path: "yaml", message: d.message, line: lineOf(d.from) }));
      } else {
        const config = doc.toJS() || {};
        if (typeof config !== "object" || Array.isArray(config)) {
          problems = [{ path: "", message: "run_config must be a mapping", line: 1 }];
          diagnostics = [{ from: 0, to: Math.max(1, Math.min(text.length, 1)), severity: "error", message: problems[0].message }];
        } else {
          let result;
          try {
            result = await latest.current.validate(config);
          } catch (error) {
            result = { valid: false, errors: [{ path: "", message: error.message }] };
          }
          problems = [];
          diagnostics = [];
          for (const error of result.errors) {
            const range = error.path === "selection" ? null : rangeOfPath(doc, error.path);
            const [from, to] = range || [0, Math.max(1, editor.state.doc.line(1).length)];
            const clipped = [Math.min(from, text.length), Math.min(Math.max(to, from + 1), text.length)];
            problems.push({ ...error, line: lineOf(clipped[0]) });
            if (error.path !== "selection") {
              diagnostics.push({ from: clipped[0], to: clipped[1], severity: "error", message: `${error.path}: ${error.message}` });
            }
          }
        }
      }
      if (latest.current.onProblems) latest.current.onProblems(problems);
      return diagnostics;
    };
    view.current = new EditorView({
      doc: value,
      parent: host.current,
      extensions: [
        basicSetup,
        yaml(),
        lintGutter(),
        linter(check, { delay: 350 }),
        autocompletion({ override: [complete], activateOnTyping: true }),
        EditorView.updateListener.of((update) => {
          if (update.docChanged) latest.current.onChange(update.state.doc.toString());
        }),
      ],
    });
    return () => view.current.destroy();
  }, []);

  // A replacement from outside (a scaffold) replaces the document. Only then: syncing on
  // every `value` would fight the user's typing with renders that lag behind it.
  useEffect(() => {
    const current = view.current;
    if (current && replacement && current.state.doc.toString() !== replacement.text) {
      current.dispatch({ changes: { from: 0, to: current.state.doc.length, insert: replacement.text } });
    }
  }, [replacement]);

  // Validation depends on more than the text (mode, selection): check again when they change.
  useEffect(() => {
    if (view.current) forceLinting(view.current);
  }, [revision]);

  return <div class="editor" ref={host} />;
}
