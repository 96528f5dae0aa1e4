//! The check's report: a tree of findings, each with its place in the template. One model,
//! rendered as text for people and serialised as a versioned JSON document for machines.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

use crate::error::Location;

/// The version of the JSON report's shape; it changes only when a field changes meaning or goes.
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
    Skip,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Ok => "[ok]  ",
            Status::Warn => "[warn]",
            Status::Fail => "[fail]",
            Status::Skip => "[skip]",
        }
    }
}

/// One line of the report tree.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub status: Status,
    /// 0 for a reference or the role, 1 for what was checked about it.
    pub depth: usize,
    pub message: String,
    pub fix: Option<String>,
    /// The place in the template it is about: the reference's `valueFrom`, or `executionRoleArn`
    /// (`file` or `input`, `path`, and `line` and `column` where known).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// The findings, and what the check learnt along the way for `policy`.
#[derive(Debug, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
    /// Every `(action, resource)` the execution role needs, for `policy`.
    pub needs: Vec<(String, String)>,
    /// For a key among the needs: the services that decrypt with it on the role's behalf
    /// (`kms:ViaService`).
    pub via: BTreeMap<String, BTreeSet<String>>,
    /// The references `policy` cannot make readable, each with why: `path `name`: valueFrom
    /// (reason)`.
    pub missing: Vec<String>,
    /// Every `(action, resource)` the check itself calls, for the deployer's policy when it
    /// runs `preflight`.
    pub reads: Vec<(String, String)>,
    /// The place the next findings are about.
    pub(super) here: Option<Location>,
}

/// The JSON document of one report.
#[derive(Debug, Serialize)]
pub struct Document<'a> {
    pub version: u32,
    pub ok: bool,
    pub findings: &'a [Finding],
}

impl Report {
    pub(super) fn push(&mut self, status: Status, depth: usize, message: impl Into<String>) {
        self.findings.push(Finding {
            status,
            depth,
            message: message.into(),
            fix: None,
            location: self.here.clone(),
        });
    }

    pub(super) fn fail(
        &mut self,
        depth: usize,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.push(Status::Fail, depth, message);
        self.last_fix(Some(fix.into()));
    }

    /// A `[skip]` under the current reference, with a fix when there is one.
    pub(super) fn skip_because(&mut self, message: String, fix: Option<String>) {
        self.push(Status::Skip, 1, message);
        self.last_fix(fix);
    }

    fn last_fix(&mut self, fix: Option<String>) {
        if let Some(finding) = self.findings.last_mut() {
            finding.fix = fix;
        }
    }

    /// A call the check made, for `policy --preflight`.
    pub(super) fn read(&mut self, action: &str, resource: &str) {
        let read = (action.to_owned(), resource.to_owned());
        if !self.reads.contains(&read) {
            self.reads.push(read);
        }
    }

    /// Something the execution role needs; `via`: the service that does it on its behalf.
    pub(super) fn need(&mut self, action: &str, resource: &str, via: Option<&str>) {
        self.needs.push((action.to_owned(), resource.to_owned()));
        if let Some(via) = via {
            self.via
                .entry(resource.to_owned())
                .or_default()
                .insert(via.to_owned());
        }
    }

    pub fn failed(&self) -> usize {
        self.count(Status::Fail)
    }

    fn count(&self, status: Status) -> usize {
        self.findings.iter().filter(|f| f.status == status).count()
    }

    /// The tree, for people.
    pub fn text(&self) -> String {
        let mut text = String::new();
        for finding in &self.findings {
            let indent = "  ".repeat(finding.depth);
            let _ = writeln!(
                text,
                "{indent}{} {}",
                finding.status.label(),
                finding.message
            );
            if let Some(fix) = &finding.fix {
                let _ = writeln!(text, "{indent}       fix: {fix}");
            }
        }
        let _ = writeln!(
            text,
            "check: {} ok, {} warning(s), {} failed, {} skipped",
            self.count(Status::Ok),
            self.count(Status::Warn),
            self.count(Status::Fail),
            self.count(Status::Skip)
        );
        text
    }

    /// The JSON document, for machines.
    pub fn document(&self) -> Document<'_> {
        Document {
            version: VERSION,
            ok: self.failed() == 0,
            findings: &self.findings,
        }
    }

    pub fn json(&self) -> String {
        serde_json::to_string_pretty(&self.document()).expect("JSON serialises") + "\n"
    }
}

/// The reports of a manifest's templates as one JSON document.
#[derive(Debug, Serialize)]
pub struct Many<'a> {
    pub version: u32,
    pub ok: bool,
    #[serde(rename = "task-definitions")]
    pub task_definitions: Vec<Named<'a>>,
}

/// One template's report, with its family and file.
#[derive(Debug, Serialize)]
pub struct Named<'a> {
    pub family: &'a str,
    #[serde(rename = "task-definition")]
    pub file: String,
    #[serde(flatten)]
    pub report: Document<'a>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Origin;

    #[test]
    fn text_and_json_come_from_the_same_findings() {
        let mut report = Report {
            here: Some(Location {
                origin: Origin::File("web.json".into()),
                line: 3,
                column: 9,
                path: "executionRoleArn".into(),
            }),
            ..Report::default()
        };
        report.push(Status::Ok, 0, "role");
        report.fail(1, "may not", "allow it");
        report.here = None;
        report.push(Status::Skip, 0, "not evaluated: x");
        assert_eq!(
            report.text(),
            "[ok]   role\n  [fail] may not\n         fix: allow it\n[skip] not evaluated: x\ncheck: 1 ok, 0 warning(s), 1 failed, 1 skipped\n"
        );
        let json: serde_json::Value = serde_json::from_str(&report.json()).unwrap();
        assert_eq!(json["version"], 1);
        assert_eq!(json["ok"], false);
        assert_eq!(json["findings"][1]["status"], "fail");
        assert_eq!(json["findings"][1]["file"], "web.json");
        assert_eq!(json["findings"][1]["line"], 3);
        assert_eq!(json["findings"][1]["fix"], "allow it");
        assert!(json["findings"][2].get("file").is_none());
        assert!(json["findings"][2]["fix"].is_null());
    }
}
