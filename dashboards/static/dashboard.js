// Charts (Chart.js, from each canvas's data-chart) and math (KaTeX auto-render) for the dashboard.
"use strict";

function drawCharts() {
  if (!window.Chart) return;
  document.querySelectorAll("canvas.chart[data-chart]").forEach(function (canvas) {
    try {
      new window.Chart(canvas, JSON.parse(canvas.dataset.chart));
      canvas.dataset.drawn = "yes";
    } catch (e) {
      canvas.dataset.drawn = "failed";
    }
  });
}

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
  if (!window.renderMathInElement) return;
  document.querySelectorAll(".math-text").forEach(function (target) {
    var failed = false;
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
      failed = true;
    }
    // Broken LaTeX: say so and open the raw source, so the reader sees what was written.
    var block = target.closest(".block");
    if (block && (failed || target.querySelector(".katex-error") || leftoverDelimiters(target))) {
      var warning = block.querySelector(".render-warning");
      if (warning) warning.hidden = false;
      var source = block.querySelector("details.source");
      if (source) source.open = true;
    }
  });
}

document.addEventListener("DOMContentLoaded", function () {
  drawCharts();
  renderMath();
});
