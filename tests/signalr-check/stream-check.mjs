// Watches one training job over /hubs/training with the official SignalR client, as a browser would.
// Usage: API_KEY=<key> node stream-check.mjs <baseUrl> <modelId> <datasetId> <epochs> [joinAtEpoch]
// The key goes to REST calls as X-Api-Key and to the hub through accessTokenFactory (access_token query).
// Creates the job itself right after the first connection is up, so that connection sees the job live;
// a second connection subscribes once the first has seen <joinAtEpoch> epochs (mid-training).
// Prints one JSON object: both connections' events in arrival order. Exit code 2 on timeout.
import * as signalR from "@microsoft/signalr";

const [baseUrl, modelId, datasetId, epochs, joinAt = "2"] = process.argv.slice(2);
if (!baseUrl || !modelId || !datasetId || !epochs) {
  console.error("usage: node stream-check.mjs <baseUrl> <modelId> <datasetId> <epochs> [joinAtEpoch]");
  process.exit(64);
}
const apiKey = process.env.API_KEY ?? "";
const terminal = new Set(["succeeded", "failed", "cancelled"]);
const timeoutMs = 120_000;

function watcher(name) {
  const events = [];
  let batchProgress = 0;
  let resolveDone;
  const done = new Promise((resolve) => (resolveDone = resolve));
  const connection = new signalR.HubConnectionBuilder()
    .withUrl(`${baseUrl}/hubs/training`, { accessTokenFactory: () => apiKey })
    .configureLogging(signalR.LogLevel.Warning)
    .build();
  connection.on("EpochCompleted", (e) => events.push({ kind: "EpochCompleted", epoch: e.epoch, jobId: e.jobId, trainLoss: e.trainLoss }));
  connection.on("BatchProgress", () => batchProgress++);
  connection.on("JobStatusChanged", (e) => {
    events.push({ kind: "JobStatusChanged", status: e.status, epoch: e.epoch, jobId: e.jobId });
    if (terminal.has(e.status)) resolveDone();
  });
  return { name, events, connection, done, batchProgress: () => batchProgress };
}

const first = watcher("first");
const second = watcher("second");
let jobId = null;
let secondJoinedAfterEpoch = null;
let firstFinishedBeforeSecondJoined = false;

const timer = setTimeout(() => {
  console.log(JSON.stringify(report("timeout")));
  process.exit(2);
}, timeoutMs);

function report(outcome) {
  return {
    outcome,
    jobId,
    secondJoinedAfterEpoch,
    firstFinishedBeforeSecondJoined,
    first: first.events,
    second: second.events,
    batchProgress: first.batchProgress(),
  };
}

await first.connection.start();
const response = await fetch(`${baseUrl}/jobs`, {
  method: "POST",
  headers: { "content-type": "application/json", "x-api-key": apiKey },
  body: JSON.stringify({
    modelId: Number(modelId), datasetId: Number(datasetId), epochs: Number(epochs),
    batchSize: 16, seed: 3, validationSplit: 0.2, optimizer: { type: "adam", learningRate: 0.01 },
  }),
});
if (response.status !== 202) {
  console.error(`POST /jobs answered ${response.status}: ${await response.text()}`);
  process.exit(1);
}
jobId = (await response.json()).id;

// The second subscriber joins once the first has seen joinAt epochs: the middle of training.
const joined = new Promise((resolve) => {
  first.connection.on("EpochCompleted", async (e) => {
    if (secondJoinedAfterEpoch !== null || e.epoch < Number(joinAt)) return;
    secondJoinedAfterEpoch = e.epoch;
    await second.connection.start();
    firstFinishedBeforeSecondJoined = first.events.some((x) => x.kind === "JobStatusChanged" && terminal.has(x.status));
    await second.connection.invoke("Subscribe", jobId);
    resolve();
  });
});
await first.connection.invoke("Subscribe", jobId);

await Promise.all([first.done, joined]);
await second.done;
clearTimeout(timer);
await first.connection.invoke("Unsubscribe", jobId);
await Promise.all([first.connection.stop(), second.connection.stop()]);
console.log(JSON.stringify(report("done")));
