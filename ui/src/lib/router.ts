// The view lives in the URL; navigate() pushes a new one and every subscriber re-renders.

import { useEffect, useState } from "preact/hooks";
import { decodeState, encodeState, type ViewState } from "./urlstate";

const listeners = new Set<() => void>();
export const currentView = (): ViewState => decodeState(location.pathname, location.search);

export function navigate(next: Partial<ViewState>, replace = false): void {
  const target = encodeState({ ...currentView(), ...next });
  if (target === location.pathname + location.search) return;
  if (replace) history.replaceState(null, "", target); else history.pushState(null, "", target);
  for (const listener of listeners) listener();
}

window.addEventListener("popstate", () => { for (const listener of listeners) listener(); });

export function useView(): ViewState {
  const [view, setView] = useState(currentView);
  useEffect(() => {
    const update = () => setView(currentView());
    listeners.add(update);
    return () => { listeners.delete(update); };
  }, []);
  return view;
}

export function link(next: Partial<ViewState>): string {
  return encodeState({ ...currentView(), ...next });
}
