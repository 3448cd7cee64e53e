"""The HTML report's inline CSS and its one script. System fonts only: nothing is fetched.

Verdict colours follow the Okabe–Ito palette (blue / vermillion / grey) and always come with the
word, so they read without colour too.
"""

CSS = """
:root { --ink: #1b1b1b; --muted: #5a5a5a; --rule: #d9d9d9; --band: #f5f7fa; }
body { margin: 0; color: var(--ink); background: #fff;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 64px; }
h1 { font-size: 1.8em; margin: 0 0 8px; }
h2 { font-size: 1.4em; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--rule); }
h3 { font-size: 1.15em; margin: 24px 0 8px; }
h4 { font-size: 1em; margin: 18px 0 6px; }
nav ul { display: flex; flex-wrap: wrap; gap: 6px 18px; padding: 0; margin: 8px 0 18px; list-style: none; }
nav a { color: #0b57a4; text-decoration: none; }
p, li { max-width: 75em; }
code { background: var(--band); padding: 0 3px; border-radius: 3px; font-size: 0.92em; }
.scroll { overflow-x: auto; margin: 8px 0 14px; }
table { border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
caption { text-align: left; color: var(--muted); padding: 4px 0; font-style: italic; }
th, td { border-bottom: 1px solid var(--rule); padding: 4px 10px; text-align: left; white-space: nowrap; }
th { background: var(--band); position: sticky; top: 0; }
tbody tr:nth-child(even) { background: #fbfbfc; }
figure { margin: 14px 0 22px; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--rule); }
figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; }
details { margin: 8px 0 14px; }
summary { cursor: pointer; color: #0b57a4; }
.note, .empty { color: var(--muted); font-size: 13px; }
.verdict { font-size: 15px; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 10px; color: #fff; font-weight: 600; }
.badge.supported { background: #0072B2; }
.badge.contradicted { background: #D55E00; }
.badge.cannot-tell { background: #6b6b6b; }
"""

# Records whether every figure decoded, for the headless-browser check; harmless for readers.
SCRIPT = """
window.addEventListener('load', function () {
  var images = Array.prototype.slice.call(document.images);
  var ok = images.every(function (img) { return img.complete && img.naturalWidth > 0; });
  document.body.dataset.imagesOk = ok ? 'true' : 'false';
  document.body.dataset.imageCount = String(images.length);
});
"""
