(function () {
  "use strict";
  var frames = [].slice.call(document.querySelectorAll("iframe.email"));
  var light = frames.map(function (frame) { return frame.getAttribute("srcdoc") || ""; });
  var toggle = document.getElementById("dark-toggle");
  function fit(frame) {
    var doc = frame.contentDocument;
    if (doc && doc.documentElement) frame.style.height = doc.documentElement.scrollHeight + "px";
  }
  // Clients that support dark mode apply the email's prefers-color-scheme rules; an email without
  // any is shown the way clients that force dark mode treat it (colours inverted, images kept).
  function toDark(html) {
    var own = /prefers-color-scheme\s*:\s*dark/i.test(html);
    var extra = '<meta name="color-scheme" content="dark"><style>:root{color-scheme:dark}' +
      (own ? "" : "html{filter:invert(1) hue-rotate(180deg)}img{filter:invert(1) hue-rotate(180deg)}") +
      "</style>";
    return html
      .replace(/\(\s*prefers-color-scheme\s*:\s*dark\s*\)/gi, "(min-width:0px)")
      .replace(/\(\s*prefers-color-scheme\s*:\s*light\s*\)/gi, "(max-width:0px)")
      .replace(/<\/head>/i, function () { return extra + "</head>"; });
  }
  function setDark(on) {
    toggle.setAttribute("aria-pressed", on ? "true" : "false");
    document.body.classList.toggle("dark", on);
    frames.forEach(function (frame, i) { frame.srcdoc = on ? toDark(light[i]) : light[i]; });
    try { sessionStorage.setItem("newsletter-dark", on ? "1" : ""); } catch (e) { /* file:// */ }
  }
  frames.forEach(function (frame) {
    frame.addEventListener("load", function () { fit(frame); });
    fit(frame);
  });
  toggle.addEventListener("click", function () {
    setDark(toggle.getAttribute("aria-pressed") !== "true");
  });
  var remembered = "";
  try { remembered = sessionStorage.getItem("newsletter-dark") || ""; } catch (e) { /* file:// */ }
  if (remembered) setDark(true);
})();
