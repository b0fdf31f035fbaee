'use strict'
// tests/vectors/scenarios.json through the Node API: an interpreter of its ops, one test per
// scenario, running every step meant for Node (no `languages`, or `languages` naming node) against
// the embedded broker. Keys are camelCased, as a Node user writes them.
const { describe, it, after } = require('node:test')
const assert = require('node:assert/strict')
const { hw, vectors } = require('./helpers')
const { Producer, TestBroker, Admin, HeadwaterError, setLogger } = hw

const suite = vectors('scenarios.json')

const camel = (k) => k.replace(/_([a-z])/g, (_, c) => c.toUpperCase())
const camelKeys = (o) => (o ? Object.fromEntries(Object.entries(o).map(([k, v]) => [camel(k), v])) : o)

/** A key or value of a step (`<name>`, `<name>_hex`, `<name>_fill`, `<name>_json`); `undefined` when
 * the step gives none. */
function bytes(step, name) {
  if (`${name}_json` in step) return step[`${name}_json`]
  if (`${name}_hex` in step) return Buffer.from(step[`${name}_hex`], 'hex')
  if (`${name}_fill` in step) {
    const f = step[`${name}_fill`]
    return Buffer.alloc(f.len, parseInt(f.byte_hex, 16))
  }
  return step[name] === null || step[name] === undefined ? step[name] : Buffer.from(step[name], 'utf8')
}

function checkError(e, spec, where) {
  assert.ok(e instanceof HeadwaterError, `${where}: expected a HeadwaterError ${spec.code}, got ${e && e.stack}`)
  assert.equal(e.code, spec.code, `${where}: ${e.message}`)
  assert.ok(e.message.startsWith(`[${spec.code}`), `${where}: core's Display: ${e.message}`)
  if ('retriable' in spec) assert.equal(e.retriable, spec.retriable, `${where}: retriable`)
  if ('broker_code' in spec) assert.equal(e.brokerCode, spec.broker_code, `${where}: brokerCode`)
  for (const m of spec.message_contains || []) assert.ok(e.message.includes(m), `${where}: "${m}" in ${e.message}`)
  if (spec.message_names_key) {
    const k = camel(spec.message_names_key)
    assert.ok(e.message.includes(k), `${where}: the message names \`${k}\`: ${e.message}`)
  }
}

function checkFields(actual, expected, where) {
  for (const [k, v] of Object.entries(expected)) assert.deepEqual(actual[camel(k)], v, `${where}: ${k}`)
}

function checkStored(records, expected, where) {
  assert.equal(records.length, expected.length, `${where}: ${records.length} records stored`)
  expected.forEach((x, i) => {
    const r = records[i]
    assert.equal(r.offset, x.offset, `${where}: offset of #${i}`)
    if ('key_hex' in x) assert.equal(r.key && r.key.toString('hex'), x.key_hex, `${where}: key of #${i}`)
    else if (x.key === null || x.key === undefined) assert.equal(r.key, null, `${where}: #${i} has no key`)
    else assert.equal(r.key && r.key.toString('utf8'), x.key, `${where}: key of #${i}`)
    if ('value_hex' in x) assert.equal(r.value.toString('hex'), x.value_hex, `${where}: value of #${i}`)
    else assert.equal(r.value.toString('utf8'), x.value, `${where}: value of #${i}`)
  })
}

