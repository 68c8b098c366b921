//! The configuration table (`docs/configuration.md`, section "Settings") and
//! the settings the code reads cannot drift apart: every `WRISTBAND_*`
//! variable of one is in the other.

use std::collections::BTreeSet;

use clap::Args;

fn in_the_code() -> BTreeSet<String> {
    wristband::config::Settings::augment_args(clap::Command::new("wristband"))
        .get_arguments()
        .filter_map(|arg| arg.get_env())
        .map(|env| env.to_string_lossy().into_owned())
        .collect()
}

fn in_the_docs() -> BTreeSet<String> {
    let page = include_str!("../docs/configuration.md");
    let table = page
        .split("\n## Settings\n")
        .nth(1)
        .expect("a Settings section")
        .split("\n## ")
        .next()
        .unwrap_or_default();
    table
        .lines()
        .filter(|line| line.starts_with("| `"))
        .filter_map(|row| row.split('|').nth(1))
        .flat_map(|cell| {
            cell.split('`')
                .filter(|word| word.starts_with("WRISTBAND_"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn the_configuration_table_lists_exactly_the_settings() {
    let (code, docs) = (in_the_code(), in_the_docs());
    assert!(code.len() > 20, "the settings are read: {code:?}");
    assert_eq!(
        code.difference(&docs).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "read by the code but missing from docs/configuration.md's table"
    );
    assert_eq!(
        docs.difference(&code).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "in docs/configuration.md's table but not read by the code"
    );
}
