// Wires the page: the job table (polled), the selected job and open experiment (live over SignalR), the quick start form.
import './app.css';
import { api, downloadWeights, showProblem } from './api.js';
import { ACTIVE, readJob } from './format.js';
import { JobTable } from './jobs.js';
import { bestOf } from './charts.js';
import { JobDetail } from './detail.js';
import { ExperimentsPanel } from './experiments.js';
import { SearchesPanel } from './searches.js';
import { TrainingHub } from './hub.js';
import { wireKeyForm } from './key.js';
import { LayerPanel } from './layers.js';
import { QuickStart } from './quickstart.js';

const $ = (id) => document.getElementById(id);
const jobs = new Map();
// Best epoch's metrics per job for the table, fetched once per best epoch (the job DTO names only the epoch).
const bestMetrics = new Map();
let connectionState = 'connecting';
let lastDownload = null;
let pollTimer = null;

const table = new JobTable($('jobs-body'), $('jobs-empty'), (id) => selectJob(id));

const detail = new JobDetail({
  cancel: async (id) => {
    await api.cancel(id);
    await refreshJob(id);
  },
  resume: async (id) => {
    await api.resume(id);
    await refreshJob(id);
  },
  download: async (id, format) => {
    lastDownload = await downloadWeights(id, format);
  },
  showError: showProblem,
});

const layerPanel = new LayerPanel($('layers'));

let knownExperiments = new Set();

const experiments = new ExperimentsPanel({
  list: $('experiments-body'), empty: $('experiments-empty'), title: $('experiment-title'), body: $('experiment-body'),
  chart: $('experiment-chart'), table: $('experiment-jobs'),
}, {
  load: async (id) => {
    const experiment = await api.getExperiment(id);
    // Its jobs were queued by the experiment, possibly since the job list was last read.
    if (experiment.jobs.some((j) => !jobs.has(j.jobId))) await refreshJobs();
    return experiment;
  },
  follow: (jobIds) => hub.followAlso(jobIds),
  onSelect: (id) => selectExperiment(id),
});

const searches = new SearchesPanel({
  list: $('searches-body'), empty: $('searches-empty'), title: $('search-title'), body: $('search-body'),
  summary: $('search-summary'), chart: $('search-chart'), scatter: $('search-scatter'),
}, {
  load: (id) => api.getSearch(id),
  follow: (id, jobIds) => hub.followSearch(id, jobIds),
  onSelect: (id) => selectSearch(id),
});

const hub = new TrainingHub({
  onSearch(e) {
    searches.onEvent(e);
    if (e.kind === 'trialStarted' || e.kind === 'finished') refreshSearches();
  },
  onLayerStats(e) {
    layerPanel.show(e.jobId, e.epoch, e.layers);
  },
  onEpoch(e) {
    if (e.jobId === detail.jobId) detail.addMetric(e);
    experiments.addMetric(e);
    searches.addMetric(e);
    const job = jobs.get(e.jobId);
    // Keep the table's row moving between polls; the next poll brings the service's own numbers.
    if (!job) return;
    let next = job;
    if (e.epoch > job.epoch) {
      const progress = job.epochs > 0 ? (100 * e.epoch) / job.epochs : job.progress;
      next = { ...next, epoch: e.epoch, progress: Math.max(job.progress, progress) };
    }
    if (e.isBest && e.epoch >= (job.bestEpoch ?? 0)) {
      bestMetrics.set(e.jobId, e);
      next = { ...next, bestEpoch: e.epoch, best: e };
    }
    if (next !== job) remember(next);
  },
  onStatus(e) {
    const job = jobs.get(e.jobId);
    if (job) remember({ ...job, status: String(e.status).toLowerCase(), error: e.error ?? null });
    refreshJob(e.jobId);
    // Final and best numbers in the experiment's table change when one of its jobs ends.
    if (experiments.has(e.jobId)) experiments.refresh().catch((err) => showProblem($('experiments-error'), err, 'Loading the experiment'));
  },
  onBatch(e) {
    if (e.jobId === detail.jobId) detail.setBatch(e);
  },
  onHistoryTruncated(e) {
    loadOmittedEpochs(e);
  },
  onConnection(state, message) {
    connectionState = state;
    const element = $('connection');
    element.dataset.state = state;
    element.textContent = `Live updates: ${state}${message ? ` (${message})` : ''}`;
  },
});

/** Stores a job and shows it in the table and, when it is open, in the detail panel. */
function remember(job) {
  jobs.set(job.id, job);
  table.update(job);
  detail.update(job);
}

async function refreshJobs() {
  try {
    const page = await api.listJobs();
    const list = page.items.map(readJob);
    jobs.clear();
    for (const job of list) jobs.set(job.id, withBest(job));
    table.render([...jobs.values()]);
    $('jobs-more').hidden = page.total <= list.length;
    $('jobs-more').textContent = `Showing the newest ${list.length} of ${page.total} jobs.`;
    const open = detail.jobId == null ? null : jobs.get(detail.jobId);
    if (open) detail.update(open);
    showProblem($('jobs-error'), null);
    // New jobs may come with a new experiment (POST /experiments from a script): keep that list as fresh.
    if (list.some((j) => j.experimentId != null && !knownExperiments.has(j.experimentId))) await refreshExperiments();
    await fillBest(list);
  } catch (e) {
    showProblem($('jobs-error'), e, 'Loading jobs');
  }
  schedulePoll();
}

function withBest(job) {
  if (job.bestEpoch == null) return { ...job, best: null };
  const cached = job.latest?.epoch === job.bestEpoch ? job.latest : bestMetrics.get(job.id);
  return { ...job, best: cached?.epoch === job.bestEpoch ? cached : null };
}

