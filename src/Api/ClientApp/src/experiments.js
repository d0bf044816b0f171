// The experiments panel: the list, and for the open experiment one loss chart with a curve per variation
// (validation loss, or train loss when a job has no validation split) plus each job's final and best numbers.
import uPlot from 'uplot';
import { duration, number, percent, statusLabel } from './format.js';

// Distinct enough side by side and for common colour-vision deficiencies (Okabe–Ito, then extras).
const COLOURS = ['#0072b2', '#e69f00', '#009e73', '#cc79a7', '#d55e00', '#56b4e9', '#7a5c00', '#000000',
  '#6a3d9a', '#b15928', '#1b9e77', '#e7298a', '#66a61e', '#a6761d', '#666666', '#f0027f'];

export class ExperimentsPanel {
  /**
   * @param {object} elements list (tbody), empty (hint), title, body, chart (container), table (tbody), error.
   * @param {object} deps load(id) → ExperimentDto, follow(jobIds), onSelect(id).
   */
  constructor(elements, deps) {
    this.el = elements;
    this.deps = deps;
    this.experimentId = null;
    this.jobs = [];
    // jobId → Map(epoch → loss): keyed by epoch so history replays and REST reloads never double a point.
    this.curves = new Map();
    this.plot = null;
    this.resizer = new ResizeObserver(() => this.resize());
    this.resizer.observe(elements.chart);
  }

  /** Fills the list of experiments (newest first, as the service sends them). */
  showList(experiments) {
    this.el.empty.hidden = experiments.length > 0;
    this.el.list.replaceChildren(...experiments.map((e) => {
      const row = document.createElement('tr');
      row.dataset.id = String(e.id);
      row.tabIndex = 0;
      row.setAttribute('aria-selected', String(e.id === this.experimentId));
      const cells = [e.name || `experiment ${e.id}`, String(e.jobCount), new Date(e.createdAt).toLocaleString()];
      row.append(...cells.map((text) => Object.assign(document.createElement('td'), { textContent: text })));
      const open = () => this.deps.onSelect(e.id);
      row.addEventListener('click', open);
      row.addEventListener('keydown', (k) => { if (k.key === 'Enter' || k.key === ' ') { k.preventDefault(); open(); } });
      return row;
    }));
  }

  /** Opens an experiment: a fresh chart with one series per variation, then its jobs' live streams. */
  async open(id) {
    const experiment = await this.deps.load(id);
    const sameJobs = id === this.experimentId && experiment.jobs.every((j, i) => this.jobs[i]?.jobId === j.jobId);
    this.experimentId = id;
    for (const row of this.el.list.children) row.setAttribute('aria-selected', String(Number(row.dataset.id) === id));
    this.el.title.textContent = experiment.name || `Experiment ${id}`;
    this.el.body.hidden = false;
    this.el.chart.dataset.experiment = String(id);
    this.jobs = experiment.jobs;
    if (!sameJobs) {
      this.curves = new Map(experiment.jobs.map((j) => [j.jobId, new Map()]));
      this.makePlot();
    }
    for (const job of experiment.jobs) {
      // The finished epochs the service reports already fill the curve's end before the history arrives.
      for (const m of [job.final, job.best]) if (m) this.addMetric({ ...m, jobId: job.jobId });
    }
    this.showTable();
    await this.deps.follow(experiment.jobs.map((j) => j.jobId));
  }

  /** Reloads the open experiment's numbers, e.g. when one of its jobs changed status. */
  async refresh() {
    if (this.experimentId != null) await this.open(this.experimentId);
  }

  has(jobId) {
    return this.curves.has(jobId);
  }

  /** One EpochCompleted (or REST metric) of one of the open experiment's jobs. */
  addMetric(m) {
    const curve = this.curves.get(m.jobId);
    const loss = m.valLoss ?? m.trainLoss;
    if (!curve || loss == null || curve.get(m.epoch) === loss) return;
    curve.set(m.epoch, loss);
    this.redraw();
  }

  makePlot() {
    this.plot?.destroy();
    this.el.chart.replaceChildren();
    const series = [{ label: 'epoch' }, ...this.jobs.map((j, i) => ({
      label: j.variation || `job ${j.jobId}`, stroke: COLOURS[i % COLOURS.length], width: 2, points: { size: 5 },
    }))];
    this.plot = new uPlot({
      width: Math.max(this.el.chart.clientWidth, 280),
      height: 260,
      scales: { x: { time: false } },
      axes: [
        { label: 'epoch', stroke: '#475569', grid: { stroke: '#e2e8f0' }, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000] },
        { label: 'loss (validation, else train)', stroke: '#475569', grid: { stroke: '#e2e8f0' }, size: 60 },
      ],
      series,
      cursor: { drag: { x: false, y: false } },
    }, [[], ...this.jobs.map(() => [])], this.el.chart);
    this.redraw();
  }

  redraw() {
    if (!this.plot) return;
    const epochs = [...new Set([...this.curves.values()].flatMap((c) => [...c.keys()]))].sort((a, b) => a - b);
    const columns = this.jobs.map((j) => {
      const curve = this.curves.get(j.jobId);
      return epochs.map((e) => curve.get(e) ?? null);
    });
    this.plot.setData([epochs, ...columns]);
    // For tests and quick checks: series count, total points, and each series' last epoch.
    const chart = this.el.chart;
    chart.dataset.series = String(this.jobs.length);
    chart.dataset.points = String([...this.curves.values()].reduce((n, c) => n + c.size, 0));
    chart.dataset.lastEpochs = this.jobs.map((j) => Math.max(0, ...this.curves.get(j.jobId).keys())).join(',');
  }

  showTable() {
    const rows = this.jobs.map((j, i) => {
      const row = document.createElement('tr');
      const swatch = Object.assign(document.createElement('span'), { className: 'swatch' });
      swatch.style.background = COLOURS[i % COLOURS.length];
      const name = document.createElement('td');
      name.append(swatch, ` ${j.variation}`);
      const metric = (m) => (m ? `${number(m.valLoss ?? m.trainLoss)}${accuracy(m)}` : '–');
      const cells = [`${statusLabel(String(j.status).toLowerCase())} · ${j.epoch}/${j.epochs}`, metric(j.final),
        j.best ? `${metric(j.best)} @${j.best.epoch}` : '–', duration(j.trainingSeconds)];
      row.append(name, ...cells.map((text) => Object.assign(document.createElement('td'), { textContent: text })));
      return row;
    });
    this.el.table.replaceChildren(...rows);
  }

  resize() {
    const width = Math.max(this.el.chart.clientWidth, 280);
    if (this.plot && width !== this.plot.width) this.plot.setSize({ width, height: 260 });
  }

  get state() {
    return {
      experimentId: this.experimentId,
      series: this.jobs.map((j) => ({ variation: j.variation, jobId: j.jobId, epochs: [...this.curves.get(j.jobId).keys()].sort((a, b) => a - b) })),
    };
  }
}

function accuracy(m) {
  const value = m.valAccuracy ?? m.trainAccuracy;
  return value == null ? '' : ` (${percent(value)})`;
}
