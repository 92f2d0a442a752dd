#!/usr/bin/env node
// ort_run.js — the peer side of vitd's benchmark: runs one .onnx model with ONNX Runtime's CPU
// execution provider (from the npm package onnxruntime-node) and prints the median latency.
//
//   node ort_run.js MODEL.onnx [--runs N] [--threads T] [--warmup W]
//                   [--input IN.npy] [--logits OUT.npy]
//
// The input is IN.npy (float32, C-order, the model's input shape with or without the batch
// dimension) or, without --input, a fixed pseudo-random tensor. Each run is timed around
// session.run() alone, in wall time and in process CPU time (user+system, all threads: with
// --threads 1 the steadier measure on a loaded machine, as preemption does not count; with
// more threads it includes ORT's spinning workers). The last line is `median_ms: X` like
// vit-infer --bench prints; `median_cpu_ms: X` comes just before it, `min_cpu_ms: X` (the
// least disturbed run) before that.
// --logits writes the first output of one run as a float32 .npy (to check the export).
'use strict';

const fs = require('fs');
const ort = require('onnxruntime-node');

function usage(msg) {
  if (msg) process.stderr.write(`ort_run: ${msg}\n`);
  process.stderr.write('usage: ort_run.js MODEL.onnx [--runs N] [--threads T] [--warmup W] ' +
    '[--input IN.npy] [--logits OUT.npy]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { runs: 50, threads: 1, warmup: 5, input: null, logits: null, model: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => { if (i + 1 >= argv.length) usage(`${a} needs a value`); return argv[++i]; };
    if (a === '--runs') opts.runs = parseInt(next(), 10);
    else if (a === '--threads') opts.threads = parseInt(next(), 10);
    else if (a === '--warmup') opts.warmup = parseInt(next(), 10);
    else if (a === '--input') opts.input = next();
    else if (a === '--logits') opts.logits = next();
    else if (a.startsWith('-')) usage(`unknown option ${a}`);
    else if (!opts.model) opts.model = a;
    else usage(`unexpected argument ${a}`);
  }
  if (!opts.model) usage('MODEL.onnx is required');
  if (!(opts.runs > 0) || !(opts.threads > 0) || !(opts.warmup >= 0)) usage('bad number');
  return opts;
}

// Minimal .npy (version 1/2/3) reader for little-endian float32 C-order arrays.
function readNpy(path) {
  const buf = fs.readFileSync(path);
  if (buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${path}: not a .npy file`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12);
  const header = buf.toString('latin1', start, start + hlen);
  if (!/'descr':\s*'<f4'/.test(header) || /'fortran_order':\s*True/.test(header)) {
    throw new Error(`${path}: need little-endian float32 C-order, header is ${header.trim()}`);
  }
  const shape = header.match(/'shape':\s*\(([^)]*)\)/)[1].split(',')
    .map((s) => s.trim()).filter((s) => s.length).map(Number);
  const off = start + hlen;
  const count = shape.reduce((a, b) => a * b, 1);
  if (buf.length < off + 4 * count) throw new Error(`${path}: truncated`);
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = buf.readFloatLE(off + 4 * i);
  return { shape, data };
}

function writeNpy(path, shape, data) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1; head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  const body = Buffer.alloc(4 * data.length);
  for (let i = 0; i < data.length; i++) body.writeFloatLE(data[i], 4 * i);
  fs.writeFileSync(path, Buffer.concat([head, Buffer.from(header, 'latin1'), body]));
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const session = await ort.InferenceSession.create(opts.model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: opts.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const name = session.inputNames[0];
  const meta = session.inputMetadata ? session.inputMetadata[0] : null;
  let shape, data;
  if (opts.input) {
    ({ shape, data } = readNpy(opts.input));
    if (meta && meta.shape && meta.shape.length === shape.length + 1) shape = [1, ...shape];
  } else {
    if (!meta || !meta.shape) throw new Error('model input shape unknown; pass --input');
    shape = meta.shape.map((d) => (typeof d === 'number' ? d : 1));
    data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    let s = 12345;
    for (let i = 0; i < data.length; i++) { s = (s * 1103515245 + 12345) >>> 0; data[i] = (s / 4294967296) * 2 - 1; }
  }
  const feeds = { [name]: new ort.Tensor('float32', data, shape) };
  for (let i = 0; i < opts.warmup; i++) await session.run(feeds);
  const times = [];
  const cpu = [];
  let out = null;
  for (let i = 0; i < opts.runs; i++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    out = await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1e3);
  }
  if (opts.logits) {
    const first = out[session.outputNames[0]];
    const dims = first.dims.length > 1 && first.dims[0] === 1 ? first.dims.slice(1) : first.dims;
    writeNpy(opts.logits, dims, first.data);
  }
  console.log(`ort ${opts.model} threads=${opts.threads} runs=${opts.runs} ` +
    `min_ms: ${Math.min(...times).toFixed(3)}`);
  console.log(`min_cpu_ms: ${Math.min(...cpu).toFixed(3)}`);
  console.log(`median_cpu_ms: ${median(cpu).toFixed(3)}`);
  console.log(`median_ms: ${median(times).toFixed(3)}`);
}

main().catch((e) => { process.stderr.write(`ort_run: ${e.message}\n`); process.exit(1); });
