'use strict'
// Loads the native addon (built by `napi build`) and adds what is JavaScript by nature:
// the `HeadwaterError` class, the bulk `RecordMetadata` builder, `Symbol.asyncDispose`, and the fast
// `send`/`sendAll`, whose results send their batch when awaited.

const { existsSync } = require('node:fs')
const { join } = require('node:path')
const { version, optionalDependencies = {} } = require('./package.json')

/** napi-rs's name for a platform (`linux-x64-gnu`, `darwin-arm64`, `win32-x64-msvc`, ...): the binary is
 * `headwater.<name>.node`, shipped in the npm package `headwater-<name>`. */
function platformName(platform, arch, libc) {
  if (platform === 'linux') return arch === 'arm' ? `linux-arm-${libc}eabihf` : `linux-${arch}-${libc}`
  if (platform === 'win32') return `win32-${arch}-msvc`
  if (platform === 'android' && arch === 'arm') return 'android-arm-eabi'
  return `${platform}-${arch}`
}

/** The C library Node runs on, decided as npm decides it for a package's `libc` field, so the name
 * looked for is the package npm installed (or skipped) here. */
function linuxLibc() {
  const report = process.report
  const excludeNetwork = report.excludeNetwork
  report.excludeNetwork = true // no DNS lookups for the sockets a running app may hold
  try {
    const { header, sharedObjects = [] } = report.getReport()
    if (header.glibcVersionRuntime) return 'gnu'
    return sharedObjects.some((f) => f.includes('libc.musl-') || f.includes('ld-musl-')) ? 'musl' : 'gnu'
  } finally {
    report.excludeNetwork = excludeNetwork
  }
}

/** The addon: `headwater.<platform>.node` next to this file (a checkout, after `napi build`), else the
 * platform package npm installed as an optional dependency. Neither: one error naming both. */
function loadNative() {
  const { platform, arch } = process
  const libc = platform === 'linux' ? linuxLibc() : null
  const name = platformName(platform, arch, libc)
  const local = join(__dirname, `headwater.${name}.node`)
  if (existsSync(local)) return require(local)
  const packageName = `headwater-${name}`
  let resolved = null
  try {
    resolved = require.resolve(packageName)
  } catch (e) {
    if (e.code !== 'MODULE_NOT_FOUND') throw e
  }
  if (resolved !== null) return require(resolved)

  const shipped = Object.keys(optionalDependencies)
    .filter((dep) => dep.startsWith('headwater-'))
    .map((dep) => dep.slice('headwater-'.length))
  let advice
  if (shipped.includes(name)) {
    advice =
      `${packageName} is an optional dependency of headwater ${version} and was not installed ` +
      '(npm skips optional dependencies with --omit=optional): install it, or reinstall without that flag'
  } else if (shipped.length > 0) {
    advice =
      `headwater ${version} ships native binaries for ${shipped.join(', ')} only; on another platform, ` +
      'build from source with `make -C bindings-node build` in a clone of the repository'
  } else {
    advice = 'this checkout has no build of the addon: run `make -C bindings-node build`'
  }
  const libcPart = libc === null ? '' : `, libc ${libc === 'gnu' ? 'glibc' : 'musl'}`
  throw new Error(
    `headwater: no native binary for ${name} (platform ${platform}, arch ${arch}${libcPart}): ` +
      `neither ${local} nor the package ${packageName} is installed. ${advice}.`,
  )
}

const native = loadNative()

/**
 * Every failure, wrong arguments included (`INVALID_ARGUMENT`): `.message` is core's `[CODE] text`, `.code`
 * is stable ('CONFIG', 'QUEUE_FULL', ...), `.retriable` says whether a retry may help.
 */
class HeadwaterError extends Error {
  constructor(message, code, retriable, number, brokerCode) {
    super(message)
    this.name = 'HeadwaterError'
    this.code = code
    this.retriable = retriable
    this.number = number
    if (brokerCode !== undefined && brokerCode !== null) this.brokerCode = brokerCode
  }
}

