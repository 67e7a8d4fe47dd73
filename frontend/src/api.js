// The HTTP API, as the UI uses it (the same endpoints users script: /api/openapi.json).

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || { kind: "unavailable", message: `HTTP ${status}`, errors: [] };
    super(error.message);
    this.status = status;
    this.kind = error.kind;
    this.errors = error.errors || [];
  }
}

export async function api(path, { method = "GET", body } = {}) {
  const response = await fetch(`/api${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export const enc = encodeURIComponent;
