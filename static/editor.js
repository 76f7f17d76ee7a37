/* Candor: the staff post editor's helpers. The form works without this script (Save and Preview are
   plain submits); with it the writer also gets:
     - a Markdown toolbar (bold, italic, heading, link, list, quote, image upload) and the shortcuts
       Ctrl/Cmd+B, I, K and S (S saves);
     - a live preview beside the text, rendered by the server's own sandboxed renderer
       (POST /staff/writing/preview, 400 ms after the last keystroke), with the publishing checklist
       judged on the text as typed;
     - autosave of the working copy to a draft buffer (POST /staff/writing/<post>/autosave, or
       /staff/writing/new/autosave for a post never saved), which is not a revision: only Save makes one;
     - a warning before leaving while typed text is neither saved nor autosaved;
     - a word count;
     - image upload by picking, pasting or dropping a file (POST /staff/media), asking for alt text first.
   No build step, no third-party code, nothing inline (the Content-Security-Policy allows 'self' only). */
(function () {
  "use strict";
  var PREVIEW_DELAY = 400;
  var AUTOSAVE_DELAY = 1500;

  var form = document.getElementById("editor-form");
  if (!form || !window.fetch) { return; }
  var body = form.querySelector("textarea[name=body]");
  var title = form.querySelector("input[name=title]");
  var references = form.querySelector("textarea[name=references]");
  var personal = form.querySelector("input[name=personal_view]");
  var base = form.querySelector("input[name=base_revision]");
  var token = form.querySelector("input[name=csrf_token]").value;
  var toolbar = document.getElementById("editor-toolbar");
  var pane = document.getElementById("live-preview-pane");
  var preview = document.getElementById("live-preview");
  var checklist = document.getElementById("checklist");
  var status = document.getElementById("editor-status");
  var words = document.getElementById("word-count");
  var fileInput = document.getElementById("editor-image-file");
  var dialog = document.getElementById("image-dialog");
  var postId = form.getAttribute("data-post-id");
  var autosaveUrl = form.getAttribute("data-autosave-url");

  var previewTimer = null, autosaveTimer = null, previewSeq = 0, shownSeq = 0;
  var submitting = false;

  function snapshot() {
    return JSON.stringify([title.value, body.value, references ? references.value : "", personal ? personal.checked : false]);
  }
  // What leaving the page would not lose: the text as loaded, then as last autosaved.
  var kept = snapshot();

  function say(text) { status.textContent = text; }

  function post(url, payload) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": token },
      body: JSON.stringify(payload)
    });
  }

  function fields() {
    return {
      title: title.value,
      body: body.value,
      references: references ? references.value : "",
      personal_view: personal ? personal.checked : false
    };
  }

  function countWords() {
    var n = body.value.split(/\s+/).filter(function (w) { return w.length > 0; }).length;
    words.textContent = n + (n === 1 ? " word" : " words");
  }

  function errorMessage(response, fallback) {
    return response.json().then(function (data) {
      return (data && data.error && data.error.message) || fallback;
    }, function () { return fallback; });
  }

  // --- live preview and checklist ---------------------------------------------------------------

  function refreshPreview() {
    var seq = ++previewSeq;
    var payload = fields();
    if (postId) { payload.post_id = parseInt(postId, 10); }
    preview.setAttribute("aria-busy", "true");
    post(form.getAttribute("data-preview-url"), payload).then(function (response) {
      if (seq < shownSeq) { return; }  // an older answer arriving late: a newer one is already shown
      if (response.ok) {
        return response.json().then(function (data) {
          if (seq < shownSeq) { return; }
          shownSeq = seq;
          preview.innerHTML = data.html;  // rendered and sanitised by the server, as a Save would
          if (checklist && data.checklist) { checklist.innerHTML = data.checklist; }
        });
      }
      if (response.status === 429) {
        say("Preview paused for a moment: too many previews. It resumes as you type.");
        return;
      }
      return errorMessage(response, "The preview could not be rendered.").then(function (message) {
        shownSeq = seq;
        preview.textContent = "";
        var p = document.createElement("p");
        p.className = "error";
        p.textContent = message;
        preview.appendChild(p);
      });
    }).catch(function () {
      say("Preview unavailable: the server could not be reached.");
    }).then(function () {
      if (seq === previewSeq) { preview.setAttribute("aria-busy", "false"); }
    });
  }

  // --- autosave -----------------------------------------------------------------------------------

  function autosave() {
    if (!autosaveUrl) { return; }
    var now = snapshot();
    if (now === kept) { return; }
    var payload = fields();
    delete payload.personal_view;
    payload.base_revision = base ? parseInt(base.value, 10) || 0 : 0;
    post(autosaveUrl, payload).then(function (response) {
      if (response.ok) {
        kept = now;
        say("Autosaved at " + new Date().toLocaleTimeString() + " (not a revision: Save makes one).");
      } else if (response.status === 429) {
        scheduleAutosave();
      } else {
        errorMessage(response, "Autosave failed.").then(function (m) { say("Autosave failed: " + m); });
      }
    }).catch(function () {
      say("Autosave failed: the server could not be reached. Your text is still here.");
    });
  }

  function scheduleAutosave() {
    window.clearTimeout(autosaveTimer);
    autosaveTimer = window.setTimeout(autosave, AUTOSAVE_DELAY);
  }

  function changed() {
    countWords();
    window.clearTimeout(previewTimer);
    previewTimer = window.setTimeout(refreshPreview, PREVIEW_DELAY);
    scheduleAutosave();
  }

  // --- toolbar --------------------------------------------------------------------------------------

  function replaceSelection(text, selectFrom, selectTo) {
    var start = body.selectionStart, end = body.selectionEnd;
    body.focus();
    // execCommand keeps the browser's undo history; setRangeText is the fallback.
    if (!document.execCommand || !document.execCommand("insertText", false, text)) {
      body.setRangeText(text, start, end, "end");
      body.dispatchEvent(new Event("input", { bubbles: true }));
    }
    if (selectFrom !== undefined) { body.setSelectionRange(start + selectFrom, start + selectTo); }
  }

  function wrap(marker, placeholder) {
    var selected = body.value.slice(body.selectionStart, body.selectionEnd) || placeholder;
    replaceSelection(marker + selected + marker, marker.length, marker.length + selected.length);
  }

  function prefixLines(prefix) {
    var value = body.value;
    var start = value.lastIndexOf("\n", body.selectionStart - 1) + 1;
    var end = body.selectionEnd;
    body.setSelectionRange(start, end);
    var lines = value.slice(start, end).split("\n");
    var text = lines.map(function (line) { return prefix + line; }).join("\n");
    replaceSelection(text, prefix.length, text.length);
  }

  function link() {
    var selected = body.value.slice(body.selectionStart, body.selectionEnd) || "link text";
    var text = "[" + selected + "](https://)";
    replaceSelection(text, selected.length + 3, text.length - 1);
  }

  var ACTIONS = {
    bold: function () { wrap("**", "bold text"); },
    italic: function () { wrap("*", "italic text"); },
    heading: function () { prefixLines("## "); },
    link: link,
    list: function () { prefixLines("- "); },
    quote: function () { prefixLines("> "); },
    image: function () { fileInput.click(); }
  };

  // The toolbar is one stop in the tab order; the arrow keys, Home and End move along it (the WAI-ARIA
  // toolbar pattern). It follows the text, so Tab goes from the title straight into the text.
  var buttons = Array.prototype.slice.call(toolbar.querySelectorAll("button"));
  buttons.forEach(function (b, i) { b.tabIndex = i === 0 ? 0 : -1; });
  toolbar.addEventListener("keydown", function (event) {
    var at = buttons.indexOf(document.activeElement);
    if (at < 0) { return; }
    var to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: buttons.length - 1 }[event.key];
    if (to === undefined) { return; }
    event.preventDefault();
    to = (to + buttons.length) % buttons.length;
    buttons[at].tabIndex = -1;
    buttons[to].tabIndex = 0;
    buttons[to].focus();
  });

  toolbar.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-md]");
    if (button) { ACTIONS[button.getAttribute("data-md")](); }
  });

  function shortcut(event) {
    return (event.ctrlKey || event.metaKey) && !event.altKey && !event.shiftKey ? event.key.toLowerCase() : "";
  }

  // Ctrl/Cmd+S saves from anywhere on the page (instead of the browser saving the page as a file).
  document.addEventListener("keydown", function (event) {
    if (shortcut(event) !== "s") { return; }
    event.preventDefault();
    var save = form.querySelector("button[value=save]");
    if (form.requestSubmit) { form.requestSubmit(save); } else { save.click(); }
  });

  body.addEventListener("keydown", function (event) {
    var action = { b: "bold", i: "italic", k: "link" }[shortcut(event)];
    if (action) {
      event.preventDefault();
      ACTIONS[action]();
    }
  });

  // --- images -------------------------------------------------------------------------------------

  var pending = null;

  function askAbout(file) {
    if (!file || !/^image\//.test(file.type)) {
      say("Only images can be uploaded here (JPEG, PNG, WebP, GIF or AVIF).");
      return;
    }
    pending = file;
    document.getElementById("image-dialog-name").textContent = file.name ? "File: " + file.name : "Pasted image";
    document.getElementById("image-alt").value = "";
    document.getElementById("image-decorative").checked = false;
    document.getElementById("image-patient").checked = false;
    document.getElementById("image-dialog-error").textContent = "";
    dialog.showModal();
    document.getElementById("image-alt").focus();
  }

  function upload() {
    var alt = document.getElementById("image-alt").value.trim();
    var decorative = document.getElementById("image-decorative").checked;
    var error = document.getElementById("image-dialog-error");
    if (!alt && !decorative) {
      error.textContent = "Describe the image, or mark it decorative.";
      return false;
    }
    var data = new FormData();
    data.append("file", pending, pending.name || "pasted-image");
    data.append("alt", decorative ? "" : alt);
    if (decorative) { data.append("decorative", "1"); }
    if (document.getElementById("image-patient").checked) { data.append("shows_patient", "1"); }
    say("Uploading the image…");
    var where = [body.selectionStart, body.selectionEnd];
    fetch(form.getAttribute("data-media-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": token },
      body: data
    }).then(function (response) {
      if (response.status === 201) {
        return response.json().then(function (media) {
          body.setSelectionRange(where[0], where[1]);
          var before = where[0] > 0 && body.value.charAt(where[0] - 1) !== "\n" ? "\n\n" : "";
          replaceSelection(before + media.markdown + "\n\n");
          say("Image uploaded and inserted.");
        });
      }
      if (response.status === 404 || response.status === 405) {
        say("Image upload is not available on this server (no media desk at /staff/media). Nothing was inserted.");
        return;
      }
      return response.json().then(function (d) {
        say("The image was not uploaded: " + ((d && (d.message || (d.error && d.error.message))) || response.status));
      }, function () { say("The image was not uploaded (error " + response.status + ")."); });
    }).catch(function () {
      say("The image was not uploaded: the server could not be reached.");
    });
    return true;
  }

  fileInput.addEventListener("change", function () {
    if (fileInput.files.length) { askAbout(fileInput.files[0]); }
    fileInput.value = "";
  });

  document.getElementById("image-dialog-form").addEventListener("submit", function (event) {
    if (event.submitter && event.submitter.value === "upload" && !upload()) {
      event.preventDefault();  // keep the dialog open until the alt text question is answered
    }
  });

  function imageFrom(list) {
    for (var i = 0; list && i < list.length; i++) {
      if (/^image\//.test(list[i].type)) { return list[i]; }
    }
    return null;
  }

  body.addEventListener("paste", function (event) {
    var file = imageFrom(event.clipboardData && event.clipboardData.files);
    if (file) { event.preventDefault(); askAbout(file); }
  });
  body.addEventListener("dragover", function (event) {
    if (event.dataTransfer && Array.prototype.indexOf.call(event.dataTransfer.types, "Files") >= 0) {
      event.preventDefault();
    }
  });
  body.addEventListener("drop", function (event) {
    var file = imageFrom(event.dataTransfer && event.dataTransfer.files);
    if (file) { event.preventDefault(); askAbout(file); }
  });

  // --- wiring ---------------------------------------------------------------------------------------

  [title, body, references].forEach(function (el) { if (el) { el.addEventListener("input", changed); } });
  if (personal) { personal.addEventListener("change", changed); }

  form.addEventListener("submit", function () { submitting = true; });
  window.addEventListener("beforeunload", function (event) {
    if (submitting || snapshot() === kept) { return; }
    event.preventDefault();
    event.returnValue = "";
  });

  toolbar.hidden = false;
  pane.hidden = false;
  form.classList.add("js-editor");
  countWords();
  refreshPreview();
})();
