/* Candor: the time token for comment forms on cached post pages.
   A cached page cannot carry a per-request timestamp, so this asks the server for a signed one when the
   page is shown. Without this script (or if the request fails) the form still works: the time to
   submit is simply unknown, which the server does not count against anyone. */
(function () {
  "use strict";
  var forms = document.querySelectorAll("form[data-token-url]");
  Array.prototype.forEach.call(forms, function (form) {
    var field = form.querySelector("input[name=form_token]");
    if (!field || !window.fetch) { return; }
    fetch(form.getAttribute("data-token-url"), { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data && typeof data.token === "string") { field.value = data.token; } })
      .catch(function () { /* unknown time: fine */ });
  });
}());
