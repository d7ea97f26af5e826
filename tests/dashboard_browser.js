// The dashboard in a real browser (issue 20): headless Debian Chromium driven by playwright-core
// against a live 2-node cluster.
//   node dashboard_browser.js PLAYWRIGHT_DIR CHROMIUM JOBNET OUT_DIR
// Checks: the jobs page shows a job submitted from the CLI, and hides it outside a created-at range; a dead job retried from its page
// then shows `succeeded`; the overview follows a job to its end without reloading; a bulk cancel
// of a filtered set cancels exactly those jobs; a read-only face shows no control that changes
// anything and refuses a forged change; a read-only token, entered when the page asks, sees no
// write control; a queue's limits changed from the page are the node's; an external worker shows on the workers page with the job it runs; the page
// survives the serving node's SIGKILL with a banner and recovers when the node returns; nothing
// is loaded from outside the node. Screenshots of each page go to OUT_DIR (dashboard-*.png).
const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');

const [pwDir, chrome, jobnet, outDir] = process.argv.slice(2);
const { chromium } = require(path.join(pwDir, 'node_modules', 'playwright-core'));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'jobnet-dash-'));
const nodes = {};
const failures = [];
const check = (what, ok, detail = '') => { if (!ok) failures.push(what + (detail ? ': ' + detail : '')); };

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

// A node process that dies with this one (setpriv's parent-death signal), its log in tmp.
function startNode(n) {
  const log = fs.openSync(path.join(tmp, n.id + '.log'), 'a');
  n.proc = spawn('setpriv', ['--pdeathsig', 'KILL', jobnet, 'node', '--id', n.id,
    '--listen', `tcp://127.0.0.1:${n.port}`, ...(n.peerPort ? ['--peer', `tcp://127.0.0.1:${n.peerPort}`] : []),
    '--data', path.join(tmp, n.id), '--workers', '2', '--http', `127.0.0.1:${n.http}`,
    '--failure-timeout', '1000ms', ...(n.extra || ['--config', path.join(tmp, 'node.toml')])],
    { stdio: ['ignore', log, log] });
}

const cli = (...args) => execFileSync(jobnet, args, { encoding: 'utf8', timeout: 60000 });

async function until(what, fn, ms = 20000) {
  const end = Date.now() + ms;
  for (;;) {
    try { if (await fn()) return true; } catch (e) { /* not yet */ }
    if (Date.now() > end) { failures.push(what + ' (not within ' + ms / 1000 + ' s)'); return false; }
    await new Promise(r => setTimeout(r, 100));
  }
}

async function healthy(n) {
  return new Promise((resolve) => {
    const req = require('http').get({ host: '127.0.0.1', port: n.http, path: '/readyz', timeout: 1000 },
      (r) => { r.resume(); resolve(r.statusCode === 200); });
    req.on('error', () => resolve(false));
  });
}

