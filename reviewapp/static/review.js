// Math rendering, keyboard shortcuts and draft autosave for the review pages.
"use strict";

function leftoverDelimiters(root) {
  var walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
    acceptNode: function (node) {
      return node.parentElement.closest(".katex") ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT;
    }
  });
  var pattern = /\\\[|\\\]|\$|\\\(|\\begin\{/;
  while (walker.nextNode()) {
    if (pattern.test(walker.currentNode.nodeValue)) return true;
  }
  return false;
}

function renderMath() {
  document.querySelectorAll(".math-text").forEach(function (target) {
    var block = target.closest(".block");
    if (!window.renderMathInElement) return;
    try {
      window.renderMathInElement(target, {
        delimiters: [
          {left: "$$", right: "$$", display: true},
          {left: "\\[", right: "\\]", display: true},
          {left: "\\begin{equation}", right: "\\end{equation}", display: true},
          {left: "\\begin{equation*}", right: "\\end{equation*}", display: true},
          {left: "\\begin{align}", right: "\\end{align}", display: true},
          {left: "\\begin{align*}", right: "\\end{align*}", display: true},
          {left: "\\(", right: "\\)", display: false},
          {left: "$", right: "$", display: false}
        ],
        throwOnError: false,          // broken LaTeX is shown as its source, in red
        errorColor: "#b00",
        strict: "ignore"
      });
    } catch (e) {
      target.dataset.renderFailed = "yes";
    }
    // Broken LaTeX: say so and open the raw source, so the reviewer always sees what was written.
    // KaTeX marks what it could not parse (.katex-error); a delimiter it could not pair (an
    // unclosed brace hides the closing one) is left in the text as it was written.
    if (target.querySelector(".katex-error") || target.dataset.renderFailed || leftoverDelimiters(target)) {
      block.classList.add("has-render-errors");
      var warning = block.querySelector(".render-warning");
      if (warning) warning.hidden = false;
      var source = block.querySelector("details.source");
      if (source) source.open = true;
    }
  });
}

function reviewForm() {
  var form = document.getElementById("review-form");
  if (!form) return;
  var key = form.dataset.draftKey;
  var fieldsets = Array.prototype.slice.call(form.querySelectorAll("fieldset.principle"));
  var current = 0;

  function focusPrinciple(i) {
    current = Math.max(0, Math.min(fieldsets.length - 1, i));
    fieldsets.forEach(function (f, j) { f.classList.toggle("current", j === current); });
  }
  function save() {
    var data = {};
    // The draft keeps what the reviewer chose, never the form's one-time values: a draft restored
    // after logging in again must not bring back an ended session's CSRF token.
    new FormData(form).forEach(function (v, k) { if (k !== "submission_id" && k !== "csrf_token") data[k] = v; });
    try { localStorage.setItem(key, JSON.stringify(data)); } catch (e) { /* private mode */ }
  }
  function restore() {
    var raw = null;
    try { raw = localStorage.getItem(key); } catch (e) { return; }
    if (!raw) return;
    var data = JSON.parse(raw);
    Object.keys(data).forEach(function (name) {
      var field = form.elements[name];
      if (!field || field.type === "hidden") return;
      if (field instanceof RadioNodeList || field.length) {
        Array.prototype.forEach.call(field, function (r) { r.checked = (r.value === data[name]); });
      } else { field.value = data[name]; }
    });
  }
  function setRadio(name, value) {
    var r = form.querySelector('input[name="' + name + '"][value="' + value + '"]');
    if (r) { r.checked = true; save(); }
  }

  // A draft survives a reload or a server restart; a stored review wins over an older draft.
  if (form.dataset.submitted !== "yes") restore();
  form.addEventListener("change", save);
  form.addEventListener("input", save);
  form.addEventListener("submit", function () {
    var button = document.getElementById("submit");
    button.disabled = true;           // one click, one submission (the server also ignores repeats)
    button.textContent = "Saving…";
    try { localStorage.removeItem(key); } catch (e) { /* ignore */ }
  });
  focusPrinciple(0);

  document.addEventListener("keydown", function (ev) {
    var typing = ev.target.tagName === "TEXTAREA" || (ev.target.tagName === "INPUT" && ev.target.type === "text");
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); form.requestSubmit(); return; }
    if (typing) { if (ev.key === "Escape") ev.target.blur(); return; }
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key >= "1" && ev.key <= "5") {
      setRadio(fieldsets[current].dataset.principle, ev.key);
      focusPrinciple(current + 1);
    } else if (ev.key === "ArrowDown" || ev.key === "j") { ev.preventDefault(); focusPrinciple(current + 1); }
    else if (ev.key === "ArrowUp" || ev.key === "k") { ev.preventDefault(); focusPrinciple(current - 1); }
    else if (ev.key === "y") { setRadio("decision", "keep"); }
    else if (ev.key === "x") { setRadio("decision", "reject"); }
    else if (ev.key === "c") { ev.preventDefault(); document.getElementById("comment").focus(); }
    else if (ev.key === "n") { var n = document.getElementById("next"); if (n) n.click(); }
    else if (ev.key === "p") { var p = document.getElementById("prev"); if (p) p.click(); }
    else if (ev.key === "o") { var o = document.getElementById("pdf-link"); if (o) o.click(); }
    else if (ev.key === "?") { var h = document.getElementById("help"); h.hidden = !h.hidden; }
  });
}

document.addEventListener("DOMContentLoaded", function () {
  renderMath();
  reviewForm();
  var toggle = document.getElementById("help-toggle");
  if (toggle) toggle.addEventListener("click", function () {
    var h = document.getElementById("help"); h.hidden = !h.hidden;
  });
});
