/* The grid map: GeoJSON polygons drawn as SVG paths, filled by risk level (no tiles, no library).
 *
 *   RiskMap.draw(svg, featureCollection, {onOpen, tooltip, outlines})  → number of shapes drawn
 *   RiskMap.project(features, width)                          → {toXY, width, height}
 *   RiskMap.dim(svg, keep)                                    dim grids where keep(props) is false
 *
 * Projection: equirectangular with x scaled by cos(mean latitude), so a grid looks about as
 * wide as it is on the ground at city scale. One <path> per feature with data-grid-id and
 * data-level (red|orange|yellow|blue|none); grids with no warning are grey. Each path is
 * keyboard-focusable (Tab), opens its grid page on click / Enter / Space, and shows a tooltip
 * (grid, level as text, probability) on hover and on focus.
 *
 * ``outlines`` ({streets, communities}: GeoJSON features from /api/v1/map/outlines, the grids
 * dissolved on the server) are drawn over the grid fills as lines only — communities thin and
 * dashed, streets thick — one <polygon> per ring in <g class="map-outlines">; they take no
 * pointer events, so every grid stays clickable, and are hidden from assistive technology.
 */
(function () {
  'use strict';

  const WIDTH = 1000;

  function rings(geometry) {
    if (!geometry) return [];
    if (geometry.type === 'Polygon') return geometry.coordinates;
    if (geometry.type === 'MultiPolygon') return geometry.coordinates.flat();
    return [];
  }

  function project(features, width) {
    width = width || WIDTH;
    let minX = Infinity;
    let maxX = -Infinity;
    let minY = Infinity;
    let maxY = -Infinity;
    const sizes = [];
    for (const f of features) {
      let fx0 = Infinity;
      let fx1 = -Infinity;
      for (const ring of rings(f.geometry)) {
        for (const [lon, lat] of ring) {
          if (lon < minX) minX = lon;
          if (lon > maxX) maxX = lon;
          if (lat < minY) minY = lat;
          if (lat > maxY) maxY = lat;
          if (lon < fx0) fx0 = lon;
          if (lon > fx1) fx1 = lon;
        }
      }
      if (fx1 > fx0) sizes.push(fx1 - fx0);
    }
    if (!Number.isFinite(minX)) return null;
    const k = Math.cos((((minY + maxY) / 2) * Math.PI) / 180);
    // A margin of about one grid around the city, so a lone grid does not fill the map.
    sizes.sort((a, b) => a - b);
    const cell = sizes.length ? sizes[Math.floor(sizes.length / 2)] : 0;
    const margin = Math.max(cell, 0.02 * (maxX - minX), 1e-6);
    minX -= margin;
    maxX += margin;
    minY -= margin * k;
    maxY += margin * k;
    // Keep the drawing between 2:1 and 5:4 landscape (a tall strip would fill the screen).
    let spanX = (maxX - minX) * k;
    let spanY = maxY - minY;
    if (spanY > spanX * 0.8) {
      const grow = (spanY / 0.8 - spanX) / k / 2;
      minX -= grow;
      maxX += grow;
      spanX = spanY / 0.8;
    } else if (spanY < spanX / 2) {
      const grow = (spanX / 2 - spanY) / 2;
      minY -= grow;
      maxY += grow;
      spanY = spanX / 2;
    }
    const scale = width / spanX;
    const height = Math.round(spanY * scale);
    const toXY = (lon, lat) => [(lon - minX) * k * scale, (maxY - lat) * scale];
    return { toXY, width, height };
  }

  function pathData(geometry, toXY) {
    const parts = [];
    for (const ring of rings(geometry)) {
      if (!ring.length) continue;
      const pts = ring.map(([lon, lat]) => toXY(lon, lat).map((v) => v.toFixed(1)).join(' '));
      parts.push('M' + pts.join('L') + 'Z');
    }
    return parts.join('');
  }

  function ringPoints(ring, toXY) {
    return ring.map(([lon, lat]) => toXY(lon, lat).map((v) => v.toFixed(1)).join(',')).join(' ');
  }

  function drawOutlines(svg, outlines, toXY) {
    const group = Risk.svgEl('g', { class: 'map-outlines', 'aria-hidden': 'true' });
    const kinds = [
      ['communities', 'outline outline-community', 'community_id'],
      ['streets', 'outline outline-street', 'street_id'],
    ];
    for (const [kind, cls, idKey] of kinds) {
      for (const f of (outlines && outlines[kind]) || []) {
        const id = (f.properties || {})[idKey];
        for (const ring of rings(f.geometry)) {
          if (!ring.length) continue;
          const attrs = { class: cls, points: ringPoints(ring, toXY) };
          attrs['data-' + idKey.replace('_id', '')] = id;
          group.append(Risk.svgEl('polygon', attrs));
        }
      }
    }
    if (group.childNodes.length) svg.append(group);
    return group.childNodes.length;
  }

  function levelOf(props) {
    return Risk.LEVELS.includes(props.level) ? props.level : 'none';
  }

  function tooltipText(props) {
    const level = levelOf(props);
    return {
      title: Risk.t('map.grid', { id: props.grid_id }),
      lines: [
        Risk.t('level.label') + '：' + Risk.t('level.' + level),
        Risk.t('map.prob') + '：' + Risk.fmtPct(props.prob),
      ],
    };
  }

  function label(props) {
    const tip = tooltipText(props);
    return [tip.title, ...tip.lines].join('，');
  }

  function showTip(tooltip, wrap, path, props, event) {
    if (!tooltip) return;
    const tip = tooltipText(props);
    tooltip.replaceChildren(
      Risk.el('strong', { text: tip.title }),
      ...tip.lines.map((line) => Risk.el('div', { text: line })),
    );
    tooltip.hidden = false;
    const box = wrap.getBoundingClientRect();
    let x;
    let y;
    if (event && event.clientX !== undefined) {
      x = event.clientX - box.left + 14;
      y = event.clientY - box.top + 14;
    } else {
      const r = path.getBoundingClientRect();
      x = r.right - box.left + 6;
      y = r.top - box.top;
    }
    const w = tooltip.offsetWidth;
    const h = tooltip.offsetHeight;
    x = Math.max(4, Math.min(x, box.width - w - 4));
    y = Math.max(4, Math.min(y, box.height - h - 4));
    tooltip.style.left = x + 'px';
    tooltip.style.top = y + 'px';
  }

  function draw(svg, collection, opts) {
    opts = opts || {};
    const features = ((collection && collection.features) || []).filter(
      (f) => f && f.properties && rings(f.geometry).length,
    );
    svg.replaceChildren();
    const proj = project(features);
    if (!proj) {
      svg.setAttribute('viewBox', '0 0 ' + WIDTH + ' 200');
      return 0;
    }
    svg.setAttribute('viewBox', `0 0 ${proj.width} ${proj.height}`);
    svg.setAttribute('preserveAspectRatio', 'xMidYMid meet');
    const wrap = svg.parentElement;
    const tooltip = opts.tooltip;
    // Draw grey grids first, red last, so the strongest warnings are never under a neighbour.
    const order = { none: 0, blue: 1, yellow: 2, orange: 3, red: 4 };
    features.sort((a, b) => order[levelOf(a.properties)] - order[levelOf(b.properties)]);
    for (const f of features) {
      const props = f.properties;
      const level = levelOf(props);
      const path = Risk.svgEl('path', {
        d: pathData(f.geometry, proj.toXY),
        fill: Risk.LEVEL_COLOURS[level],
        'fill-rule': 'evenodd',
        'data-grid-id': props.grid_id,
        'data-level': level,
        tabindex: '0',
        role: 'link',
        'aria-label': label(props),
      });
      const open = () => opts.onOpen && opts.onOpen(props.grid_id);
      path.addEventListener('click', open);
      path.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault();
          open();
        }
      });
      path.addEventListener('mousemove', (e) => showTip(tooltip, wrap, path, props, e));
      path.addEventListener('mouseenter', (e) => showTip(tooltip, wrap, path, props, e));
      path.addEventListener('focus', () => showTip(tooltip, wrap, path, props));
      const hide = () => tooltip && (tooltip.hidden = true);
      path.addEventListener('mouseleave', hide);
      path.addEventListener('blur', hide);
      path._props = props;
      svg.append(path);
    }
    if (opts.outlines) drawOutlines(svg, opts.outlines, proj.toXY);
    return features.length;
  }

  function dim(svg, keep) {
    svg.querySelectorAll('path[data-grid-id]').forEach((path) => {
      const on = !keep || keep(path._props);
      path.style.opacity = on ? '' : '0.22';
      path.classList.toggle('dim', !on);
    });
  }

  /** Re-label the paths after a language switch. */
  function relabel(svg) {
    svg.querySelectorAll('path[data-grid-id]').forEach((path) => {
      path.setAttribute('aria-label', label(path._props));
    });
  }

  Risk.strings({
    zh: { 'map.grid': '网格 {id}', 'map.prob': '概率' },
    en: { 'map.grid': 'Grid {id}', 'map.prob': 'Probability' },
  });

  window.RiskMap = { draw, dim, project, relabel, levelOf };
})();
