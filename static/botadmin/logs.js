// Channel log pages: remembered toggles (joins/parts, local time) and the live tail.
(function () {
  "use strict";
  var HIDE_KEY = "logs.hidePresence";
  var LOCAL_KEY = "logs.localTimes";
  var NO_RETRY = 4404;

  function stored(key) {
    try { return localStorage.getItem(key) === "1"; } catch (e) { return false; }
  }
  function store(key, on) {
    try { localStorage.setItem(key, on ? "1" : "0"); } catch (e) { /* private mode */ }
  }

  // Times are printed in UTC; the reader's local time is in the title, or shown instead.
  function localise(root) {
    var local = document.body.classList.contains("local-times");
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
      };
      socket.onclose = function (event) {
        if (state) state.textContent = "reconnecting…";
        if (event.code === NO_RETRY) { if (state) state.textContent = "not available"; return; }
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
