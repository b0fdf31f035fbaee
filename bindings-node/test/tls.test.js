'use strict'
// TLS through the Node API, with the shared fixtures (tests/fixtures/tls): a broker requiring client
// certificates, Admin and Producer over mutual TLS, and every way of getting it wrong.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { hw, REPO, topicName } = require('./helpers')
const { Producer, TestBroker, Admin, HeadwaterError } = hw

const FX = path.join(REPO, 'tests', 'fixtures', 'tls')
const fx = (name) => path.join(FX, name)
const MTLS = { tlsCaFile: fx('ca.pem'), tlsCertFile: fx('client.pem'), tlsKeyFile: fx('client.key') }
// A bound on every test, so a hang fails instead of stalling the run (generous: the machine is shared).
const BOUND = { timeout: 60000 }

const code = (c, more = () => {}) => (e) => {
  assert.ok(e instanceof HeadwaterError, `expected HeadwaterError, got ${e && e.stack}`)
  assert.equal(e.code, c, e.message)
  more(e)
  return true
}

let broker
before(async () => {
  broker = await TestBroker.start({
    spus: 2,
    tlsCert: fx('server.pem'),
    tlsKey: fx('server.key'),
    tlsClientCa: fx('ca.pem'),
  })
})
after(async () => {
  await broker.stop()
})

describe('mutual TLS', () => {
  it('Admin over mutual TLS creates and lists a topic', BOUND, async () => {
    const t = topicName('tls-admin')
    const admin = await Admin.connect(broker.endpoint, MTLS)
    await admin.createTopic(t, { partitions: 2 })
    const listed = (await admin.listTopics()).find((x) => x.name === t)
    assert.equal(listed && listed.partitions, 2)
    assert.ok(broker.topics().includes(t))
  })

  it('a producer over mutual TLS (tls: true) sends keyed records; the broker holds them at their offsets', BOUND, async () => {
    const t = topicName('tls-p')
    await broker.createTopic(t, { partitions: 2 })
    const p = await Producer.connect(broker.endpoint, t, { tls: true, ...MTLS, lingerMs: 5 })
    const sent = []
    for (let i = 0; i < 20; i++) sent.push([`k${i % 5}`, `v${i}`])
    const metas = await p.sendAll(sent)
    await p.close()
    const stored = new Map()
    for (const part of [0, 1]) {
      for (const r of broker.records(t, part)) stored.set(`${part}/${r.offset}`, [r.key.toString(), r.value.toString()])
    }
    assert.equal(stored.size, 20)
    metas.forEach((m, i) => assert.deepEqual(stored.get(`${m.partition}/${m.offset}`), sent[i], `record ${i}`))
    // Per partition, offsets are 0..n-1 with no gap.
    for (const part of [0, 1]) {
      assert.deepEqual(broker.records(t, part).map((r) => r.offset), [...broker.records(t, part).keys()])
    }
    assert.deepEqual(new Set(metas.map((m) => m.partition)), new Set([0, 1]), 'both SPUs served TLS')
  })

  it('a CA that did not sign the broker: TRANSPORT, certificate verification failed', BOUND, async () => {
    const t = topicName('tls-wrong-ca')
    await broker.createTopic(t, { partitions: 1 })
    const wrong = { ...MTLS, tlsCaFile: fx('other-ca.pem') }
    const verify = (e) => assert.match(e.message, /certificate verification/)
    await assert.rejects(Admin.connect(broker.endpoint, wrong), code('TRANSPORT', verify))
    await assert.rejects(Producer.connect(broker.endpoint, t, wrong), code('TRANSPORT', verify))
    assert.deepEqual(broker.records(t, 0), [])
  })

  it('no client certificate: TRANSPORT, the error says a client certificate is needed', BOUND, async () => {
    const t = topicName('tls-no-cert')
    await broker.createTopic(t, { partitions: 1 })
    const clientCert = (e) => assert.match(e.message, /client certificate/)
    await assert.rejects(Admin.connect(broker.endpoint, { tlsCaFile: fx('ca.pem') }), code('TRANSPORT', clientCert))
    await assert.rejects(
      Producer.connect(broker.endpoint, t, { tlsCaFile: fx('ca.pem') }),
      code('TRANSPORT', clientCert),
    )
    assert.deepEqual(broker.records(t, 0), [])
  })

  it('a plaintext client to the TLS broker: a clean TRANSPORT error, not a hang', BOUND, async () => {
    const t = topicName('tls-plain')
    await broker.createTopic(t, { partitions: 1 })
    const tlsHint = (e) => assert.match(e.message, /TLS/)
    await assert.rejects(Producer.connect(broker.endpoint, t), code('TRANSPORT', tlsHint))
    await assert.rejects(Admin.connect(broker.endpoint), code('TRANSPORT', tlsHint))
    await assert.rejects(Producer.connect(broker.endpoint, t, { tls: false }), code('TRANSPORT', tlsHint))
    // The broker keeps serving TLS clients.
    const p = await Producer.connect(broker.endpoint, t, MTLS)
    assert.equal((await p.send('k', 'after')).offset, 0)
    await p.close()
    assert.deepEqual(broker.records(t, 0).map((r) => r.value.toString()), ['after'])
  })
})

