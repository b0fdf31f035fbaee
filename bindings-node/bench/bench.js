'use strict'
// The Node binding's program for `make bench` (bench/README.md has the contract):
//
//   node bindings-node/bench/bench.js --endpoint E --topic T --records N --seconds S --size B \
//        --compression C --linger-ms L [--latency] [--mode send|send_all] [--batch-size BYTES]
//
// Throughput: keyless records until N records or S seconds — `send` (the default mode) in a plain
// loop, its results unread, or `sendAll` of arrays of 1000 (`--mode send_all`), whose promises are
// awaited in chunks with a few chunks in flight; then `flush()`; every record must be acknowledged.
// Latency (`--latency`): linger 0, one record in flight, p50/p99/p999 of the round trips in µs.
// Prints one JSON line; exits non-zero on any failure.

const path = require('node:path')
const { Producer, Admin } = require(path.join(__dirname, '..'))

const USAGE =
  'usage: bench.js --endpoint E --topic T --records N --seconds S --size B --compression C ' +
  '--linger-ms L [--latency] [--mode send|send_all] [--batch-size BYTES]'

function parseArgs(argv) {
  const a = {
    endpoint: null,
    topic: null,
    records: 2_000_000,
    seconds: 5,
    size: 100,
    compression: 'none',
    lingerMs: 0,
    latency: false,
    mode: 'send',
    // Unset: the product default, as every client in `make bench` uses.
    batchSize: null,
  }
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i]
    if (k === '--latency') {
      a.latency = true
      continue
    }
    const v = argv[++i]
    if (v === undefined) throw new Error(`${k} needs a value\n${USAGE}`)
    const num = () => {
      const n = Number(v)
      if (!Number.isFinite(n) || n < 0) throw new Error(`${k}: not a number: ${v}`)
      return n
    }
    switch (k) {
      case '--endpoint': a.endpoint = v; break
      case '--topic': a.topic = v; break
      case '--records': a.records = Math.floor(num()); break
      case '--seconds': a.seconds = num(); break
      case '--size': a.size = Math.floor(num()); break
      case '--compression': a.compression = v; break
      case '--linger-ms': a.lingerMs = Math.floor(num()); break
      case '--batch-size': a.batchSize = Math.floor(num()); break
      case '--mode':
        if (v !== 'send' && v !== 'send_all') throw new Error(`--mode must be send or send_all, got ${v}`)
        a.mode = v
        break
      default:
        throw new Error(`unknown argument ${k}\n${USAGE}`)
    }
  }
  if (!a.endpoint || !a.topic) throw new Error(`--endpoint and --topic are required\n${USAGE}`)
  return a
}

async function ensureTopic(endpoint, topic) {
  const admin = await Admin.connect(endpoint)
  const topics = await admin.listTopics()
  if (!topics.some((t) => t.name === topic)) {
    await admin.createTopic(topic, { partitions: 1 })
  }
}

const CHUNK = 16384 // records sent between yields to the event loop (and per awaited chunk of sendAll)
const IN_FLIGHT = 4 // chunks sent ahead of the one being awaited
const SEND_ALL = 1000 // records per sendAll call

/** Awaits a chunk of promises; a rejection is a failed record and ends the run. */
async function settle(chunk) {
  await Promise.all(chunk)
}

async function throughputSend(p, a, value, deadline) {
  // As in every language's bench: `send` in a plain loop, results unread (the stats check them
  // after), then `flush()`. The loop yields to the event loop between chunks so completions are
  // processed while it runs, as a producing app's would be.
  let sent = 0
  while (sent < a.records) {
    if (process.hrtime.bigint() >= deadline) break
    const n = Math.min(CHUNK, a.records - sent)
    for (let i = 0; i < n; i++) p.send(null, value)
    sent += n
    await new Promise(setImmediate)
  }
  await p.flush()
  return sent
}

async function throughputSendAll(p, a, value, deadline) {
  const batch = []
  for (let i = 0; i < SEND_ALL; i++) batch.push([null, value])
  const pending = []
  let chunk = []
  let sent = 0
  const perChunk = Math.max(1, Math.floor(CHUNK / SEND_ALL))
  while (sent < a.records) {
    // The clock is read once per call (1000 records).
    if (process.hrtime.bigint() >= deadline) break
    const n = Math.min(SEND_ALL, a.records - sent)
    chunk.push(p.sendAll(n === SEND_ALL ? batch : batch.slice(0, n)))
    sent += n
    if (chunk.length === perChunk) {
      pending.push(settle(chunk))
      chunk = []
      if (pending.length > IN_FLIGHT) await pending.shift()
    }
  }
  if (chunk.length) pending.push(settle(chunk))
  await p.flush()
  await Promise.all(pending)
  return sent
}

async function latency(p, a, value, deadline) {
  const samples = []
  while (samples.length < a.records && process.hrtime.bigint() < deadline) {
    const t = process.hrtime.bigint()
    await p.send(null, value)
    samples.push(Number(process.hrtime.bigint() - t) / 1000)
  }
  await p.flush()
  return samples
}

function pct(sorted, q) {
  if (!sorted.length) return 0
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]
}

async function main() {
  const a = parseArgs(process.argv)
  await ensureTopic(a.endpoint, a.topic)
  const config = { compression: a.compression, lingerMs: a.latency ? 0 : a.lingerMs }
  if (a.batchSize !== null) config.batchSize = a.batchSize
  const p = await Producer.connect(a.endpoint, a.topic, config)
  const value = Buffer.alloc(a.size)
  for (let i = 0; i < a.size; i++) value[i] = 97 + (i % 26)
  const t0 = process.hrtime.bigint()
  const deadline = t0 + BigInt(Math.round(a.seconds * 1e9))
  let records
  let samples = null
  if (a.latency) {
    samples = await latency(p, a, value, deadline)
    records = samples.length
  } else if (a.mode === 'send_all') {
    records = await throughputSendAll(p, a, value, deadline)
  } else {
    records = await throughputSend(p, a, value, deadline)
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  const stats = p.stats()
  await p.close()
  if (stats.recordsFailed !== 0 || stats.recordsAcked !== records) {
    throw new Error(`${stats.recordsFailed} records failed, ${stats.recordsAcked} of ${records} acknowledged`)
  }
  const out = {
    client: 'headwater-node',
    records,
    seconds: Number(seconds.toFixed(4)),
    records_per_sec: Math.round(records / seconds),
    mb_per_sec: Number(((records * a.size) / seconds / 1e6).toFixed(2)),
    mode: a.latency ? 'latency' : a.mode,
    compression: a.compression,
    size: a.size,
    linger_ms: a.latency ? 0 : a.lingerMs,
  }
  if (a.batchSize !== null) out.batch_size = a.batchSize
  if (samples) {
    samples.sort((x, y) => x - y)
    out.p50_us = Number(pct(samples, 0.5).toFixed(1))
    out.p99_us = Number(pct(samples, 0.99).toFixed(1))
    out.p999_us = Number(pct(samples, 0.999).toFixed(1))
  }
  process.stdout.write(JSON.stringify(out) + '\n')
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${e && e.stack ? e.stack : e}\n`)
  process.exit(1)
})
