// A big zone import's page: while the import reads or writes, ask its progress every
// half second and show it; when it is planned, done or failed, load the page again,
// which then shows the preview or how it ended.
(function () {
  "use strict";
  const card = document.getElementById("import-job");
  if (!card || !["reading", "applying"].includes(card.dataset.state)) {
    return;
  }
  const stage = document.getElementById("import-stage");
  const bar = document.getElementById("import-bar");
  const count = document.getElementById("import-count");

  function show(progress) {
    if (progress.state !== card.dataset.state) {
      window.location.reload();
      return false;
    }
    stage.textContent = progress.stage;
    if (progress.total) {
      bar.max = progress.total;
      bar.value = progress.done;
      count.textContent = progress.done + " of " + progress.total + " rows written";
    }
    return true;
  }

  function poll() {
    fetch(card.dataset.progress, { headers: { Accept: "application/json" } })
      .then((response) => response.json())
      .then((progress) => {
        if (show(progress)) {
          window.setTimeout(poll, 500);
        }
      })
      .catch(() => window.setTimeout(poll, 2000));
  }
  window.setTimeout(poll, 500);
})();
