// Turning the service's job DTO and numbers into what the page shows.

export const ACTIVE = new Set(['queued', 'running']);

/** The job DTO's fields the page uses (JobDto on the service side), statuses lower-cased. */
export function readJob(dto) {
  return {
    id: dto.id,
    name: dto.name || `job ${dto.id}`,
    status: String(dto.status ?? '').toLowerCase(),
    epoch: dto.epoch ?? 0,
    epochs: dto.epochs ?? 0,
    progress: Math.min(100, Math.max(0, Number(dto.progress) || 0)),
    etaSeconds: dto.etaSeconds ?? null,
    latest: dto.latestMetrics ?? null,
    bestEpoch: dto.bestEpoch ?? null,
    batch: dto.batch ?? null,
    error: dto.error ?? null,
    experimentId: dto.experimentId ?? null,
  };
}

export function duration(totalSeconds) {
  if (totalSeconds == null || !Number.isFinite(totalSeconds)) return '';
  // Small jobs train in milliseconds: rounding them to whole (or tenths of) seconds would print 0.
  if (totalSeconds < 1) return `${Math.max(0, Math.round(totalSeconds * 1000))} ms`;
  if (totalSeconds < 10) return `${totalSeconds.toFixed(1)}s`;
  const s = Math.round(totalSeconds);
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
