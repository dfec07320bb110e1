/* Grid page (/grid/{id}): facts, current risk and reasons, risk history charts, the last
 * 28 days of events, field reports (the last 30 days' patrol outcomes and the events grid
 * workers and patrols reported) and the review history of the grid's warnings.
 *
 * Data: GET /api/v1/grids/{id}. What comes back depends on the role (the server decides):
 * analysts, admins and reviewers get the forecast history; commanders only approved
 * warnings — their chart is drawn from those warnings instead.
 */
(function () {
  'use strict';

  const SEVERITY = { red: 4, orange: 3, yellow: 2, blue: 1 };
  const APPROVED = ['approved', 'dispatched', 'completed'];
  const EVENT_DAYS = 28;

  Risk.strings({
    zh: {
      'grid.title': '网格详情',
      'grid.back': '← 返回总览',
      'grid.back.queue': '← 返回审核队列',
      'grid.heading': '网格 {id}',
      'grid.community': '社区',
      'grid.street': '街道',
      'grid.type': '网格类型',
      'grid.centre': '中心点',
      'grid.now': '当前风险与原因',
      'grid.now.none': '当前没有可显示的预警。',
      'grid.now.until': '预警时段 {start} 至 {end}',
      'grid.history': '风险走势',
      'grid.history.none': '暂无走势数据。',
      'grid.history.forecasts': '每次预测的概率（最近 {n} 次）',
      'grid.history.warnings': '依据已批准的预警',
      'grid.events': '近 28 天事件',
      'grid.events.none': '近 28 天没有记录到事件。',
      'grid.events.total': '共 {n} 起',
      'grid.events.col.category': '类别',
      'grid.events.col.total': '合计',
      'grid.events.col.last': '最近一次',
      'grid.events.col.days': '每日（左旧右新）',
      'grid.reviews': '预警审核记录',
      'grid.reviews.none': '没有可显示的审核记录。',
      'grid.field': '现场反馈',
      'grid.field.note': '近 30 天',
      'grid.field.patrols': '巡查结果',
      'grid.field.patrols.none': '近 30 天没有巡查结果。',
      'grid.field.events': '网格员与巡查上报的事件',
      'grid.field.events.none': '近 30 天没有网格员或巡查上报的事件。',
      'grid.field.col.time': '时间',
      'grid.field.col.outcome': '结果',
      'grid.field.col.worker': '网格员',
      'grid.field.col.note': '备注',
      'grid.field.col.category': '类别',
      'grid.field.col.source': '来源',
      'grid.outcome.found_issue': '发现问题',
      'grid.outcome.nothing_found': '未发现问题',
      'grid.outcome.could_not_visit': '无法前往',
      'grid.source.grid_worker': '网格员上报',
      'grid.source.patrol': '巡查发现',
      'grid.prob': '概率 {p}',
      'grid.adjusted': '原为{level}',
      'grid.ev.created': '模型 {model} 生成预警（{level}，{prob}）',
      'grid.ev.claimed': '{who} 认领审核',
      'grid.ev.approved': '{who} 批准',
      'grid.ev.rejected': '{who} 驳回：{reason}',
      'grid.ev.escalated': '{who} 上报',
      'grid.ev.dispatched': '{who} 派发处置',
      'grid.ev.completed': '处置完成',
      'grid.ev.expired': '超时未审核，已过期',
      'grid.notfound': '未找到该网格，或它不在你的辖区内。',
      'gridtype.old_residential': '老旧小区',
      'gridtype.new_residential': '新建小区',
      'gridtype.commercial': '商业区',
      'gridtype.mixed': '混合区',
      'gridtype.campus': '校园',
      'gridtype.rural': '农村',
      'gridtype.industrial': '工业区',
      'reject.false_alarm': '误报',
      'reject.already_handled': '已处理',
      'reject.duplicate': '重复',
      'reject.insufficient_information': '信息不足',
      'reject.other': '其他',
    },
    en: {
      'grid.title': 'Grid',
      'grid.back': '← Back to the overview',
      'grid.back.queue': '← Back to the review queue',
      'grid.heading': 'Grid {id}',
      'grid.community': 'Community',
      'grid.street': 'Street',
      'grid.type': 'Grid type',
      'grid.centre': 'Centre',
      'grid.now': 'Current risk and reasons',
      'grid.now.none': 'No warning to show now.',
      'grid.now.until': 'Warning window {start} to {end}',
      'grid.history': 'Risk history',
      'grid.history.none': 'No history yet.',
      'grid.history.forecasts': 'Probability at each forecast (last {n})',
      'grid.history.warnings': 'From approved warnings',
      'grid.events': 'Events in the last 28 days',
      'grid.events.none': 'No events recorded in the last 28 days.',
      'grid.events.total': '{n} in all',
      'grid.events.col.category': 'Category',
      'grid.events.col.total': 'Total',
      'grid.events.col.last': 'Latest',
      'grid.events.col.days': 'Per day (oldest left)',
      'grid.reviews': 'Review history of warnings',
      'grid.reviews.none': 'No review history to show.',
      'grid.field': 'Field reports',
      'grid.field.note': 'last 30 days',
      'grid.field.patrols': 'Patrol outcomes',
      'grid.field.patrols.none': 'No patrol reports in the last 30 days.',
      'grid.field.events': 'Events reported by grid workers and patrols',
      'grid.field.events.none': 'No events reported by grid workers or patrols in the last 30 days.',
      'grid.field.col.time': 'Time',
      'grid.field.col.outcome': 'Outcome',
      'grid.field.col.worker': 'Worker',
      'grid.field.col.note': 'Note',
      'grid.field.col.category': 'Category',
      'grid.field.col.source': 'Source',
      'grid.outcome.found_issue': 'Found an issue',
      'grid.outcome.nothing_found': 'Nothing found',
      'grid.outcome.could_not_visit': 'Could not visit',
      'grid.source.grid_worker': 'Reported by a grid worker',
      'grid.source.patrol': 'Found on patrol',
      'grid.prob': 'probability {p}',
      'grid.adjusted': 'was {level}',
      'grid.ev.created': 'Model {model} raised the warning ({level}, {prob})',
      'grid.ev.claimed': '{who} claimed it for review',
      'grid.ev.approved': '{who} approved',
      'grid.ev.rejected': '{who} rejected: {reason}',
      'grid.ev.escalated': '{who} escalated',
      'grid.ev.dispatched': '{who} dispatched it',
      'grid.ev.completed': 'Handling completed',
      'grid.ev.expired': 'Not reviewed in time; expired',
      'grid.notfound': 'No such grid, or it is outside your area.',
      'gridtype.old_residential': 'Old residential',
      'gridtype.new_residential': 'New residential',
      'gridtype.commercial': 'Commercial',
      'gridtype.mixed': 'Mixed',
      'gridtype.campus': 'Campus',
      'gridtype.rural': 'Rural',
      'gridtype.industrial': 'Industrial',
      'reject.false_alarm': 'false alarm',
      'reject.already_handled': 'already handled',
      'reject.duplicate': 'duplicate',
      'reject.insufficient_information': 'insufficient information',
      'reject.other': 'other',
    },
  });

  const $ = (id) => document.getElementById(id);
  const el = Risk.el;
  const gridId = decodeURIComponent(window.location.pathname.replace(/^\/grid\//, ''));
  let data = null;
  let user = null;

  function label(prefix, value) {
    return Risk.has(prefix + value) ? Risk.t(prefix + value) : value;
  }

  function bySeverity(a, b) {
    return (SEVERITY[b.level] || 0) - (SEVERITY[a.level] || 0) || b.prob - a.prob;
  }

  function reasonsList(reasons) {
    const texts = (reasons || []).map(Risk.reasonText).filter(Boolean);
    if (!texts.length) return null;
    return el('ul', { class: 'reasons' }, ...texts.map((t) => el('li', { text: t })));
  }

  // ------------------------------------------------------------------ facts and "now"

  function renderFacts() {
    const g = data.grid;
    $('grid-heading').textContent = Risk.t('grid.heading', { id: g.grid_id });
    const facts = [
      ['grid.community', g.community_id || '—'],
      ['grid.street', g.street_id || '—'],
      ['grid.type', g.grid_type ? label('gridtype.', g.grid_type) : '—'],
    ];
    if (g.centroid_lon !== null && g.centroid_lat !== null && g.centroid_lon !== undefined) {
      facts.push(['grid.centre', `${g.centroid_lon.toFixed(4)}, ${g.centroid_lat.toFixed(4)}`]);
    }
    $('grid-facts').replaceChildren(
      ...facts.flatMap(([k, v]) => [el('dt', { text: Risk.t(k) }), el('dd', { text: v })]),
    );
  }

  /** The newest approved warning per target (what a commander may see as "now"). */
  function newestWarnings() {
    const newest = new Map();
    for (const r of data.reviews) {
      if (!APPROVED.includes(r.state)) continue;
      const have = newest.get(r.target);
      if (!have || r.window_start > have.window_start) newest.set(r.target, r);
    }
    return [...newest.values()];
  }

  function renderNow() {
    const rows = data.latest.length ? [...data.latest] : newestWarnings();
    rows.sort(bySeverity);
    const box = $('grid-now');
    if (!rows.length) {
      box.replaceChildren(el('p', { class: 'empty', text: Risk.t('grid.now.none') }));
      return;
    }
    box.replaceChildren(
      ...rows.map((r) =>
        el(
          'div',
          { class: 'now-row', 'data-target': r.target, 'data-level': r.level },
          el(
            'div',
            { class: 'row' },
            Risk.levelBadge(r.level),
            el('strong', { text: Risk.targetLabel(r.target) }),
            el('span', { class: 'num', text: Risk.t('grid.prob', { p: Risk.fmtPct(r.prob) }) }),
          ),
          r.window_start
            ? el('div', {
                class: 'muted small',
                text: Risk.t('grid.now.until', {
                  start: Risk.fmtTime(r.window_start),
                  end: Risk.fmtTime(r.window_end),
                }),
              })
            : null,
          reasonsList(r.reasons),
        ),
      ),
    );
  }

  // ------------------------------------------------------------------ history charts

  function chart(points) {
    const W = 300;
    const H = 120;
    const L = 36;
    const R = 8;
    const T = 10;
    const B = 22;
    const times = points.map((p) => new Date(p.time).getTime());
    const t0 = Math.min(...times);
    const t1 = Math.max(...times);
    const peak = Math.max(...points.map((p) => p.prob)) * 1.1;
    const top = [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1].find((v) => v >= peak) || 1;
    const x = (t) => (t1 === t0 ? L + (W - L - R) / 2 : L + ((t - t0) / (t1 - t0)) * (W - L - R));
    const y = (p) => T + (1 - p / top) * (H - T - B);
    const svg = Risk.svgEl('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img' });
    svg.append(
      Risk.svgEl('line', { class: 'axis', x1: L, y1: y(0), x2: W - R, y2: y(0) }),
      Risk.svgEl('line', { class: 'axis', x1: L, y1: T, x2: L, y2: y(0) }),
    );
    const text = (s, attrs) => {
      const node = Risk.svgEl('text', attrs);
      node.textContent = s;
      return node;
    };
    svg.append(
      text(Risk.fmtPct(top), { x: L - 4, y: T + 4, 'text-anchor': 'end' }),
      text('0%', { x: L - 4, y: y(0) + 3, 'text-anchor': 'end' }),
      text(Risk.fmtDate(points[0].time).slice(5), { x: L, y: H - 6, 'text-anchor': 'start' }),
    );
    if (points.length > 1) {
      const last = points[points.length - 1].time;
      svg.append(text(Risk.fmtDate(last).slice(5), { x: W - R, y: H - 6, 'text-anchor': 'end' }));
      const d = points.map((p, i) => (i ? 'L' : 'M') + x(times[i]).toFixed(1) + ' ' + y(p.prob).toFixed(1));
      svg.append(Risk.svgEl('path', { class: 'line', d: d.join('') }));
    }
    points.forEach((p, i) => {
      const dot = Risk.svgEl('circle', {
        cx: x(times[i]).toFixed(1),
        cy: y(p.prob).toFixed(1),
        r: 3.5,
        fill: Risk.LEVEL_COLOURS[p.level] || Risk.LEVEL_COLOURS.none,
        stroke: '#1b1f24',
        'stroke-width': 0.6,
        'data-level': p.level,
      });
      const title = Risk.svgEl('title');
      title.textContent = `${Risk.fmtTime(p.time)} · ${Risk.t('level.' + (p.level || 'none'))} · ${Risk.fmtPct(p.prob)}`;
      dot.append(title);
      svg.append(dot);
    });
    const latest = points[points.length - 1];
    svg.setAttribute(
      'aria-label',
      `${Risk.fmtPct(latest.prob)} (${Risk.t('level.' + (latest.level || 'none'))}), ${Risk.fmtTime(latest.time)}`,
    );
    return svg;
  }

  function renderHistory() {
    const series = new Map();
    let fromWarnings = false;
    if (data.history.length) {
      for (const h of data.history) {
        if (!series.has(h.target)) series.set(h.target, []);
        series.get(h.target).push({ time: h.issue_time, prob: h.prob, level: h.level });
      }
    } else {
      fromWarnings = true;
      for (const r of data.reviews) {
        if (!APPROVED.includes(r.state)) continue;
        if (!series.has(r.target)) series.set(r.target, []);
        series.get(r.target).push({ time: r.window_start, prob: r.prob, level: r.level });
      }
    }
    const box = $('grid-history');
    if (!series.size) {
      $('history-note').textContent = '';
      box.replaceChildren(el('p', { class: 'empty', text: Risk.t('grid.history.none') }));
      return;
    }
    const runs = new Set(data.history.map((h) => h.run_id)).size;
    $('history-note').textContent = fromWarnings
      ? Risk.t('grid.history.warnings')
      : Risk.t('grid.history.forecasts', { n: runs });
    const targets = [...series.keys()].sort((a, b) => (a === 'any' ? -1 : b === 'any' ? 1 : a < b ? -1 : 1));
    box.replaceChildren(
      ...targets.map((target) => {
        const points = series.get(target).sort((a, b) => (a.time < b.time ? -1 : 1));
        return el(
          'figure',
          { class: 'chart', 'data-target': target, style: 'margin:0' },
          el('h3', { text: Risk.targetLabel(target) }),
          chart(points),
        );
      }),
    );
  }

  // ------------------------------------------------------------------ recent events

  function dayKey(date) {
    return date.toISOString().slice(0, 10);
  }

  function renderEvents() {
    const events = data.recent_events || [];
    const box = $('grid-events');
    if (!events.length) {
      $('events-note').textContent = '';
      box.replaceChildren(el('p', { class: 'empty', text: Risk.t('grid.events.none') }));
      return;
    }
    // The strip ends on the newest day the data speaks of (the latest forecast or warning,
    // else the newest event), so a quiet fortnight shows as one.
    const days0 = [
      ...events.map((e) => e.day),
      ...data.history.map((h) => Risk.fmtDate(h.issue_time)),
      ...data.reviews.map((r) => Risk.fmtDate(r.window_start)),
    ];
    const newest = days0.reduce((m, d) => (d > m ? d : m), days0[0]);
    const end = new Date(newest + 'T00:00:00Z');
    const days = [];
    for (let i = EVENT_DAYS - 1; i >= 0; i -= 1) {
      days.push(dayKey(new Date(end.getTime() - i * 86400000)));
    }
    const perCat = new Map();
    for (const e of events) {
      if (!perCat.has(e.category)) perCat.set(e.category, new Map());
      const m = perCat.get(e.category);
      m.set(e.day, (m.get(e.day) || 0) + e.count);
    }
    const max = Math.max(1, ...events.map((e) => e.count));
    let all = 0;
    const rows = [...perCat.entries()]
      .map(([cat, m]) => {
        const total = [...m.values()].reduce((a, b) => a + b, 0);
        all += total;
        return { cat, m, total, last: [...m.keys()].sort().pop() };
      })
      .sort((a, b) => b.total - a.total);
    $('events-note').textContent = Risk.t('grid.events.total', { n: all });
    const strip = (m) => {
      const svg = Risk.svgEl('svg', {
        viewBox: `0 0 ${EVENT_DAYS * 6} 24`,
        width: EVENT_DAYS * 6,
        height: 24,
        'aria-hidden': 'true',
        class: 'strip',
      });
      days.forEach((d, i) => {
        const n = m.get(d) || 0;
        const h = n ? 3 + (n / max) * 21 : 1;
        svg.append(
          Risk.svgEl('rect', {
            x: i * 6,
            y: 24 - h,
            width: 4.5,
            height: h,
            fill: n ? '#1d5a8a' : '#c9ced6',
          }),
        );
      });
      return svg;
    };
    const table = el(
      'table',
      { class: 'table', id: 'events-table' },
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          el('th', { scope: 'col', text: Risk.t('grid.events.col.category') }),
          el('th', { scope: 'col', class: 'num', text: Risk.t('grid.events.col.total') }),
          el('th', { scope: 'col', text: Risk.t('grid.events.col.last') }),
          el('th', { scope: 'col', text: Risk.t('grid.events.col.days') }),
        ),
      ),
      el(
        'tbody',
        {},
        ...rows.map((r) =>
          el(
            'tr',
            { 'data-category': r.cat },
            el('td', { text: Risk.targetLabel(r.cat) }),
            el('td', { class: 'num', text: String(r.total) }),
            el('td', { class: 'small', text: r.last }),
            el('td', {}, strip(r.m)),
          ),
        ),
      ),
    );
    box.replaceChildren(el('div', { class: 'table-wrap' }, table));
  }

  // ------------------------------------------------------------------ field reports

  /** A table of `rows` (newest first, as the server sends them) or an empty state in words. */
  function fieldTable(id, rows, emptyKey, columns, row) {
    if (!rows.length) return el('p', { class: 'empty', text: Risk.t(emptyKey) });
    return el(
      'div',
      { class: 'table-wrap' },
      el(
        'table',
        { class: 'table', id },
        el(
          'thead',
          {},
          el('tr', {}, ...columns.map((k) => el('th', { scope: 'col', text: Risk.t('grid.field.col.' + k) }))),
        ),
        el('tbody', {}, ...rows.map(row)),
      ),
    );
  }

  function noteCell(note) {
    return note ? el('td', { class: 'small', text: note }) : el('td', { class: 'muted small', text: '—' });
  }

  function renderField() {
    $('grid-patrols').replaceChildren(
      fieldTable(
        'patrols-table',
        data.patrol_reports || [],
        'grid.field.patrols.none',
        ['time', 'outcome', 'worker', 'note'],
        (r) =>
          el(
            'tr',
            { 'data-outcome': r.outcome },
            el('td', { class: 'small', text: Risk.fmtTime(r.at) }),
            el('td', { text: label('grid.outcome.', r.outcome) }),
            el('td', { text: r.worker }),
            noteCell(r.note),
          ),
      ),
    );
    $('grid-field-events').replaceChildren(
      fieldTable(
        'field-events-table',
        data.field_events || [],
        'grid.field.events.none',
        ['time', 'category', 'source', 'note'],
        (e) =>
          el(
            'tr',
            { 'data-source': e.source, 'data-category': e.category },
            el('td', { class: 'small', text: Risk.fmtTime(e.occurred_at) }),
            el('td', { text: Risk.targetLabel(e.category) }),
            el('td', { text: label('grid.source.', e.source) }),
            noteCell(e.note),
          ),
      ),
    );
  }

  // ------------------------------------------------------------------ review history

  function timeline(r) {
    const steps = [
      {
        at: r.created_at,
        text: Risk.t('grid.ev.created', {
          model: r.model_version,
          level: Risk.t('level.' + r.original_level),
          prob: Risk.fmtPct(r.prob),
        }),
      },
    ];
    if (r.escalated_at) steps.push({ at: r.escalated_at, text: Risk.t('grid.ev.escalated', { who: r.escalated_by }) });
    if (r.reviewed_at) {
      const key = r.state === 'rejected' ? 'grid.ev.rejected' : 'grid.ev.approved';
      const reason = r.reject_reason ? label('reject.', r.reject_reason) : '';
      const text = r.reject_text ? `${reason} — ${r.reject_text}` : reason;
      steps.push({ at: r.reviewed_at, text: Risk.t(key, { who: r.reviewed_by, reason: text }) });
    } else if (r.claimed_by && r.state === 'pending') {
      steps.push({ at: r.updated_at, text: Risk.t('grid.ev.claimed', { who: r.claimed_by }) });
    }
    if (r.dispatched_at) steps.push({ at: r.dispatched_at, text: Risk.t('grid.ev.dispatched', { who: r.dispatched_by }) });
    if (r.completed_at) steps.push({ at: r.completed_at, text: Risk.t('grid.ev.completed') });
    if (r.state === 'expired') steps.push({ at: r.updated_at, text: Risk.t('grid.ev.expired') });
    steps.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
    return el(
      'ol',
      { class: 'timeline' },
      ...steps.map((s) =>
        el(
          'li',
          {},
          el('div', { class: 'muted small num', text: Risk.fmtTime(s.at) }),
          el('div', { text: s.text }),
          s === steps[steps.length - 1] && r.note ? el('div', { class: 'muted small', text: '“' + r.note + '”' }) : null,
        ),
      ),
    );
  }

  function renderReviews() {
    const box = $('grid-reviews');
    const items = [...data.reviews].sort((a, b) => (a.updated_at < b.updated_at ? 1 : -1));
    if (!items.length) {
      box.replaceChildren(el('p', { class: 'empty', text: Risk.t('grid.reviews.none') }));
      return;
    }
    box.replaceChildren(
      el(
        'div',
        { class: 'cards' },
        ...items.map((r) =>
          el(
            'article',
            { class: 'review-item', 'data-item-id': r.item_id, 'data-state': r.state },
            el(
              'div',
              { class: 'row', style: 'margin-bottom:6px' },
              Risk.levelBadge(r.level),
              el('strong', { text: Risk.targetLabel(r.target) }),
              el('span', { class: 'chip', text: Risk.stateLabel(r.state) }),
              r.original_level !== r.level
                ? el('span', {
                    class: 'muted small',
                    text: Risk.t('grid.adjusted', { level: Risk.t('level.' + r.original_level) }),
                  })
                : null,
            ),
            el('div', {
              class: 'muted small',
              text: Risk.t('grid.now.until', {
                start: Risk.fmtTime(r.window_start),
                end: Risk.fmtTime(r.window_end),
              }),
              style: 'margin-bottom:6px',
            }),
            timeline(r),
          ),
        ),
      ),
    );
  }

  function renderAll() {
    document.title = Risk.t('grid.heading', { id: gridId }) + ' · ' + Risk.t('app.name');
    if (!data) return;
    renderFacts();
    renderNow();
    renderHistory();
    renderEvents();
    renderField();
    renderReviews();
  }

  async function load() {
    try {
      data = await Risk.api('/grids/' + encodeURIComponent(gridId));
    } catch (err) {
      const box = $('grid-error');
      box.textContent = err.status === 404 ? Risk.t('grid.notfound') : Risk.errorText(err);
      box.hidden = false;
      return;
    }
    $('grid-body').hidden = false;
    renderAll();
    document.body.dataset.loaded = '1';
  }

  Risk.onLang(renderAll);
  Risk.header('grid.title').then((me) => {
    user = me;
    if (user.role === 'reviewer') {
      $('back').href = '/reviewer';
      $('back').setAttribute('data-i18n', 'grid.back.queue');
      Risk.applyI18n($('back').parentElement);
    }
    renderAll();
    load();
  });
})();
