//! A partition's log: segments of whole batches, in memory and (with a data directory) in append-only
//! segment files `<base_offset:020>.log` plus an index `<base_offset:020>.index` of (offset, position)
//! pairs. Recovery validates every batch (length, CRC-32C, offset continuity) and truncates at the first
//! bad one; retention deletes whole old segments; offsets are never reused.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use crate::protocol::batch::{
    batch_crc, set_base_offset_and_crc, BatchHeader, BATCH_FILE_HEADER_SIZE,
};

/// When appended data is forced to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPolicy {
    /// `fsync` after every produce request, before it is acknowledged (default with a data directory).
    EveryRequest,
    /// `fsync` at most once per interval; a crash may lose the last interval's acknowledged records.
    Interval(Duration),
    /// Leave it to the OS.
    Never,
}

#[derive(Debug, Clone)]
pub struct LogConfig {
    pub segment_size: u64,
    pub retention: Option<Duration>,
    pub max_partition_size: Option<u64>,
    pub sync: SyncPolicy,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_size: 1 << 30,
            retention: None,
            max_partition_size: None,
            sync: SyncPolicy::EveryRequest,
        }
    }
}

/// Buffers of dropped segments (a deleted topic, retention), reused by new segments: their pages are
/// already mapped, so a broker that keeps receiving data after deleting some does not pay the kernel
/// to map and zero fresh pages again (it was most of the in-memory broker's CPU at 1 KiB records).
/// Bounded, so a test broker keeps at most `POOL_MAX_BYTES` of freed memory.
static SEGMENT_POOL: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
/// Smaller buffers are not worth keeping.
const POOL_MIN_CAPACITY: usize = 1 << 20;
const POOL_MAX_BYTES: usize = 1 << 30;

/// An empty buffer for a new segment: the largest pooled one, else a new one.
fn segment_buffer(pool: &Mutex<Vec<Vec<u8>>>) -> Vec<u8> {
    let mut pool = pool.lock().unwrap_or_else(|e| e.into_inner());
    let largest = (0..pool.len()).max_by_key(|&i| pool[i].capacity());
    largest.map_or_else(Vec::new, |i| pool.swap_remove(i))
}

fn recycle_segment_buffer(pool: &Mutex<Vec<Vec<u8>>>, mut data: Vec<u8>) {
    if data.capacity() < POOL_MIN_CAPACITY {
        return;
    }
    data.clear();
    let mut pool = pool.lock().unwrap_or_else(|e| e.into_inner());
    let held: usize = pool.iter().map(Vec::capacity).sum();
    if held + data.capacity() <= POOL_MAX_BYTES {
        pool.push(data);
    }
}

struct Segment {
    base_offset: i64,
    /// Offset after the last batch in this segment.
    end_offset: i64,
    data: Vec<u8>,
    /// (base offset, byte position) of every batch.
    index: Vec<(i64, u32)>,
    file: Option<File>,
    index_file: Option<File>,
    last_write: SystemTime,
}

impl Segment {
    fn new(base_offset: i64, dir: Option<&Path>) -> std::io::Result<Segment> {
        let (file, index_file) = match dir {
            Some(d) => {
                let open = |ext: &str| {
                    OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(d.join(segment_name(base_offset, ext)))
                };
                (Some(open("log")?), Some(open("index")?))
            }
            None => (None, None),
        };
        Ok(Segment {
            base_offset,
            end_offset: base_offset,
            data: segment_buffer(&SEGMENT_POOL),
            index: Vec::new(),
            file,
            index_file,
            last_write: SystemTime::now(),
        })
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        recycle_segment_buffer(&SEGMENT_POOL, std::mem::take(&mut self.data));
    }
}

fn segment_name(base: i64, ext: &str) -> String {
    format!("{base:020}.{ext}")
}

/// Counters shared by every log of a broker.
#[derive(Debug, Default)]
pub struct StorageStats {
    pub fsyncs: AtomicU64,
    pub batches_appended: AtomicU64,
    pub records_appended: AtomicU64,
    pub bytes_appended: AtomicU64,
    pub segments_deleted: AtomicU64,
    pub truncated_bytes: AtomicU64,
}

pub struct PartitionLog {
    dir: Option<PathBuf>,
    config: LogConfig,
    segments: Vec<Segment>,
    leo: i64,
    last_sync: SystemTime,
    dirty: bool,
}

/// One stored batch, as `TestBroker::batches` returns it.
#[derive(Debug, Clone)]
pub struct StoredBatch {
    pub base_offset: i64,
    pub bytes: Vec<u8>,
}

