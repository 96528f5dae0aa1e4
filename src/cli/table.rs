//! The one table of inputs: each input's name, kind, the commands it applies to, its range and
//! default, and its description. Flags, environment names, help, the README table and
//! action.yml are all made from it.

use crate::cli::Name;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One value.
    Text,
    /// `true` or `false` (also `yes`/`no`, `1`/`0`); a bare flag means `true`.
    Bool,
    /// Several values: a repeated flag, or one per line (or comma-separated) in the environment.
    List,
    /// Multi-line `NAME=VALUE` text; the flag may be repeated.
    Lines,
}

/// One input of the tool.
#[derive(Debug)]
pub struct InputSpec {
    pub name: &'static str,
    pub kind: Kind,
    /// The commands that use it: a flag for another command is a usage error; the same input
    /// from the environment is ignored (GitHub sets every input of an action).
    pub commands: &'static [Name],
    /// For numbers: the values accepted.
    pub range: Option<Range>,
    pub default: Option<&'static str>,
    pub description: &'static str,
}

/// The values a numeric input accepts.
#[derive(Debug, Clone, Copy)]
pub struct Range {
    pub min: f64,
    pub max: f64,
    /// Whole numbers only.
    pub whole: bool,
    pub unit: &'static str,
}

impl InputSpec {
    /// The commands it applies to, for the docs: `all`, or `deploy, policy`.
    pub fn applies_to(&self) -> String {
        if self.commands.len() == Name::ALL.len() {
            return "all".to_owned();
        }
        self.commands
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The description, with the range of a number.
    pub fn full_description(&self) -> String {
        match &self.range {
            Some(range) => format!("{} Accepts {}.", self.description, range.describe()),
            None => self.description.to_owned(),
        }
    }
}

impl Range {
    /// `from 0.01 to 300 seconds`, `a whole number from 1 to 20`.
    pub fn describe(&self) -> String {
        let unit = if self.unit.is_empty() {
            String::new()
        } else {
            format!(" {}", self.unit)
        };
        if self.whole {
            format!("a whole number from {} to {}{unit}", self.min, self.max)
        } else {
            format!("from {} to {}{unit}", self.min, self.max)
        }
    }

