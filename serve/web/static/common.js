/* The shared page shell: the global `Risk` object (web contract, issue 6).
 *
 *   Risk.lang                      'zh' (default) or 'en'; stored in localStorage['risk.lang']
 *   Risk.strings({zh:{}, en:{}})   register page strings
 *   Risk.t(key, vars)              translated string; {name} placeholders filled from vars
 *   Risk.applyI18n(root)           fill [data-i18n] text and [data-i18n-placeholder|title|aria-label]
 *   Risk.setLang(lang)             switch language, re-apply, fire 'risk:lang' on document
 *   Risk.onLang(fn)                call fn() after every language switch (re-render dynamic parts)
 *   Risk.api(path, {method, body, signal})   parsed JSON (null on 204); rejects with RiskApiError
 *   Risk.me()                      cached GET /api/v1/me
 *   Risk.header(titleKey, {public})          top bar into <header id="topbar">
 *   Risk.levelBadge(level)         element with colour AND text; Risk.LEVEL_COLOURS
 *   Risk.fmtPct(p), Risk.fmtTime(iso), Risk.fmtDate(iso), Risk.toast(msg, kind)
 *   Risk.el(tag, attrs, ...children)         small DOM builder
 *   Risk.reasonText(reason), Risk.targetLabel(t), Risk.stateLabel(s), Risk.roleLabel(r)
 *
 * Paths given to Risk.api may be absolute ('/api/v1/me') or relative to the API ('/me').
 * A network failure rejects with RiskApiError {status: 0, code: 'network'}.
 */
