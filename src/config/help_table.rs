//! The README's configuration table against `lineup serve --help`: every
//! `LINEUP_*` variable clap knows is in the table with the same default, and
//! the table lists nothing else.

use super::Cli;
use std::collections::BTreeMap;

/// `lineup serve --help`'s variables with their defaults, from clap itself:
/// `None` for a flag without a default (an off switch reads `false`).
fn help_variables() -> BTreeMap<String, Option<String>> {
    let command = <Cli as clap::CommandFactory>::command();
    let serve = command
        .find_subcommand("serve")
        .expect("lineup has a serve command");
    serve
        .get_arguments()
        .filter_map(|arg| {
            let variable = arg.get_env()?.to_str()?.to_owned();
            let default = arg
                .get_default_values()
                .first()
                .and_then(|value| value.to_str())
                .filter(|value| *value != "false")
                .map(str::to_owned);
            Some((variable, default))
        })
        .collect()
}

/// The README's configuration table: each variable with the default its row
/// spells (`none` and `off` spell none).
fn readme_variables() -> BTreeMap<String, Option<String>> {
    let readme = include_str!("../../README.md");
    let section = readme
        .split("\n## Configuration\n")
        .nth(1)
        .expect("the README has a ## Configuration section");
    let section = section.split("\n## ").next().unwrap_or(section);
    let mut variables = BTreeMap::new();
    for row in section
        .lines()
        .filter(|line| line.starts_with("| `LINEUP_"))
    {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let ticked = |cell: &str| -> Vec<String> {
            cell.split('`')
                .skip(1)
                .step_by(2)
                .filter(|word| !word.starts_with('-'))
                .map(str::to_owned)
                .collect()
        };
        let (names, defaults) = (ticked(cells[1]), ticked(cells[2]));
        assert!(
            defaults.is_empty() || defaults.len() == names.len(),
            "{row}: one default per variable, or none"
        );
        for (i, name) in names.into_iter().enumerate() {
            let default = defaults.get(i).cloned();
            assert!(variables.insert(name, default).is_none(), "{row} twice");
        }
    }
    variables
}

/// The same default, spelled either way (`2.0` and `2`).
fn same_default(a: &Option<String>, b: &Option<String>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => {
            a == b || matches!((a.parse::<f64>(), b.parse::<f64>()), (Ok(x), Ok(y)) if x == y)
        }
        (a, b) => a == b,
    }
}

#[test]
fn the_readme_table_lists_every_variable_of_serve_help_with_its_default() {
    let help = help_variables();
    let readme = readme_variables();
    let missing: Vec<&String> = help.keys().filter(|v| !readme.contains_key(*v)).collect();
    let unknown: Vec<&String> = readme.keys().filter(|v| !help.contains_key(*v)).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "README.md's configuration table lacks {missing:?} and lists {unknown:?}, which `lineup serve --help` does not have"
    );
    for (variable, default) in &help {
        assert!(
            same_default(default, &readme[variable]),
            "{variable}: --help says {default:?}, README.md {:?}",
            readme[variable]
        );
    }
}
