// The latent explorer: every panel talks to the JSON API of `latent serve` (docs/serve.md).
'use strict';

const $ = (id) => document.getElementById(id);

// ---- talking to the server -------------------------------------------------------------

/** GET (no body) or POST (a body) an API path; throws the server's error message. */
async function api(path, body) {
  const init = body === undefined ? {} : {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  };
  const response = await fetch(path, init);
  const answer = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) throw new Error(answer.error || `${response.status}`);
  return answer;
}

/** The API path of the current run's endpoint. */
const runPath = (what) => `/api/runs/${encodeURIComponent(state.run.name)}${what ? '/' + what : ''}`;

function status(text, isError) {
  const s = $('status');
  s.textContent = text;
  s.classList.toggle('error', !!isError);
}

/** Calls `f` with the latest arguments, at most one call in flight: for sliders and drags. */
function latest(f) {
  let running = false;
  let pending = null;
  return function call(...args) {
    if (running) { pending = args; return; }
    running = true;
    Promise.resolve(f(...args)).catch((e) => status(e.message, true)).finally(() => {
      running = false;
      if (pending) { const a = pending; pending = null; call(...a); }
    });
  };
}

// ---- what is being explored --------------------------------------------------------------

const state = {
  runs: [],
  run: null,      // the summary of the run explored
  map: null,      // its latent map
  label: null,    // the class a conditional model is asked for
  code: null,     // the code shown in the Code panel
  drawnCode: null,
  drawing: null,  // the drawing, as the model's input
  seed: 0,
  ends: null,     // the interpolation's end codes
  walking: false,
};

const dims = () => state.run.data.dims;            // [channels, height, width]
const isImage = () => state.run.data.shape.kind === 'image';
const caps = () => state.run.capabilities;
const conditional = () => caps().classes !== null;
const className = (k) => (state.run.data.class_names || [])[k] ?? String(k);
const labelBody = () => (conditional() ? { label: state.label } : {});

// ---- pictures ------------------------------------------------------------------------------

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd',
  '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
const colourOf = (k) => PALETTE[k] ?? `hsl(${(k * 137.5) % 360} 65% 45%)`;

/** Draws one example on a canvas: an image (grey or RGB, channel-major, in [0, 1]) at its own
 *  size, scaled up by CSS; or a table row as bars of standard scores. */
