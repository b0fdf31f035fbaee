'use strict'
// The Producer through the Node API against the embedded broker: what the broker holds.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { hw, topicName } = require('./helpers')
const { Producer, TestBroker, Admin, HeadwaterError } = hw

let broker
before(async () => {
  broker = await TestBroker.start({ spus: 1 })
})
after(async () => {
  await broker.stop()
})

async function freshTopic(partitions = 1, opts = {}) {
  const t = topicName('p')
  await broker.createTopic(t, { partitions, ...opts })
  return t
}

const code = (c, brokerCode) => (e) => {
  assert.ok(e instanceof HeadwaterError, `expected HeadwaterError, got ${e && e.stack}`)
  assert.equal(e.code, c, e.message)
  assert.ok(e.message.startsWith(`[${c}`), e.message)
  if (brokerCode !== undefined) assert.equal(e.brokerCode, brokerCode)
  return true
}

describe('send', () => {
  it('keys and values: Buffer, Uint8Array, string; null/undefined = no key; empty = empty key', async () => {
    const t = await freshTopic(1)
    const p = await Producer.connect(broker.endpoint, t, { lingerMs: 0 })
    const metas = [
      await p.send(Buffer.from([1, 2]), Buffer.from([3])),
      await p.send(new Uint8Array([4, 5]), new Uint8Array([6])),
      await p.send('ключ', 'значение'),
      await p.send(null, 'no key'),
      await p.send(undefined, 'no key either'),
      await p.send('', 'empty string key'),
      await p.send(Buffer.alloc(0), Buffer.alloc(0)),
      await p.send(Buffer.from('xxabcxx').subarray(2, 5), 'sliced key'),
    ]
    assert.deepEqual(metas.map((m) => m.offset), [0, 1, 2, 3, 4, 5, 6, 7])
    for (const m of metas) {
      assert.equal(m.topic, t)
      assert.equal(m.partition, 0)
      assert.ok(Number.isInteger(m.timestamp) && m.timestamp > 0)
    }
    await p.close()
    const r = broker.records(t, 0)
    assert.deepEqual(r[0].key, Buffer.from([1, 2]))
    assert.deepEqual(r[0].value, Buffer.from([3]))
    assert.deepEqual(r[1].key, Buffer.from([4, 5]))
    assert.equal(r[2].key.toString(), 'ключ')
    assert.equal(r[2].value.toString(), 'значение')
    assert.equal(r[3].key, null)
    assert.equal(r[4].key, null)
    assert.deepEqual(r[5].key, Buffer.alloc(0))
    assert.deepEqual(r[6].key, Buffer.alloc(0))
    assert.deepEqual(r[6].value, Buffer.alloc(0))
    assert.equal(r[7].key.toString(), 'abc')
  })

  it('opts.partition and opts.timestamp', async () => {
    const t = await freshTopic(3)
    const p = await Producer.connect(broker.endpoint, t, { lingerMs: 0 })
    const m = await p.send('k', 'v', { partition: 2, timestamp: 1700000000123 })
    assert.equal(m.partition, 2)
    assert.equal(m.timestamp, 1700000000123)
    await p.close()
    const r = broker.records(t, 2)
    assert.equal(r.length, 1)
    assert.equal(r[0].timestamp, 1700000000123)
  })

  it('sendTo(partition, key, value, { timestamp }) puts the record in that partition', async () => {
    const t = await freshTopic(3)
    const p = await Producer.connect(broker.endpoint, t, { lingerMs: 10 })
    const [a, b] = await Promise.all([p.sendTo(1, 'b', 'one'), p.sendTo(2, null, 'two', { timestamp: 77 })])
    assert.deepEqual([a.partition, a.offset, b.partition, b.offset, b.timestamp], [1, 0, 2, 0, 77])
    // the method itself (not index.js's fast path) does the same
    const m = await Producer.prototype.sendTo.call(p, 0, 'k', 'zero')
    assert.equal(m.partition, 0)
    await p.close()
    assert.deepEqual(broker.records(t, 1).map((r) => r.value.toString()), ['one'])
    assert.deepEqual(broker.offsets(t, 2), { start: 0, end: 1 })
  })

  it('sendAll resolves to metadata in order; records on the broker', async () => {
    const t = await freshTopic(1)
    const p = await Producer.connect(broker.endpoint, t, { lingerMs: 5 })
    const metas = await p.sendAll([[null, 'a'], [Buffer.from('k'), 'b'], ['k2', 'c', { timestamp: 42 }]])
    assert.deepEqual(metas.map((m) => m.offset), [0, 1, 2])
    assert.deepEqual(await p.sendAll([]), [])
    await p.close()
    const r = broker.records(t, 0)
    assert.deepEqual(r.map((x) => x.value.toString()), ['a', 'b', 'c'])
    assert.equal(r[2].timestamp, 42)
  })

  it('RecordMetadata is a plain object; the producer shows no extra enumerable property', async () => {
    const t = await freshTopic(1)
    const p = await Producer.connect(broker.endpoint, t, { lingerMs: 0 })
    const m = await p.send(null, 'x', { timestamp: 1234 })
    assert.deepStrictEqual(m, { topic: t, partition: 0, offset: 0, timestamp: 1234 })
    assert.deepStrictEqual(Object.keys(m), ['topic', 'partition', 'offset', 'timestamp'])
    const [a] = await p.sendAll([[null, 'y', { timestamp: 5678 }]])
    assert.deepStrictEqual(a, { topic: t, partition: 0, offset: 1, timestamp: 5678 })
    assert.deepStrictEqual(Object.keys(p), [])
    assert.deepStrictEqual(JSON.parse(JSON.stringify(p)), {})
    // the method called on something that is not a producer still fails cleanly
    assert.throws(() => Producer.prototype.send.call({}, null, 'z'))
    await p.close()
  })

  it('sendAll of Buffer/Uint8Array pairs (the packed path): every key and value arrives intact', async () => {
    const t = await freshTopic(1)
    const p = await Producer.connect(broker.endpoint, t, { lingerMs: 0 })
    const recs = []
    for (let i = 0; i < 200; i++) {
      const key = [null, undefined, Buffer.alloc(0), Buffer.from(`k${i}`), new Uint8Array([i & 255, 7])][i % 5]
      const value = i % 9 === 0 ? Buffer.alloc(0) : Buffer.from('xx' + `v${i}` + 'yy').subarray(2, 2 + `v${i}`.length)
      recs.push([key, value])
    }
    const metas = await p.sendAll(recs)
    assert.deepEqual(metas.map((m) => m.offset), [...Array(200).keys()])
    // no keys at all: the packed path without a key buffer
    const more = await p.sendAll([[null, Buffer.from('a')], [undefined, new Uint8Array([98])]])
    assert.deepEqual(more.map((m) => m.offset), [200, 201])
    await p.close()
    const r = broker.records(t, 0)
    assert.equal(r.length, 202)
    for (let i = 0; i < 200; i++) {
      const [key, value] = recs[i]
      if (key === null || key === undefined) assert.equal(r[i].key, null)
      else assert.deepEqual(r[i].key, Buffer.from(key))
      assert.deepEqual(r[i].value, Buffer.from(value))
    }
    assert.equal(r[201].value.toString(), 'b')
  })

  it('results of many producers and of sends and sendAll mixed settle correctly', async () => {
    const t1 = await freshTopic(1)
    const t2 = await freshTopic(2)
    const p1 = await Producer.connect(broker.endpoint, t1, { lingerMs: 1 })
    const p2 = await Producer.connect(broker.endpoint, t2, { lingerMs: 1 })
    const ps = []
    for (let i = 0; i < 3000; i++) {
      ps.push(p1.send(null, `a${i}`))
      ps.push(p2.send(`k${i % 7}`, `b${i}`))
      if (i % 500 === 0) ps.push(p1.sendAll([[null, 'x'], [null, 'y']]))
    }
    const res = (await Promise.all(ps)).flat()
    assert.equal(res.filter((m) => m.topic === t1).length, 3000 + 12)
    assert.equal(res.filter((m) => m.topic === t2).length, 3000)
    const offsets1 = res.filter((m) => m.topic === t1).map((m) => m.offset).sort((a, b) => a - b)
    assert.deepEqual(offsets1, [...Array(3012).keys()])
    await p1.close()
    await p2.close()
  })

  it('pipelined sends (collect the promises, then Promise.all) all land, in order', async () => {
    const t = await freshTopic(1)
    const p = await Producer.connect(broker.endpoint, t, { lingerMs: 10 })
    const n = 5000
    const ps = []
    for (let i = 0; i < n; i++) ps.push(p.send(null, `v${i}`))
    const metas = await Promise.all(ps)
    assert.deepEqual(metas.map((m) => m.offset), [...Array(n).keys()])
    await p.close()
    const r = broker.records(t, 0)
    assert.equal(r.length, n)
    assert.equal(r[n - 1].value.toString(), `v${n - 1}`)
  })
})

