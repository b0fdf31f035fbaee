//! The examples that end each command's `--help` (clap's `after_help`; tests/help.rs checks that every
//! command ends with them and that each example runs the command it documents).

pub const HEADWATER: &str = "\
Examples:
  headwater broker
  headwater topic create events -p 3
  printf 'alice:hello\\nbob:hi\\n' | headwater produce events --key-separator :
  headwater consume events -p 0 -B -d
  headwater demo";

pub const BROKER: &str = "\
Examples:
  headwater broker
  headwater broker --data-dir /var/lib/headwater --spus 3 --sc-addr 0.0.0.0:9003";

pub const TOPIC: &str = "\
Examples:
  headwater topic create events -p 3
  headwater topic list";

pub const TOPIC_CREATE: &str = "\
Examples:
  headwater topic create events -p 3
  headwater topic create audit --compression-type zstd --retention-time 7d";

pub const TOPIC_DELETE: &str = "\
Example:
  headwater topic delete events";

pub const TOPIC_LIST: &str = "\
Example:
  headwater topic list --endpoint 10.0.0.5:9003";

pub const PARTITION: &str = "\
Example:
  headwater partition list";

pub const PARTITION_LIST: &str = "\
Example:
  headwater partition list --endpoint 10.0.0.5:9003";

pub const CLUSTER: &str = "\
Example:
  headwater cluster spu list";

pub const CLUSTER_SPU: &str = "\
Examples:
  headwater cluster spu register --id 5001 -p 10.0.0.7:9010 -v 10.0.0.7:9011
  headwater cluster spu list";

pub const CLUSTER_SPU_REGISTER: &str = "\
Example:
  headwater cluster spu register --id 5001 -p 10.0.0.7:9010 -v 10.0.0.7:9011";

pub const CLUSTER_SPU_LIST: &str = "\
Example:
  headwater cluster spu list";

pub const PRODUCE: &str = "\
Examples:
  printf 'alice:hello\\nbob:hi\\n' | headwater produce events --key-separator :
  headwater produce events -f big.log --compression zstd    # a progress bar on a terminal
  headwater produce events -p 0 --key sensor-1 -v";

pub const CONSUME: &str = "\
Examples:
  headwater consume events -p 0 -B -d
  headwater consume events -T 10 -d -F '{{offset}} {{key}}={{value}}'
  headwater consume events -B -O json";

pub const DEMO: &str = "\
Examples:
  headwater demo
  headwater demo --records 50000 --codecs lz4,zstd";

pub const BENCH: &str = "\
Examples:
  headwater bench --records 1000000 --size 100 --compression lz4
  headwater bench --latency --records 10000";

pub const COMPLETIONS: &str = "\
Examples:
  headwater completions bash > ~/.local/share/bash-completion/completions/headwater
  headwater completions zsh > ~/.zfunc/_headwater    # with fpath+=(~/.zfunc) in ~/.zshrc
  headwater completions fish > ~/.config/fish/completions/headwater.fish";