describe('TLS options', () => {
  it('bad broker options: CONFIG naming the key', BOUND, async () => {
    const cases = [
      [{ tlsCertt: fx('server.pem') }, /`tlsCertt`/],
      [{ tlsCert: fx('server.pem') }, /`(tls_key|tlsKey)`/],
      [{ tlsKey: fx('server.key') }, /`(tls_cert|tlsCert)`/],
      [{ tlsClientCa: fx('ca.pem') }, /`(tls_client_ca|tlsClientCa)`/],
      [{ tlsCert: '/no/such/cert.pem', tlsKey: fx('server.key') }, /`tlsCert`/],
      [{ spus: 0 }, /`spus`/],
      [{ spus: 'two' }, /`spus`/],
      [{ dataDir: '' }, /`dataDir`/],
      [{ sync: 'sometimes' }, /`sync`/],
    ]
    for (const [opts, key] of cases) {
      await assert.rejects(TestBroker.start(opts), code('CONFIG', (e) => assert.match(e.message, key)), JSON.stringify(opts))
    }
  })

  it('bad client TLS options: CONFIG naming the key', BOUND, async () => {
    // Admin errors name the key as spelled; the producer's config parser names its snake_case form.
    const cases = [
      [{ tlsCaFle: fx('ca.pem') }, /`tlsCaFle`/],
      [{ tls: 'yes' }, /`tls`/],
      [{ tlsCaFile: '/no/such/ca.pem' }, /`(tlsCaFile|tls_ca_file)`/],
      [{ tlsServerName: '' }, /`(tlsServerName|tls_server_name)`/],
      [{ tls_cert_file: '/no/such/client.pem' }, /`tls_cert_file`/],
    ]
    for (const [opts, key] of cases) {
      const has = (e) => assert.match(e.message, key)
      await assert.rejects(Admin.connect(broker.endpoint, opts), code('CONFIG', has), JSON.stringify(opts))
      await assert.rejects(Producer.connect(broker.endpoint, 'any', opts), code('CONFIG', has), JSON.stringify(opts))
    }
    // tls: false together with a CA file contradicts itself (core decides, at connect).
    await assert.rejects(
      Admin.connect(broker.endpoint, { tls: false, tlsCaFile: fx('ca.pem') }),
      code('CONFIG', (e) => assert.match(e.message, /tls/)),
    )
  })

  it('wrong JS types are INVALID_ARGUMENT', async () => {
    const bad = [
      () => TestBroker.start({ tlsCert: { path: 'x' } }),
      () => TestBroker.start({ spus: null }),
      () => TestBroker.start('spus=1'),
      () => Admin.connect(broker.endpoint, 'tls'),
      () => Admin.connect(broker.endpoint, { tlsCaFile: ['a'] }),
      () => Admin.connect(7),
      () => Producer.connect(broker.endpoint, 'any', { tls: () => true }),
    ]
    for (const f of bad) await assert.rejects(f(), code('INVALID_ARGUMENT'), f.toString())
  })

  it('options given as strings and numbers reach core alike (spus: "2", sync: 100)', BOUND, async () => {
    const b = await TestBroker.start({ spus: '2', sync: 100, tlsCert: fx('server.pem'), tlsKey: fx('server.key') })
    try {
      assert.equal(b.spuIds().length, 2)
      // No client CA: server-authenticated TLS; tls: 'true' as a string works like the boolean.
      const admin = await Admin.connect(b.endpoint, { tls: 'true', tlsCaFile: fx('ca.pem') })
      const t = topicName('tls-oneway')
      await admin.createTopic(t, { partitions: 1 })
      const p = await Producer.connect(b.endpoint, t, { tlsCaFile: fx('ca.pem'), lingerMs: 0 })
      assert.equal((await p.send(Buffer.from('k'), 'one-way')).offset, 0)
      await p.close()
      assert.deepEqual(b.records(t, 0).map((r) => [r.offset, r.key.toString(), r.value.toString()]), [[0, 'k', 'one-way']])
    } finally {
      await b.stop()
    }
  })
})
