// The page of vsvsr serve: talks only to this server's /api (no other host, no build step).
"use strict";

const $ = (id) => document.getElementById(id);
const POLL_MS = 500;
let job = null;        // the last status of the job shown
let picture = null;    // {w, h}: the size of one half of the loaded preview

function showError(text) {
  $("message").textContent = text;
  $("message").hidden = !text;
}

async function api(path, options) {
  const response = await fetch(path, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || `the server answered ${response.status}`);
  return body;
}

function fill(select, values, chosen, label) {
  select.replaceChildren(...values.map((v) => new Option(label ? label(v) : v, v, false, v === chosen)));
}

async function loadModels() {
  const offered = await api("/api/models");
  fill($("model"), offered.models.map((m) => m.name), offered.default,
       (name) => { const m = offered.models.find((x) => x.name === name); return `${name} (${m.arch}, window ${m.window})`; });
  fill($("scale"), offered.scales.map(String), "2", (s) => `x${s}`);
  fill($("mode"), offered.modes, "context");
}

// ---- upload: the file input, or a file dropped on its label ----
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  if (e.dataTransfer.files.length) {
    $("file").files = e.dataTransfer.files;
    $("file").dispatchEvent(new Event("change"));
  }
});
$("file").addEventListener("change", () => {
  const file = $("file").files[0];
  $("drop-text").textContent = file ? `${file.name} (${(file.size / 1048576).toFixed(1)} MB)` : "Drop a video or an image here";
});

$("upload").addEventListener("submit", async (e) => {
  e.preventDefault();
  showError("");
  if (!$("file").files.length) { showError("a file must be chosen first; drop one on the box or click it"); return; }
  const form = new FormData();
  form.append("file", $("file").files[0]);
  for (const name of ["model", "scale", "mode"]) form.append(name, $(name).value);
  if ($("original").files.length) form.append("original", $("original").files[0]);
  $("start").disabled = true;
  try {
    const { id } = await api("/api/jobs", { method: "POST", body: form });
    location.hash = `job=${id}`;  // reopening this address finds the job again
    follow(id);
  } catch (err) {
    showError(err.message);
    $("start").disabled = false;
  }
});

// ---- progress ----
async function follow(id) {
  $("job").hidden = false;
  $("result").hidden = true;
  try {
    job = await api(`/api/jobs/${id}`);
  } catch (err) {
    showError(err.message);
    $("start").disabled = false;
    return;
  }
  $("progress").value = job.progress;
  const frames = job.frames_total ? `${job.frames_done} / ${job.frames_total} frames` : "";
  const speed = job.fps ? `, ${job.fps.toFixed(2)} fps` : "";
  $("progress-text").textContent = `${job.state}${frames ? ": " + frames : ""}${speed}`;
  if (job.state === "failed") {
    showError(job.error);
    $("start").disabled = false;
  } else if (job.state === "done") {
    $("start").disabled = false;
    showResult();
  } else {
    setTimeout(() => follow(id), POLL_MS);
  }
}

// ---- result: comparison on a chosen frame, PSNR, download ----
function showResult() {
  $("result").hidden = false;
  $("frame").max = job.frames_total - 1;
  $("frame").value = Math.min(Number($("frame").value) || 0, job.frames_total - 1);
  $("model-tag").textContent = `${job.model} x${job.scale}`;
  $("download").href = `/api/jobs/${job.id}/result`;
  $("download").download = job.download;
  showPsnr();
  loadPreview();
}

function loadPreview() {
  const frame = Number($("frame").value);
  const url = `/api/jobs/${job.id}/preview?frame=${frame}`;
  const image = new Image();
  image.onload = () => {
    picture = { w: image.naturalWidth / 2, h: image.naturalHeight, url };
    $("compare").dataset.frame = frame;
    layout();
    showPsnr();
  };
  image.onerror = () => showError(`the preview of frame ${frame} did not load; try another frame`);
  image.src = url;
}

function layout() {
  if (!picture) return;
  const zoom = Number($("zoom").value);
  const w = picture.w * zoom, h = picture.h * zoom;
  Object.assign($("compare").style, { width: `${w}px`, height: `${h}px` });
  for (const [id, x] of [["before", 0], ["after", -w]]) {
    Object.assign($(id).style, { backgroundImage: `url("${picture.url}")`, backgroundSize: `${2 * w}px ${h}px`,
                                 backgroundPosition: `${x}px 0` });
  }
  slide();
}

function slide() {
  const split = Number($("slider").value);  // percent of the width showing bicubic
  $("after").style.clipPath = `inset(0 0 0 ${split}%)`;
  $("divider").style.left = `${split}%`;
}

function showPsnr() {
  const rows = job && job.psnr;
  $("psnr").hidden = !rows;
  if (!rows) return;
  const mean = (key) => rows.reduce((s, r) => s + r[key], 0) / rows.length;
  const frame = Number($("frame").value);
  const here = rows[frame];
  $("psnr-text").textContent = `PSNR-Y against the original: frame ${frame}: bicubic ${here.bicubic.toFixed(2)} dB, ` +
    `${job.model} ${here.output.toFixed(2)} dB; mean over ${rows.length} frames: bicubic ${mean("bicubic").toFixed(2)} dB, ` +
    `${job.model} ${mean("output").toFixed(2)} dB (${(mean("output") - mean("bicubic")).toFixed(2)} dB gain)`;
  const values = rows.flatMap((r) => [r.bicubic, r.output]);
  const lo = Math.min(...values) - 0.5, hi = Math.max(...values) + 0.5;
  const x = (i) => (rows.length > 1 ? (i / (rows.length - 1)) * 600 : 300);
  const y = (v) => 160 - ((v - lo) / (hi - lo)) * 160;
  const line = (key) => `<polyline class="${key}" points="${rows.map((r, i) => `${x(i)},${y(r[key])}`).join(" ")}"/>`;
  const legend = `<text x="6" y="14" class="output">${job.model}</text><text x="6" y="30" class="bicubic">bicubic</text>`;
  $("psnr-plot").innerHTML = `${line("bicubic")}${line("output")}${legend}` +
    `<line class="current" x1="${x(frame)}" x2="${x(frame)}" y1="0" y2="160"/>`;
}

$("frame").addEventListener("change", loadPreview);
$("zoom").addEventListener("change", layout);
$("slider").addEventListener("input", slide);

loadModels().catch((err) => showError(err.message));
const resumed = /job=([0-9a-f]{32})/.exec(location.hash);
if (resumed) follow(resumed[1]);
