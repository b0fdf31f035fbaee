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
use crate::protocol::api::*;
use crate::protocol::batch::split_batches;
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

/// Per-connection state shared with stream tasks.
struct Conn {
    state: Arc<BrokerState>,
    writer: Writer,
    role: Role,
    sessions: Mutex<HashMap<u32, watch::Sender<i64>>>,
    next_session: Mutex<u32>,
    stop: watch::Receiver<bool>,
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
    });
    let result = loop {
        let frame = tokio::select! {
            f = read_frame(&mut rd, state.config.max_frame_bytes) => f,
            _ = stop.changed() => break Ok(()),
        };
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

fn api_versions(conn: &Conn, h: &RequestHeader, r: &mut Reader<'_>) -> Result<(), String> {
    let req = ApiVersionsRequest::decode(r, h.api_version).map_err(|e| e.to_string())?;
    let keys: &[(u16, i16, i16)] = match conn.role {
        Role::Sc => &[
            (1001, 9, 19),
            (1002, 1, 19),
            (1003, 15, 19),
            (1004, 15, 19),
            (1006, 1, 19),
        ],
        Role::Spu(_) => &[(0, 0, 25), (1002, 0, 25), (1003, 0, 25), (1005, 0, 0)],
    };
    let _ = req;
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
        platform_version: PLATFORM_VERSION.into(),
    };
    conn.respond(h.correlation_id, h.api_version, &resp);
    Ok(())
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
                let res = if req.dry_run {
                    Ok(())
                } else {
                    st.create_topic(&req.name, req.spec)
                };
                match res {
                    Ok(()) => Status::ok(req.name),
                    Err((code, msg)) => {
                        Status::new(req.name, ErrorCode::from_code(code), Some(msg))
                    }
                }
            } else {
                unsupported("creating", &env.label)
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
                    Err(code) => Status::new(req.key, code, None),
                }
            } else {
                unsupported("deleting", &env.label)
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
                other => ObjectEnvelope {
                    label: other.to_string(),
                    payload: 0u32.to_be_bytes().to_vec(),
                },
            };
            conn.respond(h.correlation_id, v, &out);
            Ok(())
        }
        sc_keys::UPDATE => {
            conn.respond(h.correlation_id, v, &unsupported("updating", "topic"));
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
        // Unknown kinds get one empty update (clients ignore it) and nothing more.
        let empty = ObjectEnvelope {
            label: label.clone(),
            payload: [0u8; 16].to_vec(),
        };
        conn.respond(corr, v, &empty);
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
            let req = ProduceRequestRef::decode(r, v).map_err(|e| e.to_string())?;
            // A paused SPU holds requests (back-pressure tests); a stopped one drops the connection.
            let mut paused = st.spus[spu].paused.subscribe();
            let mut stop = conn.stop.clone();
            while *paused.borrow_and_update() {
                tokio::select! {
                    _ = paused.changed() => {}
                    _ = stop.changed() => return Ok(()),
                }
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
        spu_keys::FETCH_OFFSETS => {
            let req = FetchOffsetsRequest::decode(r, v).map_err(|e| e.to_string())?;
            let topics = req
                .topics
                .into_iter()
                .map(|t| FetchOffsetTopicResponse {
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| match st.partition(&t.name, p.partition_index) {
                            Some(part) if part.leader() == st.spus[spu].id => {
                                let log = part.log();
                                FetchOffsetPartitionResponse {
                                    error_code: ErrorCode::None,
                                    partition_index: p.partition_index,
                                    start_offset: log.log_start(),
                                    // The real SPU answers the high watermark here.
                                    last_stable_offset: part.high_watermark(),
                                }
                            }
                            _ => FetchOffsetPartitionResponse {
                                error_code: ErrorCode::Plain(codes::PARTITION_NOT_LEADER),
                                partition_index: p.partition_index,
                                start_offset: -1,
                                last_stable_offset: -1,
                            },
                        })
                        .collect(),
                    name: t.name,
                })
                .collect();
            conn.respond(h.correlation_id, v, &FetchOffsetsResponse { topics });
            Ok(())
        }
        spu_keys::STREAM_FETCH => {
            let req = StreamFetchRequest::decode(r, v).map_err(|e| e.to_string())?;
            match st
                .partition(&req.topic, req.partition)
                .filter(|p| p.leader() == st.spus[spu].id)
            {
                None => {
                    let resp = StreamFetchResponse {
                        topic: req.topic.clone(),
                        stream_id: 0,
                        partition: FetchablePartitionResponse {
                            partition_index: req.partition,
                            error_code: ErrorCode::Plain(codes::NOT_LEADER_FOR_PARTITION),
                            high_watermark: -1,
                            ..Default::default()
                        },
                    };
                    conn.respond(h.correlation_id, v, &resp);
                }
                Some(part) => {
                    let id = {
                        let mut n = conn.next_session.lock().unwrap();
                        *n += 1;
                        *n
                    };
                    let (tx, rx) = watch::channel(-1i64);
                    conn.sessions.lock().unwrap().insert(id, tx);
                    crate::runtime::spawn(stream_fetch(
                        conn.clone(),
                        part,
                        req,
                        h.correlation_id,
                        v,
                        id,
                        rx,
                    ));
                }
            }
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
                        Some(tx) => {
                            tx.send_replace(u.offset);
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
        k => Err(format!("unknown SPU api key {k}")),
    }
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

fn produce(
    st: &BrokerState,
    spu: usize,
    req: ProduceRequestRef<'_>,
) -> (ProduceResponse, WrittenEnds) {
    st.counters.produce_requests.fetch_add(1, Ordering::Relaxed);
    let injected = st.faults.take_failure(spu_keys::PRODUCE);
    let spu_id = st.spus[spu].id;
    let mut touched: Vec<Arc<Partition>> = Vec::new();
    let mut ends: WrittenEnds = Vec::new();
    let responses = req
        .topics
        .into_iter()
        .map(|t| {
            let compression = st
                .topics
                .read()
                .unwrap()
                .get(&t.0)
                .map(|x| x.spec.compression_type);
            let partitions = t
                .1
                .into_iter()
                .map(|(idx, data)| {
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
                    let Some(policy) = compression else {
                        return fail(ErrorCode::Plain(codes::TOPIC_NOT_FOUND));
                    };
                    let Some(part) = st.partition(&t.0, idx).filter(|x| x.leader() == spu_id)
                    else {
                        return fail(ErrorCode::Plain(codes::NOT_LEADER_FOR_PARTITION));
                    };
                    let (batches, used) = split_batches(data);
                    if used != data.len() {
                        return fail(ErrorCode::Other(format!(
                            "malformed record batch at byte {used} of {}",
                            data.len()
                        )));
                    }
                    let total: i64 = batches.iter().map(|(h, _)| h.record_count().max(0)).sum();
                    if total == 0 {
                        return PartitionProduceResponse {
                            partition_index: idx,
                            ..Default::default()
                        };
                    }
                    for (h, b) in &batches {
                        match Compression::from_attributes(h.attributes) {
                            Ok(c) if policy.allows(c) => {}
                            _ => return fail(ErrorCode::Plain(codes::COMPRESSION_ERROR)),
                        }
                        if h.last_offset_delta < 0 {
                            return fail(ErrorCode::Plain(codes::STORAGE_ERROR));
                        }
                        if b.len() > st.config.max_batch_bytes {
                            return fail(ErrorCode::Plain(codes::MESSAGE_TOO_LARGE));
                        }
                    }
                    let slices: Vec<&[u8]> = batches.iter().map(|(_, b)| *b).collect();
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
                            tracing::error!(topic = %t.0, partition = idx, "append failed: {e}");
                            fail(ErrorCode::Plain(codes::STORAGE_ERROR))
                        }
                    }
                })
                .collect();
            TopicProduceResponse {
                name: t.0,
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

async fn stream_fetch(
    conn: Arc<Conn>,
    part: Arc<Partition>,
    req: StreamFetchRequest,
    corr: i32,
    v: i16,
    stream_id: u32,
    mut acked: watch::Receiver<i64>,
) {
    let st = conn.state.clone();
    // Read committed follows the high watermark, read uncommitted the leader's log end.
    let committed = req.isolation == ISOLATION_READ_COMMITTED;
    let mut leo_rx = if committed {
        part.hw.subscribe()
    } else {
        part.leo.subscribe()
    };
    let mut stop = conn.stop.clone();
    let max_bytes = req.max_bytes.max(1) as usize;
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
    {
        let log = part.log();
        if pos > log.leo() {
            respond(
                ErrorCode::Other(format!(
                    "start offset: {pos} is greater than leo: {}",
                    log.leo()
                )),
                log.leo(),
                log.log_start(),
                vec![],
            );
            return;
        }
    }
    loop {
        // Wait for records beyond `pos`.
        loop {
            if part.deleted.load(Ordering::SeqCst) {
                respond(ErrorCode::Plain(codes::TOPIC_DELETED), -1, -1, vec![]);
                return;
            }
            if *leo_rx.borrow_and_update() > pos {
                break;
            }
            tokio::select! {
                r = leo_rx.changed() => if r.is_err() { return },
                _ = stop.changed() => return,
            }
        }
        let (data, hw, start) = {
            let log = part.log();
            if pos < log.log_start() {
                let start = log.log_start();
                drop(log);
                respond(
                    ErrorCode::OffsetEvicted {
                        offset: pos,
                        next_available: start,
                    },
                    -1,
                    start,
                    vec![],
                );
                return;
            }
            (
                log.read(
                    pos,
                    max_bytes,
                    if committed {
                        part.high_watermark()
                    } else {
                        log.leo()
                    },
                ),
                part.high_watermark(),
                log.log_start(),
            )
        };
        if data.is_empty() {
            return;
        }
        st.counters.fetch_responses.fetch_add(1, Ordering::Relaxed);
        if !respond(ErrorCode::None, hw, start, data) {
            return;
        }
        // Flow control: the consumer acknowledges with UpdateOffsets before it gets more.
        tokio::select! {
            r = acked.changed() => if r.is_err() { return },
            _ = stop.changed() => return,
        }
        pos = *acked.borrow_and_update();
    }
}
