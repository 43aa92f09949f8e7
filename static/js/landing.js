// Landing pages: report time on page with navigator.sendBeacon, which never delays the visitor.
// Only visible time counts; each beacon carries the seconds since the last one, so the server
// sums them per visit. No cookie is read or written here.
(function () {
  "use strict";
  var body = document.body;
  var visit = body.dataset.visit, url = body.dataset.beacon;
  if (!visit || !url || !navigator.sendBeacon) return;
  var visibleSince = document.visibilityState === "visible" ? Date.now() : null;
  var banked = 0;
  function take() {
    var seconds = banked + (visibleSince ? (Date.now() - visibleSince) / 1000 : 0);
    banked = 0;
    visibleSince = document.visibilityState === "visible" ? Date.now() : null;
    return seconds;
  }
  function send() {
    var seconds = take();
    if (seconds < 0.5) return;
    var data = new URLSearchParams({v: visit, s: seconds.toFixed(1)});
    if (body.dataset.asset) data.set("a", body.dataset.asset);
    navigator.sendBeacon(url, data);
  }
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") { send(); }
    else { visibleSince = Date.now(); }
  });
  window.addEventListener("pagehide", send);
  // A page left open for long still reports, a minute at a time.
  setInterval(function () { if (document.visibilityState === "visible") send(); }, 60000);
})();
