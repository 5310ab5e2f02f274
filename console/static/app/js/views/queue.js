// The queue: tabs 我的 / 待领取 / 全部, filters, a search box, and live rows that say what a ticket
// is about (resident, the last message), how long the resident has waited and the SLA countdown.
import { announce, toast } from "../announce.js";
import { api, errorText } from "../api.js";
import { claimTicket } from "../actions.js";
import { h, option, replace } from "../dom.js";
import {
  channelLabel, duration, intentLabel, priorityLabel, secondsSince, slaState, statusLabel, triggerLabel,
} from "../format.js";
import { A, CATEGORY_FILTER, PRIORITY, STATUS, T } from "../i18n.js";
import { navigate } from "../router.js";
import { notify, state, subscribe, upsertTicket } from "../store.js";
import { allTeams, loadTeams, myTeamIds } from "../teams.js";

const VIEW_KEY = "heatdesk.queueView";
const TABS = [
  { id: "mine", label: T.tabMine },
  { id: "unclaimed", label: T.tabUnclaimed },
  { id: "all", label: T.tabAll },
];
const PRIORITY_RANK = { urgent: 0, high: 1, normal: 2 };
const OPEN = new Set(["new", "assigned", "in_progress"]);

function loadView() {
  try {
    const saved = JSON.parse(window.sessionStorage.getItem(VIEW_KEY) || "{}");
    return { tab: "unclaimed", status: "", priority: "", category: "", district: "", q: "", team: "", ...saved };
  } catch {
    return { tab: "unclaimed", status: "", priority: "", category: "", district: "", q: "", team: "" };
  }
}

function saveView(view) {
  window.sessionStorage.setItem(VIEW_KEY, JSON.stringify(view));
}

/** What the server is asked for; the same rules filter live updates (matches()). */
function effectiveStatus(view) {
  if (view.tab === "unclaimed") return "new";
  if (view.tab === "mine") return view.status || "open";
  return view.status;
}

// The tickets the server found for the search box (a search cannot be evaluated here).
let searchHits = null;

function matches(ticket, view) {
  if (view.q && !(searchHits && searchHits.has(ticket.ticket_no))) return false;
  const status = effectiveStatus(view);
  if (status === "open" ? !OPEN.has(ticket.status) : status && ticket.status !== status) return false;
  if (view.tab === "mine" && !(ticket.assignee && ticket.assignee.id === state.me.id)) return false;
  if (view.tab === "unclaimed" && ticket.assignee) return false;
  if (view.priority && ticket.priority !== view.priority) return false;
  if (view.category && ticket.category !== view.category) return false;
  if (view.district && (ticket.district || "") !== view.district) return false;
  if (view.team === "mine" && !(ticket.team && myTeamIds().has(ticket.team.id))) return false;
  if (view.team === "none" && ticket.team) return false;
  if (/^\d+$/.test(view.team || "") && !(ticket.team && String(ticket.team.id) === view.team)) return false;
  return true;
}

function compareTickets(a, b) {
  const openA = OPEN.has(a.status) ? 0 : 1;
  const openB = OPEN.has(b.status) ? 0 : 1;
  if (openA !== openB) return openA - openB;
  if (openA === 1) return Date.parse(b.resolved_at || b.updated_at) - Date.parse(a.resolved_at || a.updated_at);
  return (
    (PRIORITY_RANK[a.priority] ?? 9) - (PRIORITY_RANK[b.priority] ?? 9) ||
    Date.parse(a.sla_due_at) - Date.parse(b.sla_due_at) ||
    a.ticket_no.localeCompare(b.ticket_no)
  );
}

function select(id, label, options, value) {
  const el = h("select", { id, name: id }, options.map(([v, l]) => option(v, l, v === value)));
  return { el, field: h("div", { class: "field field-inline" }, h("label", { for: id }, label), el) };
}

