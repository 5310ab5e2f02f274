// 坐席与团队 (supervisors): the auto-assignment switch, everyone's presence and open-ticket load,
// and the teams (views/teams.js). Live: presence and ticket events refresh the roster.
import { toast } from "../announce.js";
import { errorText, get, request } from "../api.js";
import { h, option, replace } from "../dom.js";
import { dateTime } from "../format.js";
import { A, ROLE, T } from "../i18n.js";
import { state, subscribe } from "../store.js";
import { mountTeams } from "./teams.js";

const REFRESH_MS = 15000; // presence also ends silently (a console not seen for a while)
const LOAD_EVENTS = new Set(["agent.presence", "ticket.claimed", "ticket.assigned", "ticket.transferred",
  "ticket.resolved", "ticket.reopened", "ticket.requeued", "agent.deactivated", "teams.changed"]);

export function mountAgents(main) {
  if (!state.me || state.me.role !== "supervisor") {
    main.append(h("div", { class: "page" }, h("h1", {}, A.pageTitle), h("p", {}, T.errors.forbidden)));
    return () => {};
  }
  const autoBox = h("input", { type: "checkbox", id: "auto-assign", name: "auto_assign", role: "switch",
    "aria-describedby": "auto-assign-help" });
  const autoState = h("p", { class: "muted small", id: "auto-assign-state", "aria-live": "polite" });
  const tbody = h("tbody", { id: "roster-rows" });
  const teamsBox = h("section", { class: "panel-section", "aria-labelledby": "teams-title" });
  main.append(h("div", { class: "page agents-page" },
    h("h1", {}, A.pageTitle),
    h("section", { class: "panel-section", "aria-labelledby": "auto-title" },
      h("h2", { id: "auto-title" }, A.autoTitle),
      h("div", { class: "switch-row" }, autoBox, h("label", { for: "auto-assign" }, A.autoSwitch)),
      h("p", { class: "muted small", id: "auto-assign-help" }, A.autoHelp), autoState),
    h("section", { class: "panel-section", "aria-labelledby": "roster-title" },
      h("h2", { id: "roster-title" }, A.rosterTitle),
      h("div", { class: "table-wrap" }, h("table", { class: "roster-table" },
        h("caption", { class: "sr-only" }, A.rosterTitle),
        h("thead", {}, h("tr", {}, [A.colAgent, A.colRole, A.colPresence, A.colLoad, A.colTeams, A.colLastSeen,
          A.colSet].map((c) => h("th", { scope: "col" }, c)))),
        tbody))),
    teamsBox));

  function renderAuto(settings) {
    autoBox.checked = Boolean(settings.auto_assign);
    const who = settings.updated_by ? A.autoBy(settings.updated_by.display_name, dateTime(settings.updated_at)) : "";
    autoState.textContent = `${settings.auto_assign ? A.autoOn : A.autoOff}${who ? ` · ${who}` : ""}`;
  }

  autoBox.addEventListener("change", async () => {
    autoBox.disabled = true;
    try {
      renderAuto(await request("PUT", "/api/assignment", { auto_assign: autoBox.checked }));
      toast(autoBox.checked ? A.autoOn : A.autoOff, "success");
    } catch (error) {
      toast(errorText(error), "error");
      loadAuto();
    } finally {
      autoBox.disabled = false;
    }
  });

  async function loadAuto() {
    try {
      renderAuto(await get("/api/assignment"));
    } catch (error) {
      toast(errorText(error), "error");
    }
  }

  function row(line) {
    const name = line.agent.display_name;
    const setter = h("select", { "aria-label": A.setFor(name), dataset: { agentId: line.agent.id } },
      Object.entries(A.presence).map(([value, label]) => option(value, label, value === line.chosen)));
    setter.addEventListener("change", async () => {
      try {
        await request("PUT", `/api/agents/${line.agent.id}/presence`, { status: setter.value });
        load();
      } catch (error) {
        toast(errorText(error), "error");
      }
    });
    return h("tr", { dataset: { agentId: line.agent.id, status: line.status } },
      h("td", {}, name, h("div", { class: "sub muted" }, line.agent.username)),
      h("td", {}, ROLE[line.agent.role] || line.agent.role),
      h("td", {}, h("span", { class: `presence-dot presence-${line.status}` }, A.presence[line.status])),
      h("td", { class: "load" }, String(line.open_tickets)),
      h("td", {}, line.teams.length ? line.teams.map((t) => t.name).join("、") : A.noTeam),
      h("td", {}, dateTime(line.last_seen_at)),
      h("td", {}, setter));
  }

  let generation = 0;
  async function load() {
    const mine = ++generation;
    try {
      const lines = await get("/api/agents/presence");
      if (mine === generation) replace(tbody, lines.map(row));
    } catch (error) {
      if (mine === generation) toast(errorText(error), "error");
    }
  }

  let pending = null;
  const unsubscribe = subscribe((change) => {
    if (change.type === "reload") load();
    if (change.type !== "event") return;
    if (change.event.type === "settings.changed") loadAuto();
    if (LOAD_EVENTS.has(change.event.type)) {
      clearTimeout(pending);
      pending = setTimeout(load, 300);
    }
  });
  const timer = window.setInterval(load, REFRESH_MS);
  const unmountTeams = mountTeams(teamsBox);
  loadAuto();
  load();
  return () => {
    unsubscribe();
    unmountTeams();
    clearTimeout(pending);
    window.clearInterval(timer);
  };
}
