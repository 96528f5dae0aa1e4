//! `render`: resolve, render and validate; write the rendered definition (to a file or stdout)
//! and the CodePipeline artifacts asked for. No AWS write.

use std::path::PathBuf;

use crate::artifacts::{self, Staged};
use crate::ci::Ci;
use crate::error::Error;
use crate::output::Stream;
use crate::prepare::{self, Definitions, Reads};
use crate::report::{self, Outputs};

pub struct Render {
    pub definitions: Definitions,
    /// The rendered file; stdout when unset.
    pub output: Option<PathBuf>,
    pub artifacts: artifacts::Targets,
    pub format: report::Format,
}

impl Render {
    pub async fn run(&self, ci: &Ci) -> Result<(), Error> {
        let ready = prepare::prepare(&self.definitions, Reads::Values, false, ci).await?;
        let definition = &ready.definitions[0];
        let rendered = &definition.rendered;
        let mut report = Outputs::of(rendered);
        // Every file staged before the first one is in place; stdout last.
        let mut staged = Staged::default();
        if let Some(target) = &self.output {
            artifacts::stage_rendered(&mut staged, rendered, target)?;
            report.rendered = Some(target.clone());
        }
        self.artifacts.stage(&mut staged, rendered)?;
        if self.output.is_none() {
            artifacts::print_rendered(rendered)?;
        }
        artifacts::commit(staged, rendered, report.rendered.as_deref())?;
        // With the definition on stdout, the report goes to stderr.
        let stream = if self.output.is_none() {
            Stream::Stderr
        } else {
            Stream::Stdout
        };
        report::print(&report, self.format, "render", stream, ci);
        Ok(())
    }
}
