// The live page: one self-contained HTML document (no external assets: a board on a lab network has no internet).
// It listens to /events (Server-Sent Events; the browser's EventSource reconnects by itself) and, when a state names a
// newer image, fetches /frame.jpg and /flow.png — one pair at a time, so a slow browser simply sees fewer images.

export function livePage(title: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>flowfpga live</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 12px; background: #f4f4f4; color: #222; }
h1 { font-size: 16px; margin: 0 0 8px; }
.panels { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
figure { margin: 0; background: #fff; padding: 6px; border: 1px solid #ccc; }
figcaption { font-size: 12px; color: #555; }
img.px { display: block; image-rendering: pixelated; }
table { border-collapse: collapse; background: #fff; }
td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: right; font-variant-numeric: tabular-nums; }
th { background: #eee; } td:first-child { text-align: left; }
#conn.down { color: #b00; } #verify.bad { color: #b00; font-weight: bold; }
</style></head>
<body>
<h1 id="title">${escapeHtml(title)}</h1>
<p><span id="conn">connecting…</span> · <span id="status">waiting for frames</span> ·
frame <b id="frames">0</b> · <b id="fps">–</b> fps · verification: <span id="verify">–</span></p>
<div class="panels">
<figure><img id="frame" class="px" alt="current frame"><figcaption>frame <span id="frame-no">–</span> (image <span id="frame-seq">–</span>)</figcaption></figure>
<figure><img id="flow" class="px" alt="flow, colour-wheel coded"><figcaption>flow (colour wheel)</figcaption></figure>
<figure><img id="legend" class="px" src="/legend.png" alt="colour wheel legend" width="151" height="151">
<figcaption>legend: edge = <span id="maxrad">–</span> px</figcaption></figure>
<table id="latency"><tr><th>stage</th><th>last ms</th><th>mean ms</th></tr>
<tr><td>capture / fit</td><td id="lat-captureMs">–</td><td id="mean-captureMs">–</td></tr>
<tr><td>engine</td><td id="lat-engineMs">–</td><td id="mean-engineMs">–</td></tr>
<tr><td>verify</td><td id="lat-verifyMs">–</td><td id="mean-verifyMs">–</td></tr>
<tr><td>flow / colour</td><td id="lat-colourMs">–</td><td id="mean-colourMs">–</td></tr>
<tr><td>total</td><td id="lat-totalMs">–</td><td id="mean-totalMs">–</td></tr>
</table>
</div>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
let shown = 0, loading = false, wanted = 0, wantedNo = 0;
function loadImages() {
  if (loading || wanted <= shown) return;
  loading = true;
  const seq = wanted, no = wantedNo;
  const a = new Image(), b = new Image();
  let left = 2, failed = false;
  const done = () => {
    if (--left) return;
    loading = false;
    if (!failed) { $("frame").src = a.src; $("flow").src = b.src; $("frame-seq").textContent = seq; $("frame-no").textContent = no; shown = seq; }
    else shown = seq; // the server moved on; the next state names a newer pair
    loadImages();
  };
  for (const [img, path] of [[a, "/frame.jpg"], [b, "/flow.png"]]) {
    img.onload = done;
    img.onerror = () => { failed = true; done(); };
    img.src = path + "?seq=" + seq;
  }
}
function show(s) {
  $("title").textContent = s.title;
  $("frames").textContent = s.stats.frames;
  $("fps").textContent = s.stats.fps.toFixed(2);
  for (const [k, v] of Object.entries(s.stats.stages)) {
    $("lat-" + k).textContent = v.last.toFixed(1);
    $("mean-" + k).textContent = v.mean.toFixed(1);
  }
  const v = s.stats.verify;
  const ve = $("verify");
  if (v) {
    ve.textContent = v.mode + ": " + v.mismatches + " mismatch(es) this frame, " + v.totalMismatches + " in " + v.framesWithMismatch + " frame(s) total" + (v.dropped ? ", " + v.dropped + " dropped" : "");
    ve.className = v.totalMismatches > 0 ? "bad" : "";
  } else ve.textContent = "off";
  $("status").textContent = s.status;
  if (s.image) {
    $("maxrad").textContent = s.image.maxRadius == null ? "–" : s.image.maxRadius.toFixed(2);
    if (s.image.seq > wanted) { wanted = s.image.seq; wantedNo = s.image.index + 1; }
    loadImages();
  }
}
const es = new EventSource("/events");
es.addEventListener("open", () => { $("conn").textContent = "live"; $("conn").className = ""; });
es.addEventListener("error", () => { $("conn").textContent = "disconnected, retrying…"; $("conn").className = "down"; });
es.addEventListener("state", (e) => show(JSON.parse(e.data)));
</script>
</body></html>
`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
