// Renders each text's math with the review app's vendored KaTeX (node benchmarks/katex_render.js < texts.json).
// Input: a JSON array of arrays of math segments, [[segment, display], ...] per text. Output: a JSON
// array with, per text, the first KaTeX error message or null when every segment renders.
const katex = require("../reviewapp/static/katex/katex.min.js");
let input = "";
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const out = JSON.parse(input).map((segments) => {
    for (const [tex, display] of segments) {
      try {
        katex.renderToString(tex, { displayMode: display, throwOnError: true, strict: "ignore" });
      } catch (e) {
        return String(e.message).slice(0, 200);
      }
    }
    return null;
  });
  process.stdout.write(JSON.stringify(out));
});
