// The searches panel: the list, and for the open search a curve per trial (its metric per epoch, live over the hub)
// and a scatter of the first searched parameter against each trial's latest rung result, coloured by status.
import uPlot from 'uplot';
import { number } from './format.js';

const COLOURS = ['#0072b2', '#e69f00', '#009e73', '#cc79a7', '#d55e00', '#56b4e9', '#7a5c00', '#000000'];
const STATUS_COLOURS = { succeeded: '#009e73', pruned: '#94a3b8', paused: '#e69f00', running: '#0072b2', queued: '#56b4e9' };

export class SearchesPanel {
  /**
   * @param {object} elements list (tbody), empty, title, body, summary, chart, scatter (canvas), error.
   * @param {object} deps load(id) → SearchDto, follow(searchId, jobIds), onSelect(id).
   */
  constructor(elements, deps) {
    this.el = elements;
    this.deps = deps;
    this.search = null;
    // jobId → Map(epoch → value), keyed by epoch so replays never double a point.
    this.curves = new Map();
    this.plot = null;
    this.pending = null;
    this.stale = false;
  }

  showList(searches) {
    this.el.empty.hidden = searches.length > 0;
    this.el.list.replaceChildren(...searches.map((s) => {
      const row = document.createElement('tr');
      row.dataset.id = String(s.id);
      row.tabIndex = 0;
      row.setAttribute('aria-selected', String(s.id === this.search?.id));
      const cells = [s.name || `search ${s.id}`, s.algorithm, String(s.status).toLowerCase(), `${s.trialsCreated}/${s.maxTrials}`,
        s.bestValue == null ? '–' : number(s.bestValue)];
      row.append(...cells.map((text) => Object.assign(document.createElement('td'), { textContent: text })));
      const open = () => this.deps.onSelect(s.id);
      row.addEventListener('click', open);
      row.addEventListener('keydown', (k) => { if (k.key === 'Enter' || k.key === ' ') { k.preventDefault(); open(); } });
      return row;
    }));
  }

  async open(id) {
    const search = await this.deps.load(id);
    const fresh = search.id !== this.search?.id;
    this.search = search;
    this.el.title.textContent = search.name || `Search ${id}`;
    this.el.body.hidden = false;
    this.el.summary.dataset.status = String(search.status).toLowerCase();
    for (const row of this.el.list.children) row.setAttribute('aria-selected', String(Number(row.dataset.id) === id));
    const trials = search.trials.filter((t) => t.jobId != null);
    if (fresh) this.curves = new Map();
    for (const t of trials) if (!this.curves.has(t.jobId)) this.curves.set(t.jobId, new Map());
    const best = search.bestTrial == null ? 'no result yet' : `best: trial ${search.bestTrial} (job ${search.bestJobId}), ${search.metric} ${number(search.bestValue)}`;
    this.el.summary.textContent = `${search.algorithm}, ${String(search.status).toLowerCase()}; rungs ${search.rungs.join(', ')}; ` +
      `${search.epochsTrained} epochs trained; ${best}`;
    this.makePlot();
    this.drawScatter();
    await this.deps.follow(id, trials.map((t) => t.jobId));
    // What changed between the load and the subscription came before any event could tell: load once more.
    if (fresh) this.onEvent({ searchId: id });
    this.el.summary.dataset.following = String(id);
  }

  /**
   * A SearchProgress event: reloads the open search, at most one reload in flight. An event during a reload asks for one
   * more after it, since that reload may have read the search before the change the event announces.
   */
  onEvent(e) {
    if (e.searchId !== this.search?.id) return;
    if (this.pending) {
      this.stale = true;
      return;
    }
    this.stale = false;
    this.pending = this.open(e.searchId).finally(() => {
      this.pending = null;
      if (this.stale) this.onEvent(e);
    });
  }

  has(jobId) {
    return this.curves.has(jobId);
  }

  addMetric(m) {
    const curve = this.curves.get(m.jobId);
    const value = this.search && m[this.search.metric];
    if (!curve || value == null || curve.get(m.epoch) === value) return;
    curve.set(m.epoch, value);
    this.redraw();
  }

  makePlot() {
    this.plot?.destroy();
    this.el.chart.replaceChildren();
    const jobs = [...this.curves.keys()];
    this.plot = new uPlot({
      width: Math.max(this.el.chart.clientWidth, 280),
      height: 240,
      scales: { x: { time: false } },
      axes: [{ label: 'epoch', stroke: '#475569' }, { label: this.search.metric, stroke: '#475569', size: 60 }],
      series: [{ label: 'epoch' }, ...jobs.map((id, i) => ({ label: `job ${id}`, stroke: COLOURS[i % COLOURS.length], width: 1.5 }))],
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
    }, [[], ...jobs.map(() => [])], this.el.chart);
    this.redraw();
  }

  redraw() {
    if (!this.plot) return;
    const epochs = [...new Set([...this.curves.values()].flatMap((c) => [...c.keys()]))].sort((a, b) => a - b);
    this.plot.setData([epochs, ...[...this.curves.values()].map((c) => epochs.map((e) => c.get(e) ?? null))]);
    this.el.chart.dataset.series = String(this.curves.size);
    this.el.chart.dataset.points = String([...this.curves.values()].reduce((n, c) => n + c.size, 0));
  }

  /** Parameter (log axis when it spans more than a decade) against the latest rung result of each trial that has one. */
  drawScatter() {
    const canvas = this.el.scatter;
    const ctx = canvas.getContext('2d');
    canvas.width = Math.max(canvas.clientWidth, 280);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const param = Object.keys(this.search.trials[0]?.params ?? {})[0];
    const points = this.search.trials.filter((t) => t.results.length > 0 && typeof t.params[param] === 'number')
      .map((t) => ({ x: t.params[param], y: t.results.at(-1).value, status: t.status }));
    canvas.dataset.points = String(points.length);
    canvas.setAttribute('aria-label', `${param} against ${this.search.metric}, one dot per trial`);
    if (points.length === 0) return;
    const xs = points.map((p) => p.x);
    const log = Math.min(...xs) > 0 && Math.max(...xs) / Math.min(...xs) > 10;
    const fx = log ? Math.log10 : (v) => v;
    const scale = (values, lo, hi) => {
      const min = Math.min(...values); const max = Math.max(...values); const span = max - min || 1;
      return (v) => lo + ((v - min) / span) * (hi - lo);
    };
    const pad = 30;
    const sx = scale(xs.map(fx), pad, canvas.width - 10);
    const sy = scale(points.map((p) => p.y), canvas.height - pad, 24);
    ctx.fillStyle = '#475569';
    ctx.font = '12px sans-serif';
    ctx.fillText(`${param}${log ? ' (log)' : ''} →`, pad, canvas.height - 8);
    ctx.fillText(this.search.metric, 2, 12);
    for (const p of points) {
      ctx.fillStyle = STATUS_COLOURS[p.status] ?? '#000000';
      ctx.beginPath();
      ctx.arc(sx(fx(p.x)), sy(p.y), 5, 0, 2 * Math.PI);
      ctx.fill();
    }
  }
}