function render(canvas, values) {
  if (isImage()) {
    const [c, h, w] = dims();
    canvas.width = w; canvas.height = h;
    canvas.classList.remove('table');
    const ctx = canvas.getContext('2d');
    const img = ctx.createImageData(w, h);
    const plane = h * w;
    for (let i = 0; i < plane; i++) {
      const r = values[i], g = c === 3 ? values[plane + i] : r, b = c === 3 ? values[2 * plane + i] : r;
      img.data[4 * i] = r * 255; img.data[4 * i + 1] = g * 255; img.data[4 * i + 2] = b * 255;
      img.data[4 * i + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
  } else {
    renderBars(canvas, values);
  }
  canvas.dataset.filled = '1';
}

/** A table row as one bar per feature: its standard score, clipped to ±3 (the tooltip has the
 *  value in the table's units). */
function renderBars(canvas, values) {
  canvas.classList.add('table');
  const W = 240, H = 120;
  canvas.width = W; canvas.height = H;
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, W, H);
  const stats = state.run.data.standardization;
  const n = values.length, bw = W / n, mid = H / 2;
  ctx.strokeStyle = '#bbb'; ctx.beginPath(); ctx.moveTo(0, mid); ctx.lineTo(W, mid); ctx.stroke();
  for (let j = 0; j < n; j++) {
    const z = stats ? (values[j] - stats.mean[j]) / stats.std[j] : values[j];
    const hgt = Math.max(-3, Math.min(3, z)) / 3 * (mid - 2);
    ctx.fillStyle = z >= 0 ? '#2f6fdf' : '#d6612d';
    ctx.fillRect(j * bw + 0.5, mid - Math.max(hgt, 0), Math.max(bw - 1, 1), Math.abs(hgt));
  }
  const names = state.run.data.feature_names || values.map((_, j) => `feature ${j + 1}`);
  canvas.title = names.map((name, j) => `${name}: ${Number(values[j]).toPrecision(4)}`).join('\n');
}

/** A small captioned picture for strips and grids. */
function thumb(values, caption, onClick) {
  const fig = document.createElement('figure');
  const canvas = document.createElement('canvas');
  canvas.className = 'small';
  render(canvas, values);
  fig.appendChild(canvas);
  if (caption !== undefined) {
    const cap = document.createElement('figcaption');
    cap.textContent = caption;
    fig.appendChild(cap);
  }
  if (onClick) canvas.addEventListener('click', onClick);
  return fig;
}

// ---- the latent map ----------------------------------------------------------------------

const mapView = { x0: -3, x1: 3, y0: -3, y1: 3 };

/** The map's window: the middle 99% of the test points, with a margin; the prior's ±3. */
function fitMap() {
  const pts = state.map.points;
  if (pts.length < 2) { Object.assign(mapView, { x0: -3, x1: 3, y0: -3, y1: 3 }); return; }
  const q = (a, p) => a[Math.min(a.length - 1, Math.max(0, Math.round(p * (a.length - 1))))];
  const xs = pts.map((p) => p[0]).sort((a, b) => a - b);
  const ys = pts.map((p) => p[1]).sort((a, b) => a - b);
  let [x0, x1, y0, y1] = [q(xs, 0.005), q(xs, 0.995), q(ys, 0.005), q(ys, 0.995)];
  if (!(x1 > x0)) { x0 -= 1; x1 += 1; }
  if (!(y1 > y0)) { y0 -= 1; y1 += 1; }
  const mx = (x1 - x0) * 0.08, my = (y1 - y0) * 0.08;
  Object.assign(mapView, { x0: x0 - mx, x1: x1 + mx, y0: y0 - my, y1: y1 + my });
}

const toCanvas = (p, canvas) => [
  (p[0] - mapView.x0) / (mapView.x1 - mapView.x0) * canvas.width,
  (1 - (p[1] - mapView.y0) / (mapView.y1 - mapView.y0)) * canvas.height,
];

function fromEvent(event, canvas) {
  const r = canvas.getBoundingClientRect();
  const u = (event.clientX - r.left) / r.width, v = (event.clientY - r.top) / r.height;
  return [mapView.x0 + u * (mapView.x1 - mapView.x0), mapView.y1 - v * (mapView.y1 - mapView.y0)];
}

/** Where a code lands on the map. */
function project(code) {
  const { mean, axes } = state.map.projection;
  const along = (a) => code.reduce((s, c, j) => s + (c - mean[j]) * a[j], 0);
  return [along(axes[0]), along(axes[1])];
}

/** The code at a point of the map. */
function unproject(p) {
  const { mean, axes } = state.map.projection;
  return mean.map((m, j) => m + p[0] * axes[0][j] + p[1] * axes[1][j]);
}

let mapBackground = null;

function drawMapBackground() {
  const canvas = $('map');
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  // Axes through the origin of the plane.
  ctx.strokeStyle = '#e4e4e0';
  ctx.beginPath();
  const [ox, oy] = toCanvas([0, 0], canvas);
  ctx.moveTo(ox, 0); ctx.lineTo(ox, canvas.height); ctx.moveTo(0, oy); ctx.lineTo(canvas.width, oy);
  ctx.stroke();
  const { points, labels } = state.map;
  ctx.globalAlpha = points.length > 3000 ? 0.45 : 0.7;
  for (let i = 0; i < points.length; i++) {
    const [x, y] = toCanvas(points[i], canvas);
    ctx.fillStyle = colourOf(labels[i]);
    ctx.fillRect(x - 1.5, y - 1.5, 3, 3);
  }
  ctx.globalAlpha = 1;
  const names = state.map.projection.axis_names;
  ctx.fillStyle = '#6b6b70';
  ctx.font = '12px system-ui, sans-serif';
  ctx.fillText(names[0], canvas.width - 28, oy - 4 > 12 ? oy - 4 : 12);
  if (names[1]) ctx.fillText(names[1], ox + 4 < canvas.width - 30 ? ox + 4 : canvas.width - 30, 12);
  mapBackground = ctx.getImageData(0, 0, canvas.width, canvas.height);
}

/** The map with its markers: ● the Code panel's code, ★ the drawing's. */
function drawMap() {
  const canvas = $('map');
  const ctx = canvas.getContext('2d');
  if (!mapBackground) drawMapBackground();
  ctx.putImageData(mapBackground, 0, 0);
  const marker = (code, glyph) => {
    if (!code) return;
    const [x, y] = toCanvas(project(code), canvas);
    ctx.font = glyph === '★' ? '22px system-ui, sans-serif' : '18px system-ui, sans-serif';
    ctx.textAlign = 'center'; ctx.textBaseline = 'middle';
    ctx.lineWidth = 3; ctx.strokeStyle = '#fff'; ctx.strokeText(glyph, x, y);
    ctx.fillStyle = glyph === '★' ? '#d62728' : '#000'; ctx.fillText(glyph, x, y);
    ctx.textAlign = 'start'; ctx.textBaseline = 'alphabetic';
  };
  marker(state.drawnCode, '★');
  marker(state.code, '●');
}

function drawLegend() {
  const legend = $('legend');
  legend.replaceChildren();
  if (!state.map.points.length || !state.run.data.class_names) return;
  const seen = [...new Set(state.map.labels)].sort((a, b) => a - b);
  for (const k of seen) {
    const s = document.createElement('span');
    s.textContent = className(k);
    s.style.setProperty('--swatch', colourOf(k));
    legend.appendChild(s);
  }
}

// ---- the current code: map clicks, sliders, samples all set it ----------------------------

const SLIDERS = 16;

function buildSliders() {
  const box = $('sliders');
  box.replaceChildren();
  const n = Math.min(SLIDERS, state.run.latent_dim);
  for (let j = 0; j < n; j++) {
    const [lo, hi] = state.map.ranges[j];
    const label = document.createElement('label');
    label.textContent = `z${j + 1}`;
    const input = document.createElement('input');
    Object.assign(input, { type: 'range', min: lo, max: hi, step: (hi - lo) / 200, value: 0 });
    input.id = `z${j}`;
    const out = document.createElement('output');
    input.addEventListener('input', () => {
      state.code[j] = Number(input.value);
      out.textContent = state.code[j].toFixed(2);
      decodeCurrent();
    });
    label.append(input, out);
    box.appendChild(label);
  }
  $('sliders-hint').textContent = state.run.latent_dim > SLIDERS
    ? `The first ${SLIDERS} of ${state.run.latent_dim} code dimensions; the decoding follows.`
    : 'One slider per dimension of the code; the decoding follows.';
}

function showSliders() {
  for (let j = 0; j < Math.min(SLIDERS, state.code.length); j++) {
    const input = $(`z${j}`);
    input.value = state.code[j];
    input.nextSibling.textContent = state.code[j].toFixed(2);
  }
}

/** Decodes the current code into the Decoded picture and moves its marker. */
const decodeCurrent = latest(async () => {
  const code = state.code.slice();
  const answer = await api(runPath('decode'), { codes: [code], ...labelBody() });
  render($('decoded'), answer.outputs[0]);
  $('decoded').dataset.code = JSON.stringify(code.map((v) => Number(v.toFixed(4))));
  drawMap();
  status('ready');
});

function setCode(code) {
  state.code = code.slice();
  showSliders();
  decodeCurrent();
}

function setupMapInput() {
  const canvas = $('map');
  let dragging = false;
  const at = (e) => setCode(unproject(fromEvent(e, canvas)));
  canvas.addEventListener('pointerdown', (e) => {
    dragging = true;
    canvas.setPointerCapture(e.pointerId);
    stopWalk();
    at(e);
  });
  canvas.addEventListener('pointermove', (e) => { if (dragging) at(e); });
  const stop = () => { dragging = false; };
  canvas.addEventListener('pointerup', stop);
  canvas.addEventListener('pointercancel', stop);
}

// ---- drawing -------------------------------------------------------------------------------

function setupDrawing() {
  const canvas = $('draw');
  const ctx = canvas.getContext('2d');
  let last = null;
  const clear = () => {
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
  };
  clear();
  const pos = (e) => {
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height];
  };
  const stroke = (a, b) => {
    ctx.strokeStyle = isImage() && dims()[0] === 3 ? $('colour').value : '#fff';
    ctx.lineWidth = Number($('brush').value);
    ctx.lineCap = 'round'; ctx.lineJoin = 'round';
    ctx.beginPath(); ctx.moveTo(a[0], a[1]); ctx.lineTo(b[0], b[1]); ctx.stroke();
  };
  canvas.addEventListener('pointerdown', (e) => {
    canvas.setPointerCapture(e.pointerId);
    last = pos(e);
    stroke(last, last);
    encodeDrawing();
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!last) return;
    const p = pos(e);
    stroke(last, p);
    last = p;
    encodeDrawing();
  });
  const end = () => { if (last) { last = null; encodeDrawing(); } };
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);
  $('clear').addEventListener('click', () => {
    clear();
    state.drawing = null; state.drawnCode = null;
    $('recon').getContext('2d').clearRect(0, 0, $('recon').width, $('recon').height);
    delete $('recon').dataset.filled;
    drawMap();
  });
}

