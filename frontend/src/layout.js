// Layouts computed by the layout worker, one request at a time per spec.
let worker = null;
let next = 0;
const waiting = new Map();

export function layout(spec) {
  if (!worker) {
    worker = new Worker("/assets/layoutWorker.js", { type: "module" });
    worker.onmessage = ({ data }) => {
      const resolve = waiting.get(data.id);
      waiting.delete(data.id);
      if (resolve) resolve(data.layout);
    };
  }
  const id = ++next;
  return new Promise((resolve) => {
    waiting.set(id, resolve);
    worker.postMessage({ id, spec });
  });
}
