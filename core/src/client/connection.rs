//! A connection multiplexed by correlation id: many requests in flight, responses in any order, and
//! streams (Watch, StreamFetch) that keep answering on their request's correlation id.

use std::collections::HashMap;
use std::io::IoSlice;
use std::ops::{Deref, DerefMut, Range};
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

/// Bytes whose owner keeps them (a producer keeps each encoded batch for retries), written into a
/// request without being copied into it.
pub type SharedBytes = Arc<Vec<u8>>;

/// Shared bytes shorter than this are copied into the frame: an extra iovec costs more than the copy.
const SPLICE_MIN: usize = 2048;

/// The writer task gathers up to this many bytes of queued frames into one `sendmsg`.
const GATHER_MAX: usize = 256 * 1024;

enum Part {
    Owned(Vec<u8>),
    Shared(SharedBytes),
}

/// A request frame being encoded. It derefs to the `Vec<u8>` that encoders append to; `splice` adds
/// shared bytes by reference, so a produce request's batches go from the producer to the socket
/// without a copy.
pub struct FrameBuf {
    parts: Vec<Part>,
    tail: Vec<u8>,
}

impl FrameBuf {
    fn new() -> FrameBuf {
        let mut tail = Vec::with_capacity(256);
        tail.extend_from_slice(&[0u8; 4]); // the size prefix, filled in by `finish`
        FrameBuf {
            parts: Vec::new(),
            tail,
        }
    }

    /// Appends `bytes` to the frame, by reference when they are large enough to be worth it.
    pub fn splice(&mut self, bytes: &SharedBytes) {
        if bytes.len() < SPLICE_MIN {
            self.tail.extend_from_slice(bytes);
            return;
        }
        let done = std::mem::replace(&mut self.tail, Vec::with_capacity(64));
        self.parts.push(Part::Owned(done));
        self.parts.push(Part::Shared(bytes.clone()));
    }

    fn finish(mut self) -> Vec<Part> {
        if !self.tail.is_empty() {
            self.parts.push(Part::Owned(self.tail));
        }
        let body: usize = self.parts.iter().map(Part::len).sum::<usize>() - 4;
        match self.parts.first_mut() {
            Some(Part::Owned(head)) => head[..4].copy_from_slice(&(body as i32).to_be_bytes()),
            _ => unreachable!("a frame starts with its owned size prefix"),
        }
        self.parts
    }
}

impl Part {
    fn len(&self) -> usize {
        match self {
            Part::Owned(v) => v.len(),
            Part::Shared(b) => b.len(),
        }
    }
}

impl Deref for FrameBuf {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.tail
    }
}

impl DerefMut for FrameBuf {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.tail
    }
}

/// A frame queued for the writer task; `written` fires once its bytes reached the socket.
struct Outgoing {
    parts: Vec<Part>,
    written: Option<oneshot::Sender<()>>,
}

/// The sending half of a connection.
enum WriteHalf {
    /// Plain TCP: queued frames go out in one `sendmsg` over their parts (shared bytes uncopied).
    #[cfg(target_os = "linux")]
    Tcp(tokio::net::tcp::OwnedWriteHalf),
    /// TLS (rustls encrypts into its own buffer anyway) or a platform without `MSG_NOSIGNAL`: the
    /// parts are joined and written.
    Stream(Box<dyn AsyncWrite + Unpin + Send>),
}

impl WriteHalf {
    fn plain(wr: tokio::net::tcp::OwnedWriteHalf) -> WriteHalf {
        #[cfg(target_os = "linux")]
        return WriteHalf::Tcp(wr);
        #[cfg(not(target_os = "linux"))]
        return WriteHalf::Stream(Box::new(wr));
    }

    fn gathers(&self) -> bool {
        #[cfg(target_os = "linux")]
        return matches!(self, WriteHalf::Tcp(_));
        #[cfg(not(target_os = "linux"))]
        return false;
    }

    /// Writes `buf`'s ranges and the shared parts in `segments` order.
    async fn write_all(&mut self, buf: &[u8], segments: &[Segment]) -> std::io::Result<()> {
        match self {
            #[cfg(target_os = "linux")]
            WriteHalf::Tcp(wr) => {
                let mut slices: Vec<IoSlice<'_>> = segments
                    .iter()
                    .map(|s| match s {
                        Segment::Buf(r) => IoSlice::new(&buf[r.clone()]),
                        Segment::Shared(b) => IoSlice::new(b),
                    })
                    .collect();
                send_all_nosignal(wr.as_ref(), &mut slices).await
            }
            WriteHalf::Stream(wr) => wr.write_all(buf).await,
        }
    }