/** Mean of a box of the drawing, per channel: the area-averaged resampling a scanner makes. */
function resample(pixels, W, box, tw, th, channels) {
  const out = new Float32Array(channels * tw * th);
  const sx = box.w / tw, sy = box.h / th;
  for (let v = 0; v < th; v++) {
    for (let u = 0; u < tw; u++) {
      const xa = box.x + u * sx, xb = xa + sx, ya = box.y + v * sy, yb = ya + sy;
      const acc = [0, 0, 0];
      let area = 0;
      for (let y = Math.floor(ya); y < Math.ceil(yb); y++) {
        const wy = Math.min(yb, y + 1) - Math.max(ya, y);
        for (let x = Math.floor(xa); x < Math.ceil(xb); x++) {
          const wx = Math.min(xb, x + 1) - Math.max(xa, x);
          const i = 4 * (y * W + x), w = wx * wy;
          acc[0] += pixels[i] * w; acc[1] += pixels[i + 1] * w; acc[2] += pixels[i + 2] * w;
          area += w;
        }
      }
      for (let c = 0; c < channels; c++) {
        const value = channels === 1 ? (acc[0] + acc[1] + acc[2]) / 3 : acc[c];
        out[c * tw * th + v * tw + u] = Math.min(1, value / area / 255);
      }
    }
  }
  return out;
}

