'use strict'
// Loads the native addon (built by `napi build`) and adds what is JavaScript by nature:
// the `HeadwaterError` class, `Symbol.asyncDispose`, and marking send promises as handled.

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

const { Producer, TestBroker, Admin, setLogger } = native
const noop = () => {}

// A send nobody awaits must never become an unhandled rejection: the failure goes to the error
// handler and to the next flush()/close(). Attaching a no-op handler marks the promise handled,
// while the caller who awaits it still sees the rejection.
const rawSend = Producer.prototype.send
Producer.prototype.send = function send(key, value, options) {
  const p = rawSend.call(this, key, value, options)
  p.catch(noop)
  return p
}
const rawSendAll = Producer.prototype.sendAll
Producer.prototype.sendAll = function sendAll(records) {
  const p = rawSendAll.call(this, records)
  p.catch(noop)
  return p
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
