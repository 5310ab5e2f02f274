// Entry point of the agent console: session, header, live events, routes.
import { api, onUnauthorized } from "./js/api.js";
import { announce, initAnnouncer } from "./js/announce.js";
import { h, replace } from "./js/dom.js";
import { intentLabel, priorityLabel } from "./js/format.js";
import { A, C, R, ROLE, T } from "./js/i18n.js";
import { LiveEvents } from "./js/live.js";
import { currentPath, dispatch, navigate, route, startRouter } from "./js/router.js";
import { beep, unlockAudio } from "./js/sound.js";
import { clearTickets, notify, state, subscribe, upsertTicket } from "./js/store.js";
import { mountCanned } from "./js/views/canned.js";
import { mountDashboard } from "./js/views/dashboard.js";
import { mountLogin } from "./js/views/login.js";
import { mountQueue } from "./js/views/queue.js";
import { mountReminders } from "./js/views/reminders.js";
import { mountTicket } from "./js/views/ticket.js";
// Issue 15's agent tools: presence, desktop notifications, shortcuts, teams (each its own module).
import { desktopEvent, notifyButton } from "./js/desktop.js";
import { presenceControl, presenceEvent } from "./js/presence.js";
import { installShortcuts, shortcutButton } from "./js/shortcuts.js";
import { loadTeams } from "./js/teams.js";
import { mountAgents } from "./js/views/agents.js";

const main = document.getElementById("main");
const topbar = document.getElementById("topbar");
let unmountView = null;
let live = null;
let routerStarted = false;

function show(mount, ...args) {
  if (unmountView) unmountView();
  unmountView = null;
  replace(main);
  unmountView = mount(main, ...args) || null;
}

// --- header --------------------------------------------------------------------------

const connectionText = {
  idle: T.connConnecting,
  connecting: T.connConnecting,
  open: T.connOnline,
  reconnecting: T.connReconnecting,
};

function renderHeader() {
  const me = state.me;
  const navItems = [
    h("li", {}, h("a", { href: "#/queue", id: "nav-queue", class: "nav-link" }, T.navQueue,
      h("span", { class: "badge", id: "new-badge", hidden: true }))),
  ];
  if (me.role === "supervisor") {
    navItems.push(h("li", {}, h("a", { href: "#/dashboard", id: "nav-dashboard", class: "nav-link" }, T.navDashboard)));
    navItems.push(h("li", {}, h("a", { href: "#/reminders", id: "nav-reminders", class: "nav-link" }, R.nav)));
    navItems.push(h("li", {}, h("a", { href: "#/canned", id: "nav-canned", class: "nav-link" }, C.nav)));
    navItems.push(h("li", {}, h("a", { href: "#/agents", id: "nav-agents", class: "nav-link" }, A.nav)));
  }
  const logout = h("button", { type: "button", class: "btn btn-quiet", id: "logout" }, T.logout);
  logout.addEventListener("click", logoutNow);
  replace(
    topbar,
    h("span", { class: "brand" }, T.appShort),
    h("nav", { "aria-label": T.appShort }, h("ul", { class: "nav" }, navItems)),
    h("div", { class: "toasts", id: "toasts" }),
    h("span", { class: "conn", id: "conn", role: "status", dataset: { state: state.connection } },
      connectionText[state.connection] || T.connConnecting),
    notifyButton(),
    presenceControl(),
    h("span", { class: "me" }, T.loggedInAs(me.display_name, ROLE[me.role] || me.role)),
    shortcutButton(),
    logout,
  );
  topbar.hidden = false;
  markActiveNav();
  renderBadge();
}

