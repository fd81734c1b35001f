import { useState } from "preact/hooks";
import { ApiFailure, AuthError } from "../api";

export function SignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState("");
  const submit = async (e: Event) => {
    e.preventDefault();
    setError("");
    const response = await fetch("/api/v1/session", { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify({ key: key.trim() }) });
    if (response.ok) { setKey(""); onSignedIn(); return; }
    const body = (await response.json().catch(() => ({}))) as { detail?: string };
    setError(body.detail ?? `sign-in failed (${response.status})`);
  };
  return <form class="signin" onSubmit={submit}>
    <h1>Sign in</h1>
    <p>Paste an API key (<code>tracker server keys create --team TEAM --name NAME</code> makes one). The browser keeps a
      session cookie; the key itself is not stored.</p>
    <input name="key" type="password" autoComplete="off" placeholder="trk_…" value={key}
      onInput={(e) => setKey((e.target as HTMLInputElement).value)} />
    <button type="submit">sign in</button>
    {error && <div class="error" data-testid="signin-error">{error}</div>}
  </form>;
}

export const isAuth = (error: unknown) => error instanceof AuthError;
export { ApiFailure };
