'use strict'
// tests/vectors/api.json's `node` column against the package's public surface: every declared name
// exists with its kind (in the running package and in its index.d.ts), and nothing public is neither
// declared, an allowed extra (extras_allowed.node) nor ignored (ignore.node).
const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const ts = require('typescript')
const { hw, PKG, NATIVE, vectors, topicName } = require('./helpers')

const api = vectors('api.json')
const raw = require(NATIVE)
const extras = new Set(api.extras_allowed.node)
// ignore.node: a class function's own length, name, prototype, arguments and caller; a prototype's
// constructor; Error's own `stack` on a HeadwaterError.
const IGNORED_STATICS = new Set(['length', 'name', 'prototype', 'arguments', 'caller'])

const valueExports = api.exports.node.filter((n) => !n.startsWith('types:'))
const typeExports = api.exports.node
  .filter((n) => n.startsWith('types:'))
  .flatMap((n) => n.slice('types:'.length).split(',').map((t) => t.trim()))

/** Each class of api.json with its node type name (the first identifier of `type.node`) and the
 * members it declares for Node (name -> kind). */
const classes = Object.entries(api.classes).map(([concept, c]) => {
  const members = new Map()
  for (const m of c.members) {
    const n = m.names.node
    if (n !== null && n !== undefined && /^[A-Za-z_$][\w$]*$/.test(n)) members.set(n, m.kind)
  }
  const type = c.type.node ? c.type.node.match(/^[A-Za-z_$][\w$]*/)[0] : null
  return { concept, type, members, c }
})
const byType = (t) => classes.find((c) => c.type === t)

/** The exported declarations of index.d.ts: name -> { kinds, members: name -> kind } (merged). */
function declarations() {
  const file = path.join(PKG, 'index.d.ts')
  const src = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true)
  const out = new Map()
  const memberName = (m) => {
    if (!m.name) return 'constructor'
    if (ts.isComputedPropertyName(m.name)) return `[${m.name.expression.getText(src)}]`
    return m.name.getText(src)
  }
  const memberKind = (m) => {
    const isStatic = (m.modifiers || []).some((x) => x.kind === ts.SyntaxKind.StaticKeyword)
    if (ts.isConstructorDeclaration(m)) return 'constructor'
    if (ts.isMethodDeclaration(m) || ts.isMethodSignature(m)) return isStatic ? 'constructor' : 'method'
    return 'property' // getters, fields, interface properties
  }
  for (const st of src.statements) {
    if (!(st.modifiers || []).some((x) => x.kind === ts.SyntaxKind.ExportKeyword)) continue
    const name = st.name.getText(src)
    const d = out.get(name) || { kinds: new Set(), members: new Map(), node: st }
    out.set(name, d)
    if (ts.isClassDeclaration(st) || ts.isInterfaceDeclaration(st)) {
      d.kinds.add(ts.isClassDeclaration(st) ? 'class' : 'interface')
      for (const m of st.members) d.members.set(memberName(m), memberKind(m))
    } else if (ts.isFunctionDeclaration(st)) {
      d.kinds.add('function')
      d.node = st
    } else {
      d.kinds.add('type')
    }
  }
  return out
}

const keyName = (cls, k) => (typeof k === 'symbol' ? `${cls}[${k.description.replace(/^nodejs\./, 'Symbol.')}]` : `${cls}.${k}`)