describe('config keys take effect (observed on the broker)', () => {
  it('compression: the codec bits of the stored batches', async () => {
    for (const codec of ['none', 'gzip', 'snappy', 'lz4', 'zstd']) {
      const t = await freshTopic(1)
      const p = await Producer.connect(broker.endpoint, t, { compression: codec, lingerMs: 0 })
      assert.equal(p.compression, codec)
      await p.send('k', 'hello '.repeat(50))
      await p.close()
      const b = broker.batches(t, 0)
      assert.equal(b.length, 1)
      assert.equal(b[0].compression, codec)
      assert.equal(broker.records(t, 0)[0].value.toString(), 'hello '.repeat(50))
    }
  })

  it("topic compression policy: the producer follows it; a conflicting codec rejects with COMPRESSION", async () => {
    const t = await freshTopic(1, { compression: 'gzip' })
    const p = await Producer.connect(broker.endpoint, t, { lingerMs: 0 })
    assert.equal(p.compression, 'gzip')
    await p.send(null, 'x')
    await p.close()
    assert.equal(broker.batches(t, 0)[0].compression, 'gzip')
    await assert.rejects(Producer.connect(broker.endpoint, t, { compression: 'lz4' }), code('COMPRESSION'))
  })

  it('batchSize: small batches seal early (many batches); large linger + flush gives one batch', async () => {
    const t1 = await freshTopic(1)
    const small = await Producer.connect(broker.endpoint, t1, { batchSize: 200, lingerMs: 60000 })
    const sent = Array.from({ length: 20 }, (_, i) => small.send(null, 'x'.repeat(50) + i))
    await small.close() // seals the last, still lingering batch
    await Promise.all(sent)
    assert.ok(broker.batches(t1, 0).length >= 5, `batches: ${broker.batches(t1, 0).length}`)

    const t2 = await freshTopic(1)
    const big = await Producer.connect(broker.endpoint, t2, { batchSize: 1 << 20, lingerMs: 60000 })
    const pending = Array.from({ length: 20 }, (_, i) => big.send(null, 'x'.repeat(50) + i))
    await big.flush()
    await Promise.all(pending)
    await big.close()
    const b = broker.batches(t2, 0)
    assert.equal(b.length, 1)
    assert.equal(b[0].recordCount, 20)
  })

  it('lingerMs: a lone record is sent by the linger timer, without flush', async () => {
    const t = await freshTopic(1)
    const p = await Producer.connect(broker.endpoint, t, { lingerMs: 1 })
    const m = await p.send(null, 'lingered')
    assert.equal(m.offset, 0)
    assert.equal(broker.records(t, 0).length, 1)
    await p.close()
  })

  it('partitioner: round_robin ignores keys; default hashes them to one partition', async () => {
    const t = await freshTopic(3)
    const rr = await Producer.connect(broker.endpoint, t, { partitioner: 'round_robin', lingerMs: 0 })
    const a = await Promise.all([0, 1, 2, 3, 4, 5].map(() => rr.send('same-key', 'v')))
    await rr.close()
    assert.equal(new Set(a.map((m) => m.partition)).size, 3)
    const d = await Producer.connect(broker.endpoint, t, { lingerMs: 0 })
    const b = await Promise.all([0, 1, 2, 3, 4, 5].map(() => d.send('same-key', 'v')))
    await d.close()
    assert.equal(new Set(b.map((m) => m.partition)).size, 1)
  })

  it('delivery at_most_once resolves with offset -1', async () => {
    const t = await freshTopic(1)
    const p = await Producer.connect(broker.endpoint, t, { delivery: 'at_most_once', lingerMs: 0 })
    const m = await p.send(null, 'fire and forget')
    assert.equal(m.offset, -1)
    await p.close()
    assert.equal(broker.records(t, 0).length, 1)
  })
})

