'use strict'
// Loads the native addon (built by `napi build`) and adds what is JavaScript by nature:
// the `HeadwaterError` class, the bulk `RecordMetadata` builder and `Symbol.asyncDispose`.

const { join } = require('node:path')

function loadNative() {
  const { platform, arch } = process
  const names = []
  if (platform === 'linux' && arch === 'x64') {
    names.push('headwater.linux-x64-gnu.node')
  } else {
    names.push(`headwater.${platform}-${arch}.node`)
  }
  const errors = []
  for (const name of names) {
    try {
      return require(join(__dirname, name))
    } catch (e) {
      errors.push(`${name}: ${e.message}`)
    }
  }
  throw new Error(
    `headwater: no native binary for ${platform}-${arch} in this package (${errors.join('; ')}). ` +
      'This package ships linux-x64 (glibc); build from source with `make -C bindings-node build`.',
  )
}

const native = loadNative()

/** Every failure of the core: `.code` is stable ('CONFIG', 'QUEUE_FULL', ...), `.retriable` says whether a retry may help. */
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
// (a no-op rejection handler) right before rejecting it, and reports the failure to the error handler
// and to the next flush()/close(); a caller who awaits the promise still sees the rejection.

// `send` and `sendAll` are the hot paths: each producer carries an id under this symbol, and the fast
// functions are plain Node-API functions, cheaper per call than the class methods (same checks, same
// behaviour; anything unusual goes through the methods).
const kNative = Symbol('headwater.native')
const [sendFast, sendAllFast] = native.__fastFunctions(kNative)
const sendMethod = Producer.prototype.send
Producer.prototype.send = function send(key, value, options) {
  const id = this == null ? undefined : this[kNative]
  return id === undefined ? sendMethod.call(this, key, value, options) : sendFast(id, key, value, options)
}

const PACK_LIMIT = 1 << 30
const sendAllMethod = Producer.prototype.sendAll
// An array of `[key, value]` pairs of Uint8Arrays (Buffers), keys possibly null/undefined, is packed
// into one buffer of values and one of keys, so the addon reads it with no call per record; any other
// input (strings, options, anything invalid) goes to the method, which checks and converts it.
Producer.prototype.sendAll = function sendAll(records) {
  const id = this == null ? undefined : this[kNative]
  if (id === undefined || !Array.isArray(records) || records.length === 0) {
    return sendAllMethod.call(this, records)
  }
  const n = records.length
  const ks = new Array(n)
  const vs = new Array(n)
  let valueBytes = 0
  let keyBytes = 0
  let keyed = false
  for (let i = 0; i < n; i++) {
    const r = records[i]
    if (!Array.isArray(r) || r.length !== 2) return sendAllMethod.call(this, records)
    const k = r[0]
    const v = r[1]
    if (!(v instanceof Uint8Array)) return sendAllMethod.call(this, records)
    valueBytes += v.length
    if (k !== null && k !== undefined) {
      if (!(k instanceof Uint8Array)) return sendAllMethod.call(this, records)
      keyBytes += k.length
      keyed = true
    }
    ks[i] = k
    vs[i] = v
  }
  if (valueBytes > PACK_LIMIT || keyBytes > PACK_LIMIT) return sendAllMethod.call(this, records)
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
