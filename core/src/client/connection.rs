//! A connection multiplexed by correlation id: many requests in flight, responses in any order, and
//! streams (Watch, StreamFetch) that keep answering on their request's correlation id.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};

use crate::error::{Error, ErrorKind, Result};
use crate::protocol::api::{
    read_frame, ApiVersionsRequest, ApiVersionsResponse, RequestHeader, API_VERSIONS_KEY,
    API_VERSIONS_VERSION, DEFAULT_MAX_FRAME,
};
use crate::protocol::codec::{from_bytes, Decode, Encode};
use crate::tls::ClientTls;

type Body = Result<Vec<u8>>;

enum Waiter {
    Once(oneshot::Sender<Body>),
    Stream(mpsc::Sender<Body>),
}

struct Shared {
    addr: String,
    waiters: Mutex<HashMap<i32, Waiter>>,
    closed: AtomicBool,
    close_reason: Mutex<Option<String>>,
    /// Set once the connection is given up: its reader and writer tasks end and drop their halves,
    /// which closes the socket now (a silent peer would otherwise keep it open indefinitely).
    stop: watch::Sender<bool>,
}

impl Shared {
    fn fail_all(&self, reason: &str) {
        self.closed.store(true, Ordering::SeqCst);
        self.stop.send_replace(true);
        self.close_reason
            .lock()
            .unwrap()
            .get_or_insert_with(|| reason.to_string());
        let waiters: Vec<Waiter> = self
            .waiters
            .lock()
            .unwrap()
            .drain()
            .map(|(_, w)| w)
            .collect();
        for w in waiters {
            let err = Err(Error::transport(format!(
                "connection to {} lost: {reason}",
                self.addr
            )));
            match w {
                Waiter::Once(tx) => {
                    let _ = tx.send(err);
                }
                Waiter::Stream(tx) => {
                    let _ = tx.try_send(err);
                }
            }
        }
    }
}

/// A frame queued for the writer task; `written` fires once its bytes reached the socket.
struct Outgoing {
    frame: Vec<u8>,
    written: Option<oneshot::Sender<()>>,
}

pub struct Connection {
    shared: Arc<Shared>,
    next_id: AtomicI32,
    client_id: String,
    writer: mpsc::UnboundedSender<Outgoing>,
    versions: ApiVersionsResponse,
    pid: u32,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("addr", &self.shared.addr)
            .finish()
    }
}

impl Connection {
    /// Connects (plaintext) and performs the ApiVersions handshake. Must run on the shared runtime.
    pub async fn connect(
        addr: &str,
        client_id: &str,
        timeout: Duration,
    ) -> Result<Arc<Connection>> {
        Connection::connect_tls(addr, client_id, timeout, None).await
    }

