// Loss and accuracy curves (train and validation) for one job, drawn with uPlot.
import uPlot from 'uplot';

const TRAIN = '#2563eb';
const VALIDATION = '#d97706';

function makeChart(element, yLabel, yRange) {
  const width = Math.max(element.clientWidth, 280);
  const options = {
    width,
    height: 220,
    scales: { x: { time: false }, y: yRange ? { range: yRange } : {} },
    axes: [
      // Epochs are whole numbers: no ticks at 1.5.
      { label: 'epoch', stroke: '#475569', grid: { stroke: '#e2e8f0' }, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000] },
      { label: yLabel, stroke: '#475569', grid: { stroke: '#e2e8f0' }, size: 60 },
    ],
    series: [
      { label: 'epoch' },
      { label: 'train', stroke: TRAIN, width: 2, points: { size: 5 } },
      { label: 'validation', stroke: VALIDATION, width: 2, dash: [6, 3], points: { size: 5 } },
    ],
    cursor: { drag: { x: false, y: false } },
  };
  return new uPlot(options, [[], [], []], element);
}

/**
 * Holds one job's metrics keyed by epoch, so a repeated epoch (history sent again after a reconnect,
 * or an epoch re-run after a resume) replaces its point instead of adding one.
 */
export class Curves {
  constructor(container, lossElement, accuracyElement) {
    this.container = container;
    this.byEpoch = new Map();
    this.loss = makeChart(lossElement, 'loss');
    this.accuracy = makeChart(accuracyElement, 'accuracy', [0, 1]);
    this.resizer = new ResizeObserver(() => this.resize());
    this.resizer.observe(lossElement);
    this.lossElement = lossElement;
    this.accuracyElement = accuracyElement;
    this.accuracyCaption = accuracyElement.closest('figure').querySelector('figcaption');
  }

  reset(jobId) {
    this.byEpoch.clear();
    this.container.dataset.job = jobId ?? '';
    this.redraw();
  }

  /** Adds or replaces an epoch; returns true when it changed anything. */
  add(metric) {
    const old = this.byEpoch.get(metric.epoch);
    if (old && sameMetric(old, metric)) return false;
    this.byEpoch.set(metric.epoch, metric);
    this.redraw();
    return true;
  }

  get points() {
    return this.byEpoch.size;
  }

  /** Epochs in order. */
  get metrics() {
    return [...this.byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
  }

  redraw() {
    const rows = this.metrics;
    const epochs = rows.map((m) => m.epoch);
    this.loss.setData([epochs, rows.map((m) => m.trainLoss ?? null), rows.map((m) => m.valLoss ?? null)]);
    this.accuracy.setData([epochs, rows.map((m) => m.trainAccuracy ?? null), rows.map((m) => m.valAccuracy ?? null)]);
    const noAccuracy = rows.length > 0 && rows.every((m) => m.trainAccuracy == null && m.valAccuracy == null);
    this.accuracyCaption.textContent = noAccuracy ? 'Accuracy (not measured for this loss)' : 'Accuracy';
    // The browser test and screen-reader-free checks read the count from here.
    this.container.dataset.points = String(rows.length);
  }

  resize() {
    const width = Math.max(this.lossElement.clientWidth, 280);
    if (width === this.loss.width) return;
    this.loss.setSize({ width, height: 220 });
    this.accuracy.setSize({ width: Math.max(this.accuracyElement.clientWidth, 280), height: 220 });
  }
}

function sameMetric(a, b) {
  return a.trainLoss === b.trainLoss && a.valLoss === b.valLoss
    && a.trainAccuracy === b.trainAccuracy && a.valAccuracy === b.valAccuracy;
}

/** The service's best epoch (lowest monitored loss): the one it names, else the last flagged isBest. */
export function bestOf(metrics, bestEpoch) {
  return metrics.find((m) => m.epoch === bestEpoch) ?? metrics.filter((m) => m.isBest).at(-1) ?? null;
}
