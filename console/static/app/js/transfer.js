// The transfer dialog of a ticket: to another agent (they hold it now) or to a team (back to the
// queue, waiting for that team; with auto-assignment on, straight on to one of its agents).
import { toast } from "./announce.js";
import { api, post } from "./api.js";
import { h, option } from "./dom.js";
import { openDialog } from "./dialog.js";
import { A, T } from "./i18n.js";
import { upsertTicket } from "./store.js";
import { allTeams, loadTeams } from "./teams.js";

/** Opens the dialog; `onDone(ticket)` after a transfer. Throws (for the caller to show) when the lists fail. */
export async function openTransfer(ticketNo, ticket, onDone) {
  const [agents] = await Promise.all([api.directory(), loadTeams(true)]);
  const others = agents.filter((a) => !ticket.assignee || a.id !== ticket.assignee.id);
  const target = h("select", { id: "transfer-agent", name: "target", required: true },
    h("optgroup", { label: A.transferAgents },
      others.map((a) => option(String(a.id), T.agentOption(a.display_name, a.username)))),
    allTeams().length ? h("optgroup", { label: A.transferTeams },
      allTeams().map((t) => option(`team:${t.id}`, A.teamOption(t.name)))) : null);
  const note = h("textarea", { id: "transfer-note", name: "note", rows: "2", maxlength: "1000" });
  openDialog({
    id: "transfer-dialog",
    title: T.transferTitle,
    body: [h("div", { class: "field" }, h("label", { for: "transfer-agent" }, T.transferTo), target),
      h("div", { class: "field" }, h("label", { for: "transfer-note" }, T.transferNote), note)],
    confirm: T.confirm,
    onConfirm: async () => {
      // Agents by their id (as before teams existed), teams as team:<id>.
      const [kind, id] = target.value.startsWith("team:") ? ["team", target.value.slice(5)] : ["agent", target.value];
      const body = { [kind === "team" ? "team_id" : "agent_id"]: Number(id), note: note.value.trim() || null };
      const updated = await post(`/api/tickets/${encodeURIComponent(ticketNo)}/transfer`, body);
      upsertTicket(updated);
      if (kind === "team") {
        const team = allTeams().find((t) => t.id === Number(id));
        toast(A.transferredToTeam(team ? team.name : ""), "success");
      } else {
        const chosen = others.find((a) => a.id === Number(id));
        toast(T.transferred(chosen ? chosen.display_name : ""), "success");
      }
      onDone(updated);
    },
  });
}
