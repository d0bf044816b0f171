// The SignalR connection to /hubs/training: the selected job plus an experiment's jobs, restored after reconnects.
import { HubConnectionBuilder, HubConnectionState, LogLevel } from '@microsoft/signalr';
import { apiKey } from './key.js';

export class TrainingHub {
  /**
   * @param {object} handlers onEpoch, onStatus, onBatch, onLayerStats, onHistoryTruncated (event payloads) and
   *   onConnection(state, detail).
   */
  constructor(handlers) {
    this.handlers = handlers;
    this.jobId = null;
    // The open experiment's jobs, followed alongside the selected job so its overlay chart grows live.
    this.extra = new Set();
    this.connection = new HubConnectionBuilder()
      // The JavaScript client sends this as access_token in the query (WebSockets carry no headers).
      .withUrl('hubs/training', { accessTokenFactory: apiKey })
      .withAutomaticReconnect()
      .configureLogging(LogLevel.Warning)
      .build();
    this.connection.on('EpochCompleted', (e) => handlers.onEpoch(e));
    this.connection.on('JobStatusChanged', (e) => handlers.onStatus(e));
    this.connection.on('BatchProgress', (e) => handlers.onBatch(e));
    this.connection.on('LayerStats', (e) => handlers.onLayerStats?.(e));
    // Subscribe replays only a job's last epochs (Training:HubReplayEpochs); the rest are at e.metricsUrl.
    this.connection.on('HistoryTruncated', (e) => handlers.onHistoryTruncated?.(e));
    this.connection.on('SearchProgress', (e) => handlers.onSearch?.(e));
    // The open search: its decisions (SubscribeSearch) and its trials' epochs, beside the experiment's jobs.
    this.searchId = null;
    this.searchJobs = new Set();
    this.connection.onreconnecting(() => handlers.onConnection('reconnecting'));
    // A new connection has no groups: subscribe again; the history it resends is deduplicated by epoch.
    this.connection.onreconnected(async () => {
      handlers.onConnection('connected');
      await this.subscribeCurrent();
    });
    // Automatic reconnect gives up after its last retry; keep trying slowly so a restarted service is picked up.
    this.connection.onclose(() => {
      handlers.onConnection('disconnected');
      setTimeout(() => this.start(), 5000);
    });
  }

  async start() {
    if (this.connection.state !== HubConnectionState.Disconnected) return;
    this.handlers.onConnection('connecting');
    try {
      await this.connection.start();
      this.handlers.onConnection('connected');
      await this.subscribeCurrent();
    } catch (e) {
      this.handlers.onConnection('disconnected', e.message);
      setTimeout(() => this.start(), 5000);
    }
  }

  /** Switches the live stream to another job (or none). */
  async follow(jobId) {
    const previous = this.jobId;
    this.jobId = jobId;
    if (this.connection.state !== HubConnectionState.Connected) return;
    if (previous != null && previous !== jobId && !this.extra.has(previous)) {
      await this.connection.invoke('Unsubscribe', previous).catch(() => {});
    }
    if (jobId != null) await this.subscribe(jobId);
  }

  /** Replaces the set of extra jobs followed (an experiment's); each Subscribe replays that job's history. */
  async followAlso(jobIds) {
    const previous = this.extra;
    this.extra = new Set(jobIds);
    if (this.connection.state !== HubConnectionState.Connected) return;
    for (const id of previous) {
      if (!this.extra.has(id) && id !== this.jobId) await this.connection.invoke('Unsubscribe', id).catch(() => {});
    }
    for (const id of this.extra) if (!previous.has(id)) await this.subscribe(id);
  }

  /** Follows a search's events and its trials' jobs (replacing the previous search's). */
  async followSearch(searchId, jobIds) {
    const previous = this.searchJobs;
    const previousSearch = this.searchId;
    this.searchId = searchId;
    this.searchJobs = new Set(jobIds);
    if (this.connection.state !== HubConnectionState.Connected) return;
    if (previousSearch !== searchId) {
      if (previousSearch != null) await this.connection.invoke('UnsubscribeSearch', previousSearch).catch(() => {});
      await this.subscribeSearch(searchId);
    }
    for (const id of previous) {
      if (!this.searchJobs.has(id) && !this.extra.has(id) && id !== this.jobId) await this.connection.invoke('Unsubscribe', id).catch(() => {});
    }
    for (const id of this.searchJobs) if (!previous.has(id) && !this.extra.has(id) && id !== this.jobId) await this.subscribe(id);
  }

  async subscribeSearch(searchId) {
    try {
      await this.connection.invoke('SubscribeSearch', searchId);
    } catch (e) {
      this.handlers.onConnection('connected', `Subscribing to search ${searchId} failed: ${e.message}`);
    }
  }

  async subscribeCurrent() {
    if (this.connection.state !== HubConnectionState.Connected) return;
    if (this.jobId != null) await this.subscribe(this.jobId);
    for (const id of this.extra) if (id !== this.jobId) await this.subscribe(id);
    if (this.searchId != null) await this.subscribeSearch(this.searchId);
    for (const id of this.searchJobs) if (id !== this.jobId && !this.extra.has(id)) await this.subscribe(id);
  }

  async subscribe(jobId) {
    try {
      await this.connection.invoke('Subscribe', jobId);
    } catch (e) {
      this.handlers.onConnection('connected', `Subscribing to job ${jobId} failed: ${e.message}`);
    }
  }
}
