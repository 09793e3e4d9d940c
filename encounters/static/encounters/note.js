// The live note: each field saves itself as the editor types (htmx, debounced); a refused save (409:
// someone else changed the field, or the note was signed; 400: invalid) is shown in place and the
// editor's text stays in the box; presence beats also bring in fields others changed meanwhile.
(function () {
  var editor = document.querySelector(".note-editor");
  if (!editor) return;

  function formOf(el) { return el.closest("form.note-field"); }
  function statusOf(form) { return form && document.getElementById("status-" + form.dataset.field); }
  function setStatus(form, text) {
    var status = statusOf(form);
    if (status && !status.classList.contains("conflict")) {
      status.textContent = text;
      status.className = "save-status muted";
    }
  }
  function isDirty(el) { return el.value !== el.dataset.saved; }

  editor.querySelectorAll(".autosave").forEach(function (el) { el.dataset.saved = el.value; });
  // Enter in the one-line field must not post the form as a page: saving is automatic.
  editor.addEventListener("submit", function (e) { if (e.target.matches("form.note-field")) e.preventDefault(); });

  document.body.addEventListener("htmx:beforeSwap", function (e) {
    var s = e.detail.xhr.status;
    if ((s === 409 || s === 400) && e.detail.elt.closest && e.detail.elt.closest(".note-editor, #diagnoses")) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });
  document.body.addEventListener("htmx:configRequest", function (e) {
    var el = e.detail.elt;
    if (el.classList && el.classList.contains("autosave")) {
      el.dataset.sending = el.value;
      setStatus(formOf(el), "Saving…");
    }
  });
  document.body.addEventListener("htmx:afterRequest", function (e) {
    var el = e.detail.elt;
    if (!(el.classList && el.classList.contains("autosave"))) return;
    var xhr = e.detail.xhr;
    if (xhr && xhr.status === 200) {
      el.dataset.saved = el.dataset.sending;
    } else if (!xhr || xhr.status === 0 || xhr.status >= 500) {
      // The connection dropped or the server failed: the text is still here; try again shortly.
      setStatus(formOf(el), "Not saved yet (connection problem): retrying…");
      setTimeout(function () { htmx.trigger(el, "save-now"); }, 3000);
    }
  });

  // A conflict: take their text, or keep mine knowingly (a new save based on their version).
  editor.addEventListener("click", function (e) {
    var panel = e.target.closest(".conflict");
    if (!panel) return;
    var form = formOf(panel);
    var el = form.querySelector(".autosave");
    var base = form.querySelector(".base-version");
    if (e.target.classList.contains("use-theirs")) {
      var theirs = panel.querySelector(".theirs").value;
      el.value = theirs;
      el.dataset.saved = theirs;
      base.value = panel.dataset.version;
      panel.outerHTML = '<span id="' + panel.id + '" class="save-status muted">Their text is in the box.</span>';
    } else if (e.target.classList.contains("keep-mine")) {
      base.value = panel.dataset.version;
      panel.classList.remove("conflict");
      htmx.trigger(el, "save-now");
    }
  });

  // Fields others changed since this page last saw them: taken in unless the editor is in them or has
  // unsaved text there (then their next save asks which text to keep).
  document.body.addEventListener("htmx:afterSwap", function (e) {
    if (e.detail.target.id !== "presence") return;
    var data = document.getElementById("remote-fields");
    if (!data) return;
    var changes = JSON.parse(data.textContent);
    Object.keys(changes).forEach(function (name) {
      var el = document.getElementById("id_" + name);
      var base = document.getElementById("base-" + name);
      var form = el && formOf(el);
      if (!el || !base) return;
      var change = changes[name];
      if (document.activeElement === el || isDirty(el)) {
        setStatus(form, change.by + " also changed this field: saving will ask which text to keep.");
        return;
      }
      el.value = change.value;
      el.dataset.saved = change.value;
      base.value = change.version;
      setStatus(form, "Updated by " + change.by);
    });
  });

  window.addEventListener("beforeunload", function (e) {
    var unsaved = Array.prototype.some.call(editor.querySelectorAll(".autosave"), isDirty);
    if (unsaved) e.preventDefault();
  });
  // Leaving: tell the others at once rather than after the presence timeout.
  window.addEventListener("pagehide", function () {
    var token = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (!token || !navigator.sendBeacon) return;
    var body = new FormData();
    body.append("csrfmiddlewaretoken", token.value);
    body.append("leave", "1");
    navigator.sendBeacon(editor.dataset.leaveUrl, body);
  });
})();
