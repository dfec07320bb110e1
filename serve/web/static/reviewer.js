/* The reviewer page: the review queue with SLA countdowns, filters, single and bulk actions.
 *
 * Every action sends the item's `version` (expected_version). A 409 means someone else changed
 * the item first (or holds its lease, or moved it on): the page reloads that item and says so
 * beside it. Bulk actions go through POST /review/bulk and show one line per item.
 *
 * The response target is 2 h from the item's `created_at` (DESIGN §7; the server's sweep
 * escalates pending items at that moment), counted down against the browser's clock.
 *
 * An approved, dispatched or completed item folds out the patrol reports that answered it
 * (outcome and time, from GET /review/items/{id}), loaded when first opened.
 */
(function () {
  'use strict';

  const R = window.Risk;
  const el = R.el;
  const LEVEL_RANK = { red: 4, orange: 3, yellow: 2, blue: 1 };
  const TARGETS = ['any', 'dispute', 'theft', 'fire_hazard', 'safety_hazard', 'fraud', 'petition'];
  const OPEN = new Set(['pending', 'escalated']);
  const PATROLLED = new Set(['approved', 'dispatched', 'completed']);
  const DEFAULT_STATES = ['pending', 'escalated'];
  const REASONS = ['false_alarm', 'already_handled', 'duplicate', 'insufficient_information', 'other'];
  let responseTargetMs = 2 * 3600 * 1000; // replaced by the server's setting (/api/v1/me)
  const SOON_MS = 30 * 60 * 1000;
  const PAGE_SIZE = 100;

  R.strings({
    zh: {
      'rv.title': '审核队列',
      'rv.filters': '筛选',
      'rv.state': '状态',
      'rv.target': '类别',
      'rv.level': '级别',
      'rv.street': '街道',
      'rv.community': '社区',
      'rv.anyStreet': '全部街道',
      'rv.anyCommunity': '全部社区',
      'rv.all': '全部',
      'rv.apply': '应用筛选',
      'rv.reset': '重置',
      'rv.queue': '预警列表',
      'rv.refresh': '刷新',
      'rv.loading': '加载中…',
      'rv.empty': '没有符合条件的预警。',
      'rv.more': '加载更多',
      'rv.summary': '共 {total} 条，显示 {shown} 条',
      'rv.overdue': '{n} 条已超时',
      'rv.claimedByMe': '您已认领，至 {until}',
      'rv.updated': '更新于 {time}',
      'rv.selectAll': '全选',
      'rv.selected': '已选 {n} 条',
      'rv.noneSelected': '未选择',
      'rv.approveSel': '批准所选',
      'rv.rejectSel': '驳回所选…',
      'rv.adjustSel': '调整所选级别…',
      'rv.escalateSel': '上报所选',
      'rv.select': '选择 {what}',
      'rv.approve': '批准',
      'rv.reject': '驳回…',
      'rv.adjust': '调整级别…',
      'rv.escalate': '上报',
      'rv.rejectTitle': '驳回预警',
      'rv.rejectReason': '驳回原因',
      'rv.reasonText': '说明（选“其他”时必填）',
      'rv.reason.false_alarm': '误报',
      'rv.reason.already_handled': '已处置',
      'rv.reason.duplicate': '重复预警',
      'rv.reason.insufficient_information': '信息不足',
      'rv.reason.other': '其他',
      'rv.needReason': '请选择驳回原因。',
      'rv.needText': '选择“其他”时请填写说明。',
      'rv.adjustTitle': '调整级别',
      'rv.newLevel': '新级别',
      'rv.needLevel': '请选择级别。',
      'rv.cancel': '取消',
      'rv.confirmReject': '驳回',
      'rv.confirmAdjust': '调整',
      'rv.close': '关闭',
      'rv.oneItem': '网格 {grid} · {target}',
      'rv.nItems': '已选 {n} 条预警',
      'rv.grid': '网格 {grid}',
      'rv.where': '{street} 街道 · {community} 社区',
      'rv.prob': '概率 {p}',
      'rv.base': '同类预测的起点（基准概率）{base}，本网格 {p}',
      'rv.window': '预警时段 {start} 至 {end}',
      'rv.created': '进入队列 {time}',
      'rv.modelLevel': '模型原定 {level}',
      'rv.version': '版本 {v}',
      'rv.model': '模型 {m}',
      'rv.claimed': '{who} 处理中，至 {until}',
      'rv.escalatedBy': '由 {who} 于 {time} 上报',
      'rv.reviewedBy': '{who} 于 {time} 处理',
      'rv.patrols': '巡查反馈',
      'rv.patrols.n': '巡查反馈（{n} 条）',
      'rv.patrols.none': '还没有巡查反馈。',
      'rv.patrols.line': '{time} · {outcome}',
      'rv.outcome.found_issue': '发现问题',
      'rv.outcome.nothing_found': '未发现问题',
      'rv.outcome.could_not_visit': '无法前往',
      'rv.rejectedFor': '驳回原因：{reason}',
      'rv.reasons': '模型给出的原因',
      'rv.noReasons': '模型未给出原因。',
      'rv.other': '其他因素合计：{pts}个百分点',
      'rv.sla.left': '剩余 {d}',
      'rv.sla.soon': '即将超时 · 剩余 {d}',
      'rv.sla.over': '已超时 {d}',
      'rv.sla.label': '响应时限（2小时）',
      'rv.dur.dh': '{d}天{h}小时',
      'rv.dur.hm': '{h}小时{m}分',
      'rv.dur.ms': '{m}分{s}秒',
      'rv.done.approve': '已批准。',
      'rv.done.reject': '已驳回。',
      'rv.done.adjust_level': '级别已调整为{level}。',
      'rv.done.escalate': '已上报。',
      'rv.conflict': '其他人已先修改了此预警，已重新加载。当前状态：{state}，级别：{level}（版本 {v}）。请确认后再操作。',
      'rv.conflictGone': '其他人已先修改了此预警，您已无法再查看它。',
      'rv.leaseHeld': '此预警正由 {who} 处理（至 {until}），请稍后再试。',
      'rv.bulkTitle': '批量{action}：成功 {ok} 条，失败 {failed} 条',
      'rv.bulk.ok': '成功',
      'rv.bulk.stale_version': '其他人已先修改，已重新加载',
      'rv.bulk.lease_held': '正由他人处理',
      'rv.bulk.invalid_transition': '当前状态不允许此操作',
      'rv.bulk.invalid_input': '输入无效',
      'rv.bulk.not_found': '未找到',
      'rv.bulk.not_in_scope': '不在您的范围内',
      'rv.action.approve': '批准',
      'rv.action.reject': '驳回',
      'rv.action.adjust_level': '调整级别',
      'rv.action.escalate': '上报',
      'rv.loadError': '无法加载审核队列：{msg}',
      'rv.readOnly': '您可以查看审核队列，但只有审核员可以处理预警。',
    },
    en: {
      'rv.title': 'Review queue',
      'rv.filters': 'Filters',
      'rv.state': 'State',
      'rv.target': 'Category',
      'rv.level': 'Level',
      'rv.street': 'Street',
      'rv.community': 'Community',
      'rv.anyStreet': 'All streets',
      'rv.anyCommunity': 'All communities',
      'rv.all': 'All',
      'rv.apply': 'Apply filters',
      'rv.reset': 'Reset',
      'rv.queue': 'Warnings',
      'rv.refresh': 'Refresh',
      'rv.loading': 'Loading…',
      'rv.empty': 'No warnings match these filters.',
      'rv.more': 'Load more',
      'rv.summary': '{total} in total, {shown} shown',
      'rv.overdue': '{n} overdue',
      'rv.claimedByMe': 'claimed by you until {until}',
      'rv.updated': 'updated {time}',
      'rv.selectAll': 'Select all',
      'rv.selected': '{n} selected',
      'rv.noneSelected': 'None selected',
      'rv.approveSel': 'Approve selected',
      'rv.rejectSel': 'Reject selected…',
      'rv.adjustSel': 'Adjust level of selected…',
      'rv.escalateSel': 'Escalate selected',
      'rv.select': 'Select {what}',
      'rv.approve': 'Approve',
      'rv.reject': 'Reject…',
      'rv.adjust': 'Adjust level…',
      'rv.escalate': 'Escalate',
      'rv.rejectTitle': 'Reject warning',
      'rv.rejectReason': 'Reason',
      'rv.reasonText': 'Explanation (required for “Other”)',
      'rv.reason.false_alarm': 'False alarm',
      'rv.reason.already_handled': 'Already handled',
      'rv.reason.duplicate': 'Duplicate',
      'rv.reason.insufficient_information': 'Insufficient information',
      'rv.reason.other': 'Other',
      'rv.needReason': 'Choose a reason.',
      'rv.needText': 'Say why when you choose “Other”.',
      'rv.adjustTitle': 'Adjust level',
      'rv.newLevel': 'New level',
      'rv.needLevel': 'Choose a level.',
      'rv.cancel': 'Cancel',
      'rv.confirmReject': 'Reject',
      'rv.confirmAdjust': 'Adjust',
      'rv.close': 'Close',
      'rv.oneItem': 'Grid {grid} · {target}',
      'rv.nItems': '{n} warnings selected',
      'rv.grid': 'Grid {grid}',
      'rv.where': 'street {street} · community {community}',
      'rv.prob': 'probability {p}',
      'rv.base': 'Starting point of every forecast (base probability) {base}; this grid {p}',
      'rv.window': 'window {start} to {end}',
      'rv.created': 'queued {time}',
      'rv.modelLevel': 'model said {level}',
      'rv.version': 'version {v}',
      'rv.model': 'model {m}',
      'rv.claimed': '{who} is on it until {until}',
      'rv.escalatedBy': 'escalated by {who} at {time}',
      'rv.reviewedBy': 'decided by {who} at {time}',
      'rv.patrols': 'Patrol reports',
      'rv.patrols.n': 'Patrol reports ({n})',
      'rv.patrols.none': 'No patrol report yet.',
      'rv.patrols.line': '{time} · {outcome}',
      'rv.outcome.found_issue': 'Found an issue',
      'rv.outcome.nothing_found': 'Nothing found',
      'rv.outcome.could_not_visit': 'Could not visit',
      'rv.rejectedFor': 'rejected: {reason}',
      'rv.reasons': 'Why the model warns',
      'rv.noReasons': 'The model gave no reasons.',
      'rv.other': 'Other factors together: {pts} pts',
      'rv.sla.left': '{d} left',
      'rv.sla.soon': 'Due soon · {d} left',
      'rv.sla.over': 'Overdue by {d}',
      'rv.sla.label': 'Response target (2 h)',
      'rv.dur.dh': '{d} d {h} h',
      'rv.dur.hm': '{h} h {m} min',
      'rv.dur.ms': '{m} min {s} s',
      'rv.done.approve': 'Approved.',
      'rv.done.reject': 'Rejected.',
      'rv.done.adjust_level': 'Level changed to {level}.',
      'rv.done.escalate': 'Escalated.',
      'rv.conflict': 'Someone else changed this item first — reloaded. It is now {state}, level {level} (version {v}). Check it before acting again.',
      'rv.conflictGone': 'Someone else changed this item first; you can no longer see it.',
      'rv.leaseHeld': '{who} is working on this item (until {until}); try again later.',
      'rv.bulkTitle': 'Bulk {action}: {ok} succeeded, {failed} failed',
      'rv.bulk.ok': 'done',
      'rv.bulk.stale_version': 'someone else changed it first — reloaded',
      'rv.bulk.lease_held': 'someone else is working on it',
      'rv.bulk.invalid_transition': 'not possible in its current state',
      'rv.bulk.invalid_input': 'invalid input',
      'rv.bulk.not_found': 'not found',
      'rv.bulk.not_in_scope': 'outside your scope',
      'rv.action.approve': 'approve',
      'rv.action.reject': 'reject',
      'rv.action.adjust_level': 'adjust level',
      'rv.action.escalate': 'escalate',
      'rv.loadError': 'Could not load the queue: {msg}',
      'rv.readOnly': 'You can look at the queue; only reviewers can decide on warnings.',
    },
  });

  const page = {
    items: new Map(), // item_id -> item (as the API returned it last)
    order: [], // item ids in display order
    selected: new Set(),
    notes: new Map(), // item_id -> {kind, text} shown beside the item
    patrols: new Map(), // item_id -> its patrol reports (from the item's detail), once loaded
    patrolsOpen: new Set(), // items whose patrol reports are folded out
    total: 0,
    grids: new Map(), // grid_id -> {street_id, community_id} (from /map when available)
    loadedAt: null,
    loadSeq: 0, // the latest queue load; an older answer arriving later is dropped
    busy: false,
    canAct: false, // only reviewers decide; an admin may look
    user: null,
  };

  const $ = (id) => document.getElementById(id);

  // ------------------------------------------------------------------ helpers

  function itemPath(id, action) {
    const encoded = id.split('/').map(encodeURIComponent).join('/');
    return '/review/items/' + encoded + (action ? '/' + action : '');
  }

  function levelName(level) {
    return R.t('level.' + (LEVEL_RANK[level] ? level : 'none'));
  }

  /** Signed points as the reasons write them (models.reason_texts.format_points). */
  function fmtPoints(points) {
    const text = Math.abs(points) >= 9.95 ? Math.abs(points).toFixed(0) : Math.abs(points).toFixed(1);
    return (points < 0 ? '-' : '+') + text;
  }

  function byLevelThenAge(a, b) {
    const rank = (LEVEL_RANK[b.level] || 0) - (LEVEL_RANK[a.level] || 0);
    if (rank) return rank;
    const age = Date.parse(a.created_at) - Date.parse(b.created_at);
    return age || a.item_id.localeCompare(b.item_id);
  }

  function duration(ms) {
    const total = Math.max(0, Math.floor(ms / 1000));
    const d = Math.floor(total / 86400);
    const h = Math.floor((total % 86400) / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = total % 60;
    if (d > 0) return R.t('rv.dur.dh', { d, h });
    if (h > 0) return R.t('rv.dur.hm', { h, m });
    return R.t('rv.dur.ms', { m, s });
  }

  function dueAt(item) {
    return Date.parse(item.created_at) + responseTargetMs;
  }

  /** {kind, text} of an item's SLA: ok, soon, over; null once decided. */
  function sla(item, now) {
    if (!OPEN.has(item.state)) return null;
    const left = dueAt(item) - now;
    if (left <= 0) return { kind: 'over', text: R.t('rv.sla.over', { d: duration(-left) }) };
    if (left <= SOON_MS) return { kind: 'soon', text: R.t('rv.sla.soon', { d: duration(left) }) };
    return { kind: 'ok', text: R.t('rv.sla.left', { d: duration(left) }) };
  }

  function filters() {
    const form = $('rv-filter-form');
    const states = [...form.querySelectorAll('input[name=state]:checked')].map((i) => i.value);
    return {
      state: states.length ? states : DEFAULT_STATES,
      target: form.elements.target.value,
      level: form.elements.level.value,
      street: form.elements.street.value.trim(),
      community: form.elements.community.value.trim(),
    };
  }

  function queueQuery(offset) {
    const f = filters();
    const q = new URLSearchParams();
    for (const s of f.state) q.append('state', s);
    for (const name of ['target', 'level', 'street', 'community']) {
      if (f[name]) q.append(name, f[name]);
    }
    q.set('limit', String(PAGE_SIZE));
    q.set('offset', String(offset));
    return '/review/items?' + q.toString();
  }

  // ------------------------------------------------------------------ loading

  async function loadQueue(append) {
    const seq = ++page.loadSeq;
    const offset = append ? page.order.length : 0;
    $('rv-loading').hidden = false;
    try {
      const data = await R.api(queueQuery(offset));
      if (seq !== page.loadSeq) return; // filters changed meanwhile: the newer load draws
      if (!append) {
        page.items.clear();
        page.order = [];
        page.selected.clear();
        page.notes.clear();
        page.patrols.clear();
      }
      for (const item of data.items) {
        if (!page.items.has(item.item_id)) page.order.push(item.item_id);
        page.items.set(item.item_id, item);
      }
      page.total = data.total;
      page.loadedAt = new Date();
      const items = page.order.map((id) => page.items.get(id)).sort(byLevelThenAge);
      page.order = items.map((i) => i.item_id);
      renderQueue();
    } catch (err) {
      if (seq === page.loadSeq) R.toast(R.t('rv.loadError', { msg: R.errorText(err) }), 'error');
    } finally {
      if (seq === page.loadSeq) {
        $('rv-loading').hidden = true;
        // counts finished current loads (drawn or failed), as the commander page does
        document.body.dataset.loaded = String(Number(document.body.dataset.loaded || 0) + 1);
      }
    }
  }

  async function reloadItem(id) {
    try {
      const fresh = await R.api(itemPath(id));
      page.items.set(id, fresh);
      return fresh;
    } catch (err) {
      if (err.status === 404) {
        page.items.delete(id);
        page.order = page.order.filter((x) => x !== id);
        page.selected.delete(id);
        return null;
      }
      throw err;
    }
  }

  async function loadGrids() {
    // Street and community of each grid, for the filters and the item lines (optional).
    try {
      const map = await R.api('/map?target=any');
      for (const f of (map && map.features) || []) {
        const p = f.properties || {};
        if (p.grid_id) page.grids.set(p.grid_id, { street: p.street_id, community: p.community_id });
      }
    } catch (err) {
      return;
    }
    const fill = (id, values) => {
      const list = $(id);
      list.replaceChildren(...[...values].sort().map((v) => el('option', { value: v })));
    };
    const grids = [...page.grids.values()];
    fill('rv-streets', new Set(grids.map((g) => g.street).filter(Boolean)));
    fill('rv-communities', new Set(grids.map((g) => g.community).filter(Boolean)));
    renderQueue();
  }

  // ------------------------------------------------------------------ rendering

  function renderSummary() {
    const now = Date.now();
    const shown = page.order.length;
    const overdue = page.order.filter((id) => {
      const s = sla(page.items.get(id), now);
      return s && s.kind === 'over';
    }).length;
    const parts = [R.t('rv.summary', { total: page.total, shown })];
    parts.push(' · ', el('span', { class: overdue ? 'rv-overdue' : '', text: R.t('rv.overdue', { n: overdue }) }));
    if (page.loadedAt) parts.push(' · ' + R.t('rv.updated', { time: R.fmtTime(page.loadedAt.toISOString()) }));
    $('rv-summary').replaceChildren(...parts);
    $('rv-empty').hidden = shown > 0;
    $('rv-more').hidden = shown >= page.total;
  }

  function renderToolbar() {
    const n = page.selected.size;
    $('rv-toolbar-label').textContent = n ? R.t('rv.selected', { n }) : R.t('rv.noneSelected');
    document.querySelectorAll('[data-bulk]').forEach((b) => {
      b.disabled = n === 0 || page.busy;
    });
    const selectable = page.order.filter((id) => OPEN.has(page.items.get(id).state));
    const all = $('rv-select-all');
    all.checked = selectable.length > 0 && selectable.every((id) => page.selected.has(id));
    all.indeterminate = n > 0 && !all.checked;
    all.disabled = selectable.length === 0 || !page.canAct;
  }

  function renderQueue() {
    const list = $('rv-queue');
    list.replaceChildren(...page.order.map((id) => renderItem(page.items.get(id))));
    renderSummary();
    renderToolbar();
  }

  function replaceItem(id) {
    const old = document.querySelector(`li[data-item-id="${CSS.escape(id)}"]`);
    const item = page.items.get(id);
    if (!item) {
      if (old) old.remove();
    } else if (old) {
      old.replaceWith(renderItem(item));
    }
    renderSummary();
    renderToolbar();
  }

  function metaLine(item) {
    const bits = [];
    const where = page.grids.get(item.grid_id);
    if (where) bits.push(R.t('rv.where', { street: where.street, community: where.community }));
    bits.push(R.t('rv.window', { start: R.fmtTime(item.window_start), end: R.fmtTime(item.window_end) }));
    bits.push(R.t('rv.created', { time: R.fmtTime(item.created_at) }));
    bits.push(R.t('rv.model', { m: item.model_version }));
    bits.push(R.t('rv.version', { v: item.version }));
    return bits.flatMap((text, i) => [i ? ' · ' : '', el('span', { class: 'rv-bit', text })]);
  }

  function statusLine(item) {
    const bits = [];
    const leaseLive = item.claimed_by && item.lease_until && Date.parse(item.lease_until) > Date.now();
    if (leaseLive) {
      const until = R.fmtTime(item.lease_until);
      const mine = page.user && item.claimed_by === page.user.username;
      bits.push(mine ? R.t('rv.claimedByMe', { until }) : R.t('rv.claimed', { who: item.claimed_by, until }));
    }
    if (item.escalated_by) {
      bits.push(R.t('rv.escalatedBy', { who: item.escalated_by, time: R.fmtTime(item.escalated_at) }));
    }
    if (item.reviewed_by) {
      bits.push(R.t('rv.reviewedBy', { who: item.reviewed_by, time: R.fmtTime(item.reviewed_at) }));
    }
    if (item.reject_reason) {
      const reason = R.t('rv.reason.' + item.reject_reason);
      bits.push(R.t('rv.rejectedFor', { reason: reason + (item.reject_text ? ' — ' + item.reject_text : '') }));
    }
    return bits.join(' · ');
  }

  const patrolsLoading = new Set();

  async function loadPatrols(id) {
    if (patrolsLoading.has(id)) return;
    patrolsLoading.add(id);
    try {
      const detail = await R.api(itemPath(id));
      page.patrols.set(id, detail.patrol_reports || []);
    } catch (err) {
      page.patrolsOpen.delete(id);
      R.toast(R.t('rv.loadError', { msg: R.errorText(err) }), 'error');
    } finally {
      patrolsLoading.delete(id);
    }
    replaceItem(id);
  }

  /** The fold-out of the patrol reports that answered an approved (or later) item. */
  function patrolBox(item) {
    if (!PATROLLED.has(item.state)) return null;
    const id = item.item_id;
    const reports = page.patrols.get(id);
    let body;
    if (!reports) body = el('p', { class: 'rv-muted', text: R.t('rv.loading') });
    else if (!reports.length) body = el('p', { class: 'rv-muted', text: R.t('rv.patrols.none') });
    else {
      body = el(
        'ul',
        {},
        reports.map((r) =>
          el('li', {
            'data-outcome': r.outcome,
            text: R.t('rv.patrols.line', { time: R.fmtTime(r.at), outcome: R.t('rv.outcome.' + r.outcome) }),
          }),
        ),
      );
    }
    const box = el(
      'details',
      { class: 'rv-patrols', 'data-loaded': reports ? '1' : '0' },
      el('summary', { text: reports ? R.t('rv.patrols.n', { n: reports.length }) : R.t('rv.patrols') }),
      body,
    );
    box.open = page.patrolsOpen.has(id);
    // also fires for the open state set just above, so an item redrawn open loads again
    box.addEventListener('toggle', () => {
      if (!box.open) {
        page.patrolsOpen.delete(id);
        return;
      }
      page.patrolsOpen.add(id);
      if (!page.patrols.has(id)) loadPatrols(id);
    });
    return box;
  }

  function renderItem(item) {
    const id = item.item_id;
    const open = OPEN.has(item.state);
    const what = R.t('rv.oneItem', { grid: item.grid_id, target: R.targetLabel(item.target) });
    const headId = 'rv-h-' + id.replace(/[^A-Za-z0-9_-]/g, '_');
    const check = el('input', {
      type: 'checkbox',
      class: 'rv-check',
      'aria-label': R.t('rv.select', { what }),
      disabled: !open || !page.canAct,
      onchange: (e) => {
        if (e.target.checked) page.selected.add(id);
        else page.selected.delete(id);
        renderToolbar();
      },
    });
    check.checked = page.selected.has(id);

    const title = el(
      'h3',
      { class: 'rv-item-title', id: headId },
      R.levelBadge(item.level),
      el('a', { href: '/grid/' + encodeURIComponent(item.grid_id), text: R.t('rv.grid', { grid: item.grid_id }) }),
      el('span', { class: 'rv-target', text: R.targetLabel(item.target) }),
      el('span', { class: 'rv-prob', text: R.t('rv.prob', { p: R.fmtPct(item.prob) }) }),
    );
    const stateTag = el('span', {
      class: 'rv-state rv-state-' + item.state,
      'data-state': item.state,
      text: R.stateLabel(item.state),
    });
    const s = sla(item, Date.now());
    const slaTag = s
      ? el('span', {
          class: 'rv-sla rv-sla-' + s.kind,
          'data-due': String(dueAt(item)),
          title: R.t('rv.sla.label'),
          text: s.text,
        })
      : null;
    const adjusted =
      item.original_level && item.original_level !== item.level
        ? el('span', { class: 'rv-adjusted', text: R.t('rv.modelLevel', { level: levelName(item.original_level) }) })
        : null;

    const reasons = (item.reasons || []).map((r) => R.reasonText(r)).filter(Boolean);
    const base = (item.reasons || []).map((r) => r && r.base_prob).find((v) => typeof v === 'number');
    // base + the reasons' points + the other factors' points = the forecast (issue 15)
    const other = (item.reasons || []).map((r) => r && r.other_points).find((v) => typeof v === 'number');
    const reasonBox = el(
      'div',
      { class: 'rv-reasons' },
      el('h4', { text: R.t('rv.reasons') }),
      typeof base === 'number'
        ? el('p', { class: 'rv-base', text: R.t('rv.base', { base: R.fmtPct(base), p: R.fmtPct(item.prob) }) })
        : null,
      reasons.length
        ? el('ul', {}, reasons.slice(0, 3).map((text) => el('li', { text })))
        : el('p', { class: 'rv-muted', text: R.t('rv.noReasons') }),
      reasons.length && typeof other === 'number'
        ? el('p', { class: 'rv-other', text: R.t('rv.other', { pts: fmtPoints(other) }) })
        : null,
    );

    const act = (action, label, cls) =>
      el('button', {
        type: 'button',
        class: 'btn btn-small ' + cls,
        'data-action': action,
        disabled: !open || page.busy || !page.canAct,
        'aria-describedby': headId,
        text: R.t(label),
        onclick: () => single(id, action),
      });
    const actions = el(
      'div',
      { class: 'rv-actions' },
      act('approve', 'rv.approve', 'btn-approve'),
      act('reject', 'rv.reject', 'btn-reject'),
      act('adjust_level', 'rv.adjust', 'btn-secondary'),
      act('escalate', 'rv.escalate', 'btn-secondary'),
    );
    if (item.state !== 'pending') actions.querySelector('[data-action=escalate]').disabled = true;

    const note = page.notes.get(id);
    const noteBox = note
      ? el('p', { class: 'rv-note rv-note-' + note.kind, role: note.kind === 'ok' ? 'status' : 'alert', text: note.text })
      : null;
    const status = statusLine(item);

    return el(
      'li',
      {
        class: 'rv-item rv-level-' + item.level + (open ? '' : ' rv-decided'),
        'data-item-id': id,
        'data-state': item.state,
        'data-version': String(item.version),
        'aria-labelledby': headId,
      },
      el('div', { class: 'rv-item-check' }, check),
      el(
        'div',
        { class: 'rv-item-body' },
        el('div', { class: 'rv-item-head' }, title, el('div', { class: 'rv-tags' }, stateTag, slaTag)),
        el('p', { class: 'rv-meta' }, ...metaLine(item)),
        adjusted || status ? el('p', { class: 'rv-status' }, adjusted, adjusted && status ? ' · ' : '', status) : null,
        reasonBox,
        patrolBox(item),
        noteBox,
        actions,
      ),
    );
  }

  function tick() {
    const now = Date.now();
    document.querySelectorAll('.rv-item').forEach((li) => {
      const item = page.items.get(li.dataset.itemId);
      const tag = li.querySelector('.rv-sla');
      if (!item || !tag) return;
      const s = sla(item, now);
      if (!s) return;
      tag.className = 'rv-sla rv-sla-' + s.kind;
      tag.textContent = s.text;
    });
    renderSummary();
  }

  // ------------------------------------------------------------------ dialogs

  function ask(dialog, what, setup) {
    return new Promise((resolve) => {
      const form = dialog.querySelector('form');
      form.reset();
      dialog.querySelector('.rv-dialog-what').textContent = what;
      dialog.querySelectorAll('.rv-form-error').forEach((e) => (e.hidden = true));
      if (setup) setup(form);
      let result = null;
      const cancel = dialog.querySelector('button[value=cancel]');
      cancel.onclick = () => dialog.close();
      form.onsubmit = (e) => {
        const check = form._validate ? form._validate(form) : null;
        if (check && check.error) {
          e.preventDefault();
          const box = dialog.querySelector('.rv-form-error');
          box.textContent = check.error;
          box.hidden = false;
          return;
        }
        result = check ? check.value : true;
      };
      dialog.addEventListener('close', () => resolve(result), { once: true });
      dialog.showModal();
      const first = dialog.querySelector('input, select, textarea');
      if (first) first.focus();
    });
  }

  function askReject(what) {
    const dialog = $('rv-reject-dialog');
    return ask(dialog, what, (form) => {
      form._validate = (f) => {
        const reason = f.elements.reason.value;
        const text = f.elements.text.value.trim();
        if (!reason) return { error: R.t('rv.needReason') };
        if (reason === 'other' && !text) return { error: R.t('rv.needText') };
        return { value: { reason, text: text || null } };
      };
    });
  }

  function askLevel(what, current) {
    const dialog = $('rv-level-dialog');
    return ask(dialog, what, (form) => {
      const box = $('rv-level-choices');
      box.querySelectorAll('label').forEach((l) => l.remove());
      for (const level of R.LEVELS) {
        const input = el('input', { type: 'radio', name: 'level', value: level });
        if (level === current) input.checked = true;
        box.append(el('label', { class: 'rv-level-choice' }, input, ' ', R.levelBadge(level)));
      }
      form._validate = (f) => {
        const level = f.elements.level.value;
        return level ? { value: { level } } : { error: R.t('rv.needLevel') };
      };
    });
  }

  /** The body of an action beyond expected_version, or null when the user cancelled. */
  async function actionParams(action, what, current) {
    if (action === 'reject') return askReject(what);
    if (action === 'adjust_level') return askLevel(what, current);
    return {};
  }

  // ------------------------------------------------------------------ actions

  function setBusy(busy) {
    page.busy = busy;
    document.querySelectorAll('.rv-actions button').forEach((b) => {
      if (busy) b.disabled = true;
    });
    if (!busy) renderQueue();
    else renderToolbar();
  }

  function doneText(action, item) {
    return R.t('rv.done.' + action, { level: levelName(item.level) });
  }

  async function conflictNote(id, err) {
    let fresh = null;
    try {
      fresh = await reloadItem(id);
    } catch (e) {
      fresh = page.items.get(id);
    }
    if (!fresh) return { kind: 'conflict', text: R.t('rv.conflictGone') };
    if (err && err.code === 'lease_held' && fresh.claimed_by) {
      return {
        kind: 'conflict',
        text: R.t('rv.leaseHeld', { who: fresh.claimed_by, until: R.fmtTime(fresh.lease_until) }),
      };
    }
    return {
      kind: 'conflict',
      text: R.t('rv.conflict', { state: R.stateLabel(fresh.state), level: levelName(fresh.level), v: fresh.version }),
    };
  }

  async function single(id, action) {
    const item = page.items.get(id);
    if (!item || page.busy) return;
    const what = R.t('rv.oneItem', { grid: item.grid_id, target: R.targetLabel(item.target) });
    const params = await actionParams(action, what, item.level);
    if (params === null) return;
    const path = action === 'adjust_level' ? 'adjust' : action;
    setBusy(true);
    try {
      const updated = await R.api(itemPath(id, path), {
        method: 'POST',
        body: Object.assign({ expected_version: item.version }, params),
      });
      page.items.set(id, updated);
      page.selected.delete(id);
      page.notes.set(id, { kind: 'ok', text: doneText(action, updated) });
    } catch (err) {
      let note;
      if (err.status === 409) {
        note = await conflictNote(id, err);
        R.toast(note.text, 'warn');
      } else {
        note = { kind: 'error', text: R.errorText(err) };
      }
      page.notes.set(id, note);
    } finally {
      setBusy(false);
      focusItem(id);
    }
  }

  function focusItem(id) {
    const li = document.querySelector(`li[data-item-id="${CSS.escape(id)}"]`);
    const target = li && li.querySelector('.rv-note, .rv-item-title a');
    if (target) {
      if (!target.hasAttribute('tabindex') && target.tagName !== 'A') target.setAttribute('tabindex', '-1');
      target.focus({ preventScroll: false });
    }
  }

  async function bulk(action) {
    const ids = page.order.filter((id) => page.selected.has(id));
    if (!ids.length || page.busy) return;
    const what = R.t('rv.nItems', { n: ids.length });
    const params = await actionParams(action, what, null);
    if (params === null) return;
    setBusy(true);
    let out = null;
    try {
      out = await R.api('/review/bulk', {
        method: 'POST',
        body: Object.assign(
          { action, items: ids.map((id) => ({ item_id: id, expected_version: page.items.get(id).version })) },
          params,
        ),
      });
    } catch (err) {
      R.toast(R.errorText(err), 'error');
      setBusy(false);
      return;
    }
    const lines = [];
    for (const r of out.results) {
      const item = page.items.get(r.item_id);
      const label = item ? R.t('rv.oneItem', { grid: item.grid_id, target: R.targetLabel(item.target) }) : r.item_id;
      if (r.ok && r.item) {
        page.items.set(r.item_id, r.item);
        page.notes.set(r.item_id, { kind: 'ok', text: doneText(action, r.item) });
        page.selected.delete(r.item_id);
      } else if (r.code === 'stale_version' || r.code === 'lease_held' || r.code === 'invalid_transition') {
        page.notes.set(r.item_id, await conflictNote(r.item_id, { code: r.code }));
      } else {
        page.notes.set(r.item_id, { kind: 'error', text: R.t('rv.bulk.' + r.code) });
      }
      const codeText = R.has('rv.bulk.' + r.code) ? R.t('rv.bulk.' + r.code) : r.code;
      lines.push(
        el(
          'li',
          { class: r.ok ? 'rv-bulk-ok' : 'rv-bulk-failed', 'data-item-id': r.item_id, 'data-code': r.code },
          el('span', { class: 'rv-bulk-mark', 'aria-hidden': 'true', text: r.ok ? '✓' : '✗' }),
          ' ',
          label,
          ' — ',
          codeText,
        ),
      );
    }
    $('rv-bulk-title').textContent = R.t('rv.bulkTitle', {
      action: R.t('rv.action.' + action),
      ok: out.succeeded,
      failed: out.failed,
    });
    $('rv-bulk-list').replaceChildren(...lines);
    const box = $('rv-bulk-results');
    box.hidden = false;
    box.classList.toggle('rv-bulk-has-failures', out.failed > 0);
    setBusy(false);
    box.focus();
  }

  // ------------------------------------------------------------------ setup

  function fillSelects() {
    const target = $('rv-target');
    const level = $('rv-level');
    const keepT = target.value;
    const keepL = level.value;
    target.replaceChildren(
      el('option', { value: '', text: R.t('rv.all') }),
      ...TARGETS.map((t) => el('option', { value: t, text: R.targetLabel(t) })),
    );
    level.replaceChildren(
      el('option', { value: '', text: R.t('rv.all') }),
      ...R.LEVELS.map((l) => el('option', { value: l, text: levelName(l) })),
    );
    target.value = keepT;
    level.value = keepL;
  }

  function wire() {
    $('rv-filter-form').addEventListener('submit', (e) => {
      e.preventDefault();
      loadQueue(false);
    });
    $('rv-filter-form').addEventListener('change', (e) => {
      if (e.target.tagName === 'SELECT' || e.target.type === 'checkbox') loadQueue(false);
    });
    $('rv-reset').addEventListener('click', () => {
      const form = $('rv-filter-form');
      form.reset();
      loadQueue(false);
    });
    $('rv-refresh').addEventListener('click', () => loadQueue(false));
    $('rv-more').addEventListener('click', () => loadQueue(true));
    $('rv-select-all').addEventListener('change', (e) => {
      for (const id of page.order) {
        if (!OPEN.has(page.items.get(id).state)) continue;
        if (e.target.checked) page.selected.add(id);
        else page.selected.delete(id);
      }
      renderQueue();
    });
    document.querySelectorAll('[data-bulk]').forEach((b) => {
      b.addEventListener('click', () => bulk(b.dataset.bulk));
    });
    $('rv-bulk-close').addEventListener('click', () => {
      $('rv-bulk-results').hidden = true;
    });
    R.onLang(() => {
      fillSelects();
      renderQueue();
    });
  }

  async function start() {
    try {
      const user = await R.header('rv.title');
      page.user = user;
      page.canAct = user.role === 'reviewer';
      if (user.response_target_minutes) responseTargetMs = user.response_target_minutes * 60 * 1000;
    } catch (err) {
      R.toast(R.errorText(err), 'error');
      return;
    }
    if (!page.canAct) {
      const note = el('p', { class: 'rv-readonly', 'data-i18n': 'rv.readOnly', text: R.t('rv.readOnly') });
      document.querySelector('.rv-toolbar').before(note);
      document.querySelector('.rv-toolbar').hidden = true;
    }
    fillSelects();
    wire();
    if (window.matchMedia('(max-width: 900px)').matches) $('rv-filter-box').open = false; // list first on a phone
    await loadQueue(false);
    loadGrids();
    setInterval(tick, 1000);
  }

  start();
})();
