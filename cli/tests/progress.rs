//! `produce`, `bench` and `demo` draw a progress bar with records/s on stderr when it is a terminal (a
//! pseudo-terminal here), and nothing when stderr is a pipe; the records arrive either way.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};

use headwater::broker::{BrokerConfig, TestBroker};
use indicatif::HumanBytes;

struct Run {
    status: ExitStatus,
    stdout: String,
    /// stderr: what the terminal received, or the pipe's bytes.
    stderr: String,
}

/// A pseudo-terminal (master, slave), 80 columns wide. Both ends are close-on-exec from the start, so
/// no other test's child inherits them (the slave becomes the child's stderr through dup2).
fn openpty() -> (OwnedFd, OwnedFd) {
    // SAFETY: plain libc calls on fds this function opens and owns; `name` is NUL-terminated by
    // ptsname_r on success.
    unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        assert!(
            master >= 0,
            "posix_openpt: {}",
            std::io::Error::last_os_error()
        );
        let master = OwnedFd::from_raw_fd(master);
        assert_eq!(libc::grantpt(master.as_raw_fd()), 0);
        assert_eq!(libc::unlockpt(master.as_raw_fd()), 0);
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(
            libc::ptsname_r(master.as_raw_fd(), name.as_mut_ptr(), name.len()),
            0
        );
        let slave = libc::open(
            name.as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        );
        assert!(slave >= 0, "open pty: {}", std::io::Error::last_os_error());
        let slave = OwnedFd::from_raw_fd(slave);
        let size = libc::winsize {
            ws_row: 24,
            ws_col: 80,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        assert_eq!(libc::ioctl(slave.as_raw_fd(), libc::TIOCSWINSZ, &size), 0);
        (master, slave)
    }
}

