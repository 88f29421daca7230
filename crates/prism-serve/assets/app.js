// The Prism page: pick or drop images, choose a model and options, run a job, follow its
// progress (server-sent events) and look at the result. No build step, no outside scripts.
'use strict';

const $ = (sel) => document.querySelector(sel);
const el = (tag, props = {}, ...children) => {
  const e = document.createElement(tag);
  Object.assign(e, props);
  for (const c of children) e.append(c);
  return e;
};

// What each task takes: drop zones and options (names are the command's flags).
const TASKS = {
  upscale: {
    title: 'Upscale',
    drops: ['Image'],
    options: [
      { name: 'outscale', label: 'Scale (empty: the model\'s)', type: 'number', step: 0.5, min: 0.5, max: 16 },
      { name: 'tile', label: 'Tile', type: 'select', choices: ['auto', 'whole', '256', '512'] },
      { name: 'tta', label: 'Test-time augmentation (8x slower)', type: 'checkbox' },
    ],
    defaultModel: 'realesr-animevideov3-x2',
  },
  interpolate: {
    title: 'Interpolate',
    drops: ['First frame', 'Second frame'],
    options: [
      { name: 'frames', label: 'Frames between', type: 'number', value: 1, min: 1, max: 15 },
      { name: 'ensemble', label: 'Ensemble (also the swapped pair)', type: 'checkbox' },
    ],
    defaultModel: 'rife-v4.6',
  },
  style: {
    title: 'Style',
    drops: ['Content'],
    options: [
      { name: 'style', label: 'Style (multistyle26: 0-25)', type: 'number', value: 0, min: 0, max: 25, only: 'style-multistyle26' },
      { name: 'strength', label: 'Strength', type: 'number', value: 1, step: 0.05, min: 0, max: 1 },
      { name: 'preserve_colors', label: 'Keep the content\'s colours', type: 'checkbox' },
    ],
    defaultModel: 'style-multistyle26',
  },
  neural: {
    title: 'Neural style',
    drops: ['Content', 'Style image'],
    options: [
      { name: 'size', label: 'Long side (px)', type: 'number', value: 256, min: 16, max: 2048 },
      { name: 'steps', label: 'Steps', type: 'number', value: 100, min: 1, max: 2000 },
      { name: 'optimizer', label: 'Optimiser', type: 'select', choices: ['lbfgs', 'adam'] },
      { name: 'save_every', label: 'Intermediate image every N steps', type: 'number', value: 10, min: 0, max: 2000 },
    ],
    defaultModel: 'vgg19-features',
  },
};

let task = 'upscale';
let models = [];
const files = [];
const jobs = new Map();
const streams = new Map();
let selected = null;

async function api(path, init) {
  const r = await fetch(path, init);
  const body = r.headers.get('content-type')?.includes('json') ? await r.json() : await r.text();
  if (!r.ok) throw new Error(body.error || body || r.statusText);
  return body;
}

// ---- the form ----

function setTask(name) {
  task = name;
  document.querySelectorAll('#tasks button').forEach((b) => b.classList.toggle('active', b.dataset.task === name));
  files.length = 0;
  renderDrops();
  renderOptions();
  loadModels();
}

function dropCount() {
  return TASKS[task].drops.length + ($('#model').value === 'style-arbitrary' ? 1 : 0);
}

function renderDrops() {
  const drops = $('#drops');
  drops.replaceChildren();
  const labels = [...TASKS[task].drops];
  if (task === 'style' && $('#model').value === 'style-arbitrary') labels.push('Style image');
  labels.forEach((label, i) => {
    const input = el('input', { type: 'file', accept: 'image/png,image/jpeg,image/webp,image/tiff', id: `file-${i}` });
    const preview = el('img', { alt: '' });
    const name = el('span', { className: 'name', textContent: 'drop an image or click to pick' });
    const zone = el('label', { className: 'drop' }, el('strong', { textContent: label }), preview, name, input);
    const take = (file) => {
      if (!file) return;
      files[i] = file;
      preview.src = URL.createObjectURL(file);
      name.textContent = `${file.name} (${Math.round(file.size / 1024)} KiB)`;
    };
    input.addEventListener('change', () => take(input.files[0]));
    zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
    zone.addEventListener('dragleave', () => zone.classList.remove('over'));
    zone.addEventListener('drop', (e) => {
      e.preventDefault();
      zone.classList.remove('over');
      take(e.dataTransfer.files[0]);
    });
    drops.append(zone);
  });
}