impl PartitionLog {
    pub fn in_memory(config: LogConfig) -> Self {
        let seg = Segment::new(0, None).expect("in-memory segment");
        PartitionLog {
            dir: None,
            config,
            segments: vec![seg],
            leo: 0,
            last_sync: SystemTime::now(),
            dirty: false,
        }
    }

    /// Opens (or creates) a log directory, recovering what is there.
    pub fn open(dir: PathBuf, config: LogConfig, stats: &StorageStats) -> std::io::Result<Self> {
        fs::create_dir_all(&dir)?;
        let mut bases: Vec<i64> = fs::read_dir(&dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                name.strip_suffix(".log")
                    .and_then(|b| b.parse::<i64>().ok())
            })
            .collect();
        bases.sort_unstable();
        let mut segments = Vec::new();
        let mut expected: Option<i64> = None;
        let mut broken = false;
        for base in bases {
            let path = dir.join(segment_name(base, "log"));
            if broken || expected.is_some_and(|e| e != base) {
                // Everything after a torn or missing piece is unreachable: never serve it.
                tracing::warn!(path = %path.display(), "removing a segment after a gap or a torn batch");
                stats.truncated_bytes.fetch_add(
                    fs::metadata(&path).map(|m| m.len()).unwrap_or(0),
                    Ordering::Relaxed,
                );
                let _ = fs::remove_file(&path);
                let _ = fs::remove_file(dir.join(segment_name(base, "index")));
                broken = true;
                continue;
            }
            let data = fs::read(&path)?;
            let mut pos = 0usize;
            let mut next = base;
            let mut index = Vec::new();
            while pos < data.len() {
                let Ok(h) = BatchHeader::parse(&data[pos..]) else {
                    break;
                };
                let end = pos + h.total_len();
                if h.base_offset != next
                    || h.last_offset_delta < 0
                    || batch_crc(&data[pos..end]) != h.crc
                {
                    break;
                }
                index.push((h.base_offset, pos as u32));
                next = h.next_offset();
                pos = end;
            }
            if pos < data.len() {
                tracing::warn!(path = %path.display(), valid = pos, total = data.len(), "truncating a torn or corrupt segment tail");
                stats
                    .truncated_bytes
                    .fetch_add((data.len() - pos) as u64, Ordering::Relaxed);
                let f = OpenOptions::new().write(true).open(&path)?;
                f.set_len(pos as u64)?;
                f.sync_all()?;
                broken = true;
            }
            let mut data = data;
            data.truncate(pos);
            // The index file is rebuilt from the validated log, so it can never point past the truncation.
            let mut idx_bytes = Vec::with_capacity(index.len() * 12);
            for (o, p) in &index {
                idx_bytes.extend_from_slice(&o.to_be_bytes());
                idx_bytes.extend_from_slice(&p.to_be_bytes());
            }
            fs::write(dir.join(segment_name(base, "index")), &idx_bytes)?;
            let mtime = fs::metadata(&path)
                .and_then(|m| m.modified())
                .unwrap_or_else(|_| SystemTime::now());
            let open = |ext: &str| {
                OpenOptions::new()
                    .append(true)
                    .open(dir.join(segment_name(base, ext)))
            };
            segments.push(Segment {
                base_offset: base,
                end_offset: next,
                data,
                index,
                file: Some(open("log")?),
                index_file: Some(open("index")?),
                last_write: mtime,
            });
            expected = Some(next);
        }
        if segments.is_empty() {
            segments.push(Segment::new(0, Some(&dir))?);
        }
        let leo = segments.last().map(|s| s.end_offset).unwrap_or(0);
        Ok(PartitionLog {
            dir: Some(dir),
            config,
            segments,
            leo,
            last_sync: SystemTime::now(),
            dirty: false,
        })
    }

    pub fn leo(&self) -> i64 {
        self.leo
    }
    pub fn log_start(&self) -> i64 {
        self.segments
            .first()
            .map(|s| s.base_offset)
            .unwrap_or(self.leo)
    }
    pub fn size_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.data.len() as u64).sum()
    }
    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// Appends whole batches (already validated): assigns offsets from the LEO, rewrites each base offset
    /// and CRC. Returns the base offset of the first batch.
    pub fn append(
        &mut self,
        batches: &mut [Vec<u8>],
        stats: &StorageStats,
    ) -> std::io::Result<i64> {
        let slices: Vec<&[u8]> = batches.iter().map(|b| b.as_slice()).collect();
        self.append_slices(&slices, stats)
    }

    /// Appends whole batches straight from a request buffer: each is copied once, into the segment,
    /// and gets its base offset (the LEO) and CRC rewritten there.
    pub fn append_slices(
        &mut self,
        batches: &[&[u8]],
        stats: &StorageStats,
    ) -> std::io::Result<i64> {
        let first = self.leo;
        for b in batches {
            let h = BatchHeader::parse(b)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.0))?;
            let b = &b[..h.total_len()];
            let needs_roll = {
                let active = self.segments.last().expect("a log always has a segment");
                !active.data.is_empty()
                    && active.data.len() as u64 + b.len() as u64 > self.config.segment_size
            };
            if needs_roll {
                if let Some(f) = self.segments.last_mut().and_then(|s| s.file.as_mut()) {
                    f.sync_all()?;
                }
                let seg = Segment::new(self.leo, self.dir.as_deref())?;
                self.segments.push(seg);
            }
            let active = self
                .segments
                .last_mut()
                .expect("a log always has a segment");
            let pos = active.data.len();
            active.data.extend_from_slice(b);
            set_base_offset_and_crc(&mut active.data[pos..], self.leo);
            if let Some(f) = active.file.as_mut() {
                if let Err(e) = f.write_all(&active.data[pos..]) {
                    active.data.truncate(pos);
                    return Err(e);
                }
            }
            if let Some(f) = active.index_file.as_mut() {
                let mut e = [0u8; 12];
                e[..8].copy_from_slice(&self.leo.to_be_bytes());
                e[8..].copy_from_slice(&(pos as u32).to_be_bytes());
                f.write_all(&e)?;
            }
            active.index.push((self.leo, pos as u32));
            active.last_write = SystemTime::now();
            self.leo += h.record_count();
            active.end_offset = self.leo;
            stats.batches_appended.fetch_add(1, Ordering::Relaxed);
            stats
                .records_appended
                .fetch_add(h.record_count() as u64, Ordering::Relaxed);
            stats
                .bytes_appended
                .fetch_add(b.len() as u64, Ordering::Relaxed);
            self.dirty = true;
        }
        Ok(first)
    }

    /// Forces appended data to disk according to the sync policy (called once per produce request).
    pub fn sync(&mut self, stats: &StorageStats, force: bool) -> std::io::Result<()> {
        if !self.dirty || self.dir.is_none() {
            return Ok(());
        }
        let due = force
            || match self.config.sync {
                SyncPolicy::EveryRequest => true,
                SyncPolicy::Interval(d) => self.last_sync.elapsed().unwrap_or_default() >= d,
                SyncPolicy::Never => false,
            };
        if !due {
            return Ok(());
        }
        if let Some(s) = self.segments.last_mut() {
            if let Some(f) = s.file.as_mut() {
                f.sync_data()?;
            }
            if let Some(f) = s.index_file.as_mut() {
                f.sync_data()?;
            }
        }
        stats.fsyncs.fetch_add(1, Ordering::Relaxed);
        self.last_sync = SystemTime::now();
        self.dirty = false;
        Ok(())
    }

    /// What one fetch response carries, as the real engine cuts it: the stored bytes from the batch
    /// holding `from` (so the first batch may begin before it) to the end of that batch's segment,
    /// stopping before the first batch at or after `until` (the high watermark for read-committed),
    /// then cut at `max_bytes` — so the last batch may be a partial piece, or the only thing sent
    /// when the first batch alone exceeds `max_bytes`. Empty when nothing is stored from `from`.
    pub fn read(&self, from: i64, max_bytes: usize, until: i64) -> Vec<u8> {
        let Some(seg) = self
            .segments
            .iter()
            .rev()
            .find(|s| s.base_offset <= from && !s.index.is_empty())
            .or_else(|| self.segments.iter().find(|s| !s.index.is_empty()))
        else {
            return Vec::new();
        };
        // The batch holding `from`: the last one that starts at or before it.
        let first = match seg.index.binary_search_by(|(o, _)| o.cmp(&from)) {
            Ok(i) => i,
            Err(0) => 0,
            Err(i) => i - 1,
        };
        let Some(&(base, start)) = seg.index.get(first) else {
            return Vec::new();
        };
        let head = &seg.data[start as usize..];
        if base >= until || BatchHeader::parse(head).map_or(true, |h| h.next_offset() <= from) {
            return Vec::new();
        }
        let end = seg.index[first..]
            .iter()
            .find(|(o, _)| *o >= until)
            .map(|(_, p)| *p as usize)
            .unwrap_or(seg.data.len());
        let end = end.min(start as usize + max_bytes);
        seg.data[start as usize..end].to_vec()
    }

    /// The largest a segment may grow; a batch larger than this cannot be stored.
    pub fn segment_size(&self) -> u64 {
        self.config.segment_size
    }

    /// Every stored batch from `from` on.
    pub fn batches(&self, from: i64) -> Vec<StoredBatch> {
        let mut out = Vec::new();
        for seg in &self.segments {
            for (k, (base, pos)) in seg.index.iter().enumerate() {
                let end = seg
                    .index
                    .get(k + 1)
                    .map(|(_, p)| *p as usize)
                    .unwrap_or(seg.data.len());
                let bytes = &seg.data[*pos as usize..end];
                if BatchHeader::parse(bytes)
                    .map(|h| h.next_offset() > from)
                    .unwrap_or(false)
                {
                    out.push(StoredBatch {
                        base_offset: *base,
                        bytes: bytes.to_vec(),
                    });
                }
            }
        }
        out
    }

    /// Deletes whole old segments past the retention time or the size bound; never the active one.
    /// Returns how many segments were removed.
    pub fn enforce_retention(&mut self, now: SystemTime, stats: &StorageStats) -> usize {
        let mut removed = 0;
        while self.segments.len() > 1 {
            let oldest = &self.segments[0];
            let expired = self
                .config
                .retention
                .is_some_and(|r| now.duration_since(oldest.last_write).unwrap_or_default() >= r);
            let oversize = self
                .config
                .max_partition_size
                .is_some_and(|m| self.size_bytes() > m);
            if !(expired || oversize) {
                break;
            }
            let seg = self.segments.remove(0);
            if let Some(d) = &self.dir {
                let _ = fs::remove_file(d.join(segment_name(seg.base_offset, "log")));
                let _ = fs::remove_file(d.join(segment_name(seg.base_offset, "index")));
            }
            stats.segments_deleted.fetch_add(1, Ordering::Relaxed);
            removed += 1;
        }
        removed
    }

    /// Drops every batch at or beyond `offset` (a follower discarding records its new leader lacks).
    /// `offset` must be a batch boundary; the log end becomes `offset` (or the log start, if later).
    pub fn truncate_to(&mut self, offset: i64) -> std::io::Result<()> {
        if offset >= self.leo {
            return Ok(());
        }
        while self.segments.len() > 1
            && self
                .segments
                .last()
                .is_some_and(|s| s.base_offset >= offset)
        {
            let seg = self.segments.pop().expect("checked");
            if let Some(d) = &self.dir {
                let _ = fs::remove_file(d.join(segment_name(seg.base_offset, "log")));
                let _ = fs::remove_file(d.join(segment_name(seg.base_offset, "index")));
            }
        }
        let seg = self
            .segments
            .last_mut()
            .expect("a log always has a segment");
        let keep = seg
            .index
            .iter()
            .position(|(base, _)| *base >= offset)
            .unwrap_or(seg.index.len());
        let cut = seg
            .index
            .get(keep)
            .map(|(_, pos)| *pos as usize)
            .unwrap_or(seg.data.len());
        seg.index.truncate(keep);
        seg.data.truncate(cut);
        seg.end_offset = seg
            .index
            .last()
            .map(|(base, pos)| {
                BatchHeader::parse(&seg.data[*pos as usize..])
                    .map(|h| h.next_offset())
                    .unwrap_or(*base)
            })
            .unwrap_or(seg.base_offset);
        if let Some(f) = seg.file.as_mut() {
            f.set_len(cut as u64)?;
            f.sync_all()?;
        }
        if let Some(f) = seg.index_file.as_mut() {
            f.set_len(keep as u64 * 12)?;
        }
        self.leo = seg.end_offset;
        Ok(())
    }

    /// Removes the log's files (topic deleted).
    pub fn destroy(self) {
        if let Some(d) = &self.dir {
            let _ = fs::remove_dir_all(d);
        }
    }
}

