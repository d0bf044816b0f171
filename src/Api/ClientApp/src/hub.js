// The SignalR connection to /hubs/training: one subscription at a time (the selected job), restored after reconnects.
import { HubConnectionBuilder, HubConnectionState, LogLevel } from '@microsoft/signalr';
import { apiKey } from './key.js';

export class TrainingHub {
  /**
   * @param {object} handlers onEpoch, onStatus, onBatch, onLayerStats (event payloads) and onConnection(state, detail).
   */
  constructor(handlers) {
    this.handlers = handlers;
    this.jobId = null;
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
    if (previous != null && previous !== jobId) {
      await this.connection.invoke('Unsubscribe', previous).catch(() => {});
    }
    await this.subscribeCurrent();
  }

  async subscribeCurrent() {
    if (this.jobId == null || this.connection.state !== HubConnectionState.Connected) return;
    try {
      await this.connection.invoke('Subscribe', this.jobId);
    } catch (e) {
      this.handlers.onConnection('connected', `Subscribing to job ${this.jobId} failed: ${e.message}`);
    }
  }
}
