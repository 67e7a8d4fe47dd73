// Bundles src/ into ../solidflow/web/static (index.html, assets/app.js, assets/app.css).
import { build } from "esbuild";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";

const out = new URL("../solidflow/web/static/", import.meta.url).pathname;
rmSync(`${out}assets`, { recursive: true, force: true });
mkdirSync(`${out}assets`, { recursive: true });
await build({
  entryPoints: { app: "src/main.jsx", layoutWorker: "src/layoutWorker.js" },
  bundle: true,
  minify: true,
  format: "esm",
  splitting: true, // the config editor (CodeMirror, yaml) loads only on the pages that edit
  target: "es2020",
  jsx: "automatic",
  jsxImportSource: "preact",
  outdir: `${out}assets`,
  entryNames: "[name]",
  chunkNames: "chunk-[hash]",
  legalComments: "none",
  logLevel: "warning",
});
writeFileSync(
  `${out}index.html`,
  `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>solidflow</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/app.css">
</head>
<body>
<div id="app"></div>
<script type="module" src="/assets/app.js"></script>
</body>
</html>
`,
);