(function () {
  'use strict';

  const LANG_KEY = 'risk.lang';
  const API = '/api/v1';
  const LANGS = ['zh', 'en'];
  const catalog = { zh: {}, en: {} };

  const LEVEL_COLOURS = Object.freeze({
    red: '#d7301f',
    orange: '#fc8d59',
    yellow: '#fdd835',
    blue: '#4575b4',
    none: '#c9ced6',
  });
  // Text drawn on each level colour (contrast ≥ 4.5:1).
  const LEVEL_TEXT = Object.freeze({
    red: '#ffffff',
    orange: '#1b1f24',
    yellow: '#1b1f24',
    blue: '#ffffff',
    none: '#1b1f24',
  });
  const LEVELS = ['red', 'orange', 'yellow', 'blue'];

  // Which page each role may open (mirrors serve/web/pages.py PAGE_ROLES).
  const NAV = [
    { href: '/commander', key: 'nav.commander', roles: ['commander', 'admin', 'analyst'] },
    { href: '/reviewer', key: 'nav.reviewer', roles: ['reviewer', 'admin'] },
    { href: '/worker', key: 'nav.worker', roles: ['grid_worker', 'admin'] },
    { href: '/analyst', key: 'nav.analyst', roles: ['analyst', 'admin'] },
  ];

  function initialLang() {
    let lang = null;
    try {
      const fromUrl = new URLSearchParams(window.location.search).get('lang');
      if (LANGS.includes(fromUrl)) {
        lang = fromUrl;
        localStorage.setItem(LANG_KEY, lang);
      } else {
        lang = localStorage.getItem(LANG_KEY);
      }
    } catch (e) {
      lang = null;
    }
    return LANGS.includes(lang) ? lang : 'zh';
  }

  function strings(dict) {
    for (const lang of LANGS) Object.assign(catalog[lang], (dict && dict[lang]) || {});
  }

  function t(key, vars) {
    let text = catalog[Risk.lang][key];
    if (text === undefined) text = catalog.zh[key];
    if (text === undefined) return key;
    if (vars) {
      text = text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
    }
    return text;
  }

  function has(key) {
    return key in catalog[Risk.lang] || key in catalog.zh;
  }

  const I18N_ATTRS = [
    ['data-i18n-placeholder', 'placeholder'],
    ['data-i18n-title', 'title'],
    ['data-i18n-aria-label', 'aria-label'],
  ];

  function applyI18n(root) {
    root = root || document;
    document.documentElement.lang = Risk.lang === 'zh' ? 'zh-CN' : 'en';
    root.querySelectorAll('[data-i18n]').forEach((node) => {
      node.textContent = t(node.getAttribute('data-i18n'));
    });
    for (const [data, attr] of I18N_ATTRS) {
      root.querySelectorAll('[' + data + ']').forEach((node) => {
        node.setAttribute(attr, t(node.getAttribute(data)));
      });
    }
    if (Risk._titleKey) document.title = t(Risk._titleKey) + ' · ' + t('app.name');
  }

  const langListeners = [];

  function onLang(fn) {
    langListeners.push(fn);
  }

  function setLang(lang) {
    if (!LANGS.includes(lang) || lang === Risk.lang) return;
    Risk.lang = lang;
    try {
      localStorage.setItem(LANG_KEY, lang);
    } catch (e) {
      /* private mode: the choice lasts for this page only */
    }
    applyI18n(document);
    if (Risk._header) renderHeader();
    for (const fn of langListeners) fn(lang);
    document.dispatchEvent(new CustomEvent('risk:lang', { detail: { lang } }));
  }

  // ------------------------------------------------------------------ API

  class RiskApiError extends Error {
    constructor(status, code, message, fields) {
      super(message || code || 'error');
      this.name = 'RiskApiError';
      this.status = status;
      this.code = code;
      this.fields = fields || [];
    }
  }

  function loginUrl() {
    const here = window.location.pathname + window.location.search;
    return '/login?next=' + encodeURIComponent(here);
  }

  async function api(path, opts) {
    opts = opts || {};
    const url = path.startsWith('/api/') ? path : API + (path.startsWith('/') ? path : '/' + path);
    const init = {
      method: opts.method || (opts.body === undefined ? 'GET' : 'POST'),
      headers: { Accept: 'application/json' },
      credentials: 'same-origin',
      signal: opts.signal,
    };
    if (opts.body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(opts.body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (err) {
      if (err && err.name === 'AbortError') throw err;
      throw new RiskApiError(0, 'network', t('error.network'));
    }
    if (response.status === 204) return null;
    let data = null;
    const text = await response.text();
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (e) {
        data = null;
      }
    }
    if (response.ok) return data;
    const error = (data && data.error) || {};
    const fields = (error.fields || []).map((f) => ({ field: f.field, message: f.message }));
    const failure = new RiskApiError(
      response.status,
      error.code || 'http_' + response.status,
      error.message || t('error.http', { status: response.status }),
      fields,
    );
    const onLogin = window.location.pathname === '/login' || url.endsWith('/auth/login');
    if (response.status === 401 && !onLogin) window.location.assign(loginUrl());
    throw failure;
  }

  let mePromise = null;

  function me(opts) {
    if (!mePromise || (opts && opts.refresh)) {
      mePromise = api('/me').catch((err) => {
        mePromise = null;
        throw err;
      });
    }
    return mePromise;
  }

  async function logout() {
    try {
      await api('/auth/logout', { method: 'POST' });
    } catch (err) {
      /* already logged out: go to the login page all the same */
    }
    mePromise = null;
    window.location.assign('/login');
  }

  // ------------------------------------------------------------------ DOM helpers

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === 'class') node.className = value;
      else if (name === 'text') node.textContent = value;
      else if (name === 'dataset') Object.assign(node.dataset, value);
      // through the CSSOM: a style *attribute* is inline style, which the CSP refuses
      else if (name === 'style') node.style.cssText = value;
      else if (name.startsWith('on') && typeof value === 'function') {
        node.addEventListener(name.slice(2), value);
      } else node.setAttribute(name, value === true ? '' : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function svgEl(tag, attrs) {
    const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value !== null && value !== undefined) node.setAttribute(name, value);
    }
    return node;
  }

  // ------------------------------------------------------------------ header

  function renderHeader() {
    const { titleKey, isPublic, user } = Risk._header;
    const bar = document.getElementById('topbar');
    if (!bar) return;
    bar.replaceChildren();
    bar.classList.add('topbar');
    const brand = el(
      'a',
      { class: 'brand', href: '/' },
      el('span', { class: 'brand-mark', 'aria-hidden': 'true' }),
      el('span', { class: 'brand-name', text: t('app.name') }),
    );
    const title = el('h1', { class: 'page-title', text: titleKey ? t(titleKey) : '' });
    const inNav = (n) => n.href === window.location.pathname && user && n.roles.includes(user.role);
    // The highlighted nav link names the page already: keep the title for screen readers only.
    if (!isPublic && NAV.filter((n) => !user || n.roles.includes(user.role)).length > 1 && NAV.some(inNav)) {
      title.classList.add('visually-hidden');
    }
    const left = el('div', { class: 'topbar-left' }, brand, title);
    const right = el('div', { class: 'topbar-right' });
    if (!isPublic && user) {
      const links = NAV.filter((n) => n.roles.includes(user.role));
      const here = links.some((n) => n.href === window.location.pathname);
      if (links.length > 1 || (links.length === 1 && !here)) {
        const nav = el('nav', { class: 'nav', 'aria-label': t('nav.label') });
        for (const link of links) {
          const current = window.location.pathname === link.href;
          nav.append(
            el('a', { href: link.href, 'aria-current': current ? 'page' : null, text: t(link.key) }),
          );
        }
        left.append(nav);
      }
      right.append(
        el(
          'span',
          { class: 'user', id: 'user-info' },
          el('span', { class: 'user-name', text: user.username }),
          el('span', { class: 'user-role', text: roleLabel(user.role) }),
        ),
      );
    }
    const switcher = el('div', { class: 'lang-switch', role: 'group', 'aria-label': t('lang.label') });
    for (const [lang, label] of [
      ['zh', '中文'],
      ['en', 'EN'],
    ]) {
      switcher.append(
        el('button', {
          type: 'button',
          class: 'lang-btn',
          lang: lang === 'zh' ? 'zh-CN' : 'en',
          'data-lang': lang,
          'aria-pressed': String(Risk.lang === lang),
          text: label,
          onclick: () => setLang(lang),
        }),
      );
    }
    right.append(switcher);
    if (!isPublic && user) {
      right.append(
        el('button', {
          type: 'button',
          class: 'btn btn-quiet logout',
          id: 'logout',
          text: t('btn.logout'),
          onclick: logout,
        }),
      );
    }
    bar.append(left, right);
  }

  /** Render the top bar; resolves to the user (null on a public page such as login). */
  async function header(titleKey, opts) {
    const isPublic = Boolean(opts && opts.public);
    Risk._titleKey = titleKey || null;
    Risk._header = { titleKey, isPublic, user: null };
    applyI18n(document);
    renderHeader();
    if (isPublic) return null;
    const user = await me();
    Risk._header.user = user;
    renderHeader();
    return user;
  }

  // ------------------------------------------------------------------ formatting

  function levelBadge(level) {
    const key = LEVELS.includes(level) ? level : 'none';
    return el('span', {
      class: 'badge level-' + key,
      'data-level': key,
      text: t('level.' + key),
    });
  }

  function fmtPct(p) {
    if (p === null || p === undefined || Number.isNaN(Number(p))) return '—';
    const pct = Number(p) * 100;
    return (pct > 0 && pct < 10 ? pct.toFixed(1) : pct.toFixed(0)) + '%';
  }

  function cityTz() {
    const tz = document.documentElement.dataset.tz;
    return tz && !tz.startsWith('__') ? tz : 'Asia/Shanghai';
  }

  function parts(iso, withTime) {
    if (!iso) return null;
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return null;
    const opts = { timeZone: cityTz(), year: 'numeric', month: '2-digit', day: '2-digit' };
    if (withTime) {
      Object.assign(opts, { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
    }
    const out = {};
    for (const part of new Intl.DateTimeFormat('en-GB', opts).formatToParts(date)) {
      out[part.type] = part.value;
    }
    return out;
  }

  /** City-local "YYYY-MM-DD HH:MM" (the same in both languages: unambiguous);
   * ``{seconds: true}`` adds ":SS", ``{date: false}`` leaves the date out. */
  function fmtTime(iso, opts) {
    const p = parts(iso, true);
    if (!p) return '—';
    const time = `${p.hour}:${p.minute}` + (opts && opts.seconds ? `:${p.second}` : '');
    return opts && opts.date === false ? time : `${p.year}-${p.month}-${p.day} ${time}`;
  }

  function fmtDate(iso) {
    const p = parts(iso, false);
    return p ? `${p.year}-${p.month}-${p.day}` : '—';
  }

  function toast(msg, kind) {
    kind = kind || 'info';
    let box = document.getElementById('toasts');
    if (!box) {
      box = el('div', { id: 'toasts', class: 'toasts', role: 'status', 'aria-live': 'polite' });
      document.body.append(box);
    }
    const item = el(
      'div',
      { class: 'toast toast-' + kind },
      el('span', { class: 'toast-text', text: msg }),
    );
    const close = el('button', {
      type: 'button',
      class: 'toast-close',
      'aria-label': t('btn.close'),
      text: '×',
      onclick: () => item.remove(),
    });
    item.append(close);
    box.append(item);
    setTimeout(() => item.remove(), kind === 'error' ? 10000 : 5000);
    return item;
  }

  /** A stored reason in the page's language: its words with the points ('… : +12 pts'), or
   *  with `{ plain: true }` its words only (records from before issue 15 have no words). */
  function reasonText(reason, opts) {
    if (reason === null || reason === undefined) return '';
    if (typeof reason === 'string') return reason;
    const plain = Boolean(opts && opts.plain);
    const zh = (plain && reason.words_zh) || reason.text_zh || reason.zh;
    const en = (plain && reason.words_en) || reason.text_en || reason.en;
    const text = Risk.lang === 'zh' ? zh || en : en || zh;
    if (text) return text;
    const family = reason.family ? t('family.' + reason.family) : '';
    return family;
  }

  function targetLabel(target) {
    return has('target.' + target) ? t('target.' + target) : target;
  }

  function stateLabel(state) {
    return has('state.' + state) ? t('state.' + state) : state;
  }

  function roleLabel(role) {
    return has('role.' + role) ? t('role.' + role) : role;
  }

  /** A message for an API failure, in the page's language. */
  function errorText(err) {
    if (!err) return t('error.unknown');
    if (err.status === 0) return t('error.network');
    if (err.status === 403) return t('error.forbidden') + (err.message ? ' — ' + err.message : '');
    if (err.status === 404) return t('error.not_found');
    if (err.status >= 500) return t('error.server');
    return err.message || t('error.unknown');
  }

  // ------------------------------------------------------------------ shared strings

  strings({
    zh: {
      'app.name': '平安网格 · 风险预警',
      'nav.label': '页面',
      'nav.commander': '指挥总览',
      'nav.reviewer': '审核队列',
      'nav.worker': '巡查任务',
      'nav.analyst': '模型分析',
      'lang.label': '语言',
      'btn.logout': '退出登录',
      'btn.login': '登录',
      'btn.close': '关闭',
      'btn.cancel': '取消',
      'btn.confirm': '确认',
      'btn.refresh': '刷新',
      'btn.retry': '重试',
      'btn.back': '返回',
      'level.red': '红色',
      'level.orange': '橙色',
      'level.yellow': '黄色',
      'level.blue': '蓝色',
      'level.none': '无预警',
      'level.label': '等级',
      'target.any': '任意事件',
      'target.dispute': '矛盾纠纷',
      'target.theft': '盗窃',
      'target.fire_hazard': '火灾隐患',
      'target.safety_hazard': '安全隐患',
      'target.fraud': '诈骗',
      'target.petition': '信访',
      'target.other': '其他',
      'state.pending': '待审核',
      'state.approved': '已批准',
      'state.rejected': '已驳回',
      'state.escalated': '已上报',
      'state.expired': '已过期',
      'state.dispatched': '已派发',
      'state.completed': '已完成',
      'role.analyst': '分析员',
      'role.reviewer': '审核员',
      'role.commander': '指挥员',
      'role.grid_worker': '网格员',
      'role.admin': '管理员',
      'family.history': '历史事件',
      'family.neighbourhood': '周边',
      'family.time': '时间',
      'family.calendar': '节假日',
      'family.area': '区域',
      'family.population': '人口',
      'family.reporting': '上报',
      'family.classic': '经典热点方法',
      'family.other': '其他',
      'error.network': '网络连接失败，请稍后重试。',
      'error.http': '请求失败（{status}）。',
      'error.forbidden': '没有权限',
      'error.not_found': '未找到。',
      'error.server': '服务器出错，请稍后重试。',
      'error.unknown': '出错了。',
      'common.loading': '加载中…',
      'common.empty': '暂无数据',
      'common.none': '—',
    },
    en: {
      'app.name': 'Grid Risk Early Warning',
      'nav.label': 'Pages',
      'nav.commander': 'Overview',
      'nav.reviewer': 'Review queue',
      'nav.worker': 'Patrols',
      'nav.analyst': 'Models',
      'lang.label': 'Language',
      'btn.logout': 'Log out',
      'btn.login': 'Log in',
      'btn.close': 'Close',
      'btn.cancel': 'Cancel',
      'btn.confirm': 'Confirm',
      'btn.refresh': 'Refresh',
      'btn.retry': 'Retry',
      'btn.back': 'Back',
      'level.red': 'Red',
      'level.orange': 'Orange',
      'level.yellow': 'Yellow',
      'level.blue': 'Blue',
      'level.none': 'No warning',
      'level.label': 'Level',
      'target.any': 'Any event',
      'target.dispute': 'Disputes',
      'target.theft': 'Theft',
      'target.fire_hazard': 'Fire hazards',
      'target.safety_hazard': 'Safety hazards',
      'target.fraud': 'Fraud',
      'target.petition': 'Petitions',
      'target.other': 'Other',
      'state.pending': 'Pending',
      'state.approved': 'Approved',
      'state.rejected': 'Rejected',
      'state.escalated': 'Escalated',
      'state.expired': 'Expired',
      'state.dispatched': 'Dispatched',
      'state.completed': 'Completed',
      'role.analyst': 'Analyst',
      'role.reviewer': 'Reviewer',
      'role.commander': 'Commander',
      'role.grid_worker': 'Grid worker',
      'role.admin': 'Admin',
      'family.history': 'Event history',
      'family.neighbourhood': 'Neighbourhood',
      'family.time': 'Time',
      'family.calendar': 'Calendar',
      'family.area': 'Area',
      'family.population': 'Population',
      'family.reporting': 'Reporting',
      'family.classic': 'Classic hotspot methods',
      'family.other': 'Other',
      'error.network': 'No connection. Please try again later.',
      'error.http': 'Request failed ({status}).',
      'error.forbidden': 'Not allowed',
      'error.not_found': 'Not found.',
      'error.server': 'Server error. Please try again later.',
      'error.unknown': 'Something went wrong.',
      'common.loading': 'Loading…',
      'common.empty': 'Nothing to show',
      'common.none': '—',
    },
  });

  const Risk = {
    lang: initialLang(),
    LEVELS,
    LEVEL_COLOURS,
    LEVEL_TEXT,
    RiskApiError,
    strings,
    t,
    has,
    applyI18n,
    setLang,
    onLang,
    api,
    me,
    logout,
    header,
    levelBadge,
    fmtPct,
    fmtTime,
    fmtDate,
    toast,
    el,
    svgEl,
    reasonText,
    targetLabel,
    stateLabel,
    roleLabel,
    errorText,
    _titleKey: null,
    _header: null,
  };
  window.Risk = Risk;
  window.RiskApiError = RiskApiError;
  document.documentElement.lang = Risk.lang === 'zh' ? 'zh-CN' : 'en';
})();
