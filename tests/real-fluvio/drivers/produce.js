// Produce driver for the Node.js binding (format: README.md beside this file).
'use strict'
const path = require('path')
const { Producer } = require(path.join(__dirname, '..', '..', '..', 'bindings-node'))

function parse(line) {
  const [part, key, value] = line.trim().split(/\s+/)
  return {
    partition: part === '-' ? undefined : Number(part),
    key: key === '-' ? null : Buffer.from(key.slice(1), 'hex'),
    value: Buffer.from(value, 'hex'),
  }
}

async function main() {
  const [endpoint, topic, codec, ...extra] = process.argv.slice(2)
  const config = Object.fromEntries(extra.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]))
  config.compression = codec
  const input = require('fs').readFileSync(0, 'utf8')
  const records = input.split('\n').filter((l) => l.trim()).map(parse)
  const p = await Producer.connect(endpoint, topic, config)
  const outs = records.map((r) => (r.partition === undefined ? p.send(r.key, r.value) : p.sendTo(r.partition, r.key, r.value)))
  await p.flush()
  const lines = []
  for (const out of outs) {
    const meta = await out
    lines.push(`${meta.partition} ${meta.offset}`)
  }
  await p.close()
  process.stdout.write(lines.join('\n') + '\n')
}

main().catch((e) => {
  console.error(`produce.js: ${e.message}`) // a HeadwaterError's message starts with its [CODE]
  process.exit(1)
})
