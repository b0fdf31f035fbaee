'use strict'
// Fault injection per error class through the Node API (the same set as the Python binding's
// test_faults.py): the exact outcome a Node user sees, and what the broker holds afterwards.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { hw, topicName } = require('./helpers')
const { Producer, TestBroker, HeadwaterError } = hw

const PRODUCE = 0 // Fluvio API key of Produce
// A bound on every test, so a hang fails instead of stalling the run (generous: the machine is shared).
const BOUND = { timeout: 60000 }

let broker
before(async () => {
  broker = await TestBroker.start({ spus: 1 })
})
after(async () => {
  await broker.stop()
})

async function freshTopic(b = broker) {
  const t = topicName('f')
  await b.createTopic(t, { partitions: 1 })
  return t
}

function connect(b, topic, config = {}) {
  return Producer.connect(b.endpoint, topic, { lingerMs: 0, retryBackoffMs: 5, maxRetries: 3, ...config })
}

const code = (c, more = () => {}) => (e) => {
  assert.ok(e instanceof HeadwaterError, `expected HeadwaterError, got ${e && e.stack}`)
  assert.equal(e.code, c, e.message)
  more(e)
  return true
}

const values = (b, t) => b.records(t, 0).map((r) => r.value.toString())

describe('fault injection', () => {
  it('not leader (6): retried, the record is stored once', BOUND, async () => {
    const t = await freshTopic()
    const p = await connect(broker, t)
    broker.failNext(PRODUCE, 2, 6)
    const m = await p.send(null, 'x')
    assert.equal(m.offset, 0)
    assert.equal(p.stats().retries, 2)
    await p.close()
    assert.deepEqual(values(broker, t), ['x'])
  })

  it('request timed out (7): retried until maxRetries, then a retriable BROKER error', BOUND, async () => {
    const t = await freshTopic()
    const p = await connect(broker, t)
    broker.failNext(PRODUCE, 10, 7)
    await assert.rejects(
      p.send(null, 'x'),
      code('BROKER', (e) => {
        assert.equal(e.brokerCode, 7)
        assert.equal(e.retriable, true)
        assert.match(e.message, /4 attempts/)
      }),
    )
    assert.equal(p.stats().retries, 3)
    broker.failNext(PRODUCE, 0, 7)
    assert.deepEqual(broker.records(t, 0), [])
    // close() reports the failure nobody flushed
    await assert.rejects(p.close(), code('BROKER'))
  })

  it('storage error (56): non-retriable, fails only that batch', BOUND, async () => {
    const t = await freshTopic()
    const p = await connect(broker, t)
    broker.failNext(PRODUCE, 1, 56)
    await assert.rejects(
      p.send(null, 'lost'),
      code('BROKER', (e) => {
        assert.equal(e.brokerCode, 56)
        assert.equal(e.retriable, false)
      }),
    )
    assert.equal((await p.send(null, 'kept')).offset, 0)
    await assert.rejects(p.close(), code('BROKER'))
    assert.deepEqual(values(broker, t), ['kept'])
  })

  it('compression error (9000): COMPRESSION for the affected send only', BOUND, async () => {
    const t = await freshTopic()
    const p = await connect(broker, t)
    broker.failNext(PRODUCE, 1, 9000)
    await assert.rejects(p.send(null, 'a'), code('COMPRESSION', (e) => assert.equal(e.retriable, false)))
    assert.equal((await p.send('k', 'b')).offset, 0)
    await assert.rejects(p.close(), code('COMPRESSION'))
    const r = broker.records(t, 0)
    assert.deepEqual(r.map((x) => [x.offset, x.key.toString(), x.value.toString()]), [[0, 'k', 'b']])
  })

  it('unknown topic (2001): UNKNOWN_TOPIC', BOUND, async () => {
    const t = await freshTopic()
    const p = await connect(broker, t)
    broker.failNext(PRODUCE, 1, 2001)
    await assert.rejects(p.send(null, 'b'), code('UNKNOWN_TOPIC'))
    await assert.rejects(p.close(), code('UNKNOWN_TOPIC'))
    assert.deepEqual(broker.records(t, 0), [])
  })

  it('dropped connection: retried, the record lands once', BOUND, async () => {
    const t = await freshTopic()
    const p = await connect(broker, t)
    broker.dropNext(PRODUCE, 2)
    assert.equal((await p.send('k', 'after-drops')).offset, 0)
    assert.ok(p.stats().retries >= 2, `retries: ${p.stats().retries}`)
    await p.close()
    const r = broker.records(t, 0)
    assert.deepEqual(r.map((x) => [x.offset, x.key.toString(), x.value.toString()]), [[0, 'k', 'after-drops']])
  })

  it('slow broker (delay): TIMEOUT at the delivery timeout', BOUND, async () => {
    const t = await freshTopic()
    const p = await connect(broker, t, { deliveryTimeoutMs: 300 })
    broker.delay(PRODUCE, 3000)
    try {
      await assert.rejects(p.send(null, 'late'), code('TIMEOUT'))
    } finally {
      broker.delay(PRODUCE, null)
    }
    await assert.rejects(p.close(), code('TIMEOUT'))
  })

  it('stopped SPU: TIMEOUT at the delivery timeout; after startSpu the next record lands', BOUND, async () => {
    const b = await TestBroker.start({ spus: 1 })
    try {
      const t = await freshTopic(b)
      const [spu] = b.spuIds()
      assert.equal(b.leader(t, 0), spu)
      const p = await connect(b, t, { deliveryTimeoutMs: 500, maxRetries: 1000 })
      await b.stopSpu(spu)
      await assert.rejects(p.send(null, 'never'), code('TIMEOUT'))
      await assert.rejects(p.flush(), code('TIMEOUT'))
      await p.close() // the failure was reported by flush()
      await b.startSpu(spu)
      // A fresh producer (default delivery timeout, so a slow reconnect cannot fail it): the broker
      // serves again, and the timed-out record never landed.
      const q = await connect(b, t)
      assert.equal((await q.send(null, 'after')).offset, 0)
      await q.close()
      assert.deepEqual(values(b, t), ['after'])
    } finally {
      await b.stop()
    }
  })

  it('stopSpu + startSpu: acknowledged records stay, a send during the outage lands', BOUND, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hw-faults-'))
    const b = await TestBroker.start({ spus: 1, dataDir: dir })
    try {
      await b.createTopic('spu', { partitions: 1 })
      const p = await connect(b, 'spu', { maxRetries: 100, retryBackoffMs: 20 })
      assert.equal((await p.send(null, 'before')).offset, 0)
      const [spu] = b.spuIds()
      await b.stopSpu(spu)
      let settled = false
      const during = p.send(null, 'during').finally(() => {
        settled = true
      })
      await new Promise((r) => setImmediate(r))
      assert.equal(settled, false, 'nothing can acknowledge while the only SPU is stopped')
      await b.startSpu(spu)
      const m = await during
      await p.close()
      const v = values(b, 'spu')
      assert.equal(v[0], 'before')
      assert.equal(v[m.offset], 'during')
      assert.equal(b.leader('spu', 0), spu)
      assert.equal(b.highWatermark('spu', 0), v.length)
    } finally {
      await b.stop()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it('pauseSpu holds produce requests until resumeSpu', BOUND, async () => {
    const t = await freshTopic()
    const p = await connect(broker, t)
    const [spu] = broker.spuIds()
    broker.pauseSpu(spu)
    let settled = false
    const held = p.send(null, 'held').finally(() => {
      settled = true
    })
    await new Promise((r) => setImmediate(r))
    assert.equal(settled, false)
    assert.deepEqual(broker.records(t, 0), [])
    broker.resumeSpu(spu)
    assert.equal((await held).offset, 0)
    await p.close()
    assert.deepEqual(values(broker, t), ['held'])
  })

  it('stats() counts what the broker appended', BOUND, async () => {
    const t = await freshTopic()
    const s0 = broker.stats()
    const p = await connect(broker, t)
    await p.sendAll([[null, 'a'], [null, 'b'], [null, 'c']])
    await p.close()
    const s = broker.stats()
    assert.equal(s.recordsAppended - s0.recordsAppended, 3)
    assert.ok(s.produceRequests > s0.produceRequests)
    assert.deepEqual(broker.replicas(t, 0), broker.spuIds())
  })
})

describe('fault injection: bad arguments', () => {
  it('wrong types and out-of-range numbers are INVALID_ARGUMENT; nothing is injected', async () => {
    const bad = [
      () => broker.failNext('0', 1, 6),
      () => broker.failNext(0, '1', 6),
      () => broker.failNext(0, 1, '6'),
      () => broker.failNext(0, 1),
      () => broker.failNext(0, -1, 6),
      () => broker.failNext(0, 1.5, 6),
      () => broker.failNext(-1, 1, 6),
      () => broker.failNext(65536, 1, 6),
      () => broker.failNext(0, 1, 40000),
      () => broker.dropNext(0, -1),
      () => broker.dropNext(null, 1),
      () => broker.dropNext(0),
      () => broker.delay(0, -5),
      () => broker.delay(0, 'slow'),
      () => broker.delay(0, NaN),
      () => broker.delay(0, Infinity),
      () => broker.delay('produce', 10),
      () => broker.pauseSpu('5001'),
      () => broker.resumeSpu(),
      () => broker.leader(42, 0),
      () => broker.leader('t', -1),
    ]
    for (const f of bad) assert.throws(f, code('INVALID_ARGUMENT'), f.toString())
    assert.throws(() => broker.failNext(0, -1, 6), { message: '[INVALID_ARGUMENT] `count` must be in 0..=4294967295, got -1' })
    for (const f of [() => broker.stopSpu('5001'), () => broker.startSpu(1.5), () => broker.stopSpu()]) {
      await assert.rejects(f(), code('INVALID_ARGUMENT'), f.toString())
    }
    // None of the calls above injected anything: a send goes straight through.
    const t = await freshTopic()
    const p = await connect(broker, t, { maxRetries: 0 })
    assert.equal((await p.send(null, 'clean')).offset, 0)
    assert.equal(p.stats().retries, 0)
    await p.close()
  })

  it('an unknown SPU is INVALID_ARGUMENT; an unknown topic is UNKNOWN_TOPIC', async () => {
    assert.throws(() => broker.pauseSpu(1), code('INVALID_ARGUMENT'))
    assert.throws(() => broker.resumeSpu(1), code('INVALID_ARGUMENT'))
    await assert.rejects(broker.stopSpu(1), code('INVALID_ARGUMENT'))
    await assert.rejects(broker.startSpu(1), code('INVALID_ARGUMENT'))
    assert.throws(() => broker.leader('no-such-topic', 0), code('UNKNOWN_TOPIC'))
    assert.throws(() => broker.highWatermark('no-such-topic', 0), code('UNKNOWN_TOPIC'))
  })
})
