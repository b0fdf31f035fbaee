'use strict'
// tests/vectors/*.json through the Node API (config, errors, partitioner, stats).
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { hw, NATIVE, vectors, topicName } = require('./helpers')
const { Producer, TestBroker, HeadwaterError } = hw
const raw = require(NATIVE)

const config = vectors('config.json')
const errors = vectors('errors.json')
const partitioner = vectors('partitioner.json')

let broker
let topic
before(async () => {
  broker = await TestBroker.start({ spus: 1 })
  topic = topicName('cfg')
  await broker.createTopic(topic, { partitions: 2 })
})
after(async () => {
  await broker.stop()
})

function isConfigError(e, c) {
  assert.ok(e instanceof HeadwaterError, `expected HeadwaterError, got ${e}`)
  assert.equal(e.code, 'CONFIG')
  assert.equal(e.retriable, false)
  if (c) assert.ok(e.message.includes(c.key) || e.message.includes(c.camel), `message names the key: ${e.message}`)
  return true
}

describe('config.json', () => {
  for (const c of config.cases) {
    it(`${c.camel}: every valid input is accepted (as a string, and as a number or boolean where it is one)`, async () => {
      for (const v of c.valid) {
        const forms = [v.input]
        if (typeof v.value === 'number') forms.push(Number(v.input))
        if (c.type === 'bool') forms.push(v.input === 'true')
        for (const input of forms) {
          const p = await Producer.connect(broker.endpoint, topic, { [c.camel]: input })
          await p.close()
        }
      }
    })
    it(`${c.camel}: every invalid input rejects with CONFIG naming the key`, async () => {
      for (const input of c.invalid) {
        await assert.rejects(Producer.connect(broker.endpoint, topic, { [c.camel]: input }), (e) => isConfigError(e, c))
        const n = Number(input)
        const numeric = c.type !== 'string' && c.type !== 'enum'
        const bad = !Number.isInteger(n) || n < c.min || (c.max !== null && n > c.max) || n >= 2 ** 64
        if (numeric && input.trim() !== '' && !Number.isNaN(n) && bad) {
          await assert.rejects(Producer.connect(broker.endpoint, topic, { [c.camel]: n }), (e) => isConfigError(e, c))
        }
      }
    })
  }
  it('unknown keys reject with CONFIG naming the key', async () => {
    for (const k of config.unknown_keys) {
      await assert.rejects(Producer.connect(broker.endpoint, topic, { [k]: '1' }), (e) => isConfigError(e) && e.message.includes(k))
    }
  })
  it('stats() exposes exactly the camelCase fields, all non-negative integers', async () => {
    const p = await Producer.connect(broker.endpoint, topic, { lingerMs: 0 })
    await p.send('k', 'v')
    const s = p.stats()
    assert.deepEqual(Object.keys(s).sort(), [...config.stats.camel].sort())
    for (const f of config.stats.camel) assert.ok(Number.isInteger(s[f]) && s[f] >= 0, f)
    assert.equal(s.recordsSent, 1)
    assert.equal(s.recordsAcked, 1)
    await p.close()
  })
})

describe('errors.json', () => {
  for (const c of errors.cases) {
    if (!c.languages.node) continue
    it(`${c.kind} maps to HeadwaterError code ${c.code}`, () => {
      const e = raw.__errorForTests(c.code)
      assert.ok(e instanceof HeadwaterError)
      assert.ok(e instanceof Error)
      assert.equal(e.code, c.code)
      assert.equal(e.number, c.number)
      // the message is core's Display (a broker error's carries its Fluvio code: -1 here)
      if (c.code === 'BROKER') assert.equal(e.message, '[BROKER -1 UnknownServerError] test')
      else assert.equal(e.message, `[${c.code}] test`)
      if (c.retriable !== null) assert.equal(e.retriable, c.retriable)
      if (c.code !== 'BROKER') assert.equal(e.brokerCode, undefined)
    })
  }
  it('every Fluvio error code maps to its code and retriability', () => {
    for (const f of errors.fluvio_codes) {
      if (f.maps_to === null) continue
      const e = raw.__errorForTests('', f.code)
      assert.equal(e.code, f.maps_to, `code ${f.code} ${f.name}`)
      assert.equal(e.retriable, f.retriable, `code ${f.code} ${f.name} retriable`)
      if (f.maps_to === 'BROKER') {
        assert.equal(e.brokerCode, f.code)
        assert.ok(e.message.startsWith(`[BROKER ${f.code} `), e.message)
      }
    }
  })
  it('Forked does not apply to Node', () => {
    assert.equal(errors.cases.find((c) => c.kind === 'Forked').languages.node, false)
  })
})

describe('partitioner.json (records land in the expected partitions on the broker)', () => {
  const counts = [...new Set(partitioner.cases.map((c) => c.partition_count))].filter((n) => n <= 100)
  for (const count of counts) {
    it(`keyed records, ${count} partitions`, async () => {
      const t = topicName(`part${count}`)
      await broker.createTopic(t, { partitions: count })
      const p = await Producer.connect(broker.endpoint, t, { lingerMs: 0 })
      const cases = partitioner.cases.filter((c) => c.partition_count === count)
      const metas = await Promise.all(cases.map((c) => p.send(Buffer.from(c.key_hex, 'hex'), `v-${c.key_hex}`)))
      await p.close()
      cases.forEach((c, i) => assert.equal(metas[i].partition, c.partition, `key ${c.key_hex}`))
      for (const c of cases) {
        const stored = broker.records(t, c.partition).filter((r) => r.value.toString() === `v-${c.key_hex}`)
        assert.equal(stored.length, 1, `key ${c.key_hex} stored in partition ${c.partition}`)
        assert.deepEqual(stored[0].key, Buffer.from(c.key_hex, 'hex'))
      }
    })
  }
  it('partition counts above 100 are checked by the core runner only (no topic that large here)', { skip: 'needs topics of 1000+ partitions' }, () => {})
  for (const seq of partitioner.keyless_sequences) {
    it(`keyless records from a fresh producer, ${seq.partition_count} partitions`, async () => {
      const t = topicName(`keyless${seq.partition_count}`)
      await broker.createTopic(t, { partitions: seq.partition_count })
      const p = await Producer.connect(broker.endpoint, t, { lingerMs: 0 })
      const metas = await Promise.all(seq.expected.map((_, i) => p.send(null, `r${i}`)))
      await p.close()
      assert.deepEqual(metas.map((m) => m.partition), seq.expected)
      seq.expected.forEach((part, i) => {
        const r = broker.records(t, part).find((x) => x.value.toString() === `r${i}`)
        assert.ok(r, `r${i} in partition ${part}`)
        assert.equal(r.key, null)
      })
    })
  }
})
