/* Commander page: KPI tiles, the risk map with street and community outlines, the ranked
 * table, filters, and the street → community → grid table; refreshes every 60 s.
 *
 * Data: GET /api/v1/dashboard/kpis, /api/v1/map?target=…, /api/v1/forecasts/ranked?…,
 * /api/v1/map/outlines (once per page), /api/v1/dashboard/rollup?level=…&parent=… (the
 * server filters all of them by role and scope: a commander sees approved warnings only).
 * Filters live in the URL query (street, community, target, level) so a view can be shared.
 * The roll-up table opens a street's communities and a community's grids in place; the open
 * rows stay open across refreshes.
 */
(function () {
  'use strict';

  const REFRESH_MS = 60000;
  const CATEGORIES = ['any', 'dispute', 'theft', 'fire_hazard', 'safety_hazard', 'fraud', 'petition'];

  Risk.strings({
    zh: {
      'cmd.title': '指挥总览',
      'cmd.kpis': '关键指标',
      'cmd.filters': '筛选',
      'cmd.street': '街道',
      'cmd.community': '社区',
      'cmd.target': '事件类别',
      'cmd.all': '全部',
      'cmd.map': '风险地图',
      'cmd.skipmap': '跳过地图，到高风险网格列表',
      'cmd.legend': '图例',
      'cmd.ranked': '高风险网格',
      'cmd.col.grid': '网格',
      'cmd.col.target': '类别',
      'cmd.col.prob': '概率',
      'cmd.col.reasons': '主要原因',
      'cmd.updated': '最近更新 {time}',
      'cmd.updating': '正在更新…',
      'cmd.total': '共 {n} 条',
      'cmd.shown': '显示前 {shown} 条，共 {n} 条',
      'cmd.source.approved': '仅显示已批准的预警',
      'cmd.dispatch': '派出巡查',
      'cmd.complete': '标记完成',
      'cmd.dispatched': '已派出 {grid} 的巡查。',
      'cmd.completed': '{grid} 的预警已完成。',
      'cmd.source.forecasts': '最新预测（含未审核）',
      'cmd.empty': '当前筛选条件下没有预警。',
      'cmd.empty.none': '目前没有可显示的预警。',
      'cmd.empty.waiting': '有 {n} 条预警正在等待审核；审核通过后会出现在这里。',
      'cmd.empty.review': '去审核',
      'cmd.map.count': '{n} 个网格',
      'cmd.map.none': '地图暂不可用。',
      'cmd.map.noshape': '没有可绘制的网格边界。',
      'cmd.trend.up': '较上次上升 {pts} 个百分点',
      'cmd.trend.down': '较上次下降 {pts} 个百分点',
      'cmd.trend.flat': '与上次持平',
      'cmd.noreason': '—',
      'kpi.pending': '待审核预警',
      'kpi.escalated': '已上报',
      'kpi.sla': '超时未处理',
      'kpi.approved_open': '已批准待处置',
      'kpi.hit_rate': '上周命中率',
      'kpi.hit_rate_n': '基于 {n} 条已批准预警',
      'kpi.hit_rate_none': '上周没有可评估的预警',
      'kpi.red_true': '近4周红色预警应验率',
      'kpi.response': '2小时内响应',
      'kpi.response_note': '近{d}天入队的预警 · 超时 {t}',
      'kpi.completion': '24小时内办结',
      'kpi.completion_note': '近{d}天批准的预警 · 办结率 {c}',
      'kpi.none_yet': '近{d}天还没有可评估的预警',
      'kpi.red_true_n': '共 {n} 条红色预警窗口已结束',
      'kpi.red_true_none': '近4周没有已结束的红色预警',
      'kpi.last_run': '最近一次预测',
      'kpi.model': '模型 {v}',
      'kpi.unavailable': '指标暂不可用。',
      'kpi.no_run': '尚无预测',
      'roll.title': '街道 → 社区 → 网格',
      'roll.note': '近{d}天入队的预警（各类别）· 点击街道或社区展开',
      'roll.col.name': '街道 / 社区 / 网格',
      'roll.col.pending': '待审核',
      'roll.col.approved': '已批准',
      'roll.col.dispatched': '已派发',
      'roll.col.completed': '已完成',
      'roll.col.breaches': '超时',
      'roll.col.breaches_title': '响应超过2小时或办结超过24小时的预警',
      'roll.col.hit_rate': '命中率',
      'roll.col.hit_rate_title': '窗口已结束的已批准预警中，窗口内发生事件的比例',
      'roll.street': '街道',
      'roll.community': '社区',
      'roll.grid': '网格',
      'roll.total': '合计',
      'roll.grids': '{n} 个网格',
      'roll.grids.one': '{n} 个网格',
      'roll.hits': '{hits}/{n}',
      'roll.empty': '范围内没有网格。',
      'roll.loading': '正在加载…',
      'map.outlines': '边界',
      'map.outline.street': '街道边界',
      'map.outline.community': '社区边界',
    },
    en: {
      'cmd.title': 'Overview',
      'cmd.kpis': 'Key figures',
      'cmd.filters': 'Filters',
      'cmd.street': 'Street',
      'cmd.community': 'Community',
      'cmd.target': 'Event category',
      'cmd.all': 'All',
      'cmd.map': 'Risk map',
      'cmd.skipmap': 'Skip the map, go to the high-risk grids',
      'cmd.legend': 'Legend',
      'cmd.ranked': 'High-risk grids',
      'cmd.col.grid': 'Grid',
      'cmd.col.target': 'Category',
      'cmd.col.prob': 'Probability',
      'cmd.col.reasons': 'Main reasons',
      'cmd.updated': 'Updated {time}',
      'cmd.updating': 'Updating…',
      'cmd.total': '{n} in all',
      'cmd.shown': 'First {shown} of {n}',
      'cmd.source.approved': 'Approved warnings only',
      'cmd.dispatch': 'Dispatch',
      'cmd.complete': 'Mark done',
      'cmd.dispatched': 'Patrol sent to {grid}.',
      'cmd.completed': 'Warning for {grid} done.',
      'cmd.source.forecasts': 'Latest forecasts (including unreviewed)',
      'cmd.empty': 'No warnings match these filters.',
      'cmd.empty.none': 'No warnings to show at the moment.',
      'cmd.empty.waiting': '{n} warnings wait for review; they appear here once approved.',
      'cmd.empty.review': 'Open the review queue',
      'cmd.map.count': 'Grids shown: {n}',
      'cmd.map.none': 'The map is not available.',
      'cmd.map.noshape': 'No grid outlines to draw.',
      'cmd.trend.up': 'Up {pts} points since the last run',
      'cmd.trend.down': 'Down {pts} points since the last run',
      'cmd.trend.flat': 'Unchanged since the last run',
      'cmd.noreason': '—',
      'kpi.pending': 'Pending warnings',
      'kpi.escalated': 'Escalated',
      'kpi.sla': 'Past response time',
      'kpi.approved_open': 'Approved, open',
      'kpi.hit_rate': "Last week's hit rate",
      'kpi.hit_rate_n': 'Over {n} approved warnings',
      'kpi.hit_rate_none': 'No warnings to check last week',
      'kpi.red_true': 'Red warnings that came true, last 4 weeks',
      'kpi.response': 'Responded within 2 h',
      'kpi.response_note': 'Warnings queued in the last {d} days · timeouts {t}',
      'kpi.completion': 'Completed within 24 h',
      'kpi.completion_note': 'Approved in the last {d} days · closure {c}',
      'kpi.none_yet': 'Nothing to judge in the last {d} days yet',
      'kpi.red_true_n': 'Of {n} red warnings whose window has ended',
      'kpi.red_true_none': 'No red warning has ended in the last 4 weeks',
      'kpi.last_run': 'Latest forecast',
      'kpi.model': 'Model {v}',
      'kpi.unavailable': 'Key figures are not available.',
      'kpi.no_run': 'No forecast yet',
      'roll.title': 'Street → community → grid',
      'roll.note': 'Warnings queued in the last {d} days (all categories) · click a street or community to open it',
      'roll.col.name': 'Street / community / grid',
      'roll.col.pending': 'Pending',
      'roll.col.approved': 'Approved',
      'roll.col.dispatched': 'Dispatched',
      'roll.col.completed': 'Completed',
      'roll.col.breaches': 'Breaches',
      'roll.col.breaches_title': 'Warnings answered after 2 h or completed after 24 h (or not yet, past the target)',
      'roll.col.hit_rate': 'Hit rate',
      'roll.col.hit_rate_title': 'Of the approved warnings whose window closed, the share that saw an event in the window',
      'roll.street': 'Street',
      'roll.community': 'Community',
      'roll.grid': 'Grid',
      'roll.total': 'Total',
      'roll.grids': '{n} grids',
      'roll.grids.one': '{n} grid',
      'roll.hits': '{hits}/{n}',
      'roll.empty': 'No grids in your scope.',
      'roll.loading': 'Loading…',
      'map.outlines': 'Boundaries',
      'map.outline.street': 'Street boundary',
      'map.outline.community': 'Community boundary',
    },
  });

  const $ = (id) => document.getElementById(id);
  const form = $('filters');
  const state = {
    kpis: null,
    kpisMissing: false,
    map: null,
    mapMissing: false,
    outlines: null,
    ranked: null,
    updatedAt: null,
    busy: null,
    role: null,
  };

  // ------------------------------------------------------------------ filters

  function readQuery() {
    const q = new URLSearchParams(window.location.search);
    return {
      street: q.get('street') || '',
      community: q.get('community') || '',
      target: q.get('target') || '',
      level: q.get('level') || '',
    };
  }

  function filters() {
    return {
      street: form.street.value,
      community: form.community.value,
      target: form.target.value,
      level: form.level.value,
    };
  }

  function option(value, text, selected) {
    const o = Risk.el('option', { value, text });
    if (selected) o.selected = true;
    return o;
  }

  function fillSelect(select, values, current, labelOf) {
    const keep = values.includes(current) ? current : '';
    select.replaceChildren(
      option('', Risk.t('cmd.all'), keep === ''),
      ...values.map((v) => option(v, labelOf ? labelOf(v) : v, v === keep)),
    );
  }

  function mapFeatures() {
    return (state.map && state.map.features) || [];
  }

  function renderFilterOptions(wanted) {
    wanted = wanted || filters();
    const props = mapFeatures().map((f) => f.properties || {});
    const streets = [...new Set(props.map((p) => p.street_id).filter(Boolean))].sort();
    if (wanted.street && !streets.includes(wanted.street)) streets.push(wanted.street);
    fillSelect(form.street, streets, wanted.street);
    const inStreet = props.filter((p) => !form.street.value || p.street_id === form.street.value);
    const communities = [...new Set(inStreet.map((p) => p.community_id).filter(Boolean))].sort();
    if (wanted.community && !communities.includes(wanted.community) && !props.length) {
      communities.push(wanted.community);
    }
    fillSelect(form.community, communities, wanted.community);
    fillSelect(form.target, CATEGORIES, wanted.target, Risk.targetLabel);
    fillSelect(form.level, Risk.LEVELS, wanted.level, (l) => Risk.t('level.' + l));
  }

  function writeQuery() {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(filters())) if (v) q.set(k, v);
    const lang = new URLSearchParams(window.location.search).get('lang');
    if (lang) q.set('lang', lang);
    const qs = q.toString();
    history.replaceState(null, '', window.location.pathname + (qs ? '?' + qs : ''));
  }

  // ------------------------------------------------------------------ KPI tiles

  function tile(id, value, labelKey, note, alert) {
    return Risk.el(
      'div',
      { class: 'kpi' + (alert ? ' kpi-alert' : ''), id: 'kpi-' + id },
      Risk.el('div', { class: 'kpi-value', text: value }),
      Risk.el('div', { class: 'kpi-label', text: Risk.t(labelKey) }),
      note ? Risk.el('div', { class: 'kpi-note' }, note) : null,
    );
  }

  function pctOrDash(value) {
    return value === null || value === undefined ? '—' : Risk.fmtPct(value);
  }

  function renderKpis() {
    const box = $('kpis');
    if (state.kpisMissing) {
      box.replaceChildren(Risk.el('p', { class: 'muted small', text: Risk.t('kpi.unavailable') }));
      return;
    }
    const k = state.kpis;
    if (!k) return;
    const hit = k.hit_rate_last_week;
    const run = k.last_run;
    box.replaceChildren(
      tile(
        'pending',
        String(k.pending),
        'kpi.pending',
        k.pending > 0 && mayReview() ? Risk.el('a', { id: 'kpi-to-review', href: '/reviewer', text: Risk.t('cmd.empty.review') }) : null,
      ),
      tile('escalated', String(k.escalated), 'kpi.escalated'),
      tile('sla', String(k.sla_breaches), 'kpi.sla', null, k.sla_breaches > 0),
      tile('approved_open', String(k.approved_open), 'kpi.approved_open'),
      tile(
        'hit_rate',
        hit === null || hit === undefined ? '—' : Risk.fmtPct(hit),
        'kpi.hit_rate',
        k.hit_rate_n ? Risk.t('kpi.hit_rate_n', { n: k.hit_rate_n }) : Risk.t('kpi.hit_rate_none'),
      ),
      tile(
        'response',
        pctOrDash(k.response_2h_rate),
        'kpi.response',
        k.response_2h_rate === null || k.response_2h_rate === undefined
          ? Risk.t('kpi.none_yet', { d: k.service_days })
          : Risk.t('kpi.response_note', { d: k.service_days, t: pctOrDash(k.timeout_rate) }),
        k.timeout_rate > 0.05,
      ),
      tile(
        'completion',
        pctOrDash(k.completion_24h_rate),
        'kpi.completion',
        k.completion_24h_rate === null || k.completion_24h_rate === undefined
          ? Risk.t('kpi.none_yet', { d: k.service_days })
          : Risk.t('kpi.completion_note', { d: k.service_days, c: pctOrDash(k.closure_rate) }),
        k.closure_rate !== null && k.closure_rate !== undefined && k.closure_rate < 0.95,
      ),
      tile(
        'red_true',
        k.red_came_true_4w === null || k.red_came_true_4w === undefined ? '—' : Risk.fmtPct(k.red_came_true_4w),
        'kpi.red_true',
        k.red_n_4w ? Risk.t('kpi.red_true_n', { n: k.red_n_4w }) : Risk.t('kpi.red_true_none'),
      ),
      tile(
        'last_run',
        run ? Risk.fmtTime(run.issue_time) : '—',
        'kpi.last_run',
        run ? Risk.t('kpi.model', { v: run.model_version }) : Risk.t('kpi.no_run'),
      ),
    );
    box.querySelector('#kpi-last_run .kpi-value').classList.add('kpi-value-small');
  }

  // ------------------------------------------------------------------ map

  function openGrid(id) {
    window.location.assign('/grid/' + encodeURIComponent(id));
  }

  function renderLegend() {
    const items = [...Risk.LEVELS, 'none'].map((level) =>
      Risk.el(
        'li',
        {},
        Risk.el('span', {
          class: 'swatch',
          style: 'background:' + Risk.LEVEL_COLOURS[level],
          'aria-hidden': 'true',
        }),
        Risk.el('span', { text: Risk.t('level.' + level) }),
      ),
    );
    $('legend').replaceChildren(...items);
    const lines = state.outlines
      ? ['street', 'community'].map((kind) =>
          Risk.el(
            'li',
            { class: 'legend-outline' },
            Risk.el('span', { class: 'line-swatch line-' + kind, 'aria-hidden': 'true' }),
            Risk.el('span', { text: Risk.t('map.outline.' + kind) }),
          ),
        )
      : [];
    $('legend-outlines').replaceChildren(...lines);
    $('legend-outlines').hidden = !lines.length;
  }

  function renderMap() {
    const svg = $('map');
    const note = $('map-note');
    if (state.mapMissing) {
      svg.replaceChildren();
      note.textContent = Risk.t('cmd.map.none');
      return;
    }
    if (!state.map) return;
    const n = RiskMap.draw(svg, state.map, {
      onOpen: openGrid,
      tooltip: $('map-tooltip'),
      outlines: state.outlines,
    });
    note.textContent = n ? Risk.t('cmd.map.count', { n }) : Risk.t('cmd.map.noshape');
    dimMap();
  }

  function dimMap() {
    const f = filters();
    const active = f.street || f.community || f.level;
    RiskMap.dim(
      $('map'),
      active
        ? (p) =>
            (!f.street || p.street_id === f.street) &&
            (!f.community || p.community_id === f.community) &&
            (!f.level || p.level === f.level)
        : null,
    );
  }

  // ------------------------------------------------------------------ ranked table

  function trend(row) {
    if (row.prev_prob === null || row.prev_prob === undefined) return null;
    const diff = (row.prob - row.prev_prob) * 100;
    const pts = Math.abs(diff).toFixed(1);
    let cls = 'trend-flat';
    let arrow = '→';
    let key = 'cmd.trend.flat';
    if (diff >= 0.5) [cls, arrow, key] = ['trend-up', '↑', 'cmd.trend.up'];
    else if (diff <= -0.5) [cls, arrow, key] = ['trend-down', '↓', 'cmd.trend.down'];
    const text = Risk.t(key, { pts });
    return Risk.el(
      'span',
      { class: 'trend ' + cls, title: text, 'data-trend': cls.slice(6) },
      Risk.el('span', { 'aria-hidden': 'true', text: arrow }),
      Risk.el('span', { class: 'visually-hidden', text: text }),
    );
  }

  function reasonsList(reasons) {
    const texts = (reasons || []).slice(0, 3).map(Risk.reasonText).filter(Boolean);
    if (!texts.length) return Risk.el('span', { class: 'muted', text: Risk.t('cmd.noreason') });
    // On a wide screen only the first shows (one line a row); the rest are read out and in
    // the tooltip.
    return Risk.el(
      'ul',
      { class: 'reasons', title: texts.join('\n') },
      ...texts.map((t) => Risk.el('li', { text: t })),
    );
  }

  function emptyKey() {
    return Object.values(filters()).some(Boolean) ? 'cmd.empty' : 'cmd.empty.none';
  }

  // An empty list with warnings waiting for review says so, and links to the queue for
  // those who may review (the server checks the role again on the queue page).
  // The commander closes the loop from the list: dispatch an approved warning, mark a
  // dispatched one done (the server checks the role, the scope and the version again).
  const NEXT = { approved: ['dispatch', 'cmd.dispatch', 'cmd.dispatched'], dispatched: ['complete', 'cmd.complete', 'cmd.completed'] };

  function closeButton(r) {
    const next = NEXT[r.state];
    if (!next || state.role !== 'commander' || !r.item_id) return null;
    const [action, label, done] = next;
    return Risk.el('button', {
      type: 'button',
      class: 'btn btn-small btn-row',
      'data-action': action,
      text: Risk.t(label),
      onclick: async (event) => {
        event.target.disabled = true;
        try {
          const path = r.item_id.split('/').map(encodeURIComponent).join('/');
          await Risk.api('/review/items/' + path + '/' + action, {
            body: { expected_version: r.version },
          });
          Risk.toast(Risk.t(done, { grid: r.grid_id }), 'ok');
          refresh('all');
        } catch (err) {
          event.target.disabled = false;
          Risk.toast(Risk.errorText(err), 'error');
        }
      },
    });
  }

  function mayReview() {
    return state.role === 'reviewer' || state.role === 'admin';
  }

  function emptyContent() {
    const waiting = state.kpis ? state.kpis.pending : 0;
    const approvedOnly = state.ranked && state.ranked.source === 'approved_warnings';
    if (!waiting || !approvedOnly || Object.values(filters()).some(Boolean)) return [Risk.t(emptyKey())];
    const out = [Risk.el('span', { id: 'cmd-waiting', text: Risk.t('cmd.empty.waiting', { n: waiting }) })];
    if (mayReview()) {
      out.push(' ', Risk.el('a', { id: 'cmd-to-review', href: '/reviewer', text: Risk.t('cmd.empty.review') }));
    }
    return out;
  }

  function renderRanked() {
    const page = state.ranked;
    const body = $('ranked').querySelector('tbody');
    if (!page) return;
    const rows = page.items.map((r, i) =>
      Risk.el(
        'tr',
        { 'data-grid-id': r.grid_id, 'data-level': r.level, 'data-target': r.target },
        Risk.el('td', { class: 'num muted c-rank', text: String(page.offset + i + 1) }),
        Risk.el(
          'td',
          { class: 'c-grid' },
          Risk.el(
            'div',
            { class: 'grid-line' },
            Risk.el('a', { href: '/grid/' + encodeURIComponent(r.grid_id), text: r.grid_id }),
            r.state && page.source === 'approved_warnings'
              ? Risk.el('div', { class: 'muted small', text: Risk.stateLabel(r.state) })
              : null,
            page.source === 'approved_warnings' ? closeButton(r) : null,
          ),
        ),
        Risk.el('td', { class: 'c-target', text: Risk.targetLabel(r.target) }),
        Risk.el('td', { class: 'c-level' }, Risk.levelBadge(r.level)),
        Risk.el('td', { class: 'num c-prob' }, Risk.fmtPct(r.prob), trend(r)),
        Risk.el('td', { class: 'c-reasons' }, reasonsList(r.reasons)),
      ),
    );
    if (!rows.length) {
      rows.push(Risk.el('tr', {}, Risk.el('td', { colspan: '6', class: 'empty' }, ...emptyContent())));
    }
    body.replaceChildren(...rows);
    const source =
      page.source === 'approved_warnings' ? Risk.t('cmd.source.approved') : Risk.t('cmd.source.forecasts');
    const count =
      page.total > page.items.length
        ? Risk.t('cmd.shown', { shown: page.items.length, n: page.total })
        : Risk.t('cmd.total', { n: page.total });
    $('ranked-note').textContent = source + ' · ' + count;
  }

  // ------------------------------------------------------------------ street → community → grid

  // Rows by parent: '' holds the streets, 'street:S1' a street's communities, 'community:C1'
  // a community's grids. `open` holds the parents shown open.
  const roll = { rows: new Map(), total: null, days: null, open: new Set(), failed: false };
  const CHILD = { street: 'community', community: 'grid' };

  /** 'community:C1' → ['community', 'C1'] (an id may itself hold a colon). */
  function splitNode(node) {
    const i = node.indexOf(':');
    return [node.slice(0, i), node.slice(i + 1)];
  }

  function rollPath(level, parent) {
    const q = new URLSearchParams({ level });
    if (parent) q.set('parent', parent);
    return '/dashboard/rollup?' + q.toString();
  }

  async function fetchRoll(node, signal) {
    const [level, key] = node ? splitNode(node) : ['', ''];
    const body = await Risk.api(rollPath(node ? CHILD[level] : 'street', key), { signal });
    roll.rows.set(node, body.rows);
    if (!node) {
      roll.total = body.total;
      roll.days = body.days;
    }
  }

  /** The streets, and the children of every open row (a parent gone from scope closes). */
  async function loadRollup(signal) {
    const open = [...roll.open];
    const results = await Promise.allSettled([
      fetchRoll('', signal),
      ...open.map((n) => fetchRoll(n, signal)),
    ]);
    if (signal && signal.aborted) return;
    if (results[0].status === 'rejected') throw results[0].reason;
    open.forEach((node, i) => {
      if (results[i + 1].status === 'rejected') roll.open.delete(node);
    });
    roll.failed = false;
  }

  function countCells(r) {
    const cells = ['pending', 'approved', 'dispatched', 'completed'].map((c) =>
      Risk.el('td', { class: 'num c-' + c, text: String(r[c]) }),
    );
    const late = r.breaches > 0 ? ' bad' : '';
    cells.push(Risk.el('td', { class: 'num c-breaches' + late, text: String(r.breaches) }));
    const n = r.closed ? ' (' + Risk.t('roll.hits', { hits: r.hits, n: r.closed }) + ')' : null;
    cells.push(
      Risk.el(
        'td',
        { class: 'num c-hit_rate' },
        Risk.fmtPct(r.hit_rate),
        n ? Risk.el('span', { class: 'muted small hit-n', text: n }) : null,
      ),
    );
    return cells;
  }

  function rollRow(level, r) {
    const node = level + ':' + r.key;
    let name;
    if (level === 'grid') {
      name = Risk.el('a', { href: '/grid/' + encodeURIComponent(r.key), text: r.key });
    } else {
      const open = roll.open.has(node);
      name = Risk.el(
        'button',
        {
          type: 'button',
          class: 'tree-toggle',
          'aria-expanded': String(open),
          onclick: () => toggleRoll(node),
        },
        Risk.el('span', { class: 'tree-caret', 'aria-hidden': 'true', text: open ? '▾' : '▸' }),
        Risk.el('span', { class: 'visually-hidden', text: Risk.t('roll.' + level) + ' ' }),
        r.key,
      );
    }
    return Risk.el(
      'tr',
      { class: 'roll-' + level, dataset: { level, key: r.key } },
      Risk.el(
        'th',
        { scope: 'row', class: 'c-name' },
        name,
        level === 'grid'
          ? null
          : Risk.el('span', { class: 'muted small', text: ' · ' + Risk.t(r.grids === 1 ? 'roll.grids.one' : 'roll.grids', { n: r.grids }) }),
      ),
      ...countCells(r),
    );
  }

  function rollRows(level, node) {
    const out = [];
    for (const r of roll.rows.get(node) || []) {
      out.push(rollRow(level, r));
      const child = level + ':' + r.key;
      if (CHILD[level] && roll.open.has(child)) {
        if (roll.rows.has(child)) out.push(...rollRows(CHILD[level], child));
        else out.push(loadingRow(CHILD[level]));
      }
    }
    return out;
  }

  function loadingRow(level) {
    const cell = Risk.el('td', { colspan: '7', class: 'muted small', text: Risk.t('roll.loading') });
    return Risk.el('tr', { class: 'roll-' + level }, cell);
  }

  function renderRollup() {
    const table = $('rollup');
    if (roll.failed || !roll.rows.has('')) return;
    const rows = rollRows('street', '');
    const streets = rows.length;
    if (!streets) {
      rows.push(Risk.el('tr', {}, Risk.el('td', { colspan: '7', class: 'empty', text: Risk.t('roll.empty') })));
    }
    table.querySelector('tbody').replaceChildren(...rows);
    const foot = [];
    if (roll.total && streets) {
      const label = Risk.el('th', { scope: 'row', text: Risk.t('roll.total') });
      foot.push(Risk.el('tr', { class: 'roll-total' }, label, ...countCells(roll.total)));
    }
    table.querySelector('tfoot').replaceChildren(...foot);
    $('rollup-note').textContent = Risk.t('roll.note', { d: roll.days });
  }

  async function toggleRoll(node) {
    if (roll.open.has(node)) {
      for (const n of [...roll.open]) if (n === node || isUnder(n, node)) roll.open.delete(n);
      renderRollup();
      focusToggle(node);
      return;
    }
    roll.open.add(node);
    renderRollup();
    focusToggle(node);
    try {
      await fetchRoll(node);
      $('rollup-error').hidden = true;
    } catch (err) {
      roll.open.delete(node);
      $('rollup-error').textContent = Risk.errorText(err);
      $('rollup-error').hidden = false;
    }
    renderRollup();
    focusToggle(node);
  }

  // A community is under a street when the street's rows list it.
  function isUnder(node, parent) {
    const [level, key] = splitNode(node);
    return level === 'community' && (roll.rows.get(parent) || []).some((r) => r.key === key);
  }

  function focusToggle(node) {
    const [level, key] = splitNode(node);
    const rows = [...$('rollup').querySelectorAll('tr.roll-' + level)];
    const row = rows.find((tr) => tr.dataset.key === key);
    const button = row && row.querySelector('button.tree-toggle');
    if (button) button.focus();
  }

  // ------------------------------------------------------------------ loading

  function rankedQuery() {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(filters())) if (v) q.set(k, v);
    q.set('limit', '50');
    return '/forecasts/ranked?' + q.toString();
  }

  async function optional(promise) {
    try {
      return { data: await promise, missing: false };
    } catch (err) {
      if (err && err.status === 404) return { data: null, missing: true };
      throw err;
    }
  }

  function showUpdated() {
    $('updated').textContent = state.updatedAt
      ? Risk.t('cmd.updated', {
          time: Risk.fmtTime(state.updatedAt.toISOString(), { seconds: true, date: false }),
        })
      : '';
  }

  /** Fetch KPIs, map and ranked grids; re-render without reloading. ``what``: 'all' | 'ranked'. */
  async function refresh(what) {
    if (state.busy) state.busy.abort();
    const ctl = new AbortController();
    state.busy = ctl;
    const signal = ctl.signal;
    const f = filters();
    $('updated').textContent = Risk.t('cmd.updating');
    try {
      const jobs = [Risk.api(rankedQuery(), { signal })];
      if (what !== 'ranked') {
        jobs.push(optional(Risk.api('/dashboard/kpis', { signal })));
        // No category chosen: every target, each grid coloured by its worst level.
        const mapPath = f.target ? '/map?target=' + encodeURIComponent(f.target) : '/map';
        jobs.push(optional(Risk.api(mapPath, { signal })));
        jobs.push(
          loadRollup(signal).catch((err) => {
            if (err && err.name === 'AbortError') throw err;
            roll.failed = true;
            $('rollup-error').textContent = Risk.errorText(err);
            $('rollup-error').hidden = false;
          }),
        );
      }
      const [ranked, kpis, map] = await Promise.all(jobs);
      if (signal.aborted) return;
      state.ranked = ranked;
      $('ranked-error').hidden = true;
      if (kpis) {
        state.kpis = kpis.data;
        state.kpisMissing = kpis.missing;
      }
      if (map) {
        state.map = map.data;
        state.mapMissing = map.missing;
        renderFilterOptions(f);
        renderMap();
      } else {
        dimMap();
      }
      renderKpis();
      renderRanked();
      if (what !== 'ranked' && !roll.failed) {
        $('rollup-error').hidden = true;
        renderRollup();
      }
      state.updatedAt = new Date();
      document.body.dataset.loaded = String(Number(document.body.dataset.loaded || 0) + 1);
    } catch (err) {
      if (err && err.name === 'AbortError') return;
      $('ranked-error').textContent = Risk.errorText(err);
      $('ranked-error').hidden = false;
    } finally {
      if (state.busy === ctl) state.busy = null;
      showUpdated();
    }
  }

  function renderAll() {
    renderFilterOptions();
    renderLegend();
    renderKpis();
    if (state.map) RiskMap.relabel($('map'));
    renderMap();
    renderRanked();
    renderRollup();
    showUpdated();
  }

  /** The street and community outlines: once per page (they change only with the grids). */
  async function loadOutlines() {
    try {
      state.outlines = await Risk.api('/map/outlines');
    } catch (err) {
      return; // the map stays usable without them
    }
    renderLegend();
    renderMap();
  }

  form.addEventListener('change', (event) => {
    if (event.target === form.street) {
      renderFilterOptions({ ...filters(), community: '' });
    }
    writeQuery();
    // A new category changes the map's levels; the other filters only the table.
    refresh(event.target === form.target ? 'all' : 'ranked');
  });
  form.addEventListener('submit', (event) => event.preventDefault());
  $('refresh').addEventListener('click', () => refresh('all'));
  Risk.onLang(renderAll);

  Risk.header('cmd.title').then((user) => {
    state.role = user ? user.role : null;
    renderFilterOptions(readQuery());
    renderLegend();
    refresh('all');
    loadOutlines();
    setInterval(() => {
      if (!document.hidden) refresh('all');
    }, REFRESH_MS);
  });

  window.RiskCommander = { refresh, REFRESH_MS, toggleRoll };
})();
