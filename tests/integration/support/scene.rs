//! A scene: the emulator seeded and a template written, in one expression, and the runs of the
//! binary against them without the argument chain each test would otherwise repeat.
//!
//! ```ignore
//! let scene = Scene::new()
//!     .secret("web/db", r#"{"password":"pw"}"#)
//!     .parameter("/web/host", "db.example")
//!     .template("web.json", &fixture("web.json"));
//! let out = scene.deploy(&["--allow-plaintext-secrets"]).output().success();
//! ```

use std::ops::Deref;
use std::path::{Path, PathBuf};

use super::emulator::{Env, Run};

/// The text of a fixture under `tests/fixtures/`.
pub fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub struct Scene {
    env: Env,
    /// The template, once written.
    template: Option<(PathBuf, String)>,
}

impl Deref for Scene {
    type Target = Env;

    fn deref(&self) -> &Env {
        &self.env
    }
}

impl Default for Scene {
    fn default() -> Self {
        Self::new()
    }
}

impl Scene {
    /// A fresh emulator (reset), held by this test.
    pub fn new() -> Self {
        Self {
            env: Env::new(),
            template: None,
        }
    }

    pub fn secret(self, name: &str, value: &str) -> Self {
        self.env.secret(name, value);
        self
    }

    /// A `String` parameter.
    pub fn parameter(self, name: &str, value: &str) -> Self {
        self.env.parameter(name, value, false);
        self
    }

    /// A `SecureString` parameter.
    pub fn secure(self, name: &str, value: &str) -> Self {
        self.env.parameter(name, value, true);
        self
    }

    /// A role that ECS tasks may assume, with no policy.
    pub fn role(self, name: &str) -> Self {
        self.env.task_role(name);
        self
    }

    /// Writes the template the runs use.
    pub fn template(mut self, name: &str, text: &str) -> Self {
        let path = self.env.file(name, text);
        self.template = Some((path, text.to_owned()));
        self
    }

    /// The template's path.
    pub fn path(&self) -> &str {
        self.written().0.to_str().unwrap()
    }

    fn written(&self) -> &(PathBuf, String) {
        self.template.as_ref().expect("the scene has a template")
    }

    /// `FILE:LINE:COLUMN` of the first occurrence of `needle` in the template.
    pub fn at(&self, needle: &str) -> String {
        let (path, text) = self.written();
        let offset = text
            .find(needle)
            .unwrap_or_else(|| panic!("{needle} not in the template"));
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = before[before.rfind('\n').map_or(0, |i| i + 1)..]
            .chars()
            .count()
            + 1;
        format!("{}:{line}:{column}", path.display())
    }

    /// `ecs-secrets COMMAND --task-definition TEMPLATE EXTRA…`.
    pub fn command(&self, command: &str, extra: &[&str]) -> Run {
        let args = [command, "--task-definition", self.path()];
        self.env.run(args.iter().chain(extra))
    }

    pub fn deploy(&self, extra: &[&str]) -> Run {
        self.command("deploy", extra)
    }

    pub fn render(&self, extra: &[&str]) -> Run {
        self.command("render", extra)
    }

    pub fn check(&self, extra: &[&str]) -> Run {
        self.command("check", extra)
    }
}
