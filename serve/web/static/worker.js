/* The grid worker's page: today's patrol suggestions and a one-tap outcome report.
 *
 * Works with a poor connection:
 * - the service worker (/sw.js, scope /worker) keeps the page, its assets and the last
 *   answers of /api/v1/me and /api/v1/patrols/today (network first, cache when offline);
 *   the page also keeps its own copy of the last list in localStorage, for browsers where
 *   no service worker runs (plain http on a LAN address);
 * - every outcome goes to an outbox (IndexedDB, else localStorage) with a client_report_id
 *   made once, when the worker taps; the outbox is sent on load, on the `online` event,
 *   after each tap and every 20 s while something waits. The API stores a report once per
 *   client_report_id, so sending again after a lost answer never makes a second report.
 *
 * "Report an event" (issue 16, item 2) takes three taps — open, pick a category, send — with
 * the worker's grid preselected, the time now unless changed, and an optional note. The event
 * goes through the same outbox (kind 'event'; its id is sent as client_event_id) to
 * POST /api/v1/worker/events, which stores it once per id as well.
 */
(function () {
  'use strict';

  const R = window.Risk;
  const el = R.el;
  const TODAY_URL = '/api/v1/patrols/today';
  const REPORT_URL = '/api/v1/patrols/reports';
  const EVENT_URL = '/api/v1/worker/events';
  // used until the server's list (PatrolsToday.categories) is known
  const CATEGORIES = ['dispute', 'theft', 'fire_hazard', 'safety_hazard', 'fraud', 'petition', 'other'];
  const OUTCOMES = ['found_issue', 'nothing_found', 'could_not_visit'];
  const RETRY_MS = 20000;
  const LIST_KEY = 'risk.worker.today.';
  const ME_KEY = 'risk.worker.me';

  R.strings({
    zh: {
      'wk.title': '巡查任务',
      'wk.today': '今日巡查 · {date}',
      'wk.loading': '加载中…',
      'wk.empty': '今天没有巡查建议。',
      'wk.empty.waiting': '你的网格有 {n} 条预警正在等待审核员审核；审核通过后，巡查建议会出现在这里。',
      'wk.empty.none': '今天你的网格没有需要巡查的预警。',
      'wk.offline': '离线',
      'wk.offlineText': '当前没有网络：显示的是上次保存的清单，结果会先保存在本机，联网后自动发送。',
      'wk.summary': '共 {n} 处 · 已报告 {done} 处',
      'wk.summary1': '共 1 处 · 已报告 {done} 处',
      'wk.chance': '72小时概率',
      'wk.cached': '这是 {time} 保存的清单（暂时无法更新）。',
      'wk.noCopy': '无法加载今天的清单，本机也没有保存的副本。请联网后重试。',
      'wk.queued': '{n} 条结果待发送',
      'wk.sendNow': '立即发送',
      'wk.order': '第 {n} 站',
      'wk.grid': '网格 {grid}',
      'wk.when': '建议时间',
      'wk.anyTime': '全天任意时间',
      'wk.leg': '距上一站约 {km} 公里',
      'wk.watch': '关注',
      'wk.reasons': '为什么去',
      'wk.actions': '建议做什么',
      'wk.note': '备注（可选）',
      'wk.notePlaceholder': '例如：3号楼楼道堆放杂物，已提醒物业',
      'wk.outcome': '巡查结果',
      'wk.outcome.found_issue': '发现问题',
      'wk.outcome.nothing_found': '未发现问题',
      'wk.outcome.could_not_visit': '无法前往',
      'wk.status.sent': '已发送：{outcome} · {time}',
      'wk.status.queued': '已保存，待发送：{outcome} · {time}（联网后自动发送）',
      'wk.status.failed': '未能发送：{outcome} — {msg}',
      'wk.change': '更改结果',
      'wk.noteLabel': '备注：{note}',
      'wk.viewOnly': '您正在查看网格员的巡查清单；只有网格员本人可以上报结果。',
      'wk.worker': '网格员 {who}',
      'wk.saved': '已保存，联网后自动发送。',
      'wk.sentToast': '已发送 {n} 条巡查结果。',
      'wk.ev.open': '上报事件',
      'wk.ev.title': '上报事件',
      'wk.ev.category': '什么事件？',
      'wk.ev.grid': '网格',
      'wk.ev.time': '发生时间',
      'wk.ev.timeHint': '不填即为现在',
      'wk.ev.note': '备注（可选）',
      'wk.ev.notePlaceholder': '例如：5号楼东侧井盖松动',
      'wk.ev.send': '发送',
      'wk.ev.cancel': '取消',
      'wk.ev.pick': '请先选择事件类别',
      'wk.ev.today': '本机今天上报的事件',
      'wk.ev.line': '{category} · 网格 {grid} · {time}',
      'wk.ev.sent': '已发送',
      'wk.ev.queued': '已保存，待发送',
      'wk.ev.failed': '未能发送：{msg}',
      'wk.ev.sentToast': '已发送 {n} 条事件。',
    },
    en: {
      'wk.title': 'Patrols',
      'wk.today': "Today's patrols · {date}",
      'wk.loading': 'Loading…',
      'wk.empty': 'No patrol suggestions today.',
      'wk.empty.waiting':
        '{n} warnings for your grids are waiting for a reviewer. Patrol suggestions appear here once they are approved.',
      'wk.empty.none': 'No warnings for your grids need a patrol today.',
      'wk.offline': 'Offline',
      'wk.offlineText':
        'No connection: this is the last saved list. Outcomes are kept on this phone and sent when you are back online.',
      'wk.summary': '{n} visits · {done} reported',
      'wk.summary1': '1 visit · {done} reported',
      'wk.chance': 'Chance (72 h)',
      'wk.cached': 'List saved at {time} (cannot update right now).',
      'wk.noCopy': "Cannot load today's list and none is saved on this phone. Go online and try again.",
      'wk.queued': '{n} outcome(s) waiting to be sent',
      'wk.sendNow': 'Send now',
      'wk.order': 'Stop {n}',
      'wk.grid': 'Grid {grid}',
      'wk.when': 'When',
      'wk.anyTime': 'any time today',
      'wk.leg': 'about {km} km from the previous stop',
      'wk.watch': 'Watch for',
      'wk.reasons': 'Why go',
      'wk.actions': 'What to do',
      'wk.note': 'Note (optional)',
      'wk.notePlaceholder': 'e.g. clutter in the stairwell of building 3; told the manager',
      'wk.outcome': 'Outcome',
      'wk.outcome.found_issue': 'Found an issue',
      'wk.outcome.nothing_found': 'Nothing found',
      'wk.outcome.could_not_visit': 'Could not visit',
      'wk.status.sent': 'Sent: {outcome} · {time}',
      'wk.status.queued': 'Saved, waiting to send: {outcome} · {time} (sent when online)',
      'wk.status.failed': 'Not sent: {outcome} — {msg}',
      'wk.change': 'Change outcome',
      'wk.noteLabel': 'Note: {note}',
      'wk.viewOnly': "You are looking at the grid workers' lists; only the worker can report an outcome.",
      'wk.worker': 'worker {who}',
      'wk.saved': 'Saved; it will be sent when you are online.',
      'wk.sentToast': '{n} patrol outcome(s) sent.',
      'wk.ev.open': 'Report an event',
      'wk.ev.title': 'Report an event',
      'wk.ev.category': 'What happened?',
      'wk.ev.grid': 'Grid',
      'wk.ev.time': 'When',
      'wk.ev.timeHint': 'leave empty for now',
      'wk.ev.note': 'Note (optional)',
      'wk.ev.notePlaceholder': 'e.g. loose manhole cover east of building 5',
      'wk.ev.send': 'Send',
      'wk.ev.cancel': 'Cancel',
      'wk.ev.pick': 'Pick a category first',
      'wk.ev.today': 'Events reported from this phone today',
      'wk.ev.line': '{category} · grid {grid} · {time}',
      'wk.ev.sent': 'Sent',
      'wk.ev.queued': 'Saved, waiting to send',
      'wk.ev.failed': 'Not sent: {msg}',
      'wk.ev.sentToast': '{n} event(s) sent.',
    },
  });

  const $ = (id) => document.getElementById(id);
  const page = {
    user: null,
    today: null, // the /patrols/today answer shown
    cachedAt: null, // when the shown list was saved, if it came from a cache
    reports: [], // this user's outbox records (patrol outcomes and events)
    eventOpen: false, // the "report an event" form is shown
    eventCategory: null, // the category picked in it
    editing: new Set(), // grid ids whose outcome buttons are shown again
    flushing: false,
    flushAgain: false,
    netDown: false,
  };

  // ------------------------------------------------------------------ outbox

  function uuid() {
    if (window.crypto && typeof crypto.randomUUID === 'function') return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16)); // also on plain http
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  /** The outbox: IndexedDB store `reports` keyed by client_report_id (localStorage fallback). */
  const outbox = (function () {
    const DB = 'risk-worker';
    const STORE = 'reports';
    const LS = 'risk.worker.outbox';
    let dbPromise = null;

    function open() {
      if (!('indexedDB' in window)) return Promise.resolve(null);
      if (!dbPromise) {
        dbPromise = new Promise((resolve) => {
          const req = indexedDB.open(DB, 1);
          req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: 'client_report_id' });
          req.onsuccess = () => resolve(req.result);
          req.onerror = () => resolve(null);
          req.onblocked = () => resolve(null);
        });
      }
      return dbPromise;
    }

    function lsAll() {
      try {
        return JSON.parse(localStorage.getItem(LS) || '[]');
      } catch (e) {
        return [];
      }
    }

    async function all() {
      const db = await open();
      if (!db) return lsAll();
      return new Promise((resolve, reject) => {
        const req = db.transaction(STORE, 'readonly').objectStore(STORE).getAll();
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
    }

    async function put(record) {
      const db = await open();
      if (!db) {
        const rest = lsAll().filter((r) => r.client_report_id !== record.client_report_id);
        localStorage.setItem(LS, JSON.stringify([...rest, record]));
        return;
      }
      await new Promise((resolve, reject) => {
        const tx = db.transaction(STORE, 'readwrite');
        tx.objectStore(STORE).put(record);
        tx.oncomplete = () => resolve();
        tx.onerror = () => reject(tx.error);
      });
    }

    return { all, put };
  })();

  async function refreshReports() {
    const mine = (await outbox.all()).filter((r) => page.user && r.user === page.user.username);
    mine.sort((a, b) => a.created_local.localeCompare(b.created_local));
    page.reports = mine;
  }

  // This phone's latest report on the grid today, else the one the server holds (sent from
  // another phone or browser): the list shows the truth, not only this device's memory.
  function latestReport(gridId) {
    const date = page.today && page.today.date;
    const found = page.reports.filter((r) => r.kind !== 'event' && r.grid_id === gridId && r.date === date);
    if (found.length) return found[found.length - 1];
    const s = page.today && (page.today.suggestions || []).find((x) => x.grid_id === gridId && x.reported);
    return s ? { outcome: s.reported.outcome, at: s.reported.at, note: s.reported.note, status: 'sent' } : null;
  }

  async function report(suggestion, outcome, note) {
    const record = {
      client_report_id: uuid(), // made once; every retry sends the same id
      user: page.user.username,
      date: page.today.date,
      grid_id: suggestion.grid_id,
      outcome,
      note: note || null,
      item_ids: (suggestion.item_ids || []).filter(Boolean),
      at: new Date().toISOString(),
      created_local: new Date().toISOString(),
      status: 'queued',
      error: null,
      sent_at: null,
    };
    await outbox.put(record);
    page.editing.delete(suggestion.grid_id);
    await refreshReports();
    render();
    const sent = await flush();
    if (!sent && record.status === 'queued' && (page.netDown || !navigator.onLine)) R.toast(R.t('wk.saved'), 'info');
  }

  function todayDate() {
    return (page.today && page.today.date) || R.fmtDate(new Date().toISOString());
  }

  /** Queue an event the worker saw (outbox kind 'event') and try to send it at once. */
  async function reportEvent(gridId, category, at, note) {
    const record = {
      client_report_id: uuid(), // made once: sent as client_event_id on every try
      kind: 'event',
      user: page.user.username,
      date: todayDate(),
      grid_id: gridId,
      category,
      note: note || null,
      at,
      created_local: new Date().toISOString(),
      status: 'queued',
      error: null,
      sent_at: null,
    };
    await outbox.put(record);
    page.eventOpen = false;
    page.eventCategory = null;
    await refreshReports();
    render();
    const sent = await flush();
    if (!sent && (page.netDown || !navigator.onLine)) R.toast(R.t('wk.saved'), 'info');
  }

  /** Send every queued report of this user, oldest first; returns how many were stored. */
  async function flush() {
    if (!page.user) return 0;
    if (page.flushing) {
      page.flushAgain = true; // a report tapped while sending goes out right after
      return 0;
    }
    page.flushing = true;
    page.flushAgain = false;
    let sent = 0;
    let sentEvents = 0;
    try {
      await refreshReports();
      for (const rec of page.reports.filter((r) => r.status === 'queued')) {
        const isEvent = rec.kind === 'event';
        try {
          const out = await R.api(isEvent ? EVENT_URL : REPORT_URL, { method: 'POST', body: requestBody(rec) });
          Object.assign(rec, { status: 'sent', sent_at: new Date().toISOString(), error: null, created: out.created });
          if (isEvent) sentEvents += 1;
          else sent += 1;
          setNetDown(false);
        } catch (err) {
          if (err.status === 0 || err.status >= 500 || err.status === 401) {
            if (err.status === 0) setNetDown(true);
            break; // no connection (or server trouble, or logged out): keep it, try later
          }
          Object.assign(rec, { status: 'failed', error: R.errorText(err) }); // the API refused it
        }
        await outbox.put(rec);
      }
    } finally {
      page.flushing = false;
    }
    await refreshReports();
    render();
    if (sent) R.toast(R.t('wk.sentToast', { n: sent }), 'ok');
    if (sentEvents) R.toast(R.t('wk.ev.sentToast', { n: sentEvents }), 'ok');
    if (page.flushAgain && !page.netDown) return sent + sentEvents + (await flush());
    return sent + sentEvents;
  }

  /** The API body of an outbox record: an event (POST /worker/events) or a patrol outcome. */
  function requestBody(rec) {
    if (rec.kind === 'event') {
      return {
        client_event_id: rec.client_report_id,
        grid_id: rec.grid_id,
        category: rec.category,
        occurred_at: rec.at,
        note: rec.note,
      };
    }
    return {
      client_report_id: rec.client_report_id,
      grid_id: rec.grid_id,
      outcome: rec.outcome,
      note: rec.note,
      item_ids: rec.item_ids,
      at: rec.at,
    };
  }

  // ------------------------------------------------------------------ today's list

  function setNetDown(down) {
    page.netDown = down;
    $('wk-offline').hidden = !(down || !navigator.onLine);
  }

  function saveCopy(data) {
    try {
      localStorage.setItem(LIST_KEY + page.user.username, JSON.stringify({ saved_at: new Date().toISOString(), data }));
    } catch (e) {
      /* storage full or private mode: the service worker's copy still works */
    }
  }

  function localCopy() {
    try {
      return JSON.parse(localStorage.getItem(LIST_KEY + page.user.username) || 'null');
    } catch (e) {
      return null;
    }
  }

  async function loadToday() {
    let response = null;
    try {
      response = await fetch(TODAY_URL, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    } catch (err) {
      response = null;
    }
    if (response && response.status === 401) {
      window.location.assign('/login?next=' + encodeURIComponent('/worker'));
      return;
    }
    if (response && response.ok) {
      const data = await response.json();
      const fromCache = response.headers.get('X-Risk-From-Cache') === '1';
      page.today = data;
      page.cachedAt = fromCache ? response.headers.get('X-Risk-Saved-At') || '' : null;
      setNetDown(fromCache);
      if (!fromCache) saveCopy(data);
      return;
    }
    const copy = localCopy();
    setNetDown(!response);
    if (copy) {
      page.today = copy.data;
      page.cachedAt = copy.saved_at;
      return;
    }
    $('wk-error').textContent = response ? R.t('error.http', { status: response.status }) : R.t('wk.noCopy');
    $('wk-error').hidden = false;
  }

  // ------------------------------------------------------------------ rendering

  function outcomeText(outcome) {
    return R.t('wk.outcome.' + outcome);
  }

  function statusLine(rec) {
    const vars = { outcome: outcomeText(rec.outcome), time: R.fmtTime(rec.at).slice(11) };
    if (rec.status === 'sent') return el('p', { class: 'wk-status wk-status-sent', 'data-status': 'sent' }, '✓ ', R.t('wk.status.sent', vars));
    if (rec.status === 'failed') {
      return el('p', { class: 'wk-status wk-status-failed', 'data-status': 'failed', role: 'alert' }, '✗ ', R.t('wk.status.failed', Object.assign(vars, { msg: rec.error })));
    }
    return el('p', { class: 'wk-status wk-status-queued', 'data-status': 'queued' }, R.t('wk.status.queued', vars));
  }

  function reasonsOf(suggestion) {
    // [{target, reasons: [...]}] — one entry per warning the visit covers.
    const out = [];
    for (const entry of suggestion.reasons || []) {
      const list = entry && Array.isArray(entry.reasons) ? entry.reasons : [entry];
      for (const r of list) {
        const text = R.reasonText(r, { plain: true }); // a worker needs the facts, not the points
        if (text && !out.includes(text)) out.push(text);
      }
    }
    return out.slice(0, 4);
  }

  function windowText(s) {
    if (s.window) return s.window;
    if (s.start_hour !== null && s.start_hour !== undefined && s.end_hour !== null && s.end_hour !== undefined) {
      const pad = (h) => String(h).padStart(2, '0') + ':00';
      return pad(s.start_hour) + '–' + pad(s.end_hour);
    }
    return R.t('wk.anyTime');
  }

  function renderVisit(s) {
    const gridId = s.grid_id;
    const rec = latestReport(gridId);
    const headId = 'wk-h-' + gridId.replace(/[^A-Za-z0-9_-]/g, '_');
    const noteId = 'wk-note-' + gridId.replace(/[^A-Za-z0-9_-]/g, '_');
    const actions = Risk.lang === 'zh' ? s.actions_zh : s.actions_en;
    const reasons = reasonsOf(s);
    const leg = s.visit_order > 1 && s.leg_km !== null && s.leg_km !== undefined
      ? el('p', { class: 'wk-leg', text: R.t('wk.leg', { km: Number(s.leg_km).toFixed(1) }) })
      : null;

    const body = [
      el(
        'div',
        { class: 'wk-visit-head' },
        el('span', { class: 'wk-order', 'aria-hidden': 'true', text: String(s.visit_order) }),
        el(
          'h3',
          { class: 'wk-visit-title', id: headId },
          el('span', { class: 'wk-sr', text: R.t('wk.order', { n: s.visit_order }) + ' · ' }),
          R.t('wk.grid', { grid: gridId }),
        ),
        R.levelBadge(s.level),
      ),
      el(
        'dl',
        { class: 'wk-facts' },
        el('dt', { text: R.t('wk.when') }),
        el('dd', { class: 'wk-window', text: windowText(s) }),
        el('dt', { text: R.t('wk.watch') }),
        el('dd', { text: (s.targets || [s.target]).map((t) => R.targetLabel(t)).join(R.lang === 'zh' ? '、' : ', ') }),
        el('dt', { text: R.t('wk.chance') }),
        el('dd', { class: 'wk-chance', text: R.fmtPct(s.prob) }),
      ),
      leg,
    ];
    if (reasons.length) {
      body.push(el('h4', { text: R.t('wk.reasons') }), el('ul', { class: 'wk-reasons' }, reasons.map((text) => el('li', { text }))));
    }
    if (actions && actions.length) {
      body.push(el('h4', { text: R.t('wk.actions') }), el('ul', { class: 'wk-actions' }, actions.map((text) => el('li', { text }))));
    }

    const canReport = page.user.role === 'grid_worker';
    const showButtons = canReport && (!rec || page.editing.has(gridId) || rec.status === 'failed');
    if (!canReport) body.push(el('p', { class: 'wk-who', text: R.t('wk.worker', { who: s.worker_id }) }));
    if (rec) {
      body.push(statusLine(rec));
      if (rec.note) body.push(el('p', { class: 'wk-note-echo', text: R.t('wk.noteLabel', { note: rec.note }) }));
    }
    if (showButtons) {
      const note = el('textarea', {
        id: noteId,
        class: 'wk-note',
        rows: '2',
        maxlength: '2000',
        placeholder: R.t('wk.notePlaceholder'),
      });
      const buttons = OUTCOMES.map((outcome) =>
        el('button', {
          type: 'button',
          class: 'wk-outcome wk-outcome-' + outcome,
          'data-outcome': outcome,
          'aria-describedby': headId,
          text: outcomeText(outcome),
          onclick: (e) => {
            e.currentTarget.closest('.wk-report').querySelectorAll('button').forEach((b) => (b.disabled = true));
            report(s, outcome, note.value.trim());
          },
        }),
      );
      body.push(
        el(
          'div',
          { class: 'wk-report' },
          el('label', { for: noteId, class: 'wk-note-label', text: R.t('wk.note') }),
          note,
          el('p', { class: 'wk-outcome-label', text: R.t('wk.outcome') }),
          el('div', { class: 'wk-outcomes', role: 'group', 'aria-label': R.t('wk.outcome') }, buttons),
        ),
      );
    } else if (canReport) {
      body.push(
        el('button', {
          type: 'button',
          class: 'btn btn-secondary wk-change',
          text: R.t('wk.change'),
          onclick: () => {
            page.editing.add(gridId);
            render();
          },
        }),
      );
    }
    return el(
      'li',
      {
        class: 'wk-visit wk-level-' + s.level + (rec && !showButtons ? ' wk-done' : ''),
        'data-grid-id': gridId,
        'aria-labelledby': headId,
      },
      body,
    );
  }

  // ------------------------------------------------------------------ report an event

  /** The worker's own grids, the grid of their next visit first (preselected). */
  function workerGrids() {
    const scope = page.user && page.user.scope;
    const own = scope && scope.kind === 'grids' ? [...scope.values] : [];
    const next = ((page.today && page.today.suggestions) || [])
      .filter((s) => s.worker_id === page.user.username && own.includes(s.grid_id))
      .sort((a, b) => a.visit_order - b.visit_order)[0];
    return next ? [next.grid_id, ...own.filter((g) => g !== next.grid_id)] : own;
  }

  function eventCategories() {
    const listed = page.today && page.today.categories;
    return listed && listed.length ? listed : CATEGORIES;
  }

  function eventLine(rec) {
    const vars = { category: R.targetLabel(rec.category), grid: rec.grid_id, time: R.fmtTime(rec.at).slice(11) };
    const state =
      rec.status === 'sent'
        ? '✓ ' + R.t('wk.ev.sent')
        : rec.status === 'failed'
          ? '✗ ' + R.t('wk.ev.failed', { msg: rec.error })
          : R.t('wk.ev.queued');
    return el(
      'li',
      { class: 'wk-ev-item wk-ev-' + rec.status, 'data-status': rec.status, 'data-category': rec.category },
      el('span', { class: 'wk-ev-what', text: R.t('wk.ev.line', vars) }),
      el('span', { class: 'wk-ev-state', text: state }),
    );
  }

  function eventForm(grids) {
    // what the worker has typed so far survives a re-render (a sent report, the language)
    const draft = {
      grid: $('wk-ev-grid') ? $('wk-ev-grid').value : grids[0],
      time: $('wk-ev-time') ? $('wk-ev-time').value : '',
      note: $('wk-ev-note') ? $('wk-ev-note').value : '',
    };
    const send = el('button', {
      type: 'submit',
      id: 'wk-ev-send',
      class: 'btn wk-ev-send',
      disabled: !page.eventCategory,
      text: R.t('wk.ev.send'),
    });
    const chips = eventCategories().map((c) =>
      el('button', {
        type: 'button',
        id: 'wk-ev-cat-' + c.replace(/[^A-Za-z0-9_-]/g, '_'),
        class: 'wk-ev-cat',
        'data-category': c,
        'aria-pressed': String(page.eventCategory === c),
        text: R.targetLabel(c),
        onclick: (e) => {
          page.eventCategory = c;
          e.currentTarget.parentNode.querySelectorAll('.wk-ev-cat').forEach((b) => b.setAttribute('aria-pressed', String(b === e.currentTarget)));
          send.disabled = false;
        },
      }),
    );
    const gridField =
      grids.length > 1
        ? el('select', { id: 'wk-ev-grid', class: 'wk-ev-grid' }, grids.map((g) => el('option', { value: g, selected: g === draft.grid, text: R.t('wk.grid', { grid: g }) })))
        : el('span', { id: 'wk-ev-grid-one', class: 'wk-ev-grid-one', 'data-grid-id': grids[0], text: R.t('wk.grid', { grid: grids[0] }) });
    const time = el('input', { type: 'datetime-local', id: 'wk-ev-time', class: 'wk-ev-time', value: draft.time });
    const note = el('textarea', {
      id: 'wk-ev-note',
      class: 'wk-note wk-ev-note',
      rows: '2',
      maxlength: '2000',
      placeholder: R.t('wk.ev.notePlaceholder'),
    });
    note.value = draft.note;
    return el(
      'form',
      {
        id: 'wk-ev-form',
        class: 'wk-ev-form',
        'aria-labelledby': 'wk-ev-title',
        onsubmit: (e) => {
          e.preventDefault();
          if (!page.eventCategory) return;
          send.disabled = true;
          const grid = grids.length > 1 ? $('wk-ev-grid').value : grids[0];
          // a time typed on the phone is the phone's local time; empty: the moment of the tap
          const at = time.value ? new Date(time.value).toISOString() : new Date().toISOString();
          reportEvent(grid, page.eventCategory, at, note.value.trim());
        },
      },
      el('h3', { id: 'wk-ev-title', class: 'wk-ev-title', text: R.t('wk.ev.title') }),
      el('p', { class: 'wk-outcome-label', text: R.t('wk.ev.category') }),
      el('div', { class: 'wk-ev-cats', role: 'group', 'aria-label': R.t('wk.ev.category') }, chips),
      el(
        'div',
        { class: 'wk-ev-fields' },
        el('label', { for: grids.length > 1 ? 'wk-ev-grid' : null, class: 'wk-note-label', text: R.t('wk.ev.grid') }),
        gridField,
        el('label', { for: 'wk-ev-time', class: 'wk-note-label', text: R.t('wk.ev.time') }),
        el('div', {}, time, el('span', { class: 'wk-ev-hint', text: ' ' + R.t('wk.ev.timeHint') })),
      ),
      el('label', { for: 'wk-ev-note', class: 'wk-note-label', text: R.t('wk.ev.note') }),
      note,
      el(
        'div',
        { class: 'wk-ev-buttons' },
        send,
        el('button', {
          type: 'button',
          class: 'btn btn-secondary',
          text: R.t('wk.ev.cancel'),
          onclick: () => {
            page.eventOpen = false;
            page.eventCategory = null;
            render();
          },
        }),
      ),
    );
  }

  function renderEvents() {
    const box = $('wk-event');
    const grids = page.user && page.user.role === 'grid_worker' ? workerGrids() : [];
    box.hidden = grids.length === 0;
    if (!grids.length) return;
    const active = document.activeElement && box.contains(document.activeElement) ? document.activeElement.id : null;
    const today = todayDate();
    const mine = page.reports.filter((r) => r.kind === 'event' && r.date === today);
    const parts = [];
    if (page.eventOpen) parts.push(eventForm(grids));
    else {
      parts.push(
        el('button', {
          type: 'button',
          id: 'wk-ev-open',
          class: 'wk-ev-open',
          text: '＋ ' + R.t('wk.ev.open'),
          onclick: () => {
            page.eventOpen = true;
            page.eventCategory = null;
            render();
            const first = document.querySelector('.wk-ev-cat');
            if (first) first.focus();
          },
        }),
      );
    }
    if (mine.length) {
      parts.push(
        el('h3', { class: 'wk-ev-list-title', text: R.t('wk.ev.today') }),
        el('ul', { id: 'wk-ev-list', class: 'wk-ev-list' }, mine.map(eventLine)),
      );
    }
    box.replaceChildren(...parts);
    if (active && document.getElementById(active)) document.getElementById(active).focus();
  }

  function render() {
    $('wk-loading').hidden = true;
    renderEvents();
    const data = page.today;
    if (!data) return;
    const visits = [...data.suggestions].sort(
      (a, b) => a.worker_id.localeCompare(b.worker_id) || a.visit_order - b.visit_order,
    );
    $('wk-title').textContent = R.t('wk.today', { date: data.date });
    const done = visits.filter((s) => latestReport(s.grid_id)).length;
    $('wk-summary').textContent = R.t(visits.length === 1 ? 'wk.summary1' : 'wk.summary', { n: visits.length, done });
    const cached = $('wk-cached');
    cached.hidden = page.cachedAt === null;
    if (page.cachedAt !== null) cached.textContent = R.t('wk.cached', { time: page.cachedAt ? R.fmtTime(page.cachedAt) : '—' });
    const queued = page.reports.filter((r) => r.status === 'queued').length;
    const line = $('wk-queue');
    line.hidden = queued === 0;
    line.replaceChildren(
      el('span', { text: R.t('wk.queued', { n: queued }) }),
      ' ',
      el('button', { type: 'button', class: 'btn btn-small', id: 'wk-send-now', text: R.t('wk.sendNow'), onclick: () => flush() }),
    );
    $('wk-empty').hidden = visits.length > 0;
    // Say why the list is empty: warnings still wait for review, or none concern these grids.
    const waiting = data.waiting_review || 0;
    $('wk-empty').textContent = waiting > 0 ? R.t('wk.empty.waiting', { n: waiting }) : R.t('wk.empty.none');
    // Keep what the worker is typing when the list re-renders.
    const typing = {};
    document.querySelectorAll('.wk-note').forEach((t) => (typing[t.id] = t.value));
    const active = document.activeElement && document.activeElement.id;
    $('wk-visits').replaceChildren(...visits.map(renderVisit));
    for (const [id, value] of Object.entries(typing)) {
      const t = document.getElementById(id);
      if (t) t.value = value;
    }
    if (active && document.getElementById(active)) document.getElementById(active).focus();
  }

  // ------------------------------------------------------------------ start

  async function who() {
    try {
      const user = await R.header('wk.title');
      localStorage.setItem(ME_KEY, JSON.stringify(user));
      return user;
    } catch (err) {
      if (err.status === 401) return null; // Risk.api is taking us to the login page
      try {
        return JSON.parse(localStorage.getItem(ME_KEY) || 'null'); // offline without a service worker
      } catch (e) {
        return null;
      }
    }
  }

  function registerServiceWorker() {
    if (!('serviceWorker' in navigator)) return;
    navigator.serviceWorker.register('/sw.js', { scope: '/worker' }).catch(() => {
      /* not a secure context or blocked: the localStorage copy still covers the list */
    });
  }

  async function start() {
    registerServiceWorker();
    setNetDown(false);
    window.addEventListener('online', () => {
      setNetDown(false);
      flush();
    });
    window.addEventListener('offline', () => setNetDown(true));
    R.onLang(render);
    page.user = await who();
    if (!page.user) return;
    if (page.user.role !== 'grid_worker') {
      $('wk-summary').after(el('p', { class: 'wk-view-only', 'data-i18n': 'wk.viewOnly', text: R.t('wk.viewOnly') }));
    }
    await loadToday();
    await refreshReports();
    render();
    flush();
    setInterval(() => {
      if (page.reports.some((r) => r.status === 'queued')) flush();
    }, RETRY_MS);
  }

  window.RiskWorker = { flush, reports: () => outbox.all() };
  start();
})();