    pub fn admits(&self, n: f64) -> bool {
        n.is_finite() && n >= self.min && n <= self.max && (!self.whole || n.fract() == 0.0)
    }
}

const ALL: &[Name] = &Name::ALL;
const TEMPLATE: &[Name] = &[
    Name::Render,
    Name::Deploy,
    Name::Check,
    Name::Policy,
    Name::Run,
];
const FROM_SERVICE: &[Name] = &[
    Name::Render,
    Name::Deploy,
    Name::Check,
    Name::Policy,
    Name::Init,
    Name::Rollback,
    Name::Run,
];
const ROLLOUT: &[Name] = &[Name::Deploy, Name::Rollback];
const CODEDEPLOY: &[Name] = &[Name::Deploy, Name::Rollback, Name::Policy];
const WAITS: &[Name] = &[Name::Deploy, Name::Rollback, Name::Run];
const ONE_OFF: &[Name] = &[Name::Deploy, Name::Run];
const MANY: &[Name] = &[Name::Deploy, Name::Check];
const FILES: &[Name] = &[Name::Render, Name::Deploy];
const REPORTS: &[Name] = &[Name::Render, Name::Deploy, Name::Check, Name::Run];
const DEPLOY: &[Name] = &[Name::Deploy];
const CHECK: &[Name] = &[Name::Check];
const PREFLIGHT: &[Name] = &[Name::Deploy, Name::Policy];
const WRITES: &[Name] = &[Name::Render, Name::Deploy, Name::Init];
const EXPORT: &[Name] = &[Name::Export];

pub const INPUTS: &[InputSpec] = &[
    InputSpec {
        name: "task-definition",
        kind: Kind::Text,
        commands: TEMPLATE,
        range: None,
        default: None,
        description: "The task-definition template: a JSON or YAML file, in the RegisterTaskDefinition shape or the `describe-task-definition` output; or a registered revision, by ARN, `FAMILY` (its latest ACTIVE revision) or `FAMILY:REVISION` (a value that is not a file and reads as one of these). Required, unless `task-definition-arn`, `task-definition-family` or `task-definition-from-service` names the revision.",
    },
    InputSpec {
        name: "task-definition-arn",
        kind: Kind::Text,
        commands: TEMPLATE,
        range: None,
        default: None,
        description: "Start from this registered revision (as the render action): its definition, tags included, is the template.",
    },
    InputSpec {
        name: "task-definition-family",
        kind: Kind::Text,
        commands: TEMPLATE,
        range: None,
        default: None,
        description: "Start from the latest ACTIVE revision of this family, or with `task-definition-revision` from that revision (as the render action).",
    },
    InputSpec {
        name: "task-definition-revision",
        kind: Kind::Text,
        commands: TEMPLATE,
        range: Some(Range {
            min: 1.0,
            max: 1_000_000.0,
            whole: true,
            unit: "",
        }),
        default: None,
        description: "The revision of `task-definition-family` to start from.",
    },
    InputSpec {
        name: "task-definition-from-service",
        kind: Kind::Bool,
        commands: TEMPLATE,
        range: None,
        default: Some("false"),
        description: "Start from the revision `service` of `cluster` runs. Deployed unchanged (no placeholder, no override that changes it) with `skip-unchanged` (the default), nothing is registered and the service keeps that revision.",
    },
    InputSpec {
        name: "manifest",
        kind: Kind::Text,
        commands: MANY,
        range: None,
        default: None,
        description: "`deploy` (or `check`) of many services in one run: a YAML or JSON file listing `services:` entries, each with `task-definition` and optionally `service`, `cluster` and `image`. References of all of them are resolved in one batched pass.",
    },
    InputSpec {
        name: "shard",
        kind: Kind::Text,
        commands: MANY,
        range: None,
        default: None,
        description: "With `manifest`: take only part `K/N` of its services (by a hash of each service's cluster and name, or its template path), so N CI jobs (a matrix) share one manifest, each service in exactly one part, stable when services are reordered or added.",
    },
    InputSpec {
        name: "fail-fast",
        kind: Kind::Bool,
        commands: DEPLOY,
        range: None,
        default: Some("false"),
        description: "With `manifest`: once a service fails, start no further one (those under way finish; the rest are reported `skipped`). Off: every service is tried, and the run fails if any did.",
    },
    InputSpec {
        name: "image",
        kind: Kind::List,
        commands: TEMPLATE,
        range: None,
        default: None,
        description: "Image to set, `container=uri` (repeatable, one per line); a bare `uri` applies to `container-name`, or to the only container.",
    },
    InputSpec {
        name: "container-name",
        kind: Kind::List,
        commands: TEMPLATE,
        range: None,
        default: None,
        description: "Container(s) that a bare `image`, `environment-variables` and `secrets` apply to; defaults to the only container.",
    },
    InputSpec {
        name: "environment-variables",
        kind: Kind::Lines,
        commands: TEMPLATE,
        range: None,
        default: None,
        description: "`NAME=value` lines merged into the containers' `environment` by name (placeholders allowed).",
    },
    InputSpec {
        name: "secrets",
        kind: Kind::Lines,
        commands: TEMPLATE,
        range: None,
        default: None,
        description: "`NAME=valueFrom` lines merged into the containers' `secrets` by name, e.g. `DB_PASSWORD={{secretsmanager-arn:prod/db:password}}`.",
    },
    InputSpec {
        name: "command",
        kind: Kind::Text,
        commands: TEMPLATE,
        range: None,
        default: None,
        description: "The container's `command`, as the render action sets it: a JSON array (`[\"npm\", \"start\"]`) or words split on spaces; for `container-name`, or the only container. In the environment, a value that is exactly an older mode's name (`deploy`, `render`, `check`, `policy`, `export`) is never a container command: it selects the mode while `mode` is unset, so older workflows keep working (write a one-word container command like that as `[\"deploy\"]`).",
    },
    InputSpec {
        name: "env-files",
        kind: Kind::Lines,
        commands: TEMPLATE,
        range: None,
        default: None,
        description: "S3 object ARNs of environment files, one per line: they replace the container's `environmentFiles` (type `s3`), as the render action does.",
    },
    InputSpec {
        name: "log-configuration-log-driver",
        kind: Kind::Text,
        commands: TEMPLATE,
        range: None,
        default: None,
        description: "Set the container's `logConfiguration.logDriver`: `awslogs`, `awsfirelens`, `fluentd`, `gelf`, `journald`, `json-file`, `splunk` or `syslog`.",
    },
    InputSpec {
        name: "log-configuration-options",
        kind: Kind::Lines,
        commands: TEMPLATE,
        range: None,
        default: None,
        description: "`key=value` lines merged into the container's `logConfiguration.options` (placeholders allowed).",
    },
    InputSpec {
        name: "docker-labels",
        kind: Kind::Lines,
        commands: TEMPLATE,
        range: None,
        default: None,
        description: "`key=value` lines merged into the container's `dockerLabels`.",
    },
    InputSpec {
        name: "task-role-arn",
        kind: Kind::Text,
        commands: TEMPLATE,
        range: None,
        default: None,
        description: "Set the task's `taskRoleArn` (an IAM role ARN).",
    },
    InputSpec {
        name: "execution-role-arn",
        kind: Kind::Text,
        commands: TEMPLATE,
        range: None,
        default: None,
        description: "Set the task's `executionRoleArn` (an IAM role ARN): the role `check` proves can read every secret.",
    },
    InputSpec {
        name: "keep-null-value-keys",
        kind: Kind::List,
        commands: TEMPLATE,
        range: None,
        default: None,
        description: "Accepted for the deploy action's workflows, with nothing to do: only `null` values are dropped before registering; empty strings, lists and maps are always kept as written.",
    },
    InputSpec {
        name: "allow-plaintext-secrets",
        kind: Kind::Bool,
        commands: TEMPLATE,
        range: None,
        default: Some("false"),
        description: "Allow secret values (Secrets Manager, SecureString) to land in plain text in the task definition. Off: only `-arn` references are accepted for secrets.",
    },
    InputSpec {
        name: "skip-unchanged",
        kind: Kind::Bool,
        commands: ONE_OFF,
        range: None,
        default: Some("true"),
        description: "Register nothing when the rendered definition equals the family's latest ACTIVE revision; report that revision.",
    },
    InputSpec {
        name: "output",
        kind: Kind::Text,
        commands: WRITES,
        range: None,
        default: None,
        description: "Where to write the rendered task definition (`-` for stdout); `render` writes to stdout by default. `init`: where to write the template (required; `-` for stdout).",
    },
    InputSpec {
        name: "report-format",
        kind: Kind::Text,
        commands: REPORTS,
        range: None,
        default: Some("lines"),
        description: "How the report is printed on stdout: `lines` (`key=value`), `shell` (`export TASK_DEFINITION_ARN='…'` lines to `eval` or source, e.g. for CodeBuild `exported-variables`) or `json`.",
    },
    InputSpec {
        name: "max-attempts",
        kind: Kind::Text,
        commands: ALL,
        range: Some(Range {
            min: 1.0,
            max: 20.0,
            whole: true,
            unit: "",
        }),
        default: Some("5"),
        description: "Attempts per AWS call: throttling, 5xx answers and lost connections are retried with capped exponential backoff and jitter; access denied, validation and not-found never are.",
    },
    InputSpec {
        name: "aws-timeout",
        kind: Kind::Text,
        commands: ALL,
        range: Some(Range {
            min: 1.0,
            max: 3600.0,
            whole: false,
            unit: "seconds",
        }),
        default: Some("60"),
        description: "Seconds one AWS call may take, retries included, before the run fails with a clear error.",
    },
    InputSpec {
        name: "max-concurrency",
        kind: Kind::Text,
        commands: ALL,
        range: Some(Range {
            min: 1.0,
            max: 256.0,
            whole: true,
            unit: "",
        }),
        default: Some("32"),
        description: "AWS calls in flight at once while resolving references (and ECS reads started with them); the rate bounds below apply as well.",
    },
    InputSpec {
        name: "max-requests-per-second",
        kind: Kind::Text,
        commands: ALL,
        range: Some(Range {
            min: 0.1,
            max: 10000.0,
            whole: false,
            unit: "",
        }),
        default: Some("20"),
        description: "Rate bound for Parameter Store calls, in any one-second window (its default quota is 40 a second, shared by the whole account and Region). Secrets Manager's `ListSecrets` and `BatchGetSecretValue` keep to 50 a second, half their quota of 100; its other reads (quotas of 10,000 a second and more) are bounded by `max-concurrency` only.",
    },
    InputSpec {
        name: "region",
        kind: Kind::Text,
        commands: ALL,
        range: None,
        default: None,
        description: "AWS Region; defaults to the SDK's (`AWS_REGION`, profile). References by ARN use their own Region.",
    },
    InputSpec {
        name: "plan",
        kind: Kind::Bool,
        commands: DEPLOY,
        range: None,
        default: Some("true"),
        description: "Read the family's latest revision to print the plan (a diff). Off, with `skip-unchanged` off too, `deploy` makes no call but the registration.",
    },
    InputSpec {
        name: "read-values",
        kind: Kind::Bool,
        commands: CHECK,
        range: None,
        default: Some("false"),
        description: "`check`: also read secret values (with this run's credentials, masked) to check the JSON keys that `valueFrom` names.",
    },
    InputSpec {
        name: "preflight",
        kind: Kind::Bool,
        commands: PREFLIGHT,
        range: None,
        default: Some("false"),
        description: "Before registering, run `check` (the execution role can read every secret) and register nothing when it fails.",
    },
    InputSpec {
        name: "dry-run",
        kind: Kind::Bool,
        commands: DEPLOY,
        range: None,
        default: Some("false"),
        description: "Resolve, render, validate and print the plan, but register nothing.",
    },
    InputSpec {
        name: "tags",
        kind: Kind::Lines,
        commands: FILES,
        range: None,
        default: None,
        description: "`key=value` lines added to the task definition's tags; the previous revision's tags are kept.",
    },
    InputSpec {
        name: "keep-revisions",
        kind: Kind::Text,
        commands: PREFLIGHT,
        range: Some(Range {
            min: 1.0,
            max: 1000.0,
            whole: true,
            unit: "",
        }),
        default: None,
        description: "After registering, deregister ACTIVE revisions of the family beyond the newest N, never one a service of `cluster` runs.",
    },
    InputSpec {
        name: "image-definitions",
        kind: Kind::Text,
        commands: FILES,
        range: None,
        default: None,
        description: "Write `imagedefinitions.json` (`[{\"name\", \"imageUri\"}]`) for the CodePipeline ECS standard deploy action to this path.",
    },
    InputSpec {
        name: "codedeploy-artifacts",
        kind: Kind::Text,
        commands: FILES,
        range: None,
        default: None,
        description: "Write `taskdef.json` and `appspec.yaml` (`<TASK_DEFINITION>`) for the CodePipeline CodeDeployToECS action into this directory.",
    },
    InputSpec {
        name: "for",
        kind: Kind::Text,
        commands: &[Name::Policy],
        range: None,
        default: Some("ci"),
        description: "`policy`: whose deployer policy to print: `ci` (a CI job's role) or `codepipeline` (a CodePipeline Lambda function's or job worker's role: the deploy's permissions, plus reporting the job with `PutJobSuccessResult` and `PutJobFailureResult`, and for a worker `PollForJobs` on custom action types, `AcknowledgeJob` and `GetJobDetails`).",
    },
    InputSpec {
        name: "secret-ids",
        kind: Kind::Lines,
        commands: EXPORT,
        range: None,
        default: None,
        description: "`export`: one `[ALIAS,]ID` a line, as the get-secrets action reads it: a secret name (a leading `/` included) or ARN (`:json-key:version-stage:version-id` allowed), or a prefix `name*`; a blank alias (`,ID`) names a JSON secret's variables after its keys alone. Parameter Store: `ssm:name` (`:version`/`:label` allowed), a path `ssm:/path/` (recursive), or a parameter ARN.",
    },
    InputSpec {
        name: "name-transformation",
        kind: Kind::Text,
        commands: EXPORT,
        range: None,
        default: Some("uppercase"),
        description: "`export`: variable names `uppercase`, `lowercase` or `none`; characters outside `[A-Za-z0-9_]` become `_`, a leading digit gets a `_` prefix.",
    },
    InputSpec {
        name: "parse-json-secrets",
        kind: Kind::Bool,
        commands: EXPORT,
        range: None,
        default: Some("false"),
        description: "`export`: flatten JSON secrets into `NAME_KEY_SUBKEY` variables (non-string leaves as their JSON text).",
    },
    InputSpec {
        name: "env-file",
        kind: Kind::Text,
        commands: EXPORT,
        range: None,
        default: None,
        description: "`export`: write `NAME='value'` lines to this file (mode 0600), to source in CodeBuild or any CI.",
    },
    InputSpec {
        name: "export-to-github-env",
        kind: Kind::Bool,
        commands: EXPORT,
        range: None,
        default: Some("true"),
        description: "`export` on GitHub: set the variables for later steps through `GITHUB_ENV` (each value masked first).",
    },
    InputSpec {
        name: "export-to-outputs",
        kind: Kind::Bool,
        commands: EXPORT,
        range: None,
        default: Some("false"),
        description: "`export` on GitHub: also publish each variable as a step output (`steps.<id>.outputs.<NAME>`), masked first.",
    },
    InputSpec {
        name: "export-to-stdout",
        kind: Kind::Bool,
        commands: EXPORT,
        range: None,
        default: Some("false"),
        description: "`export`: print `export NAME='value'` lines on stdout, values in clear. Only when you mean it.",
    },
    InputSpec {
        name: "cluster",
        kind: Kind::Text,
        commands: FROM_SERVICE,
        range: None,
        default: Some("default"),
        description: "ECS cluster of `service`.",
    },
    InputSpec {
        name: "service",
        kind: Kind::Text,
        commands: FROM_SERVICE,
        range: None,
        default: None,
        description: "ECS service to update to the new revision (checked before anything is registered); none: register only. The service whose revision `task-definition-from-service` and `init` start from.",
    },
    InputSpec {
        name: "desired-count",
        kind: Kind::Text,
        commands: DEPLOY,
        range: Some(Range {
            min: 0.0,
            max: 5000.0,
            whole: true,
            unit: "",
        }),
        default: None,
        description: "Desired task count to set on the service; unset keeps the service's own.",
    },
    InputSpec {
        name: "force-new-deployment",
        kind: Kind::Bool,
        commands: DEPLOY,
        range: None,
        default: Some("false"),
        description: "Start a new deployment even when the service already runs the revision (picks up rotated secrets).",
    },
    InputSpec {
        name: "redeploy-on-secret-change",
        kind: Kind::Bool,
        commands: DEPLOY,
        range: None,
        default: Some("false"),
        description: "When the definition is unchanged but a referenced secret or parameter changed after the running deployment started, force a new deployment so tasks read the new value.",
    },
    InputSpec {
        name: "enable-ecs-managed-tags",
        kind: Kind::Bool,
        commands: DEPLOY,
        range: None,
        default: None,
        description: "Set the service's `enableECSManagedTags` on update (as the deploy action); unset: the service keeps its own.",
    },
    InputSpec {
        name: "propagate-tags",
        kind: Kind::Text,
        commands: DEPLOY,
        range: None,
        default: None,
        description: "Set the service's `propagateTags` on update: `TASK_DEFINITION`, `SERVICE` or `NONE` (as the deploy action); unset: the service keeps its own.",
    },
    InputSpec {
        name: "run-task",
        kind: Kind::Bool,
        commands: PREFLIGHT,
        range: None,
        default: Some("false"),
        description: "Run a one-off task of the new revision in `cluster` (as the deploy action does), before the service is updated: it gets exactly the secrets the service will get. Reported as `run-task-arn` (a JSON array). With `policy`: the deployer may run it (`ecs:RunTask`, `ecs:DescribeTasks`).",
    },
    InputSpec {
        name: "run-task-before-deploy",
        kind: Kind::Bool,
        commands: DEPLOY,
        range: None,
        default: Some("false"),
        description: "With `run-task`: wait for the task and update the service only when every essential container exited 0 (a database migration before the roll-out); otherwise exit 1 with the exit codes and the stop reason, the service untouched.",
    },
    InputSpec {
        name: "wait-for-task-stopped",
        kind: Kind::Bool,
        commands: ONE_OFF,
        range: None,
        default: Some("false"),
        description: "With `run-task`: wait until the task stopped (within `wait-for-minutes`), its CloudWatch Logs (`awslogs` with a stream prefix) printed as they come, and fail unless every essential container exited 0. `run` waits unless this is `false`.",
    },
    InputSpec {
        name: "run-task-command",
        kind: Kind::Text,
        commands: ONE_OFF,
        range: None,
        default: None,
        description: "With `run-task`: the command of `container-name` (or the only container) for the one-off task: a JSON array, or words split on spaces.",
    },
    InputSpec {
        name: "run-task-container-overrides",
        kind: Kind::Text,
        commands: ONE_OFF,
        range: None,
        default: None,
        description: "With `run-task`: RunTask's `containerOverrides`, a JSON array (as the deploy action).",
    },
    InputSpec {
        name: "run-task-subnets",
        kind: Kind::List,
        commands: ONE_OFF,
        range: None,
        default: None,
        description: "With `run-task`: subnet ids for the task's `awsvpc` network; default: the service's network when `service` is given.",
    },
    InputSpec {
        name: "run-task-security-groups",
        kind: Kind::List,
        commands: ONE_OFF,
        range: None,
        default: None,
        description: "With `run-task`: security group ids for the task's `awsvpc` network.",
    },
    InputSpec {
        name: "run-task-assign-public-IP",
        kind: Kind::Text,
        commands: ONE_OFF,
        range: None,
        default: None,
        description: "With `run-task` and subnets or security groups: `ENABLED` or `DISABLED` (the default).",
    },
    InputSpec {
        name: "run-task-launch-type",
        kind: Kind::Text,
        commands: ONE_OFF,
        range: None,
        default: None,
        description: "With `run-task`: `FARGATE` (the default), `EC2` or `EXTERNAL`; not with a capacity provider strategy.",
    },
    InputSpec {
        name: "run-task-capacity-provider-strategy",
        kind: Kind::Text,
        commands: ONE_OFF,
        range: None,
        default: None,
        description: "With `run-task`: RunTask's `capacityProviderStrategy`, a JSON array.",
    },
    InputSpec {
        name: "run-task-started-by",
        kind: Kind::Text,
        commands: ONE_OFF,
        range: None,
        default: Some("ecs-secrets"),
        description: "With `run-task`: the task's `startedBy`.",
    },
    InputSpec {
        name: "run-task-tags",
        kind: Kind::Text,
        commands: ONE_OFF,
        range: None,
        default: None,
        description: "With `run-task`: the task's tags, a JSON array of `{\"key\", \"value\"}`.",
    },
    InputSpec {
        name: "wait-for-service-stability",
        kind: Kind::Bool,
        commands: ROLLOUT,
        range: None,
        default: Some("true"),
        description: "Wait until the new deployment is complete, and fail with the reason when it is rolled back, fails or times out.",
    },
    InputSpec {
        name: "wait-for-minutes",
        kind: Kind::Text,
        commands: WAITS,
        range: Some(Range {
            min: 0.001,
            max: 1440.0,
            whole: false,
            unit: "minutes",
        }),
        default: Some("30"),
        description: "How long to wait for the roll-out, in minutes.",
    },
    InputSpec {
        name: "succeed-while-baking",
        kind: Kind::Bool,
        commands: DEPLOY,
        range: None,
        default: Some("false"),
        description: "When `wait-for-minutes` runs out while a blue/green, linear or canary deployment is in its bake time (all traffic already on the new revision), succeed with a warning (`rollout=baking`) instead of failing.",
    },
    InputSpec {
        name: "codedeploy-appspec",
        kind: Kind::Text,
        commands: ROLLOUT,
        range: None,
        default: None,
        description: "For a service on the `CODE_DEPLOY` controller: the AppSpec file (YAML or JSON, with hooks if any) whose `TaskDefinition` becomes the new revision. Default: `appspec.yaml` when it exists, else an AppSpec made from the service's load balancer (container and port) and platform version.",
    },
    InputSpec {
        name: "codedeploy-application",
        kind: Kind::Text,
        commands: CODEDEPLOY,
        range: None,
        default: None,
        description: "The CodeDeploy application of a `CODE_DEPLOY` service. Default: `AppECS-{cluster}-{service}` (the console's name, as the deploy action).",
    },
    InputSpec {
        name: "codedeploy-deployment-group",
        kind: Kind::Text,
        commands: CODEDEPLOY,
        range: None,
        default: None,
        description: "The CodeDeploy deployment group of a `CODE_DEPLOY` service. Default: `DgpECS-{cluster}-{service}`.",
    },
    InputSpec {
        name: "codedeploy-deployment-config",
        kind: Kind::Text,
        commands: DEPLOY,
        range: None,
        default: None,
        description: "The CodeDeploy deployment configuration (`CodeDeployDefault.ECSCanary10Percent5Minutes`, …). Default: the deployment group's.",
    },
    InputSpec {
        name: "codedeploy-deployment-description",
        kind: Kind::Text,
        commands: DEPLOY,
        range: None,
        default: None,
        description: "A description of the CodeDeploy deployment.",
    },
    InputSpec {
        name: "poll-interval",
        kind: Kind::Text,
        commands: WAITS,
        range: Some(Range {
            min: 0.01,
            max: 300.0,
            whole: false,
            unit: "seconds",
        }),
        default: Some("10"),
        description: "Seconds between polls of the service while waiting.",
    },
];

/// The input named `name`.
pub fn spec(name: &str) -> &'static InputSpec {
    INPUTS
        .iter()
        .find(|s| s.name == name)
        .expect("every input read is in the table")
}