describe('api.json: the Node surface', () => {
  const dts = declarations()

  it('the module exports exactly the declared values', () => {
    assert.deepEqual(Object.keys(hw).sort(), [...valueExports].sort())
  })

  it('index.d.ts exports exactly the declared values and types', () => {
    assert.deepEqual([...dts.keys()].sort(), [...new Set([...valueExports, ...typeExports])].sort())
  })

  for (const cls of ['Producer', 'TestBroker', 'Admin', 'HeadwaterError']) {
    it(`${cls}: declared members exist with their kind, nothing else is public`, () => {
      const C = hw[cls]
      const { members } = byType(cls)
      const d = dts.get(cls)
      assert.ok(d && d.kinds.has('class'), `index.d.ts declares class ${cls}`)
      for (const [n, kind] of members) {
        const desc = Object.getOwnPropertyDescriptor(C.prototype, n)
        if (kind === 'constructor') assert.equal(typeof C[n], 'function', `${cls}.${n} is a static function`)
        if (kind === 'method') assert.equal(typeof (desc && desc.value), 'function', `${cls}.prototype.${n} is a method`)
        if (kind === 'property' && cls !== 'HeadwaterError') assert.ok(desc && desc.get && !desc.set, `${cls}.${n} is a getter`)
        assert.equal(d.members.get(n), kind, `index.d.ts: ${cls}.${n} is a ${kind}`)
      }
      const declared = (k) => (typeof k === 'string' && members.has(k)) || extras.has(keyName(cls, k))
      for (const k of Reflect.ownKeys(C)) {
        if (!IGNORED_STATICS.has(k)) assert.ok(declared(k), `undeclared static ${keyName(cls, k)}`)
      }
      for (const k of Reflect.ownKeys(C.prototype)) {
        if (k !== 'constructor') assert.ok(declared(k), `undeclared ${keyName(cls, k)}`)
      }
      for (const k of d.members.keys()) {
        const ok = members.has(k) || extras.has(k.startsWith('[') ? `${cls}${k}` : `${cls}.${k}`)
        assert.ok(ok, `index.d.ts: undeclared ${cls}.${k}`)
      }
    })
  }

  it('HeadwaterError instances carry the declared properties (brokerCode only on BROKER)', async () => {
    const { members } = byType('HeadwaterError')
    const invalid = await hw.Producer.connect(42, 't').catch((e) => e)
    const broker = raw.__errorForTests('BROKER', 56)
    for (const e of [invalid, broker]) {
      assert.ok(e instanceof hw.HeadwaterError && e instanceof Error)
      for (const [n, kind] of members) {
        assert.equal(kind, 'property')
        if (n === 'brokerCode' && e.code !== 'BROKER') assert.equal(e[n], undefined)
        else assert.ok(n in e && typeof e[n] !== 'function', `HeadwaterError.${n}`)
      }
      for (const k of Reflect.ownKeys(e)) {
        if (k !== 'stack') assert.ok(members.has(k) || extras.has(keyName('HeadwaterError', k)), `undeclared HeadwaterError.${String(k)}`)
      }
    }
    assert.equal(invalid.code, 'INVALID_ARGUMENT')
    assert.equal(broker.brokerCode, 56)
  })

  it('setLogger and its levels', () => {
    const { members } = classes.find((c) => c.concept === 'logging')
    assert.equal(members.get('setLogger'), 'function')
    assert.equal(typeof hw.setLogger, 'function')
    const fn = dts.get('setLogger').node
    const level = fn.parameters.find((p) => p.name.getText() === 'level')
    const names = level.type.types.map((t) => t.literal.text)
    assert.deepEqual(names, api.vocabulary.log_levels.order.map((l) => l.name))
  })

  it('the plain-object types of index.d.ts have exactly the declared fields and options', () => {
    // ProduceOutput is an interface too, but of methods (the next test)
    const plain = classes.filter((c) => c.type && c.type !== 'ProduceOutput' && dts.has(c.type) && dts.get(c.type).kinds.has('interface') && !dts.get(c.type).kinds.has('class'))
    assert.deepEqual(plain.map((c) => c.type).sort(), ['BrokerOptions', 'BrokerStats', 'ProducerConfig', 'ProducerStats', 'RecordMetadata', 'StoredBatch', 'StoredRecord', 'TopicInfo', 'TopicOptions'])
    for (const c of plain) {
      const fields = dts.get(c.type).members
      for (const [n, kind] of c.members) {
        assert.ok(kind === 'property' || kind === 'option', `${c.type}.${n}: ${kind}`)
        assert.equal(fields.get(n), 'property', `index.d.ts: ${c.type}.${n}`)
      }
      // ProducerConfig's keys are config.json's (checked by vectors.test.js), not api.json's.
      if (c.type !== 'ProducerConfig') assert.deepEqual([...fields.keys()].sort(), [...c.members.keys()].sort(), c.type)
    }
  })

  it('ProduceOutput: index.d.ts declares the thenable\'s methods, the declared ones among them', () => {
    const d = dts.get('ProduceOutput')
    assert.ok(d && d.kinds.has('interface'))
    assert.deepEqual([...d.members].sort(), [['[Symbol.toStringTag]', 'property'], ['catch', 'method'], ['finally', 'method'], ['then', 'method']])
    for (const [n, kind] of byType('ProduceOutput').members) assert.equal(d.members.get(n), kind, `ProduceOutput.${n}`)
  })
})

describe('api.json: the objects the package returns', () => {
  let broker
  before(async () => {
    broker = await hw.TestBroker.start({ spus: 1 })
  })
  after(async () => {
    await broker.stop()
  })
  const fields = (t) => [...byType(t).members.keys()].sort()

  it('RecordMetadata, ProducerStats, StoredRecord, StoredBatch, BrokerStats, TopicInfo, and a send returns a thenable', async () => {
    const t = topicName('manifest')
    await broker.createTopic(t, { partitions: 1 })
    const p = await hw.Producer.connect(broker.endpoint, t, { lingerMs: 0 })
    // ProduceOutput is a thenable: awaited through its own `then`
    assert.deepEqual(fields('ProduceOutput'), ['then'])
    const out = p.send('k', 'v')
    assert.ok(!(out instanceof Promise) && typeof out.then === 'function')
    assert.deepEqual(Object.keys(out), [])
    const [meta] = await Promise.all([out, p.sendTo(0, null, 'w')])
    assert.deepEqual(Object.keys(meta).sort(), fields('RecordMetadata'))
    assert.deepEqual(Object.keys(p.stats()).sort(), fields('ProducerStats'))
    await p.close()
    assert.deepEqual(Object.keys(broker.records(t, 0)[0]).sort(), fields('StoredRecord'))
    assert.deepEqual(Object.keys(broker.batches(t, 0)[0]).sort(), fields('StoredBatch'))
    assert.deepEqual(Object.keys(broker.stats()).sort(), fields('BrokerStats'))
    assert.deepEqual(Object.keys(broker.offsets(t, 0)).sort(), ['end', 'start'])
    const admin = await hw.Admin.connect(broker.endpoint)
    const info = (await admin.listTopics()).find((x) => x.name === t)
    for (const k of Object.keys(info)) assert.ok(fields('TopicInfo').includes(k), `TopicInfo.${k}`)
    for (const k of fields('TopicInfo')) if (k !== 'retentionSecs') assert.ok(k in info, `TopicInfo.${k}`)
  })
})

describe('panic safety', () => {
  it('a panic in an entry point is an INTERNAL HeadwaterError, thrown or rejected', async () => {
    const internal = (e) => e instanceof hw.HeadwaterError && e.code === 'INTERNAL' && /panic/.test(e.message)
    assert.throws(() => raw.__debugPanic('sync'), internal)
    await assert.rejects(raw.__debugPanic('async'), internal)
    // the addon still works afterwards
    assert.equal(raw.__errorForTests('CONFIG').code, 'CONFIG')
  })
})