describe('bad input rejects with the documented error', () => {
  let t
  let p
  before(async () => {
    t = await freshTopic(1)
    p = await Producer.connect(broker.endpoint, t, { lingerMs: 0, maxRequestSize: 1024 })
  })
  after(async () => {
    await p.close().catch(() => {})
  })

  it('wrong arguments are INVALID_ARGUMENT HeadwaterErrors (rejected promises; thrown by synchronous methods)', async () => {
    const bad = [
      () => p.send(42, 'v'),
      () => p.send('k', null),
      () => p.send('k', undefined),
      () => p.send('k', 12),
      () => p.send('k', { a: 1 }),
      () => p.send('k', new Uint16Array(2)),
      () => p.send('k', 'v', 'not options'),
      () => p.send('k', 'v', { partition: -1 }),
      () => p.send('k', 'v', { partition: 1.5 }),
      () => p.send('k', 'v', { timestamp: 'now' }),
      () => p.sendAll('nope'),
      () => p.sendAll([['k']]),
      () => p.sendAll(['k', 'v']),
      () => p.sendTo(-1, 'k', 'v'),
      () => p.sendTo('0', 'k', 'v'),
      () => p.sendTo(2 ** 31, 'k', 'v'),
      () => p.sendTo(0, 'k', 5),
      () => p.flush({ timeoutMs: -5 }),
      () => p.flush({ timeoutMs: NaN }),
      () => p.close({ timeoutMs: 1.5 }),
      () => Producer.connect(42, t),
      () => Producer.connect(broker.endpoint, null),
      () => Producer.connect(broker.endpoint, t, 'lingerMs=1'),
      () => Producer.connect(broker.endpoint, t, { lingerMs: null }),
      () => Producer.connect(broker.endpoint, t, { lingerMs: {} }),
      () => TestBroker.start({ spus: [2] }),
      () => broker.createTopic(7),
      () => broker.createTopic('x', { partitions: null }),
      () => broker.createTopic('x', { partitions: 0 }),
    ]
    for (const f of bad) await assert.rejects(f(), code('INVALID_ARGUMENT'), f.toString())
    await assert.rejects(p.send('k', 'v', { partition: -1 }), (e) => {
      assert.equal(e.message, '[INVALID_ARGUMENT] `partition` must be in 0..=2147483647, got -1')
      return true
    })
    assert.throws(() => broker.records(t, -1), code('INVALID_ARGUMENT'))
    assert.throws(() => broker.offsets(t, 1.5), code('INVALID_ARGUMENT'))
    assert.throws(() => p.setErrorHandler(5), code('INVALID_ARGUMENT'))
    assert.equal(p.isClosed, false, 'close({ timeoutMs: 1.5 }) was refused before anything closed')
    await p.flush() // refused calls are not reported again
  })

  it('unknown config key: CONFIG', async () => {
    await assert.rejects(Producer.connect(broker.endpoint, t, { lingerMS: 1 }), code('CONFIG'))
  })

  it('a boolean or string where core wants a number: CONFIG (core parses every value)', async () => {
    await assert.rejects(Producer.connect(broker.endpoint, t, { lingerMs: true }), code('CONFIG'))
    await assert.rejects(TestBroker.start({ spus: 'two' }), code('CONFIG'))
  })

  it('oversize record: RECORD_TOO_LARGE (send and sendAll; nothing of the sendAll is sent)', async () => {
    await assert.rejects(p.send(null, Buffer.alloc(4096)), code('RECORD_TOO_LARGE'))
    await assert.rejects(p.sendAll([[null, 'small'], [null, Buffer.alloc(4096)]]), code('RECORD_TOO_LARGE'))
    await assert.rejects(p.sendAll([[null, 'small'], [null, 'x'.repeat(4096)]]), code('RECORD_TOO_LARGE'))
    await p.flush() // a refused send is not reported again
    assert.equal(broker.records(t, 0).filter((r) => r.value.toString() === 'small').length, 0)
  })

  it('unknown partition: UNKNOWN_PARTITION', async () => {
    await assert.rejects(p.send(null, 'v', { partition: 9 }), code('UNKNOWN_PARTITION'))
    await assert.rejects(p.sendTo(1, null, 'v'), code('UNKNOWN_PARTITION'))
    await p.flush()
  })

  it('unknown topic: UNKNOWN_TOPIC (connect and broker.records)', async () => {
    await assert.rejects(Producer.connect(broker.endpoint, 'no-such-topic', { metadataTimeoutMs: 200 }), (e) => {
      assert.ok(e instanceof HeadwaterError)
      assert.ok(['UNKNOWN_TOPIC', 'TIMEOUT'].includes(e.code), e.code)
      return true
    })
    assert.throws(() => broker.records('no-such-topic', 0), code('UNKNOWN_TOPIC'))
  })

  it('closed producer: CLOSED; close is idempotent', async () => {
    const q = await Producer.connect(broker.endpoint, t, { lingerMs: 0 })
    await q.close()
    await q.close()
    assert.equal(q.isClosed, true)
    await assert.rejects(q.send(null, 'v'), code('CLOSED'))
    await assert.rejects(q.sendTo(0, null, 'v'), code('CLOSED'))
    await assert.rejects(q.sendAll([[null, 'v']]), code('CLOSED'))
    await q.flush()
  })

  it('unreachable endpoint: TRANSPORT (retriable)', async () => {
    await assert.rejects(Producer.connect('127.0.0.1:1', t, { metadataTimeoutMs: 500 }), (e) => {
      assert.ok(e instanceof HeadwaterError)
      assert.ok(['TRANSPORT', 'TIMEOUT'].includes(e.code), e.code)
      assert.equal(e.retriable, true)
      return true
    })
    await assert.rejects(Admin.connect('127.0.0.1:1'), code('TRANSPORT'))
  })

  it('a full queue: QUEUE_FULL after sendTimeoutMs while the broker is paused', async () => {
    const t2 = await freshTopic(1)
    const q = await Producer.connect(broker.endpoint, t2, { lingerMs: 0, batchQueueSize: 1, sendTimeoutMs: 50, batchSize: 1 })
    broker.pause()
    const sent = []
    try {
      // send blocks only while the queue is full, for at most sendTimeoutMs, then rejects.
      for (let i = 0; i < 5; i++) sent.push(q.send(null, `v${i}`))
    } finally {
      broker.resume()
    }
    const settled = await Promise.allSettled(sent)
    const codes = settled.map((r) => (r.status === 'rejected' ? r.reason.code : 'ok'))
    assert.ok(codes.includes('QUEUE_FULL'), codes.join(','))
    await q.flush().catch(() => {})
    await q.close().catch(() => {})
  })
})

