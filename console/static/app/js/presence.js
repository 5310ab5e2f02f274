// The agent's presence in the header: online (takes tickets), away (on duty, no new tickets) or
// offline. Logging in makes the agent online; the server also counts an agent offline when the
// console was not seen for a while (CONSOLE_PRESENCE_SECONDS).
import { toast } from "./announce.js";
import { get, request } from "./api.js";
import { h, option } from "./dom.js";
import { A } from "./i18n.js";
import { state } from "./store.js";

let select = null;

function show(status) {
  if (!select) return;
  select.value = status;
  select.dataset.status = status;
  select.parentElement.dataset.status = status;
}

/** The header control; returns its element. */
export function presenceControl() {
  select = h("select", { id: "presence", name: "presence", class: "presence-select" },
    Object.entries(A.presence).map(([value, label]) => option(value, label)));
  const field = h("span", { class: "presence", dataset: { status: "online" } },
    h("label", { for: "presence", class: "sr-only" }, A.presenceLabel), select);
  select.addEventListener("change", async () => {
    const wanted = select.value;
    select.disabled = true;
    try {
      const answer = await request("PUT", "/api/me/presence", { status: wanted });
      show(answer.chosen);
      toast(A.presenceSaved(A.presence[answer.chosen]), "success");
    } catch {
      toast(A.presenceFailed, "error");
      refreshPresence();
    } finally {
      select.disabled = false;
    }
  });
  refreshPresence();
  return field;
}

export async function refreshPresence() {
  try {
    const answer = await get("/api/me/presence");
    show(answer.chosen);
  } catch {
    // the header keeps what it shows
  }
}

/** A supervisor changed my presence (agent.presence event). */
export function presenceEvent(event) {
  if (event.type === "agent.presence" && state.me && event.agent_id === state.me.id && event.chosen) {
    show(event.chosen);
  }
}
