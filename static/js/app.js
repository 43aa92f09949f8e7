// Small glue for htmx: show server errors in words, mark busy regions for assistive tech.
(function () {
  "use strict";
  function say(message, kind) {
    var region = document.getElementById("flash");
    if (!region) return;
    var p = document.createElement("p");
    p.className = "flash flash-" + (kind || "error");
    p.textContent = message;
    region.replaceChildren(p);
  }
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var text = (xhr && xhr.getResponseHeader("Content-Type") || "").indexOf("text/plain") === 0 ? xhr.responseText : "";
    say(text || document.documentElement.dataset.errorMessage || "Something went wrong. Please try again.");
  });
  document.addEventListener("htmx:sendError", function () {
    say(document.documentElement.dataset.offlineMessage || "The server could not be reached. Check your connection and try again.");
  });
  document.addEventListener("htmx:beforeRequest", function (event) {
    var target = event.detail.target;
    if (target && target.id) target.setAttribute("aria-busy", "true");
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var target = event.detail.target;
    if (target && target.id) target.removeAttribute("aria-busy");
  });
})();
// Copy buttons: <button data-copy="#input-id" data-copied="Copied">.
document.addEventListener("click", function (event) {
  var button = event.target.closest && event.target.closest("[data-copy]");
  if (!button) return;
  var input = document.querySelector(button.dataset.copy);
  if (!input) return;
  input.select();
  var done = function () { button.textContent = button.dataset.copied || "Copied"; };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); });
  } else {
    document.execCommand("copy");
    done();
  }
});
// Confirm before a destructive plain form submit: <button data-confirm="Sure?">.
document.addEventListener("click", function (event) {
  var button = event.target.closest && event.target.closest("button[data-confirm]");
  if (button && !window.confirm(button.dataset.confirm)) event.preventDefault();
});
