//! Every command's `--help` ends with examples of that command, and `headwater completions SHELL`
//! prints a script for that shell (bash's is loaded and asked for completions).

use std::process::{Command, Output};

fn headwater(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_headwater"))
        .args(args)
        .env_remove("HEADWATER_LOG")
        .output()
        .unwrap()
}

fn stdout_of(args: &[&str]) -> String {
    let out = headwater(args);
    assert!(
        out.status.success(),
        "headwater {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The subcommands a help text lists under "Commands:" (clap's own `help` aside).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(String::from)
        .collect()
}

#[test]
fn every_commands_help_ends_with_examples_of_that_command() {
    let mut to_visit = vec![Vec::<String>::new()];
    let mut visited = Vec::new();
    while let Some(path) = to_visit.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let help = stdout_of(&args);
        let command = std::iter::once("headwater")
            .chain(path.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ");
        let (_, last) = help
            .trim_end()
            .rsplit_once("\n\n")
            .unwrap_or_else(|| panic!("{command} --help has one paragraph:\n{help}"));
        let mut lines = last.lines();
        let title = lines.next().unwrap_or_default();
        assert!(
            title == "Example:" || title == "Examples:",
            "{command} --help does not end with examples:\n{help}"
        );
        let examples: Vec<&str> = lines.collect();
        assert!(!examples.is_empty(), "{command}: no example under {title}");
        for e in examples {
            // Each example runs this very command (`headwater topic create ...` for `topic create`).
            let runs_it = e.contains(&format!("{command} ")) || e.trim_end().ends_with(&command);
            assert!(
                e.starts_with("  ") && runs_it,
                "{command}: example {e:?} does not run it"
            );
        }
        for sub in subcommands(&help) {
            let mut p = path.clone();
            p.push(sub);
            to_visit.push(p);
        }
        visited.push(command);
    }
    // The walk reached the leaves, and the commands added with this test.
    for c in [
        "headwater",
        "headwater cluster spu register",
        "headwater topic create",
        "headwater partition list",
        "headwater completions",
        "headwater bench",
    ] {
        assert!(
            visited.iter().any(|v| v == c),
            "{c} not visited: {visited:?}"
        );
    }
    assert!(visited.len() >= 17, "{visited:?}");
}

/// Asks bash's completion function from the script what `words` (the last one being typed) complete to.
fn bash_completes(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let line = words.join(" ");
    let program = format!(
        "source {script:?}\n\
         COMP_WORDS=({line})\n\
         COMP_CWORD={cword}\n\
         COMP_LINE={line:?}\n\
         COMP_POINT=${{#COMP_LINE}}\n\
         _headwater headwater {cur:?} {prev:?}\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script = script.display().to_string(),
        cword = words.len() - 1,
        cur = words[words.len() - 1],
        prev = words[words.len() - 2],
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(&program)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn completions_for_bash_zsh_and_fish() {
    let dir = tempfile::tempdir().unwrap();
    let bash = stdout_of(&["completions", "bash"]);
    let script = dir.path().join("headwater.bash");
    std::fs::write(&script, &bash).unwrap();
    let syntax = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        syntax.status.success(),
        "{}",
        String::from_utf8_lossy(&syntax.stderr)
    );
    // As the README turns it on: sourced into bash, which then completes `headwater` with it.
    let registered = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {:?} && complete -p headwater",
            script.display().to_string()
        ))
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&registered.stdout);
    assert!(
        registered.status.success()
            && shown.contains("-F _headwater")
            && shown.trim_end().ends_with(" headwater"),
        "{shown}{}",
        String::from_utf8_lossy(&registered.stderr)
    );
    for sub in [
        "broker",
        "topic",
        "partition",
        "cluster",
        "produce",
        "consume",
        "demo",
        "bench",
        "completions",
    ] {
        assert!(bash.contains(sub), "the bash script does not mention {sub}");
    }
    assert_eq!(bash_completes(&script, &["headwater", "pro"]), ["produce"]);
    assert_eq!(
        bash_completes(&script, &["headwater", "topic", "cr"]),
        ["create"]
    );
    assert_eq!(
        bash_completes(&script, &["headwater", "produce", "--key-s"]),
        ["--key-separator"]
    );

    let zsh = stdout_of(&["completions", "zsh"]);
    assert!(zsh.starts_with("#compdef headwater"), "{zsh}");
    let fish = stdout_of(&["completions", "fish"]);
    for script in [&zsh, &fish] {
        for sub in ["produce", "consume", "completions", "register"] {
            assert!(script.contains(sub), "{sub} missing from:\n{script}");
        }
    }
    assert!(fish.contains("complete -c headwater"), "{fish}");

    // A shell clap_complete does not know is a usage error (exit 2), naming the ones it does.
    let out = headwater(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tcsh") && err.contains("bash"), "{err}");
}
