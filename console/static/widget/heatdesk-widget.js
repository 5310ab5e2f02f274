/*!
 * HeatDesk 供热智能客服 — website chat widget.
 *
 * Embed with one tag (the widget's parts, the socket.io client and the stylesheet
 * are loaded from the same folder as this file, never from a CDN):
 *
 *   <script src="https://console.example.com/widget/heatdesk-widget.js"
 *           data-server="https://rasa.example.com" defer></script>
 *
 * data-server   the Rasa server (default: this page's host on port 5005); only the
 *               embedding tag decides it: nothing in the page's URL can re-point
 *               the widget (a link must not send a resident's 户号 elsewhere)
 * data-title    the panel title (default 供热智能客服)
 * data-hotline  a phone number shown when the chat cannot connect
 * data-open     "true" opens the panel at once
 *
 * Speaks Rasa's socket.io protocol (session_request / session_confirm /
 * user_uttered / bot_uttered) and asks for HeatDesk's additions with
 * `protocol: "heatdesk/2"`: a server transcript replayed by message id after a
 * reload or reconnect, `user_echo`, `bot_typing`, `handoff_state` and
 * `widget_error`. The session is issued by the server with a resume token; the
 * token stays in this closure and the tab's sessionStorage, never on
 * `window.HeatDeskWidget`.
 */
(function () {
  "use strict";

  if (window.HeatDeskWidget) {
    return; // embedded twice: keep the first
  }

  var script =
    document.currentScript || document.querySelector('script[src*="heatdesk-widget.js"]');
  var base = new URL(".", (script && script.src) || location.href).href;
  // The widget's private context, handed to each part: settings, helpers, the Widget class and
  // the resume token. Only `window.HeatDeskWidget` is global, and only its public API once started.
  var hd = { base: base, data: (script && script.dataset) || {} };
  // By job, in the order they run: texts and helpers; the panel and its status; the messages;
  // the socket and the start. Classic scripts from this folder, so no host page needs CORS.
  var PARTS = ["config", "panel", "messages", "socket"];
  var waiting = PARTS.length;
  var started = false;

  window.HeatDeskWidget = {
    loading: true,
    part: function (define) {
      if (!started) define(hd);
    },
  };

  function start() {
    if (started) return;
    started = true;
    hd.start();
  }

  PARTS.forEach(function (name) {
    var tag = document.createElement("script");
    tag.src = base + "parts/" + name + ".js";
    tag.async = false; // inserted scripts run in insertion order
    tag.onload = function () {
      waiting -= 1;
      if (waiting) return;
      if (document.body) start();
      else document.addEventListener("DOMContentLoaded", start);
    };
    document.head.appendChild(tag);
  });
})();