function renderOptions() {
  const box = $('#options');
  box.replaceChildren();
  for (const o of TASKS[task].options) {
    if (o.only && $('#model').value !== o.only) continue;
    let input;
    if (o.type === 'select') {
      input = el('select', {}, ...o.choices.map((c) => el('option', { value: c, textContent: c })));
    } else {
      input = el('input', { type: o.type });
      for (const k of ['step', 'min', 'max', 'value']) if (o[k] !== undefined) input[k] = o[k];
    }
    input.name = o.name;
    input.id = `opt-${o.name}`;
    box.append(o.type === 'checkbox'
      ? el('label', { className: 'check' }, input, ` ${o.label}`)
      : el('label', {}, `${o.label} `, input));
  }
}

function options() {
  const out = {};
  for (const input of document.querySelectorAll('#options [name]')) {
    if (input.type === 'checkbox') out[input.name] = input.checked;
    else if (input.type === 'number') { if (input.value !== '') out[input.name] = Number(input.value); }
    else out[input.name] = input.value;
  }
  return out;
}

async function loadModels() {
  const select = $('#model');
  select.replaceChildren();
  try {
    models = (await api(`/api/models?task=${task}`)).models;
  } catch (e) {
    $('#model-note').textContent = `models: ${e.message}`;
    return;
  }
  for (const m of models) {
    const here = m.available && m.available.length > 0;
    const seeded = m.weights && m.weights.kind === 'seeded-random' ? ', seeded random weights' : '';
    select.append(el('option', { value: m.id, textContent: `${m.id}${here ? '' : ' (not here)'}${seeded}` }));
  }
  const want = TASKS[task].defaultModel;
  if (models.some((m) => m.id === want)) select.value = want;
  modelChanged();
}

function modelChanged() {
  const m = models.find((x) => x.id === $('#model').value);
  const here = m && m.available && m.available.length > 0;
  $('#download-model').hidden = !m || here;
  $('#model-note').textContent = m ? m.description || '' : '';
  if (task === 'style') { renderDrops(); renderOptions(); }
}

async function downloadModel() {
  const id = $('#model').value;
  $('#model-note').textContent = `downloading ${id}...`;
  try {
    await api(`/api/models/${encodeURIComponent(id)}/download`, { method: 'POST' });
    await loadModels();
  } catch (e) {
    $('#model-note').textContent = `download failed: ${e.message}`;
  }
}

async function run() {
  const error = $('#form-error');
  error.textContent = '';
  const n = dropCount();
  if (files.slice(0, n).filter(Boolean).length < n) {
    error.textContent = n === 1 ? 'pick an image first' : `pick ${n} images first`;
    return;
  }
  $('#run').disabled = true;
  try {
    const inputs = [];
    for (const f of files.slice(0, n)) {
      inputs.push((await api('/api/uploads', { method: 'POST', body: f })).id);
    }
    const job = await api('/api/jobs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ task, model: $('#model').value, inputs, options: options() }),
    });
    track(job);
    select(job.id);
  } catch (e) {
    error.textContent = e.message;
  } finally {
    $('#run').disabled = false;
  }
}

// ---- jobs ----

function track(job) {
  jobs.set(job.id, job);
  renderQueue();
  if (['done', 'failed', 'cancelled'].includes(job.state) || streams.has(job.id)) return;
  const source = new EventSource(`/api/jobs/${job.id}/events`);
  streams.set(job.id, source);
  source.addEventListener('job', (e) => {
    const j = JSON.parse(e.data);
    jobs.set(j.id, j);
    renderQueue();
    if (selected === j.id) renderView();
    if (['done', 'failed', 'cancelled'].includes(j.state)) {
      source.close();
      streams.delete(j.id);
    }
  });
  source.onerror = () => {
    source.close();
    streams.delete(job.id);
  };
}

