// A modal form in a native <dialog> (focus trapped by the browser, Esc closes it).
import { errorText } from "./api.js";
import { h } from "./dom.js";
import { T } from "./i18n.js";

export function openDialog({ id, title, body, confirm, onConfirm }) {
  const previous = document.activeElement;
  const error = h("p", { class: "form-error", role: "alert" });
  const ok = h("button", { type: "submit", class: "btn btn-primary", id: `${id}-confirm` }, confirm);
  const cancel = h("button", { type: "button", class: "btn", id: `${id}-cancel` }, T.cancel);
  const form = h("form", { method: "dialog", class: "dialog-form" },
    h("h2", { id: `${id}-title` }, title), body, error, h("div", { class: "dialog-buttons" }, cancel, ok));
  const dialog = h("dialog", { id, "aria-labelledby": `${id}-title`, class: "dialog" }, form);

  const close = () => {
    dialog.close();
    dialog.remove();
    if (previous && previous.isConnected) previous.focus();
  };
  cancel.addEventListener("click", close);
  dialog.addEventListener("cancel", (event) => {
    event.preventDefault();
    close();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    ok.disabled = true;
    error.textContent = "";
    try {
      await onConfirm();
      close();
    } catch (err) {
      error.textContent = errorText(err);
      ok.disabled = false;
    }
  });
  document.body.append(dialog);
  dialog.showModal();
  const first = form.querySelector("select, input, textarea");
  if (first) first.focus();
  return dialog;
}
