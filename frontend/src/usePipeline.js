import { useEffect, useState } from "preact/hooks";
import { api, enc } from "./api.js";

// A pipeline's description from the API: [pipeline, error].
export function usePipeline(name) {
  const [pipeline, setPipeline] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    if (name) api(`/pipelines/${enc(name)}`).then(setPipeline, setError);
  }, [name]);
  return [pipeline, error];
}
