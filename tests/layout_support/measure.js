// Runs in a harness page holding the report in an <iframe> of the width under test; writes
// what overflows, what is cut and what overlaps as JSON into a pre element (id layout-result).
function describe(e) {
  const cls = typeof e.className === "string" ? e.className : (e.className.baseVal || "");
  return e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (cls ? "." + cls : "")
    + " " + (e.textContent || "").trim().slice(0, 40);
}
function overlaps(a, b) {
  return a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5;
}
function measure(doc) {
  const root = doc.documentElement, W = root.clientWidth;
  const out = {width: W, scrollWidth: root.scrollWidth, overflow: [], scrolled_tables: [],
               truncated: [], outside: [], overlapping: [], texts: 0};
  for (const e of doc.querySelectorAll("body *")) {
    const wrap = e.closest(".table-wrap");
    if (wrap && wrap !== e) continue;  // inside a table's own scroll box
    const r = e.getBoundingClientRect();
    if (r.width > 0 && r.right > W + 0.5) out.overflow.push(describe(e) + " right=" + Math.round(r.right));
  }
  for (const w of doc.querySelectorAll(".table-wrap")) {
    if (w.scrollWidth > w.clientWidth + 0.5) out.scrolled_tables.push(describe(w.firstElementChild));
  }
  for (const svg of doc.querySelectorAll("svg.chart")) {
    const box = svg.getBoundingClientRect();
    const texts = [...svg.querySelectorAll("text")];
    out.texts += texts.length;
    const rects = texts.map(t => t.getBoundingClientRect());
    texts.forEach((t, i) => {
      const r = rects[i];
      if (t.textContent.includes("\u2026")) out.truncated.push(t.textContent);
      if (r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5)
        out.outside.push(t.textContent);
      for (let j = 0; j < i; j++)
        if (overlaps(r, rects[j])) out.overlapping.push(texts[j].textContent + " / " + t.textContent);
    });
  }
  return out;
}
window.addEventListener("load", () => {
  const frame = document.getElementById("page");
  let result;
  try { result = measure(frame.contentDocument); } catch (err) { result = {error: String(err)}; }
  const pre = document.createElement("pre");
  pre.id = "layout-result";
  pre.textContent = JSON.stringify(result);
  document.body.appendChild(pre);
});
