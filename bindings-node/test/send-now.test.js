'use strict'
// Awaiting a send sends its batch at once (issue 19): the open batch holding an awaited record is sealed
// and sent without waiting out lingerMs; records nobody waits on still linger and batch. Counted on the
// broker (produce requests), with a linger far longer than any test, so nothing is sent by the timer.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { hw, topicName } = require('./helpers')
const { Producer, TestBroker } = hw

// Generous: completion is what is asserted, not speed.
const BOUND = { timeout: 60000 }
const LONG = { lingerMs: 600000, deliveryTimeoutMs: 900000 }

let broker
before(async () => {
  broker = await TestBroker.start({ spus: 1 })
})
after(async () => {
  await broker.stop()
})

async function setup(partitions = 1, config = {}) {
  const t = topicName('now')
  await broker.createTopic(t, { partitions })
  const p = await Producer.connect(broker.endpoint, t, { ...LONG, ...config })
  return { t, p }
}

const requests = () => broker.stats().produceRequests
const tick = (ms) => new Promise((r) => setTimeout(r, ms))

describe('awaiting a send sends its batch now', () => {
  it('a loop of awaited sends: one produce request per record, offsets in order', BOUND, async () => {
    const { t, p } = await setup()
    const r0 = requests()
    const offsets = []
    for (let i = 0; i < 20; i++) {
      const m = await p.send('k', 'v')
      offsets.push(m.offset)
    }
    assert.deepEqual(offsets, [...Array(20).keys()])
    assert.equal(requests() - r0, 20)
    await p.close()
    assert.equal(broker.records(t, 0).length, 20)
  })

  it('.then style: each then sends its record', BOUND, async () => {
    const { t, p } = await setup()
    const r0 = requests()
    const offsets = await new Promise((resolve, reject) => {
      const seen = []
      const next = () =>
        p.send('k', 'v').then((m) => {
          seen.push(m.offset)
          if (seen.length === 20) resolve(seen)
          else next()
        }, reject)
      next()
    })
    assert.deepEqual(offsets, [...Array(20).keys()])
    assert.equal(requests() - r0, 20)
    await p.close()
    assert.equal(broker.records(t, 0).length, 20)
  })

  it('fire-and-forget sends still batch: 10,000 sends, then flush, take a handful of requests', BOUND, async () => {
    const { t, p } = await setup()
    const r0 = requests()
    for (let i = 0; i < 10000; i++) p.send('k', 'v')
    await p.flush()
    const n = requests() - r0
    assert.ok(n >= 1 && n <= 15, `produce requests: ${n}`)
    await p.close()
    assert.equal(broker.records(t, 0).length, 10000)
  })

  it('Promise.all over sends issued first: one request for the whole batch', BOUND, async () => {
    const { t, p } = await setup()
    const r0 = requests()
    const outs = []
    for (let i = 0; i < 500; i++) outs.push(p.send('k', `v${i}`))
    const metas = await Promise.all(outs)
    assert.deepEqual(metas.map((m) => m.offset), [...Array(500).keys()])
    assert.equal(requests() - r0, 1)
    await p.close()
    assert.equal(broker.records(t, 0).length, 500)
  })

  it('awaiting sendAll sends the batches of its records', BOUND, async () => {
    const { p } = await setup(2)
    const r0 = requests()
    const recs = Array.from({ length: 50 }, (_, i) => [null, `v${i}`])
    const metas = await p.sendAll(recs)
    assert.equal(metas.length, 50)
    assert.deepEqual(new Set(metas.map((m) => m.partition)), new Set([0, 1]))
    // the packed path (Buffers) too
    const more = await p.sendAll([[Buffer.from('k'), Buffer.from('v')]])
    assert.equal(more.length, 1)
    assert.ok(requests() - r0 >= 2)
    await p.close()
  })

  it('only the awaited record\'s batch: other partitions keep lingering', BOUND, async () => {
    const { p } = await setup(2)
    const a = p.send(null, 'a', { partition: 0 })
    let bDone = false
    const b = p.send(null, 'b', { partition: 1 }).finally(() => {
      bDone = true
    })
    const r0 = requests()
    assert.equal((await a).partition, 0)
    assert.equal(requests() - r0, 1)
    await tick(200)
    assert.equal(bDone, false)
    assert.equal(requests() - r0, 1)
    await p.flush()
    assert.equal((await b).partition, 1)
    await p.close()
  })

  it('a record whose batch is already on its way leaves the next open batch alone', BOUND, async () => {
    const { t, p } = await setup()
    const [spu] = broker.spuIds()
    broker.pauseSpu(spu)
    let c
    let cDone = false
    const r0 = requests()
    try {
      const a = p.send(null, 'a')
      const a2 = p.send(null, 'a2') // same batch as `a`
      a.then(() => {}) // sends that batch (held by the paused SPU)
      for (let i = 0; i < 500 && p.stats().batchesSent === 0; i++) await tick(10)
      c = p.send(null, 'c').finally(() => {
        cDone = true
      }) // a new batch
      a2.then(() => {}) // its batch is already sealed: nothing else is sent
      a.then(() => {})
      broker.resumeSpu(spu)
      const [ma, ma2] = await Promise.all([a, a2])
      assert.deepEqual([ma.offset, ma2.offset], [0, 1])
    } finally {
      broker.resumeSpu(spu)
    }
    await tick(200)
    assert.equal(cDone, false, 'the batch of c is still lingering')
    assert.equal(requests() - r0, 1)
    await p.flush()
    assert.equal((await c).offset, 2)
    await p.close()
    assert.deepEqual(broker.records(t, 0).map((r) => r.value.toString()), ['a', 'a2', 'c'])
  })

  it('catch and finally only attach handlers; awaiting what they return sends the batch', BOUND, async () => {
    const { p } = await setup()
    const r0 = requests()
    const caught = p.send(null, 'x').catch(() => 'failed')
    const fin = p.send(null, 'y').finally(() => {})
    await tick(200)
    assert.equal(requests() - r0, 0, 'catch/finally alone send nothing')
    assert.equal((await caught).offset, 0)
    assert.equal(requests() - r0, 1)
    assert.equal((await fin).offset, 1)
    await p.close()
  })

  it('a send is a thenable: Promise.resolve, allSettled, race, repeated waits', BOUND, async () => {
    const { p } = await setup()
    const s = p.send(null, 'x')
    assert.ok(!(s instanceof Promise))
    assert.equal(typeof s.then, 'function')
    assert.equal(Object.prototype.toString.call(s), '[object ProduceOutput]')
    assert.equal((await Promise.resolve(s)).offset, 0)
    const [r] = await Promise.allSettled([p.send(null, 'y')])
    assert.equal(r.status, 'fulfilled')
    assert.equal(r.value.offset, 1)
    assert.equal((await Promise.race([p.send(null, 'z')])).offset, 2)
    // promises derived from it are plain promises
    const d = s.then((m) => m.offset)
    assert.equal(Object.getPrototypeOf(d), Promise.prototype)
    assert.equal(await d, 0)
    // waited on again once settled, and a throwing handler rejects what then returned, whether it
    // was attached before or after the batch settled
    assert.equal((await s).offset, 0)
    await assert.rejects(
      s.then(() => {
        throw new Error('handler')
      }),
      /handler/,
    )
    const early = p.send(null, 'e').then(() => {
      throw new Error('early handler')
    })
    await assert.rejects(early, /early handler/)
    // a handler's returned thenable is followed
    assert.equal(await s.then(() => p.send(null, 'n')).then((m) => m.offset), 4)
    // a frozen one can still be awaited
    const frozen = Object.freeze(p.send(null, 'f'))
    assert.equal((await frozen).offset, 5)
    await p.close()
  })

  it('a settled batch answers later waits with each record\'s own offset and timestamp', BOUND, async () => {
    const { t, p } = await setup(2)
    const outs = []
    for (let i = 0; i < 300; i++) outs.push(p.send(null, `v${i}`, { timestamp: 1000 + (i % 7) }))
    outs.push(p.sendTo(1, null, 'last'))
    await p.flush()
    const metas = []
    for (const o of outs) metas.push(await o)
    for (const part of [0, 1]) {
      const stored = broker.records(t, part)
      const mine = metas.filter((m) => m.partition === part)
      assert.deepEqual(mine.map((m) => m.offset), [...stored.keys()])
      assert.deepEqual(
        mine.map((m) => m.timestamp),
        stored.map((r) => r.timestamp),
      )
    }
    assert.deepEqual(metas.slice(0, 300).map((m) => m.timestamp), outs.slice(0, 300).map((_, i) => 1000 + (i % 7)))
    await p.close()
  })

  it('delivery failures: an awaited send rejects, an unawaited one goes to the handler', BOUND, async () => {
    const { p } = await setup()
    const seen = []
    p.setErrorHandler((e) => seen.push(e.code))
    broker.failNext(0, 1, 56) // storage error: fails the batch
    const lost = p.send(null, 'lost') // same batch as the awaited one
    await assert.rejects(p.send(null, 'lost too'), (e) => e.code === 'BROKER' && e.brokerCode === 56)
    await assert.rejects(p.flush(), (e) => e.code === 'BROKER')
    assert.deepEqual(seen, ['BROKER', 'BROKER'])
    await assert.rejects(lost, (e) => e.code === 'BROKER')
    assert.equal((await p.send(null, 'kept')).offset, 0)
    await p.close()
  })
})
