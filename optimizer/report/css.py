"""The report stylesheet: inline, system fonts only, no external resources, printable."""

CSS = """
:root { --ink:#1d2733; --muted:#5b6875; --rule:#d5dbe1; --cur:#9aa7b4; --prop:#1f4e79;
  --warn-bg:#fff4e0; --warn:#9a5b00; --info-bg:#eaf2fb; --pos:#1d6b3a; --neg:#a12b2b; }
* { box-sizing: border-box; }
html { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  "Liberation Sans", sans-serif;
  color: var(--ink); font-size: 14px; line-height: 1.45; background: #fff; }
body { margin: 0; }
main { max-width: 940px; margin: 0 auto; padding: 28px 32px 48px; }
header.report { border-bottom: 3px solid var(--prop); padding-bottom: 12px; margin-bottom: 18px; }
header.report h1 { font-size: 24px; margin: 0 0 4px; }
header.report .brand { display: flex; justify-content: space-between; align-items: flex-start;
  gap: 8px 24px; flex-wrap: wrap; }
.advisor { display: flex; gap: 12px; align-items: center; text-align: right; font-size: 12px;
  color: var(--muted); }
.advisor .firm { font-weight: 600; color: var(--ink); font-size: 14px; }
.advisor img.logo { max-height: 48px; max-width: 160px; }
.signature { margin-top: 28px; border: 1px solid var(--rule); padding: 12px 16px; }
.signature h2 { margin-top: 4px; font-size: 14px; }
.signature .lines { display: flex; flex-wrap: wrap; gap: 8px 48px; }
.signature .sig { flex: 1 1 260px; display: flex; justify-content: space-between;
  border-top: 1px solid var(--ink); margin-top: 40px; padding-top: 4px; font-size: 12px; }
.signature .sig .date { min-width: 30%; border-left: 1px solid var(--rule); padding-left: 8px; }
header.report .meta { color: var(--muted); display: flex; flex-wrap: wrap; gap: 4px 24px; }
h2 { font-size: 17px; margin: 28px 0 10px; padding-bottom: 4px;
  border-bottom: 1px solid var(--rule); }
h3 { font-size: 14px; margin: 16px 0 6px; }
p { margin: 6px 0 10px; }
.summary { font-size: 15px; }
.banner { padding: 10px 14px; border-radius: 4px; margin: 10px 0; font-weight: 600; }
.banner.warn { background: var(--warn-bg); color: var(--warn); border-left: 5px solid var(--warn); }
.banner.info { background: var(--info-bg); color: var(--prop); border-left: 5px solid var(--prop); }
table.data { border-collapse: collapse; width: 100%; margin: 6px 0 12px; font-size: 13px; }
table.data caption { text-align: left; color: var(--muted); padding-bottom: 4px; }
table.data th { text-align: left; font-weight: 600; border-bottom: 2px solid var(--rule);
  padding: 5px 8px; background: #f5f7f9; }
table.data td { padding: 4px 8px; border-bottom: 1px solid var(--rule); vertical-align: top; }
table.data .num { text-align: right; font-variant-numeric: tabular-nums; }
table.data td.num { white-space: nowrap; }
.table-wrap { max-width: 100%; overflow-x: auto; }
@media (min-width: 700px) { table.data td:first-child { min-width: 9em; } }
table.data tfoot td { font-weight: 600; border-top: 2px solid var(--rule); }
table.kv { border-collapse: collapse; font-size: 13px; margin: 6px 0 12px; }
table.kv th { text-align: left; color: var(--muted); font-weight: 500; padding: 3px 16px 3px 0; }
table.kv td { padding: 3px 0; }
.charts { display: flex; flex-wrap: wrap; gap: 12px 24px; }
figure { margin: 8px 0 14px; }
figcaption { color: var(--muted); font-size: 12px; margin-top: 2px; }
svg.chart { max-width: 100%; height: auto; font-family: inherit; fill: #1d2733; }
svg.chart text { font-size: 11px; }
svg.chart .axis { stroke: #8a96a3; stroke-width: 1; }
svg.chart .grid { stroke: #e6eaee; stroke-width: 1; }
.legend { display: inline-flex; gap: 14px; font-size: 12px; color: var(--muted); }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 4px;
  vertical-align: -1px; }
.pos { color: var(--pos); } .neg { color: var(--neg); }
.narrative { color: var(--ink); margin: 2px 0 10px; }
.small { font-size: 12px; color: var(--muted); }
.disclosure { border: 1px solid var(--rule); background: #fafbfc; padding: 12px 16px;
  font-size: 12px; margin-top: 28px; }
.disclosure h2 { margin-top: 4px; font-size: 14px; }
.disclosure .important { font-weight: 700; }
ul.plain { margin: 4px 0 10px; padding-left: 18px; }
.running-head { display: none; }
@page { size: letter; margin: 20mm 14mm 16mm;
  @top-left { content: element(pagehead); vertical-align: bottom; padding-bottom: 3mm; }
  @bottom-right { content: "Page " counter(page) " of " counter(pages);
    font-size: 9px; color: #5b6875; }
  @bottom-left { content: "Hypothetical results: not a guarantee of future results.";
    font-size: 9px; color: #5b6875; } }
@media print {
  html { font-size: 12px; }
  main { max-width: none; padding: 0; }
  .running-head { display: block; position: running(pagehead); font-size: 9px;
    color: var(--muted); border-bottom: 1px solid var(--rule); padding-bottom: 2px; }
  thead { display: table-header-group; } tfoot { display: table-footer-group; }
  figure, tr, .disclosure, .banner, .signature { break-inside: avoid; }
  h2, h3 { break-after: avoid; }
  .banner { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  svg.chart rect, .swatch { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
""".strip()