/** The drawing as the model's input. "Centre like MNIST" does what MNIST did to its digits: the
 *  ink's bounding box scaled to 20 of 28 pixels, then moved so its centre of mass is the
 *  image's centre. */
function drawingInput() {
  const canvas = $('draw');
  const [c, h, w] = dims();
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  const W = canvas.width, H = canvas.height;
  if (!$('centre').checked) return Array.from(resample(pixels, W, { x: 0, y: 0, w: W, h: H }, w, h, c));
  let [x0, y0, x1, y1] = [W, H, -1, -1];
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = 4 * (y * W + x);
      if (pixels[i] + pixels[i + 1] + pixels[i + 2] > 30) {
        x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
      }
    }
  }
  const out = new Array(c * h * w).fill(0);
  if (x1 < 0) return out;
  const side = Math.max(x1 - x0 + 1, y1 - y0 + 1);
  const inner = Math.max(1, Math.round(Math.min(h, w) * 20 / 28));
  const bw = Math.max(1, Math.round((x1 - x0 + 1) / side * inner));
  const bh = Math.max(1, Math.round((y1 - y0 + 1) / side * inner));
  const small = resample(pixels, W, { x: x0, y: y0, w: x1 - x0 + 1, h: y1 - y0 + 1 }, bw, bh, c);
  let mass = 0, mx = 0, my = 0;
  for (let v = 0; v < bh; v++) {
    for (let u = 0; u < bw; u++) {
      let s = 0;
      for (let k = 0; k < c; k++) s += small[k * bw * bh + v * bw + u];
      mass += s; mx += s * u; my += s * v;
    }
  }
  const cx = mass > 0 ? mx / mass : (bw - 1) / 2, cy = mass > 0 ? my / mass : (bh - 1) / 2;
  const dx = Math.round((w - 1) / 2 - cx), dy = Math.round((h - 1) / 2 - cy);
  for (let k = 0; k < c; k++) {
    for (let v = 0; v < bh; v++) {
      for (let u = 0; u < bw; u++) {
        const x = u + dx, y = v + dy;
        if (x >= 0 && x < w && y >= 0 && y < h) out[k * h * w + y * w + x] = small[k * bw * bh + v * bw + u];
      }
    }
  }
  return out;
}

