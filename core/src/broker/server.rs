//! The SC and SPU listeners. Each connection reads frames in order and answers through a writer task,
//! so streams (Watch, StreamFetch) can push responses while requests keep being served. A frame over
//! the limit or an undecodable request closes only that connection.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc, watch};

use super::state::*;
use super::wire::*;
use crate::protocol::api::*;
use crate::protocol::codec::{Decode, Encode, Reader};
use crate::protocol::error_code::codes;
use crate::protocol::sc::*;
use crate::protocol::spu::*;
use crate::protocol::{Compression, ErrorCode};

type Writer = mpsc::UnboundedSender<Vec<u8>>;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Role {
    Sc,
    Spu(usize),
}

/// Accepts connections until `stop` flips.
pub async fn serve(
    state: Arc<BrokerState>,
    listener: TcpListener,
    role: Role,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        if state.counters.connections.load(Ordering::SeqCst) >= state.config.max_connections {
            tracing::warn!(%peer, limit = state.config.max_connections, "refusing a connection: too many open");
            drop(stream);
            continue;
        }
        state.counters.connections.fetch_add(1, Ordering::SeqCst);
        state
            .counters
            .connections_total
            .fetch_add(1, Ordering::Relaxed);
        let st = state.clone();
        let stop = stop.clone();
        crate::runtime::spawn(async move {
            let _ = stream.set_nodelay(true);
            let result = match st.tls.clone() {
                None => {
                    let (rd, wr) = stream.into_split();
                    connection(st.clone(), rd, wr, role, stop).await
                }
                Some(acceptor) => match tokio::time::timeout(
                    crate::tls::SERVER_HANDSHAKE_TIMEOUT,
                    acceptor.accept(crate::tls::NoSigpipe(stream)),
                )
                .await
                {
                    Ok(Ok(s)) => {
                        let (rd, wr) = tokio::io::split(s);
                        connection(st.clone(), rd, wr, role, stop).await
                    }
                    Ok(Err(e)) => Err(crate::tls::describe_server_handshake_error(&e)),
                    Err(_) => Err("TLS handshake timed out".into()),
                },
            };
            if let Err(e) = result {
                tracing::warn!(%peer, ?role, "closing connection: {e}");
            }
            st.counters.connections.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

/// A StreamFetch stream of a connection: where its consumer acknowledged to, what it reads, and
/// the consumer id it was opened with (needed to commit offsets for it).
struct Session {
    acked: watch::Sender<i64>,
    topic: String,
    partition: u32,
    consumer_id: Option<String>,
}

/// Per-connection state shared with stream tasks.
struct Conn {
    state: Arc<BrokerState>,
    writer: Writer,
    role: Role,
    sessions: Mutex<HashMap<u32, Session>>,
    next_session: Mutex<u32>,
    stop: watch::Receiver<bool>,
    /// The server's own stop (an SPU stopped by a test): a request it holds must not land after it.
    server_stop: watch::Receiver<bool>,
}

impl Conn {
    fn respond<T: Encode>(&self, corr: i32, version: i16, body: &T) {
        let _ = self.writer.send(response_frame(corr, version, body));
    }
}

async fn connection<R, W>(
    state: Arc<BrokerState>,
    mut rd: R,
    mut wr: W,
    role: Role,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let writer = crate::runtime::spawn(async move {
        let mut buf = Vec::with_capacity(64 * 1024);
        while let Some(first) = rx.recv().await {
            buf.clear();
            buf.extend_from_slice(&first);
            while buf.len() < 1 << 20 {
                match rx.try_recv() {
                    Ok(f) => buf.extend_from_slice(&f),
                    Err(_) => break,
                }
            }
            if wr.write_all(&buf).await.is_err() {
                return;
            }
        }
        let _ = wr.shutdown().await;
    });
    // Fires when this connection ends for any reason, so its stream tasks end with it.
    let (conn_closed, conn_closed_rx) = watch::channel(false);
    let conn = Arc::new(Conn {
        state: state.clone(),
        writer: tx,
        role,
        sessions: Mutex::new(HashMap::new()),
        next_session: Mutex::new(0),
        stop: conn_closed_rx,
        server_stop: stop.clone(),
    });
    let result = loop {
        let frame = tokio::select! {
            f = read_frame(&mut rd, state.config.max_frame_bytes) => f,
            _ = stop.changed() => break Ok(()),
        };
        // `select!` picks at random among ready branches: a frame that arrived after the stop must
        // still not be served, or a stopped SPU would store a record sent after `stop_spu` returned.
        if *stop.borrow() {
            break Ok(());
        }
        let frame = match frame {
            Ok(Some(f)) => f,
            Ok(None) => break Ok(()),
            Err(e) => {
                if e.kind() == std::io::ErrorKind::InvalidData {
                    state
                        .counters
                        .rejected_frames
                        .fetch_add(1, Ordering::Relaxed);
                }
                break Err(e.to_string());
            }
        };
        let mut r = Reader::new(&frame);
        let header = match RequestHeader::decode(&mut r, 0) {
            Ok(h) => h,
            Err(e) => break Err(format!("undecodable request header: {e}")),
        };
        if state.faults.take_drop(header.api_key) {
            break Err(format!(
                "fault injection: dropping the connection on api {}",
                header.api_key
            ));
        }
        if let Some(d) = state.faults.delay_for(header.api_key) {
            tokio::time::sleep(d).await;
        }
        let handled = match role {
            Role::Sc => sc_request(&conn, &header, &mut r),
            Role::Spu(i) => spu_request(&conn, i, &header, &mut r).await,
        };
        if let Err(e) = handled {
            state
                .counters
                .rejected_frames
                .fetch_add(1, Ordering::Relaxed);
            break Err(format!(
                "api {} v{}: {e}",
                header.api_key, header.api_version
            ));
        }
    };
    // Ends stream tasks of this connection (they hold writer clones).
    let _ = conn_closed.send(true);
    conn.sessions.lock().unwrap().clear();
    drop(conn);
    if *stop.borrow() {
        writer.abort();
    }
    result
}

/// ApiVersions, answered like the real servers: the SC drops a connection whose client version is
/// not semver (a version-0 request has none, so it is dropped too); the SPU answers anyone, caps
/// StreamFetch at 15 for clients that send no version, and reports platform 0.0.0.
fn api_versions(conn: &Conn, h: &RequestHeader, r: &mut Reader<'_>) -> Result<(), String> {
    let req = ApiVersionsRequest::decode(r, h.api_version).map_err(|e| e.to_string())?;
    let (keys, platform): (Vec<(u16, i16, i16)>, &str) = match conn.role {
        Role::Sc => {
            if !super::wire::is_semver(&req.client_version) {
                return Err(format!(
                    "client version {:?} is not a semantic version",
                    req.client_version
                ));
            }
            (
                vec![
                    (sc_keys::CREATE, 9, 19),
                    (sc_keys::DELETE, 1, 19),
                    (sc_keys::LIST, 15, 19),
                    (sc_keys::WATCH, 15, 19),
                    (SC_MIRRORING, 14, 19),
                    (sc_keys::UPDATE, 1, 19),
                ],
                PLATFORM_VERSION,
            )
        }
        Role::Spu(_) => {
            let stream_max = if req.client_version.is_empty() {
                15
            } else {
                25
            };
            (
                vec![
                    (spu_keys::PRODUCE, 0, 25),
                    (SPU_FETCH, 0, 25),
                    (spu_keys::FETCH_OFFSETS, 25, 25),
                    (spu_keys::STREAM_FETCH, 0, stream_max),
                    (spu_keys::UPDATE_OFFSETS, 0, 0),
                ],
                SPU_PLATFORM_VERSION,
            )
        }
    };
    let resp = ApiVersionsResponse {
        error_code: ErrorCode::None,
        api_keys: keys
            .iter()
            .map(|(k, a, b)| ApiVersionKey {
                api_key: *k as i16,
                min_version: *a,
                max_version: *b,
            })
            .collect(),
        platform_version: platform.into(),
    };
    conn.respond(h.correlation_id, h.api_version, &resp);
    Ok(())
}

/// SC Mirroring (advertised like the real SC; mirroring itself is not implemented).
const SC_MIRRORING: u16 = 1005;
/// SPU keys the protocol module has no constants for.
const SPU_FETCH: u16 = 1;
const SPU_UPDATE_CONSUMER_OFFSET: u16 = 1006;
const SPU_DELETE_CONSUMER_OFFSET: u16 = 1007;
const SPU_FETCH_CONSUMER_OFFSETS: u16 = 1008;

/// Object kinds the real SC knows and this broker keeps none of: listed as empty, watched as an
/// empty store, and refused on create/delete.
const EMPTY_KINDS: &[&str] = &["SpuGroup", "SmartModule", "TableFormat"];
const UNSUPPORTED_KINDS: &[&str] = &[
    "SpuGroup",
    "SmartModule",
    "TableFormat",
    "Mirror",
    "CustomSpu",
];

/// The real SC's answer to a Create/Delete/Update of a kind it does not know.
fn unknown_kind(what: &str) -> Status {
    Status::new(
        format!("{what} error"),
        ErrorCode::Other("unknown admin object type".into()),
        None,
    )
}

// ---------------------------------------------------------------- SC

fn sc_request(conn: &Arc<Conn>, h: &RequestHeader, r: &mut Reader<'_>) -> Result<(), String> {
    let v = h.api_version;
    let st = &conn.state;
    match h.api_key {
        API_VERSIONS_KEY => api_versions(conn, h, r),
        sc_keys::WATCH => {
            let env = ObjectEnvelope::decode(r, v).map_err(|e| e.to_string())?;
            let _req: WatchRequest = env.inner(v).map_err(|e| e.to_string())?;
            let known = [LABEL_TOPIC, LABEL_PARTITION, LABEL_SPU];
            if !known.contains(&env.label.as_str()) && !EMPTY_KINDS.contains(&env.label.as_str()) {
                return Err(format!("cannot watch objects of kind {:?}", env.label));
            }
            let rx = st.changes.subscribe();
            crate::runtime::spawn(watch_stream(
                conn.clone(),
                env.label,
                h.correlation_id,
                v,
                rx,
            ));
            Ok(())
        }
        sc_keys::CREATE => {
            let env = ObjectEnvelope::decode(r, v).map_err(|e| e.to_string())?;
            let status = if env.label == LABEL_TOPIC {
                let req: CreateRequest<TopicSpec> = env.inner(v).map_err(|e| e.to_string())?;
                match super::rules::check_create(st, &req.name, &req.spec) {
                    Some(status) => status,
                    None if req.dry_run => Status::ok(req.name),
                    None => match st.create_topic(&req.name, req.spec) {
                        Ok(()) => Status::ok(req.name),
                        Err((code, msg)) => {
                            Status::new(req.name, ErrorCode::from_code(code), Some(msg))
                        }
                    },
                }
            } else if UNSUPPORTED_KINDS.contains(&env.label.as_str()) {
                unsupported("creating", &env.label)
            } else {
                unknown_kind("create")
            };
            conn.respond(h.correlation_id, v, &status);
            Ok(())
        }
        sc_keys::DELETE => {
            let env = ObjectEnvelope::decode(r, v).map_err(|e| e.to_string())?;
            let status = if env.label == LABEL_TOPIC {
                let req: DeleteRequest = env.inner(v).map_err(|e| e.to_string())?;
                match st.delete_topic(&req.key, req.force) {
                    Ok(()) => Status::ok(req.key),
                    Err(code) if code.code() == codes::TOPIC_NOT_FOUND => {
                        Status::new(req.key, code, Some("not found".into()))
                    }
                    Err(code) => Status::new(req.key, code, None),
                }
            } else if UNSUPPORTED_KINDS.contains(&env.label.as_str()) {
                unsupported("deleting", &env.label)
            } else {
                // (sic: the real SC names a failed delete of an unknown kind a "create error")
                unknown_kind("create")
            };
            conn.respond(h.correlation_id, v, &status);
            Ok(())
        }
        sc_keys::LIST => {
            let env = ObjectEnvelope::decode(r, v).map_err(|e| e.to_string())?;
            let req: ListRequest = env.inner(v).map_err(|e| e.to_string())?;
            let matches = |name: &str| {
                req.name_filters.is_empty()
                    || req.name_filters.iter().any(|f| name.contains(&f.name))
            };
            let out = match env.label.as_str() {
                LABEL_TOPIC => {
                    let list: Vec<TopicMetadata> = st
                        .all_topics()
                        .into_iter()
                        .filter(|t| t.spec.system == req.system && matches(&t.name))
                        .collect();
                    ObjectEnvelope::new(LABEL_TOPIC, &list, v)
                }
                LABEL_PARTITION => {
                    let list: Vec<PartitionMetadata> = st
                        .all_partitions()
                        .into_iter()
                        .filter(|p| p.spec.system == req.system)
                        .collect();
                    ObjectEnvelope::new(LABEL_PARTITION, &list, v)
                }
                LABEL_SPU => {
                    let list: Vec<SpuMetadata> = st
                        .all_spus()
                        .into_iter()
                        .filter(|s| matches(&s.name))
                        .collect();
                    ObjectEnvelope::new(LABEL_SPU, &list, v)
                }
                "CustomSpu" => {
                    // Every SPU of this broker is a custom (registered) one.
                    let list: Vec<Metadata<super::wire::CustomSpu, SpuStatus>> = st
                        .all_spus()
                        .into_iter()
                        .filter(|s| matches(&s.name))
                        .map(|s| Metadata {
                            name: s.name,
                            spec: super::wire::CustomSpu {
                                id: s.spec.id,
                                public_endpoint: s.spec.public_endpoint,
                                private_endpoint: s.spec.private_endpoint,
                                rack: s.spec.rack,
                                public_endpoint_local: s.spec.public_endpoint_local,
                            },
                            status: s.status,
                        })
                        .collect();
                    ObjectEnvelope::new("CustomSpu", &list, v)
                }
                other if EMPTY_KINDS.contains(&other) || other == "Mirror" => ObjectEnvelope {
                    label: other.to_string(),
                    payload: 0u32.to_be_bytes().to_vec(),
                },
                other => return Err(format!("cannot list objects of kind {other:?}")),
            };
            conn.respond(h.correlation_id, v, &out);
            Ok(())
        }
        sc_keys::UPDATE => {
            let env = ObjectEnvelope::decode(r, v).map_err(|e| e.to_string())?;
            let status = if env.label == LABEL_TOPIC {
                let mut inner = Reader::new(&env.payload);
                let key = String::decode(&mut inner, v).map_err(|e| e.to_string())?;
                let topics = st.topics.read().unwrap();
                match topics.get(&key) {
                    None => Status::new(
                        key,
                        ErrorCode::Plain(codes::TOPIC_NOT_FOUND),
                        Some("not found".into()),
                    ),
                    Some(t) if t.spec.system => Status::new(
                        key.clone(),
                        ErrorCode::SystemSpec {
                            tag: 12002,
                            kind: "topic".into(),
                            name: key,
                        },
                        None,
                    ),
                    Some(_) => unsupported("updating", LABEL_TOPIC),
                }
            } else if UNSUPPORTED_KINDS.contains(&env.label.as_str()) {
                unsupported("updating", &env.label)
            } else {
                unknown_kind("update")
            };
            conn.respond(h.correlation_id, v, &status);
            Ok(())
        }
        k => Err(format!("unknown SC api key {k}")),
    }
}

/// The answer to an SC object operation the embedded broker does not implement.
fn unsupported(what: &str, label: &str) -> Status {
    Status::new(
        "",
        ErrorCode::Other(format!(
            "{what} {label} objects is not supported by the embedded broker"
        )),
        None,
    )
}

fn full_sync(st: &BrokerState, label: &str, v: i16) -> Option<ObjectEnvelope> {
    let epoch = st.epoch.load(Ordering::SeqCst);
    Some(match label {
        LABEL_TOPIC => ObjectEnvelope::new(
            label,
            &MetadataUpdate {
                epoch,
                changes: vec![],
                all: st.all_topics(),
            },
            v,
        ),
        LABEL_PARTITION => ObjectEnvelope::new(
            label,
            &MetadataUpdate {
                epoch,
                changes: vec![],
                all: st.all_partitions(),
            },
            v,
        ),
        LABEL_SPU => ObjectEnvelope::new(
            label,
            &MetadataUpdate {
                epoch,
                changes: vec![],
                all: st.all_spus(),
            },
            v,
        ),
        _ => return None,
    })
}

async fn watch_stream(
    conn: Arc<Conn>,
    label: String,
    corr: i32,
    v: i16,
    mut rx: broadcast::Receiver<Change>,
) {
    let st = conn.state.clone();
    let Some(first) = full_sync(&st, &label, v) else {
        // Kinds the broker keeps none of: one update of an empty store, then nothing.
        let empty: MetadataUpdate<TopicMetadata> = MetadataUpdate {
            epoch: st.epoch.load(Ordering::SeqCst),
            changes: vec![],
            all: vec![],
        };
        conn.respond(corr, v, &ObjectEnvelope::new(&label, &empty, v));
        return;
    };
    conn.respond(corr, v, &first);
    let mut stop = conn.stop.clone();
    loop {
        let change = tokio::select! {
            c = rx.recv() => c,
            _ = stop.changed() => return,
        };
        let epoch = st.epoch.load(Ordering::SeqCst);
        let env = match change {
            Ok(Change::Topic(h, m)) if label == LABEL_TOPIC => ObjectEnvelope::new(
                &label,
                &MetadataUpdate {
                    epoch,
                    changes: vec![Message {
                        header: h,
                        content: m,
                    }],
                    all: vec![],
                },
                v,
            ),
            Ok(Change::Partition(h, m)) if label == LABEL_PARTITION => ObjectEnvelope::new(
                &label,
                &MetadataUpdate {
                    epoch,
                    changes: vec![Message {
                        header: h,
                        content: m,
                    }],
                    all: vec![],
                },
                v,
            ),
            Ok(Change::Spu(h, m)) if label == LABEL_SPU => ObjectEnvelope::new(
                &label,
                &MetadataUpdate {
                    epoch,
                    changes: vec![Message {
                        header: h,
                        content: m,
                    }],
                    all: vec![],
                },
                v,
            ),
            Ok(_) => continue,
            Err(broadcast::error::RecvError::Lagged(_)) => match full_sync(&st, &label, v) {
                Some(e) => e,
                None => return,
            },
            Err(broadcast::error::RecvError::Closed) => return,
        };
        if conn.writer.send(response_frame(corr, v, &env)).is_err() {
            return;
        }
    }
}

// ---------------------------------------------------------------- SPU

async fn spu_request(
    conn: &Arc<Conn>,
    spu: usize,
    h: &RequestHeader,
    r: &mut Reader<'_>,
) -> Result<(), String> {
    let v = h.api_version;
    let st = conn.state.clone();
    match h.api_key {
        API_VERSIONS_KEY => api_versions(conn, h, r),
        spu_keys::PRODUCE => {
            let req = ProduceReq::decode(r, v).map_err(|e| e.to_string())?;
            if req.smartmodules.iter().any(|sm| sm.unavailable().is_none()) {
                return Err("ad-hoc smart modules cannot run in the embedded broker".into());
            }
            // A paused SPU holds requests (back-pressure tests); a stopped one drops the connection.
            let mut paused = st.spus[spu].paused.subscribe();
            let mut stop = conn.stop.clone();
            let mut server_stop = conn.server_stop.clone();
            while *paused.borrow_and_update() {
                tokio::select! {
                    _ = paused.changed() => {}
                    _ = stop.changed() => return Ok(()),
                    _ = server_stop.changed() => return Ok(()),
                }
            }
            if *server_stop.borrow() {
                return Ok(()); // stopped while held: no answer and nothing stored, as from a dead process
            }
            let (acks, timeout_ms) = (req.acks, req.timeout_ms);
            let (mut resp, ends) = produce(&st, spu, req);
            if acks < 0 {
                // Read committed: answer once every in-sync replica has the records (the high
                // watermark passed their end), or say RequestTimedOut after timeout_ms.
                let deadline =
                    std::time::Instant::now() + std::time::Duration::from_millis(timeout_ms as u64);
                let entries = resp
                    .responses
                    .iter_mut()
                    .flat_map(|t| t.partitions.iter_mut());
                for (entry, end) in entries.zip(ends) {
                    let Some((part, end)) = end else { continue };
                    match wait_committed(&part, end, deadline, &mut conn.stop.clone()).await {
                        Some(true) => {}
                        Some(false) => {
                            entry.error_code = ErrorCode::RequestTimedOut {
                                timeout_ms: timeout_ms as u64,
                                kind: 0,
                            };
                        }
                        None => return Ok(()), // this SPU stopped: no answer, as from a dead process
                    }
                }
            }
            conn.respond(h.correlation_id, v, &resp);
            Ok(())
        }
        SPU_FETCH => {
            let req = FetchReq::decode(r, v).map_err(|e| e.to_string())?;
            let topics = req
                .topics
                .iter()
                .map(|t| FetchableTopicResponse {
                    name: t.name.clone(),
                    partitions: t
                        .fetch_partitions
                        .iter()
                        .map(|p| {
                            let limit = req.max_bytes as u32 as usize;
                            match led_partition(&st, spu, &t.name, p.partition_index) {
                                None => FetchablePartitionResponse {
                                    partition_index: p.partition_index,
                                    error_code: ErrorCode::Plain(codes::NOT_LEADER_FOR_PARTITION),
                                    ..Default::default()
                                },
                                Some(part) => match read_slice(
                                    &part,
                                    p.fetch_offset,
                                    limit,
                                    req.isolation == ISOLATION_READ_COMMITTED,
                                ) {
                                    Ok(slice) => FetchablePartitionResponse {
                                        partition_index: p.partition_index,
                                        high_watermark: slice.hw,
                                        log_start_offset: slice.start,
                                        records: RecordSet(slice.data),
                                        ..Default::default()
                                    },
                                    Err(code) => FetchablePartitionResponse {
                                        partition_index: p.partition_index,
                                        error_code: code,
                                        ..Default::default()
                                    },
                                },
                            }
                        })
                        .collect(),
                })
                .collect();
            let resp = FetchResponse {
                topics,
                ..Default::default()
            };
            conn.respond(h.correlation_id, v, &resp);
            Ok(())
        }
        spu_keys::FETCH_OFFSETS => {
            let req = FetchOffsetsRequest::decode(r, v).map_err(|e| e.to_string())?;
            let topics = req
                .topics
                .into_iter()
                .map(|t| FetchOffsetTopicResponse {
                    partitions: t
                        .partitions
                        .iter()
                        .map(
                            |p| match led_partition(&st, spu, &t.name, p.partition_index) {
                                Some(part) => FetchOffsetPartitionResponse {
                                    error_code: ErrorCode::None,
                                    partition_index: p.partition_index,
                                    start_offset: part.log().log_start(),
                                    // The real SPU answers the high watermark here.
                                    last_stable_offset: part.high_watermark(),
                                },
                                None => FetchOffsetPartitionResponse {
                                    error_code: ErrorCode::Plain(codes::PARTITION_NOT_LEADER),
                                    partition_index: p.partition_index,
                                    start_offset: 0,
                                    last_stable_offset: 0,
                                },
                            },
                        )
                        .collect(),
                    name: t.name,
                })
                .collect();
            conn.respond(h.correlation_id, v, &FetchOffsetsResponse { topics });
            Ok(())
        }
        spu_keys::STREAM_FETCH => {
            let req = StreamFetchReq::decode(r, v).map_err(|e| e.to_string())?;
            let Some(part) = led_partition(&st, spu, &req.topic, req.partition) else {
                let resp = StreamFetchResponse {
                    topic: req.topic.clone(),
                    stream_id: 0,
                    partition: FetchablePartitionResponse {
                        partition_index: req.partition,
                        error_code: ErrorCode::Plain(codes::NOT_LEADER_FOR_PARTITION),
                        ..Default::default()
                    },
                };
                conn.respond(h.correlation_id, v, &resp);
                return Ok(());
            };
            // A smart module the broker cannot run: no stream at all, like a request it cannot read.
            let sm_error = match req.smartmodules.first() {
                Some(sm) => Some(sm.unavailable().ok_or_else(|| {
                    "ad-hoc smart modules cannot run in the embedded broker".to_string()
                })?),
                None => None,
            };
            let id = {
                let mut n = conn.next_session.lock().unwrap();
                *n += 1;
                *n
            };
            let (tx, rx) = watch::channel(-1i64);
            conn.sessions.lock().unwrap().insert(
                id,
                Session {
                    acked: tx,
                    topic: req.topic.clone(),
                    partition: req.partition,
                    consumer_id: req.consumer_id.clone(),
                },
            );
            if let Some(code) = sm_error {
                // The engine opens the stream, then reports that the module is not there.
                let resp = StreamFetchResponse {
                    topic: req.topic.clone(),
                    stream_id: id,
                    partition: FetchablePartitionResponse {
                        partition_index: req.partition,
                        error_code: code,
                        ..Default::default()
                    },
                };
                conn.respond(h.correlation_id, v, &resp);
                return Ok(());
            }
            crate::runtime::spawn(stream_fetch(
                conn.clone(),
                part,
                req,
                h.correlation_id,
                v,
                id,
                rx,
            ));
            Ok(())
        }
        spu_keys::UPDATE_OFFSETS => {
            let req = UpdateOffsetsRequest::decode(r, v).map_err(|e| e.to_string())?;
            let sessions = conn.sessions.lock().unwrap();
            let status = req
                .offsets
                .iter()
                .map(|u| OffsetUpdateStatus {
                    session_id: u.session_id,
                    error: match sessions.get(&u.session_id) {
                        Some(s) => {
                            s.acked.send_replace(u.offset);
                            ErrorCode::None
                        }
                        None => ErrorCode::Plain(codes::FETCH_SESSION_NOT_FOUND),
                    },
                })
                .collect();
            drop(sessions);
            conn.respond(h.correlation_id, v, &UpdateOffsetsResponse { status });
            Ok(())
        }
        SPU_UPDATE_CONSUMER_OFFSET => {
            let req = UpdateConsumerOffsetRequest::decode(r, v).map_err(|e| e.to_string())?;
            let target = conn
                .sessions
                .lock()
                .unwrap()
                .get(&req.session_id)
                .map(|s| (s.topic.clone(), s.partition, s.consumer_id.clone()));
            // Any SPU takes a commit (the real one forwards it to the consumer-offset leader).
            let (offset, error_code) = match target {
                None => (0, ErrorCode::Plain(codes::FETCH_SESSION_NOT_FOUND)),
                Some((_, _, None)) => (0, ErrorCode::Other("stream without consumer id".into())),
                Some((topic, partition, Some(consumer))) => {
                    st.commit_offset((topic, partition, consumer), req.offset);
                    (req.offset, ErrorCode::None)
                }
            };
            let resp = UpdateConsumerOffsetResponse { offset, error_code };
            conn.respond(h.correlation_id, v, &resp);
            Ok(())
        }
        SPU_DELETE_CONSUMER_OFFSET => {
            let req = DeleteConsumerOffsetRequest::decode(r, v).map_err(|e| e.to_string())?;
            let error_code = if leads_consumer_offsets(&st, spu) {
                st.delete_offset(&(
                    req.replica_id.topic,
                    req.replica_id.partition,
                    req.consumer_id,
                ));
                ErrorCode::None
            } else {
                ErrorCode::Plain(codes::PARTITION_NOT_LEADER)
            };
            let resp = DeleteConsumerOffsetResponse { error_code };
            conn.respond(h.correlation_id, v, &resp);
            Ok(())
        }
        SPU_FETCH_CONSUMER_OFFSETS => {
            let req = FetchConsumerOffsetsRequest::decode(r, v).map_err(|e| e.to_string())?;
            let resp = if leads_consumer_offsets(&st, spu) {
                let filter = req.filter_opts.unwrap_or_default();
                let consumers = st
                    .consumer_offsets
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|((topic, partition, consumer), _)| {
                        filter
                            .replica_id
                            .as_ref()
                            .is_none_or(|k| k.topic == *topic && k.partition == *partition)
                            && filter.consumer_id.as_ref().is_none_or(|c| c == consumer)
                    })
                    .map(|((topic, partition, consumer), c)| ConsumerOffset {
                        consumer_id: consumer.clone(),
                        replica_id: ReplicaKey {
                            topic: topic.clone(),
                            partition: *partition,
                        },
                        offset: c.offset,
                        modified_time: c.modified_time,
                    })
                    .collect();
                FetchConsumerOffsetsResponse {
                    error_code: ErrorCode::None,
                    consumers,
                }
            } else {
                FetchConsumerOffsetsResponse {
                    error_code: ErrorCode::Plain(codes::PARTITION_NOT_LEADER),
                    consumers: vec![],
                }
            };
            conn.respond(h.correlation_id, v, &resp);
            Ok(())
        }
        k => Err(format!("unknown SPU api key {k}")),
    }
}

/// The partition if this SPU leads it.
fn led_partition(st: &BrokerState, spu: usize, topic: &str, index: u32) -> Option<Arc<Partition>> {
    st.partition(topic, index)
        .filter(|p| p.leader() == st.spus[spu].id)
}

/// Whether this SPU leads `consumer-offset-0`, where committed offsets live.
fn leads_consumer_offsets(st: &BrokerState, spu: usize) -> bool {
    led_partition(st, spu, SYSTEM_TOPIC, 0).is_some()
}

/// What a read returns besides the bytes: the high watermark and the log start.
struct Slice {
    data: Vec<u8>,
    hw: i64,
    start: i64,
}

/// One read as the real SPU makes it (see `PartitionLog::read`), with its errors: a start beyond
/// the log end is `Other("start offset: … is greater than leo: …")`, one below the log start is
/// `OffsetEvicted`.
fn read_slice(
    part: &Partition,
    from: i64,
    max_bytes: usize,
    committed: bool,
) -> Result<Slice, ErrorCode> {
    let log = part.log();
    let (leo, start, hw) = (log.leo(), log.log_start(), part.high_watermark());
    if from > leo {
        return Err(ErrorCode::Other(format!(
            "start offset: {from} is greater than leo: {leo}"
        )));
    }
    if from < start {
        return Err(ErrorCode::OffsetEvicted {
            offset: from,
            next_available: start,
        });
    }
    let until = if committed { hw } else { leo };
    Ok(Slice {
        data: log.read(from, max_bytes, until),
        hw,
        start,
    })
}

/// Waits until `part`'s high watermark reaches `end`: `Some(true)`, `Some(false)` at the deadline,
/// `None` if the connection is stopping.
async fn wait_committed(
    part: &Partition,
    end: i64,
    deadline: std::time::Instant,
    stop: &mut watch::Receiver<bool>,
) -> Option<bool> {
    let mut hw = part.hw.subscribe();
    loop {
        if *hw.borrow_and_update() >= end {
            return Some(true);
        }
        if part.deleted.load(Ordering::SeqCst) {
            return Some(false);
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Some(false);
        }
        tokio::select! {
            r = crate::runtime::timeout(left, hw.changed()) => if matches!(r, Some(Err(_))) { return Some(false) },
            _ = stop.changed() => return None,
        }
    }
}

/// Appends what a produce request carries. Besides the response, returns for each partition entry
/// (positionally) the partition and end offset it wrote, for read-committed acknowledgement.
type WrittenEnds = Vec<Option<(Arc<Partition>, i64)>>;

/// Each partition entry is handled as the real SPU does, in its order: a partition this SPU does
/// not lead is NotLeaderForPartition (unknown topics too); a requested smart module is not found;
/// an entry whose batches hold no records is a success that writes nothing (base offset 0); every
/// batch's codec must be known and allowed by the topic (CompressionError); then the batches are
/// appended and the answer is the log end before them. One difference is deliberate: an empty batch
/// among non-empty ones fails the entry (StorageError) before anything is written, where the real
/// SPU writes the batches before it, leaves them uncommitted and refuses every later write to that
/// partition until it restarts.
fn produce(st: &BrokerState, spu: usize, req: ProduceReq<'_>) -> (ProduceResponse, WrittenEnds) {
    st.counters.produce_requests.fetch_add(1, Ordering::Relaxed);
    let injected = st.faults.take_failure(spu_keys::PRODUCE);
    let sm_error = req.smartmodules.iter().find_map(|sm| sm.unavailable());
    let mut touched: Vec<Arc<Partition>> = Vec::new();
    let mut ends: WrittenEnds = Vec::new();
    let responses = req
        .topics
        .into_iter()
        .map(|(topic, entries)| {
            let policy = st
                .topics
                .read()
                .unwrap()
                .get(&topic)
                .map(|x| x.spec.compression_type);
            let partitions = entries
                .into_iter()
                .map(|(idx, batches)| {
                    ends.push(None); // replaced below when this entry is written
                    let fail = |code: ErrorCode| PartitionProduceResponse {
                        partition_index: idx,
                        error_code: code,
                        base_offset: 0,
                        ..Default::default()
                    };
                    if let Some(code) = injected {
                        return fail(ErrorCode::from_code(code));
                    }
                    let (Some(part), Some(policy)) = (led_partition(st, spu, &topic, idx), policy)
                    else {
                        return fail(ErrorCode::Plain(codes::NOT_LEADER_FOR_PARTITION));
                    };
                    if let Some(code) = &sm_error {
                        return fail(code.clone());
                    }
                    let total: i64 = batches.iter().map(|b| b.records()).sum();
                    if total == 0 {
                        return PartitionProduceResponse {
                            partition_index: idx,
                            ..Default::default()
                        };
                    }
                    for b in &batches {
                        match Compression::from_attributes(b.header.attributes) {
                            Ok(c) if policy.allows(c) => {}
                            _ => return fail(ErrorCode::Plain(codes::COMPRESSION_ERROR)),
                        }
                    }
                    let segment_size = part.log().segment_size();
                    for b in &batches {
                        let size = b.bytes.len();
                        if size as u64 > segment_size || size > st.config.max_batch_bytes {
                            return fail(ErrorCode::Plain(codes::MESSAGE_TOO_LARGE));
                        }
                    }
                    if batches.iter().any(|b| b.records() == 0) {
                        return fail(ErrorCode::Plain(codes::STORAGE_ERROR));
                    }
                    let slices: Vec<&[u8]> = batches.iter().map(|b| &*b.bytes).collect();
                    let res = part.log().append_slices(&slices, &st.storage);
                    match res {
                        Ok(base) => {
                            if !touched.iter().any(|x| Arc::ptr_eq(x, &part)) {
                                touched.push(part.clone());
                            }
                            *ends.last_mut().expect("pushed for this entry") =
                                Some((part.clone(), base + total));
                            PartitionProduceResponse {
                                partition_index: idx,
                                error_code: ErrorCode::None,
                                base_offset: base,
                                ..Default::default()
                            }
                        }
                        Err(e) => {
                            tracing::error!(%topic, partition = idx, "append failed: {e}");
                            fail(ErrorCode::Plain(codes::STORAGE_ERROR))
                        }
                    }
                })
                .collect();
            TopicProduceResponse {
                name: topic,
                partitions,
            }
        })
        .collect();
    // Durability first, then visibility: readers see records only once they are synced per policy.
    for p in &touched {
        if let Err(e) = p.log().sync(&st.storage, false) {
            tracing::error!("fsync failed: {e}");
        }
        p.notify();
    }
    (
        ProduceResponse {
            responses,
            throttle_time_ms: 0,
        },
        ends,
    )
}

/// Serves one StreamFetch stream like the real SPU: nothing is sent while there is nothing to
/// read; each response carries what one read returns (cut at `max_bytes`, so possibly a partial
/// batch, and nothing at all with `max_bytes` 0); after a response the stream waits for the
/// consumer's UpdateOffsets and continues from the acknowledged offset. A read error (start beyond
/// the log end, evicted offset) or the topic's deletion ends the stream with one error response.
async fn stream_fetch(
    conn: Arc<Conn>,
    part: Arc<Partition>,
    req: StreamFetchReq,
    corr: i32,
    v: i16,
    stream_id: u32,
    mut acked: watch::Receiver<i64>,
) {
    let st = conn.state.clone();
    // Read committed follows the high watermark, read uncommitted the leader's log end.
    let committed = req.isolation == ISOLATION_READ_COMMITTED;
    let mut end_rx = if committed {
        part.hw.subscribe()
    } else {
        part.leo.subscribe()
    };
    let mut stop = conn.stop.clone();
    let max_bytes = req.byte_limit();
    let mut pos = req.fetch_offset;
    let respond = |code: ErrorCode, hw: i64, start: i64, records: Vec<u8>| {
        let resp = StreamFetchResponse {
            topic: req.topic.clone(),
            stream_id,
            partition: FetchablePartitionResponse {
                partition_index: req.partition,
                error_code: code,
                high_watermark: hw,
                next_filter_offset: 0,
                log_start_offset: start,
                aborted: None,
                records: RecordSet(records),
            },
        };
        conn.writer.send(response_frame(corr, v, &resp)).is_ok()
    };
    // Error responses carry zeros besides the code, as the real SPU's do.
    let fail = |code: ErrorCode| {
        respond(code, 0, 0, vec![]);
    };
    let mut first = true;
    loop {
        if part.deleted.load(Ordering::SeqCst) {
            fail(ErrorCode::Plain(codes::TOPIC_DELETED));
            return;
        }
        // The first read happens at once (its errors are reported); later ones once there is
        // something beyond the position.
        if first || *end_rx.borrow_and_update() > pos {
            let slice = match read_slice(&part, pos, max_bytes, committed) {
                Ok(s) => s,
                Err(code) if first => {
                    fail(code);
                    return;
                }
                // Retention passed a slow consumer: report it, as the first read would.
                Err(code @ ErrorCode::OffsetEvicted { .. }) => {
                    fail(code);
                    return;
                }
                Err(_) => Slice {
                    data: vec![],
                    hw: 0,
                    start: 0,
                },
            };
            first = false;
            if !slice.data.is_empty() {
                st.counters.fetch_responses.fetch_add(1, Ordering::Relaxed);
                if !respond(ErrorCode::None, slice.hw, slice.start, slice.data) {
                    return;
                }
                // Flow control: the consumer acknowledges with UpdateOffsets before it gets more.
                tokio::select! {
                    r = acked.changed() => if r.is_err() { return },
                    _ = stop.changed() => return,
                }
                pos = *acked.borrow_and_update();
                continue;
            }
        }
        // Nothing to send (yet): wait for the log to grow (or the topic to go).
        end_rx.borrow_and_update();
        tokio::select! {
            r = end_rx.changed() => if r.is_err() { return },
            r = acked.changed() => {
                if r.is_err() { return }
                pos = *acked.borrow_and_update();
            }
            _ = stop.changed() => return,
        }
    }
}
