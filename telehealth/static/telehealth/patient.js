// The patient's page: join the waiting room as soon as the page opens (a POST, so a link preview
// that only fetches the page joins nobody), and test the camera and microphone on request.
(function () {
  var join = document.getElementById("join-form");
  if (join && join.dataset.auto === "1") join.submit();

  var test = document.getElementById("test-devices");
  if (!test) return;
  var out = document.getElementById("device-result");
  test.addEventListener("click", function () {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      out.textContent = "This browser cannot test the camera. If you can see and hear, tick the box below.";
      return;
    }
    out.textContent = "Asking your browser for the camera and microphone…";
    navigator.mediaDevices.getUserMedia({ video: true, audio: true }).then(function (stream) {
      stream.getTracks().forEach(function (t) { t.stop(); });
      document.getElementById("tech-method").value = "device";
      document.getElementById("tech-form").submit();
    }).catch(function (err) {
      out.textContent = "We could not use your camera or microphone (" + err.name + "). Allow them in your " +
        "browser settings and try again, or tick the box below if you can see and hear.";
    });
  });
})();