// Builds the `RecordMetadata` objects of many records at once (called by the addon with the topic and
// [partition, offset, timestamp] triples): one call per batch of results instead of one object built
// property by property through Node-API per record.
function recordMetadata(topic, v) {
  const out = []
  for (let j = 0; j < v.length; j += 3) {
    out.push({ topic, partition: v[j], offset: v[j + 1], timestamp: v[j + 2] })
  }
  return out
}

const { Producer, TestBroker, Admin, setLogger } = native

// `send`, `sendTo` and `sendAll` are the hot paths: each connected producer carries its JS side (a
// `ProducerState`) under this symbol, and the fast functions are plain Node-API functions, cheaper
// per call than the class methods (same checks, same behaviour; anything unusual goes through the
// methods).
const kNative = Symbol('headwater.native')
// Shared with the addon. Elements 0..2: what the last fast call returned (a send: its sequence
// number, partition and batch id; a `sendAll`: its promise's ticket, 0 for none). Then `sendNow`'s
// queues: URGE_MAX `sendAll` tickets, then URGE_MAX batches as (producer id, partition, batch id).
const RETURNED = 3
const URGE_MAX = 4095
const BATCHES = RETURNED + URGE_MAX
const register = new Float64Array(new ArrayBuffer(8 * (RETURNED + 4 * URGE_MAX)))

// A send returns a `ProduceOutput`, not a promise: creating a promise per record (and settling each
// one across Node-API) cost more than the rest of a send. Results are settled per batch: the records
// of one batch share one `Batch`, which the addon settles once (`settle`, with the batch's offsets
// and timestamps as a few runs, or its error). An output is a thenable: a promise exists only once
// someone calls `then` (which `await`, `Promise.all`, `Promise.resolve`... do) or `catch`/`finally`,
// and only for that record.
//
// A send nobody waits on never becomes an unhandled rejection (nothing can reject before someone
// attaches a handler); its failure goes to the error handler (the addon calls it once per failed
// record), a failed delivery also to the next flush()/close(). A refused send returns a rejected
// promise (marked handled; also reported to the error handler).
//
// Waiting on a send sends its batch now. A record's batch lingers (`lingerMs`) to collect more
// records, which is right for records nobody waits on yet, but a caller awaiting one record needs it
// now: `then` queues its batch for `sendNow` (once per batch; one call per microtask, whatever the
// number of waiters), so a `Promise.all` over many sends issued first still gets whole batches.
// `catch` and `finally` only attach handlers: they do not send the batch, but the promise they
// return does once someone waits on it (see `sendPromiseProto`).

/** A connected producer's JS side, made by the addon at connect. */
class ProducerState {
  constructor(id, topic, eager) {
    this.id = id
    this.topic = topic
    // lingerMs 0: batches never wait for their timer, so waiting has nothing to send sooner
    this.eager = eager
    // the batch each partition's sends last went to
    this.open = []
    // unsettled batches, oldest first from `head` (settled ones leave holes): batches mostly settle
    // in the order they opened, and a batch waits behind at most the few in flight before it
    this.pending = []
    this.head = 0
  }

  /** Removes and returns the unsettled batch of `ticket`. */
  take(ticket) {
    const q = this.pending
    for (let i = this.head; i < q.length; i++) {
      const b = q[i]
      if (b === undefined || b.ticket !== ticket) continue
      q[i] = undefined
      let h = this.head
      while (h < q.length && q[h] === undefined) h++
      if (h === q.length) {
        q.length = 0
        h = 0
      } else if (h > 1024 && 2 * h > q.length) {
        this.pending = q.slice(h)
        h = 0
      }
      this.head = h
      return b
    }
    return undefined
  }
}

const UNSETTLED = -2
const FAILED = -1

