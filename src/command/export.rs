//! `export`: secret and parameter values as environment variables, for a step that needs the
//! values themselves (a migration, a smoke test), to the destinations asked for: `GITHUB_ENV`,
//! an env file, stdout. All or nothing: when one destination cannot be written, the others are
//! left as they were. The log names the variables, never the values.

use std::path::PathBuf;

use crate::artifacts::Staged;
use crate::aws::{self, Aws};
use crate::ci::{Ci, github};
use crate::error::Error;
use crate::mask::Secret;
use crate::output::{self, Stream};
use crate::report::shell_quote;
use crate::variables::{self, Casing, Variable};

#[allow(clippy::struct_excessive_bools)] // independent destinations, each an input of its own
pub struct Export {
    /// `secret-ids` lines.
    pub ids: Vec<String>,
    pub casing: Casing,
    pub parse_json: bool,
    pub env_file: Option<PathBuf>,
    /// Set the variables for later GitHub steps through `GITHUB_ENV`.
    pub github_env: bool,
    /// Print `export NAME='value'` lines, values in clear.
    pub stdout: bool,
    /// Publish each variable as a step output too (GitHub).
    pub outputs: bool,
    /// The names the environment already has: a variable never replaces one (`PATH`, say, from
    /// a JSON key under a blank alias), as in the get-secrets action.
    pub taken: std::collections::BTreeSet<String>,
    pub aws: aws::Settings,
}

impl Export {
    pub async fn run(&self, ci: &Ci) -> Result<(), Error> {
        if self.ids.iter().all(|l| l.trim().is_empty()) {
            return Err(Error::Usage("`export` needs `secret-ids`".to_owned()));
        }
        let github_env = ci.env_file().filter(|_| self.github_env);
        let outputs = ci.output_file().filter(|_| self.outputs);
        if self.outputs && outputs.is_none() {
            return Err(Error::Usage(
                "input `export-to-outputs`: step outputs exist on GitHub Actions only (`GITHUB_OUTPUT` is not set); use `env-file` elsewhere".to_owned(),
            ));
        }
        if github_env.is_none() && self.env_file.is_none() && !self.stdout && outputs.is_none() {
            return Err(Error::Usage(
                "`export` has nowhere to put the values: give `env-file`, run on GitHub (`GITHUB_ENV`), or set `export-to-outputs` or `export-to-stdout`"
                    .to_owned(),
            ));
        }
        let aws = Aws::load(&self.aws).await?;
        let protect = |secret: &Secret, label: &str| ci.protect(secret, label);
        let variables =
            variables::fetch(&aws, &self.ids, self.casing, self.parse_json, &protect).await?;
        self.refuse_taken_names(&variables)?;
        let pairs: Vec<(String, &str)> = variables
            .iter()
            .map(|v| (v.name.clone(), v.value.expose()))
            .collect();
        self.write(&pairs, github_env, outputs)?;
        if self.stdout {
            for (name, value) in &pairs {
                // Asked for in so many words: the values go out as they are.
                output::write_unredacted_line(
                    Stream::Stdout,
                    &format!("export {name}={}", shell_quote(value)),
                );
            }
        }
        say_names(&variables);
        Ok(())
    }

    /// The env file staged first, `GITHUB_ENV` appended, then the file put in place: when that
    /// fails, `GITHUB_ENV` is cut back to what it was, and nothing of the run is left behind.
    fn write(
        &self,
        pairs: &[(String, &str)],
        github_env: Option<&std::path::Path>,
        outputs: Option<&std::path::Path>,
    ) -> Result<(), Error> {
        let mut staged = Staged::default();
        if let Some(path) = &self.env_file {
            let text = pairs.iter().fold(String::new(), |mut text, (name, value)| {
                text.push_str(name);
                text.push('=');
                text.push_str(&shell_quote(value));
                text.push('\n');
                text
            });
            staged.file(path, text.as_bytes(), true)?;
        }
        let appended = match github_env {
            Some(path) => Some((
                path,
                github::set_values(path, pairs).map_err(|source| Error::Write {
                    path: path.to_owned(),
                    source,
                })?,
            )),
            None => None,
        };
        // Step outputs: every value was masked (`::add-mask::`) when it was read.
        let published = match outputs {
            Some(path) => match github::set_values(path, pairs) {
                Ok(before) => Some((path, before)),
                Err(source) => {
                    if let Some((path, before)) = appended {
                        github::truncate(path, before);
                    }
                    return Err(Error::Write {
                        path: path.to_owned(),
                        source,
                    });
                }
            },
            None => None,
        };
        if let Err(error) = staged.commit() {
            for (path, before) in appended.into_iter().chain(published) {
                github::truncate(path, before);
            }
            return Err(error);
        }
        Ok(())
    }
}

impl Export {
    /// An empty name, or one the environment already has, is refused before anything is written.
    fn refuse_taken_names(&self, variables: &[Variable]) -> Result<(), Error> {
        let bad: Vec<String> = variables
            .iter()
            .filter_map(|v| {
                if v.name.is_empty() {
                    Some(format!("`{}` gives an empty name", v.source))
                } else if self.taken.contains(&v.name) {
                    Some(format!(
                        "`{}` (from `{}`) is already set in this environment",
                        v.name, v.source
                    ))
                } else {
                    None
                }
            })
            .collect();
        if bad.is_empty() {
            return Ok(());
        }
        Err(Error::Usage(format!(
            "export: {}; give an alias (`ALIAS,id`) so that each variable has a name of its own",
            bad.join("; ")
        )))
    }
}

fn say_names(variables: &[Variable]) {
    let names: Vec<&str> = variables.iter().map(|v| v.name.as_str()).collect();
    output::err(&format!(
        "export: {} variable{}: {} (values not shown)",
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        names.join(", ")
    ));
}
