// Live waiting timers: every element with data-since (Unix seconds) shows the time elapsed since it,
// updated each second; content swapped in by htmx polling is picked up on the next tick.
(function () {
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function format(seconds) {
    if (seconds < 0) seconds = 0;
    var m = Math.floor(seconds / 60), s = seconds % 60;
    if (m >= 60) return Math.floor(m / 60) + " h " + pad(m % 60) + " min";
    return m + ":" + pad(s);
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll(".timer[data-since]").forEach(function (el) {
      var since = Number(el.dataset.since) * 1000;
      if (since) el.textContent = format(Math.floor((now - since) / 1000));
    });
  }
  tick();
  setInterval(tick, 1000);

  // A poll is not activity: portal.js restarts the idle log-off timer on every htmx:afterRequest
  // that reaches the document, so a board left open would never log off. Polling containers keep
  // their own requests' events to themselves (htmx fires this camel-case name, which hx-on cannot
  // spell: attribute names are lower-case).
  document.querySelectorAll("[data-quiet-poll]").forEach(function (el) {
    el.addEventListener("htmx:afterRequest", function (event) { event.stopPropagation(); });
  });
})();