/** Encodes the drawing and shows its reconstruction: one request does both. */
const encodeDrawing = latest(async () => {
  const input = drawingInput();
  const answer = await api(runPath('reconstruct'), { inputs: [input], ...labelBody() });
  state.drawing = input;
  state.drawnCode = answer.codes[0];
  render($('recon'), answer.outputs[0]);
  $('recon-caption').textContent = `reconstruction (MSE ${answer.mse[0].toFixed(4)})`;
  drawMap();
  if (caps().anomaly) {
    const a = await api(runPath('anomaly'), { inputs: [input], ...labelBody() });
    $('draw-anomaly').textContent = describeAnomaly(a, 0);
  }
  status('ready');
});

/** One example's anomaly score in words, against the threshold and the training examples'. */
function describeAnomaly(a, i) {
  const f = (v) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3));
  const verdict = a.flagged[i] ? 'anomalous: above the threshold' : 'normal: below the threshold';
  return `anomaly score ${f(a.scores[i])} (${a.score}), ${verdict} ${f(a.threshold)}`
    + ` (${a.rule} of ${a.fit_examples} training scores; their median ${f(a.normal_scores.median)})`;
}

// ---- interpolation, samples, walks, denoising, neighbours ----------------------------------

const interpEnd = (which) => {
  const v = $(which).dataset.drawing === '1' && state.drawing
    ? { input: state.drawing }
    : { test_index: Number($(which).value) };
  return v;
};

const randomIndex = () => Math.floor(Math.random() * state.run.data.test_examples);

