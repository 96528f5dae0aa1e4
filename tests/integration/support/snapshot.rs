//! Snapshots of what people read (plans, check reports, error lists), with what changes from run
//! to run (the test's directory, random secret-ARN suffixes, KMS key ids) made stable.

/// The filters every snapshot goes through.
pub fn settings(dir: &std::path::Path) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.add_filter(&regex_escape(&dir.display().to_string()), "[DIR]");
    // Secrets Manager's random 6-character suffix of a secret's ARN.
    settings.add_filter(
        r"(:secret:[A-Za-z0-9/_+=.@-]+?)-[A-Za-z0-9]{6}\b",
        "$1-XXXXXX",
    );
    settings.add_filter(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "[UUID]",
    );
    settings
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$#&-~".contains(c);
            special
                .then_some('\\')
                .into_iter()
                .chain(std::iter::once(c))
        })
        .collect()
}

/// Asserts `text` against the named snapshot, filtered for `dir`.
#[macro_export]
macro_rules! snapshot {
    ($name:expr, $dir:expr, $text:expr) => {{
        let name: &str = &$name;
        $crate::support::snapshot::settings($dir).bind(|| {
            insta::assert_snapshot!(name, $text);
        })
    }};
}
