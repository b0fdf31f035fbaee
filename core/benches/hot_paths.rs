//! Micro-benchmarks of the producer's hot paths: record encoding, batch encoding per codec,
//! decompression, the partitioner, and `send` (enqueue) from several threads at once.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use headwater::broker::{BrokerConfig, TestBroker};
use headwater::producer::partitioner::key_partition;
use headwater::producer::{Producer, ProducerConfig};
use headwater::protocol::batch::{put_record, write_batch, BatchInfo};
use headwater::protocol::compression::ALL_CODECS;

fn section(n: usize, size: usize) -> Vec<u8> {
    let value: Vec<u8> = (0..size)
        .map(|i| b"abcdefghijklmnopqrstuvwxyz0123456789"[i % 36])
        .collect();
    let mut s = (n as u32).to_be_bytes().to_vec();
    for i in 0..n {
        put_record(&mut s, None, &value, 0, i as i64);
    }
    s
}

fn encoding(c: &mut Criterion) {
    let value = [7u8; 100];
    let mut g = c.benchmark_group("record");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("put_record 1000 x 100B", |b| {
        let mut out = Vec::with_capacity(200_000);
        b.iter(|| {
            out.clear();
            for i in 0..1000 {
                put_record(&mut out, Some(b"key-1"), &value, 3, i);
            }
            out.len()
        })
    });
    g.finish();

    let sec = section(150, 100);
    let mut g = c.benchmark_group("batch");
    g.throughput(Throughput::Bytes(sec.len() as u64));
    for codec in ALL_CODECS {
        let info = BatchInfo {
            base_offset: 0,
            record_count: 150,
            first_timestamp: 1,
            max_time_stamp: 1,
            compression: codec,
        };
        g.bench_with_input(
            BenchmarkId::new("encode", codec.name()),
            &info,
            |b, info| {
                let mut out = Vec::with_capacity(sec.len() * 2);
                b.iter(|| {
                    out.clear();
                    write_batch(&mut out, info, &sec).unwrap();
                    out.len()
                })
            },
        );
        let mut compressed = Vec::new();
        codec.compress_into(&sec, &mut compressed).unwrap();
        g.bench_with_input(
            BenchmarkId::new("decompress", codec.name()),
            &compressed,
            |b, data| b.iter(|| codec.decompress(data, 1 << 24).unwrap().len()),
        );
    }
    g.finish();
}

fn partitioner(c: &mut Criterion) {
    let keys: Vec<Vec<u8>> = (0..1024)
        .map(|i| format!("user-{i:08}").into_bytes())
        .collect();
    let mut g = c.benchmark_group("partitioner");
    g.throughput(Throughput::Elements(keys.len() as u64));
    g.bench_function("siphash 1024 keys", |b| {
        b.iter(|| {
            keys.iter()
                .map(|k| key_partition(k, 12) as u64)
                .sum::<u64>()
        })
    });
    g.finish();
}

fn enqueue(c: &mut Criterion) {
    let broker = TestBroker::start_blocking(BrokerConfig::default()).unwrap();
    broker.create_topic("bench", 4).unwrap();
    let cfg = ProducerConfig::default()
        .with("linger_ms", "5")
        .unwrap()
        .with("batch_size", "65536")
        .unwrap()
        .with("batch_queue_size", "1000")
        .unwrap();
    let producer = Producer::connect_blocking(&broker.endpoint(), "bench", cfg).unwrap();
    let value = [1u8; 100];
    let mut g = c.benchmark_group("send");
    g.measurement_time(Duration::from_secs(5));
    for threads in [1usize, 2] {
        g.throughput(Throughput::Elements(threads as u64));
        g.bench_function(
            BenchmarkId::new("send_blocking 100B threads", threads),
            |b| {
                b.iter_custom(|iters| {
                    let t0 = Instant::now();
                    std::thread::scope(|s| {
                        for _ in 0..threads {
                            s.spawn(|| {
                                for _ in 0..iters {
                                    producer.send_blocking(None, &value, None, None).unwrap();
                                }
                            });
                        }
                    });
                    let took = t0.elapsed();
                    producer.flush_blocking(None).unwrap();
                    took
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, encoding, partitioner, enqueue);
criterion_main!(benches);
