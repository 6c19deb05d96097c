// Progress of a newsletter dispatch: polls the JSON endpoint named in data-progress-url and
// updates the bar and the numbers until the dispatch is done. Without JavaScript the page
// reloads itself (a <noscript> refresh).
(function () {
  "use strict";
  var box = document.querySelector("[data-progress-url]");
  if (!box || box.getAttribute("data-done") === "true") return;
  var url = box.getAttribute("data-progress-url");
  var bar = box.querySelector("progress");

  function show(p) {
    Object.keys(p).forEach(function (key) {
      var el = box.querySelector('[data-field="' + key + '"]');
      if (el) el.textContent = String(p[key]);
    });
    if (bar) {
      bar.max = p.total || 1;
      bar.value = p.sent + p.failed + p.skipped;
      bar.textContent = p.percent + " %";
    }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (p) {
        show(p);
        if (p.done) {
          window.location.reload(); // shows the final list of failed deliveries
        } else {
          window.setTimeout(poll, 2000);
        }
      })
      .catch(function () { window.setTimeout(poll, 10000); });
  }
  window.setTimeout(poll, 1000);
})();
