// Shared helpers of the console's end-to-end tests: start the real `jikimi serve` on a free port with a temporary
// SQLite database, seed it through the API (staff, units, a subscriber with a device), send Ed25519-signed alerts,
// and drive Debian's Chromium with playwright-core.

import { spawn, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, '..');
export const SHOTS = path.join(HERE, 'screenshots');
export const ADMIN_PASSWORD = 'e2e-admin-password';
export const PASSWORD = 'e2e-staff-password';
fs.mkdirSync(SHOTS, { recursive: true });

export function jikimiBin() {
  if (process.env.JIKIMI_BIN) return process.env.JIKIMI_BIN;
  const target = process.env.CARGO_TARGET_DIR || path.join(ROOT, 'target');
  for (const profile of ['debug', 'release']) {
    const p = path.join(target, profile, 'jikimi');
    if (fs.existsSync(p)) return p;
  }
  throw new Error(`no jikimi binary: set JIKIMI_BIN or build it (looked in ${target})`);
}

export function chromiumPath() {
  if (process.env.CHROMIUM_BIN) return process.env.CHROMIUM_BIN;
  return execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim();
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function keyFile() {
  const hex = () => crypto.randomBytes(32).toString('hex');
  return `[keys]\ncurrent_data_key_id = "k1"\nblind_index_key = "${hex()}"\n\n[keys.data_keys]\n"k1" = "${hex()}"\n`;
}

// A jikimi server on its own data directory; restartable on the same port.
export class Server {
  constructor() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jikimi-e2e-'));
    fs.writeFileSync(path.join(this.dir, 'keys.toml'), keyFile(), { mode: 0o600 });
    this.env = {
      ...process.env,
      JIKIMI_DATABASE_URL: `sqlite://${path.join(this.dir, 'jikimi.sqlite')}`,
      JIKIMI_KEY_FILE: path.join(this.dir, 'keys.toml'),
      RUST_LOG: 'warn',
    };
    this.child = null;
  }

  async start() {
    if (!this.port) {
      this.port = await freePort();
      execFileSync(jikimiBin(), ['staff', 'add', '--username', 'admin', '--role', 'admin'], {
        env: { ...this.env, JIKIMI_STAFF_PASSWORD: ADMIN_PASSWORD }, cwd: this.dir, stdio: 'pipe',
      });
    }
    this.url = `http://127.0.0.1:${this.port}`;
    this.child = spawn(jikimiBin(), ['serve', '--listen', `127.0.0.1:${this.port}`], {
      env: this.env, cwd: this.dir, stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`jikimi serve did not start: ${out}`)), 30000);
      this.child.stdout.on('data', (d) => {
        out += d;
        if (out.includes('jikimi listening on')) {
          clearTimeout(timer);
          resolve();
        }
      });
      this.child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`jikimi serve exited with ${code}: ${out}`));
      });
    });
    this.child.removeAllListeners('exit');
    this.child.stdout.resume();
  }

  async stop() {
    if (!this.child) return;
    const child = this.child;
    this.child = null;
    const done = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await done;
  }

  async dispose() {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// A JSON client of the API with an optional bearer token.
export class Api {
  constructor(base, token = null) {
    this.base = base;
    this.token = token;
  }

  async call(method, p, body) {
    const res = await fetch(this.base + p, {
      method,
      headers: { 'content-type': 'application/json', ...(this.token ? { authorization: `Bearer ${this.token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }

  static async login(base, username, password) {
    const res = await new Api(base).call('POST', '/api/auth/login', { username, password });
    return new Api(base, res.token);
  }
}

export class Device {
  constructor() {
    const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
    this.privateKey = privateKey;
    this.publicHex = Buffer.from(publicKey.export({ format: 'jwk' }).x, 'base64url').toString('hex');
    this.id = crypto.randomUUID();
  }

  // POSTs a body signed under `context` (the device request signature); returns [status, parsed answer].
  async signed(base, p, context, value) {
    const body = Buffer.from(JSON.stringify(value));
    const ts = Math.floor(Date.now() / 1000);
    const nonce = crypto.randomBytes(16).toString('hex');
    const msg = Buffer.concat([Buffer.from(`${context}\n${this.id}\n${ts}\n${nonce}\n`), body]);
    const sig = crypto.sign(null, msg, this.privateKey).toString('base64');
    const res = await fetch(`${base}${p}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json', 'x-jikimi-device': this.id, 'x-jikimi-timestamp': String(ts),
        'x-jikimi-nonce': nonce, 'x-jikimi-signature': sig,
      },
      body,
    });
    const text = await res.text();
    return [res.status, text ? JSON.parse(text) : null];
  }

  // GETs `p` signed under `context` with an empty body (the device's message poll); returns [status, answer].
  async signedGet(base, p, context) {
    const ts = Math.floor(Date.now() / 1000);
    const nonce = crypto.randomBytes(16).toString('hex');
    const msg = Buffer.from(`${context}\n${this.id}\n${ts}\n${nonce}\n`);
    const sig = crypto.sign(null, msg, this.privateKey).toString('base64');
    const res = await fetch(`${base}${p}`, {
      headers: { 'x-jikimi-device': this.id, 'x-jikimi-timestamp': String(ts), 'x-jikimi-nonce': nonce, 'x-jikimi-signature': sig },
    });
    const text = await res.text();
    return [res.status, text ? JSON.parse(text) : null];
  }

  // Sends a signed alert; returns the parsed 202 answer.
  async alert(base, { lat, lon, priority = 1, accuracy = 30 }) {
    const [status, answer] = await this.signed(base, '/api/alerts', 'jikimi-alert-v1', {
      alert_id: crypto.randomUUID(), priority, silent: true,
      location: { lat, lon, accuracy_m: accuracy, method: 'gnss' },
    });
    if (status !== 202) throw new Error(`alert: ${status} ${JSON.stringify(answer)}`);
    return answer;
  }

  // Cancels an alert with a PIN (the genuine or the duress one: the answer is the same); returns the parsed 200.
  async cancel(base, incidentId, pin) {
    const [status, answer] = await this.signed(base, `/api/alerts/${incidentId}/cancel`, `jikimi-cancel-v1 ${incidentId}`, { pin });
    if (status !== 200) throw new Error(`cancel: ${status} ${JSON.stringify(answer)}`);
    return answer;
  }
}

export const CENTRE = { lat: 37.5665, lon: 126.978 };

// Where benchmark unit i is at second t: circling the centre at 300 to 2,700 m.
export function unitPosition(i, t) {
  const a = (i * 2.399) + t / 60;
  const r = 300 + (i % 25) * 100;
  return { lat: CENTRE.lat + (r * Math.sin(a)) / 111320, lon: CENTRE.lon + (r * Math.cos(a)) / 88000 };
}

// Staff, units around the centre, one subscriber with a device and a guardian.
export async function seed(server, { units = 4 } = {}) {
  const admin = await Api.login(server.url, 'admin', ADMIN_PASSWORD);
  for (const [username, role] of [['dispatcher', 'dispatcher'], ['analyst', 'analyst'], ['supervisor', 'supervisor']]) {
    await admin.call('POST', '/api/staff', { username, password: PASSWORD, role });
  }
  for (let i = 0; i < units; i++) {
    await admin.call('PUT', `/api/units/P-${101 + i}`, {
      status: 'available',
      position: { lat: CENTRE.lat + 0.004 * (i + 1), lon: CENTRE.lon + 0.005 * (i % 2 ? 1 : -1) },
    });
  }
  const device = new Device();
  const reg = await admin.call('POST', '/api/subscribers', {
    name: '김하늘', phone: '010-2000-0001', birth_date: '1980-02-03', address: '서울특별시 중구 세종대로 110',
    notes: 'hearing impaired; prefers text',
    devices: [{ id: device.id, public_key: device.publicHex, kind: 'app' }],
    guardians: [{ name: '김보호', relation: 'mother', channels: [{ kind: 'sms', address: '010-3000-0000' }] }],
  });
  return { admin, device, subscriberId: reg.id };
}

// Playwright's launch() itself gives Chromium a fresh temporary --user-data-dir (and refuses one in args).
export async function launch() {
  const browser = await chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
  const close = async () => {
    await browser.close();
  };
  return { browser, close };
}

// Development aid: with JIKIMI_CONSOLE_FROM_DISK=1 the browser gets the console's files from the worktree instead of
// the binary, so front-end changes can be tried without rebuilding. Never used for a reported figure.
export async function consoleFromDisk(ctx) {
  if (process.env.JIKIMI_CONSOLE_FROM_DISK !== '1') return;
  const dir = path.join(ROOT, 'crates', 'server', 'console');
  const types = { html: 'text/html', js: 'text/javascript', css: 'text/css' };
  await ctx.route(/\/(console\/[a-z0-9_]+\.(js|css)|)$/, (route) => {
    const url = new URL(route.request().url());
    const file = url.pathname === '/' ? 'index.html' : url.pathname.slice('/console/'.length);
    route.fulfill({
      status: 200,
      contentType: `${types[file.split('.').pop()]}; charset=utf-8`,
      body: fs.readFileSync(path.join(dir, file)),
    });
  });
}

export async function login(page, base, username, password = PASSWORD) {
  await page.goto(base + '/');
  await page.fill('#login-user', username);
  await page.fill('#login-pass', password);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#console-view:not([hidden])');
  await page.waitForFunction(() => document.querySelector('#conn')?.classList.contains('ok'));
}

export async function shot(page, name) {
  await page.waitForTimeout(350); // let the throttled map redraw land
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

// Runs axe-core on the page; returns serious or critical violations.
export async function axe(page) {
  const source = fs.readFileSync(path.join(HERE, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
  await page.evaluate(source);
  const result = await page.evaluate(async () => window.axe.run(document, { resultTypes: ['violations'] }));
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ')}`);
}