function renderQueue() {
  const list = $('#jobs');
  list.replaceChildren();
  const all = [...jobs.values()].sort((a, b) => b.created - a.created || (a.id < b.id ? 1 : -1));
  for (const j of all) {
    const pct = j.total ? ` ${Math.round((100 * j.done) / j.total)}%` : '';
    const item = el('li', { className: `job ${j.state}${j.id === selected ? ' selected' : ''}` },
      el('button', { type: 'button', textContent: `${TASKS[j.task].title} · ${j.model}` }),
      el('span', { className: 'state', textContent: `${j.state}${j.state === 'running' ? pct : ''}` }));
    item.dataset.id = j.id;
    item.querySelector('button').addEventListener('click', () => select(j.id));
    list.append(item);
  }
}

// A finished job: deleted on the server with its files, then from the list.
async function removeJob(j) {
  try {
    await api(`/api/jobs/${j.id}`, { method: 'DELETE' });
  } catch (e) {
    $('#status').textContent = `not removed: ${e.message}`;
    return;
  }
  jobs.delete(j.id);
  selected = null;
  renderQueue();
  const view = $('#view');
  view.dataset.state = 'none';
  delete view.dataset.task;
  $('#view-title').textContent = 'No job selected';
  $('#status').textContent = '';
  $('#progress').value = 0;
  const result = $('#result');
  result.replaceChildren();
  delete result.dataset.key;
}

function select(id) {
  selected = id;
  renderQueue();
  renderView();
}

const fileUrl = (j, name) => `/api/jobs/${j.id}/files/${name}`;
const ofRole = (j, role) => j.files.filter((f) => f.role === role).map((f) => f.name);

function renderView() {
  const j = jobs.get(selected);
  const view = $('#view');
  if (!j) return;
  view.dataset.state = j.state;
  view.dataset.task = j.task;
  $('#view-title').textContent = `${TASKS[j.task].title} · ${j.model}`;
  const bar = $('#progress');
  if (j.total) { bar.max = j.total; bar.value = j.done; } else if (j.state === 'done') { bar.max = 1; bar.value = 1; } else { bar.removeAttribute('value'); }
  const secs = j.seconds ? ` (${j.seconds.toFixed(1)} s)` : '';
  $('#status').textContent = j.state === 'failed' ? `failed: ${j.error}` : `${j.state}: ${j.message}${secs}`;
  const result = $('#result');
  const key = `${j.id}:${j.state}:${j.files.length}:${j.losses.length}`;
  if (result.dataset.key === key) return;
  result.dataset.key = key;
  result.replaceChildren();
  if (j.task === 'neural') result.append(lossCurve(j.losses));
  if (j.state === 'running' || j.state === 'queued') {
    result.append(el('button', { type: 'button', textContent: 'Cancel', onclick: () => api(`/api/jobs/${j.id}`, { method: 'DELETE' }) }));
    if (j.task === 'neural') result.append(snapshots(j));
    return;
  }
  if (j.state === 'done') {
    if (j.task === 'interpolate') result.append(scrubber(j));
    else result.append(compare(j));
    if (j.task === 'neural') result.append(snapshots(j));
  }
  result.append(el('div', { className: 'row' },
    el('button', { type: 'button', id: 'remove-job', textContent: 'Remove job and its files', onclick: () => removeJob(j) })));
}

function downloadLink(j, name, text) {
  return el('a', { href: fileUrl(j, name), download: `${j.task}-${j.id}-${name.split('/').pop()}`, textContent: text, className: 'download' });
}