export function mountQueue(main) {
  const view = loadView();
  searchHits = null;
  const districts = new Set(); // the districts of the tickets seen so far
  let loading = false;
  let lastTotal = null;

  // --- tabs
  const tablist = h("div", { class: "tabs", role: "tablist", "aria-label": T.queueTitle });
  const tabButtons = TABS.map((tab) => {
    const button = h("button", {
      type: "button", role: "tab", id: `tab-${tab.id}`, "aria-controls": "queue-panel", class: "tab",
      dataset: { tab: tab.id },
    }, tab.label);
    button.addEventListener("click", () => selectTab(tab.id, false));
    tablist.append(button);
    return button;
  });
  tablist.addEventListener("keydown", (event) => {
    const index = TABS.findIndex((t) => t.id === view.tab);
    let next = null;
    if (event.key === "ArrowRight") next = (index + 1) % TABS.length;
    else if (event.key === "ArrowLeft") next = (index + TABS.length - 1) % TABS.length;
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = TABS.length - 1;
    if (next === null) return;
    event.preventDefault();
    selectTab(TABS[next].id, true);
  });

  // --- filters
  const statusSel = select("filter-status", T.filterStatus, [
    ["", T.filterAny], ["open", STATUS.open], ["new", STATUS.new], ["assigned", STATUS.assigned],
    ["in_progress", STATUS.in_progress], ["resolved", STATUS.resolved],
  ], view.status);
  const prioritySel = select("filter-priority", T.filterPriority,
    [["", T.filterAny], ...Object.entries(PRIORITY)], view.priority);
  const categorySel = select("filter-category", T.filterCategory,
    [["", T.filterAny], ...CATEGORY_FILTER.map((c) => [c, intentLabel(c)])], view.category);
  const districtSel = select("filter-district", T.filterDistrict, [["", T.filterAny]], view.district);
  const teamSel = select("filter-team", A.filterTeam, [["", T.filterAny], ["mine", A.filterMyTeams],
    ["none", A.filterNoTeam]], view.team);
  const reset = h("button", { type: "button", class: "btn btn-quiet", id: "filter-reset" }, T.filterReset);
  const search = h("input", { type: "search", id: "queue-search", name: "q", maxlength: "64", autocomplete: "off",
    placeholder: T.searchPlaceholder, value: view.q });
  const searchField = h("div", { class: "field field-inline search-field" },
    h("label", { for: "queue-search" }, T.searchLabel), search);
  const filters = h("form", { class: "filters", role: "search", "aria-label": T.queueTitle },
    searchField, statusSel.field, prioritySel.field, categorySel.field, districtSel.field, teamSel.field, reset);
  let searchTimer = null;
  function runSearch() {
    clearTimeout(searchTimer);
    const q = search.value.trim().slice(0, 64);
    if (q === view.q) return;
    view.q = q;
    searchHits = null;
    saveView(view);
    // A search looks through every ticket, not only this tab's.
    if (q && view.tab !== "all") selectTab("all", false);
    else reload();
  }
  filters.addEventListener("submit", (e) => {
    e.preventDefault();
    runSearch();
  });
  search.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(runSearch, 350);
  });
  for (const [key, sel] of [["status", statusSel], ["priority", prioritySel], ["category", categorySel],
    ["district", districtSel], ["team", teamSel]]) {
    sel.el.addEventListener("change", () => {
      view[key] = sel.el.value;
      saveView(view);
      reload();
    });
  }
  reset.addEventListener("click", () => {
    Object.assign(view, { status: "", priority: "", category: "", district: "", q: "", team: "" });
    for (const sel of [statusSel, prioritySel, categorySel, districtSel, teamSel]) sel.el.value = "";
    search.value = "";
    searchHits = null;
    saveView(view);
    reload();
  });

  // --- table
  const count = h("p", { class: "muted queue-count", id: "queue-count", "aria-live": "polite" });
  const tbody = h("tbody", { id: "queue-rows" });
  const table = h("table", { class: "queue-table", "aria-describedby": "queue-count" },
    h("caption", { class: "sr-only" }, T.queueTitle),
    h("thead", {}, h("tr", {},
      [T.colPriority, T.colTicket, T.colResident, T.colAbout, T.colTrigger, T.colStatus, T.colAssignee,
        T.colWaiting, T.colSla, T.colAction].map((c) => h("th", { scope: "col" }, c)))),
    tbody);
  const panel = h("section", { id: "queue-panel", role: "tabpanel", class: "queue-panel", tabindex: "-1" },
    count, h("div", { class: "table-wrap" }, table));

  main.append(h("div", { class: "page queue-page" },
    h("div", { class: "page-head" }, h("h1", {}, T.queueTitle), tablist),
    filters, panel));

  function renderDistricts() {
    const before = districtSel.el.value;
    for (const t of state.tickets.values()) if (t.district) districts.add(t.district);
    const values = [...districts].sort((a, b) => a.localeCompare(b, "zh-CN"));
    replace(districtSel.el, option("", T.filterAny), values.map((d) => option(d, d, d === before)));
    districtSel.el.value = before || view.district;
  }

  function renderTabs() {
    for (const button of tabButtons) {
      const selected = button.dataset.tab === view.tab;
      button.setAttribute("aria-selected", String(selected));
      button.tabIndex = selected ? 0 : -1;
    }
    panel.setAttribute("aria-labelledby", `tab-${view.tab}`);
    statusSel.el.disabled = view.tab === "unclaimed";
  }

  function selectTab(id, focus) {
    view.tab = id;
    saveView(view);
    renderTabs();
    if (focus) document.getElementById(`tab-${id}`).focus();
    if (id === "unclaimed") markSeen();
    reload();
  }

  function markSeen() {
    if (!state.freshTickets.size) return;
    // Keep the "新" marks on rows; the header badge counts only what nobody looked at.
    for (const no of state.freshTickets) seenHere.add(no);
    state.freshTickets.clear();
    notify({ type: "viewed" });
  }
  const seenHere = new Set();

  function row(ticket) {
    const fresh = state.freshTickets.has(ticket.ticket_no) || seenHere.has(ticket.ticket_no);
    const sla = slaState(ticket);
    const link = h("a", { href: `#/tickets/${encodeURIComponent(ticket.ticket_no)}`, class: "ticket-link",
      dataset: { focusKey: `open:${ticket.ticket_no}` } }, ticket.ticket_no);
    const actions = h("td", { class: "actions" });
    if (ticket.status === "new" && !ticket.assignee) {
      const claim = h("button", { type: "button", class: "btn btn-small btn-primary",
        dataset: { focusKey: `claim:${ticket.ticket_no}` }, "aria-label": `${T.claim} ${ticket.ticket_no}` }, T.claim);
      claim.addEventListener("click", async () => {
        claim.disabled = true;
        if (await claimTicket(ticket.ticket_no)) navigate(`#/tickets/${encodeURIComponent(ticket.ticket_no)}`);
        else claim.disabled = false;
      });
      actions.append(claim);
    }
    const tr = h("tr", {
      class: `prio-${ticket.priority}${fresh ? " fresh" : ""}`,
      dataset: { ticketNo: ticket.ticket_no, status: ticket.status },
    },
    h("td", {}, h("span", { class: `prio prio-badge-${ticket.priority}` }, priorityLabel(ticket.priority))),
    h("td", {}, link, fresh ? h("span", { class: "new-mark" }, T.newBadge) : null,
      h("div", { class: "sub muted" }, channelLabel(ticket.channel)),
      ticket.follow_up_of ? h("div", { class: "sub follow-up" }, T.followUpOf(ticket.follow_up_of)) : null),
    residentCell(ticket),
    h("td", { class: "about" }, h("div", {}, intentLabel(ticket.category)),
      ticket.last_user_text ? h("div", { class: "sub last-msg", title: ticket.last_user_text }, ticket.last_user_text)
        : null),
    h("td", { class: "trigger", title: ticket.trigger ? ticket.trigger.text : "" }, triggerLabel(ticket.trigger)),
    h("td", {}, h("span", { class: `status status-${ticket.status}` }, statusLabel(ticket.status))),
    h("td", { class: "assignee" }, ticket.assignee ? ticket.assignee.display_name
      : ticket.team ? h("span", { class: "team-wait" }, A.waitingForTeam(ticket.team.name)) : T.unassigned),
    h("td", { class: "waiting", dataset: { created: ticket.created_at } }, waitingText(ticket)),
    h("td", { class: `sla sla-${sla.level}`, dataset: { sla: ticket.ticket_no } }, sla.text),
    actions);
    return tr;
  }

  /** District, masked holder and 户号 (only an account the resident proved). */
  function residentCell(ticket) {
    const who = [ticket.holder_masked, ticket.account_masked].filter(Boolean).join(" · ");
    return h("td", { class: "resident" }, h("div", {}, ticket.district || T.unknownDistrict),
      h("div", { class: "sub muted" }, who || T.unverifiedResident));
  }

  /** How long the resident has waited for a person: since their unanswered message, else since creation. */
  function waitingText(ticket) {
    if (ticket.status === "resolved") {
      const end = ticket.first_human_reply_at || ticket.resolved_at;
      return duration((Date.parse(end) - Date.parse(ticket.created_at)) / 1000);
    }
    if (ticket.waiting_since) return duration(secondsSince(ticket.waiting_since));
    return ticket.first_human_reply_at ? T.notWaiting : duration(secondsSince(ticket.created_at));
  }

  function render() {
    const focusKey = document.activeElement && document.activeElement.dataset
      ? document.activeElement.dataset.focusKey : null;
    const rows = [...state.tickets.values()].filter((t) => matches(t, view)).sort(compareTickets);
    if (rows.length) replace(tbody, rows.map(row));
    else replace(tbody, h("tr", {}, h("td", { colspan: "10", class: "empty" }, loading ? T.loading : T.emptyQueue)));
    count.textContent = view.q ? T.searchCount(lastTotal ?? rows.length, view.q)
      : T.ticketCount(rows.length, Math.max(rows.length, lastTotal ?? rows.length));
    if (focusKey) {
      const again = tbody.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`);
      if (again) again.focus();
    }
  }

  function tick() {
    for (const tr of tbody.querySelectorAll("tr[data-ticket-no]")) {
      const ticket = state.tickets.get(tr.dataset.ticketNo);
      if (!ticket) continue;
      const waiting = tr.querySelector("td.waiting");
      if (waiting) waiting.textContent = waitingText(ticket);
      const cell = tr.querySelector("td.sla");
      const sla = slaState(ticket);
      if (cell && cell.textContent !== sla.text) {
        cell.textContent = sla.text;
        cell.className = `sla sla-${sla.level}`;
      }
    }
  }

  let generation = 0;
  async function reload() {
    const mine = ++generation;
    loading = true;
    render();
    try {
      const page = await api.tickets({
        status: effectiveStatus(view) || null,
        priority: view.priority || null,
        category: view.category || null,
        district: view.district || null,
        team: view.team || null,
        assignee: view.tab === "mine" ? "me" : view.tab === "unclaimed" ? "unassigned" : null,
        q: view.q || null,
        sort: "queue",
        limit: 200,
      });
      if (mine !== generation) return;
      page.items.forEach(upsertTicket);
      searchHits = view.q ? new Set(page.items.map((t) => t.ticket_no)) : null;
      lastTotal = page.total;
    } catch (error) {
      if (mine === generation) toast(errorText(error), "error");
    } finally {
      if (mine === generation) {
        loading = false;
        renderDistricts();
        render();
      }
    }
  }

  const unsubscribe = subscribe((change) => {
    if (change.type === "reload") reload();
    else if (change.type === "event") {
      renderDistricts();
      render();
    } else if (change.type === "viewed") render();
    if (change.type === "event" && change.event.type === "teams.changed") loadTeams(true).then(renderTeams);
  });
  const timer = window.setInterval(tick, 1000);

  function renderTeams() {
    const before = teamSel.el.value || view.team;
    replace(teamSel.el, option("", T.filterAny), option("mine", A.filterMyTeams), option("none", A.filterNoTeam),
      allTeams().map((t) => option(String(t.id), t.name)));
    teamSel.el.value = before;
    if (teamSel.el.value !== (view.team || "")) { // a team that was removed meanwhile
      view.team = teamSel.el.value;
      saveView(view);
      reload();
    }
  }
  loadTeams().then(() => {
    renderTeams();
    render();
  });

  renderTabs();
  renderDistricts();
  reload();
  if (view.tab === "unclaimed") markSeen();
  announce(T.queueTitle);

  return () => {
    unsubscribe();
    window.clearInterval(timer);
  };
}
