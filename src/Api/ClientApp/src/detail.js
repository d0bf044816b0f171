// The selected job: status, progress, actions, best metrics, curves and the per-epoch table.
import { ACTIVE, number, percent, progressText, statusLabel } from './format.js';
import { Curves, bestOf } from './charts.js';

const $ = (id) => document.getElementById(id);
const isAfter = (a, b) => !b || a.epoch > b.epoch || (a.epoch === b.epoch && a.batch > b.batch);

export class JobDetail {
  /** @param {object} actions cancel(id), resume(id), download(id, format): promises; errors are shown here. */
  constructor(actions) {
    this.actions = actions;
    this.job = null;
    this.batch = null;
    this.curves = new Curves($('charts'), $('chart-loss'), $('chart-accuracy'));
    $('btn-cancel').addEventListener('click', () => this.run('Cancel', () => actions.cancel(this.job.id)));
    $('btn-resume').addEventListener('click', () => this.run('Resume', () => actions.resume(this.job.id)));
    for (const button of document.querySelectorAll('[data-format]')) {
      const format = button.dataset.format;
      button.addEventListener('click', () => this.run(`Download ${format}`, () => actions.download(this.job.id, format)));
    }
  }

  get jobId() {
    return this.job?.id ?? null;
  }

  /** Starts showing another job: its curves start empty and fill from the metrics history. */
  open(job) {
    this.job = job;
    this.batch = null;
    $('detail-body').hidden = false;
    $('detail-hint').hidden = true;
    this.curves.reset(job.id);
    $('metrics-body').replaceChildren();
    $('history-note').hidden = true;
    this.actions.showError($('action-error'), null);
    this.render();
  }

  /** New DTO for the open job (from a refresh or a status event). */
  update(job) {
    if (job.id !== this.jobId) return;
    // The DTO's progress counts batches too; keep a batch event only while it is newer than the DTO.
    if (this.batch && (job.epoch >= this.batch.epoch || !isAfter(this.batch, job.batch))) this.batch = null;
    this.job = job;
    this.render();
  }

  addMetric(metric) {
    if (!this.curves.add(metric)) return false;
    if (this.job && metric.epoch > this.job.epoch) this.job = { ...this.job, epoch: metric.epoch };
    if (this.batch && metric.epoch >= this.batch.epoch) this.batch = null;
    this.renderTable();
    this.render();
    return true;
  }

  /** The live stream replayed only the last epochs: say where the earlier ones came from, or that they are missing. */
  showHistoryNote(e, loaded, reason) {
    if (e.jobId !== this.jobId) return;
    const note = $('history-note');
    const omitted = `${e.omittedEpochs} earlier epoch${e.omittedEpochs === 1 ? '' : 's'}`;
    note.textContent = loaded
      ? `Live updates replayed epochs from ${e.firstReplayedEpoch} on; the ${omitted} were loaded from ${e.metricsUrl}.`
      : `Live updates replayed epochs from ${e.firstReplayedEpoch} on; the ${omitted} are omitted (${e.metricsUrl} has them${reason ? `; loading failed: ${reason}` : ''}).`;
    note.dataset.omitted = String(e.omittedEpochs);
    note.dataset.loaded = String(loaded);
    note.hidden = false;
  }

  setBatch(event) {
    this.batch = event;
    this.render();
  }

  render() {
    const job = this.job;
    if (!job) return;
    $('detail-title').textContent = `#${job.id} ${job.name}`;
    const badge = $('detail-status');
    badge.textContent = statusLabel(job.status);
    badge.dataset.status = job.status;
    $('detail-progress').value = this.progress();
    const batch = job.status === 'running' ? this.batch ?? job.batch : null;
    $('detail-progress-text').textContent = progressText(job) + (batch ? ` · batch ${batch.batch} of ${batch.batches}` : '');
    const error = $('detail-error');
    error.textContent = job.error ? `Error: ${job.error}` : '';
    error.hidden = !job.error;
    $('btn-cancel').disabled = !ACTIVE.has(job.status);
    $('btn-resume').disabled = !(job.status === 'cancelled' || job.status === 'failed');
    // Weights exist once a checkpoint does, i.e. after the first recorded epoch.
    const hasWeights = job.epoch > 0 || this.curves.points > 0;
    for (const button of document.querySelectorAll('[data-format]')) button.disabled = !hasWeights;
    this.renderBest();
  }

  /** Percent done, counting the batches of the epoch under way when a BatchProgress event says so. */
  progress() {
    const { job, batch } = this;
    if (!batch || job.status !== 'running' || !job.epochs || !batch.batches) return job.progress;
    return Math.min(100, (100 * (batch.epoch - 1 + batch.batch / batch.batches)) / job.epochs);
  }

  renderBest() {
    const best = bestOf(this.curves.metrics, this.job.bestEpoch);
    const list = $('detail-best');
    list.replaceChildren();
    if (!best) return;
    const items = [
      ['Best epoch', String(best.epoch ?? '–')],
      ['Val. accuracy', percent(best.valAccuracy)],
      ['Val. loss', number(best.valLoss)],
      ['Train accuracy', percent(best.trainAccuracy)],
      ['Train loss', number(best.trainLoss)],
    ];
    for (const [term, value] of items) {
      const wrap = document.createElement('div');
      const dt = document.createElement('dt');
      const dd = document.createElement('dd');
      dt.textContent = term;
      dd.textContent = value;
      wrap.append(dt, dd);
      list.append(wrap);
    }
  }

  renderTable() {
    const rows = this.curves.metrics.map((m) => {
      const row = document.createElement('tr');
      const cells = [String(m.epoch), number(m.trainLoss), percent(m.trainAccuracy), number(m.valLoss),
        percent(m.valAccuracy), number(m.learningRate, 3), m.seconds == null ? '–' : m.seconds.toFixed(2)];
      for (const text of cells) {
        const cell = document.createElement('td');
        cell.textContent = text;
        row.append(cell);
      }
      return row;
    });
    $('metrics-body').replaceChildren(...rows);
  }

  async run(label, action) {
    const area = $('action-error');
    this.actions.showError(area, null);
    try {
      await action();
    } catch (e) {
      this.actions.showError(area, e, label);
    }
  }
}