(async () => {
  // A command that fails the first time it runs and succeeds after: a job that goes dead, then
  // succeeds when retried.
  const flag = path.join(tmp, 'flaky.flag');
  fs.writeFileSync(path.join(tmp, 'node.toml'),
    `[exec.allow]\nflaky = ["sh", "-c", "if [ -e ${flag} ]; then echo fine; else touch ${flag}; exit 3; fi"]\n`);
  const ports = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  nodes.n1 = { id: 'n1', port: ports[0], http: ports[1], peerPort: ports[2] };
  nodes.n2 = { id: 'n2', port: ports[2], http: ports[3], peerPort: ports[0] };
  startNode(nodes.n1);
  startNode(nodes.n2);
  const to = `tcp://127.0.0.1:${nodes.n1.port}`;
  await until('n1 and n2 ready', async () => (await healthy(nodes.n1)) && (await healthy(nodes.n2)), 30000);

  const browser = await chromium.launch({ executablePath: chrome, args: ['--no-sandbox'] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const outside = [];
  let navigations = 0;
  page.on('request', (r) => { const u = new URL(r.url()); if (u.protocol.startsWith('http') && u.hostname !== '127.0.0.1') outside.push(r.url()); });
  page.on('framenavigated', (f) => { if (f === page.mainFrame()) navigations++; });
  page.on('dialog', (d) => d.accept());
  const consoleLines = [];  // shown when a check fails
  page.on('console', (m) => { consoleLines.push(`${m.type()}: ${m.text()}`); consoleLines.splice(0, consoleLines.length - 60); });
  page.on('websocket', (ws) => {
    consoleLines.push('websocket ' + ws.url());
    ws.on('close', () => consoleLines.push('websocket closed ' + ws.url()));
    ws.on('framereceived', (f) => consoleLines.push('  frame ' + String(f.payload).slice(0, 90)));
    ws.on('socketerror', (e) => consoleLines.push('websocket error ' + e));
  });
  process.on('exit', () => { if (failures.length) console.log('--- browser console and sockets (last 60)\n' + consoleLines.join('\n')); });
  const base = `http://127.0.0.1:${nodes.n1.http}/ui/`;
  const shot = (name) => page.screenshot({ path: path.join(outDir, `dashboard-${name}.png`), fullPage: true });
  const text = () => page.innerText('body');

  // 1. The jobs page shows a job submitted from the CLI.
  const cliJob = JSON.parse(cli('submit', 'word_count', '"shown on the jobs page"', '--to', to, '--json').trim()).id;
  await page.goto(base + '#/jobs');
  await until('the jobs page shows ' + cliJob, async () => (await text()).includes(cliJob));
  await shot('jobs');
  // The created-at range: one that starts after the job hides it, one that holds it shows it.
  const minute = (ms) => { const d = new Date(ms), p = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`; };
  await page.getByLabel('Created from').fill(minute(Date.now() + 3600e3));
  await until('a range after ' + cliJob + ' hides it', async () => !(await text()).includes(cliJob));
  await page.getByLabel('Created from').fill(minute(Date.now() - 3600e3));
  await until('a range holding ' + cliJob + ' shows it', async () => (await text()).includes(cliJob));
  await page.goto(base + '#/jobs');

  // 2. A dead job, retried from its page, then shows succeeded.
  const dead = JSON.parse(cli('submit', 'exec', '"flaky"', '--max-attempts', '1', '--to', to, '--json').trim()).id;
  try { cli('wait', dead, '--to', to); } catch (e) { /* exits non-zero for a dead job */ }
  await page.goto(base + '#/jobs/' + dead);
  await until('the job page shows ' + dead + ' dead', async () => (await page.locator('h2 + .state').innerText()) === 'dead');
  await page.getByRole('button', { name: 'Retry' }).click();
  await until('the retried job shows succeeded', async () => (await page.locator('h2 + .state').innerText()) === 'succeeded');
  await shot('job');

  // 3. The overview follows a job to its end without a reload.
  await page.goto(base + '#/');
  await until('the overview shows its nodes', async () => (await text()).includes('n2'));
  const before = navigations;
  const slow = JSON.parse(cli('submit', 'sleep', '4000', '--to', to, '--json').trim()).id;  // long enough to be seen running under load
  const row = page.locator('tr', { hasText: slow });
  await until('the overview shows ' + slow + ' running', async () => (await row.innerText()).includes('running'));
  await until('the overview shows ' + slow + ' succeeded', async () => (await row.innerText()).includes('succeeded'));
  check('no reload while following a job', navigations === before, `${navigations - before} navigations`);
  await shot('overview');
  await page.goto(base + '#/queues');
  await until('the queues page lists default', async () => (await text()).includes('default'));
  // The queue's limits, changed from the page, are the node's.
  const defaultRow = page.locator('tr', { hasText: 'default' });
  await defaultRow.getByRole('button', { name: 'Limits' }).click();
  await page.getByLabel('Concurrency (0: none)').fill('7');
  await page.getByRole('button', { name: 'Save' }).click();
  const concurrencyOf = () => cli('queues', '--json', '--to', to).trim().split('\n').map(JSON.parse)
    .find(q => q.name === 'default').concurrency;
  await until('the node has concurrency 7 for default', async () => concurrencyOf() === 7);
  await until('the page shows concurrency 7', async () => (await defaultRow.innerText()).split('\t').includes('7'));
  await shot('queues');
  cli('queue', 'set', 'default', '--concurrency', '0', '--to', to);
  // An external worker (the Python client, in a child process) holding a job shows on the
  // workers page beside the slots, with the job it runs.
  const python = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';  // Debian's, with python3-zmq
  const pyLog = fs.openSync(path.join(tmp, 'py-worker.log'), 'a');
  const pyWorker = spawn('setpriv', ['--pdeathsig', 'KILL', python, '-c',
    'import sys, time, jobnet\n' +
    'w = jobnet.Worker([sys.argv[1]], types=["ui_ocr"], capacity=2, name="ocr-box")\n' +
    'w.run(lambda job: time.sleep(120))', to],
  { stdio: ['ignore', pyLog, pyLog], env: { ...process.env, PYTHONPATH: path.join(__dirname, '..', 'clients', 'python') } });
  nodes.py = { proc: pyWorker };
  let held = '';
  await until('the Python worker registers', async () => {
    held = JSON.parse(cli('submit', 'ui_ocr', '"scan"', '--to', to, '--json').trim()).id;
    return true;
  });
  await page.goto(base + '#/workers');
  await until('the workers page lists its slots', async () => (await text()).includes('Worker slots of n1'));
  const ext = page.locator('tr', { hasText: 'ocr-box' });
  await until('the workers page shows the external worker running ' + held,
    async () => { const t = await ext.innerText(); return t.includes('ui_ocr') && t.includes(held) && t.includes('1/2'); });
  // Autoscaling from the page: the bounds reach the node, and Off turns it off.
  await page.getByLabel('autoscale min').fill('1');
  await page.getByLabel('autoscale max').fill('3');
  await page.getByRole('button', { name: 'Autoscale' }).click();
  await until('the workers page says it autoscales between 1 and 3',
    async () => (await page.locator('#autoscale').innerText()) === 'Autoscaling between 1 and 3 workers');
  const bounds = () => JSON.parse(cli('workers', '--to', to, '--json').split('\n')[0]);
  check('the node autoscales between 1 and 3', bounds().kind === 'autoscale' && bounds().max === 3, JSON.stringify(bounds()));
  await shot('workers');
  await page.getByRole('button', { name: 'Off' }).click();
  await until('the workers page says autoscaling is off',
    async () => (await page.locator('#autoscale').innerText()) === 'Autoscaling off');
  pyWorker.kill('SIGKILL');
  cli('schedule', 'add', 'nightly_report', 'echo', '"report"', '--cron', '0 3 * * *', '--to', to);
  await page.goto(base + '#/schedules');
  await until('the schedules page lists nightly_report', async () => (await text()).includes('nightly_report'));
  await page.getByRole('button', { name: 'Pause' }).click();
  await until('the schedule shows paused', async () => (await page.locator('tr', { hasText: 'nightly_report' }).innerText()).includes('paused'));
  await shot('schedules');

  // 4. A bulk cancel of a filtered set cancels exactly those jobs.
  const inQueue = [], others = [];
  for (let i = 0; i < 3; i++) inQueue.push(JSON.parse(cli('submit', 'echo', '"bulk"', '--queue', 'bulkq', '--delay', '1h', '--to', to, '--json').trim()).id);
  for (let i = 0; i < 2; i++) others.push(JSON.parse(cli('submit', 'echo', '"keep"', '--queue', 'otherq', '--delay', '1h', '--to', to, '--json').trim()).id);
  await page.goto(base + '#/jobs?queue=bulkq');
  await until('the jobs page lists bulkq\'s jobs', async () => (await text()).includes(inQueue[2]));
  let asked = '';
  page.once('dialog', (d) => { asked = d.message(); });
  await page.getByRole('button', { name: 'Cancel matching…' }).click();
  await until('the bulk cancel reports 3 jobs', async () => (await text()).includes('Cancelled 3 of 3'));
  check('the confirmation says how many jobs', asked.includes('3 waiting/queued/delayed jobs of queue bulkq'), asked);
  const stateOf = (id) => JSON.parse(cli('status', id, '--to', to, '--json').trim()).state;
  check('the filtered jobs are cancelled', inQueue.every(id => stateOf(id) === 'cancelled'), inQueue.map(stateOf).join(','));
  check('the other queue\'s jobs are not', others.every(id => stateOf(id) === 'delayed'), others.map(stateOf).join(','));
  await until('the jobs page shows them cancelled', async () => (await page.locator('tr', { hasText: inQueue[0] }).innerText()).includes('cancelled'));
  await shot('bulk');

  // 5. A read-only face: the page shows no control that changes anything, and a forged change
  // is refused.
  nodes.n3 = { id: 'n3', port: await freePort(), http: await freePort(), extra: ['--config', path.join(tmp, 'ro.toml')] };
  fs.writeFileSync(path.join(tmp, 'ro.toml'), '[http]\nread_only = true\n');
  startNode(nodes.n3);
  await until('n3 ready', () => healthy(nodes.n3), 30000);
  const n3job = JSON.parse(cli('submit', 'fail', '"dead for the read-only page"', '--max-attempts', '1', '--to', `tcp://127.0.0.1:${nodes.n3.port}`, '--json').trim()).id;
  try { cli('wait', n3job, '--to', `tcp://127.0.0.1:${nodes.n3.port}`); } catch (e) { /* dead */ }
  const ro = `http://127.0.0.1:${nodes.n3.http}/ui/`;
  await page.goto(ro + '#/jobs/' + n3job);
  await until('the read-only page shows the dead job', async () => (await page.locator('h2 + .state').innerText()) === 'dead');
  await until('whoami has hidden the write controls', async () => !(await page.getByRole('button', { name: 'Retry' }).isVisible()));
  check('no Cancel on a read-only face', !(await page.getByRole('button', { name: 'Cancel' }).isVisible()));
  await page.goto(ro + '#/queues');
  await until('the read-only queues page lists default', async () => (await text()).includes('default'));
  check('no Pause on a read-only face', !(await page.getByRole('button', { name: 'Pause' }).isVisible()));
  const forged = await page.evaluate(async (id) => (await fetch('/api/jobs/' + id + '/retry', { method: 'POST' })).status, n3job);
  check('a forged retry on a read-only face is 403', forged === 403, forged);
  await shot('read-only');

  // 6. A read-only token: the page asks for it, then shows no control that changes anything.
  const sha = require('crypto').createHash('sha256').update('viewer-secret').digest('hex');
  fs.writeFileSync(path.join(tmp, 'tok.toml'),
    `[[http.tokens]]\nname = "viewer"\nsha256 = "${sha}"\nscopes = ["read"]\n`);
  nodes.n4 = { id: 'n4', port: await freePort(), http: await freePort(), extra: ['--config', path.join(tmp, 'tok.toml')] };
  startNode(nodes.n4);
  await until('n4 ready', () => healthy(nodes.n4), 30000);
  const n4job = JSON.parse(cli('submit', 'fail', '"dead for the viewer"', '--max-attempts', '1', '--to', `tcp://127.0.0.1:${nodes.n4.port}`, '--json').trim()).id;
  try { cli('wait', n4job, '--to', `tcp://127.0.0.1:${nodes.n4.port}`); } catch (e) { /* dead */ }
  await page.goto(`http://127.0.0.1:${nodes.n4.http}/ui/#/jobs/${n4job}`);
  await until('the page asks for a token', async () => (await text()).includes('This node needs a token'));
  await page.getByLabel('bearer token').fill('viewer-secret');
  await page.getByRole('button', { name: 'Use it' }).click();
  if (!await until('with the read token the page shows the dead job', async () => (await page.locator('h2 + .state').innerText()) === 'dead'))
    await shot('read-token-failed');
  await until('a read token sees no Retry', async () => !(await page.getByRole('button', { name: 'Retry' }).isVisible()));
  check('a read token sees no Cancel', !(await page.getByRole('button', { name: 'Cancel' }).isVisible()));
  await shot('read-token');

  // 7. The serving node is SIGKILLed: a banner; it comes back: the banner goes, the page works.
  await page.goto(base + '#/');
  if (!await until('the overview is live', async () => !(await text()).includes('Live updates lost')))
    await shot('overview-not-live');
  const navs = navigations;
  nodes.n1.proc.kill('SIGKILL');
  await until('a banner says live updates are lost', async () => (await text()).includes('Live updates lost'));
  await shot('node-lost');
  startNode(nodes.n1);
  await until('the banner goes once n1 is back', async () => !(await text()).includes('Live updates lost'), 30000);
  const after = JSON.parse(cli('submit', 'echo', '"after the restart"', '--to', to, '--json').trim()).id;
  await until('the page shows a job submitted after the restart', async () => (await text()).includes(after));
  check('no reload through the node\'s restart', navigations === navs, `${navigations - navs} navigations`);
  check('nothing loaded from outside the node', outside.length === 0, outside.slice(0, 3).join(' '));
  await browser.close();
})().catch((e) => failures.push('error: ' + (e.stack || e.message).split('\n').slice(0, 3).join(' | ')))
  .finally(() => {
    for (const n of Object.values(nodes)) if (n.proc && n.proc.exitCode === null) n.proc.kill('SIGKILL');
    if (failures.length) {
      for (const f of failures) console.log('dashboard_browser: ' + f);
      for (const id of ['n1', 'n2', 'n3', 'n4', 'py-worker']) {
        const f = path.join(tmp, id + '.log');
        if (fs.existsSync(f)) console.log(`--- ${id} log (tail)\n` + fs.readFileSync(f, 'utf8').split('\n').slice(-15).join('\n'));
      }
    }
    fs.rmSync(tmp, { recursive: true, force: true });
    console.log(`dashboard_browser: ${failures.length} failures; screenshots in ${outDir}`);
    process.exit(failures.length ? 1 : 0);
  });
