// Idle log-off: the server ends the session after the idle time; the page follows it so no
// patient data stays on an unattended screen.
(function () {
  var body = document.body;
  var seconds = parseInt(body.dataset.idleSeconds || "0", 10);
  if (!seconds) return;
  var timer;
  function reset() {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var form = document.createElement("form");
      form.method = "post";
      form.action = body.dataset.logoutUrl;
      var token = document.querySelector("input[name=csrfmiddlewaretoken]");
      if (token) form.appendChild(token.cloneNode());
      document.body.appendChild(form);
      form.submit();
    }, seconds * 1000);
  }
  ["click", "keydown", "htmx:afterRequest"].forEach(function (e) { document.addEventListener(e, reset); });
  reset();
})();
