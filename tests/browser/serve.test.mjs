// `prism serve` in a real browser (headless Chromium from @sparticuz/chromium, driven by
// puppeteer-core): crops of a real photo are uploaded through the page's file inputs, each task
// runs with live progress, and each result read back through the page's download link must be
// byte for byte the file `prism` writes for the same input and options. Cross-origin and
// wrong-Host requests must be refused. One screenshot per task view goes to PRISM_SCREENSHOTS.
//
// Started by `cargo xtask test` (xtask/src/browser.rs), which starts the server and sets:
//   PRISM_SERVE_URL  the page (http://127.0.0.1:PORT/)
//   PRISM_BIN        the prism executable (for the reference outputs)
//   PRISM_PHOTO      a real photo (scikit-image's astronaut.png)
//   PRISM_WORK       a scratch folder
//   PRISM_SCREENSHOTS  where to write the screenshots (optional)
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import chromium from '@sparticuz/chromium';
import puppeteer from 'puppeteer-core';

const need = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (cargo xtask test sets it)`);
  return v;
};
const URL_ = need('PRISM_SERVE_URL');
const PRISM = need('PRISM_BIN');
const PHOTO = need('PRISM_PHOTO');
const WORK = need('PRISM_WORK');
const SHOTS = process.env.PRISM_SCREENSHOTS || '';
const THREADS = process.env.PRISM_THREADS || '1';
const started = Date.now();
const log = (m) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${m}`);
fs.mkdirSync(WORK, { recursive: true });

