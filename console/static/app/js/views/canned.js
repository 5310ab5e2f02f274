// Canned replies (常用语, supervisors): the list, add and edit, switch off. Agents insert them with
// "/" in the composer; variables such as {name} are filled from the ticket by the server.
import { toast } from "../announce.js";
import { errorText, get, post, request } from "../api.js";
import { h, option, replace } from "../dom.js";
import { intentLabel } from "../format.js";
import { C, CANNED_GAP, CATEGORY_FILTER } from "../i18n.js";

const base = "/api/canned-replies";

function field(id, label, control) {
  return h("div", { class: "field" }, h("label", { for: id }, label), control);
}

export function mountCanned(main) {
  let editing = null; // the reply being edited, or null for a new one
  const shortcut = h("input", { id: "canned-shortcut", name: "shortcut", maxlength: "32", required: true,
    autocomplete: "off" });
  const title = h("input", { id: "canned-title", name: "title", maxlength: "64", required: true, autocomplete: "off" });
  const category = h("select", { id: "canned-category", name: "category" },
    option("", C.allCategories), CATEGORY_FILTER.map((c) => option(c, intentLabel(c))));
  const text = h("textarea", { id: "canned-text", name: "text", rows: "3", maxlength: "2000", required: true,
    "aria-describedby": "canned-variables" });
  const error = h("p", { class: "form-error", id: "canned-error", role: "alert" });
  const save = h("button", { type: "submit", class: "btn btn-primary", id: "canned-save" }, C.save);
  const cancel = h("button", { type: "button", class: "btn btn-quiet", id: "canned-cancel", hidden: true }, C.cancelEdit);
  const formTitle = h("h2", { id: "canned-form-title" }, C.addTitle);
  const form = h("form", { class: "canned-form", "aria-labelledby": "canned-form-title" },
    formTitle,
    h("div", { class: "canned-form-row" }, field("canned-shortcut", C.shortcut, shortcut),
      field("canned-title", C.title, title), field("canned-category", C.category, category)),
    field("canned-text", C.text, text),
    h("p", { class: "muted small", id: "canned-variables" },
      C.variables(Object.entries(CANNED_GAP).map(([k, v]) => `{${k}} ${v}`).join("、"))),
    error, h("div", { class: "form-actions" }, save, cancel));
  const tbody = h("tbody", { id: "canned-rows" });
  const table = h("table", { class: "canned-table" },
    h("caption", { class: "sr-only" }, C.pageTitle),
    h("thead", {}, h("tr", {}, [C.shortcut, C.title, C.text, C.category, C.status, C.actions]
      .map((c) => h("th", { scope: "col" }, c)))),
    tbody);
  main.append(h("div", { class: "page canned-page" }, h("h1", {}, C.pageTitle), h("p", { class: "muted" }, C.intro),
    h("div", { class: "table-wrap" }, table), form));

  function edit(reply) {
    editing = reply;
    shortcut.value = reply ? reply.shortcut : "";
    title.value = reply ? reply.title : "";
    category.value = reply && reply.category ? reply.category : "";
    text.value = reply ? reply.text : "";
    formTitle.textContent = reply ? C.editTitle(reply.shortcut) : C.addTitle;
    cancel.hidden = !reply;
    error.textContent = "";
    if (reply) shortcut.focus();
  }

  function row(reply) {
    const editButton = h("button", { type: "button", class: "btn btn-small", "aria-label": C.editLabel(reply.shortcut),
      onclick: () => edit(reply) }, C.edit);
    const toggle = h("button", { type: "button", class: "btn btn-small btn-quiet",
      "aria-label": (reply.active ? C.switchOffLabel : C.switchOnLabel)(reply.shortcut),
      onclick: () => change(reply, { active: !reply.active }) }, reply.active ? C.switchOff : C.switchOn);
    return h("tr", { dataset: { shortcut: reply.shortcut }, class: reply.active ? "" : "inactive" },
      h("td", { class: "canned-key" }, `/${reply.shortcut}`), h("td", {}, reply.title),
      h("td", { class: "canned-body" }, reply.text),
      h("td", {}, reply.category ? intentLabel(reply.category) : C.allCategories),
      h("td", {}, reply.active ? C.active : C.inactive), h("td", { class: "actions" }, editButton, toggle));
  }

  async function load() {
    try {
      const replies = await get(`${base}?include_inactive=true`);
      replace(tbody, replies.map(row));
    } catch (err) {
      toast(errorText(err), "error");
    }
  }

  async function change(reply, body) {
    try {
      await request("PATCH", `${base}/${reply.id}`, body);
      toast(C.saved, "success");
      await load();
    } catch (err) {
      toast(errorText(err), "error");
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { shortcut: shortcut.value.trim(), title: title.value.trim(), text: text.value.trim(),
      category: category.value || null };
    save.disabled = true;
    try {
      if (editing) await request("PATCH", `${base}/${editing.id}`, body);
      else await post(base, body);
      toast(C.saved, "success");
      edit(null);
      await load();
    } catch (err) {
      error.textContent = err.status === 400 ? C.badTemplate : err.status === 409 ? C.shortcutTaken : errorText(err);
    } finally {
      save.disabled = false;
    }
  });
  cancel.addEventListener("click", () => edit(null));
  load();
  return () => {};
}
