//! Runs the language-neutral vectors in `tests/vectors/` through the Rust core.

use headwater::producer::partitioner::{
    key_hash, key_partition, DefaultPartitioner, Partitioner, PartitionerContext,
};
use headwater::producer::ProducerConfig;
use headwater::protocol::batch::{decode_batch, put_record, write_batch, BatchInfo};
use headwater::protocol::codec::{put_varint, Reader};
use headwater::protocol::{Compression, ErrorCode};
use headwater::{Error, ErrorKind};
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = format!("{}/../tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
        .unwrap()
}

fn hexd(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn int(v: &Value) -> i64 {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("not an integer: {v}"))
}

#[test]
fn varint() {
    let v = load("varint.json");
    let mut n = 0;
    for c in v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .chain(v["cases_64bit"].as_array().unwrap())
    {
        let value = int(&c["value"]);
        let mut out = Vec::new();
        put_varint(&mut out, value);
        assert_eq!(
            hex::encode(&out),
            c["hex"].as_str().unwrap(),
            "encode {value}"
        );
        assert_eq!(Reader::new(&out).varint().unwrap(), value);
        n += 1;
    }
    for c in v["invalid_decode"].as_array().unwrap() {
        assert!(Reader::new(&hexd(&c["hex"])).varint().is_err(), "{c}");
    }
    assert!(n > 40);
}

#[test]
fn crc32c() {
    for c in load("crc32c.json")["cases"].as_array().unwrap() {
        assert_eq!(
            crc32c::crc32c(&hexd(&c["input_hex"])) as i64,
            int(&c["crc"]),
            "{}",
            c["name"]
        );
    }
}

#[test]
fn partitioner() {
    let p = load("partitioner.json");
    let cases = p["cases"].as_array().unwrap();
    assert!(cases.len() > 500);
    for c in cases {
        let key = hexd(&c["key_hex"]);
        assert_eq!(key_hash(&key).to_string(), c["siphash"].as_str().unwrap());
        assert_eq!(
            key_partition(&key, int(&c["partition_count"]) as u32) as i64,
            int(&c["partition"]),
            "{c}"
        );
    }
    for s in p["keyless_sequences"].as_array().unwrap() {
        let count = int(&s["partition_count"]) as u32;
        let all: Vec<u32> = (0..count).collect();
        let part = DefaultPartitioner::default();
        let got: Vec<i64> = s["expected"]
            .as_array()
            .unwrap()
            .iter()
            .map(|_| {
                part.partition(
                    &PartitionerContext {
                        partition_count: count,
                        available: &all,
                    },
                    None,
                    b"",
                ) as i64
            })
            .collect();
        let want: Vec<i64> = s["expected"].as_array().unwrap().iter().map(int).collect();
        assert_eq!(got, want);
    }
}

fn key_of(r: &Value) -> Option<Vec<u8>> {
    if r["key_hex"].is_null() {
        None
    } else {
        Some(hexd(&r["key_hex"]))
    }
}

#[test]
fn batch_encode_exact_bytes() {
    let b = load("batch.json");
    for c in b["cases"].as_array().unwrap() {
        let records = c["records"].as_array().unwrap();
        let mut section = (records.len() as u32).to_be_bytes().to_vec();
        for r in records {
            let mut one = Vec::new();
            put_record(
                &mut one,
                key_of(r).as_deref(),
                &hexd(&r["value_hex"]),
                int(&r["timestamp_delta"]),
                int(&r["offset_delta"]),
            );
            assert_eq!(
                hex::encode(&one),
                r["record_hex"].as_str().unwrap(),
                "{}",
                c["name"]
            );
            section.extend_from_slice(&one);
        }
        let info = BatchInfo {
            base_offset: int(&c["base_offset"]),
            record_count: (int(&c["last_offset_delta"]) + 1) as usize,
            first_timestamp: int(&c["first_timestamp"]),
            max_time_stamp: int(&c["max_timestamp"]),
            compression: Compression::None,
        };
        let mut out = Vec::new();
        write_batch(&mut out, &info, &section).unwrap();
        assert_eq!(
            hex::encode(&out),
            c["batch_hex"].as_str().unwrap(),
            "{}",
            c["name"]
        );
    }
}

