// The console REST API (absolute /api/... paths, session cookie). A 401 anywhere sends
// the agent back to the login page (the "unauthorized" listener in app.js).
import { noteServerDate } from "./format.js";
import { T } from "./i18n.js";

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : `HTTP ${status}`);
    this.status = status;
    this.detail = detail;
  }
}

const listeners = new Set();
export function onUnauthorized(fn) {
  listeners.add(fn);
}

export async function request(method, path, body, { allow401 = false } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(0, T.errors.network);
  }
  noteServerDate(response.headers.get("Date"));
  let data = null;
  const text = await response.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (response.status === 401 && !allow401) {
    listeners.forEach((fn) => fn());
  }
  if (!response.ok) {
    const error = new ApiError(response.status, data && data.detail !== undefined ? data.detail : data);
    error.retryAfter = Number(response.headers.get("Retry-After")) || null;
    throw error;
  }
  return data;
}

export const get = (path) => request("GET", path);
export const post = (path, body) => request("POST", path, body === undefined ? {} : body);

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === null || value === undefined || value === "") continue;
    for (const item of Array.isArray(value) ? value : [value]) search.append(key, item);
  }
  const s = search.toString();
  return s ? `?${s}` : "";
}

const ticketPath = (no) => `/api/tickets/${encodeURIComponent(no)}`;

export const api = {
  login: (username, password) => request("POST", "/api/login", { username, password }, { allow401: true }),
  logout: () => request("POST", "/api/logout", undefined, { allow401: true }),
  me: () => request("GET", "/api/me", undefined, { allow401: true }),
  tickets: (params) => get(`/api/tickets${query(params)}`),
  ticket: (no) => get(ticketPath(no)),
  account: (no) => get(`${ticketPath(no)}/account`),
  cannedReplies: (no) => get(`${ticketPath(no)}/canned-replies`),
  claim: (no) => post(`${ticketPath(no)}/claim`),
  send: (no, text, clientMessageId) => post(`${ticketPath(no)}/messages`, { text, client_message_id: clientMessageId }),
  note: (no, text) => post(`${ticketPath(no)}/notes`, { text }),
  retry: (no, messageId) => post(`${ticketPath(no)}/messages/${encodeURIComponent(messageId)}/retry`),
  transfer: (no, agentId, note) => post(`${ticketPath(no)}/transfer`, { agent_id: agentId, note: note || null }),
  resolve: (no, category, note) =>
    post(`${ticketPath(no)}/resolve`, { resolution_category: category, resolution_note: note || null }),
  reopen: (no) => post(`${ticketPath(no)}/reopen`, {}),
  directory: () => get("/api/agents/directory"),
  dashboard: (from, to) => get(`/api/metrics/dashboard${query({ from, to })}`),
  exportUrl: (from, to) => `/api/metrics/export.csv${query({ from, to })}`,
};

/** A Chinese sentence for a failed call. */
export function errorText(error) {
  if (!(error instanceof ApiError)) return T.errors.server;
  switch (error.status) {
    case 0:
      return T.errors.network;
    case 400:
      return T.errors.invalid;
    case 403:
      return T.errors.forbidden;
    case 404:
      return T.errors.notFound;
    case 409:
      return T.errors.conflict;
    case 422:
      return T.errors.invalid;
    case 429:
      return T.errors.rateLimited;
    case 503:
      return T.errors.unavailable;
    default:
      return T.errors.server;
  }
}
