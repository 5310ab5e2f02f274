// Client-side state shared by the views: the logged-in agent and every ticket we know of
// (by ticket number, newest snapshot wins), fed by REST lists and live events alike.

const listeners = new Set();

export const state = {
  me: null,
  tickets: new Map(),
  freshTickets: new Set(), // arrived live and not yet looked at
  connection: "idle",
};

export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function notify(change) {
  for (const fn of [...listeners]) fn(change);
}

const stamp = (t) => Date.parse(t.updated_at || t.created_at || 0) || 0;

/** Keep the newer of the stored and the given snapshot; returns whether anything changed. */
export function upsertTicket(ticket) {
  if (!ticket || !ticket.ticket_no) return false;
  const known = state.tickets.get(ticket.ticket_no);
  if (known && stamp(known) > stamp(ticket)) return false;
  state.tickets.set(ticket.ticket_no, { ...known, ...ticket });
  return true;
}

export function clearTickets() {
  state.tickets.clear();
  state.freshTickets.clear();
}