#[test]
fn batch_decode_every_codec() {
    let b = load("batch.json");
    let mut codecs = std::collections::HashSet::new();
    for c in b["decode"].as_array().unwrap() {
        let d = decode_batch(&hexd(&c["batch_hex"]), 1 << 24)
            .unwrap_or_else(|e| panic!("{}: {e}", c["name"]));
        assert_eq!(d.compression.name(), c["codec"].as_str().unwrap());
        codecs.insert(d.compression);
        let want = c["expected_records"].as_array().unwrap();
        assert_eq!(d.records.len(), want.len());
        for (got, w) in d.records.iter().zip(want) {
            assert_eq!(got.key, key_of(w));
            assert_eq!(got.value, hexd(&w["value_hex"]));
        }
    }
    assert_eq!(codecs.len(), 4);
    for c in b["decode_invalid"].as_array().unwrap() {
        let err = decode_batch(&hexd(&c["batch_hex"]), 1 << 24);
        assert!(err.is_err(), "{} must not decode", c["name"]);
    }
}

#[test]
fn config_table() {
    let v = load("config.json");
    let defaults = ProducerConfig::default();
    for c in v["cases"].as_array().unwrap() {
        let key = c["key"].as_str().unwrap();
        assert_eq!(
            headwater::producer::config::camel_case(key),
            c["camel"].as_str().unwrap()
        );
        assert_eq!(
            defaults.get(key).unwrap().as_deref(),
            c["default"].as_str(),
            "default of {key}"
        );
        for ok in c["valid"].as_array().unwrap() {
            let input = ok["input"].as_str().unwrap();
            let mut cfg = ProducerConfig::default();
            cfg.set(key, input)
                .unwrap_or_else(|e| panic!("{key}={input:?} should be valid: {e}"));
            let expected = match &ok["value"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            assert_eq!(cfg.get(key).unwrap().unwrap(), expected);
            // camelCase spelling reaches the same key.
            ProducerConfig::default()
                .set(c["camel"].as_str().unwrap(), input)
                .unwrap();
        }
        for bad in c["invalid"].as_array().unwrap() {
            let e = ProducerConfig::default()
                .set(key, bad.as_str().unwrap())
                .unwrap_err();
            assert_eq!(e.kind, ErrorKind::Config);
            assert!(e.message.contains(key), "error names the key: {e}");
        }
    }
    for k in v["unknown_keys"].as_array().unwrap() {
        let k = k.as_str().unwrap();
        let e = ProducerConfig::default().set(k, "1").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Config);
        assert!(e.message.contains(k));
    }
}

#[test]
fn errors_table() {
    let v = load("errors.json");
    let kinds = ErrorKind::ALL;
    let cases = v["cases"].as_array().unwrap();
    assert_eq!(cases.len(), kinds.len());
    for (k, c) in kinds.iter().zip(cases) {
        assert_eq!(k.code(), c["code"].as_str().unwrap());
        assert_eq!(k.number() as i64, int(&c["number"]));
        assert_eq!(ErrorKind::from_code(c["code"].as_str().unwrap()), Some(*k));
        assert_eq!(ErrorKind::from_number(int(&c["number"])), Some(*k));
        if let Some(r) = c["retriable"].as_bool() {
            assert_eq!(k.is_retriable(), r, "{}", k.code());
        }
    }
    for c in v["fluvio_codes"].as_array().unwrap() {
        let code = int(&c["code"]) as i16;
        let ec = ErrorCode::from_code(code);
        // Every code has its own name, as in Fluvio's ErrorCode enum.
        assert_eq!(ec.name(), c["name"].as_str().unwrap(), "name of {code}");
        assert_eq!(
            ec.is_retriable(),
            c["retriable"].as_bool().unwrap(),
            "code {code}"
        );
        if code == 0 {
            continue;
        }
        let e = Error::from_code(&ec, "test");
        assert_eq!(e.kind.code(), c["maps_to"].as_str().unwrap(), "code {code}");
        assert_eq!(e.is_retriable(), c["retriable"].as_bool().unwrap());
    }
}

#[test]
fn config_value_errors_name_the_key_as_spelled() {
    for (key, value) in [
        ("lingerMs", "soon"),
        ("linger_ms", "soon"),
        ("tlsCaFile", "/no/such"),
    ] {
        let e = ProducerConfig::default().set(key, value).unwrap_err();
        assert!(e.message.contains(&format!("`{key}`")), "{e}");
    }
}

/// `ProducerStats::fields()` is the shared list, in its order (Java's `fromArray` reads it by position).
#[test]
fn producer_stats_fields_are_the_shared_list() {
    let v = load("config.json");
    let expected: Vec<&str> = v["stats"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    let names: Vec<&str> = headwater::producer::ProducerStats::default()
        .fields()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(names, expected);
    let s = headwater::producer::ProducerStats {
        retries: 7,
        ..Default::default()
    };
    assert!(s.fields().contains(&("retries", 7)));
}