/** Fetches the metrics of jobs whose best epoch is not yet known here, one job at a time. */
async function fillBest(list) {
  for (const { id } of list) {
    const job = jobs.get(id);
    if (!job || job.bestEpoch == null || job.best) continue;
    const best = bestOf(await api.metrics(id), job.bestEpoch);
    if (!best) continue;
    bestMetrics.set(id, best);
    const current = jobs.get(id);
    if (current) remember(withBest(current));
  }
}

/** Polls often while something trains, rarely otherwise; live events cover the open job in between. */
function schedulePoll() {
  clearTimeout(pollTimer);
  const busy = [...jobs.values()].some((j) => ACTIVE.has(j.status));
  pollTimer = setTimeout(refreshJobs, busy ? 2000 : 10000);
}

async function refreshJob(id) {
  try {
    remember(withBest(readJob(await api.getJob(id))));
  } catch (e) {
    if (id === detail.jobId) showProblem($('action-error'), e, `Loading job ${id}`);
  }
}

/**
 * The hub replayed only a job's last epochs: the earlier ones come from the REST metrics route, into the open
 * job's curves and the experiment chart; the note says so, or that they are omitted when that load fails.
 */
async function loadOmittedEpochs(e) {
  const shown = e.jobId === detail.jobId;
  if (!shown && !experiments.has(e.jobId) && !searches.has(e.jobId)) return;
  try {
    const history = await api.metrics(e.jobId);
    for (const m of history) {
      if (m.epoch >= e.firstReplayedEpoch) continue;
      if (e.jobId === detail.jobId) detail.addMetric({ ...m, jobId: e.jobId });
      experiments.addMetric({ ...m, jobId: e.jobId });
      searches.addMetric({ ...m, jobId: e.jobId });
    }
    if (e.jobId === detail.jobId) detail.showHistoryNote(e, true);
  } catch (err) {
    if (e.jobId === detail.jobId) detail.showHistoryNote(e, false, err.message);
  }
}

async function selectJob(id) {
  table.select(id);
  history.replaceState(null, '', `#job-${id}`);
  const known = jobs.get(id) ?? readJob({ id, status: '', epochs: 0 });
  detail.open(known);
  layerPanel.reset(id);
  // Subscribe first: the hub replays the stored history, and the REST history below fills in at once
  // even if the hub is still connecting. Both go through the epoch-keyed store, so nothing doubles.
  hub.follow(id);
  await refreshJob(id);
  try {
    const history = await api.metrics(id);
    if (detail.jobId === id) for (const m of history) detail.addMetric({ ...m, jobId: id });
  } catch (e) {
    if (detail.jobId === id) showProblem($('action-error'), e, 'Loading metrics');
  }
  try {
    const diagnostics = await api.diagnostics(id);
    if (diagnostics.length > 0) layerPanel.show(id, diagnostics.at(-1).epoch, diagnostics.at(-1).layers);
  } catch (e) {
    if (detail.jobId === id) showProblem($('action-error'), e, 'Loading layer diagnostics');
  }
}

new QuickStart($('quick-start'), async (jobId) => {
  await refreshJobs();
  await selectJob(jobId);
  $('detail').focus();
});

$('jobs-refresh').addEventListener('click', refreshJobs);
$('experiments-refresh').addEventListener('click', refreshExperiments);
$('searches-refresh').addEventListener('click', refreshSearches);

async function refreshSearches() {
  try {
    searches.showList(await api.listSearches());
    showProblem($('searches-error'), null);
  } catch (e) {
    showProblem($('searches-error'), e, 'Loading searches');
  }
}

async function selectSearch(id) {
  try {
    await searches.open(id);
    showProblem($('searches-error'), null);
  } catch (e) {
    showProblem($('searches-error'), e, `Loading search ${id}`);
  }
}

async function refreshExperiments() {
  try {
    const list = await api.listExperiments();
    knownExperiments = new Set(list.map((e) => e.id));
    experiments.showList(list);
    showProblem($('experiments-error'), null);
  } catch (e) {
    showProblem($('experiments-error'), e, 'Loading experiments');
  }
}

async function selectExperiment(id) {
  try {
    await experiments.open(id);
    showProblem($('experiments-error'), null);
  } catch (e) {
    showProblem($('experiments-error'), e, `Loading experiment ${id}`);
  }
}

// Read-only view of the page's state for the browser test and for anyone poking at the console.
window.__dashboard = {
  get state() {
    return {
      connection: connectionState,
      jobs: jobs.size,
      selectedJobId: detail.jobId,
      status: detail.job?.status ?? null,
      points: detail.curves.points,
      epochs: detail.curves.metrics.map((m) => m.epoch),
      lastDownload,
      experiment: experiments.state,
    };
  },
};

/** The Hangfire link signs in with the saved key first, then opens the page; a non-admin key gets the 403 shown here. */
function wireHangfireLink(link, error) {
  link.addEventListener('click', async (event) => {
    event.preventDefault();
    try {
      await api.signInToHangfire();
      showProblem(error, null);
      location.href = link.href;
    } catch (e) {
      showProblem(error, e, 'Hangfire');
    }
  });
}

async function start() {
  wireKeyForm($('key-form'), $('api-key'));
  wireHangfireLink($('hangfire-link'), $('hangfire-error'));
  hub.start();
  await refreshJobs();
  await refreshExperiments();
  await refreshSearches();
  const fromHash = /^#job-(\d+)$/.exec(location.hash);
  if (fromHash) await selectJob(Number(fromHash[1]));
}

start();
