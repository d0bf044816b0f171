// REST calls to the service. URLs are relative so the page also works behind a path base.
import { apiKey } from './key.js';

/** An HTTP failure, carrying the service's problem+json (title, detail, errors keyed by field) when there is one. */
export class ApiError extends Error {
  constructor(status, problem, fallback) {
    super(problem?.detail || problem?.title || fallback || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

async function failure(response) {
  const type = response.headers.get('content-type') || '';
  if (type.includes('json')) {
    try {
      return new ApiError(response.status, await response.json());
    } catch {
      // A broken body still deserves the status line below.
    }
  }
  const text = (await response.text().catch(() => '')).trim().slice(0, 300);
  return new ApiError(response.status, null, `${response.status} ${response.statusText}${text ? `: ${text}` : ''}`);
}

async function request(method, url, body) {
  const init = { method, headers: { Accept: 'application/json', 'X-Api-Key': apiKey() } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (e) {
    throw new ApiError(0, null, `The service cannot be reached (${e.message}).`);
  }
  if (!response.ok) throw await failure(response);
  if (response.status === 204) return null;
  const type = response.headers.get('content-type') || '';
  return type.includes('json') ? response.json() : null;
}

export const api = {
  // Sets the HttpOnly cookie that opens /hangfire (a page load cannot send the key header); admin keys only.
  signInToHangfire: () => request('POST', 'hangfire/sign-in'),
  listJobs: (pageSize = 20) => request('GET', `jobs?pageSize=${pageSize}`),
  getJob: (id) => request('GET', `jobs/${id}`),
  metrics: (id) => request('GET', `jobs/${id}/metrics`),
  diagnostics: (id) => request('GET', `jobs/${id}/diagnostics`),
  cancel: (id) => request('POST', `jobs/${id}/cancel`),
  resume: (id) => request('POST', `jobs/${id}/resume`),
  createSynthetic: (body) => request('POST', 'datasets/synthetic', body),
  createModel: (body) => request('POST', 'models', body),
  createJob: (body) => request('POST', 'jobs', body),
  listExperiments: () => request('GET', 'experiments'),
  getExperiment: (id) => request('GET', `experiments/${id}`),
  listSearches: () => request('GET', 'searches'),
  getSearch: (id) => request('GET', `searches/${id}`),
};

/** Fetches a weights file and hands it to the browser as a download, so errors can be shown instead of raw JSON. */
export async function downloadWeights(id, format) {
  let response;
  try {
    response = await fetch(`jobs/${id}/weights?format=${encodeURIComponent(format)}`, { headers: { 'X-Api-Key': apiKey() } });
  } catch (e) {
    throw new ApiError(0, null, `The service cannot be reached (${e.message}).`);
  }
  if (!response.ok) throw await failure(response);
  const blob = await response.blob();
  const name = fileName(response.headers.get('content-disposition')) || `job-${id}.${format}`;
  const url = URL.createObjectURL(blob);
  const link = Object.assign(document.createElement('a'), { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  // The click starts the download synchronously; revoke later so slow browsers still read the blob.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return { name, bytes: blob.size };
}

function fileName(disposition) {
  if (!disposition) return null;
  const star = /filename\*\s*=\s*(?:UTF-8'')?([^;]+)/i.exec(disposition);
  if (star) return decodeURIComponent(star[1].trim().replace(/^"|"$/g, ''));
  const plain = /filename\s*=\s*("?)([^";]+)\1/i.exec(disposition);
  return plain ? plain[2].trim() : null;
}

/** Renders an error into a container: the problem's title, its detail and one line per field error. */
export function showProblem(container, error, context) {
  container.replaceChildren();
  if (!error) {
    container.hidden = true;
    return;
  }
  const problem = error.problem;
  const heading = document.createElement('strong');
  const title = problem?.title || (error.status ? `Request failed (${error.status})` : 'Request failed');
  heading.textContent = context ? `${context}: ${title}` : title;
  container.append(heading);
  const fieldErrors = Object.entries(problem?.errors ?? {});
  if (fieldErrors.length > 0) {
    const list = document.createElement('ul');
    for (const [field, messages] of fieldErrors) {
      for (const message of [].concat(messages)) {
        const item = document.createElement('li');
        if (field) {
          const code = document.createElement('code');
          code.textContent = field;
          item.append(code, ` ${message}`);
        } else {
          item.textContent = message;
        }
        list.append(item);
      }
    }
    container.append(list);
  } else {
    const text = problem?.detail || error.message;
    // ASP.NET's 500 answer repeats its title as the detail; say it once.
    if (text && text !== title) {
      const detail = document.createElement('p');
      detail.textContent = text;
      container.append(detail);
    }
  }
  container.hidden = false;
}
