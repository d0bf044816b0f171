// Per-layer activation histograms of the open job's latest epoch (the book's weight-initialization figures),
// drawn as small inline SVG bar charts: 20 bins need no charting library.
const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 160;
const HEIGHT = 60;

function fixed(value) {
  return value == null ? '–' : Math.abs(value) >= 1e4 || (value !== 0 && Math.abs(value) < 1e-3) ? value.toExponential(2) : value.toFixed(3);
}

function histogram(bins) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${WIDTH} ${HEIGHT}`);
  svg.setAttribute('width', WIDTH);
  svg.setAttribute('height', HEIGHT);
  svg.setAttribute('aria-hidden', 'true');
  const max = Math.max(1, ...bins);
  const w = WIDTH / bins.length;
  bins.forEach((count, i) => {
    const h = (HEIGHT * count) / max;
    const bar = document.createElementNS(SVG, 'rect');
    bar.setAttribute('x', String(i * w + 0.5));
    bar.setAttribute('y', String(HEIGHT - h));
    bar.setAttribute('width', String(Math.max(1, w - 1)));
    bar.setAttribute('height', String(h));
    svg.append(bar);
  });
  return svg;
}

export class LayerPanel {
  /** @param {HTMLElement} container where the per-layer figures go. */
  constructor(container) {
    this.container = container;
    this.jobId = null;
    this.epoch = 0;
  }

  reset(jobId) {
    this.jobId = jobId;
    this.epoch = 0;
    this.container.replaceChildren();
    this.container.dataset.epoch = '0';
  }

  /** Shows one epoch's layers if it is the open job's newest so far; history and live events may interleave. */
  show(jobId, epoch, layers) {
    if (jobId !== this.jobId || epoch <= this.epoch) return;
    this.epoch = epoch;
    this.container.dataset.epoch = String(epoch);
    const figures = layers.map((l) => {
      const figure = document.createElement('figure');
      figure.className = 'layer';
      const caption = document.createElement('figcaption');
      const dead = l.deadFraction == null ? '' : `, dead ${(100 * l.deadFraction).toFixed(0)} %`;
      caption.textContent = `${l.index} ${l.type}: μ ${fixed(l.mean)}, σ ${fixed(l.std)}${dead}`;
      const range = document.createElement('small');
      const ratio = l.gradToWeight == null ? '' : ` · ‖∇‖/‖W‖ ${fixed(l.gradToWeight)}`;
      range.textContent = `[${fixed(l.histogramMin)}, ${fixed(l.histogramMax)}]${ratio}`;
      figure.append(caption, histogram(l.histogram), range);
      return figure;
    });
    const title = document.createElement('p');
    title.className = 'hint';
    title.textContent = `Activations on the probe batch after epoch ${epoch}`;
    this.container.replaceChildren(title, ...figures);
  }
}
