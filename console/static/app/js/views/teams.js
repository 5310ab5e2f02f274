// Teams (supervisors; a section of 坐席与团队): the list, and a form to make or change a team
// with its agents and the ticket categories whose new tickets wait for it.
import { toast } from "../announce.js";
import { errorText, get, post, request } from "../api.js";
import { openDialog } from "../dialog.js";
import { h, replace } from "../dom.js";
import { intentLabel } from "../format.js";
import { A, CATEGORY_FILTER, T } from "../i18n.js";
import { subscribe } from "../store.js";
import { loadTeams } from "../teams.js";

function checkbox(name, value, label, { checked = false, disabled = false, note = "" } = {}) {
  const id = `${name}-${value}`;
  const input = h("input", { type: "checkbox", id, name, value, checked, disabled });
  return h("span", { class: "check" }, input, h("label", { for: id }, label, note ? h("span", { class: "muted" }, note) : null));
}

export function mountTeams(section) {
  let teams = [];
  let agents = [];
  let editing = null;
  let dirty = false; // the form holds choices not saved yet: live reloads leave it alone
  const tbody = h("tbody", { id: "team-rows" });
  const name = h("input", { id: "team-name", name: "name", maxlength: "64", required: true, autocomplete: "off" });
  const members = h("fieldset", { class: "checks", id: "team-members" });
  const categories = h("fieldset", { class: "checks", id: "team-categories" });
  const error = h("p", { class: "form-error", id: "team-error", role: "alert" });
  const save = h("button", { type: "submit", class: "btn btn-primary", id: "team-save" }, A.teamSave);
  const cancel = h("button", { type: "button", class: "btn btn-quiet", id: "team-cancel", hidden: true }, A.teamCancel);
  const formTitle = h("h3", { id: "team-form-title" }, A.teamNew);
  const form = h("form", { class: "team-form", "aria-labelledby": "team-form-title" }, formTitle,
    h("div", { class: "field" }, h("label", { for: "team-name" }, A.teamName), name),
    members, categories, error, h("div", { class: "form-actions" }, save, cancel));
  replace(section, h("h2", { id: "teams-title" }, A.teamsTitle), h("p", { class: "muted small" }, A.teamsIntro),
    h("div", { class: "table-wrap" }, h("table", { class: "team-table" },
      h("caption", { class: "sr-only" }, A.teamsTitle),
      h("thead", {}, h("tr", {}, [A.teamName, A.teamMembers, A.teamCategories, A.teamWaiting, A.teamActions]
        .map((c) => h("th", { scope: "col" }, c)))),
      tbody)),
    form);

  function renderChecks() {
    const chosenMembers = new Set(editing ? editing.members.map((m) => m.id) : []);
    replace(members, h("legend", {}, A.teamMembers), agents.map((a) => checkbox("member", a.id,
      T.agentOption(a.display_name, a.username), { checked: chosenMembers.has(a.id) })));
    const owner = new Map();
    for (const team of teams) for (const c of team.categories) owner.set(c, team);
    replace(categories, h("legend", {}, A.teamCategories), CATEGORY_FILTER.map((c) => {
      const other = owner.get(c);
      const taken = other && (!editing || other.id !== editing.id);
      return checkbox("category", c, intentLabel(c), { checked: Boolean(other && editing && other.id === editing.id),
        disabled: taken, note: taken ? A.categoryOwned(other.name) : "" });
    }));
  }

  function edit(team) {
    editing = team;
    name.value = team ? team.name : "";
    formTitle.textContent = team ? A.teamEditTitle(team.name) : A.teamNew;
    cancel.hidden = !team;
    error.textContent = "";
    dirty = false;
    renderChecks();
    if (team) name.focus();
  }

  function row(team) {
    const editButton = h("button", { type: "button", class: "btn btn-small", "aria-label": A.teamEditLabel(team.name),
      onclick: () => edit(team) }, A.teamEdit);
    const remove = h("button", { type: "button", class: "btn btn-small btn-quiet", "aria-label": A.teamDeleteLabel(team.name),
      onclick: () => openDialog({
        id: "team-delete-dialog", title: A.teamDeleteTitle(team.name), body: h("p", {}, A.teamDeleteBody),
        confirm: A.teamDelete,
        onConfirm: async () => {
          await request("DELETE", `/api/teams/${team.id}`);
          toast(A.teamDeleted, "success");
          if (editing && editing.id === team.id) edit(null);
          await load();
        },
      }) }, A.teamDelete);
    return h("tr", { dataset: { teamId: team.id } },
      h("td", {}, team.name),
      h("td", { class: "wrap" }, team.members.map((m) => m.display_name).join("、") || A.noTeam),
      h("td", { class: "wrap" }, team.categories.map(intentLabel).join("、") || A.noTeam),
      h("td", {}, String(team.waiting)),
      h("td", { class: "actions" }, editButton, remove));
  }

  async function load() {
    try {
      [teams, agents] = await Promise.all([get("/api/teams"), get("/api/agents/directory")]);
      replace(tbody, teams.length ? teams.map(row) : h("tr", {}, h("td", { colspan: "5", class: "empty" }, A.teamsEmpty)));
      if (!dirty) {
        if (editing) editing = teams.find((t) => t.id === editing.id) || null;
        renderChecks();
      }
      loadTeams(true);
    } catch (err) {
      toast(errorText(err), "error");
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const checked = (box) => [...box.querySelectorAll("input:checked")].map((i) => i.value);
    const body = { name: name.value.trim(), member_ids: checked(members).map(Number), categories: checked(categories) };
    save.disabled = true;
    try {
      if (editing) await request("PATCH", `/api/teams/${editing.id}`, body);
      else await post("/api/teams", body);
      toast(A.teamSaved, "success");
      edit(null);
      await load();
    } catch (err) {
      error.textContent = err.status === 409 ? A.teamNameTaken : errorText(err);
    } finally {
      save.disabled = false;
    }
  });
  cancel.addEventListener("click", () => edit(null));
  form.addEventListener("input", () => {
    dirty = true;
  });
  const unsubscribe = subscribe((change) => {
    if (change.type === "event" && ["teams.changed", "ticket.created", "ticket.claimed"].includes(change.event.type)) {
      load();
    }
  });
  load();
  return unsubscribe;
}