// Before/after: the result with the input over it, cut at the slider.
function compare(j) {
  const name = ofRole(j, 'result')[0];
  const before = el('img', { src: fileUrl(j, ofRole(j, 'input')[0]), className: 'before', alt: 'before' });
  const after = el('img', { src: fileUrl(j, name), className: 'after', alt: 'after' });
  const slider = el('input', { type: 'range', min: 0, max: 100, value: 50, id: 'slider', 'aria-label': 'before/after' });
  const line = el('div', { className: 'cut' });
  const cut = () => {
    before.style.clipPath = `inset(0 ${100 - slider.value}% 0 0)`;
    line.style.left = `${slider.value}%`;
  };
  slider.addEventListener('input', cut);
  cut();
  const link = downloadLink(j, name, 'Download result');
  link.id = 'download-result';
  return el('div', { className: 'compare-box' }, el('div', { className: 'compare' }, after, before, line), slider,
    el('p', { className: 'note', textContent: 'left of the cut: before; right: after' }), link);
}

// Interpolation: every frame on a scrubber, and each pair's flow.
function scrubber(j) {
  const frames = ofRole(j, 'frame');
  const flows = ofRole(j, 'flow').filter((n) => n.endsWith('.png'));
  const img = el('img', { className: 'frame', alt: 'frame' });
  const label = el('span', { id: 'frame-label' });
  const range = el('input', { type: 'range', min: 0, max: frames.length - 1, value: Math.floor(frames.length / 2), id: 'scrubber', 'aria-label': 'frame' });
  const link = downloadLink(j, frames[0], 'Download this frame');
  link.id = 'download-result';
  const show = () => {
    const name = frames[range.value];
    img.src = fileUrl(j, name);
    link.href = fileUrl(j, name);
    link.download = `${j.task}-${j.id}-${name.split('/').pop()}`;
    label.textContent = `frame ${Number(range.value) + 1} of ${frames.length}`;
  };
  range.addEventListener('input', show);
  show();
  const box = el('div', { className: 'scrub' }, img, el('div', { className: 'row' }, range, label), link);
  if (flows.length) {
    box.append(el('h3', { textContent: 'Flow (colour = direction, saturation = speed)' }),
      ...flows.map((f) => el('img', { src: fileUrl(j, f), className: 'flow', alt: 'flow' })));
  }
  return box;
}

function snapshots(j) {
  const names = ofRole(j, 'snapshot');
  const strip = el('div', { className: 'snapshots' });
  for (const n of names) {
    strip.append(el('figure', {}, el('img', { src: fileUrl(j, n), alt: n }), el('figcaption', { textContent: `step ${Number(n.match(/_(\d+)\.png$/)[1]) + 1}` })));
  }
  return strip;
}

// The loss curve (log scale) as an SVG polyline.
function lossCurve(losses) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 400 160');
  svg.setAttribute('class', 'loss');
  svg.id = 'loss-curve';
  const good = losses.filter((l) => l > 0 && Number.isFinite(l));
  if (good.length > 1) {
    const ys = good.map(Math.log10);
    const lo = Math.min(...ys);
    const hi = Math.max(...ys);
    const pts = ys.map((y, i) => `${10 + (380 * i) / (ys.length - 1)},${150 - (140 * (y - lo)) / (hi - lo || 1)}`);
    const line = document.createElementNS(ns, 'polyline');
    line.setAttribute('points', pts.join(' '));
    svg.append(line);
    const text = document.createElementNS(ns, 'text');
    text.setAttribute('x', 12);
    text.setAttribute('y', 14);
    text.textContent = `loss ${good[0].toExponential(2)} → ${good[good.length - 1].toExponential(2)} (log scale, ${good.length} steps)`;
    svg.append(text);
  }
  return svg;
}

// ---- start ----

document.querySelectorAll('#tasks button').forEach((b) => b.addEventListener('click', () => setTask(b.dataset.task)));
$('#model').addEventListener('change', modelChanged);
$('#download-model').addEventListener('click', downloadModel);
$('#run').addEventListener('click', run);
setTask('upscale');
api('/api/jobs').then(({ jobs: list }) => {
  list.forEach(track);
  if (list.length) select(list[0].id);
});