function prism(args) {
  const r = spawnSync(PRISM, ['--quiet', ...args, '--threads', THREADS], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`prism ${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
}

/// A raw HTTP request with any headers (fetch may not set Host).
function request(method, url, headers = {}, body = null) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      let data = '';
      res.on('data', (c) => { data += c; });
      res.on('end', () => resolve({ status: res.statusCode, body: data }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

// The package's flags minus those that switch off the same-origin policy (the test needs it).
const unsafe = ['--disable-web-security', '--allow-running-insecure-content'];
const browser = await puppeteer.launch({
  args: chromium.args.filter((a) => !unsafe.includes(a)),
  executablePath: await chromium.executablePath(),
  headless: 'shell',
  defaultViewport: { width: 1280, height: 880 },
});
let failures = 0;
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => { failures += 1; console.error(`page error: ${e.message}`); });
  await page.goto(URL_, { waitUntil: 'networkidle0' });
  await page.waitForSelector('#model option');
  log('page loaded');

  // Crops of the real photo, cut by the browser (PNG): the page and the command get the same file.
  const photo = fs.readFileSync(PHOTO).toString('base64');
  const crops = await page.evaluate(async (b64, boxes) => {
    const blob = new Blob([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], { type: 'image/png' });
    const bitmap = await createImageBitmap(blob);
    const out = [];
    for (const [x, y, w, h] of boxes) {
      const canvas = new OffscreenCanvas(w, h);
      canvas.getContext('2d').drawImage(bitmap, x, y, w, h, 0, 0, w, h);
      const png = await canvas.convertToBlob({ type: 'image/png' });
      const bytes = new Uint8Array(await png.arrayBuffer());
      let s = '';
      for (const b of bytes) s += String.fromCharCode(b);
      out.push(btoa(s));
    }
    return out;
  }, photo, [[150, 40, 160, 120], [150, 40, 192, 144], [140, 50, 160, 120], [146, 50, 160, 120], [300, 300, 96, 96]]);
  const files = ['upscale', 'style', 'pair-a', 'pair-b', 'texture'].map((n, i) => {
    const p = path.join(WORK, `${n}.png`);
    fs.writeFileSync(p, Buffer.from(crops[i], 'base64'));
    return p;
  });
  const [upscaleIn, styleIn, pairA, pairB, texture] = files;

  /// Runs one job through the page and returns the bytes behind its download link.
  async function runJob({ task, model, inputs, options = {}, shot }) {
    await page.click(`#tasks [data-task=${task}]`);
    await page.waitForSelector(`#model option[value="${model}"]`);
    await page.select('#model', model);
    for (const [i, file] of inputs.entries()) {
      const input = await page.waitForSelector(`#file-${i}`);
      await input.uploadFile(file);
    }
    for (const [name, value] of Object.entries(options)) {
      await page.$eval(`#opt-${name}`, (e, v) => { e.value = String(v); }, value);
    }
    const before = await page.$$eval('#jobs li', (l) => l.length);
    await page.click('#run');
    await page.waitForFunction((n) => document.querySelectorAll('#jobs li').length > n, {}, before);
    let sawProgress = false;
    const t0 = Date.now();
    for (;;) {
      const state = await page.$eval('#view', (v) => v.dataset.state);
      if (state === 'running') sawProgress = true;
      if (state === 'done') break;
      if (state === 'failed' || state === 'cancelled') {
        throw new Error(`${task}: ${await page.$eval('#status', (s) => s.textContent)}`);
      }
      if (Date.now() - t0 > 240000) throw new Error(`${task}: no result after 240 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const status = await page.$eval('#status', (s) => s.textContent);
    log(`${task} ${model}: ${status}${sawProgress ? ' (progress seen)' : ''}`);
    await page.waitForSelector('#download-result');
    // Let the result images load before the screenshot.
    await page.waitForFunction(() => [...document.querySelectorAll('#result img')].every((i) => i.complete && i.naturalWidth > 0));
    if (SHOTS && shot) {
      fs.mkdirSync(SHOTS, { recursive: true });
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: path.join(SHOTS, shot) });
    }
    const b64 = await page.$eval('#download-result', async (a) => {
      const bytes = new Uint8Array(await (await fetch(a.href)).arrayBuffer());
      let s = '';
      for (const b of bytes) s += String.fromCharCode(b);
      return btoa(s);
    });
    return Buffer.from(b64, 'base64');
  }

  function same(name, got, file) {
    const want = fs.readFileSync(file);
    assert.ok(got.length > 0, `${name}: empty result`);
    assert.ok(want.equals(got), `${name}: the page's result (${got.length} bytes) differs from prism's ${file} (${want.length} bytes)`);
    log(`${name}: identical to prism's output (${got.length} bytes)`);
  }

  // Upscale: Real-ESRGAN animevideov3 x2 (real weights).
  const up = await runJob({ task: 'upscale', model: 'realesr-animevideov3-x2', inputs: [upscaleIn], shot: 'serve-upscale.png' });
  const upRef = path.join(WORK, 'upscale-cli.png');
  prism(['upscale', upscaleIn, '-o', upRef, '--model', 'realesr-animevideov3-x2']);
  same('upscale', up, upRef);

  // A model that is not here offers its download (the Hub's code path; offline, its error shows).
  await page.click('#tasks [data-task=style]');
  await page.waitForSelector('#model option[value="style-mosaic-zoo"]');
  await page.select('#model', 'style-mosaic-zoo');
  assert.equal(await page.$eval('#download-model', (b) => b.hidden), false, 'no download button');
  await page.click('#download-model');
  // Offline the Hub's error is shown; with internet the model becomes available.
  await page.waitForFunction(() => document.querySelector('#model-note').textContent.startsWith('download failed')
    || !document.querySelector('#model option[value="style-mosaic-zoo"]')?.textContent.includes('not here'), { timeout: 120000 });
  log(`download offer: ${await page.$eval('#model-note', (n) => n.textContent.slice(0, 90))}`);

  // Fast style: multistyle26, style 7 at strength 0.8 (real weights).
  const st = await runJob({ task: 'style', model: 'style-multistyle26', inputs: [styleIn], options: { style: 7, strength: 0.8 }, shot: 'serve-style.png' });
  const stRef = path.join(WORK, 'style-cli.png');
  prism(['style', 'fast', styleIn, '-o', stRef, '--style', '7', '--strength', '0.8']);
  same('style', st, stRef);

  // Interpolation: RIFE v4.6 (real weights), one frame between a 6 px pan; the flow is shown.
  const mid = await runJob({ task: 'interpolate', model: 'rife-v4.6', inputs: [pairA, pairB], shot: 'serve-interpolate.png' });
  const flows = await page.$$eval('#result img.flow', (l) => l.filter((i) => i.naturalWidth > 0).length);
  assert.ok(flows >= 1, 'interpolation: no flow picture shown');
  const frameLabel = await page.$eval('#frame-label', (e) => e.textContent);
  assert.equal(frameLabel, 'frame 2 of 3');
  const inRef = path.join(WORK, 'interpolate-cli');
  fs.rmSync(inRef, { recursive: true, force: true });
  prism(['interpolate', pairA, pairB, '-o', inRef, '--model', 'rife-v4.6', '--flow']);
  same('interpolate (middle frame)', mid, path.join(inRef, '00000001.png'));

  // Neural style: 4 Adam steps at 64 px with an image every step; the loss curve is drawn.
  const ns = await runJob({ task: 'neural', model: 'vgg19-features', inputs: [upscaleIn, texture], options: { size: 64, steps: 4, optimizer: 'adam', save_every: 1 }, shot: 'serve-neural.png' });
  const points = await page.$eval('#loss-curve polyline', (p) => p.getAttribute('points').split(' ').length);
  assert.equal(points, 4, 'neural: the loss curve should have one point per step');
  const snaps = await page.$$eval('.snapshots img', (l) => l.length);
  assert.ok(snaps >= 3, `neural: ${snaps} intermediate images shown`);
  const nsRef = path.join(WORK, 'neural-cli.png');
  prism(['style', 'neural', upscaleIn, '--style', texture, '-o', nsRef, '--size', '64', '--steps', '4', '--optimizer', 'adam']);
  same('neural style', ns, nsRef);

  // A reload lists the jobs again (the queue lives on the server).
  await page.reload({ waitUntil: 'networkidle0' });
  const listed = await page.$$eval('#jobs li', (l) => l.length);
  assert.ok(listed >= 4, `after a reload the page lists ${listed} jobs`);
  log(`reload: ${listed} jobs listed`);

  // Another origin's page cannot drive the server: the browser's request carries its Origin.
  const other = http.createServer((_, res) => { res.setHeader('content-type', 'text/html'); res.end('<p>elsewhere</p>'); });
  await new Promise((r) => other.listen(0, '127.0.0.1', r));
  const evil = `http://127.0.0.1:${other.address().port}/`;
  const page2 = await browser.newPage();
  await page2.goto(evil);
  const crossRead = await page2.evaluate(async (u) => {
    try { await fetch(`${u}api/jobs`); return 'read'; } catch { return 'blocked'; }
  }, URL_);
  assert.equal(crossRead, 'blocked');
  await page2.evaluate(async (u) => {
    await fetch(`${u}api/jobs`, { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: '{"task":"upscale","model":"realesr-animevideov3-x2","inputs":[]}' }).catch(() => {});
  }, URL_);
  other.close();
  const crossPost = await request('POST', `${URL_}api/jobs`, { Origin: evil.replace(/\/$/, ''), 'content-type': 'application/json' }, '{}');
  assert.equal(crossPost.status, 403, `cross-origin POST: ${crossPost.status}`);
  const crossGet = await request('GET', `${URL_}api/jobs`, { Origin: 'http://evil.example' });
  assert.equal(crossGet.status, 403, `cross-origin GET: ${crossGet.status}`);
  const port = new URL(URL_).port;
  const rebind = await request('GET', `${URL_}api/jobs`, { Host: `evil.example:${port}` });
  assert.equal(rebind.status, 403, `wrong Host: ${rebind.status}`);
  const after = JSON.parse((await request('GET', `${URL_}api/jobs`)).body).jobs.length;
  assert.equal(after, listed, 'a cross-origin POST created a job');
  log('cross-origin and wrong-Host requests refused (403)');

  // The page removes a finished job with its files on the server.
  const first = await page.$eval('#jobs li', (li) => li.dataset.id);
  await page.click(`#jobs li[data-id="${first}"] button`);
  await (await page.waitForSelector('#remove-job')).click();
  await page.waitForFunction((n) => document.querySelectorAll('#jobs li').length === n, {}, listed - 1);
  assert.equal(await page.$eval('#view-title', (t) => t.textContent), 'No job selected');
  assert.equal((await request('GET', `${URL_}api/jobs/${first}`)).status, 404, 'removed job still served');
  log(`job ${first} removed through the page`);
} finally {
  await browser.close();
}
if (failures) throw new Error(`${failures} errors in the page`);
log('all browser checks passed');