/// Smallest sane batch: used to reject garbage before it reaches a log.
pub const MIN_BATCH: usize = BATCH_FILE_HEADER_SIZE;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::batch::{put_record, write_batch, BatchInfo};
    use crate::protocol::Compression;

    #[test]
    fn freed_segment_buffers_are_reused_within_the_bound() {
        let pool = Mutex::new(Vec::new());
        assert_eq!(
            segment_buffer(&pool).capacity(),
            0,
            "an empty pool gives a new buffer"
        );
        recycle_segment_buffer(&pool, Vec::with_capacity(POOL_MIN_CAPACITY - 1));
        assert!(
            pool.lock().unwrap().is_empty(),
            "small buffers are not kept"
        );

        let mut big = Vec::with_capacity(4 * POOL_MIN_CAPACITY);
        big.extend_from_slice(b"old records");
        let big_ptr = big.as_ptr();
        recycle_segment_buffer(&pool, big);
        recycle_segment_buffer(&pool, Vec::with_capacity(2 * POOL_MIN_CAPACITY));
        let reused = segment_buffer(&pool);
        assert_eq!(
            reused.as_ptr(),
            big_ptr,
            "the largest buffer comes back first"
        );
        assert!(reused.is_empty() && reused.capacity() >= 4 * POOL_MIN_CAPACITY);
        assert_eq!(segment_buffer(&pool).capacity(), 2 * POOL_MIN_CAPACITY);

        // Past the bound, a freed buffer is released instead of kept.
        let pool = Mutex::new(vec![Vec::with_capacity(POOL_MAX_BYTES - POOL_MIN_CAPACITY)]);
        recycle_segment_buffer(&pool, Vec::with_capacity(2 * POOL_MIN_CAPACITY));
        assert_eq!(pool.lock().unwrap().len(), 1);
    }

    fn batch(n: usize) -> Vec<u8> {
        let mut section = (n as u32).to_be_bytes().to_vec();
        for i in 0..n {
            put_record(&mut section, None, format!("v{i}").as_bytes(), 0, i as i64);
        }
        let mut out = Vec::new();
        write_batch(
            &mut out,
            &BatchInfo {
                base_offset: 99,
                record_count: n,
                first_timestamp: 1,
                max_time_stamp: 1,
                compression: Compression::None,
            },
            &section,
        )
        .unwrap();
        out
    }

    #[test]
    fn offsets_reads_and_recovery_with_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let stats = StorageStats::default();
        let cfg = LogConfig {
            segment_size: 200,
            ..Default::default()
        };
        {
            let mut log = PartitionLog::open(dir.path().join("p"), cfg.clone(), &stats).unwrap();
            for n in [3, 2, 4, 1] {
                log.append(&mut [batch(n)], &stats).unwrap();
                log.sync(&stats, false).unwrap();
            }
            assert_eq!(log.leo(), 10);
            assert!(log.segments.len() > 1, "small segment size rolls");
            let got = log.read(4, 1 << 20, i64::MAX);
            let (b, _) = crate::protocol::batch::split_batches(&got);
            assert_eq!(
                b[0].0.base_offset, 3,
                "read starts at the batch containing the offset"
            );
        }
        assert!(stats.fsyncs.load(Ordering::Relaxed) >= 4);
        // Tear the last segment: append half a batch.
        let p = dir.path().join("p");
        let mut names: Vec<_> = fs::read_dir(&p)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().unwrap() == "log")
            .collect();
        names.sort();
        let last = names.last().unwrap();
        let mut f = OpenOptions::new().append(true).open(last).unwrap();
        f.write_all(&batch(5)[..30]).unwrap();
        drop(f);
        let mut log = PartitionLog::open(p, cfg, &stats).unwrap();
        assert_eq!(
            log.leo(),
            10,
            "torn tail truncated, acknowledged records kept"
        );
        assert_eq!(
            log.append(&mut [batch(2)], &stats).unwrap(),
            10,
            "next offset continues"
        );
    }

    #[test]
    fn truncate_drops_the_tail_on_disk_too() {
        let dir = tempfile::tempdir().unwrap();
        let stats = StorageStats::default();
        let cfg = LogConfig {
            segment_size: 150,
            ..Default::default()
        };
        let mut log = PartitionLog::open(dir.path().join("t"), cfg.clone(), &stats).unwrap();
        for n in [2, 3, 2, 4] {
            log.append(&mut [batch(n)], &stats).unwrap();
        }
        assert_eq!(log.leo(), 11);
        log.truncate_to(5).unwrap();
        assert_eq!(log.leo(), 5);
        assert_eq!(log.append(&mut [batch(1)], &stats).unwrap(), 5);
        drop(log);
        let log = PartitionLog::open(dir.path().join("t"), cfg, &stats).unwrap();
        assert_eq!(log.leo(), 6, "the truncation reached the files");
    }

    #[test]
    fn retention_never_reuses_offsets() {
        let stats = StorageStats::default();
        let mut log = PartitionLog::in_memory(LogConfig {
            segment_size: 100,
            max_partition_size: Some(150),
            ..Default::default()
        });
        for _ in 0..10 {
            log.append(&mut [batch(2)], &stats).unwrap();
        }
        assert!(log.enforce_retention(SystemTime::now(), &stats) > 0);
        assert!(log.log_start() > 0);
        assert_eq!(log.leo(), 20);
        assert_eq!(log.append(&mut [batch(1)], &stats).unwrap(), 20);
    }
}
