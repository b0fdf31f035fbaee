//! Progress of long runs (`produce`, `bench`, `demo`) on stderr: a bar with records/s, drawn only when
//! stderr is a terminal, so that logs, pipes and tests get nothing but the results.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressState, ProgressStyle};

/// What the bar measures the work in, and how much of it there is.
pub enum Total {
    /// This many records.
    Records(u64),
    /// This many bytes of input (a file), read as records go out.
    Bytes(u64),
    /// Unknown (a pipe): a spinner with the count.
    Unknown,
}

pub struct Progress {
    bar: Option<ProgressBar>,
    /// Read by the bar's `records` and `rate` keys.
    records: Arc<AtomicU64>,
    /// The bar's position is bytes of input, not records.
    in_bytes: bool,
}

impl Progress {
    /// A bar labelled `prefix`; none at all when `quiet` or when stderr is not a terminal.
    pub fn start(prefix: &str, total: Total, quiet: bool) -> Progress {
        let records = Arc::new(AtomicU64::new(0));
        let in_bytes = matches!(total, Total::Bytes(_));
        if quiet || !std::io::stderr().is_terminal() {
            return Progress {
                bar: None,
                records,
                in_bytes,
            };
        }
        let (bar, template) = match total {
            Total::Records(n) => (
                ProgressBar::new(n),
                "  {prefix:<7} [{wide_bar}] {pos}/{len} records · {rate}",
            ),
            Total::Bytes(n) => (
                ProgressBar::new(n),
                "  {prefix:<7} [{wide_bar}] {bytes}/{total_bytes} · {records} records · {rate}",
            ),
            Total::Unknown => (
                ProgressBar::no_length(),
                "  {prefix:<7} {spinner} {records} records · {rate}",
            ),
        };
        let (count, rate) = (records.clone(), records.clone());
        let style = ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ")
            .with_key(
                "records",
                move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{}", count.load(Ordering::Relaxed));
                },
            )
            // The average since the start: steadier than the bar's own recent-rate estimate.
            .with_key(
                "rate",
                move |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let secs = s.elapsed().as_secs_f64();
                    let n = rate.load(Ordering::Relaxed) as f64;
                    let _ = write!(
                        w,
                        "{:.0} records/s",
                        if secs > 0.0 { n / secs } else { 0.0 }
                    );
                },
            );
        bar.set_style(style);
        bar.set_prefix(prefix.to_string());
        // Drawn at once: a short run still shows what it is doing.
        bar.tick();
        Progress {
            bar: Some(bar),
            records,
            in_bytes,
        }
    }

    /// `records` records done so far, and `bytes` of input read (for a `Total::Bytes` bar).
    pub fn set(&self, records: u64, bytes: u64) {
        if let Some(bar) = &self.bar {
            self.records.store(records, Ordering::Relaxed);
            bar.set_position(if self.in_bytes { bytes } else { records });
        }
    }

    /// Leaves the final state (count and rate) on the terminal.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }

    /// Removes the bar (when the results printed next say it all).
    pub fn clear(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
