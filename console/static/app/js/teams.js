// The teams every agent may read (GET /api/teams): transfer targets, the queue's team filter,
// and which new tickets are "mine" for desktop notifications. Reloaded on teams.changed.
import { get } from "./api.js";
import { state } from "./store.js";

let teams = [];
let loading = null;

export function allTeams() {
  return teams;
}

/** Ids of the teams the logged-in agent belongs to. */
export function myTeamIds() {
  const me = state.me ? state.me.id : null;
  return new Set(teams.filter((t) => t.members.some((m) => m.id === me)).map((t) => t.id));
}

export async function loadTeams(force = false) {
  if (loading && !force) return loading;
  loading = get("/api/teams")
    .then((list) => {
      teams = Array.isArray(list) ? list : [];
      return teams;
    })
    .catch(() => teams);
  return loading;
}