    /// Connects, over TLS when `tls` is `(client, server name)`, and performs the ApiVersions
    /// handshake. Must run on the shared runtime.
    pub async fn connect_tls(
        addr: &str,
        client_id: &str,
        timeout: Duration,
        tls: Option<(&ClientTls, &str)>,
    ) -> Result<Arc<Connection>> {
        let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(Error::transport(format!("cannot connect to {addr}: {e}"))),
            Err(_) => {
                return Err(Error::timeout(format!(
                    "connecting to {addr} timed out after {timeout:?}"
                )))
            }
        };
        let _ = stream.set_nodelay(true);
        match tls {
            None => {
                let (rd, wr) = stream.into_split();
                let hint = "if the server expects TLS, set tls=true or tls_ca_file";
                Connection::start(addr, client_id, timeout, rd, wr, hint).await
            }
            Some((tls, name)) => {
                let s = match tokio::time::timeout(timeout, tls.handshake(stream, name, addr)).await
                {
                    Ok(r) => r?,
                    Err(_) => {
                        return Err(Error::timeout(format!(
                            "TLS handshake with {addr} timed out after {timeout:?}"
                        )))
                    }
                };
                let (rd, wr) = tokio::io::split(s);
                let hint = tls.after_handshake_hint();
                Connection::start(addr, client_id, timeout, rd, wr, hint).await
            }
        }
    }

    async fn start<R, W>(
        addr: &str,
        client_id: &str,
        timeout: Duration,
        mut rd: R,
        mut wr: W,
        hint: &str,
    ) -> Result<Arc<Connection>>
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let shared = Arc::new(Shared {
            addr: addr.to_string(),
            waiters: Mutex::new(HashMap::new()),
            closed: AtomicBool::new(false),
            close_reason: Mutex::new(None),
            stop: watch::channel(false).0,
        });
        let (tx, mut rx) = mpsc::unbounded_channel::<Outgoing>();

        let wshared = shared.clone();
        let mut wstop = shared.stop.subscribe();
        crate::runtime::spawn(async move {
            let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
            let mut notify: Vec<oneshot::Sender<()>> = Vec::new();
            loop {
                let first = tokio::select! {
                    biased;
                    _ = wstop.wait_for(|stop| *stop) => break,
                    next = rx.recv() => match next {
                        Some(first) => first,
                        None => break,
                    },
                };
                // Coalesce whatever is queued into one write.
                let mut next = Some(first);
                while let Some(o) = next {
                    if buf.is_empty() && o.frame.len() > 64 * 1024 {
                        buf = o.frame;
                    } else {
                        buf.extend_from_slice(&o.frame);
                    }
                    notify.extend(o.written);
                    next = if buf.len() < 256 * 1024 {
                        rx.try_recv().ok()
                    } else {
                        None
                    };
                }
                let written = tokio::select! {
                    biased;
                    _ = wstop.wait_for(|stop| *stop) => break,
                    r = wr.write_all(&buf) => r,
                };
                if let Err(e) = written {
                    wshared.fail_all(&format!(
                        "write failed: {}",
                        crate::tls::describe_io_error(&e)
                    ));
                    return;
                }
                buf.clear();
                if buf.capacity() > 4 << 20 {
                    buf = Vec::with_capacity(64 * 1024);
                }
                for n in notify.drain(..) {
                    let _ = n.send(());
                }
            }
            // A peer that reads nothing must not hold the shutdown (a TLS close_notify is a write).
            let _ = tokio::time::timeout(Duration::from_secs(1), wr.shutdown()).await;
        });

        let rshared = shared.clone();
        let mut rstop = shared.stop.subscribe();
        crate::runtime::spawn(async move {
            loop {
                let read = tokio::select! {
                    biased;
                    _ = rstop.wait_for(|stop| *stop) => return,
                    r = read_frame(&mut rd, DEFAULT_MAX_FRAME) => r,
                };
                let frame = match read {
                    Ok(Some(f)) => f,
                    Ok(None) => {
                        rshared.fail_all("closed by peer");
                        return;
                    }
                    Err(e) => {
                        rshared.fail_all(&crate::tls::describe_io_error(&e));
                        return;
                    }
                };
                if frame.len() < 4 {
                    rshared.fail_all("frame without correlation id");
                    return;
                }
                let id = i32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]);
                let body = frame[4..].to_vec();
                let waiter = {
                    let mut w = rshared.waiters.lock().unwrap();
                    match w.get(&id) {
                        Some(Waiter::Once(_)) => w.remove(&id),
                        Some(Waiter::Stream(tx)) => Some(Waiter::Stream(tx.clone())),
                        None => None, // unknown ids are dropped, as Fluvio does
                    }
                };
                match waiter {
                    Some(Waiter::Once(tx)) => {
                        let _ = tx.send(Ok(body));
                    }
                    // A full stream queue back-pressures this connection, bounding memory.
                    Some(Waiter::Stream(tx)) if tx.send(Ok(body)).await.is_err() => {
                        rshared.waiters.lock().unwrap().remove(&id);
                    }
                    Some(Waiter::Stream(_)) => {}
                    None => {}
                }
            }
        });

        let mut conn = Connection {
            shared,
            next_id: AtomicI32::new(1),
            client_id: client_id.to_string(),
            writer: tx,
            versions: ApiVersionsResponse::default(),
            pid: crate::runtime::pid(),
        };
        let resp: ApiVersionsResponse = conn
            .request(
                API_VERSIONS_KEY,
                API_VERSIONS_VERSION,
                &ApiVersionsRequest::ours(),
                timeout,
            )
            .await
            .map_err(|mut e| {
                // The connection was accepted but the very first exchange failed: say what is likely.
                if e.kind == ErrorKind::Transport && !e.message.contains("client certificate") {
                    e.message.push_str(&format!(" ({hint})"));
                }
                e
            })?;
        if !resp.error_code.is_ok() {
            return Err(Error::from_code(
                &resp.error_code,
                &format!("ApiVersions with {addr}"),
            ));
        }
        crate::protocol::api::parse_semver(&resp.platform_version)
            .map_err(|e| Error::protocol(format!("{addr}: platform version: {}", e.0)))?;
        conn.versions = resp;
        Ok(Arc::new(conn))
    }

    pub fn addr(&self) -> &str {
        &self.shared.addr
    }
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::SeqCst)
    }
    pub fn versions(&self) -> &ApiVersionsResponse {
        &self.versions
    }
    /// `min(ours, theirs)` for an api key, or `None` if the peer does not offer an overlapping range.
    pub fn version_for(&self, key: u16, min: i16, max: i16) -> Option<i16> {
        self.versions.pick(key, min, max)
    }

    fn closed_error(&self) -> Error {
        let reason = self
            .shared
            .close_reason
            .lock()
            .unwrap()
            .clone()
            .unwrap_or_default();
        Error::transport(format!(
            "connection to {} is closed: {reason}",
            self.shared.addr
        ))
    }

    fn frame_with(
        &self,
        api_key: u16,
        version: i16,
        write_body: impl FnOnce(&mut Vec<u8>),
    ) -> (i32, Vec<u8>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let header = RequestHeader {
            api_key,
            api_version: version,
            correlation_id: id,
            client_id: self.client_id.clone(),
        };
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(&[0u8; 4]);
        header.encode(&mut out, 0);
        write_body(&mut out);
        (id, crate::protocol::api::finish_frame(out))
    }

    /// Sends a request whose body `write_body` encodes; resolves to the response body bytes.
    /// `written` (if given) fires when the request has been written to the socket.
    pub fn send_raw(
        &self,
        api_key: u16,
        version: i16,
        write_body: impl FnOnce(&mut Vec<u8>),
        written: Option<oneshot::Sender<()>>,
    ) -> Result<oneshot::Receiver<Body>> {
        if self.is_closed() {
            return Err(self.closed_error());
        }
        let (id, frame) = self.frame_with(api_key, version, write_body);
        let (tx, rx) = oneshot::channel();
        self.shared
            .waiters
            .lock()
            .unwrap()
            .insert(id, Waiter::Once(tx));
        if self.writer.send(Outgoing { frame, written }).is_err() || self.is_closed() {
            self.shared.waiters.lock().unwrap().remove(&id);
            return Err(self.closed_error());
        }
        Ok(rx)
    }

    /// Awaits a response from `send_raw` with a deadline.
    pub async fn wait_raw(
        &self,
        rx: oneshot::Receiver<Body>,
        timeout: Duration,
    ) -> Result<Vec<u8>> {
        match crate::runtime::timeout(timeout, rx).await {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(self.closed_error()),
            None => Err(Error::timeout(format!(
                "no response from {} within {timeout:?}",
                self.shared.addr
            ))),
        }
    }

    /// One request, one response.
    pub async fn request<Req: Encode, Resp: Decode>(
        &self,
        api_key: u16,
        version: i16,
        req: &Req,
        timeout: Duration,
    ) -> Result<Resp> {
        let rx = self.send_raw(api_key, version, |out| req.encode(out, version), None)?;
        let body = self.wait_raw(rx, timeout).await?;
        from_bytes(&body, version).map_err(|e| {
            Error::protocol(format!(
                "{}: response to api {api_key}: {}",
                self.shared.addr, e.0
            ))
        })
    }

    /// Opens a stream: every response frame on this request's correlation id arrives on the receiver.
    pub fn stream<Req: Encode>(
        &self,
        api_key: u16,
        version: i16,
        req: &Req,
        queue: usize,
    ) -> Result<(i32, mpsc::Receiver<Body>)> {
        if self.is_closed() {
            return Err(self.closed_error());
        }
        let (id, frame) = self.frame_with(api_key, version, |out| req.encode(out, version));
        let (tx, rx) = mpsc::channel(queue.max(1));
        self.shared
            .waiters
            .lock()
            .unwrap()
            .insert(id, Waiter::Stream(tx));
        if self
            .writer
            .send(Outgoing {
                frame,
                written: None,
            })
            .is_err()
        {
            self.shared.waiters.lock().unwrap().remove(&id);
            return Err(self.closed_error());
        }
        Ok((id, rx))
    }

    /// Stops routing a stream's frames (its receiver is being dropped).
    pub fn end_stream(&self, id: i32) {
        self.shared.waiters.lock().unwrap().remove(&id);
    }

    /// Closes the connection; pending requests fail with a transport error.
    pub fn close(&self) {
        self.shared.fail_all("closed locally");
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // In a forked child the parent's locks may be held by threads that do not exist: leave them.
        if self.pid == crate::runtime::pid() {
            self.shared.fail_all("dropped");
        }
    }
}