/** A code drawn from the prior N(0, I), for the GAN's interpolation ends and latent walks. */
function priorCode() {
  const z = [];
  for (let j = 0; j < state.run.latent_dim; j++) {
    const u = 1 - Math.random(), v = Math.random();
    z.push(Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
  }
  return z;
}

async function interpolate() {
  let body;
  if (caps().encode) {
    body = { from: interpEnd('from'), to: interpEnd('to'), steps: 10, ...labelBody() };
  } else {
    state.ends = state.ends || [priorCode(), priorCode()];
    body = { from: { code: state.ends[0] }, to: { code: state.ends[1] }, steps: 10, ...labelBody() };
  }
  const answer = await api(runPath('interpolate'), body);
  state.ends = [answer.codes[0], answer.codes[answer.codes.length - 1]];
  const strip = $('strip');
  strip.replaceChildren();
  answer.outputs.forEach((out, i) => {
    strip.appendChild(thumb(out, (i / (answer.outputs.length - 1)).toFixed(1), () => setCode(answer.codes[i])));
  });
  decodeAtT();
  status('ready');
}

const decodeAtT = latest(async () => {
  if (!state.ends) return;
  const t = Number($('t').value);
  const code = state.ends[0].map((a, j) => (1 - t) * a + t * state.ends[1][j]);
  const answer = await api(runPath('decode'), { codes: [code], ...labelBody() });
  render($('interp-view'), answer.outputs[0]);
});

async function sample() {
  const n = 16;
  const answer = await api(runPath('sample'), { n, seed: state.seed, ...labelBody() });
  $('seed').textContent = `seed ${state.seed}`;
  const grid = $('samples');
  grid.replaceChildren();
  answer.outputs.forEach((out, i) => {
    const caption = conditional() ? className(answer.labels[i]) : undefined;
    grid.appendChild(thumb(out, caption, () => { stopWalk(); setCode(answer.codes[i]); }));
  });
  status('ready');
}

/** The latent walk: the code moves in straight lines towards codes drawn from the prior, one
 *  after the other, decoded as it goes. */
let walkTarget = null;
async function walkStep() {
  if (!state.walking) return;
  if (!walkTarget) walkTarget = priorCode();
  const step = 0.015 * Math.sqrt(state.run.latent_dim);
  const d = Math.hypot(...state.code.map((c, j) => walkTarget[j] - c));
  if (d < step * 2) walkTarget = priorCode();
  state.code = state.code.map((c, j) => c + (walkTarget[j] - c) * Math.min(1, step / Math.max(d, 1e-6)));
  showSliders();
  try {
    const answer = await api(runPath('decode'), { codes: [state.code], ...labelBody() });
    render($('decoded'), answer.outputs[0]);
    drawMap();
  } catch (e) {
    status(e.message, true);
    stopWalk();
    return;
  }
  requestAnimationFrame(walkStep);
}

function stopWalk() {
  state.walking = false;
  $('walk').textContent = 'latent walk ▶';
}

async function nearest() {
  const answer = await api(runPath('nearest'), { code: state.code, k: 8, ...labelBody() });
  const strip = $('nearest');
  strip.replaceChildren();
  strip.appendChild(thumb(answer.query, 'decoded'));
  for (const n of answer.neighbours) {
    strip.appendChild(thumb(n.input, `#${n.index} ${className(n.label)} · ${n.mse.toFixed(3)}`));
  }
  status('ready');
}

const denoise = latest(async () => {
  const amount = Number($('noise').value);
  const kind = $('noise-kind').value;
  const noise = amount === 0 ? 'none' : `${kind}:${amount}`;
  $('noise-value').textContent = noise;
  // A conditional model reconstructs a test example with its own label.
  const body = { test_indices: [Number($('noisy-index').value)], noise, seed: 0 };
  const answer = await api(runPath('reconstruct'), body);
  render($('clean'), answer.inputs[0]);
  render($('noisy'), answer.corrupted[0]);
  render($('denoised'), answer.outputs[0]);
  $('denoised-caption').textContent = `reconstruction (MSE ${answer.mse[0].toFixed(4)})`;
  if (caps().anomaly && !conditional()) {
    const a = await api(runPath('anomaly'), { inputs: [answer.inputs[0], answer.corrupted[0]] });
    $('denoise-anomaly').textContent = `clean: ${describeAnomaly(a, 0)}. Corrupted: ${describeAnomaly(a, 1)}.`;
  }
  status('ready');
});

// ---- choosing a run and a class ------------------------------------------------------------

function buildClasses() {
  const nav = $('classes');
  nav.querySelectorAll('button').forEach((b) => b.remove());
  nav.hidden = !conditional();
  if (!conditional()) { state.label = null; return; }
  state.label = state.label !== null && state.label < caps().classes ? state.label : 0;
  for (let k = 0; k < caps().classes; k++) {
    const b = document.createElement('button');
    b.textContent = className(k);
    b.classList.toggle('selected', k === state.label);
    b.addEventListener('click', () => {
      state.label = k;
      nav.querySelectorAll('button').forEach((x, i) => x.classList.toggle('selected', i === k));
      refresh();
    });
    nav.appendChild(b);
  }
}

/** Redoes what depends on the class. */
function refresh() {
  decodeCurrent();
  if (caps().sample) sample().catch((e) => status(e.message, true));
  if (state.drawing && caps().encode) encodeDrawing();
  if (state.ends) interpolate().catch((e) => status(e.message, true));
}

async function selectRun(name) {
  stopWalk();
  status(`loading ${name}…`);
  state.run = state.runs.find((r) => r.name === name);
  state.map = await api(runPath('map'));
  state.ends = null; state.drawing = null; state.drawnCode = null; state.seed = 0;
  mapBackground = null;
  const r = state.run, d = r.data;
  const shape = d.shape.kind === 'image' ? `${d.dims[0]}×${d.dims[1]}×${d.dims[2]} images` : `rows of ${d.dims[2]} features`;
  const table = d.shape.kind === 'image' ? '' : ' · rows drawn as bars of standard scores (hover for the values); nothing to draw';
  $('about').textContent = `${r.preset} (${r.kind}) · ${r.latent_dim}-dimensional codes · ${d.name}, ${shape}${table}`;
  const can = caps();
  const drawable = isImage() && can.encode;
  $('draw-panel').hidden = !drawable;
  $('centre').checked = drawable && d.dims[0] === 1 && d.dims[1] === 28 && d.dims[2] === 28;
  $('colour-label').hidden = !(drawable && d.dims[0] === 3);
  $('interp-panel').hidden = !can.decode || (!can.encode && !can.sample);
  document.querySelectorAll('.needs-drawing').forEach((b) => { b.hidden = !drawable; });
  document.querySelectorAll('.needs-encoder').forEach((b) => { b.hidden = !can.encode; });
  $('interp-hint').textContent = can.encode
    ? 'The straight line between the codes of two test examples (or your drawing), decoded.'
    : 'The straight line between two codes drawn from the prior, decoded.';
  ['from', 'to'].forEach((id) => { $(id).disabled = !can.encode; $(id).max = d.test_examples - 1; delete $(id).dataset.drawing; });
  $('sample-panel').hidden = !can.sample;
  $('walk').hidden = !can.sample;
  $('denoise-panel').hidden = !can.encode;
  $('draw-anomaly').textContent = '';
  $('denoise-anomaly').textContent = '';
  $('noisy-index').max = d.test_examples - 1;
  const proj = state.map.projection;
  $('map-caption').textContent = proj.kind === 'pca'
    ? `principal axes of the test codes (${(100 * proj.explained[0]).toFixed(0)}% and ${(100 * proj.explained[1]).toFixed(0)}% of their variance)`
    : proj.kind === 'prior' ? `the plane of z1 and z2 (no encoder: no test codes)` : 'the codes themselves';
  $('map-hint').textContent = state.map.points.length
    ? 'Test codes coloured by class. Click or drag anywhere to decode that point.'
    : 'This model has no encoder, so no test codes: click or drag to decode points of the plane.';
  buildClasses();
  fitMap();
  drawLegend();
  buildSliders();
  setCode(unproject([0, 0]));
  if (can.sample) await sample();
  if (!$('interp-panel').hidden) await interpolate();
  if (can.encode) denoise();
  if (drawable) $('clear').click();
  status('ready');
}

async function start() {
  setupMapInput();
  setupDrawing();
  $('zero').addEventListener('click', () => { stopWalk(); setCode(unproject([0, 0])); });
  $('walk').addEventListener('click', () => {
    state.walking = !state.walking;
    $('walk').textContent = state.walking ? 'latent walk ■' : 'latent walk ▶';
    if (state.walking) { walkTarget = null; walkStep(); }
  });
  $('nearest-button').addEventListener('click', () => nearest().catch((e) => status(e.message, true)));
  $('interp-go').addEventListener('click', () => {
    if (!caps().encode) state.ends = [priorCode(), priorCode()];
    interpolate().catch((e) => status(e.message, true));
  });
  $('interp-random').addEventListener('click', () => {
    if (caps().encode) {
      ['from', 'to'].forEach((id) => { $(id).value = randomIndex(); delete $(id).dataset.drawing; });
    } else {
      state.ends = [priorCode(), priorCode()];
    }
    interpolate().catch((e) => status(e.message, true));
  });
  for (const id of ['from', 'to']) {
    $(`${id}-drawing`).addEventListener('click', () => {
      if (!state.drawing) { status('draw something first', true); return; }
      $(id).dataset.drawing = '1';
      interpolate().catch((e) => status(e.message, true));
    });
    $(id).addEventListener('change', () => { delete $(id).dataset.drawing; interpolate().catch((e) => status(e.message, true)); });
  }
  $('t').addEventListener('input', () => decodeAtT());
  $('sample-go').addEventListener('click', () => { state.seed += 1; sample().catch((e) => status(e.message, true)); });
  $('noisy-random').addEventListener('click', () => { $('noisy-index').value = randomIndex(); denoise(); });
  for (const id of ['noisy-index', 'noise-kind']) $(id).addEventListener('change', () => denoise());
  $('noise').addEventListener('input', () => denoise());
  $('run').addEventListener('change', () => selectRun($('run').value).catch((e) => status(e.message, true)));
  try {
    state.runs = (await api('/api/runs')).runs;
    for (const r of state.runs) {
      const o = document.createElement('option');
      o.value = r.name; o.textContent = r.name;
      $('run').appendChild(o);
    }
    const wanted = new URLSearchParams(location.search).get('run');
    const first = state.runs.find((r) => r.name === wanted) ? wanted : state.runs[0].name;
    $('run').value = first;
    await selectRun(first);
  } catch (e) {
    status(e.message, true);
  }
}

start();