function markActiveNav() {
  const path = currentPath();
  for (const link of topbar.querySelectorAll(".nav-link")) {
    const target = link.getAttribute("href").slice(1);
    const active = path === target || (target === "/queue" && path.startsWith("/tickets/"));
    if (active) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function freshCount() {
  let n = 0;
  for (const no of state.freshTickets) {
    const t = state.tickets.get(no);
    if (t && t.status === "new") n += 1;
    else state.freshTickets.delete(no);
  }
  return n;
}

function renderBadge() {
  const badge = document.getElementById("new-badge");
  const n = freshCount();
  if (badge) {
    badge.hidden = n === 0;
    badge.textContent = n ? String(n) : "";
    badge.setAttribute("aria-label", T.newTicketsBadge(n));
  }
  document.title = n ? `(${n}) ${T.appName}` : T.appName;
}

function setConnection(connState) {
  state.connection = connState;
  if (connState === "reconnecting") debug.reconnectingShown += 1;
  const el = document.getElementById("conn");
  if (el) {
    el.dataset.state = connState;
    el.textContent = connectionText[connState] || T.connConnecting;
  }
  notify({ type: "_connection", state: connState });
}

// --- live events ---------------------------------------------------------------------

// Counters for people and tests checking the live feed in the browser's console.
// drops: live connections lost (healed or not); reconnectingShown: times the header said 重新连接中….
const debug = { events: 0, created: [], beeps: 0, reconnectingShown: 0 };
Object.defineProperty(debug, "drops", { get: () => (live ? live.drops : 0), enumerable: true });
window.heatdeskDebug = debug;

function handleEvent(event) {
  if (event.type === "_connected") return;
  debug.events += 1;
  if (event.type === "_reconnected" || event.type === "resync") {
    notify({ type: "reload", reason: event.type });
    return;
  }
  if (event.ticket) upsertTicket(event.ticket);
  if (event.type === "ticket.created" && event.ticket) {
    const t = event.ticket;
    state.freshTickets.add(t.ticket_no);
    debug.created.push(t.ticket_no);
    if (beep(t.priority === "urgent")) debug.beeps += 1;
    announce(T.announceNewTicket(t.ticket_no, intentLabel(t.category), priorityLabel(t.priority)), t.priority === "urgent");
  }
  if (event.type === "agent.deactivated" && state.me && event.agent_id === state.me.id) {
    sessionEnded();
    return;
  }
  presenceEvent(event);
  desktopEvent(event);
  if (event.type === "teams.changed") loadTeams(true);
  notify({ type: "event", event });
  renderBadge();
}

subscribe((change) => {
  if (change.type === "viewed") renderBadge();
});

function startLive() {
  if (live) live.stop();
  live = new LiveEvents({ onEvent: handleEvent, onState: setConnection, onSessionEnded: sessionEnded });
  live.start();
}

// --- session -------------------------------------------------------------------------

function startSession(me) {
  state.me = me;
  renderHeader();
  installShortcuts();
  loadTeams(true);
  startLive();
  if (!routerStarted) {
    routerStarted = true;
    window.addEventListener("hashchange", markActiveNav);
    startRouter();
  } else {
    dispatch();
  }
}

function showLogin(message) {
  if (live) live.stop();
  live = null;
  state.me = null;
  clearTickets();
  topbar.hidden = true;
  replace(topbar);
  document.title = T.appName;
  show(mountLogin, {
    message,
    onLoggedIn: (me) => {
      unlockAudio();
      startSession(me);
    },
  });
}

function sessionEnded() {
  if (!state.me) return;
  if (live) live.reset();
  showLogin(T.sessionExpired);
}

async function logoutNow() {
  try {
    await api.logout();
  } catch {
    // the session is gone either way
  }
  if (live) live.reset();
  showLogin();
}

onUnauthorized(() => sessionEnded());

// --- routes --------------------------------------------------------------------------

function guarded(mount) {
  return (...args) => {
    if (!state.me) return;
    markActiveNav();
    show(mount, ...args);
  };
}

route(/^\/queue$/, guarded(mountQueue));
route(/^\/tickets\/([A-Za-z0-9_-]{1,32})$/, guarded(mountTicket));
route(/^\/dashboard$/, guarded(mountDashboard));
route(/^\/reminders$/, guarded(mountReminders));
route(/^\/canned$/, guarded(mountCanned));
route(/^\/agents$/, guarded(mountAgents));

// --- start ---------------------------------------------------------------------------

function initChrome() {
  initAnnouncer();
  document.title = T.appName;
  const skip = document.getElementById("skip-link");
  skip.textContent = T.skipToMain;
  skip.addEventListener("click", (event) => {
    event.preventDefault();
    main.focus();
  });
  // Any key or click may unlock WebAudio (browsers require a gesture).
  document.addEventListener("pointerdown", unlockAudio, { passive: true });
  document.addEventListener("keydown", unlockAudio);
}

async function boot() {
  initChrome();
  try {
    const me = await api.me();
    startSession(me);
  } catch {
    showLogin();
  }
}

boot();
export { navigate };
