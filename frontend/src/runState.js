// A run's events folded into what the run page shows: each step's status, times and place
// (Ray node and worker), the materializations and expectation results. Fed incrementally.

const STEP_END = {
  STEP_SUCCESS: "success",
  STEP_FAILURE: "failure",
  STEP_SKIPPED: "skipped",
  STEP_MEMOIZED: "memoized",
};

export class RunState {
  constructor() {
    this.events = [];
    this.steps = new Map();
    this.order = [];
    this.start = null;
    this.end = null;
    this.ended = null; // RUN_SUCCESS, RUN_FAILURE or RUN_CANCELED
    this.assets = [];
    this.expectations = [];
    this.lastSeq = -1;
    this.version = 0;
  }

  step(key) {
    let step = this.steps.get(key);
    if (!step) {
      step = { key, status: "pending", start: null, end: null, attempts: 0, node: null, pid: null, message: "", source: null };
      this.steps.set(key, step);
      this.order.push(key);
    }
    return step;
  }

  add(batch) {
    for (const event of batch) {
      if (event.seq <= this.lastSeq) continue; // never twice, even across reconnections
      this.lastSeq = event.seq;
      this.events.push(event);
      this.apply(event);
    }
    this.version++;
  }

  apply(event) {
    const { type, payload } = event;
    if (type === "RUN_START") {
      this.start = event.timestamp;
      for (const key of payload.steps || []) this.step(key);
      return;
    }
    if (type === "RUN_SUCCESS" || type === "RUN_FAILURE" || type === "RUN_CANCELED") {
      this.ended = type;
      this.end = event.timestamp;
      for (const step of this.steps.values()) if (step.status === "running") step.status = "canceled";
      return;
    }
    if (!event.step) return;
    const step = this.step(event.step);
    if (type === "STEP_START") {
      step.status = "running";
      if (step.start === null) step.start = event.timestamp;
      step.attempts = payload.attempt || step.attempts + 1;
      if (payload.node_id) step.node = payload.node_id;
      if (payload.pid) step.pid = payload.pid;
    } else if (type === "STEP_RETRY") {
      step.status = "retrying";
    } else if (STEP_END[type]) {
      step.status = STEP_END[type];
      step.end = event.timestamp;
      if (step.start === null) step.start = event.timestamp;
      step.message = event.description || "";
      if (type === "STEP_MEMOIZED") step.source = payload.source_run;
      if (payload.node_id) step.node = payload.node_id;
    } else if (type === "MATERIALIZATION") {
      this.assets.push(event);
    } else if (type === "EXPECTATION") {
      this.expectations.push(event);
    }
  }

  statuses() {
    const map = {};
    for (const [key, step] of this.steps) map[key] = step.status;
    return map;
  }
}

export function levelOf(event) {
  if (event.payload && event.payload.level) return event.payload.level;
  if (event.type === "STEP_FAILURE" || event.type === "RUN_FAILURE") return "ERROR";
  if (event.type === "STEP_RETRY" || event.type === "RUN_CANCELED") return "WARNING";
  if (event.type === "STEP_INPUT" || event.type === "STEP_OUTPUT") return "DEBUG";
  return "INFO";
}

// How long each step that ran waited after its inputs were ready (the last upstream step
// ended, or the run started): queued for the executor, or in the engine. `upstream` maps a
// step to the steps it reads from.
export function dispatchDelays(state, upstream) {
  const delays = new Map();
  if (state.start === null) return delays;
  for (const step of state.steps.values()) {
    if (step.start === null || step.status === "memoized" || step.status === "skipped") continue;
    let ready = state.start;
    for (const name of upstream.get(step.key) || []) {
      const before = state.steps.get(name);
      if (before && before.end !== null) ready = Math.max(ready, before.end);
    }
    delays.set(step.key, Math.max(0, step.start - ready));
  }
  return delays;
}
