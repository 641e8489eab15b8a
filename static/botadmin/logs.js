// Channel log pages: remembered toggles (joins/parts, local time) and the live tail.
(function () {
  "use strict";
  var HIDE_KEY = "logs.hidePresence";
  var LOCAL_KEY = "logs.localTimes";
  var NOT_AVAILABLE = 4404;
  var ACCESS_ENDED = 4403;

  function stored(key) {
    try { return localStorage.getItem(key) === "1"; } catch (e) { return false; }
  }
  function store(key, on) {
    try { localStorage.setItem(key, on ? "1" : "0"); } catch (e) { /* private mode */ }
  }

  // Times are printed in UTC; the reader's local time is in the title, or shown instead.
  function localise(root) {
    var local = document.body.classList.contains("local-times");
    // The page is still one UTC day; the heading says whose clock its times are on.
    var zone = "";
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { /* old */ }
    document.querySelectorAll("[data-zone-label]").forEach(function (el) {
      el.textContent = local ? "(a UTC day; times in your zone" + (zone ? ", " + zone : "") + ")" : "(UTC)";
    });
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when)) return;
      if (!el.dataset.utc) el.dataset.utc = el.textContent;
      el.title = "Your time: " + when.toLocaleString();
      el.textContent = local ? when.toLocaleTimeString([], { hour12: false }) : el.dataset.utc;
    });
  }

  function toggle(id, key, cls, after) {
    var box = document.getElementById(id);
    if (!box) return;
    box.checked = stored(key);
    document.body.classList.toggle(cls, box.checked);
    box.addEventListener("change", function () {
      store(key, box.checked);
      document.body.classList.toggle(cls, box.checked);
      if (after) after();
    });
  }

  function nearBottom() {
    return window.innerHeight + window.scrollY >= document.body.scrollHeight - 80;
  }

  function append(log, lines) {
    var follow = nearBottom();
    var last = Number(log.dataset.after || 0);
    var empty = document.getElementById("no-lines");
    lines.forEach(function (line) {
      if (line.id <= last) return; // already shown: a resume never duplicates
      var holder = document.createElement("ol");
      holder.innerHTML = line.html; // rendered and escaped by the server
      var item = holder.firstElementChild;
      if (!item) return;
      localise(item);
      log.appendChild(item);
      last = line.id;
    });
    log.dataset.after = String(last);
    if (empty && last) empty.remove();
    if (follow) window.scrollTo(0, document.body.scrollHeight);
  }

  function drop(ids) {
    ids.forEach(function (id) {
      var item = document.getElementById("l" + id);
      if (item) item.remove();
    });
  }

  function tail(log) {
    var state = document.getElementById("live-state");
    var delay = 1000;
    function connect() {
      var scheme = location.protocol === "https:" ? "wss://" : "ws://";
      var url = scheme + location.host + log.dataset.socket + "?after=" + (log.dataset.after || 0);
      var socket = new WebSocket(url);
      socket.onopen = function () { delay = 1000; if (state) state.textContent = "live"; };
      socket.onmessage = function (event) {
        var message = JSON.parse(event.data);
        if (message.type === "lines") append(log, message.lines);
        if (message.type === "drop") drop(message.ids);
      };
      socket.onclose = function (event) {
        if (state) state.textContent = "reconnecting…";
        if (event.code === NOT_AVAILABLE) { if (state) state.textContent = "not available"; return; }
        if (event.code === ACCESS_ENDED) {
          if (state) state.textContent = "stopped: you signed out or no longer have access to this channel; sign in and reload the page";
          return;
        }
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 30000);
      };
    }
    connect();
  }

  document.addEventListener("DOMContentLoaded", function () {
    toggle("hide-presence", HIDE_KEY, "hide-presence");
    toggle("local-times", LOCAL_KEY, "local-times", function () { localise(document); });
    localise(document);
    var log = document.getElementById("log");
    if (log && log.dataset.socket && "WebSocket" in window) tail(log);
  });
})();
