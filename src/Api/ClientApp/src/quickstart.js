// Quick start: a synthetic data set, a model and a job from one form, so a newcomer sees training at once.
import { ApiError, api, showProblem } from './api.js';

const FIXED_TWO = new Set(['xor', 'moons']);

/** A small network that fits every synthetic kind: 2-D points into classes, features into one value, or a CNN for images. */
export function presetSpec(kind, classes) {
  if (kind === 'stripes') {
    // Two conv blocks over the 16x16 stripes, then a dense head: the orientation is a local pattern a dense layer sees poorly.
    return formatSpec({
      input: [1, 16, 16],
      layers: [
        { type: 'conv2d', filters: 8, kernel: 3, padding: 'same' },
        { type: 'relu' },
        { type: 'maxpool2d', size: 2 },
        { type: 'conv2d', filters: 16, kernel: 3, padding: 'same' },
        { type: 'relu' },
        { type: 'maxpool2d', size: 2 },
        { type: 'flatten' },
        { type: 'dense', units: classes },
      ],
      loss: 'softmax_cross_entropy',
    });
  }
  const regression = kind === 'regression';
  const spec = {
    input: [regression ? classes : 2],
    layers: [
      { type: 'dense', units: 32 },
      { type: 'relu' },
      { type: 'dense', units: 32 },
      { type: 'relu' },
      { type: 'dense', units: regression ? 1 : classes },
    ],
    loss: regression ? 'mse' : 'softmax_cross_entropy',
  };
  return formatSpec(spec);
}

/** JSON with one layer per line: easier to read and edit than fully indented output. */
function formatSpec(spec) {
  const layers = spec.layers.map((l) => `    ${JSON.stringify(l)}`).join(',\n');
  return `{\n  "input": ${JSON.stringify(spec.input)},\n  "layers": [\n${layers}\n  ],\n  "loss": ${JSON.stringify(spec.loss)}\n}`;
}

export class QuickStart {
  /** @param {(jobId: number) => Promise<void>} onCreated called with the new job's id. */
  constructor(form, onCreated) {
    this.form = form;
    this.onCreated = onCreated;
    this.spec = form.elements.spec;
    this.status = document.getElementById('qs-status');
    this.errorArea = document.getElementById('qs-error');
    this.specEdited = false;

    this.spec.addEventListener('input', () => { this.specEdited = true; });
    form.elements.kind.addEventListener('change', () => this.kindChanged());
    form.elements.classes.addEventListener('input', () => this.refreshPreset());
    document.getElementById('qs-reset-spec').addEventListener('click', () => {
      this.specEdited = false;
      this.refreshPreset();
    });
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit();
    });
    this.kindChanged();
  }

  kindChanged() {
    const kind = this.form.elements.kind.value;
    const classes = this.form.elements.classes;
    document.getElementById('classes-label').textContent = kind === 'regression' ? 'Features' : 'Classes';
    // xor and moons have exactly two classes; the others keep whatever the user typed.
    classes.readOnly = FIXED_TWO.has(kind);
    if (FIXED_TWO.has(kind)) classes.value = '2';
    classes.min = kind === 'regression' ? '1' : '2';
    // Stripes have four orientations at most.
    classes.max = kind === 'stripes' ? '4' : '100';
    if (kind === 'stripes' && Number(classes.value) > 4) classes.value = '4';
    this.refreshPreset();
  }

  refreshPreset() {
    if (this.specEdited) return;
    const classes = Number(this.form.elements.classes.value) || 2;
    this.spec.value = presetSpec(this.form.elements.kind.value, classes);
  }

  /** Reads the form; throws an ApiError-shaped problem naming the field so it is shown like the service's. */
  read() {
    const f = this.form.elements;
    const errors = {};
    const int = (name) => {
      const value = Number(f[name].value);
      if (!Number.isInteger(value) || value < Number(f[name].min || 1)) errors[name] = [`must be a whole number ≥ ${f[name].min || 1}`];
      return value;
    };
    const values = {
      kind: f.kind.value,
      size: int('size'),
      classes: int('classes'),
      epochs: int('epochs'),
      batchSize: int('batchSize'),
      learningRate: Number(f.learningRate.value),
    };
    if (!(values.learningRate > 0)) errors.learningRate = ['must be a number > 0'];
    try {
      values.spec = JSON.parse(this.spec.value);
    } catch (e) {
      errors.spec = [`is not valid JSON: ${e.message}`];
    }
    if (Object.keys(errors).length > 0) {
      throw new ApiError(400, { title: 'The form is incomplete', errors });
    }
    return values;
  }

  async submit() {
    const button = this.form.querySelector('button[type="submit"]');
    showProblem(this.errorArea, null);
    let step = 'Form';
    button.disabled = true;
    try {
      const v = this.read();
      const seed = 1 + Math.floor(Math.random() * 1_000_000);
      // The model first: a spec error (the likeliest) then leaves no orphan data set behind.
      step = 'Creating the model';
      this.say(`${step}…`);
      const model = await api.createModel({ name: `${v.kind} ${v.kind === 'stripes' ? 'cnn' : 'mlp'}`, spec: v.spec });
      step = 'Creating the data set';
      this.say(`${step}…`);
      const dataset = await api.createSynthetic({ name: `${v.kind} ${v.size}`, kind: v.kind, size: v.size, classes: v.classes, seed });
      step = 'Submitting the job';
      this.say(`${step}…`);
      const job = await api.createJob({
        name: `${v.kind} quick start`,
        modelId: model.id,
        datasetId: dataset.id,
        optimizer: { type: 'adam', learningRate: v.learningRate },
        epochs: v.epochs,
        batchSize: v.batchSize,
        seed,
        validationSplit: 0.2,
      });
      this.say(`Job #${job.id} submitted.`);
      await this.onCreated(job.id);
    } catch (e) {
      this.say('');
      showProblem(this.errorArea, e, step);
    } finally {
      button.disabled = false;
    }
  }

  say(text) {
    this.status.textContent = text;
  }
}