/** The records one batch holds, sent through `send`/`sendTo`, and once known, their results. Kept
 * small: a long synchronous loop of sends holds one per batch until the addon can settle them. */
class Batch {
  constructor(st, ticket, partition, id) {
    this.st = st
    this.ticket = ticket
    this.partition = partition
    this.id = id
    this.count = 0
    this.urged = st.eager
    // UNSETTLED; FAILED (`result` is the error); else where the batch's runs start in `result`, the
    // addon's data (their number is just before)
    this.at = UNSETTLED
    this.result = null
    // what `then` registered while unsettled: index, handlers and resolvers (5 entries each)
    this.waiting = null
  }
}

/** The `RecordMetadata` of record `k` of settled batch `b`: its run is the last one starting at or
 * before it; offsets run on from the run's first (unless unknown: -1). */
function metadata(b, k) {
  const d = b.result
  let lo = 0
  let hi = d[b.at - 1] - 1
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1
    if (d[b.at + 3 * mid] <= k) lo = mid
    else hi = mid - 1
  }
  const r = b.at + 3 * lo
  const first = d[r + 1]
  const offset = first < 0 ? -1 : first + (k - d[r])
  return { topic: b.st.topic, partition: b.partition, offset, timestamp: d[r + 2] }
}

/** `then(onFulfilled, onRejected)` of record `k` of batch `b`, without sending the batch: one promise,
 * whose handlers the addon's `settle` runs (a settle runs from the event loop, never inside user
 * code), or a settled batch's result's. */
function thenOf(b, k, onFulfilled, onRejected) {
  if (b.at !== UNSETTLED) {
    const p = b.at === FAILED ? Promise.reject(b.result) : Promise.resolve(metadata(b, k))
    return p.then(onFulfilled, onRejected)
  }
  let w = b.waiting
  if (w === null) w = b.waiting = []
  w.push(k, onFulfilled, onRejected)
  filing = w
  return new Promise(file)
}

// `file` is the executor of every `thenOf` promise: one function, no closure per call.
let filing = null
function file(resolve, reject) {
  filing.push(resolve, reject)
  filing = null
}

/** Runs a handler registered by `thenOf` with `v`, settling its promise as `then` would. */
function run(handler, v, resolve, reject, fulfilled) {
  if (typeof handler !== 'function') {
    if (fulfilled) resolve(v)
    else reject(v)
    return
  }
  try {
    resolve(handler(v))
  } catch (e) {
    reject(e)
  }
}

/** The addon: these batches of producer `st` are done (`data`: per batch `[ticket, runs, k, offset,
 * timestamp per run...]`, `runs` -1 for a failed batch, whose error is the next of `errors`). */
function settle(st, data, errors) {
  let e = 0
  for (let i = 0; i < data.length; ) {
    const runs = data[i + 1]
    const b = st.take(data[i])
    if (b !== undefined) {
      if (st.open[b.partition] === b) st.open[b.partition] = undefined
      const ok = runs >= 0
      b.at = ok ? i + 2 : FAILED
      b.result = ok ? data : errors[e]
      const w = b.waiting
      if (w !== null) {
        b.waiting = null
        for (let j = 0; j < w.length; j += 5) {
          const v = ok ? metadata(b, w[j]) : b.result
          run(ok ? w[j + 1] : w[j + 2], v, w[j + 3], w[j + 4], ok)
        }
      }
    }
    if (runs < 0) e++
    i += 2 + (runs < 0 ? 0 : 3 * runs)
  }
}

/** What an accepted send returns, from the numbers it left in the register. */
function output(st) {
  const seq = register[0]
  const partition = register[1]
  const id = register[2]
  let b = st.open[partition]
  if (b === undefined || b.id !== id) {
    // the batch's first send: its sequence number is the batch's ticket
    b = new Batch(st, seq, partition, id)
    st.open[partition] = b
    st.pending.push(b)
  }
  return new ProduceOutput(b, b.count++)
}

