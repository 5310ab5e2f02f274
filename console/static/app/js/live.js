// The live event stream (SSE at /api/events) with resume by event id.
//
// * EventSource reconnects by itself and sends Last-Event-ID; when it gives up
//   (HTTP error, or closed while offline) we open a new one with ?last_event_id=.
// * The last id is kept in sessionStorage, so a reloaded page resumes where it was.
// * Every event id is handled once, however often the server replays it.
// * The header says 重新连接中… only after a real loss: the browser is offline, or the stream
//   is not back within LOSS_GRACE_MS (a single drop that EventSource heals is not shown).

const STORAGE_KEY = "heatdesk.lastEventId";
const TYPES = [
  "ticket.created", "ticket.message", "ticket.claimed", "ticket.transferred", "ticket.note_added",
  "ticket.resolved", "ticket.reopened", "ticket.requeued", "ticket.csat", "agent.deactivated",
  "ticket.delivery_failed", "ticket.message_delivered", "resync", "session_ended", "unavailable",
  // issue 15's agent tools
  "ticket.assigned", "ticket.updated", "agent.presence", "teams.changed", "settings.changed",
];
const SEEN_LIMIT = 2000;
// Longer than EventSource's retry (the server sends retry: 3000) plus a reconnect.
export const LOSS_GRACE_MS = 6000;

/** Compares Redis stream ids ("ms-seq"). */
export function compareIds(a, b) {
  const [am, as] = a.split("-").map(Number);
  const [bm, bs] = b.split("-").map(Number);
  return am - bm || (as || 0) - (bs || 0);
}

export class LiveEvents {
  constructor({ onEvent, onState, onSessionEnded, storage = window.sessionStorage }) {
    this.onEvent = onEvent;
    this.onState = onState;
    this.onSessionEnded = onSessionEnded;
    this.storage = storage;
    this.source = null;
    this.seen = new Set();
    this.seenOrder = [];
    this.retryTimer = null;
    this.retryDelay = 1000;
    this.state = "idle";
    this.lastId = storage.getItem(STORAGE_KEY) || null;
    this.pinned = null; // the stream position fetched before the first event arrived
    this.hasConnected = false;
    this.graceTimer = null;
    this.drops = 0; // connections lost since start (shown or not), for tests and support
    this.handleOnline = () => this.reconnectNow();
    this.handleOffline = () => this.goneOffline();
  }

  start() {
    window.addEventListener("online", this.handleOnline);
    window.addEventListener("offline", this.handleOffline);
    this.open();
  }

  stop() {
    window.removeEventListener("online", this.handleOnline);
    window.removeEventListener("offline", this.handleOffline);
    clearTimeout(this.retryTimer);
    clearTimeout(this.graceTimer);
    this.graceTimer = null;
    this.attempt = (this.attempt || 0) + 1;
    if (this.source) this.source.close();
    this.source = null;
    this.setState("idle");
  }

  /** Forget the position (logout): the next agent starts from "now". */
  reset() {
    this.storage.removeItem(STORAGE_KEY);
    this.lastId = null;
    this.pinned = null;
    this.seen.clear();
    this.seenOrder = [];
  }

  /** The browser says it is offline: a real loss. Drop the stream; "online" reopens it at once. */
  goneOffline() {
    if (this.state === "idle") return;
    this.lost(true);
    if (this.source) this.source.close();
    this.source = null;
    this.scheduleRetry();
  }

  /** The stream dropped: say so at once when certain (offline), else after the grace period. */
  lost(certain = false) {
    if (this.state === "idle") return;
    if (this.state === "open" && !this.graceTimer) this.drops += 1;
    if (certain || this.state !== "open") {
      clearTimeout(this.graceTimer);
      this.graceTimer = null;
      this.setState(this.hasConnected ? "reconnecting" : "connecting");
      return;
    }
    if (this.graceTimer) return;
    this.graceTimer = setTimeout(() => {
      this.graceTimer = null;
      if (this.state === "open" && !(this.source && this.source.readyState === EventSource.OPEN)) {
        this.setState("reconnecting");
      }
    }, LOSS_GRACE_MS);
  }

  setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.onState(state);
  }

  /** Where the stream stands now (GET /api/events/position), or null when the server cannot say. */
  async position() {
    try {
      const response = await fetch("/api/events/position", { credentials: "same-origin" });
      if (!response.ok) return null;
      const data = await response.json();
      return typeof data.last_event_id === "string" ? data.last_event_id : null;
    } catch {
      return null;
    }
  }

  async open() {
    clearTimeout(this.retryTimer);
    if (this.source) this.source.close();
    this.source = null;
    if (this.state === "open") this.lost();
    else this.setState(this.hasConnected ? "reconnecting" : "connecting");
    const attempt = (this.attempt = (this.attempt || 0) + 1);
    // Without an id of our own, pin the start first: a connection that drops before its
    // first event must still resume from here, not from a later "now".
    if (!this.lastId && !this.pinned) this.pinned = await this.position();
    if (attempt !== this.attempt || this.state === "idle") return;
    const from = this.lastId || this.pinned;
    const url = from ? `/api/events?last_event_id=${encodeURIComponent(from)}` : "/api/events";
    const source = new EventSource(url, { withCredentials: true });
    this.source = source;
    source.addEventListener("open", () => {
      if (source !== this.source) return;
      const wasReconnect = this.hasConnected;
      this.hasConnected = true;
      this.retryDelay = 1000;
      clearTimeout(this.graceTimer);
      this.graceTimer = null;
      this.setState("open");
      this.onEvent({ type: wasReconnect ? "_reconnected" : "_connected" }, null);
    });
    source.addEventListener("error", () => {
      if (source !== this.source) return;
      this.lost();
      // EventSource retries by itself (with Last-Event-ID) unless it gave up; then we reopen.
      // Without any event id yet, reopen ourselves so that the pinned start is used.
      if (source.readyState === EventSource.CLOSED || !this.lastId) {
        source.close();
        this.scheduleRetry();
        if (source.readyState === EventSource.CLOSED) this.checkSession();
      }
    });
    for (const type of TYPES) source.addEventListener(type, (message) => this.dispatch(source, type, message));
  }

  /** A stream refused with HTTP 401 looks like any failure to EventSource: ask the API. */
  async checkSession() {
    try {
      const response = await fetch("/api/me", { credentials: "same-origin" });
      if (response.status === 401 && this.state !== "idle") {
        this.stop();
        this.onSessionEnded();
      }
    } catch {
      // offline: keep retrying
    }
  }

  scheduleRetry() {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.open(), this.retryDelay);
    this.retryDelay = Math.min(this.retryDelay * 2, 15000);
  }

  reconnectNow() {
    if (this.state === "open" || this.state === "idle") return;
    this.retryDelay = 1000;
    this.open();
  }

  dispatch(source, type, message) {
    if (source !== this.source) return;
    const id = message.lastEventId || "";
    let data = {};
    try {
      data = JSON.parse(message.data || "{}");
    } catch {
      data = {};
    }
    if (type === "session_ended") {
      this.stop();
      this.onSessionEnded();
      return;
    }
    if (type === "unavailable") {
      // The server lost Redis and closes the stream; EventSource reconnects with Last-Event-ID.
      this.lost();
      return;
    }
    if (type === "resync") {
      // The stream lost events or was reset: ids may restart, so forget ours and reload lists.
      this.lastId = null;
      this.pinned = null;
      this.storage.removeItem(STORAGE_KEY);
      this.seen.clear();
      this.seenOrder = [];
      this.onEvent({ type: "resync" }, null);
      return;
    }
    if (!id) return;
    if (this.seen.has(id) || (this.lastId && compareIds(id, this.lastId) <= 0)) return;
    this.remember(id);
    this.onEvent({ ...data, type }, id);
  }

  remember(id) {
    this.seen.add(id);
    this.seenOrder.push(id);
    if (this.seenOrder.length > SEEN_LIMIT) this.seen.delete(this.seenOrder.shift());
    if (!this.lastId || compareIds(id, this.lastId) > 0) {
      this.lastId = id;
      this.storage.setItem(STORAGE_KEY, id);
    }
  }
}