/// Runs `headwater args...` with stdin from `input` (or empty) and stderr on a terminal or a pipe.
fn headwater(args: &[&str], input: Option<&Path>, on_terminal: bool) -> Run {
    let stdin = match input {
        Some(p) => Stdio::from(File::open(p).unwrap()),
        None => Stdio::null(),
    };
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_headwater"));
    cmd.args(args)
        .env_remove("HEADWATER_LOG")
        .stdin(stdin)
        .stdout(Stdio::piped());
    let (reader, child) = if on_terminal {
        let (master, slave) = openpty();
        cmd.stderr(Stdio::from(slave));
        let child = cmd.spawn().unwrap();
        // The child's copy is the only slave left once `cmd` is gone: the master then reads until
        // the child exits (EIO after the last slave closes).
        drop(cmd);
        let mut terminal = File::from(master);
        let reader = std::thread::spawn(move || {
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                match terminal.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            seen
        });
        (Some(reader), child)
    } else {
        cmd.stderr(Stdio::piped());
        (None, cmd.spawn().unwrap())
    };
    let out = child.wait_with_output().unwrap();
    let stderr = match reader {
        Some(r) => r.join().unwrap(),
        None => out.stderr,
    };
    Run {
        status: out.status,
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

fn ok(run: &Run) {
    assert!(
        run.status.success(),
        "stdout: {}\nstderr: {}",
        run.stdout,
        run.stderr
    );
}

/// Piped stderr carries no bar: no rate, no carriage returns or escape sequences.
fn no_bar(run: &Run) {
    assert!(
        !run.stderr.contains("records/s")
            && !run.stderr.contains('\r')
            && !run.stderr.contains('\x1b'),
        "{:?}",
        run.stderr
    );
}

#[test]
fn produce_from_a_file_shows_its_progress_only_on_a_terminal() {
    let broker = TestBroker::start_blocking(BrokerConfig::default()).unwrap();
    broker.create_topic("lines", 1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.txt");
    let text: String = (0..3000).map(|i| format!("line {i}\n")).collect();
    std::fs::write(&file, &text).unwrap();
    let path = file.to_str().unwrap();
    let endpoint = broker.endpoint();
    let args = ["produce", "lines", "-f", path, "--endpoint", &endpoint];

    let run = headwater(&args, None, true);
    ok(&run);
    assert!(
        run.stdout.starts_with("produced 3000 records"),
        "{}",
        run.stdout
    );
    // The final state stays on the terminal: the whole file read, every record counted, a rate.
    let size = HumanBytes(text.len() as u64);
    let done = format!("{size}/{size} · 3000 records · ");
    assert!(
        run.stderr.contains(&done) && run.stderr.contains(" records/s"),
        "{done}: {:?}",
        run.stderr
    );

    let run = headwater(&args, None, false);
    ok(&run);
    assert!(
        run.stdout.starts_with("produced 3000 records"),
        "{}",
        run.stdout
    );
    no_bar(&run);

    let stored = broker.records("lines", 0, 0).unwrap();
    assert_eq!(stored.len(), 6000);
    assert_eq!(stored[2999].value, b"line 2999");
    assert_eq!(stored[5999].value, b"line 2999");
    broker.stop();
}

#[test]
fn an_error_mid_file_starts_its_own_line_after_the_bar() {
    let broker = TestBroker::start_blocking(BrokerConfig::default()).unwrap();
    broker.create_topic("keyed", 1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keyed.txt");
    let mut text: String = (0..500).map(|i| format!("k{i}:v{i}\n")).collect();
    text.push_str("no separator here\n");
    std::fs::write(&file, &text).unwrap();
    let endpoint = broker.endpoint();
    let args = [
        "produce",
        "keyed",
        "-f",
        file.to_str().unwrap(),
        "--key-separator",
        ":",
        "--endpoint",
        &endpoint,
    ];
    let run = headwater(&args, None, true);
    assert_eq!(run.status.code(), Some(1), "{:?}", run.stderr);
    let at = run
        .stderr
        .find("error: ")
        .unwrap_or_else(|| panic!("{:?}", run.stderr));
    // The bar was drawn, and the error follows a line ending, not the bar's text (indicatif leaves a
    // dropped bar as it was and ends its line).
    assert!(run.stderr[..at].contains(" records · "), "{:?}", run.stderr);
    assert!(run.stderr[..at].ends_with('\n'), "{:?}", run.stderr);
    assert!(
        run.stderr[at..].contains("has no key separator"),
        "{:?}",
        run.stderr
    );
    broker.stop();
}

#[test]
fn produce_from_a_pipe_counts_records_on_a_terminal() {
    let broker = TestBroker::start_blocking(BrokerConfig::default()).unwrap();
    broker.create_topic("piped", 1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("input.txt");
    std::fs::write(&file, "a\nb\nc\n").unwrap();
    let endpoint = broker.endpoint();
    let args = ["produce", "piped", "--endpoint", &endpoint];
    // stdin is a file, not a terminal: long work, so the count and rate show.
    let run = headwater(&args, Some(&file), true);
    ok(&run);
    assert!(
        run.stderr.contains("3 records · ") && run.stderr.contains(" records/s"),
        "{:?}",
        run.stderr
    );
    let run = headwater(&args, Some(&file), false);
    ok(&run);
    no_bar(&run);
    assert_eq!(broker.records("piped", 0, 0).unwrap().len(), 6);
    broker.stop();
}

#[test]
fn bench_shows_records_of_the_total_only_on_a_terminal() {
    let broker = TestBroker::start_blocking(BrokerConfig::default()).unwrap();
    let endpoint = broker.endpoint();
    let args = [
        "bench",
        "--endpoint",
        &endpoint,
        "--topic",
        "bench",
        "--records",
        "5000",
        "--seconds",
        "120",
        "--size",
        "10",
    ];
    let run = headwater(&args, None, true);
    ok(&run);
    assert!(run.stdout.contains("\"records\":5000,"), "{}", run.stdout);
    assert!(
        run.stderr.contains("5000/5000 records · ") && run.stderr.contains(" records/s"),
        "{:?}",
        run.stderr
    );
    let run = headwater(&args, None, false);
    ok(&run);
    assert!(run.stdout.contains("\"records\":5000,"), "{}", run.stdout);
    no_bar(&run);
    assert_eq!(broker.records("bench", 0, 0).unwrap().len(), 10_000);
    broker.stop();
}

#[test]
fn demo_draws_its_bars_only_on_a_terminal() {
    let args = ["demo", "--records", "2000", "--codecs", "lz4"];
    let run = headwater(&args, None, true);
    ok(&run);
    assert!(
        run.stderr.contains("lz4") && run.stderr.contains("/2000 records · "),
        "{:?}",
        run.stderr
    );
    assert!(run.stdout.contains("ok (2000 records"), "{}", run.stdout);
    let run = headwater(&args, None, false);
    ok(&run);
    no_bar(&run);
    assert!(run.stdout.contains("ok (2000 records"), "{}", run.stdout);
    // --quiet: no bar even on a terminal.
    let run = headwater(&[&args[..], &["--quiet"]].concat(), None, true);
    ok(&run);
    assert!(!run.stderr.contains("records/s"), "{:?}", run.stderr);
}
