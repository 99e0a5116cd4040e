'use strict';

(function () {
  const settings = new URLSearchParams(window.location.search);
  /** `?refresh=<ms>` polls faster or slower than every five seconds. */
  const REFRESH_MS = Math.max(250, Number(settings.get('refresh')) || 5000);
  const SERIES_PAGE = 50;
  const SEARCH_DELAY_MS = 250;
  const CHART_HEIGHT = 380;
  // The alphabet the ingest API accepts for metrics and sources.
  const NAME = /^[A-Za-z0-9_.-]{1,128}$/;
  const SEARCH_HINT = 'Names starting with what you type; with both filled, the metric must match exactly.';
  const TIER_COLORS = ['#58a6ff', '#f0883e', '#3fb950', '#d2a8ff', '#ff7b72', '#e3b341'];
  const RAW_COLOR = 'rgba(201, 209, 217, 0.45)';
  const AXIS_COLOR = '#8b949e';
  const GRID_COLOR = 'rgba(240, 246, 252, 0.07)';

  const $ = (id) => document.getElementById(id);
  const integer = new Intl.NumberFormat('en-US');
  const decimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

  const state = {
    rangeMs: 3_600_000,
    reduce: 'avg',
    tiers: null,
    selection: null,
    seriesCursor: null,
    lastCounters: null,
  };
  /** What the page shows, for a person at the console and for the browser tests. */
  const dashboard = { state, queue: null, rate: null, chart: null, range: null, lines: [] };
  window.dashboard = dashboard;

  // The API token the person typed in; sessionStorage forgets it with the tab, and it never enters a URL.
  const TOKEN_KEY = 'redis-ingest.query-token';

  async function getJson(path) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const headers = { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) };
    const response = await fetch(path, { headers });
    const body = await response.json().catch(() => ({}));
    if (response.status === 401) {
      // A request sent before the person typed a token is refused for that; it asks again with the token.
      if (sessionStorage.getItem(TOKEN_KEY) !== token) return getJson(path);
      $('token-form').hidden = false;
    }
    if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
    return body;
  }

  const query = (params) =>
    new URLSearchParams(
      Object.entries(params).filter(([, value]) => value !== undefined && value !== null && value !== ''),
    ).toString();

  const segment = (name) => encodeURIComponent(name);

  function formatDuration(ms) {
    const units = [
      ['d', 86_400_000],
      ['h', 3_600_000],
      ['m', 60_000],
      ['s', 1_000],
    ];
    for (const [unit, size] of units) if (ms % size === 0) return `${ms / size}${unit}`;
    return `${ms}ms`;
  }

  const tierLabel = (tier) => `${formatDuration(tier.bucketMs)} ${tier.aggregation}`;

  function showNumber(id, value, title) {
    const element = $(id);
    element.dataset.value = value === null ? '' : String(value);
    element.textContent = value === null ? '?' : integer.format(value);
    element.title = title || '';
  }

  // Queue health

  async function refreshQueue() {
    const [summary, counters, redis] = await Promise.all([
      getJson('/api/ingest/summary?limit=1'),
      getJson('/api/ingest/stream'),
      getJson('/api/ingest/redis'),
    ]);
    showRedis(redis);
    const previous = state.lastCounters;
    if (previous !== null && counters.readAtMs > previous.readAtMs) {
      dashboard.rate =
        ((counters.entriesAdded - previous.entriesAdded) * 1000) / (counters.readAtMs - previous.readAtMs);
    }
    state.lastCounters = counters;
    const queue = summary.queue;
    dashboard.queue = queue;
    showNumber('queue-total', queue.total);
    showNumber('queue-pending', queue.pending);
    showNumber('queue-lag', queue.lag, queue.lag === null ? 'Too far behind to count' : '');
    showNumber('queue-dead', queue.dead_lettered);
    showNumber('queue-consumers', queue.consumers);
    const rate = $('queue-rate');
    rate.dataset.value = dashboard.rate === null ? '' : String(dashboard.rate);
    rate.textContent = dashboard.rate === null ? '–' : decimal.format(dashboard.rate);
    $('queue-dead')
      .closest('.card')
      .classList.toggle('alert', queue.dead_lettered > 0);
  }

  // An evicting policy can delete accepted events: the card says so in red, whatever the memory use.
  function showRedis(redis) {
    const memory = $('redis-memory');
    const share = redis.maxMemoryBytes > 0 ? redis.usedMemoryBytes / redis.maxMemoryBytes : null;
    memory.dataset.value = share === null ? '' : String(share);
    memory.textContent = share === null ? 'no limit' : `${Math.round(share * 100)} %`;
    const policy = $('redis-policy');
    policy.textContent =
      redis.evictionRisk === 'none'
        ? `${redis.maxmemoryPolicy}`
        : `${redis.maxmemoryPolicy}: may delete ${redis.evictionRisk === 'any-key' ? 'events' : 'idempotency keys'}`;
    memory.closest('.card').classList.toggle('alert', redis.evictionRisk !== 'none' || (share !== null && share > 0.8));
  }

  // Series list

  let listRequest = 0;

  async function loadSeries(append) {
    const metric = $('search-metric').value.trim();
    const source = $('search-source').value.trim();
    const list = $('series-list');
    const invalid = [metric, source].find((name) => name !== '' && !NAME.test(name));
    const token = ++listRequest;
    if (invalid !== undefined) {
      list.replaceChildren();
      $('series-more').hidden = true;
      $('metric-overview').hidden = true;
      $('series-count').textContent = '';
      setHint(`“${invalid}” is not a name: letters, digits, _ . - only`, true);
      return;
    }
    // A name typed alone matches as a prefix; with both typed the metric is exact, since one
    // index range cannot answer two prefixes.
    const filter =
      metric !== '' && source !== ''
        ? { metric, sourcePrefix: source }
        : { metricPrefix: metric, sourcePrefix: source };
    const [body, metricExists] = await Promise.all([
      getJson(
        `/api/ingest/series?${query({ ...filter, limit: SERIES_PAGE, cursor: append ? state.seriesCursor : undefined })}`,
      ),
      metric !== '' && source === '' && !append
        ? getJson(`/api/ingest/series?${query({ metric, limit: 1 })}`).then((exact) => exact.series.length > 0)
        : undefined,
    ]);
    // A newer search has started; its answer wins.
    if (token !== listRequest) return;
    if (!append) list.replaceChildren();
    for (const series of body.series) list.append(seriesItem(series));
    state.seriesCursor = body.next;
    $('series-more').hidden = body.next === null;
    const shown = list.children.length;
    $('series-count').textContent = `${integer.format(shown)}${body.next === null ? '' : '+'} shown`;
    setHint(shown === 0 ? 'No series match.' : SEARCH_HINT, false);
    if (!append) {
      const overview = $('metric-overview');
      overview.hidden = metricExists !== true;
      overview.dataset.metric = metric;
      overview.textContent = `${metric} across all sources`;
    }
    list.dataset.query = query(filter);
  }

  function setHint(text, isError) {
    const hint = $('search-hint');
    hint.textContent = text;
    hint.classList.toggle('error', isError);
  }

  function seriesItem({ metric, source }) {
    const item = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.dataset.metric = metric;
    button.dataset.source = source;
    const metricName = document.createElement('span');
    metricName.className = 'metric';
    metricName.textContent = metric;
    const sourceName = document.createElement('span');
    sourceName.className = 'source';
    sourceName.textContent = source;
    button.append(metricName, sourceName);
    button.classList.toggle('active', isSelected({ kind: 'series', metric, source }));
    item.append(button);
    return item;
  }

  const selectionKey = (selection) =>
    selection === null
      ? ''
      : selection.kind === 'series'
        ? `series:${selection.metric}/${selection.source}`
        : `metric:${selection.metric}`;

  const isSelected = (selection) =>
    state.selection !== null && selectionKey(state.selection) === selectionKey(selection);

  // Chart

  function select(selection) {
    state.selection = selection;
    for (const button of $('series-list').querySelectorAll('button')) {
      button.classList.toggle(
        'active',
        isSelected({ kind: 'series', metric: button.dataset.metric, source: button.dataset.source }),
      );
    }
    $('metric-overview').classList.toggle('active', selection.kind === 'metric');
    $('reduce-label').hidden = selection.kind !== 'metric';
    $('chart-title').textContent = selection.metric;
    $('chart-subtitle').textContent = selection.kind === 'series' ? `source ${selection.source}` : 'all sources';
    refreshChart().catch(showError);
  }

  function lineRequests(selection, bounds) {
    const tiers = state.tiers || [];
    if (selection.kind === 'series') {
      const path = `/api/ingest/series/${segment(selection.metric)}/${segment(selection.source)}/range?`;
      return [
        { label: 'raw', color: RAW_COLOR, raw: true, path: path + query(bounds) },
        ...tiers.map((tier, i) => ({
          label: tierLabel(tier),
          color: TIER_COLORS[i % TIER_COLORS.length],
          path: path + query({ ...bounds, agg: tier.aggregation, bucket: tier.bucketMs }),
        })),
      ];
    }
    const path = `/api/ingest/metrics/${segment(selection.metric)}/range?`;
    return tiers.map((tier, i) => ({
      label: `${state.reduce} of ${tierLabel(tier)}`,
      color: TIER_COLORS[i % TIER_COLORS.length],
      path: path + query({ ...bounds, agg: tier.aggregation, bucket: tier.bucketMs, reduce: state.reduce }),
    }));
  }

  let chartRequest = 0;

  async function refreshChart() {
    const selection = state.selection;
    if (selection === null || state.tiers === null) return;
    const token = ++chartRequest;
    const toMs = Date.now();
    const range = { fromMs: toMs - state.rangeMs, toMs };
    const lines = await Promise.all(
      lineRequests(selection, { from: range.fromMs, to: range.toMs }).map(async (line) => {
        try {
          const body = await getJson(line.path);
          return { ...line, points: body.points, sources: body.sources };
        } catch (error) {
          return { ...line, points: [], error: error.message };
        }
      }),
    );
    if (token !== chartRequest) return;
    draw(selection, range, lines);
  }

  function seriesOptions(line) {
    return {
      label: line.label,
      stroke: line.color,
      width: line.raw ? 1 : 1.75,
      spanGaps: true,
      points: line.raw ? { show: false } : { size: 5, fill: line.color },
      value: (_plot, value) => (value === null || value === undefined ? '–' : decimal.format(value)),
    };
  }

  function axis() {
    return {
      stroke: AXIS_COLOR,
      grid: { stroke: GRID_COLOR, width: 1 },
      ticks: { stroke: GRID_COLOR, width: 1 },
      font: '12px system-ui, sans-serif',
    };
  }

  function draw(selection, range, lines) {
    dashboard.range = range;
    dashboard.lines = lines.map(({ label, points, error }) => ({ label, count: points.length, error: error || null }));
    const tables = lines.map((line) => [line.points.map((p) => p.timestampMs / 1000), line.points.map((p) => p.value)]);
    const data = tables.length === 0 ? [[]] : uPlot.join(tables);
    const container = $('chart');
    const shape = `${selectionKey(selection)}|${lines.map((line) => line.label).join('|')}`;
    if (dashboard.chart !== null && container.dataset.shape === shape) {
      dashboard.chart.setData(data);
    } else {
      if (dashboard.chart !== null) dashboard.chart.destroy();
      dashboard.chart = new uPlot(
        {
          width: Math.max(300, container.clientWidth),
          height: CHART_HEIGHT,
          // The window stays the chosen range even where it has no points.
          scales: { x: { time: true, range: () => [dashboard.range.fromMs / 1000, dashboard.range.toMs / 1000] } },
          series: [{ label: 'time' }, ...lines.map(seriesOptions)],
          axes: [axis(), { ...axis(), size: 64 }],
          cursor: { drag: { x: false, y: false } },
          legend: { live: true },
        },
        data,
        container,
      );
      container.dataset.shape = shape;
    }
    container.dataset.selection = selectionKey(selection);
    const sources = lines.find((line) => line.sources !== undefined);
    if (selection.kind === 'metric' && sources) {
      $('chart-subtitle').textContent = `${integer.format(sources.sources)} sources, ${state.reduce} per bucket`;
    }
    const note = lines.map(
      (line) => `${line.label}: ${line.error ? line.error : `${integer.format(line.points.length)} points`}`,
    );
    const empty = lines.every((line) => line.points.length === 0);
    $('chart-note').textContent = (empty ? 'No points in this range. ' : '') + note.join(' · ');
  }

  // Live refresh

  function showStatus(stateName, text) {
    $('status').dataset.state = stateName;
    $('status-text').textContent = text;
  }

  function showError(error) {
    showStatus('error', error.message);
  }

  async function loadTiers() {
    if (state.tiers !== null) return;
    const { tiers } = await getJson('/api/ingest/rollups');
    state.tiers = tiers;
  }

  let nextTick;

  async function tick() {
    try {
      await loadTiers();
      await Promise.all([refreshQueue(), refreshChart()]);
      showStatus('live', `live · ${new Date().toLocaleTimeString()}`);
    } catch (error) {
      showError(error);
    } finally {
      // Clearing first keeps a single timer even when refreshNow ran while a tick was in flight.
      clearTimeout(nextTick);
      nextTick = setTimeout(tick, REFRESH_MS);
    }
  }

  /** Refreshes at once instead of at the next tick; the ticks carry on from here. */
  function refreshNow() {
    clearTimeout(nextTick);
    tick();
  }

  function start() {
    let searchTimer;
    const search = () => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(() => loadSeries(false).catch(showError), SEARCH_DELAY_MS);
    };
    $('search').addEventListener('submit', (event) => {
      event.preventDefault();
      clearTimeout(searchTimer);
      loadSeries(false).catch(showError);
    });
    $('token-form').addEventListener('submit', (event) => {
      event.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
      $('token').value = '';
      $('token-form').hidden = true;
      loadSeries(false).catch(showError);
      refreshNow();
    });
    $('search-metric').addEventListener('input', search);
    $('search-source').addEventListener('input', search);
    $('series-more').addEventListener('click', () => loadSeries(true).catch(showError));
    $('series-list').addEventListener('click', (event) => {
      const button = event.target.closest('button');
      if (button) select({ kind: 'series', metric: button.dataset.metric, source: button.dataset.source });
    });
    $('metric-overview').addEventListener('click', (event) =>
      select({ kind: 'metric', metric: event.currentTarget.dataset.metric }),
    );
    $('reduce').addEventListener('change', (event) => {
      state.reduce = event.target.value;
      refreshChart().catch(showError);
    });
    $('ranges').addEventListener('click', (event) => {
      const button = event.target.closest('button');
      if (!button) return;
      state.rangeMs = Number(button.dataset.range);
      for (const other of $('ranges').querySelectorAll('button')) other.classList.toggle('active', other === button);
      refreshChart().catch(showError);
    });
    new ResizeObserver(() => {
      if (dashboard.chart !== null)
        dashboard.chart.setSize({ width: Math.max(300, $('chart').clientWidth), height: CHART_HEIGHT });
    }).observe($('chart'));
    loadSeries(false).catch(showError);
    tick();
  }

  start();
})();
