// Bot administration: refresh each network's connection status from the bot's heartbeat.
(function () {
  "use strict";
  var POLL_MS = 5000;
  var banner = document.getElementById("bot-running");
  if (!banner) return;

  function show(dd, text, cls) {
    dd.textContent = "";
    var span = document.createElement("span");
    span.textContent = text;
    if (cls) span.className = cls;
    dd.appendChild(span);
  }

  function update(status) {
    show(banner, status.running ? "The bot is running." : "No bot worker is running (start manage.py runbot).",
         status.running ? "ok" : "stale");
    document.querySelectorAll("section.network").forEach(function (section) {
      var state = status.networks[section.dataset.network] || {};
      var field = function (name) { return section.querySelector('[data-field="' + name + '"]'); };
      show(field("connected"), state.connected ? "connected" : "not connected", state.connected ? "ok" : "stale");
      show(field("nick"), state.nick || "–");
      show(field("lag"), typeof state.lag === "number" ? state.lag.toFixed(3) + " s" : "–");
      show(field("last_error"), state.last_error || "–");
    });
  }

  function poll() {
    fetch(banner.dataset.statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (status) { if (status) update(status); })
      .catch(function () { /* the next poll tries again */ })
      .finally(function () { setTimeout(poll, POLL_MS); });
  }
  setTimeout(poll, POLL_MS);
})();
