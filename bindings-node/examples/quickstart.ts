// Type-checked by `make test` with `tsc --noEmit --strict` against the packed package.
import { Producer, TestBroker, Admin, HeadwaterError, setLogger } from 'headwater'
import type { RecordMetadata, ProducerConfig, StoredRecord, ProducerStats, TopicInfo, TopicOptions } from 'headwater'

async function main(): Promise<void> {
  setLogger((level, target, message) => console.log(`[${level}] ${target}: ${message}`), 'warn')
  await using broker = await TestBroker.start({ spus: 1 })
  const options: TopicOptions = { partitions: 3, compression: 'any', retentionSecs: 3600 }
  await broker.createTopic('events', options)
  const config: ProducerConfig = { lingerMs: 10, compression: 'lz4', delivery: 'at_least_once' }
  await using p = await Producer.connect(broker.endpoint, 'events', config)
  p.setErrorHandler((e) => console.error('send failed', e.message))
  const meta: RecordMetadata = await p.send('user-1', 'clicked', { partition: 0, timestamp: Date.now() })
  const second: RecordMetadata = await p.sendTo(2, 'user-2', 'scrolled')
  const many: RecordMetadata[] = await p.sendAll([
    [null, 'a'],
    [Buffer.from('k'), new Uint8Array([1, 2, 3])],
    ['k2', 'c', { partition: 1 }],
  ])
  await p.flush({ timeoutMs: 10_000 })
  const stats: ProducerStats = p.stats()
  const stored: StoredRecord[] = broker.records('events', meta.partition, 0)
  const key: Buffer | null = stored[0].key
  const { start, end } = broker.offsets('events', second.partition)
  const spus: number[] = broker.spuIds()
  const admin = await Admin.connect(broker.endpoint)
  const topics: TopicInfo[] = await admin.listTopics()
  console.log(meta.offset, many.length, stats.recordsAcked, key, topics.length, broker.batches('events', 0).length, start, end, spus)
  try {
    await Producer.connect(broker.endpoint, 'events', { lingerMs: -1 })
  } catch (e) {
    if (e instanceof HeadwaterError) {
      const code: string = e.code
      const retriable: boolean = e.retriable
      console.log(code, retriable, e.brokerCode ?? 'n/a')
    }
  }
}

main().catch((e: unknown) => {
  console.error(e)
  process.exitCode = 1
})