/** `p` or a failure if it is not settled within `ms` (a hang guard, not a timing assertion). */
function within(p, ms, where) {
  if (!ms) return p
  let timer
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${where}: not done within ${ms} ms`)), ms)
  })
  return Promise.race([p, late]).finally(() => clearTimeout(timer))
}

const timeout = (step) => ('timeout_ms' in step ? { timeoutMs: step.timeout_ms } : undefined)

/** One scenario's state and its ops (scenarios.json `ops`). */
class Runner {
  constructor() {
    this.broker = null
    this.producer = null
    this.admin = null
    this.outputs = new Map()
    this.logger = false
  }

  /** What a step calls: a promise for async calls; sends return the send's promise unawaited. */
  call(step) {
    const b = this.broker
    const p = this.producer
    switch (step.op) {
      case 'start_broker':
        return TestBroker.start(camelKeys(step.options)).then((x) => (this.broker = x))
      case 'stop_broker':
        this.broker = null
        return b.stop()
      case 'create_topic':
        return b.createTopic(step.name, camelKeys(step.options))
      case 'read_back':
        return b.records(step.topic, step.partition, step.from_offset ?? 0)
      case 'broker_pause':
        return b.pause()
      case 'broker_resume':
        return b.resume()
      case 'broker_fail_next':
        return b.failNext(step.api_key, step.count, step.code)
      case 'connect':
        return this.closeProducer().then(() =>
          Producer.connect(b.endpoint, step.topic, camelKeys(step.config)).then((x) => (this.producer = x)),
        )
      case 'producer_state':
        return { topic: p.topic, partitionCount: p.partitionCount, compression: p.compression, closed: p.isClosed }
      case 'send':
        return p.send(bytes(step, 'key'), bytes(step, 'value'))
      case 'send_to':
        return p.sendTo(step.partition, bytes(step, 'key'), bytes(step, 'value'))
      case 'send_all':
        return p.sendAll(step.records.map((r) => [bytes(r, 'key'), bytes(r, 'value')]))
      case 'wait':
        return this.output(step.output)
      case 'wait_all':
        return this.output(step.outputs)
      case 'flush':
        return p.flush(timeout(step))
      case 'close':
        return p.close(timeout(step))
      case 'stats':
        return p.stats()
      case 'admin_connect':
        return Admin.connect(b.endpoint).then((a) => (this.admin = a))
      case 'admin_create_topic':
        return this.admin.createTopic(step.name, camelKeys(step.options))
      case 'admin_delete_topic':
        return this.admin.deleteTopic(step.name)
      case 'admin_list_topics':
        return this.admin.listTopics()
      case 'set_log_level':
        this.logger = true
        return setLogger(() => {}, step.level)
      default:
        throw new Error(`unknown op ${step.op}`)
    }
  }

  output(name) {
    assert.ok(this.outputs.has(name), `no output named ${name}`)
    return this.outputs.get(name)
  }

  async step(step, where) {
    let result
    let error
    try {
      const r = this.call(step)
      // A send's promise is its output: kept unawaited under `as`, awaited only to see its outcome.
      if (step.as) this.outputs.set(step.as, r)
      result = step.as && !step.expect_error ? r : await within(Promise.resolve(r), step.within_ms, where)
    } catch (e) {
      error = e
    }
    if (step.expect_error) {
      assert.ok(error, `${where}: expected ${step.expect_error.code}, got ${JSON.stringify(result)}`)
      return checkError(error, step.expect_error, where)
    }
    if (error) throw error
    const expect = step.expect
    if (step.op === 'read_back') return checkStored(result, expect, where)
    if (step.op === 'wait_all') {
      assert.equal(result.length, expect.length, `${where}: one RecordMetadata per record`)
      return expect.forEach((x, i) => checkFields(result[i], x, `${where} #${i}`))
    }
    if (step.op === 'admin_list_topics') {
      for (const x of step.expect_contains || []) {
        const match = result.some((t) => Object.entries(x).every(([k, v]) => t[camel(k)] === v))
        assert.ok(match, `${where}: a topic matching ${JSON.stringify(x)} in ${JSON.stringify(result)}`)
      }
      for (const n of step.expect_absent || []) assert.ok(!result.some((t) => t.name === n), `${where}: ${n} is not listed`)
      return
    }
    if (expect && expect !== 'ok') checkFields(result, expect, where)
    for (const [k, v] of Object.entries(step.expect_at_least || {})) {
      assert.ok(result[camel(k)] >= v, `${where}: ${k} ${result[camel(k)]} >= ${v}`)
    }
  }

  async closeProducer() {
    const p = this.producer
    this.producer = null
    if (p) await p.close().catch(() => {})
  }

  async cleanup() {
    await this.closeProducer()
    if (this.broker) await this.broker.stop().catch(() => {})
    if (this.logger) setLogger(null)
  }
}

const forNode = (step) => !step.languages || step.languages.includes('node')

describe('scenarios.json', () => {
  after(() => setLogger(null))
  for (const sc of suite.scenarios) {
    it(sc.name, { timeout: 180000 }, async () => {
      const run = new Runner()
      try {
        for (const [i, step] of sc.steps.entries()) {
          if (forNode(step)) await run.step(step, `${sc.name} step ${i} (${step.op})`)
        }
      } finally {
        await run.cleanup()
      }
    })
  }
})
