/* Candor: keyboard shortcuts for the moderation queue. Everything also works without this script;
   it only saves reaching for the mouse.
     j / k   next / previous comment        a  approve      s  spam      o  off-topic
     r       reply (opens the comment)      x  select for a bulk action  ?  show or hide the help
   Shortcuts are ignored while typing in a field, and with Ctrl, Alt or Meta held. After an action the
   page reloads and focus returns to the comment now at the same place in the queue. */
(function () {
  "use strict";
  var STORE = "candor.moderation.position";
  var ACTIONS = { a: "approve", s: "spam", o: "off_topic" };

  function items() { return Array.prototype.slice.call(document.querySelectorAll(".mod-item")); }

  function current() {
    var active = document.activeElement;
    return active && active.closest ? active.closest(".mod-item") : null;
  }

  function focusItem(index) {
    var list = items();
    if (!list.length) { return; }
    var item = list[Math.max(0, Math.min(index, list.length - 1))];
    list.forEach(function (el) { el.classList.remove("is-current"); });
    item.classList.add("is-current");
    item.focus();
    item.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    var list = items();
    var at = list.indexOf(current());
    focusItem(at === -1 ? 0 : at + step);
  }

  function act(name) {
    var item = current();
    if (!item) { return; }
    var button = item.querySelector("button[data-action='" + name + "']");
    if (!button) { return; }
    try { window.sessionStorage.setItem(STORE, String(items().indexOf(item)) + "|" + location.pathname); } catch (e) { /* private mode */ }
    button.click();
  }

  function typing(target) {
    if (!target || !target.tagName) { return false; }
    var tag = target.tagName.toLowerCase();
    if (tag === "textarea" || tag === "select" || target.isContentEditable) { return true; }
    if (tag === "input") {
      var type = (target.getAttribute("type") || "text").toLowerCase();
      return ["checkbox", "radio", "button", "submit", "reset"].indexOf(type) === -1;
    }
    return false;
  }

  function toggleHelp() {
    var help = document.getElementById("shortcut-help");
    if (!help) { return; }
    help.open = !help.open;
    if (help.open) { help.querySelector("summary").focus(); }
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.altKey || event.metaKey || typing(event.target)) { return; }
    var key = event.key;
    if (key === "j") { move(1); }
    else if (key === "k") { move(-1); }
    else if (ACTIONS[key]) { act(ACTIONS[key]); }
    else if (key === "r") {
      var item = current();
      if (item && item.getAttribute("data-reply-url")) {
        var url = item.getAttribute("data-reply-url");
        if (url.charAt(0) === "#") {
          var field = document.querySelector(url + " textarea");
          if (field) { field.focus(); }
        } else {
          window.location.assign(url);
        }
      }
    } else if (key === "x") {
      var box = current() && current().querySelector("input[type=checkbox]");
      if (box) { box.checked = !box.checked; }
    } else if (key === "?") { toggleHelp(); }
    else { return; }
    event.preventDefault();
  });

  // Back after an action: focus the comment now at the same position (the acted-on one has usually left).
  var saved = null;
  try { saved = window.sessionStorage.getItem(STORE); window.sessionStorage.removeItem(STORE); } catch (e) { /* ignore */ }
  if (saved) {
    var parts = saved.split("|");
    if (parts[1] === location.pathname && items().length) { focusItem(parseInt(parts[0], 10) || 0); }
  }
  // Opened at its reply form (the r shortcut): focus it once the browser has finished scrolling to it,
  // which would otherwise take the focus back.
  if (location.hash === "#reply") {
    window.addEventListener("load", function () {
      window.setTimeout(function () {
        var reply = document.querySelector("#reply textarea");
        if (reply) { reply.focus(); }
      }, 0);
    });
  }
}());
