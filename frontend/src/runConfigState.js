// The run_config text, mode and selection a user is editing for a pipeline, kept in the
// browser between the Launchpad and the Memo view.
import { useEffect, useState } from "preact/hooks";

export function useStoredText(key, initial) {
  const [value, setValue] = useState(() => localStorage.getItem(key) ?? initial);
  useEffect(() => {
    localStorage.setItem(key, value);
  }, [key, value]);
  return [value, setValue];
}

export function hashParam(name) {
  const query = location.hash.split("?")[1] || "";
  return new URLSearchParams(query).get(name);
}
