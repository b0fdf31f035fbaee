'use strict'
// Records produced from Node are read back intact by the OFFICIAL Fluvio Python client
// (fluvio==0.21.0 in .venv-interop, created by tests/interop/setup.sh).
const { it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { hw, REPO, topicName } = require('./helpers')
const { Producer, TestBroker } = hw

const VENV = process.env.INTEROP_VENV || path.join(REPO, '.venv-interop')
const PY = path.join(VENV, 'bin', 'python')
const SCRIPT = path.join(REPO, 'tests', 'interop', 'official_py.py')
const missing = !fs.existsSync(PY) ? `${VENV} is missing: run tests/interop/setup.sh` : false

let broker
before(async () => {
  if (!missing) broker = await TestBroker.start({ spus: 1 })
})
after(async () => {
  if (broker) await broker.stop()
})

function consume(topic, partition, count) {
  const r = spawnSync(
    PY,
    [SCRIPT, 'consume', '--endpoint', broker.endpoint, '--topic', topic, '--partition', String(partition), '--count', String(count)],
    { encoding: 'utf8', timeout: 120000, env: { ...process.env, FLV_METADATA_TIMEOUT: '5000', FLV_SOCKET_WAIT: '10' } },
  )
  assert.equal(r.status, 0, `official client failed: ${r.error || ''}\n${r.stderr}`)
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l))
}

for (const codec of ['none', 'gzip', 'snappy', 'lz4', 'zstd']) {
  it(`the official Python client reads Node-produced records intact (${codec})`, { skip: missing }, async () => {
    const t = topicName(`interop-${codec}`)
    await broker.createTopic(t, { partitions: 2 })
    const p = await Producer.connect(broker.endpoint, t, { compression: codec, lingerMs: 5 })
    const sent = []
    for (let i = 0; i < 20; i++) sent.push({ key: `key-${i}`, value: `value ${i} ${'ü'.repeat(i)}`, partition: i % 2 })
    await Promise.all(sent.map((s) => p.send(s.key, s.value, { partition: s.partition })))
    await p.close()
    for (const part of [0, 1]) {
      const want = sent.filter((s) => s.partition === part)
      const got = consume(t, part, want.length)
      assert.equal(got.length, want.length)
      got.forEach((g, i) => {
        assert.equal(g.offset, i)
        assert.equal(g.key, want[i].key)
        assert.equal(g.value, want[i].value)
      })
    }
  })
}