    async fn shutdown(&mut self) -> std::io::Result<()> {
        match self {
            #[cfg(target_os = "linux")]
            WriteHalf::Tcp(wr) => wr.shutdown().await,
            WriteHalf::Stream(wr) => wr.shutdown().await,
        }
    }
}

/// A piece of the writer task's next write: a range of its buffer, or shared bytes.
enum Segment {
    Buf(Range<usize>),
    Shared(SharedBytes),
}

/// `sendmsg` with `MSG_NOSIGNAL` until every slice is written: a peer that closed must give this
/// process an error, not the SIGPIPE that `writev` raises (fatal to a C or Java host by default).
#[cfg(target_os = "linux")]
async fn send_all_nosignal(
    sock: &TcpStream,
    mut slices: &mut [IoSlice<'_>],
) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // Linux accepts at most IOV_MAX (1024) slices per call.
    const IOV_MAX: usize = 1024;
    while !slices.is_empty() {
        sock.writable().await?;
        let sent = sock.try_io(tokio::io::Interest::WRITABLE, || {
            // SAFETY: an all-zero msghdr is valid (no name, no control data); `IoSlice` is
            // guaranteed ABI-compatible with `iovec` on Unix, and the slices outlive the call.
            let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
            msg.msg_iov = slices.as_ptr() as *mut libc::iovec;
            msg.msg_iovlen = slices.len().min(IOV_MAX) as _;
            let n = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
            if n < 0 {
                Err(std::io::Error::last_os_error())
            } else {
                Ok(n as usize)
            }
        });
        match sent {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
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
                Connection::start(addr, client_id, timeout, rd, WriteHalf::plain(wr), hint).await
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
                let wr = WriteHalf::Stream(Box::new(wr));
                Connection::start(addr, client_id, timeout, rd, wr, hint).await
            }
        }
    }

    async fn start<R>(
        addr: &str,
        client_id: &str,
        timeout: Duration,
        mut rd: R,
        mut wr: WriteHalf,
        hint: &str,
    ) -> Result<Arc<Connection>>
    where
        R: AsyncRead + Unpin + Send + 'static,
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
            let gathers = wr.gathers();
            let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
            let mut segments: Vec<Segment> = Vec::new();
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
                let mut pending = 0;
                while let Some(o) = next {
                    for part in o.parts {
                        pending += part.len();
                        match part {
                            Part::Shared(b) if gathers => segments.push(Segment::Shared(b)),
                            Part::Shared(b) => buf.extend_from_slice(&b),
                            Part::Owned(v) => {
                                let start = buf.len();
                                buf.extend_from_slice(&v);
                                match segments.last_mut() {
                                    _ if !gathers => {} // written as `buf` alone
                                    Some(Segment::Buf(r)) if r.end == start => r.end = buf.len(),
                                    _ => segments.push(Segment::Buf(start..buf.len())),
                                }
                            }
                        }
                    }
                    notify.extend(o.written);
                    next = if pending < GATHER_MAX {
                        rx.try_recv().ok()
                    } else {
                        None
                    };
                }
                let written = tokio::select! {
                    biased;
                    _ = wstop.wait_for(|stop| *stop) => break,
                    r = wr.write_all(&buf, &segments) => r,
                };
                if let Err(e) = written {
                    wshared.fail_all(&format!(
                        "write failed: {}",
                        crate::tls::describe_io_error(&e)
                    ));
                    return;
                }
                buf.clear();
                segments.clear();
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
        write_body: impl FnOnce(&mut FrameBuf),
    ) -> (i32, Vec<Part>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let header = RequestHeader {
            api_key,
            api_version: version,
            correlation_id: id,
            client_id: self.client_id.clone(),
        };
        let mut out = FrameBuf::new();
        header.encode(&mut out, 0);
        write_body(&mut out);
        (id, out.finish())
    }

    /// Sends a request whose body `write_body` encodes; resolves to the response body bytes.
    /// `written` (if given) fires when the request has been written to the socket.
    pub fn send_raw(
        &self,
        api_key: u16,
        version: i16,
        write_body: impl FnOnce(&mut FrameBuf),
        written: Option<oneshot::Sender<()>>,
    ) -> Result<oneshot::Receiver<Body>> {
        if self.is_closed() {
            return Err(self.closed_error());
        }
        let (id, parts) = self.frame_with(api_key, version, write_body);
        let (tx, rx) = oneshot::channel();
        self.shared
            .waiters
            .lock()
            .unwrap()
            .insert(id, Waiter::Once(tx));
        if self.writer.send(Outgoing { parts, written }).is_err() || self.is_closed() {
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
        let (id, parts) = self.frame_with(api_key, version, |out| req.encode(out, version));
        let (tx, rx) = mpsc::channel(queue.max(1));
        self.shared
            .waiters
            .lock()
            .unwrap()
            .insert(id, Waiter::Stream(tx));
        if self
            .writer
            .send(Outgoing {
                parts,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_with_spliced_parts_has_the_size_of_all_its_parts() {
        let big: SharedBytes = Arc::new((0..5000u32).map(|i| i as u8).collect());
        let small: SharedBytes = Arc::new(vec![7u8; SPLICE_MIN - 1]);
        let mut f = FrameBuf::new();
        f.extend_from_slice(b"head");
        f.splice(&big);
        f.extend_from_slice(b"mid");
        f.splice(&small);
        f.splice(&big);
        let parts = f.finish();
        let shared = parts
            .iter()
            .filter(|p| matches!(p, Part::Shared(_)))
            .count();
        assert_eq!(shared, 2, "the small part is copied, the big ones are not");
        let mut bytes = Vec::new();
        for p in &parts {
            match p {
                Part::Owned(v) => bytes.extend_from_slice(v),
                Part::Shared(b) => bytes.extend_from_slice(b),
            }
        }
        let mut expected = b"head".to_vec();
        expected.extend_from_slice(&big);
        expected.extend_from_slice(b"mid");
        expected.extend_from_slice(&small);
        expected.extend_from_slice(&big);
        assert_eq!(&bytes[4..], &expected[..]);
        let size = i32::from_be_bytes(bytes[..4].try_into().unwrap());
        assert_eq!(size as usize, expected.len());
    }

    /// More slices than one `sendmsg` takes, more bytes than the socket buffers hold: every byte
    /// arrives, in order, across the partial writes.
    #[cfg(target_os = "linux")]
    #[test]
    fn gathered_writes_deliver_every_byte_in_order() {
        use tokio::io::AsyncReadExt;
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        eprintln!("seed {seed}");
        let mut rng = seed | 1;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let pieces: Vec<Vec<u8>> = (0..3000)
            .map(|i| vec![(i % 251) as u8; 1 + (next() % 4096) as usize])
            .collect();
        let expected: Vec<u8> = pieces.concat();
        let expected_len = expected.len();
        let run = crate::runtime::spawn(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let reader = crate::runtime::spawn(async move {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut got = Vec::new();
                let mut chunk = vec![0u8; 1000];
                loop {
                    let n = s.read(&mut chunk).await.unwrap();
                    if n == 0 {
                        return got;
                    }
                    got.extend_from_slice(&chunk[..n]);
                }
            });
            let sock = TcpStream::connect(addr).await.unwrap();
            let mut slices: Vec<IoSlice<'_>> = pieces.iter().map(|p| IoSlice::new(p)).collect();
            send_all_nosignal(&sock, &mut slices).await.unwrap();
            drop(sock);
            reader.await.unwrap()
        });
        let received = crate::runtime::block_on(run).unwrap();
        assert_eq!(received.len(), expected_len);
        assert!(received == expected, "bytes out of order");
    }

    /// Writing to a peer that closed is an error even where SIGPIPE would kill the process
    /// (a C or Java host keeps the default action). Runs in a child process with SIGPIPE restored.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_closed_peer_is_a_write_error_not_a_signal() {
        const CHILD: &str = "HEADWATER_TEST_SIGPIPE_CHILD";
        if std::env::var_os(CHILD).is_some() {
            unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
            let run = crate::runtime::spawn(async {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let sock = TcpStream::connect(listener.local_addr().unwrap())
                    .await
                    .unwrap();
                drop(listener.accept().await.unwrap());
                let piece = vec![1u8; 4096];
                // The first writes may land before the peer's reset arrives; bounded, not timed.
                for _ in 0..1000 {
                    let mut slices = [IoSlice::new(&piece), IoSlice::new(&piece)];
                    if let Err(e) = send_all_nosignal(&sock, &mut slices).await {
                        return e;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                panic!("writes to a closed peer kept succeeding");
            });
            let err = crate::runtime::block_on(run).unwrap();
            println!("WRITE ERROR {:?}", err.kind());
            return;
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "client::connection::tests::a_closed_peer_is_a_write_error_not_a_signal",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "child: {:?}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("WRITE ERROR"), "{stdout}");
    }
}