describe('error handler, flush reporting, asyncDispose, Admin', () => {
  it('setErrorHandler receives refusals too; flush does not report them again; awaited sends still reject', async () => {
    const t = await freshTopic(1)
    const p = await Producer.connect(broker.endpoint, t, { lingerMs: 0, maxRequestSize: 512 })
    const seen = []
    p.setErrorHandler((e) => seen.push(e.code))
    p.send(null, Buffer.alloc(2048)) // not awaited
    await assert.rejects(p.send(null, Buffer.alloc(2048)), code('RECORD_TOO_LARGE'))
    p.send(42, 'v') // not awaited
    await p.flush()
    assert.deepEqual(seen, ['RECORD_TOO_LARGE', 'RECORD_TOO_LARGE', 'INVALID_ARGUMENT'])
    p.setErrorHandler(null)
    await p.close()
  })

  it('Symbol.asyncDispose closes the producer and stops a broker', async () => {
    const b = await TestBroker.start()
    await b.createTopic('d', { partitions: 1 })
    const p = await Producer.connect(b.endpoint, 'd', { lingerMs: 60000 })
    const m = p.send(null, 'disposed')
    await p[Symbol.asyncDispose]()
    assert.equal(p.isClosed, true)
    assert.equal((await m).offset, 0)
    assert.equal(b.records('d', 0).length, 1)
    await b[Symbol.asyncDispose]()
  })

  it('Admin creates, lists and deletes topics', async () => {
    const a = await Admin.connect(broker.endpoint)
    const t = topicName('admin')
    await a.createTopic(t, { partitions: 2 })
    const info = (await a.listTopics()).find((x) => x.name === t)
    assert.equal(info.partitions, 2)
    await assert.rejects(a.createTopic(t, { partitions: 2 }), code('BROKER', 2002))
    await a.deleteTopic(t)
    assert.ok(!(await a.listTopics()).some((x) => x.name === t))
    await assert.rejects(a.deleteTopic(t), code('UNKNOWN_TOPIC'))
  })
})
