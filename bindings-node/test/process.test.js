'use strict'
// Whole-process behaviour: exit after close(), no unhandled rejection from un-awaited sends, worker
// threads, logging, ESM (the README quickstart runs in package.test.js). Each runs a child `node` with a
// generous deadline.
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { hw, PKG, PROJECT, topicName } = require('./helpers')
const { TestBroker, setLogger } = hw

const DEADLINE_MS = 120000

function runNode(source, { args = [], env = {}, cwd, ext = '.js' } = {}) {
  const dir = fs.mkdtempSync(path.join(cwd || os.tmpdir(), 'hw-child-'))
  const file = path.join(dir, `main${ext}`)
  fs.writeFileSync(file, source)
  const r = spawnSync(process.execPath, [...args, file], {
    encoding: 'utf8',
    timeout: DEADLINE_MS,
    env: { ...process.env, HEADWATER_PKG: PKG, ...env },
    cwd: dir,
  })
  fs.rmSync(dir, { recursive: true, force: true })
  return r
}

function show(r) {
  return `status=${r.status} signal=${r.signal} error=${r.error}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`
}

let broker
before(async () => {
  broker = await TestBroker.start({ spus: 1 })
})
after(async () => {
  await broker.stop()
})

describe('process', () => {
  it('a script that sends and closes exits 0 by itself, with every record on the broker', async () => {
    const t = topicName('exit')
    await broker.createTopic(t, { partitions: 2 })
    const r = runNode(`
      const { Producer } = require(process.env.HEADWATER_PKG)
      ;(async () => {
        const p = await Producer.connect(process.argv[2], process.argv[3], { lingerMs: 50 })
        for (let i = 0; i < 1000; i++) p.send(String(i), 'v' + i)
        await p.sendAll([[null, 'x'], [null, 'y']])
        await p.close()
        console.log('closed')
      })()
    `.replace('process.argv[2], process.argv[3]', `${JSON.stringify(broker.endpoint)}, ${JSON.stringify(t)}`))
    assert.equal(r.status, 0, show(r))
    assert.match(r.stdout, /closed/)
    const n = broker.records(t, 0).length + broker.records(t, 1).length
    assert.equal(n, 1002)
  })

  it('an unclosed producer with nothing pending does not keep Node alive', async () => {
    await broker.createTopic('exit-idle', { partitions: 1 })
    const r = runNode(`
      const { Producer } = require(process.env.HEADWATER_PKG)
      ;(async () => {
        const p = await Producer.connect(${JSON.stringify(broker.endpoint)}, ${JSON.stringify('exit-idle')}, { lingerMs: 0 })
        await p.send(null, 'idle')
        console.log('connected', p.constructor.name)
      })()
    `)
    assert.equal(r.status, 0, show(r))
  })

  it('refused un-awaited sends do not crash the process; they go to the error handler, not to flush()', async () => {
    const t = topicName('unhandled')
    await broker.createTopic(t, { partitions: 1 })
    const r = runNode(`
      const { Producer } = require(process.env.HEADWATER_PKG)
      process.on('unhandledRejection', (e) => { console.log('UNHANDLED', e); process.exitCode = 3 })
      ;(async () => {
        const p = await Producer.connect(${JSON.stringify(broker.endpoint)}, ${JSON.stringify(t)}, { lingerMs: 0, maxRequestSize: 256 })
        const handled = []
        p.setErrorHandler((e) => handled.push(e.code))
        p.send(null, Buffer.alloc(1024))          // refused at once, nobody awaits
        p.send(42, 'wrong type')                  // INVALID_ARGUMENT, nobody awaits
        p.sendAll([[null, Buffer.alloc(1024)]])   // refused, nobody awaits
        p.send(null, 'fine')
        await new Promise((r) => setTimeout(r, 50))
        try { await p.flush(); console.log('flush ok') } catch (e) { console.log('flush rejected', e.code) }
        let awaited
        try { await p.send(null, Buffer.alloc(1024)) } catch (e) { awaited = e.code }
        console.log('awaited', awaited)
        await p.close().then(() => console.log('close ok'), (e) => console.log('close reported', e.code))
        console.log('handled', handled.join(','))
      })()
    `)
    assert.equal(r.status, 0, show(r))
    assert.doesNotMatch(r.stdout, /UNHANDLED/)
    assert.match(r.stdout, /flush ok/)
    assert.match(r.stdout, /awaited RECORD_TOO_LARGE/)
    assert.match(r.stdout, /close ok/)
    assert.match(r.stdout, /handled RECORD_TOO_LARGE,INVALID_ARGUMENT,RECORD_TOO_LARGE,RECORD_TOO_LARGE/)
    assert.equal(broker.records(t, 0).length, 1)
  })

  it('a delivery failure of an un-awaited send (broker gone) does not crash the process', () => {
    const r = runNode(`
      const { Producer, TestBroker } = require(process.env.HEADWATER_PKG)
      process.on('unhandledRejection', (e) => { console.log('UNHANDLED', e); process.exitCode = 3 })
      ;(async () => {
        const b = await TestBroker.start()
        await b.createTopic('gone', { partitions: 1 })
        const p = await Producer.connect(b.endpoint, 'gone', { lingerMs: 0, deliveryTimeoutMs: 1000, maxRetries: 1, retryBackoffMs: 10 })
        const errors = []
        p.setErrorHandler((e) => errors.push(e.code))
        await b.stop()
        p.send(null, 'lost')
        const r = await p.close().then(() => 'ok', (e) => e.code)
        for (let i = 0; i < 1000 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 10))
        console.log('close', r, 'handler', errors.length)
      })()
    `)
    assert.equal(r.status, 0, show(r))
    assert.doesNotMatch(r.stdout, /UNHANDLED/)
    assert.match(r.stdout, /close [A-Z_]+ handler 1/)
  })

  it('worker threads can load the addon and produce', async () => {
    const t = topicName('worker')
    await broker.createTopic(t, { partitions: 1 })
    const r = runNode(`
      const { Worker } = require('node:worker_threads')
      const src = \`
        const { parentPort, workerData } = require('node:worker_threads')
        const { Producer } = require(workerData.pkg)
        ;(async () => {
          const p = await Producer.connect(workerData.endpoint, workerData.topic, { lingerMs: 0 })
          await p.send(null, 'from worker ' + workerData.n)
          await p.close()
          parentPort.postMessage('done')
        })()
      \`
      let done = 0
      for (let n = 0; n < 2; n++) {
        const w = new Worker(src, { eval: true, workerData: { pkg: process.env.HEADWATER_PKG, endpoint: ${JSON.stringify(broker.endpoint)}, topic: ${JSON.stringify(t)}, n } })
        w.on('message', () => { done++ })
        w.on('error', (e) => { console.error(e); process.exitCode = 2 })
        w.on('exit', (c) => { if (c !== 0) process.exitCode = 4 })
      }
      require(process.env.HEADWATER_PKG) // and the main thread too
      process.on('exit', () => console.log('workers done', done))
    `)
    assert.equal(r.status, 0, show(r))
    assert.match(r.stdout, /workers done 2/)
    assert.equal(broker.records(t, 0).length, 2)
  })

  it('ESM import works and gives the same classes', () => {
    const r = runNode(
      `
      import headwater, { Producer, TestBroker, HeadwaterError } from ${JSON.stringify(PROJECT ? 'headwater' : path.join(PKG, 'index.mjs'))}
      const b = await TestBroker.start()
      console.log(Producer === headwater.Producer, typeof HeadwaterError, b.endpoint.startsWith('127.0.0.1:'))
      await b.stop()
    `,
      { ext: '.mjs', cwd: PROJECT || undefined },
    )
    assert.equal(r.status, 0, show(r))
    assert.match(r.stdout, /true function true/)
  })

  it('warnings reach stderr by default; HEADWATER_LOG=off silences them', () => {
    const src = `
      const net = require('node:net')
      const { TestBroker } = require(process.env.HEADWATER_PKG)
      ;(async () => {
        const b = await TestBroker.start()
        const [host, port] = b.endpoint.split(':')
        const s = net.connect(Number(port), host, () => s.write(Buffer.from([0x7f, 0xff, 0xff, 0xff, 1, 2, 3, 4])))
        s.on('error', () => {})
        await new Promise((r) => s.on('close', r))
        await new Promise((r) => setTimeout(r, 100))
        await b.stop()
      })()
    `
    const r = runNode(src, { env: { HEADWATER_LOG: '' } })
    assert.equal(r.status, 0, show(r))
    assert.match(r.stderr, /headwater WARN/)
    const q = runNode(src, { env: { HEADWATER_LOG: 'off' } })
    assert.equal(q.status, 0, show(q))
    assert.doesNotMatch(q.stderr, /headwater WARN/)
  })

  it('setLogger(fn) receives core log lines; setLogger(null) restores stderr', async () => {
    const lines = []
    setLogger((level, target, message) => lines.push({ level, target, message }), 'warn')
    try {
      const net = require('node:net')
      const [host, port] = broker.endpoint.split(':')
      await new Promise((resolve) => {
        const s = net.connect(Number(port), host, () => s.write(Buffer.from([0x7f, 0xff, 0xff, 0xff, 1, 2, 3, 4])))
        s.on('error', () => {})
        s.on('close', resolve)
      })
      for (let i = 0; i < 200 && lines.length === 0; i++) await new Promise((r) => setTimeout(r, 10))
      assert.ok(lines.length > 0, 'a warning was logged')
      assert.equal(lines[0].level, 'warn')
      assert.match(lines[0].target, /headwater/)
    } finally {
      setLogger(null)
    }
    const invalid = (c) => (e) => e instanceof hw.HeadwaterError && e.code === c
    assert.throws(() => setLogger(42), invalid('INVALID_ARGUMENT'))
    assert.throws(() => setLogger(() => {}, 3), invalid('INVALID_ARGUMENT'))
    assert.throws(() => setLogger(() => {}, 'warning'), (e) => invalid('CONFIG')(e) && /log_level/.test(e.message))
  })

  it('setLogger(fn) without a level forwards at the current level (HEADWATER_LOG, else warn)', () => {
    const src = `
      const net = require('node:net')
      const { TestBroker, setLogger } = require(process.env.HEADWATER_PKG)
      ;(async () => {
        const lines = []
        setLogger((level) => lines.push(level))
        const b = await TestBroker.start()
        const [host, port] = b.endpoint.split(':')
        const s = net.connect(Number(port), host, () => s.write(Buffer.from([0x7f, 0xff, 0xff, 0xff, 1, 2, 3, 4])))
        s.on('error', () => {})
        await new Promise((r) => s.on('close', r))
        await new Promise((r) => setTimeout(r, 200))
        await b.stop()
        console.log('levels', [...new Set(lines)].sort().join(','))
      })()
    `
    const warn = runNode(src, { env: { HEADWATER_LOG: '' } })
    assert.equal(warn.status, 0, show(warn))
    assert.match(warn.stdout, /levels (error,)?warn\n/)
    const quiet = runNode(src, { env: { HEADWATER_LOG: 'error' } })
    assert.equal(quiet.status, 0, show(quiet))
    assert.match(quiet.stdout, /levels (error)?\n/)
  })
})
