// The job table: one row per job, updated in place so keyboard focus survives the periodic refresh.
import { bestText, progressText, statusLabel } from './format.js';

export class JobTable {
  constructor(body, empty, onSelect) {
    this.body = body;
    this.empty = empty;
    this.onSelect = onSelect;
    this.rows = new Map();
    this.selectedId = null;
  }

  /** Replaces the table's contents with these jobs (already read with readJob), newest first. */
  render(jobs) {
    const sorted = [...jobs].sort((a, b) => b.id - a.id);
    const seen = new Set();
    for (const job of sorted) {
      seen.add(job.id);
      const row = this.rows.get(job.id) ?? this.createRow(job.id);
      this.fill(row, job);
      this.body.append(row); // Moves existing rows into order without recreating them.
    }
    for (const [id, row] of this.rows) {
      if (!seen.has(id)) {
        row.remove();
        this.rows.delete(id);
      }
    }
    this.empty.hidden = jobs.length > 0;
  }

  /** Updates one job's row, e.g. from a live event, without a full refresh. */
  update(job) {
    const row = this.rows.get(job.id);
    if (row) this.fill(row, job);
  }

  select(id) {
    this.selectedId = id;
    for (const [rowId, row] of this.rows) {
      const selected = rowId === id;
      row.classList.toggle('selected', selected);
      row.querySelector('button').setAttribute('aria-pressed', String(selected));
    }
  }

  createRow(id) {
    const row = document.createElement('tr');
    row.dataset.jobId = String(id);
    row.innerHTML = `
      <th scope="row"><button type="button" class="job-link" aria-pressed="false"></button></th>
      <td><span class="badge"></span></td>
      <td><progress max="100" value="0"></progress><span class="progress-text"></span></td>
      <td class="best-cell"></td>`;
    const button = row.querySelector('button');
    button.addEventListener('click', () => this.onSelect(id));
    // Clicking anywhere on the row is a mouse convenience; the button is the accessible control.
    row.addEventListener('click', (e) => {
      if (e.target !== button) this.onSelect(id);
    });
    this.rows.set(id, row);
    return row;
  }

  fill(row, job) {
    const button = row.querySelector('button');
    button.textContent = `#${job.id} ${job.name}`;
    const badge = row.querySelector('.badge');
    badge.textContent = statusLabel(job.status);
    badge.dataset.status = job.status;
    const bar = row.querySelector('progress');
    bar.value = job.progress;
    bar.setAttribute('aria-label', `Job ${job.id} progress`);
    row.querySelector('.progress-text').textContent = progressText(job);
    row.querySelector('.best-cell').textContent = bestText(job.best);
    row.dataset.status = job.status;
    const selected = job.id === this.selectedId;
    row.classList.toggle('selected', selected);
    button.setAttribute('aria-pressed', String(selected));
  }
}
