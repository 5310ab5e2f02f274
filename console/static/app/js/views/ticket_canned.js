// Canned replies in the ticket composer: the dropdown, and "/" + a few letters typed in the composer
// (a listbox under it; arrows move, Enter or Tab inserts, Escape closes). Variables are filled by the server.
import { toast } from "../announce.js";
import { api } from "../api.js";
import { h, option, replace } from "../dom.js";
import { CANNED_GAP, T } from "../i18n.js";

/**
 * Wires the canned replies of `ticketNo` to `composer`, its listbox `list` and the `select` dropdown;
 * `isComposing()` says whether an IME candidate is being chosen.
 */
export function mountCanned({ ticketNo, composer, list, select, isComposing }) {
  let items = [];
  let matches = [];
  let active = -1;
  let slashStart = -1;

  async function load() {
    try {
      items = await api.cannedReplies(ticketNo);
    } catch {
      items = [];
    }
    replace(select, option("", T.cannedPick), items.map((c) => option(String(c.id), `/${c.shortcut} ${c.title}`)));
  }

  /** The "/query" just before the caret (at the start or after a space), or null. */
  function slashQuery() {
    const before = composer.value.slice(0, composer.selectionStart);
    const found = before.match(/(^|\s)\/([^\s/]*)$/);
    return found ? { start: before.length - found[2].length - 1, query: found[2].toLowerCase() } : null;
  }

  function update() {
    const found = slashQuery();
    if (!found || !items.length) {
      close();
      return;
    }
    slashStart = found.start;
    matches = items
      .filter((c) => `${c.shortcut} ${c.title} ${c.text}`.toLowerCase().includes(found.query))
      .slice(0, 8);
    if (!matches.length) {
      close();
      return;
    }
    active = 0;
    render();
  }

  function render() {
    replace(list, matches.map((c, i) => {
      const item = h("li", { id: `canned-opt-${c.id}`, role: "option", class: "canned-option",
        "aria-selected": String(i === active) },
      h("span", { class: "canned-key" }, `/${c.shortcut}`), h("span", { class: "canned-title" }, c.title),
      h("span", { class: "canned-text" }, c.text));
      item.addEventListener("mousedown", (event) => {
        event.preventDefault(); // keep the focus in the composer
        insert(c);
      });
      return item;
    }));
    list.hidden = false;
    composer.setAttribute("aria-activedescendant", `canned-opt-${matches[active].id}`);
  }

  function close() {
    list.hidden = true;
    matches = [];
    active = -1;
    composer.removeAttribute("aria-activedescendant");
  }

  function insert(item) {
    const caret = composer.selectionStart;
    composer.value = composer.value.slice(0, slashStart) + item.text + composer.value.slice(caret);
    const end = slashStart + item.text.length;
    composer.setSelectionRange(end, end);
    close();
    composer.focus();
    warnMissing(item);
  }

  function warnMissing(item) {
    if (item.missing && item.missing.length) {
      toast(T.cannedMissing(item.missing.map((name) => CANNED_GAP[name] || name).join("、")), "info");
    }
  }

  /** Arrow keys move, Enter or Tab inserts, Escape closes; true when the key was ours. */
  function onKey(event) {
    if (list.hidden) return false;
    if (event.isComposing || event.keyCode === 229 || isComposing()) return false;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      const step = event.key === "ArrowDown" ? 1 : -1;
      active = (active + step + matches.length) % matches.length;
      render();
    } else if (event.key === "Enter" || event.key === "Tab") {
      insert(matches[active]);
    } else if (event.key === "Escape") {
      close();
    } else {
      return false;
    }
    event.preventDefault();
    event.stopPropagation();
    return true;
  }

  select.addEventListener("change", () => {
    const item = items.find((c) => String(c.id) === select.value);
    select.value = "";
    if (!item) return;
    composer.value = composer.value ? `${composer.value}${item.text}` : item.text;
    composer.focus();
    warnMissing(item);
  });
  composer.addEventListener("input", update);
  composer.addEventListener("blur", () => window.setTimeout(close, 0));
  return { load, onKey };
}
