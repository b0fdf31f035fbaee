'use strict'
// Loads the native addon (built by `napi build`) and adds what is JavaScript by nature:
// the `HeadwaterError` class, the bulk `RecordMetadata` builder, `Symbol.asyncDispose`, and the fast
// `send`/`sendAll` whose promises send their batch when awaited.

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
native.__setErrorClass(HeadwaterError)

// Builds the `RecordMetadata` objects of many records at once (called by the addon with the topic and
// [partition, offset, timestamp] triples): one call per batch of results instead of one object built
// property by property through Node-API per record.
native.__setMetadataFactory(function recordMetadata(topic, v) {
  const out = []
  for (let j = 0; j < v.length; j += 3) {
    out.push({ topic, partition: v[j], offset: v[j + 1], timestamp: v[j + 2] })
  }
  return out
})

const { Producer, TestBroker, Admin, setLogger } = native

// A send nobody awaits never becomes an unhandled rejection: the addon marks a send's promise handled
// (a no-op rejection handler) right before rejecting it and reports the failure to the error handler
// (a failed delivery also to the next flush()/close()); a caller who awaits the promise still sees the
// rejection.

// `send`, `sendTo` and `sendAll` are the hot paths: each producer carries an id under this symbol, and
// the fast functions are plain Node-API functions, cheaper per call than the class methods (same
// checks, same behaviour; anything unusual goes through the methods).
const kNative = Symbol('headwater.native')
// Shared with the addon: element 0 is where each fast send leaves its promise's ticket (0: none);
// elements 1..URGE_MAX queue the tickets of promises someone started waiting on, for `sendNow`.
const URGE_MAX = 4095
const register = new Float64Array(new ArrayBuffer(8 * (URGE_MAX + 1)))
const [sendFast, sendToFast, sendAllFast, sendAllListFast, sendNow] = native.__fastFunctions(kNative, register)

// Awaiting a send sends its batch now. A record's batch lingers (`lingerMs`) to collect more records,
// which is right for records nobody waits on yet, but a caller awaiting one record needs it now. The
// promise of a `send`/`sendAll` is the addon's native promise with one more prototype in its chain,
// whose `constructor` getter first queues the promise's ticket for `sendNow` (the addon seals and
// sends the open batch holding its records, once per batch; one call per microtask, whatever the
// number of promises) and then answers `Promise`, as a plain promise's does. Every way of waiting
// reads `constructor` once it sees the unusual prototype: `await` and `Promise.resolve`/`all`/`race`/
// `allSettled`/`any` (PromiseResolve), and `then` (SpeciesConstructor); with `Promise` as the answer,
// V8 then takes the path of a plain promise (no wrapper promise, no extra tick), and a `Promise.all`
// over many sends issued first still gets whole batches. `catch` and `finally` only attach handlers:
// they do not send the batch, and the promise they return carries the ticket on, so awaiting that
// one does.
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
        urge(t)
        try {
          this[kTicket] = 0 // later waiters skip the queue (the addon ignores repeats anyway)
        } catch {
          // a frozen promise: keep it waitable
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

/** Queues ticket `t` for `sendNow`, called once the running job and microtasks queued before are done. */
function urge(t) {
  if (urged === 0) queueMicrotask(sendUrged)
  register[++urged] = t
  if (urged === URGE_MAX) sendUrged()
}

function sendUrged() {
  const n = urged
  urged = 0
  if (n !== 0) sendNow(n)
}

/** Makes the addon's promise `p` of ticket `t` (0: none) a send's promise. */
function waitable(p, t) {
  if (t !== 0) {
    setPrototypeOf(p, sendPromiseProto)
    p[kTicket] = t
  }
  return p
}

/** `p.catch(f)` / `p.finally(f)` without sending `p`'s batch; what they return carries `p`'s ticket. */
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
  const id = this == null ? undefined : this[kNative]
  if (id === undefined) return sendMethod.call(this, key, value, options)
  const p = sendFast(id, key, value, options)
  return waitable(p, register[0])
}

const sendToMethod = Producer.prototype.sendTo
Producer.prototype.sendTo = function sendTo(partition, key, value, options) {
  const id = this == null ? undefined : this[kNative]
  if (id === undefined) return sendToMethod.call(this, partition, key, value, options)
  const p = sendToFast(id, partition, key, value, options)
  return waitable(p, register[0])
}

const PACK_LIMIT = 1 << 30
const sendAllMethod = Producer.prototype.sendAll
// An array of `[key, value]` pairs of Uint8Arrays (Buffers), keys possibly null/undefined, is packed
// into one buffer of values and one of keys, so the addon reads it with no call per record; any other
// input (strings, options, anything invalid) goes to `sendAllList`, which checks and converts it the
// way the method does.
Producer.prototype.sendAll = function sendAll(records) {
  const id = this == null ? undefined : this[kNative]
  if (id === undefined) return sendAllMethod.call(this, records)
  const p = sendAllPacked(id, records)
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
