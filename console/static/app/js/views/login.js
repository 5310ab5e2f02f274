// The login page: username + password → session cookie (POST /api/login).
import { api, ApiError } from "../api.js";
import { h } from "../dom.js";
import { T } from "../i18n.js";

export function mountLogin(main, { message, onLoggedIn }) {
  const error = h("p", { class: "form-error", id: "login-error", role: "alert" }, message || "");
  const username = h("input", {
    id: "login-username", name: "username", type: "text", autocomplete: "username", required: true,
    autocapitalize: "none", spellcheck: "false", maxlength: "64",
  });
  const password = h("input", {
    id: "login-password", name: "password", type: "password", autocomplete: "current-password", required: true,
    maxlength: "256",
  });
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-block" }, T.loginButton);
  const form = h(
    "form",
    { class: "login-form", "aria-labelledby": "login-title", novalidate: true },
    h("h1", { id: "login-title" }, T.loginTitle),
    h("p", { class: "muted" }, T.loginIntro),
    h("div", { class: "field" }, h("label", { for: "login-username" }, T.username), username),
    h("div", { class: "field" }, h("label", { for: "login-password" }, T.password), password),
    error,
    submit,
  );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!username.value.trim() || !password.value) {
      error.textContent = T.loginFailed;
      (username.value.trim() ? password : username).focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = T.loggingIn;
    error.textContent = "";
    try {
      const me = await api.login(username.value.trim(), password.value);
      onLoggedIn(me);
    } catch (err) {
      submit.disabled = false;
      submit.textContent = T.loginButton;
      password.value = "";
      if (err instanceof ApiError && err.status === 429) error.textContent = T.loginRateLimited(err.retryAfter || 60);
      else if (err instanceof ApiError && (err.status === 401 || err.status === 422)) error.textContent = T.loginFailed;
      else if (err instanceof ApiError && err.status === 0) error.textContent = T.errors.network;
      else error.textContent = T.loginUnavailable;
      password.focus();
    }
  });

  main.append(h("div", { class: "login-page" }, h("p", { class: "login-brand" }, T.appName), form));
  username.focus();
  return null;
}