// Hands the addon what it calls (the error class, the metadata builder, the send hooks) and the
// register; it returns the fast functions.
const [sendFast, sendToFast, sendAllFast, sendAllListFast, sendNow] = native.__setup([
  HeadwaterError,
  recordMetadata,
  kNative,
  register,
  (id, topic, eager) => new ProducerState(id, topic, eager),
  settle,
  output,
])

/** The pending result of one `send`: a thenable of its `RecordMetadata` (see above). */
class ProduceOutput {
  #batch
  #index
  constructor(batch, index) {
    this.#batch = batch
    this.#index = index
  }

  then(onFulfilled, onRejected) {
    const b = this.#batch
    if (!b.urged) urgeBatch(b)
    return thenOf(b, this.#index, onFulfilled, onRejected)
  }

  catch(onRejected) {
    const b = this.#batch
    return waitable(thenOf(b, this.#index, undefined, onRejected), b)
  }

  finally(onFinally) {
    const b = this.#batch
    return waitable(promiseFinally.call(thenOf(b, this.#index), onFinally), b)
  }

  get [Symbol.toStringTag]() {
    return 'ProduceOutput'
  }
}

// The promise of a `sendAll`, and what `catch`/`finally` return, is a native promise with one more
// prototype in its chain, whose `constructor` getter first queues what it waits on for `sendNow` (a
// `sendAll`'s ticket, or a send's batch) and then answers `Promise`, as a plain promise's does.
// Every way of waiting reads `constructor` once it sees the unusual prototype: `await` and
// `Promise.resolve`/`all`/`race`/`allSettled`/`any` (PromiseResolve), and `then`
// (SpeciesConstructor); with `Promise` as the answer, V8 then takes the path of a plain promise (no
// wrapper promise, no extra tick). `catch` and `finally` only attach handlers: they do not send, and
// the promise they return carries the same thing on.
const kTicket = Symbol('headwater.ticket')
const promiseCatch = Promise.prototype.catch
const promiseFinally = Promise.prototype.finally
const setPrototypeOf = Object.setPrototypeOf
let attaching = false

const sendPromiseProto = Object.create(Promise.prototype, {
  constructor: {
    get() {
      const t = this[kTicket]
      if (t !== undefined && t !== 0 && !attaching) {
        if (typeof t === 'number') {
          urge(t)
          try {
            this[kTicket] = 0 // later waiters skip the queue (the addon ignores repeats anyway)
          } catch {
            // a frozen promise: keep it waitable
          }
        } else if (!t.urged) {
          urgeBatch(t)
        }
      }
      return Promise
    },
    configurable: true,
  },
  catch: {
    value: function (onRejected) {
      return attach(this, promiseCatch, onRejected)
    },
    writable: true,
    configurable: true,
  },
  finally: {
    value: function (onFinally) {
      return attach(this, promiseFinally, onFinally)
    },
    writable: true,
    configurable: true,
  },
})

let urged = 0
let urgedBatches = 0

function scheduleSend() {
  if (urged === 0 && urgedBatches === 0) queueMicrotask(sendUrged)
}

/** Queues `sendAll` ticket `t` for `sendNow`, called once the running job and microtasks queued
 * before are done. */
function urge(t) {
  scheduleSend()
  register[RETURNED + urged++] = t
  if (urged === URGE_MAX) sendUrged()
}

/** Queues batch `b` for `sendNow`, like `urge`. */
function urgeBatch(b) {
  b.urged = true
  scheduleSend()
  const i = BATCHES + 3 * urgedBatches++
  register[i] = b.st.id
  register[i + 1] = b.partition
  register[i + 2] = b.id
  if (urgedBatches === URGE_MAX) sendUrged()
}

function sendUrged() {
  const n = urged
  const m = urgedBatches
  urged = 0
  urgedBatches = 0
  if (n !== 0 || m !== 0) sendNow(n, m)
}

/** Makes native promise `p` wait on `t` (a `sendAll` ticket, 0: none, or a send's batch). */
function waitable(p, t) {
  if (t !== 0) {
    setPrototypeOf(p, sendPromiseProto)
    p[kTicket] = t
  }
  return p
}

/** `p.catch(f)` / `p.finally(f)` without sending what `p` waits on; what they return carries it on. */
function attach(p, method, f) {
  attaching = true
  let d
  try {
    d = method.call(p, f)
  } finally {
    attaching = false
  }
  const t = p[kTicket]
  return t === undefined ? d : waitable(d, t)
}

const sendMethod = Producer.prototype.send
Producer.prototype.send = function send(key, value, options) {
  const st = this == null ? undefined : this[kNative]
  if (st === undefined) return sendMethod.call(this, key, value, options)
  const r = sendFast(st.id, key, value, options)
  return r === undefined ? output(st) : r
}

const sendToMethod = Producer.prototype.sendTo
Producer.prototype.sendTo = function sendTo(partition, key, value, options) {
  const st = this == null ? undefined : this[kNative]
  if (st === undefined) return sendToMethod.call(this, partition, key, value, options)
  const r = sendToFast(st.id, partition, key, value, options)
  return r === undefined ? output(st) : r
}

const PACK_LIMIT = 1 << 30
const sendAllMethod = Producer.prototype.sendAll
// An array of `[key, value]` pairs of Uint8Arrays (Buffers), keys possibly null/undefined, is packed
// into one buffer of values and one of keys, so the addon reads it with no call per record; any other
// input (strings, options, anything invalid) goes to `sendAllList`, which checks and converts it the
// way the method does.
Producer.prototype.sendAll = function sendAll(records) {
  const st = this == null ? undefined : this[kNative]
  if (st === undefined) return sendAllMethod.call(this, records)
  const p = sendAllPacked(st.id, records)
  return waitable(p, register[0])
}

function sendAllPacked(id, records) {
  if (!Array.isArray(records) || records.length === 0) return sendAllListFast(id, records)
  const n = records.length
  const ks = new Array(n)
  const vs = new Array(n)
  let valueBytes = 0
  let keyBytes = 0
  let keyed = false
  for (let i = 0; i < n; i++) {
    const r = records[i]
    if (!Array.isArray(r) || r.length !== 2) return sendAllListFast(id, records)
    const k = r[0]
    const v = r[1]
    if (!(v instanceof Uint8Array)) return sendAllListFast(id, records)
    valueBytes += v.length
    if (k !== null && k !== undefined) {
      if (!(k instanceof Uint8Array)) return sendAllListFast(id, records)
      keyBytes += k.length
      keyed = true
    }
    ks[i] = k
    vs[i] = v
  }
  if (valueBytes > PACK_LIMIT || keyBytes > PACK_LIMIT) return sendAllListFast(id, records)
  const values = new Uint8Array(valueBytes)
  const valueLengths = new Uint32Array(n)
  const keys = keyed ? new Uint8Array(keyBytes) : null
  const keyLengths = keyed ? new Int32Array(n) : null
  let vo = 0
  let ko = 0
  for (let i = 0; i < n; i++) {
    const v = vs[i]
    values.set(v, vo)
    vo += v.length
    valueLengths[i] = v.length
    if (keyed) {
      const k = ks[i]
      if (k === null || k === undefined) {
        keyLengths[i] = -1
      } else {
        keys.set(k, ko)
        ko += k.length
        keyLengths[i] = k.length
      }
    }
  }
  return sendAllFast(id, values, valueLengths, keys, keyLengths)
}

if (typeof Symbol.asyncDispose === 'symbol') {
  Producer.prototype[Symbol.asyncDispose] = function () {
    return this.close()
  }
  TestBroker.prototype[Symbol.asyncDispose] = function () {
    return this.stop()
  }
}

module.exports = { Producer, TestBroker, Admin, HeadwaterError, setLogger }
