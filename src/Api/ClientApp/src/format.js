// Turning the service's job DTO and numbers into what the page shows.

export const ACTIVE = new Set(['queued', 'running']);

/** The job DTO's fields the page uses, with progress and ETA in one unit whatever form they came in. */
export function readJob(dto) {
  const epoch = dto.epoch ?? dto.currentEpoch ?? 0;
  const epochs = dto.epochs ?? 0;
  return {
    id: dto.id,
    name: dto.name || `job ${dto.id}`,
    status: String(dto.status ?? '').toLowerCase(),
    epoch,
    epochs,
    progress: clamp(dto.progress ?? (epochs > 0 ? (100 * epoch) / epochs : 0)),
    etaSeconds: seconds(dto.eta ?? dto.etaSeconds),
    best: dto.best ?? dto.bestMetrics ?? null,
    latest: dto.latest ?? dto.latestMetrics ?? null,
    error: dto.error ?? null,
  };
}

function clamp(percent) {
  return Math.min(100, Math.max(0, Number(percent) || 0));
}

/** Seconds from a number or a .NET TimeSpan string ("[d.]hh:mm:ss[.fff]"); null when unknown. */
export function seconds(value) {
  if (value == null) return null;
  if (typeof value === 'number') return value;
  const match = /^(?:(\d+)\.)?(\d+):(\d+):(\d+(?:\.\d+)?)$/.exec(value);
  if (!match) return null;
  const [, days = 0, h, m, s] = match;
  return Number(days) * 86400 + Number(h) * 3600 + Number(m) * 60 + Number(s);
}

export function duration(totalSeconds) {
  if (totalSeconds == null || !Number.isFinite(totalSeconds)) return '';
  const s = Math.max(0, Math.round(totalSeconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

export function statusLabel(status) {
  return status ? status[0].toUpperCase() + status.slice(1) : 'Unknown';
}

export function number(value, digits = 4) {
  return value == null || !Number.isFinite(value) ? '–' : Number(value).toPrecision(digits);
}

export function percent(value) {
  return value == null || !Number.isFinite(value) ? '–' : `${(100 * value).toFixed(1)}%`;
}

/** "epoch 3 of 20 · ETA 12s", the words beside a progress bar. */
export function progressText(job) {
  const parts = [`epoch ${job.epoch} of ${job.epochs}`];
  if (ACTIVE.has(job.status) && job.etaSeconds != null) parts.push(`ETA ${duration(job.etaSeconds)}`);
  return parts.join(' · ');
}

/** One short line of best metrics: accuracy when known, else loss. */
export function bestText(best) {
  if (!best) return '–';
  const accuracy = best.valAccuracy ?? best.trainAccuracy;
  const loss = best.valLoss ?? best.trainLoss;
  const which = best.valAccuracy != null || (accuracy == null && best.valLoss != null) ? 'val' : 'train';
  return accuracy != null ? `${which} acc ${percent(accuracy)}` : `${which} loss ${number(loss)}`;
}
