/* Analyst page: model versions with gate results, the backtest report from each version's
 * model card, promotion with a named approval, and reviewer agreement rates.
 *
 * Data: GET /api/v1/models, /api/v1/models/{v}/card, POST /api/v1/models/{v}/promote
 * ({approved_by}), GET /api/v1/review/stats, GET /api/v1/model-health (issue 17: a banner
 * when the latest scoring run passed a health threshold, a mark on flagged versions, and
 * inline SVG line charts of the series over runs — drawn here, no library). The server decides who may promote (admins
 * only) and refuses a version failing a gate (409 promotion_refused, one field per gate);
 * the page shows either refusal as it comes.
 *
 * The backtest report is read out of the model card's HTML (sections "Training window",
 * "Metrics overall", "Metrics by segment") with DOMParser — inert, nothing runs — and the
 * whole card is shown in a sandboxed iframe.
 */
(function () {
  'use strict';

  const METRICS = ['pr_auc', 'roc_auc', 'pei@5', 'hit_rate@10', 'pai@10', 'miss_rate@10', 'miss_rate_true@10', 'ece', 'brier'];

  Risk.strings({
    zh: {
      'ana.title': '模型分析',
      'ana.versions': '模型版本',
      'ana.versions.note': '正式模型（champion）用于每日预测；上线须通过全部门槛并由管理员具名批准。',
      'ana.versions.none': '还没有登记的模型版本。',
      'ana.col.version': '版本',
      'ana.col.aliases': '标签',
      'ana.col.created': '登记时间',
      'ana.col.gates': '门槛',
      'ana.col.approved': '批准',
      'ana.col.actions': '操作',
      'ana.view': '查看',
      'ana.viewing': '正在查看',
      'ana.alias.champion': '正式模型',
      'ana.alias.challenger': '候选模型',
      'ana.gates.pass': '全部通过',
      'ana.gates.fail': '{n} 项未通过',
      'ana.gates.unknown': '未检查',
      'ana.approved_by': '{who}，{at}',
      'ana.detail': '版本 v{v}',
      'ana.gates': '门槛检查结果',
      'ana.gate.pass': '通过',
      'ana.gate.fail': '未通过',
      'ana.gates.none': '尚未检查门槛。',
      'ana.promote': '上线审批',
      'ana.approver': '批准人账号（你自己的管理员账号）',
      'ana.confirm': '我已审阅 v{v} 的回测报告和门槛结果，同意将其设为正式模型。',
      'ana.promote.submit': '批准上线',
      'ana.promote.busy': '正在提交…',
      'ana.promote.note': '服务器检查角色与门槛：只有管理员可以批准，未通过门槛的版本会被拒绝。',
      'ana.promote.champion': 'v{v} 已是正式模型。',
      'ana.promote.champion_by': 'v{v} 已是正式模型，由 {who} 于 {at} 批准。',
      'ana.promote.gates_failed': '此版本有未通过的门槛，服务器会拒绝上线。',
      'ana.promote.need_name': '请填写批准人账号。',
      'ana.promote.need_confirm': '请勾选确认。',
      'ana.promote.ok': 'v{v} 已上线，批准人 {who}。',
      'ana.promote.refused': '上线被拒绝：以下门槛未通过。',
      'ana.promote.forbidden': '上线被拒绝：你的角色不能批准上线（只有管理员可以，四眼原则）。',
      'ana.promote.conflict': '上线被拒绝：{msg}',
      'ana.backtest': '回测报告',
      'ana.backtest.none': '此版本没有模型卡。',
      'ana.backtest.window': '训练与回测范围',
      'ana.backtest.overall': '总体指标',
      'ana.backtest.segments': '按网格类型（{n} 张表）',
      'ana.backtest.others': '其他事件类别（{n} 张表）',
      'ana.backtest.english': '模型卡由训练流程生成，原文为英文；下表数字与原文一致。',
      'ana.card': '完整模型卡（英文原文）',
      'ana.agree': '审核一致率',
      'ana.agree.note': '人工审核与模型建议的一致程度（已决定的预警）。',
      'ana.agree.by_reviewer': '按审核员',
      'ana.agree.by_model': '按模型版本',
      'ana.agree.none': '还没有已决定的预警。',
      'ana.live': '上线后的准确率',
      'ana.live.note': '近4周窗口已结束的预警中，按模型版本和模型给出的等级，确有事件发生的比例；回测承诺见模型卡的“风险等级”。',
      'ana.live.none': '近4周还没有窗口已结束的预警。',
      'ana.live.col.model': '模型版本',
      'ana.live.col.level': '模型等级',
      'ana.live.col.n': '预警数',
      'ana.live.col.true': '应验',
      'ana.live.col.precision': '应验率',
      'ana.agree.col.reviewer': '审核员',
      'ana.agree.col.model': '模型版本',
      'ana.agree.col.decided': '已决定',
      'ana.agree.col.agree': '同意',
      'ana.agree.col.adjusted': '调整等级',
      'ana.agree.col.rejected': '驳回',
      'ana.agree.col.override': '推翻率',
      'ana.health': '模型健康',
      'ana.health.note': '每次预测运行与模型训练期的对比（PSI：0 为相同，越大差异越大），以及窗口结束后的实际校准与各等级应验率。',
      'ana.health.none': '还没有带健康记录的预测运行。',
      'ana.health.latest': '最近一次运行 {time}，模型版本 {v}：',
      'ana.health.checked': '比较了 {n} 个特征。',
      'ana.health.banner.alert': '模型健康告警：{time} 的预测运行超出告警阈值。',
      'ana.health.banner.warn': '模型健康提示：{time} 的预测运行超出提示阈值。',
      'ana.health.banner.link': '查看模型健康',
      'ana.health.chip': '健康告警',
      'ana.health.status.ok': '正常',
      'ana.health.status.warn': '注意',
      'ana.health.status.alert': '告警',
      'ana.health.status.unknown': '未知（模型没有训练期参照）',
      'ana.health.severity.warn': '提示阈值',
      'ana.health.severity.alert': '告警阈值',
      'ana.health.run': '运行 {run}',
      'ana.health.metric.score_psi': '预测分数 PSI',
      'ana.health.metric.family_psi': '特征族 PSI',
      'ana.health.metric.missing_share': '输入缺失的网格占比',
      'ana.health.metric.out_of_range_share': '输入超出训练范围的网格占比',
      'ana.health.metric.ece': '实际校准误差 ECE',
      'ana.health.chart.score_psi': '预测分数 PSI（按事件类别）',
      'ana.health.chart.family_psi': '特征族 PSI（族内最大值）',
      'ana.health.chart.missing_share': '输入缺失的网格占比',
      'ana.health.chart.out_of_range_share': '输入超出训练范围的网格占比',
      'ana.health.chart.ece': '实际校准误差 ECE（窗口结束后）',
      'ana.health.chart.precision': '各等级实际应验率（窗口结束后）',
      'ana.health.chart.volumes': '近 7 天事件量（按来源）',
      'ana.health.chart.empty': '暂无数据',
      'ana.health.threshold.warn': '提示 {v}',
      'ana.health.threshold.alert': '告警 {v}',
      'ana.source.resident': '居民',
      'ana.source.hotline': '热线',
      'ana.source.grid_worker': '网格员',
      'ana.source.patrol': '巡查',
      'ana.source.sensor': '感知设备',
      'ana.source.other': '其他',
      'ana.source.unknown': '未注明',
      'ana.exposure': '近 28 天巡查覆盖（按网格类型、街道）：巡查多的网格可能因此记录更多事件；标签不计巡查发现的事件。',
      'ana.exposure.col.grids': '网格数',
      'ana.exposure.col.visits': '巡查次数',
      'ana.exposure.col.per_day': '每网格每天',
      'ana.exposure.col.share': '占全部巡查',
      'ana.exposure.grid_type': '网格类型',
      'ana.exposure.street': '街道',
      'ana.exposure.none': '近 28 天没有巡查记录。',
      'metric.pr_auc': 'PR 曲线下面积（平均精度），越高越好',
      'metric.roc_auc': 'ROC 曲线下面积，越高越好',
      'metric.pei@5': '前 5% 网格捕获的事件占事后最优的比例（PEI），越高越好',
      'metric.hit_rate@10': '前 10% 网格捕获的事件比例（命中率），越高越好',
      'metric.pai@10': '命中率除以前 10% 网格的面积占比（PAI），越高越好',
      'metric.miss_rate@10': '真实高风险网格未进入前 10% 的比例（漏报率），越低越好',
      'metric.miss_rate_true@10': '按真值（仅合成数据）的漏报率，越低越好',
      'metric.ece': '期望校准误差，越低越好',
      'metric.brier': 'Brier 分数，越低越好',
    },
    en: {
      'ana.title': 'Models',
      'ana.versions': 'Model versions',
      'ana.versions.note': 'The champion makes the daily forecasts; a version becomes champion only if it passes every gate and an admin approves it by name.',
      'ana.versions.none': 'No model version is registered yet.',
      'ana.col.version': 'Version',
      'ana.col.aliases': 'Aliases',
      'ana.col.created': 'Registered',
      'ana.col.gates': 'Gates',
      'ana.col.approved': 'Approved',
      'ana.col.actions': 'Actions',
      'ana.view': 'View',
      'ana.viewing': 'Viewing',
      'ana.alias.champion': 'Champion',
      'ana.alias.challenger': 'Challenger',
      'ana.gates.pass': 'All pass',
      'ana.gates.fail': '{n} failed',
      'ana.gates.unknown': 'Not checked',
      'ana.approved_by': '{who}, {at}',
      'ana.detail': 'Version v{v}',
      'ana.gates': 'Gate results',
      'ana.gate.pass': 'pass',
      'ana.gate.fail': 'FAIL',
      'ana.gates.none': 'Gates not checked yet.',
      'ana.promote': 'Promotion',
      'ana.approver': 'Approving account (your own admin account)',
      'ana.confirm': 'I have read the backtest report and gate results of v{v} and approve making it champion.',
      'ana.promote.submit': 'Approve promotion',
      'ana.promote.busy': 'Submitting…',
      'ana.promote.note': 'The server checks the role and the gates: only admins may approve, and a version failing a gate is refused.',
      'ana.promote.champion': 'v{v} is the champion.',
      'ana.promote.champion_by': 'v{v} is the champion, approved by {who} on {at}.',
      'ana.promote.gates_failed': 'This version fails a gate; the server will refuse it.',
      'ana.promote.need_name': 'Enter the approving account.',
      'ana.promote.need_confirm': 'Tick the confirmation.',
      'ana.promote.ok': 'v{v} is now champion, approved by {who}.',
      'ana.promote.refused': 'Promotion refused: these gates fail.',
      'ana.promote.forbidden': 'Promotion refused: your role may not approve promotions (admins only — four eyes).',
      'ana.promote.conflict': 'Promotion refused: {msg}',
      'ana.backtest': 'Backtest report',
      'ana.backtest.none': 'This version has no model card.',
      'ana.backtest.window': 'Training and backtest range',
      'ana.backtest.overall': 'Overall metrics',
      'ana.backtest.segments': 'By grid type ({n} tables)',
      'ana.backtest.others': 'Other event categories ({n} tables)',
      'ana.backtest.english': 'The model card is written by the training pipeline in English; the figures below are the card’s.',
      'ana.card': 'Full model card',
      'ana.agree': 'Reviewer agreement',
      'ana.agree.note': 'How often people agreed with the model (decided warnings).',
      'ana.agree.by_reviewer': 'By reviewer',
      'ana.agree.by_model': 'By model version',
      'ana.agree.none': 'No decided warnings yet.',
      'ana.live': 'Accuracy in service',
      'ana.live.note':
        "Warnings whose window ended in the last 4 weeks, by model version and the model's level: the share in which an event did happen. The backtest's promise is in the model card's 'Risk levels'.",
      'ana.live.none': 'No warning window has ended in the last 4 weeks.',
      'ana.live.col.model': 'Model version',
      'ana.live.col.level': 'Model level',
      'ana.live.col.n': 'Warnings',
      'ana.live.col.true': 'Came true',
      'ana.live.col.precision': 'Precision',
      'ana.agree.col.reviewer': 'Reviewer',
      'ana.agree.col.model': 'Model version',
      'ana.agree.col.decided': 'Decided',
      'ana.agree.col.agree': 'Agreed',
      'ana.agree.col.adjusted': 'Adjusted',
      'ana.agree.col.rejected': 'Rejected',
      'ana.agree.col.override': 'Override rate',
      'ana.health': 'Model health',
      'ana.health.note': "Each scoring run against the model's training window (PSI: 0 is the same, larger is further apart), and once windows close the realised calibration and precision by level.",
      'ana.health.none': 'No scoring run with a health record yet.',
      'ana.health.latest': 'Latest run {time}, model version {v}:',
      'ana.health.checked': '{n} features compared.',
      'ana.health.banner.alert': 'Model health alert: the scoring run of {time} passed an alert threshold.',
      'ana.health.banner.warn': 'Model health warning: the scoring run of {time} passed a warning threshold.',
      'ana.health.banner.link': 'See model health',
      'ana.health.chip': 'Health alert',
      'ana.health.status.ok': 'OK',
      'ana.health.status.warn': 'Warning',
      'ana.health.status.alert': 'Alert',
      'ana.health.status.unknown': 'Unknown (the model has no training reference)',
      'ana.health.severity.warn': 'warning level',
      'ana.health.severity.alert': 'alert level',
      'ana.health.run': 'run {run}',
      'ana.health.metric.score_psi': 'Score PSI',
      'ana.health.metric.family_psi': 'Feature family PSI',
      'ana.health.metric.missing_share': 'Grids with missing inputs',
      'ana.health.metric.out_of_range_share': 'Grids with inputs out of the training range',
      'ana.health.metric.ece': 'Realised ECE',
      'ana.health.chart.score_psi': 'Score PSI (by target)',
      'ana.health.chart.family_psi': 'Feature family PSI (largest in the family)',
      'ana.health.chart.missing_share': 'Grids with missing inputs',
      'ana.health.chart.out_of_range_share': 'Grids with inputs out of the training range',
      'ana.health.chart.ece': 'Realised ECE (once windows closed)',
      'ana.health.chart.precision': 'Precision by level (once windows closed)',
      'ana.health.chart.volumes': 'Events in the last 7 days, by source',
      'ana.health.chart.empty': 'No data yet',
      'ana.health.threshold.warn': 'warn {v}',
      'ana.health.threshold.alert': 'alert {v}',
      'ana.source.resident': 'Residents',
      'ana.source.hotline': 'Hotline',
      'ana.source.grid_worker': 'Grid workers',
      'ana.source.patrol': 'Patrols',
      'ana.source.sensor': 'Sensors',
      'ana.source.other': 'Other',
      'ana.source.unknown': 'Not stated',
      'ana.exposure': 'Patrol visits in the last 28 days, by grid type and street: a grid patrolled more may record more events; labels leave the patrols\' finds out.',
      'ana.exposure.col.grids': 'Grids',
      'ana.exposure.col.visits': 'Visits',
      'ana.exposure.col.per_day': 'Per grid and day',
      'ana.exposure.col.share': 'Share of visits',
      'ana.exposure.grid_type': 'Grid type',
      'ana.exposure.street': 'Street',
      'ana.exposure.none': 'No patrol visit in the last 28 days.',
      'metric.pr_auc': 'Area under the precision–recall curve (average precision); higher is better',
      'metric.roc_auc': 'Area under the ROC curve; higher is better',
      'metric.pei@5': 'Events caught by the top 5% of grids, as a share of the best possible (PEI); higher is better',
      'metric.hit_rate@10': 'Share of events in the top 10% of grids (hit rate); higher is better',
      'metric.pai@10': 'Hit rate divided by the top 10% grids’ share of area (PAI); higher is better',
      'metric.miss_rate@10': 'Share of truly high-risk grids outside the top 10% (miss rate); lower is better',
      'metric.miss_rate_true@10': 'Miss rate against the known truth (synthetic data only); lower is better',
      'metric.ece': 'Expected calibration error; lower is better',
      'metric.brier': 'Brier score; lower is better',
    },
  });

  const $ = (id) => document.getElementById(id);
  const el = Risk.el;
  const state = { versions: [], selected: null, cards: new Map(), stats: null, live: null, result: null, health: null };

  // ------------------------------------------------------------------ versions table

  function gatesSummary(v) {
    if (v.gates_passed === null || v.gates_passed === undefined) {
      return el('span', { class: 'chip', text: Risk.t('ana.gates.unknown') });
    }
    if (v.gates_passed) return el('span', { class: 'chip chip-ok', text: '✓ ' + Risk.t('ana.gates.pass') });
    const n = v.gate_results.filter((g) => !g.passed).length;
    return el('span', { class: 'chip chip-bad', text: '✗ ' + Risk.t('ana.gates.fail', { n }) });
  }

  function aliasChip(alias) {
    const key = 'ana.alias.' + alias;
    const cls = alias === 'champion' ? 'chip chip-ok' : 'chip';
    return el('span', { class: cls, text: Risk.has(key) ? Risk.t(key) : alias });
  }

  function healthChip(v) {
    const flagged = state.health && state.health.versions[String(v.version)];
    if (!flagged || !flagged.alert) return null;
    return el('span', {
      class: 'chip chip-bad health-chip',
      text: '⚠ ' + Risk.t('ana.health.chip'),
      title: Risk.fmtTime(flagged.last_flagged),
    });
  }

  function renderVersions() {
    const body = $('versions').querySelector('tbody');
    if (!state.versions.length) {
      body.replaceChildren(
        el('tr', {}, el('td', { colspan: '6', class: 'empty', text: Risk.t('ana.versions.none') })),
      );
      return;
    }
    const rows = [...state.versions].reverse().map((v) => {
      const selected = v.version === state.selected;
      return el(
        'tr',
        { 'data-version': String(v.version), class: selected ? 'selected' : null },
        el('td', {}, el('strong', { text: 'v' + v.version })),
        el('td', {}, el('div', { class: 'row' }, ...v.aliases.map(aliasChip), healthChip(v))),
        el('td', { class: 'small', text: Risk.fmtTime(v.created) }),
        el('td', {}, gatesSummary(v)),
        el('td', {
          class: 'small',
          text: v.approved_by
            ? Risk.t('ana.approved_by', { who: v.approved_by, at: Risk.fmtTime(v.approved_at) })
            : '—',
        }),
        el(
          'td',
          {},
          el('button', {
            type: 'button',
            class: 'btn btn-quiet btn-small',
            'aria-pressed': String(selected),
            text: selected ? Risk.t('ana.viewing') : Risk.t('ana.view'),
            onclick: () => select(v.version),
          }),
        ),
      );
    });
    body.replaceChildren(...rows);
  }

  // ------------------------------------------------------------------ one version

  function current() {
    return state.versions.find((v) => v.version === state.selected) || null;
  }

  function renderGates(v) {
    const list = $('gates');
    if (!v.gate_results.length) {
      list.replaceChildren(el('li', { class: 'muted', text: Risk.t('ana.gates.none') }));
      return;
    }
    list.replaceChildren(
      ...v.gate_results.map((g) =>
        el(
          'li',
          { 'data-passed': String(g.passed) },
          el('span', {
            class: g.passed ? 'chip chip-ok' : 'chip chip-bad',
            text: (g.passed ? '✓ ' : '✗ ') + Risk.t(g.passed ? 'ana.gate.pass' : 'ana.gate.fail'),
          }),
          el('span', {}, el('strong', { text: g.name }), el('br'), el('span', { class: 'muted small', text: g.detail })),
        ),
      ),
    );
  }

  function renderPromote(v) {
    const champion = v.aliases.includes('champion');
    const status = $('promote-status');
    status.replaceChildren();
    $('promote-fields').hidden = champion;
    const justPromoted = state.result && state.result.kind === 'ok' && state.result.version === v.version;
    if (champion && !justPromoted) {
      const text = v.approved_by
        ? Risk.t('ana.promote.champion_by', { v: v.version, who: v.approved_by, at: Risk.fmtTime(v.approved_at) })
        : Risk.t('ana.promote.champion', { v: v.version });
      status.append(el('p', { class: 'alert alert-ok', text }));
    } else if (v.gates_passed === false) {
      status.append(el('p', { class: 'alert alert-warn', text: Risk.t('ana.promote.gates_failed') }));
    }
    $('confirm-text').textContent = Risk.t('ana.confirm', { v: v.version });
    renderResult();
  }

  function renderResult() {
    const box = $('promote-result');
    const r = state.result;
    box.replaceChildren();
    if (!r || r.version !== state.selected) return;
    if (r.kind === 'ok') {
      box.append(el('p', { class: 'alert alert-ok', text: Risk.t('ana.promote.ok', { v: r.version, who: r.who }) }));
      return;
    }
    if (r.kind === 'invalid') {
      box.append(el('p', { class: 'alert alert-error', text: Risk.t(r.key) }));
      return;
    }
    const err = r.error;
    let node;
    if (err.code === 'promotion_refused') {
      node = el(
        'div',
        { class: 'alert alert-error', id: 'promote-refused' },
        el('strong', { text: Risk.t('ana.promote.refused') }),
        el('ul', {}, ...err.fields.map((f) => el('li', {}, el('strong', { text: f.field }), ' — ' + f.message))),
      );
    } else if (err.status === 403) {
      node = el('p', { class: 'alert alert-error', text: Risk.t('ana.promote.forbidden') });
    } else if (err.status === 409 || err.status === 422) {
      node = el('p', { class: 'alert alert-error', text: Risk.t('ana.promote.conflict', { msg: err.message }) });
    } else {
      node = el('p', { class: 'alert alert-error', text: Risk.errorText(err) });
    }
    box.append(node);
  }

  // ------------------------------------------------------------------ backtest report

  /** {window: [text], overall: [{caption, header, rows}], segments: [...]} from the card HTML. */
  function parseCard(html) {
    const doc = new DOMParser().parseFromString(html, 'text/html');
    const sections = {};
    let name = null;
    for (const node of doc.body.children) {
      if (node.tagName === 'H2') {
        name = node.textContent.trim();
        sections[name] = { paragraphs: [], tables: [] };
      } else if (name && node.tagName === 'P') {
        sections[name].paragraphs.push(node.textContent.trim());
      } else if (name && node.tagName === 'TABLE') {
        const caption = node.querySelector('caption');
        const rows = [...node.querySelectorAll('tr')].map((tr) =>
          [...tr.children].map((c) => c.textContent.trim()),
        );
        sections[name].tables.push({
          caption: caption ? caption.textContent.trim() : '',
          header: rows[0] || [],
          rows: rows.slice(1),
        });
      }
    }
    const get = (title) => sections[title] || { paragraphs: [], tables: [] };
    return {
      window: get('Training window').paragraphs,
      overall: get('Metrics overall').tables,
      segments: get('Metrics by segment').tables,
    };
  }

  function metricTable(t) {
    return el(
      'div',
      { class: 'table-wrap' },
      el(
        'table',
        { class: 'table metric-table' },
        t.caption ? el('caption', { text: t.caption }) : null,
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            ...t.header.map((h, i) =>
              el('th', {
                scope: 'col',
                class: i ? 'num' : null,
                text: h,
                title: Risk.has('metric.' + h) ? Risk.t('metric.' + h) : null,
              }),
            ),
          ),
        ),
        el(
          'tbody',
          {},
          ...t.rows.map((r) =>
            el(
              'tr',
              { class: r[0] === 'lightgbm' ? 'main-model' : null, 'data-model': r[0] },
              ...r.map((c, i) => el('td', { class: i ? 'num' : null, text: c })),
            ),
          ),
        ),
      ),
    );
  }

  function renderBacktest() {
    const box = $('backtest');
    const frame = $('card-frame');
    const card = state.cards.get(state.selected);
    if (card === undefined) {
      box.replaceChildren(el('p', { class: 'muted', text: Risk.t('common.loading') }));
      return;
    }
    if (card === null) {
      box.replaceChildren(el('p', { class: 'muted', text: Risk.t('ana.backtest.none') }));
      $('card-details').hidden = true;
      return;
    }
    $('card-details').hidden = false;
    if (frame.dataset.version !== String(state.selected)) {
      frame.srcdoc = card.html;
      frame.dataset.version = String(state.selected);
    }
    const report = parseCard(card.html);
    const used = new Set(report.overall.flatMap((t) => t.header));
    const glossary = METRICS.filter((m) => used.has(m)).map((m) =>
      el('li', {}, el('code', { text: m }), ' — ' + Risk.t('metric.' + m)),
    );
    // The first target (any) open; the other targets and the segments folded away.
    const [first, ...others] = report.overall;
    const fold = (key, tables) =>
      tables.length
        ? el(
            'details',
            { class: 'fold' },
            el('summary', { text: Risk.t(key, { n: tables.length }) }),
            ...tables.map(metricTable),
          )
        : null;
    const parts = [
      el('p', { class: 'muted small', text: Risk.t('ana.backtest.english') }),
      el('h3', { text: Risk.t('ana.backtest.window') }),
      ...report.window.map((p) => el('p', { class: 'small', text: p })),
      el('h3', { text: Risk.t('ana.backtest.overall') }),
      first ? metricTable(first) : null,
      glossary.length ? el('ul', { class: 'glossary' }, ...glossary) : null,
      fold('ana.backtest.others', others),
      fold('ana.backtest.segments', report.segments),
    ];
    box.replaceChildren(...parts.filter(Boolean));
  }

  function renderDetail() {
    const v = current();
    $('detail').hidden = !v;
    if (!v) return;
    $('detail-heading').textContent = Risk.t('ana.detail', { v: v.version });
    renderGates(v);
    renderPromote(v);
    renderBacktest();
  }

  async function loadCard(version) {
    if (state.cards.has(version)) return;
    try {
      state.cards.set(version, await Risk.api(`/models/${version}/card`));
    } catch (err) {
      if (err.status !== 404) Risk.toast(Risk.errorText(err), 'error');
      state.cards.set(version, null);
    }
    if (state.selected === version) renderBacktest();
  }

  function select(version) {
    state.selected = version;
    renderVersions();
    renderDetail();
    loadCard(version);
  }

  async function loadVersions() {
    try {
      state.versions = await Risk.api('/models');
      $('versions-error').hidden = true;
    } catch (err) {
      $('versions-error').textContent = Risk.errorText(err);
      $('versions-error').hidden = false;
      return;
    }
    if (!state.versions.some((v) => v.version === state.selected)) {
      const champion = state.versions.find((v) => v.aliases.includes('champion'));
      const newest = state.versions[state.versions.length - 1];
      state.selected = (champion || newest || {}).version || null;
    }
    renderVersions();
    renderDetail();
    if (state.selected) loadCard(state.selected);
  }

  // ------------------------------------------------------------------ promotion

  async function promote(event) {
    event.preventDefault();
    const v = current();
    if (!v) return;
    const who = $('approver').value.trim();
    if (!who) {
      state.result = { version: v.version, kind: 'invalid', key: 'ana.promote.need_name' };
      renderResult();
      $('approver').focus();
      return;
    }
    if (!$('confirm').checked) {
      state.result = { version: v.version, kind: 'invalid', key: 'ana.promote.need_confirm' };
      renderResult();
      $('confirm').focus();
      return;
    }
    const button = $('promote-submit');
    button.disabled = true;
    button.textContent = Risk.t('ana.promote.busy');
    try {
      const out = await Risk.api(`/models/${v.version}/promote`, {
        method: 'POST',
        body: { approved_by: who },
      });
      state.result = { version: v.version, kind: 'ok', who: out.approved_by };
      $('confirm').checked = false;
      Risk.toast(Risk.t('ana.promote.ok', { v: v.version, who: out.approved_by }), 'ok');
      await loadVersions();
    } catch (err) {
      state.result = { version: v.version, kind: 'error', error: err };
      renderResult();
    } finally {
      button.disabled = false;
      button.textContent = Risk.t('ana.promote.submit');
    }
  }

  // ------------------------------------------------------------------ model health

  const PALETTE = ['#1d5a8a', '#d95f02', '#7570b3', '#1b9e77', '#e7298a', '#66a61e', '#a6761d', '#5b6572'];
  const PRECISION_LEVELS = ['red', 'orange', 'yellow'];

  function keyLabel(metric, key) {
    if (!key) return '';
    if (metric === 'family_psi') return Risk.has('family.' + key) ? Risk.t('family.' + key) : key;
    return Risk.targetLabel(key);
  }

  function fmtValue(metric, v) {
    if (v === null || v === undefined) return '—';
    return metric.endsWith('_share') ? Risk.fmtPct(v) : Number(v).toFixed(3);
  }

  /** One breach in words: "特征族 PSI [历史事件] 1.328 > 告警阈值 0.5". */
  function breachText(b) {
    const key = b.key ? ` [${keyLabel(b.metric, b.key)}]` : '';
    const run = b.run_id ? ` (${Risk.t('ana.health.run', { run: b.run_id })})` : '';
    const limit = b.metric.endsWith('_share') ? Risk.fmtPct(b.threshold) : String(b.threshold);
    return `${Risk.t('ana.health.metric.' + b.metric)}${key}${run} ${fmtValue(b.metric, b.value)} > ${Risk.t('ana.health.severity.' + b.severity)} ${limit}`;
  }

  function renderBanner() {
    const box = $('health-banner');
    const latest = state.health && state.health.latest;
    if (!latest || (latest.status !== 'alert' && latest.status !== 'warn')) {
      box.hidden = true;
      box.replaceChildren();
      return;
    }
    box.className = latest.status === 'alert' ? 'alert alert-error' : 'alert alert-warn';
    box.dataset.status = latest.status;
    box.replaceChildren(
      el('strong', { text: Risk.t('ana.health.banner.' + latest.status, { time: Risk.fmtTime(latest.issue_time) }) }),
      ' ',
      el('a', { href: '#health', text: Risk.t('ana.health.banner.link') }),
      el('ul', {}, ...latest.breaches.map((b) => el('li', { 'data-metric': b.metric, text: breachText(b) }))),
    );
    box.hidden = false;
  }

  function niceTop(peak) {
    const steps = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];
    return steps.find((s) => s >= peak) || Math.ceil(peak);
  }

  /** A line chart as inline SVG: ``series`` [{key, label, colour, values: [number|null per
   * run]}], over the runs' issue times; ``limit`` {warn, alert} drawn as dashed lines. */
  function lineChart(id, title, times, series, opts) {
    opts = opts || {};
    const W = 320;
    const H = 150;
    const L = 40;
    const R = 44;
    const T = 10;
    const B = 20;
    const fmt = opts.percent ? (v) => Risk.fmtPct(v) : opts.count ? (v) => String(Math.round(v)) : (v) => String(v);
    const shown = series.filter((s) => s.values.some((v) => v !== null && v !== undefined));
    const box = el('figure', { class: 'chart health-chart', 'data-chart': id });
    box.append(el('h3', { class: 'small', text: title }));
    if (!shown.length) {
      box.append(el('p', { class: 'muted small empty', text: Risk.t('ana.health.chart.empty') }));
      return box;
    }
    const ms = times.map((t) => new Date(t).getTime());
    const t0 = Math.min(...ms);
    const t1 = Math.max(...ms);
    const values = shown.flatMap((s) => s.values.filter((v) => v !== null && v !== undefined));
    const limit = opts.limit;
    const peak = Math.max(...values, limit ? limit.alert * 1.15 : 0, opts.percent ? 0.01 : 0.001);
    const top = opts.top || niceTop(peak);
    const x = (t) => (t1 === t0 ? L + (W - L - R) / 2 : L + ((t - t0) / (t1 - t0)) * (W - L - R));
    const y = (v) => T + (1 - Math.min(v, top) / top) * (H - T - B);
    const svg = Risk.svgEl('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img' });
    const text = (s, attrs) => {
      const node = Risk.svgEl('text', attrs);
      node.textContent = s;
      return node;
    };
    svg.append(
      Risk.svgEl('line', { class: 'grid-line', x1: L, y1: y(top / 2), x2: W - R, y2: y(top / 2) }),
      Risk.svgEl('line', { class: 'axis', x1: L, y1: y(0), x2: W - R, y2: y(0) }),
      Risk.svgEl('line', { class: 'axis', x1: L, y1: T, x2: L, y2: y(0) }),
      text(fmt(top), { x: L - 4, y: T + 4, 'text-anchor': 'end' }),
      text(fmt(top / 2), { x: L - 4, y: y(top / 2) + 3, 'text-anchor': 'end' }),
      text(opts.percent ? '0%' : '0', { x: L - 4, y: y(0) + 3, 'text-anchor': 'end' }),
      text(Risk.fmtDate(times[0]).slice(5), { x: L, y: H - 5, 'text-anchor': 'start' }),
    );
    if (times.length > 1) {
      svg.append(text(Risk.fmtDate(times[times.length - 1]).slice(5), { x: W - R, y: H - 5, 'text-anchor': 'end' }));
    }
    if (limit) {
      // labels at least 10 px apart: the warning's moves down when the two lines are close
      const gap = Math.max(0, 10 - (y(limit.warn) - y(limit.alert)));
      for (const kind of ['warn', 'alert']) {
        const v = limit[kind];
        if (v > top) continue;
        const shift = kind === 'warn' ? gap : 0;
        svg.append(
          Risk.svgEl('line', { class: 'threshold threshold-' + kind, 'data-threshold': kind, x1: L, y1: y(v), x2: W - R, y2: y(v) }),
          text(Risk.t('ana.health.threshold.' + kind, { v: fmt(v) }), { x: W - R + 3, y: y(v) + 3 + shift, class: 'threshold-label' }),
        );
      }
    }
    for (const s of shown) {
      let d = '';
      let pen = false;
      s.values.forEach((v, i) => {
        if (v === null || v === undefined) {
          pen = false;
          return;
        }
        d += (pen ? 'L' : 'M') + x(ms[i]).toFixed(1) + ' ' + y(v).toFixed(1);
        pen = true;
      });
      const group = Risk.svgEl('g', { 'data-series': s.key });
      group.append(Risk.svgEl('path', { class: 'series', d, stroke: s.colour }));
      s.values.forEach((v, i) => {
        if (v === null || v === undefined) return;
        const dot = Risk.svgEl('circle', { cx: x(ms[i]).toFixed(1), cy: y(v).toFixed(1), r: 2.5, fill: s.colour });
        const tip = Risk.svgEl('title');
        tip.textContent = `${s.label} · ${Risk.fmtTime(times[i])} · ${fmt(Number(v.toFixed(4)))}`;
        dot.append(tip);
        group.append(dot);
      });
      svg.append(group);
    }
    const last = shown.map((s) => {
      const v = [...s.values].reverse().find((u) => u !== null && u !== undefined);
      return `${s.label} ${fmt(Number(v.toFixed(4)))}`;
    });
    svg.setAttribute('aria-label', `${title}: ${last.join(', ')}`);
    box.append(svg);
    box.append(
      el(
        'ul',
        { class: 'chart-legend' },
        ...shown.map((s) =>
          el('li', {}, el('span', { class: 'swatch', style: `background:${s.colour}` }), s.label),
        ),
      ),
    );
    return box;
  }

  function keyed(runs, pick, label, colours) {
    const keys = [...new Set(runs.flatMap((r) => Object.keys(pick(r) || {})))].sort();
    return keys.map((k, i) => ({
      key: k,
      label: label(k),
      colour: (colours && colours[k]) || PALETTE[i % PALETTE.length],
      values: runs.map((r) => {
        const v = (pick(r) || {})[k];
        return v === undefined ? null : v;
      }),
    }));
  }

  function renderHealth() {
    renderBanner();
    const data = state.health;
    if (!data) return;
    const summary = $('health-summary');
    const charts = $('health-charts');
    if (!data.runs.length) {
      summary.replaceChildren(el('p', { class: 'empty', text: Risk.t('ana.health.none') }));
      charts.replaceChildren();
      return;
    }
    const latest = data.latest;
    const chipClass = { ok: 'chip chip-ok', warn: 'chip chip-warn', alert: 'chip chip-bad', unknown: 'chip' };
    const status = el('span', {
      class: chipClass[latest.status],
      id: 'health-status',
      'data-status': latest.status,
      text: Risk.t('ana.health.status.' + latest.status),
    });
    const checked = latest.features_checked
      ? ' ' + Risk.t('ana.health.checked', { n: latest.features_checked })
      : '';
    const when = { time: Risk.fmtTime(latest.issue_time), v: latest.model_version };
    summary.replaceChildren(el('p', { class: 'small' }, Risk.t('ana.health.latest', when), ' ', status, checked));

    const runs = data.runs;
    const times = runs.map((r) => r.issue_time);
    const limits = data.thresholds;
    const realised = (pick) => (r) => (r.realised ? pick(r.realised) : null);
    const label = (prefix) => (k) => (Risk.has(prefix + k) ? Risk.t(prefix + k) : k);
    const share = (key) => [
      { key, label: Risk.t('ana.health.metric.' + key), colour: PALETTE[0], values: runs.map((r) => r[key]) },
    ];
    const levelPrecision = (x) => {
      const out = {};
      for (const lv of PRECISION_LEVELS) if (x.levels[lv]) out[lv] = x.levels[lv].precision;
      return out;
    };
    const levelColours = Object.fromEntries(PRECISION_LEVELS.map((lv) => [lv, Risk.LEVEL_COLOURS[lv]]));
    const precision = keyed(runs, realised(levelPrecision), (lv) => Risk.t('level.' + lv), levelColours);
    precision.sort((a, b) => PRECISION_LEVELS.indexOf(a.key) - PRECISION_LEVELS.indexOf(b.key));
    const chart = (id, series, opts) => lineChart(id, Risk.t('ana.health.chart.' + id), times, series, opts);
    charts.replaceChildren(
      chart('score_psi', keyed(runs, (r) => r.score_psi, Risk.targetLabel), { limit: limits.score_psi }),
      chart('family_psi', keyed(runs, (r) => r.family_psi, label('family.')), { limit: limits.family_psi }),
      chart('missing_share', share('missing_share'), { limit: limits.missing_share, percent: true }),
      chart('out_of_range_share', share('out_of_range_share'), { limit: limits.out_of_range_share, percent: true }),
      chart('ece', keyed(runs, realised((x) => x.ece), Risk.targetLabel), { limit: limits.ece }),
      chart('precision', precision, { percent: true, top: 1 }),
      chart('volumes', keyed(runs, (r) => r.volumes, label('ana.source.')), { count: true }),
    );
  }

  // Patrol exposure per grid type and street (issue 17, item 2): two small tables.
  function exposureTable(kind, rows) {
    const cols = ['grids', 'visits', 'per_day', 'share'];
    return el(
      'table',
      { class: 'table', id: 'exposure-' + kind },
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          el('th', { scope: 'col', text: Risk.t('ana.exposure.' + kind) }),
          ...cols.map((c) => el('th', { scope: 'col', class: 'num', text: Risk.t('ana.exposure.col.' + c) })),
        ),
      ),
      el(
        'tbody',
        {},
        ...Object.entries(rows).map(([key, r]) =>
          el(
            'tr',
            { 'data-key': key },
            el('td', { text: key }),
            el('td', { class: 'num', text: String(r.grids) }),
            el('td', { class: 'num', text: String(r.visits) }),
            el('td', { class: 'num', text: r.visits_per_grid_day.toFixed(3) }),
            el('td', { class: 'num', text: r.share_of_visits === null ? '—' : Risk.fmtPct(r.share_of_visits) }),
          ),
        ),
      ),
    );
  }

  async function loadExposure() {
    const box = $('health-exposure');
    try {
      const x = await Risk.api('/patrol-exposure?days=28');
      const parts = [el('p', { class: 'small', text: Risk.t('ana.exposure') })];
      if (!x.visits) parts.push(el('p', { class: 'empty', text: Risk.t('ana.exposure.none') }));
      else parts.push(exposureTable('grid_type', x.by_grid_type), exposureTable('street', x.by_street));
      box.replaceChildren(...parts);
    } catch (err) {
      box.replaceChildren(el('p', { class: 'alert alert-error', text: Risk.errorText(err) }));
    }
  }

  async function loadHealth() {
    loadExposure();
    try {
      state.health = await Risk.api('/model-health');
      $('health-error').hidden = true;
    } catch (err) {
      $('health-error').textContent = Risk.errorText(err);
      $('health-error').hidden = false;
      return;
    }
    renderHealth();
    renderVersions();
  }

  // ------------------------------------------------------------------ agreement

  function pctCell(value) {
    const bar = el('div', { class: 'bar', style: `width:${Math.round(value * 100)}%` });
    return el(
      'td',
      { class: 'num' },
      el('div', {}, Risk.fmtPct(value)),
      el('div', { class: 'bar-track', 'aria-hidden': 'true' }, bar),
    );
  }

  function agreeTable(rows, keyLabel, id) {
    if (!rows.length) return el('p', { class: 'empty', text: Risk.t('ana.agree.none') });
    const cols = ['decided', 'agree', 'adjusted', 'rejected', 'override'];
    return el(
      'table',
      { class: 'table', id },
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          el('th', { scope: 'col', text: Risk.t(keyLabel) }),
          ...cols.map((c) => el('th', { scope: 'col', class: 'num', text: Risk.t('ana.agree.col.' + c) })),
        ),
      ),
      el(
        'tbody',
        {},
        ...rows.map((r) =>
          el(
            'tr',
            { 'data-key': r.key === null ? '' : r.key },
            el('td', { text: r.key === null ? '—' : r.key }),
            el('td', { class: 'num', text: String(r.decided) }),
            pctCell(r.agree_rate),
            pctCell(r.adjusted_rate),
            pctCell(r.rejected_rate),
            pctCell(r.override_rate),
          ),
        ),
      ),
    );
  }

  function liveTable(rows) {
    if (!rows.length) return el('p', { class: 'empty', text: Risk.t('ana.live.none') });
    const cols = ['model', 'level', 'n', 'true', 'precision'];
    return el(
      'table',
      { class: 'table', id: 'live-table' },
      el('thead', {}, el('tr', {}, ...cols.map((c) => el('th', { scope: 'col', text: Risk.t('ana.live.col.' + c) })))),
      el(
        'tbody',
        {},
        ...rows.map((r) =>
          el(
            'tr',
            { 'data-model': r.model_version, 'data-level': r.level },
            el('td', { text: r.model_version }),
            el('td', {}, Risk.levelBadge(r.level)),
            el('td', { class: 'num', text: String(r.n) }),
            el('td', { class: 'num', text: String(r.came_true) }),
            pctCell(r.precision),
          ),
        ),
      ),
    );
  }

  function renderStats() {
    if (state.live) $('live-accuracy').replaceChildren(liveTable(state.live.rows));
    if (!state.stats) return;
    $('agree-reviewer').replaceChildren(agreeTable(state.stats.by_reviewer, 'ana.agree.col.reviewer', 'agree-by-reviewer'));
    $('agree-model').replaceChildren(agreeTable(state.stats.by_model_version, 'ana.agree.col.model', 'agree-by-model'));
  }

  async function loadStats() {
    try {
      state.live = await Risk.api('/review/live-accuracy');
    } catch (err) {
      $('live-error').textContent = Risk.errorText(err);
      $('live-error').hidden = false;
    }
    try {
      state.stats = await Risk.api('/review/stats');
      renderStats();
    } catch (err) {
      $('agree-error').textContent = Risk.errorText(err);
      $('agree-error').hidden = false;
    }
  }

  function renderAll() {
    renderVersions();
    renderDetail();
    renderStats();
    renderHealth();
  }

  $('promote').addEventListener('submit', promote);
  Risk.onLang(renderAll);
  Risk.header('ana.title').then(async () => {
    await Promise.all([loadVersions(), loadStats(), loadHealth()]);
    document.body.dataset.loaded = '1';
  });
})();
