// Ticket actions used from more than one view, with their Chinese explanations.
import { announce, toast } from "./announce.js";
import { api, ApiError, errorText } from "./api.js";
import { T } from "./i18n.js";
import { notify, state, upsertTicket } from "./store.js";

/** Explains a refused claim: who holds the ticket, or that it is already resolved. */
async function claimRefusal(ticketNo) {
  try {
    const ticket = await api.ticket(ticketNo);
    upsertTicket(ticket);
    notify({ type: "ticket", ticket });
    if (ticket.status === "resolved") return T.errors.claimResolved;
    return T.errors.claimConflict(ticket.assignee ? ticket.assignee.display_name : null);
  } catch {
    return T.errors.claimConflict(null);
  }
}

/** Claims a ticket; returns the updated ticket, or null (the reason is shown and returned in .error). */
export async function claimTicket(ticketNo, { onError } = {}) {
  try {
    const ticket = await api.claim(ticketNo);
    upsertTicket(ticket);
    state.freshTickets.delete(ticketNo);
    notify({ type: "ticket", ticket });
    toast(T.claimedTicket(ticketNo), "success");
    return ticket;
  } catch (error) {
    const text = error instanceof ApiError && error.status === 409 ? await claimRefusal(ticketNo) : errorText(error);
    toast(text, "error");
    announce(text, true);
    if (onError) onError(text);
    return null;
  }
}
